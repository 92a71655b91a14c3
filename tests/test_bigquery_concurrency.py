"""`sqlassets run` on BigQuery keeps many jobs in flight, in dependency order (HTTP stand-in).

The stand-in (`tests/fakes/bigquery_server.py`) runs every job for a fixed
wall-clock time, any number at once, and records when each started and ended:
the assertions read that timeline, never a stopwatch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.generate import generate_layered_project

from tests.fakes.bigquery_server import JobPlan, run_on_standin, target_toml

# Each runs the CLI in a subprocess against jobs of 0.5 s: excluded from `make test-fast`.
pytestmark = pytest.mark.slow


def _layered(tmp_path: Path, layers: int, width: int, limit: int) -> Path:
    generate_layered_project(
        tmp_path, layers, width, pyproject=target_toml(max_concurrent_jobs=limit)
    )
    return tmp_path


def test_independent_jobs_run_at_once_up_to_the_limit(tmp_path: Path) -> None:
    run = run_on_standin(_layered(tmp_path, 2, 6, limit=4), job_seconds=0.5)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = run.timeline.writing()
    assert len(jobs.jobs) == 12
    assert jobs.peak_in_flight() == 4  # never more than max_concurrent_jobs, and that many


def test_every_job_starts_after_the_jobs_it_reads(tmp_path: Path) -> None:
    run = run_on_standin(_layered(tmp_path, 3, 4, limit=8), job_seconds=0.5)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = run.timeline.writing().jobs
    ends = {job.writes: job.done_at for job in jobs}
    readers = [job for job in jobs if any(table in ends for table in job.reads)]
    assert len(readers) == 8
    for job in readers:
        assert job.inserted_at >= max(ends[t] for t in job.reads if t in ends), job.writes


def test_a_failed_job_skips_what_reads_it_and_nothing_else(tmp_path: Path) -> None:
    project = _layered(tmp_path, 2, 3, limit=8)
    failing = "l0.m000"

    def plan(sql: str) -> JobPlan:
        return JobPlan(0.5, error="invalidQuery" if f"{failing} " in sql else None)

    run = run_on_standin(project, job_seconds=0.5, plan=plan)
    assert run.returncode == 1
    status = {
        line.split()[0]: line.split()[2]
        for line in run.stdout.splitlines()
        if line.startswith(("l0.", "l1."))
    }
    readers = {
        f"l1.{path.stem}"
        for path in (project / "sql" / "l1").glob("*.sql")
        if failing in path.read_text()
    }
    assert readers and len(readers) < 3  # some layer-1 models read it, some do not
    assert status == {
        name: "failed" if name == failing else "skipped" if name in readers else "materialized"
        for name in status
    }
    assert len(status) == 6
    sent = {".".join(str(job.writes).split(".")[-2:]) for job in run.timeline.writing().jobs}
    assert failing in sent
    assert not readers & sent  # never sent

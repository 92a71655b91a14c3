"""SIGINT to `sqlassets run` cancels the BigQuery job it started (on the emulator)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "sigint-project"
# Long enough on the emulator to still be running when the signal arrives.
LONG = (
    "SELECT COUNT(*) AS n FROM UNNEST(GENERATE_ARRAY(1, 60000)) AS a\n"
    "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 60000)) AS b WHERE MOD(a * b, 7) = 3"
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def _start_run(project: Path) -> subprocess.Popen[bytes]:
    """`sqlassets run --target emu` of ``project``, in its own process."""
    script = Path(sys.executable).parent / "sqlassets"
    return subprocess.Popen(
        [str(script), "run", "--target", "emu", "--project-dir", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DAGSTER_HOME": ""},
    )


def _finished(client: Any, identifier: str) -> Any:
    """The job, once DONE (jobs.cancel returns at once; the job stops shortly after)."""
    job = client.get_job(identifier)
    deadline = time.monotonic() + 20
    while job.state != "DONE" and time.monotonic() < deadline:
        time.sleep(0.2)  # polling for the cancellation to land
        job = client.get_job(identifier)
    return job


def test_sigint_cancels_the_running_job(emulator: Emulator, tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "sql/marts/slow.sql": f"-- @materialized: table\n{LONG}\n",
            "pyproject.toml": (
                '[tool.sqlassets.targets.emu]\nengine = "bigquery"\n'
                f'project = "{PROJECT_ID}"\napi_endpoint = "{emulator.endpoint}"\n'
            ),
        },
    )
    client = emulator.client()
    process = _start_run(tmp_path)
    running = None
    deadline = time.monotonic() + 90
    while running is None and time.monotonic() < deadline and process.poll() is None:
        running = next(
            (
                job
                for job in client.list_jobs(state_filter="running")
                if job.job_id.startswith("sqlassets_marts_slow_replace")
            ),
            None,
        )
        time.sleep(0.2)  # polling for the job to appear, not timing a result
    assert running is not None, process.communicate(timeout=5)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    job = _finished(client, running.job_id)
    assert job.state == "DONE", stderr.decode()[-3000:]
    assert job.error_result and job.error_result["reason"] == "stopped"


def test_sigint_cancels_every_job_in_flight(emulator: Emulator, tmp_path: Path) -> None:
    """Three independent slow models run at once (threaded executor); one SIGINT stops all."""
    names = ["slow_a", "slow_b", "slow_c"]
    write_project(
        tmp_path,
        {
            **{f"sql/marts/{name}.sql": f"-- @materialized: table\n{LONG}\n" for name in names},
            "pyproject.toml": (
                '[tool.sqlassets.targets.emu]\nengine = "bigquery"\n'
                f'project = "{PROJECT_ID}"\napi_endpoint = "{emulator.endpoint}"\n'
                "max_concurrent_jobs = 4\n"
            ),
        },
    )
    client = emulator.client()
    process = _start_run(tmp_path)
    prefixes = tuple(f"sqlassets_marts_{name}_replace" for name in names)
    in_flight: dict[str, object] = {}
    deadline = time.monotonic() + 90
    while len(in_flight) < len(names) and time.monotonic() < deadline and process.poll() is None:
        for job in client.list_jobs(state_filter="running"):
            if job.job_id.startswith(prefixes):
                in_flight[job.job_id] = job
        time.sleep(0.2)  # polling for the jobs to appear, not timing a result
    assert len(in_flight) == len(names), (sorted(in_flight), process.poll())
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr.decode()[-3000:]
    for identifier in in_flight:
        job = _finished(client, identifier)
        assert job.state == "DONE", stderr.decode()[-3000:]
        assert job.error_result and job.error_result["reason"] == "stopped", identifier


def test_dagster_termination_cancels_every_job_in_flight(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Dagster's own interrupt path (captured SIGINT, as a terminated run worker gets it)."""
    import threading

    from sqlassets.dagster.run import run_project
    from sqlassets.project import load_project

    names = ["slow_d", "slow_e"]
    write_project(
        tmp_path,
        {
            **{f"sql/marts/{name}.sql": f"-- @materialized: table\n{LONG}\n" for name in names},
            "pyproject.toml": (
                '[tool.sqlassets]\ntarget = "emu"\n[tool.sqlassets.targets.emu]\n'
                f'engine = "bigquery"\nproject = "{PROJECT_ID}"\n'
                f'api_endpoint = "{emulator.endpoint}"\nmax_concurrent_jobs = 4\n'
            ),
        },
    )
    client = emulator.client()
    prefixes = tuple(f"sqlassets_marts_{name}_replace" for name in names)
    in_flight: set[str] = set()

    def terminate_when_all_run() -> None:
        deadline = time.monotonic() + 90
        while len(in_flight) < len(names) and time.monotonic() < deadline:
            in_flight.update(
                job.job_id
                for job in client.list_jobs(state_filter="running")
                if job.job_id.startswith(prefixes)
            )
            time.sleep(0.2)  # polling for the jobs to appear, not timing a result
        os.kill(os.getpid(), signal.SIGINT)

    project = load_project(tmp_path).raise_for_errors()
    watcher = threading.Thread(target=terminate_when_all_run)
    watcher.start()
    try:
        outcomes = run_project(project, set(project.models))
    except KeyboardInterrupt:
        outcomes = []
    watcher.join()
    assert len(in_flight) == len(names)
    assert not any(outcome.ok for outcome in outcomes)
    for identifier in in_flight:
        job = _finished(client, identifier)
        assert job.error_result and job.error_result["reason"] == "stopped", identifier

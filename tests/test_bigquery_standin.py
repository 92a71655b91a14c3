"""The time-delayed BigQuery API stand-in (tests/fakes/bigquery_server.py) measures what it claims.

The stand-in is the instrument of the concurrency benchmark: these tests check
that jobs sent concurrently really overlap on it, that a job takes its wall-clock
duration, that cancelling answers ``stopped`` and ends the long poll, and that
the timeline's figures (makespan, peak in flight, critical path) are right.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from bench.generate import generate_layered_project
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from tests.fakes.bigquery_server import (
    DEFAULT_POLL_S,
    DEFAULT_PROJECT,
    BigQueryStandIn,
    JobPlan,
    JobRecord,
    Timeline,
    run_on_standin,
    target_toml,
)

P = DEFAULT_PROJECT


def _record(
    job_id: str, start: float, end: float, writes: str, reads: tuple[str, ...] = ()
) -> JobRecord:
    return JobRecord(job_id, "", start, end, writes, reads)


def test_timeline_figures_of_a_known_schedule() -> None:
    # a and b overlap; c reads both and starts as a ends; d is independent and late.
    timeline = Timeline(
        jobs=(
            _record("a", 0.0, 1.0, "p.d.a"),
            _record("b", 0.5, 1.5, "p.d.b"),
            _record("c", 1.0, 3.0, "p.d.c", ("p.d.a", "p.d.b")),
            _record("d", 2.5, 2.75, "p.d.d"),
        )
    )
    assert timeline.makespan() == 3.0
    assert timeline.peak_in_flight() == 2  # c starting as a ends is not three at once
    assert timeline.critical_path() == 3.0  # b (1 s) then c (2 s)
    serial = Timeline(
        jobs=(_record("a", 0.0, 1.0, "p.d.a"), _record("b", 1.0, 2.0, "p.d.b", ("p.d.a",)))
    )
    assert (serial.makespan(), serial.peak_in_flight(), serial.critical_path()) == (2.0, 1, 2.0)
    assert Timeline(jobs=()).makespan() == 0.0


def test_two_jobs_sent_from_two_threads_are_in_flight_at_once() -> None:
    seconds = 0.5
    with BigQueryStandIn(job_seconds=seconds) as server:
        clients = [server.client(), server.client()]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def build(index: int) -> None:
            try:
                barrier.wait(timeout=10)
                clients[index].query(
                    f"CREATE OR REPLACE TABLE d.t{index} AS SELECT {index} AS id",
                    job_id=f"job_{index}",
                    job_retry=None,
                ).result()
            except BaseException as error:
                errors.append(error)

        started = time.monotonic()
        threads = [threading.Thread(target=build, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.monotonic() - started
        assert not errors, errors
        timeline = server.timeline()
    first, second = timeline.jobs
    assert {first.job_id, second.job_id} == {"job_0", "job_1"}
    assert timeline.peak_in_flight() == 2
    assert second.inserted_at < first.done_at  # overlapping, not one after the other
    # Each job ran its wall-clock duration, and the client saw it done only then.
    for job in timeline.jobs:
        assert job.seconds == pytest.approx(seconds)
        assert job.observed_at is not None and job.observed_at >= job.done_at
    assert elapsed >= seconds
    assert timeline.critical_path() == pytest.approx(seconds)  # independent tables
    assert not timeline.unhandled


def test_cancel_answers_stopped_and_ends_the_long_poll() -> None:
    with BigQueryStandIn(job_seconds=60) as server:
        client = server.client()
        job = client.query(
            "CREATE TABLE d.slow AS SELECT 1 AS id", job_id="slow_job", job_retry=None
        )
        assert job.state == "RUNNING"
        outcome: list[BaseException] = []

        def wait() -> None:
            try:
                job.result()
            except BaseException as error:
                outcome.append(error)

        waiter = threading.Thread(target=wait)
        waiter.start()
        # The waiter is inside getQueryResults' long poll (the job has 60 s to go).
        server.wait_until(
            lambda timeline: ("GET", f"/projects/{P}/queries/slow_job") in timeline.requests
        )
        cancelled = server.client().cancel_job("slow_job")
        # Well before the poll's own end (DEFAULT_POLL_S): the cancellation ended it.
        waiter.join(timeout=DEFAULT_POLL_S / 2)
        assert not waiter.is_alive(), "the long poll did not end on cancellation"
        timeline = server.timeline()
        table = server.table(f"{P}.d.slow")
    assert cancelled.state == "DONE"
    assert cancelled.error_result is not None and cancelled.error_result["reason"] == "stopped"
    assert len(outcome) == 1 and isinstance(outcome[0], api_exceptions.GoogleAPICallError)
    assert outcome[0].errors[0]["reason"] == "stopped"
    (record,) = timeline.jobs
    assert record.cancelled and record.error == "stopped"
    assert timeline.cancelled == ["slow_job"]
    assert record.seconds < 60
    assert table is None  # a cancelled CREATE creates nothing


def test_statements_tables_and_dependencies_are_tracked() -> None:
    seconds = 0.2

    def plan(sql: str) -> JobPlan:
        return JobPlan(seconds, error="invalidQuery" if "broken" in sql else None)

    with BigQueryStandIn(plan=plan) as server:
        client = server.client()
        client.create_dataset("d")
        client.create_dataset("d", exists_ok=True)  # 409, then datasets.get
        client.query(
            "CREATE OR REPLACE TABLE d.a AS SELECT n AS id, 'x' AS name "
            "FROM UNNEST(GENERATE_ARRAY(1, 3)) AS n",
            job_id="build_a",
            job_retry=None,
        ).result()
        client.query(
            "CREATE TABLE d.b PARTITION BY day CLUSTER BY id AS "
            "SELECT a.id, a.name, DATE '2024-01-01' AS day FROM d.a AS a",
            job_id="build_b",
            job_retry=None,
        ).result()
        b = client.get_table(f"{P}.d.b")
        dry = client.query(
            "SELECT id, day FROM d.b",
            job_config=bigquery.QueryJobConfig(dry_run=True),
        )
        rows = list(client.query("SELECT COUNTIF(id IS NULL) AS failures FROM d.b").result())
        with pytest.raises(api_exceptions.Conflict):
            client.query("SELECT 1", job_id="build_a", job_retry=None)
        with pytest.raises(api_exceptions.GoogleAPICallError) as failed:
            client.query(
                "CREATE TABLE d.broken AS SELECT 1 AS x", job_id="broken", job_retry=None
            ).result()
        with pytest.raises(api_exceptions.NotFound):
            client.get_table(f"{P}.d.broken")
        client.delete_table(f"{P}.d.a")
        client.query("CALL d.proc()").result()  # sqlglot reads it as a Command: flagged
        timeline = server.timeline()
        assert server.table(f"{P}.d.a") is None
    assert [(field.name, field.field_type) for field in b.schema] == [
        ("id", "INTEGER"),
        ("name", "STRING"),
        ("day", "DATE"),
    ]
    assert b.time_partitioning is not None and b.time_partitioning.field == "day"
    assert b.clustering_fields == ["id"]
    assert [(field.name, field.field_type) for field in dry.schema] == [
        ("id", "INTEGER"),
        ("day", "DATE"),
    ]
    assert [dict(row.items()) for row in rows] == [{"failures": 0}]
    assert failed.value.errors[0]["reason"] == "invalidQuery"
    # Dry runs are not jobs of the timeline; the check and the failed job are.
    built = timeline.writing()
    assert [job.job_id for job in built.jobs] == ["build_a", "build_b", "broken"]
    assert [(job.writes, job.reads) for job in built.jobs] == [
        (f"{P}.d.a", ()),
        (f"{P}.d.b", (f"{P}.d.a",)),
        (f"{P}.d.broken", ()),
    ]
    assert len(timeline.jobs) == 5
    assert built.peak_in_flight() == 1
    assert built.critical_path() == pytest.approx(2 * seconds)  # a, then b
    assert timeline.critical_path() == pytest.approx(3 * seconds)  # then the check of b
    assert built.makespan() >= 3 * seconds
    assert timeline.unhandled == (("PARSE", "CALL d.proc()"),)


@pytest.mark.slow  # one `sqlassets run` process (Dagster import, definitions): ~10 s
def test_sqlassets_run_talks_to_the_standin(tmp_path: Path) -> None:
    generate_layered_project(tmp_path, layers=2, width=2, pyproject=target_toml())
    run = run_on_standin(tmp_path, job_seconds=0.1)
    assert run.returncode == 0, run.stdout + run.stderr
    timeline = run.timeline
    assert not timeline.unhandled
    assert sorted(job.writes or "" for job in timeline.writing().jobs) == [
        f"{P}.l0.m000",
        f"{P}.l0.m001",
        f"{P}.l1.m000",
        f"{P}.l1.m001",
    ]
    assert timeline.critical_path() == pytest.approx(0.2)
    assert timeline.makespan() >= 0.2

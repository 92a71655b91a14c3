"""One writer per table, windows split at BigQuery's partition limit, interruption
by Dagster, and credentials that never leave the transport."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from dagster._core.errors import DagsterExecutionInterruptedError
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.job import Naming
from sqlassets.project import load_project
from sqlassets.runner import model_jobs, resolve_window, run_model, split_window
from tests.fakes.bigquery_transport import FakeBigQuery, Outcome

# Slow: a window of more than 4,000 partitions split into pieces takes over half a minute.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent / "fixtures" / "golden"
PROJECT = load_project(ROOT, display_base=ROOT).raise_for_errors()
SECRET = "ya29.SECRET-TOKEN-do-not-leak"


class SecretCredentials(AnonymousCredentials):
    """Credentials whose token is a recognizable secret."""

    def __init__(self) -> None:
        super().__init__()
        self.token = SECRET


def _engine(fake: FakeBigQuery, credentials=None) -> BigQueryEngine:
    client = bigquery.Client(
        project="acme-prod", credentials=credentials or AnonymousCredentials(), _http=fake
    )
    return BigQueryEngine(
        "acme-prod",
        location="EU",
        naming=Naming(project="acme-prod", dataset_suffix="_prod"),
        client_factory=lambda: client,
        request_retry=Retry(initial=0.001, maximum=0.001, multiplier=1, timeout=5),
        sleep=lambda _: None,
    )


def test_two_runs_writing_one_table_never_overlap(tmp_path: Path) -> None:
    fake = FakeBigQuery()
    fake.polls_to_finish = 3
    engine = _engine(fake)
    model = PROJECT.models["marts.daily_revenue"]
    job = model_jobs(PROJECT, model, engine, resolve_window(model, partition="2024-01-02"))[1]
    other = PROJECT.models["marts.customers"]
    other_job = model_jobs(PROJECT, other, engine, resolve_window(other))[1]
    contexts = [JobContext("marts.daily_revenue", run_id=f"run-{i}") for i in range(2)]
    threads = [
        threading.Thread(target=engine.execute, args=(job, contexts[0])),
        threading.Thread(target=engine.execute, args=(job, contexts[1])),
        threading.Thread(target=engine.execute, args=(other_job, JobContext("marts.customers"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    same_table = [(event, job_id) for event, job_id in fake.timeline if "daily_revenue" in job_id]
    assert [event for event, _ in same_table] == ["start", "end", "start", "end"]
    assert same_table[0][1] == same_table[1][1] != same_table[2][1]
    assert len(fake.executions) == 3


def test_a_window_over_4000_partitions_is_split_into_atomic_pieces() -> None:
    fake = FakeBigQuery()
    engine = _engine(fake)
    model = PROJECT.models["marts.hourly_clicks"]
    window = resolve_window(model, start="2024-01-01 00:00", end="2024-07-01 00:00")
    assert len(window.keys) == 4368
    pieces = split_window(model.spec, window, engine)
    assert [len(piece.keys) for piece in pieces] == [4000, 368]
    results = run_model(PROJECT, model, engine, window, JobContext("marts.hourly_clicks"))
    assert [result.action for result in results] == ["create", "overwrite", "overwrite"]
    bodies = [
        body
        for method, path, body in fake.requests
        if method == "POST"
        and path.endswith("/jobs")
        and not body["configuration"].get("dryRun")  # the partition column's type probe
    ]
    windows = [
        {
            p["name"]: p["parameterValue"]["value"]
            for p in body["configuration"]["query"]["queryParameters"]
        }
        for body in bodies[1:]
    ]
    assert windows[0]["start_ts"].startswith("2024-01-01") and windows[1]["end_ts"].startswith(
        "2024-07-01"
    )
    assert windows[0]["end_ts"] == windows[1]["start_ts"]


def test_a_dagster_termination_cancels_the_running_job() -> None:
    fake = FakeBigQuery()
    fake.outcomes = [Outcome(never_finishes=True)]
    polls: list[str] = []

    def terminate(job_id: str) -> None:
        polls.append(job_id)
        if len(polls) == 2:
            raise DagsterExecutionInterruptedError()

    fake.on_poll = terminate
    engine = _engine(fake)
    job = model_jobs(
        PROJECT,
        PROJECT.models["marts.customers"],
        engine,
        resolve_window(PROJECT.models["marts.customers"]),
    )[1]
    with pytest.raises(DagsterExecutionInterruptedError):
        engine.execute(job, JobContext("marts.customers"))
    assert fake.cancelled == [polls[0]]


def test_credentials_never_reach_requests_labels_results_or_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeBigQuery()
    engine = _engine(fake, SecretCredentials())
    model = PROJECT.models["marts.daily_revenue"]
    results = run_model(
        PROJECT, model, engine, resolve_window(model, partition="2024-01-02"), JobContext("x")
    )
    assert SECRET not in repr(fake.requests)
    assert SECRET not in repr(results)
    assert SECRET not in caplog.text

"""``@load_mode: append`` on the BigQuery emulator: the write job (CREATE TABLE IF NOT
EXISTS, then BEGIN; DELETE by partition key; INSERT by name; COMMIT) runs as sent.

The emulator has no ``LOAD DATA``, so only the stage jobs are stood in for: each
creates its staging table from the rows its URI's "files" hold (a query per
URI, below). Everything after that is the engine's own job on the emulator:
re-running a window replaces the rows of its partitions' files and keeps the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext, JobResult
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.job import Job
from sqlassets.project import Project, load_project
from sqlassets.runner import resolve_window, run_model
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.fidelity_models import APPEND_EVENTS as EVENTS
from tests.helpers import write_project

pytestmark = pytest.mark.emulator

PROJECT_ID = "test-project"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


class _StandInLoads(BigQueryEngine):
    """The emulator's engine, with each stage job's LOAD DATA stood in for by a query."""

    files: dict[str, str]
    """The rows each URI's files hold, as a SELECT."""

    def execute(self, job: Job, context: JobContext) -> JobResult:
        if job.action != "stage":
            return super().execute(job, context)
        assert job.staging is not None
        (uri,) = job.uris
        staged = job.staging.copy()
        staged.set("catalog", None)
        create = f"CREATE OR REPLACE TABLE {staged.sql('bigquery')} AS {self.files[uri]}"
        self.client.query(create).result()
        return JobResult(job_id="stand-in", action="stage", sql=create, duration_s=0.0)


def _rows(day: str, ids: range, at: str | None = None) -> str:
    moment = at or f"{day} 10:00:00"
    return (
        f"SELECT id, TIMESTAMP '{moment}' AS ts FROM UNNEST(GENERATE_ARRAY({ids.start}, "
        f"{ids.stop - 1})) AS id"
    )


def _uri(day: str) -> str:
    return f"gs://land/events/{day}/*.parquet"


@pytest.fixture
def setup(emulator: Emulator, tmp_path: Path) -> tuple[Project, _StandInLoads, Any, str]:
    client = emulator.client()
    suffix = f"_{tmp_path.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    engine = _StandInLoads.from_target(target, client=client)
    assert isinstance(engine, _StandInLoads)
    client.create_dataset(f"{PROJECT_ID}.raw{suffix}", exists_ok=True)
    write_project(tmp_path, {"sql/raw/events.sql": EVENTS})
    project = load_project(tmp_path).raise_for_errors()
    return project, engine, client, f"{PROJECT_ID}.raw{suffix}.events"


def _counts(client: Any, table: str) -> list[tuple[Any, ...]]:
    query = (
        f"SELECT _sqlassets_partition, COUNT(*), MIN(id), MAX(id) FROM `{table}` "
        "GROUP BY 1 ORDER BY 1"
    )
    fresh = bigquery.QueryJobConfig(use_query_cache=False)
    return [tuple(row.values()) for row in client.query(query, job_config=fresh).result()]


def test_append_reruns_replace_their_partitions_rows_on_the_emulator(
    setup: tuple[Project, _StandInLoads, Any, str],
) -> None:
    project, engine, client, table = setup
    model = project.models["raw.events"]
    engine.files = {
        _uri("2024-01-01"): _rows("2024-01-01", range(0, 2)),
        # Landed on the 2nd, events of the 1st: an append keeps them.
        _uri("2024-01-02"): _rows("2024-01-02", range(10, 13), at="2024-01-01 23:00:00"),
    }
    window = resolve_window(model, start="2024-01-01", end="2024-01-03")
    # Each run its own run id, as Dagster's: a job id repeats only within a run (attach on 409).
    results = run_model(project, model, engine, window, JobContext("raw.events", "emu-1"))
    assert [result.action for result in results] == ["stage", "stage", "append"]
    two_days = [("2024-01-01", 2, 0, 1), ("2024-01-02", 3, 10, 12)]
    assert _counts(client, table) == two_days
    run_model(project, model, engine, window, JobContext("raw.events", "emu-2"))
    assert _counts(client, table) == two_days  # no row twice
    engine.files[_uri("2024-01-02")] = _rows("2024-01-02", range(20, 21))  # re-landed
    one_day = resolve_window(model, partition="2024-01-02")
    run_model(project, model, engine, one_day, JobContext("raw.events", "emu-3"))
    assert _counts(client, table) == [("2024-01-01", 2, 0, 1), ("2024-01-02", 1, 20, 20)]
    # The staging tables are gone after each run.
    dataset = table.rsplit(".", 1)[0]
    names = [t.table_id for t in client.list_tables(dataset)]
    assert names == ["events"], names

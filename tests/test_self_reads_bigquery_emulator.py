"""Models reading their own table run on BigQuery from their first run (issue 11, item 2).

``d.first_seen`` LEFT JOINs its own previous days: on the emulator, the first
run creates the table from the query's schema without reading it, then runs;
the SQL it sends is pinned in ``test_self_reads_bigquery.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.project import Project, load_project
from sqlassets.runner import resolve_window, run_model
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project
from tests.test_real_world_loads import EVENTS, FIRST_SEEN, FIRST_SEEN_MERGE

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "test-project"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def _setup(emulator: Emulator, root: Path, first_seen: str):
    write_project(root, {"sql/raw/events.sql": EVENTS, "sql/d/first_seen.sql": first_seen})
    project = load_project(root, display_base=root).raise_for_errors()
    suffix = f"_{root.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    client = emulator.client()
    engine = BigQueryEngine.from_target(target, client=client)
    return project, engine, client, suffix


def _run(project: Project, engine: BigQueryEngine, name: str, **window: str):
    model = project.models[name]
    return run_model(project, model, engine, resolve_window(model, **window), JobContext(name))


def _rows(client: bigquery.Client, sql: str) -> list[tuple]:
    return [tuple(row.values()) for row in client.query(sql).result()]


def test_insert_overwrite_reading_itself_runs_its_first_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    project, engine, client, suffix = _setup(emulator, tmp_path, FIRST_SEEN)
    _run(project, engine, "raw.events")
    # One partition a run, as `@backfill: max_partitions=1` has the CLI and Dagster run it.
    actions = [
        [result.action for result in _run(project, engine, "d.first_seen", partition=day)]
        for day in ("2024-01-01", "2024-01-02", "2024-01-03")
    ]
    assert actions == [["create", "overwrite"], ["overwrite"], ["overwrite"]]
    rows = _rows(
        client,
        f"SELECT user_id, CAST(day AS STRING), CAST(first_seen AS STRING) "
        f"FROM d{suffix}.first_seen ORDER BY day, user_id",
    )
    assert rows == [
        (1, "2024-01-01", "2024-01-01"),
        (2, "2024-01-02", "2024-01-02"),
        (1, "2024-01-03", "2024-01-01"),
    ]
    table = client.get_table(f"{PROJECT_ID}.d{suffix}.first_seen")
    assert [(f.name, f.field_type) for f in table.schema] == [
        ("user_id", "INTEGER"),
        ("day", "DATE"),
        ("first_seen", "DATE"),
    ]


def test_merge_reading_itself_runs_its_first_run(emulator: Emulator, tmp_path: Path) -> None:
    project, engine, client, suffix = _setup(emulator, tmp_path, FIRST_SEEN_MERGE)
    _run(project, engine, "raw.events")
    _run(project, engine, "d.first_seen")
    _run(project, engine, "d.first_seen")
    rows = _rows(
        client,
        f"SELECT user_id, CAST(first_seen AS STRING) FROM d{suffix}.first_seen ORDER BY 1",
    )
    assert rows == [(1, "2024-01-01"), (2, "2024-01-02")]

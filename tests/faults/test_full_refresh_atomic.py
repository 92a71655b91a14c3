"""A failed --full-refresh leaves the old table whole: the rebuild is one statement."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.project import load_project
from sqlassets.runner import model_jobs, resolve_window
from tests.helpers import write_project

pytestmark = pytest.mark.slow  # a Dagster run per step

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
MODELS = {
    "merge": "-- @materialized: merge\n-- @unique_key: id\n",
    "insert_overwrite": (
        "-- @materialized: insert_overwrite\n-- @partition_by: day\n-- @partitions: daily\n"
        "-- @start: 2024-01-01\n"
    ),
}
GOOD = "SELECT id, day, CAST(label AS INT64) AS n FROM raw.src"
WINDOWED = " WHERE day >= @start_date AND day < @end_date"


def _query(root: Path, sql: str) -> list[tuple]:
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        return connection.execute(sql).fetchall()


def _run(root: Path, full_refresh: bool = False):
    project = load_project(root).raise_for_errors()
    try:
        (outcome,) = run_project(
            project,
            set(project.models),
            start="2024-01-01",
            end="2024-01-16",
            full_refresh=full_refresh,
        )
    finally:
        DuckDBEngineResource.close_all()
    return outcome


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_a_failed_full_refresh_keeps_every_row(tmp_path: Path, kind: str) -> None:
    body = GOOD + (WINDOWED if kind == "insert_overwrite" else "")
    write_project(tmp_path, {"pyproject.toml": PYPROJECT, "sql/marts/m.sql": MODELS[kind] + body})
    _query(tmp_path, "CREATE SCHEMA IF NOT EXISTS raw")
    _query(
        tmp_path,
        "CREATE TABLE raw.src AS SELECT i AS id, DATE '2024-01-01' + CAST(i AS INTEGER) AS day, "
        "CAST(i AS VARCHAR) AS label FROM range(15) r(i)",
    )
    assert _run(tmp_path).status == "materialized"
    assert _query(tmp_path, "SELECT COUNT(*) FROM marts.m") == [(15,)]
    # The source now holds a value the query cannot cast: the rebuild fails mid-statement.
    _query(tmp_path, "INSERT INTO raw.src VALUES (99, DATE '2024-01-15', 'not a number')")
    failed = _run(tmp_path, full_refresh=True)
    assert failed.status == "failed"
    assert "not a number" in failed.message or "Could not convert" in failed.message
    assert _query(tmp_path, "SELECT COUNT(*) FROM marts.m") == [(15,)]


def test_a_full_refresh_is_one_job_per_model(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "sql/marts/m.sql": MODELS["insert_overwrite"] + GOOD + WINDOWED,
        },
    )
    project = load_project(tmp_path).raise_for_errors()
    model = project.models["marts.m"]
    window = resolve_window(model, start="2024-01-01", end="2024-01-16")
    jobs = model_jobs(project, model, DuckDBEngine(), window, full_refresh=True)
    assert [job.action for job in jobs] == ["rebuild"]
    assert [type(statement).__name__ for statement in jobs[0].statements] == ["Create"]

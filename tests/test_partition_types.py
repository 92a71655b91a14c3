"""SA306 at run and plan time: a `@partition_by` BigQuery cannot apply to the column's type is
refused on every engine before any write, also where lint cannot know the type."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.engines import open_engine
from sqlassets.lint import lint_project
from sqlassets.project import load_project
from sqlassets.runner import dry_run
from tests.helpers import write_project

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
FILES = {
    "pyproject.toml": PYPROJECT,
    "sql/raw/events.sql": (
        "-- @materialized: table\nSELECT TIMESTAMP '2024-01-01 10:00:00' AS ts, 1 AS n"
    ),
    # Lint cannot see raw.events' column types from here: run and plan must.
    "sql/marts/by_ts.sql": (
        "-- @materialized: insert_overwrite\n-- @partitions: daily\n-- @start: 2024-01-01\n"
        "-- @partition_by: ts\n"
        "SELECT ts, n FROM raw.events WHERE ts >= @start_date AND ts < @end_date"
    ),
}


def test_run_refuses_a_timestamp_partition_column_before_writing(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    project = load_project(root, display_base=root).raise_for_errors()
    assert [f.code for f in lint_project(project) if f.code == "SA306"] == []
    outcomes = {
        outcome.name: outcome
        for outcome in run_project(
            project, set(project.models), start="2024-01-01", end="2024-01-02"
        )
    }
    assert outcomes["raw.events"].status == "materialized"
    failed = outcomes["marts.by_ts"]
    assert failed.status == "failed"
    assert "SA306" in failed.message or "@partition_by: DATE(ts)" in failed.message
    assert "write `@partition_by: DATE(ts)`" in failed.message
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
            ).fetchall()
        }
    assert tables == set()  # nothing was created or written


@pytest.mark.parametrize("fixed", ["DATE(ts)"])
def test_the_suggested_partitioning_runs(tmp_path: Path, fixed: str) -> None:
    files = dict(FILES)
    files["sql/marts/by_ts.sql"] = files["sql/marts/by_ts.sql"].replace(
        "@partition_by: ts", f"@partition_by: {fixed}"
    )
    root = write_project(tmp_path, files)
    project = load_project(root).raise_for_errors()
    outcomes = run_project(project, set(project.models), start="2024-01-01", end="2024-01-02")
    assert [outcome.status for outcome in outcomes] == ["materialized", "materialized"]


def test_plan_refuses_it_too(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    project = load_project(root).raise_for_errors()
    run_project(project, {"raw.events"})
    engine = open_engine(project.config)
    report = dry_run(project, engine, start="2024-01-01", end="2024-01-02")
    errors = [s for s in report.statements if s.model == "marts.by_ts" and s.action == "error"]
    assert report.failed == 1 and len(errors) == 1
    assert "DATE(ts)" in (errors[0].error or "")

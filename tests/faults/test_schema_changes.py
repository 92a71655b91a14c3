"""Schema changes of incremental models: fail with a clear diff, append new columns,
or rebuild with --full-refresh — never a silent drop."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.project import load_project
from tests.helpers import write_project

# Slow: a Dagster run per step of each schema change (about 20 s).
pytestmark = pytest.mark.slow

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'


def _model(policy: str, select: str) -> str:
    return (
        f"-- @materialized: merge\n-- @unique_key: id\n-- @on_schema_change: {policy}\n"
        f"SELECT {select} FROM raw.src"
    )


def _query(root: Path, sql: str) -> list[tuple]:
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        return connection.execute(sql).fetchall()


def _setup(root: Path, policy: str, select: str) -> None:
    write_project(root, {"pyproject.toml": PYPROJECT, "sql/marts/m.sql": _model(policy, select)})
    _query(root, "CREATE SCHEMA IF NOT EXISTS raw")
    _query(root, "CREATE OR REPLACE TABLE raw.src AS SELECT 1 AS id, 'a' AS name, 10 AS score")


def _run(root: Path, full_refresh: bool = False):
    project = load_project(root).raise_for_errors()
    try:
        (outcome,) = run_project(project, set(project.models), full_refresh=full_refresh)
    finally:
        DuckDBEngineResource.close_all()
    return outcome


def _change(root: Path, policy: str, select: str) -> None:
    (root / "sql/marts/m.sql").write_text(_model(policy, select))


@pytest.mark.parametrize(
    ("new_select", "named"),
    [
        ("id, name, score", "added score (INTEGER)"),
        ("id", "removed name"),
        ("id, CAST(name AS INT64) AS name", "retyped name (VARCHAR -> BIGINT)"),
    ],
)
def test_fail_names_the_change_and_leaves_the_table(
    tmp_path: Path, new_select: str, named: str
) -> None:
    _setup(tmp_path, "fail", "id, name")
    assert _run(tmp_path).status == "materialized"
    before = _query(tmp_path, "SELECT * FROM marts.m")
    _query(tmp_path, "UPDATE raw.src SET name = '2'")  # castable, so only the schema differs
    _change(tmp_path, "fail", new_select)
    outcome = _run(tmp_path)
    assert outcome.status == "failed"
    assert named in outcome.message
    assert "--full-refresh" in outcome.message
    assert _query(tmp_path, "SELECT * FROM marts.m") == before


def test_append_new_columns_keeps_rows(tmp_path: Path) -> None:
    _setup(tmp_path, "append_new_columns", "id, name")
    _run(tmp_path)
    _query(tmp_path, "INSERT INTO raw.src VALUES (2, 'b', 20)")
    _change(tmp_path, "append_new_columns", "id, name, score")
    assert _run(tmp_path).status == "materialized"
    assert _query(tmp_path, "SELECT id, name, score FROM marts.m ORDER BY id") == [
        (1, "a", 10),
        (2, "b", 20),
    ]
    # A removed column stays, NULL for new rows: nothing is dropped.
    _query(tmp_path, "INSERT INTO raw.src VALUES (3, 'c', 30)")
    _change(tmp_path, "append_new_columns", "id, score")
    assert _run(tmp_path).status == "materialized"
    assert _query(tmp_path, "SELECT id, name, score FROM marts.m ORDER BY id") == [
        (1, "a", 10),
        (2, "b", 20),
        (3, None, 30),
    ]


def test_append_new_columns_still_refuses_a_retyped_column(tmp_path: Path) -> None:
    _setup(tmp_path, "append_new_columns", "id, score")
    _run(tmp_path)
    _change(tmp_path, "append_new_columns", "id, CAST(score AS STRING) AS score")
    outcome = _run(tmp_path)
    assert outcome.status == "failed"
    assert "retyped score (INTEGER -> VARCHAR)" in outcome.message


def test_full_refresh_rebuilds_with_the_new_columns(tmp_path: Path) -> None:
    _setup(tmp_path, "fail", "id, name")
    _run(tmp_path)
    _change(tmp_path, "fail", "id, score")
    assert _run(tmp_path).status == "failed"
    assert _run(tmp_path, full_refresh=True).status == "materialized"
    assert _query(tmp_path, "SELECT * FROM marts.m") == [(1, 10)]

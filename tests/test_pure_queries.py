"""A model body is a pure query: a DELETE, UPDATE, INSERT or MERGE anywhere in it is
refused by lint, never runs, and is refused again when jobs are built."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from sqlassets.cli import main
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import StrategyError
from sqlassets.project import load_project
from sqlassets.runner import model_jobs
from sqlassets.window import Window

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
WRITES = {
    "DELETE": "DELETE FROM raw.customers WHERE TRUE",
    "UPDATE": "UPDATE raw.customers SET name = 'x' WHERE TRUE",
    "INSERT": "INSERT INTO raw.customers SELECT * FROM raw.customers",
}


def _invoke(root: Path, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _customers(root: Path) -> int:
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM raw.customers").fetchone()
    return count


@pytest.mark.parametrize("keyword", sorted(WRITES))
def test_a_write_inside_a_cte_fails_lint_and_never_runs(example: Path, keyword: str) -> None:
    assert _invoke(example, "run", "--select", "raw.customers").exit_code == 0
    before = _customers(example)
    assert before > 0
    (example / "sql" / "marts" / "evil.sql").write_text(
        f"-- @materialized: table\nWITH d AS ({WRITES[keyword]}) SELECT 1 AS a\n"
    )
    lint = _invoke(example, "lint")
    assert lint.exit_code == 1
    assert f"sql/marts/evil.sql:2:12: SA107 `{keyword}` inside the query" in lint.stdout
    run = _invoke(example, "run", "--select", "marts.evil")
    assert run.exit_code != 0
    assert "SA107" in run.output
    assert _customers(example) == before


def test_jobs_are_not_built_from_a_body_that_writes(example: Path) -> None:
    project = load_project(example).raise_for_errors()
    model = project.models["marts.customers"]
    # The file changed after it was loaded: the job builder checks again.
    changed = dataclasses.replace(
        model, sql="WITH d AS (DELETE FROM raw.customers WHERE TRUE) SELECT 1 AS a"
    )
    with pytest.raises(StrategyError, match="`DELETE` inside the model body"):
        model_jobs(project, changed, DuckDBEngine(), Window())

"""Real-world SQL that lint accepts loads in Dagster and runs (issue 11, items 1, 2 and 4).

Wildcard tables, models reading their own table on their first run, and a
project with one broken file among valid ones.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

import sqlassets
from sqlassets.cli import main
from sqlassets.errors import ProjectError
from sqlassets.project import load_project
from tests.helpers import write_project

WILDCARD = (
    "-- @materialized: table\n"
    "SELECT _TABLE_SUFFIX AS s, COUNT(*) AS n FROM `ga.events_*` GROUP BY 1\n"
)

EVENTS = """-- @materialized: table
SELECT user_id, DATE(ts) AS day FROM UNNEST([
  STRUCT(1 AS user_id, TIMESTAMP '2024-01-01 10:00:00' AS ts),
  STRUCT(2, TIMESTAMP '2024-01-02 10:00:00'),
  STRUCT(1, TIMESTAMP '2024-01-03 11:00:00')])
"""
FIRST_SEEN = """-- @materialized: insert_overwrite
-- @partition_by: day
-- @partitions: daily
-- @start: 2024-01-01
-- @backfill: max_partitions=1
SELECT e.user_id, e.day, COALESCE(prev.first_seen, e.day) AS first_seen
FROM raw.events AS e
LEFT JOIN d.first_seen AS prev
  ON prev.user_id = e.user_id AND prev.day < @start_date
WHERE e.day >= @start_date AND e.day < @end_date
"""
FIRST_SEEN_MERGE = """-- @materialized: merge
-- @unique_key: user_id
SELECT e.user_id, MIN(COALESCE(prev.first_seen, e.day)) AS first_seen
FROM raw.events AS e
LEFT JOIN d.first_seen AS prev ON prev.user_id = e.user_id
GROUP BY 1
"""


def _cli(root: Path, *args: str, env: dict[str, str] | None = None):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / ".sqlassets" / "warehouse.duckdb"), read_only=True) as db:
        return db.execute(sql).fetchall()


# ---------------------------------------------------------------- 1. wildcard tables


def test_a_wildcard_table_is_an_external_asset_with_a_valid_key(tmp_path: Path) -> None:
    write_project(tmp_path, {"sql/d/ga_counts.sql": WILDCARD})
    repo = sqlassets.build_definitions(tmp_path).get_repository_def()
    source = dg.AssetKey(["ga", "events__wildcard"])
    spec = repo.assets_defs_by_key[source].specs_by_key[source]
    assert spec.metadata["sqlassets/table_pattern"] == "ga.events_*"
    assert "wildcard" in (spec.description or "")
    model = repo.assets_defs_by_key[dg.AssetKey(["d", "ga_counts"])]
    assert source in {dep.asset_key for dep in model.specs_by_key[model.key].deps}


def test_a_wildcard_model_runs_on_duckdb_with_table_suffix(tmp_path: Path) -> None:
    write_project(tmp_path, {"sql/d/ga_counts.sql": WILDCARD})
    (tmp_path / ".sqlassets").mkdir()
    with duckdb.connect(str(tmp_path / ".sqlassets" / "warehouse.duckdb")) as db:
        db.execute("CREATE SCHEMA ga")
        db.execute("CREATE TABLE ga.events_20240101 AS SELECT 1 AS x")
        db.execute("CREATE TABLE ga.events_20240102 AS SELECT 2 AS x UNION ALL SELECT 3")
        db.execute("CREATE TABLE ga.other AS SELECT 4 AS x")
    result = _cli(tmp_path, "run")
    assert result.exit_code == 0, result.output
    assert _rows(tmp_path, "SELECT * FROM d.ga_counts ORDER BY s") == [
        ("20240101", 1),
        ("20240102", 2),
    ]


def test_a_wildcard_matching_no_table_names_it(tmp_path: Path) -> None:
    write_project(tmp_path, {"sql/d/ga_counts.sql": WILDCARD})
    result = _cli(tmp_path, "run")
    assert result.exit_code == 1
    assert "the wildcard table `ga.events_*` matches no table on DuckDB" in result.output


# ---------------------------------------------------------------- 2. models reading themselves


def test_insert_overwrite_reading_itself_creates_its_table_on_the_first_run(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, {"sql/raw/events.sql": EVENTS, "sql/d/first_seen.sql": FIRST_SEEN})
    result = _cli(tmp_path, "run", "--start", "2024-01-01", "--end", "2024-01-04")
    assert result.exit_code == 0, result.output
    assert _rows(tmp_path, "SELECT * FROM d.first_seen ORDER BY day, user_id") == [
        (1, date(2024, 1, 1), date(2024, 1, 1)),
        (2, date(2024, 1, 2), date(2024, 1, 2)),
        (1, date(2024, 1, 3), date(2024, 1, 1)),
    ]
    types = _rows(tmp_path, "SELECT column_name, column_type FROM (DESCRIBE d.first_seen)")
    assert types == [("user_id", "INTEGER"), ("day", "DATE"), ("first_seen", "DATE")]


def test_merge_reading_itself_creates_its_table_on_the_first_run(tmp_path: Path) -> None:
    write_project(
        tmp_path, {"sql/raw/events.sql": EVENTS, "sql/d/first_seen.sql": FIRST_SEEN_MERGE}
    )
    assert _cli(tmp_path, "run").exit_code == 0
    second = _cli(tmp_path, "run")
    assert second.exit_code == 0, second.output
    assert [row[0] for row in _rows(tmp_path, "SELECT * FROM d.first_seen ORDER BY 1")] == [1, 2]


# ---------------------------------------------------------------- 4. one broken file


def _with_broken_file(root: Path) -> Path:
    return write_project(
        root,
        {
            "sql/raw/a.sql": "-- @materialized: table\nSELECT 1 AS x\n",
            "sql/d/ok.sql": "-- @materialized: table\nSELECT x FROM raw.a\n",
            "sql/d/bad.sql": "-- @materialized: tabel\nSELECT x FROM raw.a\n",
            "sql/d/after_bad.sql": "-- @materialized: table\nSELECT x FROM d.bad\n",
        },
    )


def test_run_and_compile_work_for_models_outside_the_broken_file(tmp_path: Path) -> None:
    root = _with_broken_file(tmp_path)
    result = _cli(root, "run")
    assert result.exit_code == 0, result.output
    assert "warning: sql/d/bad.sql has errors and is left out" in result.stderr
    assert "sql/d/bad.sql:1:19: SA102" in result.stderr
    assert "left out as they read a broken file: d.after_bad" in result.stderr
    assert "2 of 2 model(s) materialized" in result.output
    assert _cli(root, "compile", "d.ok").exit_code == 0
    assert _cli(root, "plan").exit_code == 0
    assert _cli(root, "lint").exit_code == 1


def test_strict_restores_all_or_nothing(tmp_path: Path) -> None:
    root = _with_broken_file(tmp_path)
    result = _cli(root, "run", env={"SQLASSETS_STRICT": "1"})
    assert result.exit_code == 1
    assert "fix them first" in result.stderr
    with pytest.raises(ProjectError):
        load_project(root).without_broken(strict=True)
    (root / "pyproject.toml").write_text("[tool.sqlassets]\nstrict = true\n")
    assert _cli(root, "compile", "d.ok").exit_code == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SQLASSETS_STRICT", "1")
        with pytest.raises(ProjectError, match="SA102"):
            sqlassets.build_definitions(root)


def test_dagster_loads_valid_models_and_a_failing_asset_per_broken_file(tmp_path: Path) -> None:
    root = _with_broken_file(tmp_path)
    definitions = sqlassets.build_definitions(root)
    repo = definitions.get_repository_def()
    bad = dg.AssetKey(["d", "bad"])
    keys = set(repo.assets_defs_by_key)
    assert {dg.AssetKey(["raw", "a"]), dg.AssetKey(["d", "ok"]), bad} <= keys
    after = repo.assets_defs_by_key[dg.AssetKey(["d", "after_bad"])]
    assert bad in {dep.asset_key for dep in after.specs_by_key[after.key].deps}
    result = dg.materialize(
        [repo.assets_defs_by_key[bad]], raise_on_error=False, resources=definitions.resources
    )
    assert not result.success
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert "sql/d/bad.sql:1:19: SA102 `tabel`" in (check.description or "")
    failure = result.get_step_failure_events()[0]
    assert "sql/d/bad.sql:1:19: SA102 `tabel`" in str(failure.event_specific_data.error)
    ok = definitions.get_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(["raw", "a"]), dg.AssetKey(["d", "ok"])]
    )
    assert ok.success

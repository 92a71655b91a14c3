"""`sqlassets compile` of `SELECT *` models without a warehouse; its errors (issue 11, item 6)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from sqlassets.cli import main
from tests.helpers import write_project

PROJECT = {
    "sql/staging/orders.sql": (
        "-- @materialized: table\n"
        "SELECT id, DATE(created_at) AS d, amount, Region FROM raw.orders\n"
    ),
    "sql/staging/orders_eu.sql": (
        "-- @materialized: view\nSELECT * EXCEPT (amount) FROM staging.orders WHERE Region = 'eu'\n"
    ),
    "sql/marts/orders.sql": (
        "-- @materialized: merge\n-- @unique_key: id\n-- @partitions: daily\n"
        "-- @partition_by: d\n-- @start: 2024-01-01\n"
        "SELECT * FROM staging.orders WHERE d >= @start_date AND d < @end_date\n"
    ),
    "sql/marts/orders_eu.sql": (
        "-- @materialized: insert_overwrite\n-- @partitions: daily\n"
        "-- @partition_by: d\n-- @start: 2024-01-01\n"
        "WITH w AS (SELECT * FROM staging.orders_eu WHERE d >= @start_date AND d < @end_date)\n"
        "SELECT w.*, 1 AS one FROM w\n"
    ),
    "sql/marts/other.sql": (
        "-- @materialized: merge\n-- @unique_key: id\nSELECT * FROM raw.other\n"
    ),
    "sql/marts/param.sql": (
        "-- @materialized: table\nSELECT id FROM staging.orders\nWHERE id = @customer_id\n"
    ),
}


def _run(root: Path, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_star_merge_compiles_from_the_upstream_models_columns(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    result = _run(root, "compile", "marts.orders", "--partition", "2024-01-02")
    assert result.exit_code == 0, result.output
    assert "UPDATE SET\n  d = _s.d,\n  amount = _s.amount,\n  Region = _s.Region" in result.stdout
    assert "INSERT (id, d, amount, Region) VALUES" in result.stdout
    # Offline: no warehouse was opened, so none was created.
    assert not (root / ".sqlassets" / "warehouse.duckdb").exists()


def test_stars_over_stars_expand_through_ctes_and_except(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    result = _run(root, "compile", "marts.orders_eu", "--partition", "2024-01-02")
    assert result.exit_code == 0, result.output
    assert "INSERT INTO marts.orders_eu (\n  id,\n  d,\n  Region,\n  one\n)" in result.stdout
    assert not (root / ".sqlassets" / "warehouse.duckdb").exists()


def test_unknown_source_asks_the_engine_and_names_model_and_step_when_it_fails(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path, PROJECT)
    result = _run(root, "compile", "marts.other")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        "error: sql/marts/other.sql:3:8: SA502 marts.other: the final SELECT has `*`, and the "
        "merge names every column; the columns of `raw.other` (a source: no model builds it) "
        "are unknown offline, so duckdb was asked for the query's columns (a dry run), which "
        "failed: Catalog Error"
    )
    assert "Build the tables it reads first" in result.stderr


def test_unknown_source_compiles_when_the_engine_has_it(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    (root / ".sqlassets").mkdir()
    with duckdb.connect(str(root / ".sqlassets" / "warehouse.duckdb")) as connection:
        connection.execute("CREATE SCHEMA raw; CREATE TABLE raw.other (id INT, label TEXT)")
    result = _run(root, "compile", "marts.other")
    assert result.exit_code == 0, result.output
    assert "INSERT (id, label) VALUES (_s.id, _s.label)" in result.stdout


def test_unbound_parameter_is_a_located_error(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    result = _run(root, "compile", "marts.param")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "error: sql/marts/param.sql:3:12: SA305 marts.param reads query parameter "
        "`@customer_id`, which this run does not bind (it binds none); nothing was sent\n"
    )
    assert result.stdout == ""


def test_window_parameter_of_an_unpartitioned_model_is_located_too(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "sql/marts/t.sql": (
                "-- @materialized: table\nSELECT 1 AS x\nFROM (SELECT @start_date AS d)\n"
            )
        },
    )
    result = _run(root, "compile", "marts.t")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: sql/marts/t.sql:3:14: SA302 marts.t reads query")

"""Each materialization with real data on DuckDB: what changes, what must not."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlassets.engines.base import JobContext
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import EngineError
from sqlassets.project import Project, load_project
from sqlassets.runner import resolve_window, run_model
from tests.helpers import write_project

MODELS = {
    "sql/marts/big_orders.sql": (
        "-- @materialized: table\nSELECT order_id, amount FROM raw.orders_src WHERE amount >= 100"
    ),
    "sql/marts/big_orders_view.sql": (
        "-- @materialized: view\nSELECT order_id, amount FROM raw.orders_src WHERE amount >= 100"
    ),
    "sql/marts/customers.sql": (
        "-- @materialized: merge\n-- @unique_key: customer_id\n"
        "SELECT customer_id, COUNT(*) AS orders, SUM(amount) AS spent\n"
        "FROM raw.orders_src GROUP BY customer_id"
    ),
    "sql/marts/daily.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: order_date\n"
        "-- @partitions: daily\n-- @start: 2024-01-01\n"
        "SELECT order_date, SUM(amount) AS revenue, COUNT(*) AS orders FROM raw.orders_src\n"
        "WHERE order_date >= @start_date AND order_date < @end_date GROUP BY order_date"
    ),
    "sql/marts/leaky.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: order_date\n"
        "-- @partitions: daily\n-- @start: 2024-01-01\n"
        "SELECT order_date, SUM(amount) AS revenue FROM raw.orders_src\n"
        "WHERE order_date >= @start_date GROUP BY order_date"
    ),
    "sql/raw/events.sql": ("-- @materialized: load\n-- @uris: gs://landing/events/*.parquet\n"),
    "sql/raw/orders.sql": (
        "-- @materialized: load\n-- @format: csv\n"
        "-- @uris: gs://landing/orders/{start_date}/orders.csv\n"
        "-- @partition_by: order_date\n-- @partitions: daily\n-- @start: 2024-01-01\n"
    ),
    "sql/raw/clicks.sql": (
        "-- @materialized: load\n-- @format: json\n"
        "-- @uris: gs://landing/clicks/{start_date:%Y%m%d%H}.json\n"
        "-- @partition_by: TIMESTAMP_TRUNC(ts, HOUR)\n-- @partitions: hourly\n"
        "-- @start: 2024-01-01 00:00\n"
    ),
}

SOURCE = [
    # order_id, customer_id, order_date, amount
    (1, "a", "2024-01-01", 50),
    (2, "a", "2024-01-02", 150),
    (3, "b", "2024-01-03", 300),
    (4, "c", "2024-01-04", 20),
    (5, "b", "2024-01-05", 120),
]


@pytest.fixture
def env(tmp_path: Path):
    write_project(tmp_path, MODELS)
    project = load_project(tmp_path, display_base=tmp_path).raise_for_errors()
    engine = DuckDBEngine(tmp_path / "warehouse.duckdb", tmp_path / "gcs")
    _replace_source(engine, SOURCE)
    yield project, engine, tmp_path
    engine.close()


def _replace_source(engine: DuckDBEngine, rows: list[tuple]) -> None:
    connection = engine.connection
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    connection.execute(
        "CREATE OR REPLACE TABLE raw.orders_src "
        "(order_id INT, customer_id TEXT, order_date DATE, amount INT)"
    )
    connection.executemany("INSERT INTO raw.orders_src VALUES (?, ?, ?, ?)", rows)


def _run(project: Project, engine: DuckDBEngine, name: str, **window: str):
    model = project.models[name]
    return run_model(project, model, engine, resolve_window(model, **window), JobContext(name))


def _rows(engine: DuckDBEngine, sql: str) -> list[tuple]:
    return engine.connection.execute(sql).fetchall()


def test_table_and_view(env) -> None:
    project, engine, _ = env
    (result,) = _run(project, engine, "marts.big_orders")
    assert result.rows_affected == 3
    _run(project, engine, "marts.big_orders_view")
    assert _rows(engine, "SELECT order_id FROM marts.big_orders ORDER BY 1") == [(2,), (3,), (5,)]
    _replace_source(engine, [*SOURCE, (6, "d", "2024-01-06", 999)])
    # The view follows its source; the table is a snapshot until it runs again.
    assert _rows(engine, "SELECT COUNT(*) FROM marts.big_orders_view") == [(4,)]
    assert _rows(engine, "SELECT COUNT(*) FROM marts.big_orders") == [(3,)]


def test_merge_twice_changes_nothing_then_upserts(env) -> None:
    project, engine, _ = env
    _run(project, engine, "marts.customers")
    first = _rows(engine, "SELECT * FROM marts.customers ORDER BY customer_id")
    assert first == [("a", 2, 200), ("b", 2, 420), ("c", 1, 20)]
    _run(project, engine, "marts.customers")
    assert _rows(engine, "SELECT * FROM marts.customers ORDER BY customer_id") == first
    _replace_source(engine, [*SOURCE, (6, "a", "2024-01-06", 1), (7, "d", "2024-01-06", 7)])
    _run(project, engine, "marts.customers")
    assert _rows(engine, "SELECT * FROM marts.customers ORDER BY customer_id") == [
        ("a", 3, 201),
        ("b", 2, 420),
        ("c", 1, 20),
        ("d", 1, 7),
    ]


def test_insert_overwrite_replaces_exactly_the_window(env) -> None:
    project, engine, _ = env
    results = _run(project, engine, "marts.daily", start="2024-01-01", end="2024-01-04")
    assert [r.action for r in results] == ["create", "overwrite"]
    assert results[1].rows_affected == 3
    assert _rows(engine, "SELECT order_date::TEXT, revenue FROM marts.daily ORDER BY 1") == [
        ("2024-01-01", 50),
        ("2024-01-02", 150),
        ("2024-01-03", 300),
    ]
    # Upstream changes on every day; only the overlapping window [03, 05) is rerun.
    _replace_source(engine, [(i, c, d, a * 10) for i, c, d, a in SOURCE])
    _run(project, engine, "marts.daily", start="2024-01-03", end="2024-01-05")
    after = _rows(engine, "SELECT order_date::TEXT, revenue FROM marts.daily ORDER BY 1")
    assert after == [
        ("2024-01-01", 50),  # outside the window: untouched
        ("2024-01-02", 150),
        ("2024-01-03", 3000),  # inside: replaced
        ("2024-01-04", 200),  # inside: added
    ]
    _run(project, engine, "marts.daily", start="2024-01-03", end="2024-01-05")
    assert _rows(engine, "SELECT order_date::TEXT, revenue FROM marts.daily ORDER BY 1") == after


def test_rows_outside_the_window_fail_and_write_nothing(env) -> None:
    project, engine, _ = env
    _run(project, engine, "marts.daily", start="2024-01-01", end="2024-01-06")
    engine.connection.execute(
        "CREATE TABLE marts.leaky AS SELECT order_date, revenue FROM marts.daily"
    )
    before = _rows(engine, "SELECT * FROM marts.leaky ORDER BY 1")
    with pytest.raises(EngineError, match="outside the run window"):
        _run(project, engine, "marts.leaky", start="2024-01-02", end="2024-01-03")
    assert _rows(engine, "SELECT * FROM marts.leaky ORDER BY 1") == before


def _write(engine: DuckDBEngine, select: str, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {
        "parquet": "(FORMAT parquet)",
        "csv": "(FORMAT csv, HEADER)",
        "json": "(FORMAT json)",
    }
    engine.connection.execute(f"COPY ({select}) TO '{path}' {options[fmt]}")


def test_unpartitioned_parquet_load(env) -> None:
    project, engine, root = env
    _write(
        engine,
        "SELECT range AS id, 'e' || range AS name FROM range(5)",
        root / "gcs/landing/events/a.parquet",
        "parquet",
    )
    _write(
        engine,
        "SELECT range + 5 AS id, 'f' AS name FROM range(2)",
        root / "gcs/landing/events/b.parquet",
        "parquet",
    )
    (result,) = _run(project, engine, "raw.events")
    assert result.action == "load"
    assert _rows(engine, "SELECT COUNT(*), MAX(id) FROM raw.events") == [(7, 6)]
    _run(project, engine, "raw.events")  # a reload replaces, never appends
    assert _rows(engine, "SELECT COUNT(*) FROM raw.events") == [(7,)]


PER_DAY = "SELECT order_date::TEXT, SUM(amount) FROM raw.orders GROUP BY 1 ORDER BY 1"


def test_partitioned_csv_load_replaces_only_its_days(env) -> None:
    project, engine, root = env
    for day, amount in (("2024-01-01", 1), ("2024-01-02", 2), ("2024-01-03", 3)):
        _write(
            engine,
            f"SELECT DATE '{day}' AS order_date, {amount} AS amount FROM range(2)",
            root / f"gcs/landing/orders/{day}/orders.csv",
            "csv",
        )
    _run(project, engine, "raw.orders", start="2024-01-01", end="2024-01-04")
    assert _rows(
        engine, "SELECT order_date::TEXT, SUM(amount) FROM raw.orders GROUP BY 1 ORDER BY 1"
    ) == [
        ("2024-01-01", 2),
        ("2024-01-02", 4),
        ("2024-01-03", 6),
    ]
    _write(
        engine,
        "SELECT DATE '2024-01-02' AS order_date, 100 AS amount",
        root / "gcs/landing/orders/2024-01-02/orders.csv",
        "csv",
    )
    _run(project, engine, "raw.orders", partition="2024-01-02")
    assert _rows(
        engine, "SELECT order_date::TEXT, SUM(amount) FROM raw.orders GROUP BY 1 ORDER BY 1"
    ) == [
        ("2024-01-01", 2),
        ("2024-01-02", 100),
        ("2024-01-03", 6),
    ]


def test_hourly_ndjson_load_and_a_file_with_rows_of_another_hour(env) -> None:
    project, engine, root = env
    _write(
        engine,
        "SELECT TIMESTAMPTZ '2024-01-01 05:10:00+00' AS ts, 'x' AS page",
        root / "gcs/landing/clicks/2024010105.json",
        "json",
    )
    _run(project, engine, "raw.clicks", partition="2024-01-01-05:00")
    assert _rows(engine, "SELECT page FROM raw.clicks") == [("x",)]
    _write(
        engine,
        "SELECT TIMESTAMPTZ '2024-01-01 07:00:00+00' AS ts, 'late' AS page",
        root / "gcs/landing/clicks/2024010106.json",
        "json",
    )
    with pytest.raises(EngineError, match="outside the run window"):
        _run(project, engine, "raw.clicks", partition="2024-01-01-06:00")
    assert _rows(engine, "SELECT page FROM raw.clicks") == [("x",)]


def test_missing_files_fail_clearly(env) -> None:
    project, engine, _ = env
    with pytest.raises(EngineError, match="No files found"):
        _run(project, engine, "raw.events")
    with pytest.raises(duckdb.CatalogException):
        engine.connection.execute("SELECT * FROM raw.events")


def test_the_runner_runs_checks_and_reports_progress_without_dagster(tmp_path: Path) -> None:
    from sqlassets.runner import (
        CheckEvaluated,
        ModelMaterialized,
        ModelStarted,
        materialize,
    )
    from sqlassets.window import Window

    write_project(
        tmp_path,
        {
            "sql/marts/numbers.sql": (
                "-- @materialized: table\n-- @check: not_null(n)\n"
                "-- @check: warn row_count(min=5)\n"
                "SELECT n FROM UNNEST([1, 2, 3]) AS n"
            )
        },
    )
    project = load_project(tmp_path, display_base=tmp_path).raise_for_errors()
    events: list[object] = []
    with DuckDBEngine(tmp_path / "warehouse.duckdb", tmp_path / "gcs") as engine:
        run = materialize(
            project,
            project.models["marts.numbers"],
            engine,
            [Window()],
            "r1",
            on_event=events.append,
        )
    assert [(v.check.kind, v.passed) for v in run.checks] == [
        ("not_null", True),
        ("row_count", False),
    ]
    assert run.columns == [("n", "INTEGER")]
    assert isinstance(events[0], ModelStarted)
    assert [type(e) for e in events[1:3]] == [CheckEvaluated, CheckEvaluated]
    assert isinstance(events[-1], ModelMaterialized) and events[-1].rows == 3


def test_every_target_engine_has_an_adapter_that_builds_itself_from_the_target() -> None:
    from sqlassets.config import BigQueryTarget, DuckDBTarget
    from sqlassets.engines import ENGINES
    from sqlassets.spec import parse_table_name

    assert set(ENGINES) == {"duckdb", "bigquery"}
    duck = ENGINES["duckdb"].from_target(DuckDBTarget(path=":memory:"))
    assert duck.name == "duckdb" and duck.database == ":memory:"
    assert duck.capabilities.single_writer_process and not duck.capabilities.table_pools
    target = BigQueryTarget(project="acme-prod", dataset_suffix="_prod")
    bigquery = ENGINES["bigquery"]
    table = bigquery.naming_for(target).table(parse_table_name("marts.daily"))
    assert table.sql("bigquery") == "`acme-prod`.marts_prod.daily"
    assert bigquery.capabilities.drop_before_layout_change and bigquery.capabilities.table_pools

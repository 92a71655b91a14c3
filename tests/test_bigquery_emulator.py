"""The BigQuery engine end to end through the real client, against an emulator
process on 127.0.0.1 (local-bigquery, from its own virtual environment)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from google.cloud import bigquery
from sqlglot import expressions as exp

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.errors import EngineError
from sqlassets.project import Project, load_project
from sqlassets.runner import model_jobs, resolve_window, run_model
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project
from tests.test_real_world_loads import EVENTS, FIRST_SEEN, FIRST_SEEN_MERGE

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "test-project"
MODELS = {
    "sql/marts/big_orders.sql": (
        "-- @materialized: table\n-- @partition_by: order_date\n-- @cluster_by: customer_id\n"
        "SELECT order_id, customer_id, order_date, amount FROM src.orders WHERE amount >= 100"
    ),
    "sql/marts/big_orders_view.sql": (
        "-- @materialized: view\nSELECT order_id, amount FROM marts.big_orders"
    ),
    "sql/marts/customers.sql": (
        "-- @materialized: merge\n-- @unique_key: customer_id\n"
        "SELECT customer_id, COUNT(*) AS orders, SUM(amount) AS spent\n"
        "FROM src.orders GROUP BY customer_id"
    ),
    "sql/marts/daily.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: order_date\n"
        "-- @partitions: daily\n-- @start: 2024-01-01\n"
        "SELECT order_date, SUM(amount) AS revenue FROM src.orders\n"
        "WHERE order_date >= @start_date AND order_date < @end_date GROUP BY order_date"
    ),
}
SOURCE = [
    (1, "a", date(2024, 1, 1), 50),
    (2, "a", date(2024, 1, 2), 150),
    (3, "b", date(2024, 1, 3), 300),
    (4, "c", date(2024, 1, 4), 20),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path):
    write_project(tmp_path, MODELS)
    project = load_project(tmp_path, display_base=tmp_path).raise_for_errors()
    client = emulator.client()
    suffix = f"_{tmp_path.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    engine = BigQueryEngine.from_target(target, client=client)
    _replace_source(client, SOURCE)
    return project, engine, client, suffix


def _replace_source(client: bigquery.Client, rows: list[tuple]) -> None:
    client.create_dataset(f"{PROJECT_ID}.src", exists_ok=True)
    client.query(
        "CREATE OR REPLACE TABLE src.orders (order_id INT64, customer_id STRING, "
        "order_date DATE, amount INT64)"
    ).result()
    values = exp.values(
        [
            (
                exp.Literal.number(i),
                exp.Literal.string(c),
                exp.cast(exp.Literal.string(d.isoformat()), "DATE"),
                exp.Literal.number(a),
            )
            for i, c, d, a in rows
        ]
    )
    client.query(exp.insert(values, "src.orders").sql("bigquery")).result()


def _rows(client: bigquery.Client, sql: str) -> list[tuple]:
    return [tuple(row.values()) for row in client.query(sql).result()]


def _run(project: Project, engine: BigQueryEngine, name: str, **window: str):
    model = project.models[name]
    return run_model(project, model, engine, resolve_window(model, **window), JobContext(name))


def test_table_view_with_partitioning_labels_and_statistics(env) -> None:
    project, engine, client, suffix = env
    (result,) = _run(project, engine, "marts.big_orders")
    assert result.rows_affected is None or result.rows_affected >= 0
    assert result.url and result.job_id in result.url
    table = client.get_table(f"{PROJECT_ID}.marts{suffix}.big_orders")
    assert table.time_partitioning is not None and table.time_partitioning.field == "order_date"
    assert table.clustering_fields == ["customer_id"]
    job = client.get_job(result.job_id)
    assert job.labels["sqlassets_asset"] == "marts_big_orders"
    assert job.labels["sqlassets_window"] == "all"
    _run(project, engine, "marts.big_orders_view")
    assert _rows(client, f"SELECT order_id FROM marts{suffix}.big_orders_view ORDER BY 1") == [
        (2,),
        (3,),
    ]


def test_merge_twice_changes_nothing(env) -> None:
    project, engine, client, suffix = env
    _run(project, engine, "marts.customers")
    query = f"SELECT customer_id, orders, spent FROM marts{suffix}.customers ORDER BY 1"
    first = _rows(client, query)
    assert first == [("a", 2, 200), ("b", 1, 300), ("c", 1, 20)]
    _run(project, engine, "marts.customers")
    assert _rows(client, query) == first


def test_insert_overwrite_replaces_only_the_window(env) -> None:
    project, engine, client, suffix = env
    _run(project, engine, "marts.daily", start="2024-01-01", end="2024-01-04")
    query = f"SELECT CAST(order_date AS STRING), revenue FROM marts{suffix}.daily ORDER BY 1"
    assert _rows(client, query) == [("2024-01-01", 50), ("2024-01-02", 150), ("2024-01-03", 300)]
    _replace_source(client, [(i, c, d, a * 10) for i, c, d, a in SOURCE])
    results = _run(project, engine, "marts.daily", start="2024-01-03", end="2024-01-05")
    assert [result.action for result in results] == ["overwrite"]  # the table exists: no create
    after = _rows(client, query)
    assert after == [
        ("2024-01-01", 50),
        ("2024-01-02", 150),
        ("2024-01-03", 3000),
        ("2024-01-04", 200),
    ]
    _run(project, engine, "marts.daily", start="2024-01-03", end="2024-01-05")
    assert _rows(client, query) == after


def test_a_job_submitted_twice_attaches_instead_of_running_again(env) -> None:
    project, engine, _client, _suffix = env
    model = project.models["marts.customers"]
    context = JobContext("marts.customers", run_id="run-409")
    jobs = model_jobs(project, model, engine, resolve_window(model))
    first = [engine.execute(job, context) for job in jobs]
    again = [engine.execute(job, context) for job in jobs]
    assert [r.attached for r in first] == [False, False]
    assert [r.attached for r in again] == [True, True]
    assert [r.job_id for r in again] == [r.job_id for r in first]


def test_a_failing_statement_raises_with_the_warehouse_message(env) -> None:
    _project, engine, _client, _suffix = env
    with pytest.raises(EngineError) as error:
        engine.fetch_row(
            __import__("sqlglot").parse_one("SELECT * FROM nope.missing", read="bigquery"),
            [],
            JobContext("probe"),
        )
    assert "probe" in error.value.message


def test_a_rerun_partition_reports_rows_inserted_and_deleted_apart(env) -> None:
    """insert_overwrite is a script (DELETE, INSERT): its rows affected add both; the child
    jobs tell them apart, so a re-run of a partition reads +n -n, not 2n."""
    project, engine, client, _ = env
    _replace_source(client, [(i, "a", date(2024, 1, 2), 10 + i) for i in range(15)])
    model = project.models["marts.daily"]
    window = resolve_window(model, "2024-01-02")
    first = run_model(project, model, engine, window, JobContext(model.name, run_id="first"))
    assert first[-1].rows_inserted == 1  # one revenue row per day
    again = run_model(project, model, engine, window, JobContext(model.name, run_id="again"))
    overwrite = again[-1]
    assert (overwrite.rows_inserted, overwrite.rows_deleted) == (1, 1)


# ---------------------------------------------------------------- models reading themselves
# issue 11, item 2: the first run creates the table from the query's schema without
# reading it, then runs; the SQL it sends is pinned in test_self_reads_bigquery.py.


def _self_reading(emulator: Emulator, root: Path, first_seen: str):
    write_project(root, {"sql/raw/events.sql": EVENTS, "sql/d/first_seen.sql": first_seen})
    project = load_project(root, display_base=root).raise_for_errors()
    suffix = f"_{root.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    client = emulator.client()
    engine = BigQueryEngine.from_target(target, client=client)
    return project, engine, client, suffix


def test_insert_overwrite_reading_itself_runs_its_first_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    project, engine, client, suffix = _self_reading(emulator, tmp_path, FIRST_SEEN)
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
    project, engine, client, suffix = _self_reading(emulator, tmp_path, FIRST_SEEN_MERGE)
    _run(project, engine, "raw.events")
    _run(project, engine, "d.first_seen")
    _run(project, engine, "d.first_seen")
    rows = _rows(
        client,
        f"SELECT user_id, CAST(first_seen AS STRING) FROM d{suffix}.first_seen ORDER BY 1",
    )
    assert rows == [(1, "2024-01-01"), (2, "2024-01-02")]

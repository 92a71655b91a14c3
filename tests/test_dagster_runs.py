"""Materializing through Dagster, in process, on DuckDB: the example project, a
30-day single-run backfill, and the failure paths."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sqlassets.dagster import definitions_for
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.project import load_project
from sqlassets.selection import select
from tests.helpers import write_project

# Slow: whole Dagster runs of the example project (about 20 s).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'


def _query(root: Path, sql: str) -> list[tuple]:
    DuckDBEngineResource.close_all()  # release the run's connection before reading
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_the_example_project_runs_end_to_end(example: Path) -> None:
    project = load_project(example, lineage=True).raise_for_errors()
    outcomes = run_project(project, set(project.models), start="2024-01-01", end="2024-02-01")
    assert {o.name: o.status for o in outcomes} == {name: "materialized" for name in project.models}
    by_name = {o.name: o for o in outcomes}
    # max_partitions=7: five Dagster runs, each of one statement; rows counted once per run.
    events = by_name["raw.web_events"]
    assert (events.window, events.rows) == ("2024-01-01..2024-01-31 (5 runs)", 31 * 80)
    assert by_name["marts.regional_sales"].window == "eu, us"
    assert _query(example, "SELECT COUNT(*) FROM raw.orders") == [(455,)]
    days = _query(
        example,
        "SELECT MIN(order_date)::TEXT, MAX(order_date)::TEXT, COUNT(DISTINCT order_date) "
        "FROM marts.daily_revenue",
    )
    assert days == [("2024-01-01", "2024-01-31", 31)]
    assert (
        _query(
            example,
            "SELECT COUNT(*) FROM marts.monthly_revenue WHERE revenue_month = DATE '2024-01-01'",
        )[0][0]
        > 0
    )


def test_a_30_day_single_run_backfill_sends_one_statement_per_asset(example: Path) -> None:
    project = load_project(example, lineage=True).raise_for_errors()
    upstream = select(project.graph, ["+marts.daily_revenue"]) - {"marts.daily_revenue"}
    run_project(project, upstream, start="2024-01-01", end="2024-01-31")
    defs = definitions_for(project)
    result = dg.materialize(
        list(defs.assets or []),
        selection=[dg.AssetKey(["marts", "daily_revenue"])],
        resources=dict(defs.resources or {}),
        tags={
            "dagster/asset_partition_range_start": "2024-01-01",
            "dagster/asset_partition_range_end": "2024-01-30",
        },
    )
    assert result.success
    events = result.get_asset_materialization_events()
    # Dagster records one materialization per partition of the range, all from one step.
    assert sorted(e.materialization.partition for e in events)[::29] == ["2024-01-01", "2024-01-30"]
    assert len({str(e.materialization.metadata["sqlassets/job_ids"].value) for e in events}) == 1
    metadata = events[0].materialization.metadata
    assert metadata["sqlassets/window"].value == "2024-01-01..2024-01-30"
    job_ids = metadata["sqlassets/job_ids"].value
    assert len(job_ids) == 2  # create-if-missing, then ONE overwrite for all 30 days
    sql = metadata["sqlassets/sql"].value
    assert sql.count("DELETE FROM marts.daily_revenue") == 1
    assert sql.count("INSERT INTO marts.daily_revenue") == 1
    assert _query(example, "SELECT COUNT(DISTINCT order_date) FROM marts.daily_revenue") == [(30,)]


FAILING = {
    "pyproject.toml": PYPROJECT,
    "sql/src/numbers.sql": "SELECT x, CAST(label AS INT64) AS label_num FROM raw.numbers_src",
    "sql/src/guarded.sql": ("-- @check: expression(x > 0)\nSELECT x FROM raw.numbers_src"),
    "sql/marts/after_guard.sql": "SELECT x * 2 AS y FROM src.guarded",
    "sql/marts/after_numbers.sql": "SELECT label_num FROM src.numbers",
}


def _source(root: Path, rows: list[tuple[int, str]]) -> None:
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
        connection.execute("CREATE OR REPLACE TABLE raw.numbers_src (x INT, label TEXT)")
        connection.executemany("INSERT INTO raw.numbers_src VALUES (?, ?)", rows)


def test_failures_stop_downstream_keep_tables_and_recover(tmp_path: Path) -> None:
    write_project(tmp_path, FAILING)
    project = load_project(tmp_path).raise_for_errors()
    _source(tmp_path, [(1, "1"), (2, "2")])
    first = {o.name: o for o in run_project(project, set(project.models))}
    assert all(o.status == "materialized" for o in first.values())
    assert _query(tmp_path, "SELECT label_num FROM src.numbers ORDER BY 1") == [(1,), (2,)]

    # A bad value makes src.numbers fail; a negative x fails guarded's blocking check.
    _source(tmp_path, [(-1, "1"), (3, "three")])
    second = {o.name: o for o in run_project(project, set(project.models))}
    assert second["src.numbers"].status == "failed"
    assert "three" in second["src.numbers"].message
    assert second["marts.after_numbers"].status == "skipped"
    assert second["src.guarded"].status == "check failed"
    assert second["src.guarded"].failed_checks == ["expression_x_gt_0"]
    assert second["marts.after_guard"].status == "skipped"
    # The failed model's table is as it was; downstream tables kept their old rows.
    assert _query(tmp_path, "SELECT label_num FROM src.numbers ORDER BY 1") == [(1,), (2,)]
    assert _query(tmp_path, "SELECT y FROM marts.after_guard ORDER BY 1") == [(2,), (4,)]

    _source(tmp_path, [(3, "3")])
    third = {o.name: o for o in run_project(project, set(project.models))}
    assert all(o.status == "materialized" for o in third.values())
    assert _query(tmp_path, "SELECT y FROM marts.after_guard") == [(6,)]


def test_run_uses_the_translator_it_is_given_and_reports_typed_events(tmp_path: Path) -> None:
    from sqlassets.dagster import SqlAssetsTranslator
    from sqlassets.runner import CheckEvaluated, ModelFailed, ModelMaterialized, Status

    class Prefixed(SqlAssetsTranslator):
        def get_asset_key(self, model):
            return dg.AssetKey(["warehouse", *super().get_asset_key(model).path])

    write_project(tmp_path, FAILING)
    project = load_project(tmp_path).raise_for_errors()
    _source(tmp_path, [(-1, "1"), (3, "three")])
    events: list[object] = []
    outcomes = {
        o.name: o
        for o in run_project(
            project, set(project.models), on_event=events.append, translator=Prefixed()
        )
    }
    assert outcomes["src.numbers"].status is Status.FAILED
    assert outcomes["src.guarded"].status is Status.CHECK_FAILED
    assert outcomes["marts.after_guard"].status is Status.SKIPPED
    assert any(isinstance(e, ModelFailed) and e.model == "src.numbers" for e in events)
    assert CheckEvaluated("src.guarded", "expression_x_gt_0", passed=False, blocking=True) in events
    assert not any(isinstance(e, ModelMaterialized) and e.model == "src.numbers" for e in events)


FRESH_ORDERS = (
    "SELECT COUNT(*) FROM staging.stg_orders "
    "WHERE order_date = DATE '2024-01-05' AND status NOT IN ('cancelled', 'test')"
)
MART_ORDERS = (
    "SELECT COALESCE(SUM(orders), 0) FROM marts.daily_revenue WHERE order_date = DATE '2024-01-05'"
)


def _rewrite_landing_day(root: Path, keep: int | None) -> None:
    """Keep the first ``keep`` orders of 2024-01-05's landing file (None: remove the file)."""
    landed = root / "gcs" / "shop-landing" / "orders" / "2024-01-05" / "orders.parquet"
    if keep is None:
        landed.unlink()
        return
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT * FROM read_parquet('{landed}') ORDER BY order_id LIMIT {keep}) "
            f"TO '{landed}.new' (FORMAT parquet)"
        )
    Path(f"{landed}.new").replace(landed)


def test_a_mart_runs_after_its_source_reached_through_an_unselected_view(example: Path) -> None:
    project = load_project(example).raise_for_errors()
    run_project(project, set(project.models), start="2024-01-01", end="2024-02-01")
    before = _query(example, MART_ORDERS)[0][0]
    _rewrite_landing_day(example, keep=3)
    # raw.orders -> staging.stg_orders (a view, not selected) -> marts.daily_revenue
    outcomes = run_project(
        project, {"raw.orders", "marts.daily_revenue"}, start="2024-01-05", end="2024-01-06"
    )
    assert {o.name: o.status for o in outcomes} == {
        "raw.orders": "materialized",
        "marts.daily_revenue": "materialized",
    }
    fresh = _query(example, FRESH_ORDERS)[0][0]
    assert fresh != before  # the landing change is visible downstream
    assert _query(example, MART_ORDERS) == [(fresh,)]


def test_a_failed_source_skips_the_mart_that_reads_it_through_an_unselected_view(
    example: Path,
) -> None:
    project = load_project(example).raise_for_errors()
    run_project(project, set(project.models), start="2024-01-01", end="2024-02-01")
    before = _query(example, MART_ORDERS)
    _rewrite_landing_day(example, keep=None)  # the day's files are gone: the load fails
    outcomes = {
        o.name: o
        for o in run_project(
            project, {"raw.orders", "marts.daily_revenue"}, start="2024-01-05", end="2024-01-06"
        )
    }
    assert outcomes["raw.orders"].status == "failed"
    assert outcomes["marts.daily_revenue"].status == "skipped"
    assert "upstream" in outcomes["marts.daily_revenue"].message
    assert _query(example, MART_ORDERS) == before


def test_the_command_line_orders_two_names_after_one_select(example: Path) -> None:
    """The issue's reproduction: `run --select raw.orders marts.daily_revenue` for one day."""
    from click.testing import CliRunner

    from sqlassets.cli import main

    project = load_project(example).raise_for_errors()
    run_project(project, set(project.models), start="2024-01-01", end="2024-02-01")
    before = _query(example, MART_ORDERS)[0][0]
    _rewrite_landing_day(example, keep=3)
    args = ["run", "--project-dir", str(example), "--select", "raw.orders", "marts.daily_revenue"]
    result = CliRunner().invoke(
        main, [*args, "--start", "2024-01-05", "--end", "2024-01-06"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "2 of 2 model(s) materialized" in result.stderr
    fresh = _query(example, FRESH_ORDERS)[0][0]
    assert fresh < before  # the landing change reached the mart
    assert _query(example, MART_ORDERS) == [(fresh,)]

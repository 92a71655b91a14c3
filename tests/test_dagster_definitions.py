"""The example project as Dagster definitions: keys, deps, partitions, policies,
checks, schedules, code versions, column lineage; the component and its entry point."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

import sqlassets
from sqlassets.dagster import SqlAssetsComponent

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def repo() -> dg.RepositoryDefinition:
    return sqlassets.build_definitions(ROOT).get_repository_def()


def _key(text: str) -> dg.AssetKey:
    return dg.AssetKey(text.split("."))


def test_one_asset_per_file_and_external_sources(repo) -> None:
    files = sorted(p.relative_to(ROOT / "sql") for p in (ROOT / "sql").rglob("*.sql"))
    expected = {dg.AssetKey([p.parts[0], p.stem]) for p in files}
    materializable = {
        key for key, assets in repo.assets_defs_by_key.items() if assets.is_materializable
    }
    assert materializable == expected


def test_deps_follow_the_sql(repo) -> None:
    graph = repo.asset_graph
    parents = graph.get(_key("marts.daily_revenue")).parent_keys
    assert _key("staging.stg_orders") in parents
    assert graph.get(_key("staging.stg_orders")).parent_keys == {_key("raw.orders")}


def test_partitions_and_backfill_policies(repo) -> None:
    orders = repo.assets_defs_by_key[_key("raw.orders")]
    assert isinstance(orders.partitions_def, dg.TimeWindowPartitionsDefinition)
    assert orders.partitions_def.get_first_partition_key() == "2024-01-01"
    assert orders.backfill_policy == dg.BackfillPolicy.single_run()
    events = repo.assets_defs_by_key[_key("raw.web_events")]
    assert events.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=7)
    regional = repo.assets_defs_by_key[_key("marts.regional_sales")]
    assert isinstance(regional.partitions_def, dg.StaticPartitionsDefinition)
    assert regional.partitions_def.get_partition_keys() == ["eu", "us"]
    monthly = repo.assets_defs_by_key[_key("marts.monthly_revenue")]
    assert monthly.partitions_def.get_partition_keys()[:2] == ["2024-01-01", "2024-02-01"]
    assert repo.assets_defs_by_key[_key("marts.products")].partitions_def is None


def test_checks_are_asset_checks_with_blocking_from_warn(repo) -> None:
    checks = {
        (tuple(spec.asset_key.path), spec.name): spec.blocking
        for assets in set(repo.assets_defs_by_key.values())
        for spec in assets.check_specs
    }
    assert checks[(("raw", "orders"), "not_null_order_id_customer_id_created_at")] is True
    assert checks[(("raw", "web_events"), "row_count")] is False


def test_checks_are_named_and_described_for_what_they_test(repo) -> None:
    described = {
        (tuple(spec.asset_key.path), spec.name): spec.description
        for assets in set(repo.assets_defs_by_key.values())
        for spec in assets.check_specs
    }
    traffic = ("marts", "daily_traffic")
    assert described[(traffic, "expression_converted_sessions_lte_sessions")] == (
        "`converted_sessions <= sessions` holds on every row. From sql/marts/daily_traffic.sql:15."
    )
    assert described[(traffic, "unique_event_date_device_type")] == (
        "No two rows share `event_date`, `device_type`. From sql/marts/daily_traffic.sql:14."
    )
    assert not any(name == "expression" or name.startswith("expression_2") for _, name in described)


def test_schedules(repo) -> None:
    schedules = {s.name: s for s in repo.schedule_defs}
    assert schedules["raw__orders__schedule"].cron_schedule == "0 2 * * *"
    assert schedules["marts__customers__schedule"].job.name == "marts__customers__job"


def test_partitioned_schedule_requests_the_latest_partition(repo) -> None:
    schedule = next(s for s in repo.schedule_defs if s.name == "raw__orders__schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 3, 5, 2, 0, tzinfo=UTC), repository_def=repo
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-03-04"


def test_metadata_code_version_and_column_lineage(repo) -> None:
    node = repo.asset_graph.get(_key("marts.daily_revenue"))
    metadata = node.metadata
    assert metadata["dagster/table_name"].endswith("marts.daily_revenue")
    lineage = metadata["dagster/column_lineage"]
    deps = {
        (column, tuple(dep.asset_key.path), dep.column_name)
        for column, column_deps in lineage.deps_by_column.items()
        for dep in column_deps
    }
    assert ("order_date", ("staging", "stg_orders"), "order_date") in deps
    assert node.code_version and len(node.code_version) == 16
    assert {"duckdb", "sql"} <= set(node.kinds)


def test_code_version_changes_with_sql_not_with_comments(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    path = tmp_path / "sql" / "marts" / "products.sql"

    def version() -> str:
        repo = sqlassets.build_definitions(tmp_path).get_repository_def()
        return repo.asset_graph.get(_key("marts.products")).code_version

    before = version()
    path.write_text(path.read_text() + "\n-- a trailing comment\n")
    assert version() == before
    path.write_text(path.read_text().replace("SELECT", "SELECT DISTINCT", 1))
    assert version() != before


def test_component_and_dg_registry_entry_point(tmp_path: Path) -> None:
    names = {
        entry.name: entry.value for entry in entry_points(group="dagster_dg_cli.registry_modules")
    }
    assert names["sqlassets"] == "sqlassets"
    # The component reads only the folder of its defs.yaml from the load context.
    context = SimpleNamespace(path=ROOT / "sql", project_root=None)
    defs = SqlAssetsComponent(project_dir="..").build_defs(context)  # type: ignore[arg-type]
    assert _key("marts.daily_revenue") in defs.get_repository_def().assets_defs_by_key
    # Without project_dir: the nearest project up from the defs.yaml's folder.
    deep = SimpleNamespace(path=ROOT / "sql" / "marts", project_root=None)
    found = SqlAssetsComponent().build_defs(deep)  # type: ignore[arg-type]
    assert _key("marts.daily_revenue") in found.get_repository_def().assets_defs_by_key


def test_bigquery_assets_take_the_pool_of_their_table() -> None:
    from sqlassets.dagster import definitions_for
    from sqlassets.project import load_project

    golden = load_project(ROOT / "tests" / "fixtures" / "golden", lineage=True)
    defs = definitions_for(golden, "prod")
    pools = {
        assets.key.to_user_string(): assets.node_def.pool
        for assets in defs.assets or []
        if isinstance(assets, dg.AssetsDefinition)
    }
    assert pools["marts/daily_revenue"] == "sqlassets__prod__marts__daily_revenue"
    local = definitions_for(golden, "local")
    assert all(
        assets.node_def.pool is None
        for assets in local.assets or []
        if isinstance(assets, dg.AssetsDefinition)
    )

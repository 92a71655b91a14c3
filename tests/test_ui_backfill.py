"""Dagster UI range backfills through unpartitioned views, driven by Dagster's own machinery.

The backfill is created as the webserver's ``launchPartitionBackfill`` mutation
creates it for "Materialize selected" with a partition range (an asset
selection plus partition names: ``PartitionBackfill.from_asset_partitions``),
stored in a persistent instance, and driven by the backfill daemon's iteration
(``execute_backfill_iteration``) until it is done; ``SyncInMemoryRunLauncher``
launches each run synchronously from the code location's origin, as a run
worker loads it.

Dagster targets the partitions of the selection's roots and walks down from
them through *selected partitioned* assets only: a mart reading a load through
an unpartitioned view was never reached, and the backfill succeeded without it.
A model reading a view therefore also depends, in Dagster, on what the view
reads; what still cannot be walked says so in its asset description.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.selector import (
    PartitionRangeSelector,
    PartitionsByAssetSelector,
    PartitionsSelector,
)
from dagster._core.errors import DagsterBackfillFailedError
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.asset_backfill import AssetBackfillData
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._time import get_current_timestamp
from dagster._utils.caching_instance_queryer import CachingInstanceQueryer

import sqlassets
from sqlassets.dagster import SqlAssetsTranslator, definitions_for
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.project import load_project
from tests.conftest import LOCAL_PYPROJECT, ROOT
from tests.helpers import write_project

if TYPE_CHECKING:
    from sqlassets.loader import Model

ORDERS = dg.AssetKey(["raw", "orders"])
STG_ORDERS = dg.AssetKey(["staging", "stg_orders"])
DAILY_REVENUE = dg.AssetKey(["marts", "daily_revenue"])
REGIONAL_SALES = dg.AssetKey(["marts", "regional_sales"])
JANUARY = [f"2024-01-{day:02d}" for day in range(1, 32)]
REVENUE_INPUTS = ("raw.orders", "raw.order_items", "staging.stg_orders", "staging.stg_order_items")
DEFS = "import sqlassets\n\ndefs = sqlassets.build_definitions({root!r})\n"
LOGGER = logging.getLogger("sqlassets.tests.backfill")

_WINDOW = "WHERE day >= @start_date AND day < @end_date"
_DAILY = "-- @materialized: insert_overwrite\n-- @partition_by: day\n-- @partitions: daily\n"
SHAPES = {
    "pyproject.toml": LOCAL_PYPROJECT,
    "sql/raw/days.sql": (
        f"{_DAILY}-- @start: 2024-01-01\nSELECT day, 1 AS n FROM UNNEST("
        "GENERATE_DATE_ARRAY(@start_date, DATE_SUB(@end_date, INTERVAL 1 DAY))) AS day"
    ),
    "sql/raw/months.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: month\n-- @partitions: monthly\n"
        "-- @start: 2024-01-01\nSELECT @start_date AS month, 2 AS n"
    ),
    "sql/staging/days_v.sql": "-- @materialized: view\nSELECT day, n FROM raw.days",
    "sql/staging/days_vv.sql": "-- @materialized: view\nSELECT day, n FROM staging.days_v",
    "sql/staging/both_v.sql": (
        "-- @materialized: view\nSELECT d.day, d.n + m.n AS n FROM raw.days AS d "
        "JOIN raw.months AS m ON DATE_TRUNC(d.day, MONTH) = m.month"
    ),
    "sql/int/days_t.sql": "SELECT day, n FROM raw.days",
    "sql/marts/chain.sql": (
        f"{_DAILY}-- @start: 2024-01-01\nSELECT day, SUM(n) AS n FROM staging.days_vv "
        f"{_WINDOW} GROUP BY day"
    ),
    "sql/marts/early.sql": (
        f"{_DAILY}-- @start: 2023-12-01\nSELECT day, SUM(n) AS n FROM staging.days_v "
        f"{_WINDOW} GROUP BY day"
    ),
    "sql/marts/two.sql": (
        f"{_DAILY}-- @start: 2024-01-01\nSELECT day, SUM(n) AS n FROM staging.both_v "
        f"{_WINDOW} GROUP BY day"
    ),
    "sql/marts/after_table.sql": (
        f"{_DAILY}-- @start: 2024-01-01\nSELECT day, SUM(n) AS n FROM int.days_t "
        f"{_WINDOW} GROUP BY day"
    ),
}


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("."))


@dataclass(frozen=True)
class Step:
    """One asset's materialization in one backfill run."""

    run_id: str
    asset: dg.AssetKey
    partitions: tuple[str, ...]
    job_ids: tuple[str, ...]
    sql: str

    @property
    def statements(self) -> list[str]:
        return re.findall(r"```sql\n(.*?)\n```", self.sql, flags=re.DOTALL)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A persistent instance (SQLite storage in ``tmp_path``) whose runs launch synchronously."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(
        temp_dir=str(home), synchronous_run_launcher=True, synchronous_run_coordinator=True
    ) as instance:
        yield instance


def _code_location(root: Path, instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """``root``'s definitions as a code location loaded from a file, as ``dagster dev -f``."""
    defs_file = root / "defs.py"
    defs_file.write_text(DEFS.format(root=str(root)))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(defs_file), working_directory=str(root))
    )
    with create_test_daemon_workspace_context(
        InProcessWorkspaceLoadTarget(origin), instance
    ) as context:
        for entry in context.create_request_context().get_code_location_entries().values():
            assert entry.code_location is not None, entry.load_error
        yield context


@pytest.fixture
def workspace(example: Path, instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    yield from _code_location(example, instance)


@pytest.fixture
def shapes(tmp_path: Path) -> Iterator[Path]:
    yield write_project(tmp_path / "shapes", SHAPES)
    DuckDBEngineResource.close_all()


def _as_the_webserver_does(context: WorkspaceRequestContext) -> dict[str, Any]:
    """The arguments ``launchPartitionBackfill`` gives every asset backfill it creates."""
    return {
        "backfill_id": make_new_backfill_id(),
        "asset_graph": context.asset_graph,
        "backfill_timestamp": get_current_timestamp(),
        "tags": {},
        "dynamic_partitions_store": CachingInstanceQueryer(
            instance=context.instance, asset_graph=context.asset_graph, loading_context=context
        ),
        "title": None,
        "description": None,
        "run_config": None,
    }


def _launch(
    workspace: WorkspaceProcessContext,
    selection: Sequence[dg.AssetKey],
    partitions: Sequence[str],
) -> str:
    """What ``launchPartitionBackfill`` does for an asset selection and partition names."""
    context = workspace.create_request_context()
    backfill = PartitionBackfill.from_asset_partitions(
        **_as_the_webserver_does(context),
        asset_selection=list(selection),
        partition_names=list(partitions),
        all_partitions=False,
    )
    context.instance.add_backfill(backfill)
    return backfill.backfill_id


def _launch_by_assets(
    workspace: WorkspaceProcessContext, ranges: dict[dg.AssetKey, tuple[str, str]]
) -> str:
    """``launchPartitionBackfill`` with ``partitionsByAssets``: a range per asset (the API form)."""
    context = workspace.create_request_context()
    backfill = PartitionBackfill.from_partitions_by_assets(
        **_as_the_webserver_does(context),
        partitions_by_assets=[
            PartitionsByAssetSelector(
                asset_key=key,
                partitions=PartitionsSelector(ranges=[PartitionRangeSelector(start, end)]),
            )
            for key, (start, end) in ranges.items()
        ],
    )
    context.instance.add_backfill(backfill)
    return backfill.backfill_id


def _drive(workspace: WorkspaceProcessContext, backfill_id: str) -> PartitionBackfill:
    """The daemon's iterations until the backfill is no longer requested (at most 10)."""
    for _ in range(10):
        for error in execute_backfill_iteration(workspace, LOGGER):
            assert error is None, error
        backfill = workspace.instance.get_backfill(backfill_id)
        assert backfill is not None
        if backfill.status is not BulkActionStatus.REQUESTED:
            return backfill
    raise AssertionError("the backfill did not finish in 10 daemon iterations")


def _steps(instance: dg.DagsterInstance, backfill_id: str) -> list[Step]:
    """Every materializing step of the backfill's runs, in the order they ran."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    steps: dict[tuple[str, dg.AssetKey], Step] = {}
    for run in reversed(runs):  # storage lists the newest first
        assert run.status is DagsterRunStatus.SUCCESS, run.run_id
        materialized = dg.DagsterEventType.ASSET_MATERIALIZATION
        for record in instance.all_logs(run.run_id, of_type=materialized):
            event = record.asset_materialization
            assert event is not None
            previous = steps.get((run.run_id, event.asset_key))
            partition = (event.partition,) if event.partition else ()
            steps[(run.run_id, event.asset_key)] = Step(
                run_id=run.run_id,
                asset=event.asset_key,
                partitions=(previous.partitions if previous else ()) + partition,
                job_ids=tuple(event.metadata["sqlassets/job_ids"].value),  # type: ignore[arg-type]
                sql=str(event.metadata["sqlassets/sql"].value),
            )
    return list(steps.values())


def _query(root: Path, sql: str) -> list[tuple[object, ...]]:
    DuckDBEngineResource.close_all()  # release the runs' connection before reading
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _first_run(root: Path, names: Sequence[str] = REVENUE_INPUTS) -> None:
    """The state after a first run: the loads of February 1st, the views over them.

    In an ephemeral instance: the backfill's instance holds the backfill alone.
    """
    project = load_project(root, lineage=True).raise_for_errors()
    with mock.patch.dict(os.environ):
        os.environ.pop("DAGSTER_HOME", None)
        outcomes = run_project(project, set(names), partition="2024-02-01")
    assert all(outcome.ok for outcome in outcomes), outcomes
    assert _query(root, "SELECT COUNT(*) FROM raw.orders WHERE created_at < '2024-02-01'") == [(0,)]


REVENUE_FROM_THE_LOAD = """
SELECT order_date, customer_id, COUNT(*), SUM(net_amount)
FROM staging.stg_orders
WHERE created_at >= '2024-01-01' AND created_at < '2024-02-01'
  AND status NOT IN ('cancelled', 'test')
GROUP BY ALL ORDER BY ALL
"""
REVENUE_OF_THE_MART = """
SELECT order_date, customer_id, orders, net_revenue FROM marts.daily_revenue
WHERE order_date < '2024-02-01' ORDER BY ALL
"""


def _assert_the_mart_holds_the_loaded_january(root: Path) -> None:
    expected = _query(root, REVENUE_FROM_THE_LOAD)
    assert len({row[0] for row in expected}) == 31
    assert _query(root, REVENUE_OF_THE_MART) == expected


def _assert_one_write_per_window(step: Step, table: str) -> None:
    """One statement writes the whole range (the other, if any, creates the table if missing)."""
    writes = [sql for sql in step.statements if not sql.startswith("CREATE TABLE IF NOT EXISTS")]
    assert len(writes) == 1, step.statements
    assert len(step.job_ids) == len(step.statements)
    assert table in writes[0]


@pytest.mark.slow
def test_a_range_backfill_of_a_load_and_a_mart_through_a_view_materializes_both(
    example: Path, workspace: WorkspaceProcessContext
) -> None:
    _first_run(example)
    backfill_id = _launch(workspace, [ORDERS, DAILY_REVENUE], JANUARY)
    assert _drive(workspace, backfill_id).status is BulkActionStatus.COMPLETED_SUCCESS

    steps = _steps(workspace.instance, backfill_id)
    # Every selected asset over every partition of the range, the load first.
    assert [step.asset for step in steps] == [ORDERS, DAILY_REVENUE]
    assert all(sorted(step.partitions) == JANUARY for step in steps)
    # single_run: both in one run, one write each for the 31 days.
    assert len({step.run_id for step in steps}) == 1
    _assert_one_write_per_window(steps[0], "raw.orders")
    _assert_one_write_per_window(steps[1], "marts.daily_revenue")
    _assert_the_mart_holds_the_loaded_january(example)


@pytest.mark.slow
def test_with_the_view_selected_too_it_runs_once_between_them(
    example: Path, workspace: WorkspaceProcessContext
) -> None:
    _first_run(example)
    backfill_id = _launch(workspace, [ORDERS, STG_ORDERS, DAILY_REVENUE], JANUARY)
    assert _drive(workspace, backfill_id).status is BulkActionStatus.COMPLETED_SUCCESS

    steps = _steps(workspace.instance, backfill_id)
    assert [step.asset for step in steps] == [ORDERS, STG_ORDERS, DAILY_REVENUE]
    assert len({step.run_id for step in steps}) == 3  # unpartitioned: a run of its own
    load, view, mart = steps
    assert sorted(load.partitions) == sorted(mart.partitions) == JANUARY
    assert view.partitions == ()
    assert len(view.statements) == 1
    assert view.statements[0].startswith("CREATE OR REPLACE VIEW staging.stg_orders")
    _assert_one_write_per_window(mart, "marts.daily_revenue")
    _assert_the_mart_holds_the_loaded_january(example)


@pytest.mark.slow
def test_a_backfill_of_a_range_per_asset_orders_the_load_before_the_mart(
    example: Path, workspace: WorkspaceProcessContext
) -> None:
    """``partitionsByAssets``: each asset is targeted directly, so both are roots for Dagster
    unless it sees the dependency through the view; then it runs the load first."""
    _first_run(example)
    january = (JANUARY[0], JANUARY[-1])
    backfill_id = _launch_by_assets(workspace, {DAILY_REVENUE: january, ORDERS: january})
    assert _drive(workspace, backfill_id).status is BulkActionStatus.COMPLETED_SUCCESS

    steps = _steps(workspace.instance, backfill_id)
    assert [step.asset for step in steps] == [ORDERS, DAILY_REVENUE]
    assert all(sorted(step.partitions) == JANUARY for step in steps)
    _assert_the_mart_holds_the_loaded_january(example)


@pytest.mark.slow
def test_a_static_mart_over_a_daily_load_through_views_still_backfills(
    example: Path, workspace: WorkspaceProcessContext
) -> None:
    """Keyed by region, over a daily load: it depends on all of the load, not on a
    load partition named ``eu`` (which Dagster would refuse as non-existent)."""
    _first_run(
        example,
        [
            *REVENUE_INPUTS,
            "raw.customers",
            "staging.stg_customers",
            "raw.products",
            "staging.stg_products",
        ],
    )
    backfill_id = _launch(workspace, [REGIONAL_SALES], ["eu", "us"])
    assert _drive(workspace, backfill_id).status is BulkActionStatus.COMPLETED_SUCCESS
    steps = _steps(workspace.instance, backfill_id)
    assert sorted(key for step in steps for key in step.partitions) == ["eu", "us"]


@pytest.mark.slow
def test_a_mart_starting_before_its_load_backfills_its_early_days(
    shapes: Path, instance: dg.DagsterInstance
) -> None:
    """Its window reads what the view shows; Dagster must not require load partitions
    that do not exist (2023 has none)."""
    outcomes = run_project(load_project(shapes).raise_for_errors(), {"raw.days", "staging.days_v"})
    assert all(outcome.ok for outcome in outcomes)
    days = [f"2023-12-{day}" for day in range(25, 32)] + ["2024-01-01", "2024-01-02"]
    for workspace in _code_location(shapes, instance):
        backfill_id = _launch(workspace, [_key("marts.early")], days)
        assert _drive(workspace, backfill_id).status is BulkActionStatus.COMPLETED_SUCCESS
        [step] = _steps(instance, backfill_id)
        assert sorted(step.partitions) == days


# ------------------------------------------------ what Dagster targets, without running


@pytest.fixture(scope="module")
def shapes_graph(tmp_path_factory: pytest.TempPathFactory) -> dg.RepositoryDefinition:
    root = write_project(tmp_path_factory.mktemp("shapes"), SHAPES)
    return sqlassets.build_definitions(root).get_repository_def()


def _targeted(
    repo: dg.RepositoryDefinition, selection: list[str], partitions: list[str]
) -> dict[str, list[str] | None]:
    """The asset partitions ``from_asset_partitions`` targets (None: unpartitioned)."""
    data = AssetBackfillData.from_asset_partitions(
        asset_graph=repo.asset_graph,
        partition_names=partitions,
        asset_selection=[_key(name) for name in selection],
        dynamic_partitions_store=dg.DagsterInstance.ephemeral(),
        backfill_start_timestamp=time.time(),
        all_partitions=False,
    )
    subset = data.target_subset
    targeted: dict[str, list[str] | None] = {
        ".".join(key.path): sorted(keys.get_partition_keys())
        for key, keys in subset.partitions_subsets_by_asset_key.items()
    }
    targeted.update({".".join(key.path): None for key in subset.non_partitioned_asset_keys})
    return targeted


def test_a_model_reading_views_depends_on_what_they_read(shapes_graph) -> None:
    graph = shapes_graph.asset_graph
    assert graph.get(_key("marts.chain")).parent_keys == {
        _key("staging.days_vv"),
        _key("staging.days_v"),
        _key("raw.days"),
    }
    assert graph.get(_key("marts.two")).parent_keys == {
        _key("staging.both_v"),
        _key("raw.days"),
        _key("raw.months"),
    }
    # A table does not pass through: it holds what it read when it ran.
    assert graph.get(_key("marts.after_table")).parent_keys == {_key("int.days_t")}
    # A view over a view, too; a view over a model reads it directly.
    assert graph.get(_key("staging.days_vv")).parent_keys == {
        _key("staging.days_v"),
        _key("raw.days"),
    }
    assert graph.get(_key("staging.days_v")).parent_keys == {_key("raw.days")}


def test_through_a_view_a_window_maps_to_the_same_window_when_the_load_has_it(
    shapes_graph,
) -> None:
    graph = shapes_graph.asset_graph
    mapping = graph.get_partition_mapping(_key("marts.early"), _key("raw.days"))
    assert isinstance(mapping, dg.TimeWindowPartitionMapping)
    assert mapping.allow_nonexistent_upstream_partitions
    # A direct read keeps Dagster's default.
    direct = graph.get_partition_mapping(_key("int.days_t"), _key("raw.days"))
    assert isinstance(direct, dg.AllPartitionMapping)


def test_the_backfill_targets_marts_reached_through_views(shapes_graph) -> None:
    days = JANUARY[:3]
    assert _targeted(shapes_graph, ["raw.days", "marts.chain"], days) == {
        "raw.days": days,
        "marts.chain": days,
    }
    assert _targeted(shapes_graph, ["raw.days", "marts.two"], days) == {
        "raw.days": days,
        "marts.two": days,
    }
    # Two roots of different partitions: refused when launched, never silently partial.
    with pytest.raises(DagsterBackfillFailedError, match="same PartitionsDefinition"):
        _targeted(shapes_graph, ["raw.days", "raw.months", "marts.two"], days)


def test_what_a_backfill_cannot_reach_says_so_in_its_description(shapes_graph) -> None:
    # Dagster walks down from raw.days through partitioned assets only: even with the
    # table selected, the mart after it is not targeted (and the backfill would succeed).
    selected = ["raw.days", "int.days_t", "marts.after_table"]
    assert "marts.after_table" not in _targeted(shapes_graph, selected, JANUARY[:3])
    specs = {
        spec.key: spec for spec in shapes_graph.assets_defs_by_key[_key("marts.after_table")].specs
    }
    description = specs[_key("marts.after_table")].description or ""
    assert "a Dagster range backfill that selects this asset with `raw.days`" in description
    assert "an unpartitioned model that is not a view (a table" in description
    noted = [
        key
        for key, assets in shapes_graph.assets_defs_by_key.items()
        if "**Backfills**" in (assets.specs_by_key[key].description or "")
    ]
    assert noted == [_key("marts.after_table")]


def test_no_example_asset_needs_the_note_and_one_run_orders_load_and_mart() -> None:
    defs = sqlassets.build_definitions(ROOT)
    repo = defs.get_repository_def()
    assert not any(
        "**Backfills**" in (assets.specs_by_key[key].description or "")
        for key, assets in repo.assets_defs_by_key.items()
        if assets.is_materializable
    )
    # Between partitioned models, Dagster needs the partitioned ones in between selected.
    monthly = ["raw.orders", "marts.monthly_revenue"]
    assert "marts.monthly_revenue" not in _targeted(repo, monthly, JANUARY)
    assert _targeted(repo, [*monthly, "marts.daily_revenue"], JANUARY)["marts.monthly_revenue"] == [
        "2024-01-01"
    ]
    # Inside one run of both, the mart's step waits for the load's.
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={ORDERS, DAILY_REVENUE}
    )
    plan = create_execution_plan(job)
    assert plan.get_step_by_key("marts__daily_revenue").get_execution_dependency_keys() == {
        "raw__orders"
    }


def test_get_passes_through_decides_which_reads_go_through(tmp_path: Path) -> None:
    class TablesToo(SqlAssetsTranslator):
        def get_passes_through(self, model: Model) -> bool:
            return model.spec.name.dataset in ("staging", "int")

    class Never(SqlAssetsTranslator):
        def get_passes_through(self, model: Model) -> bool:
            return False

    project = load_project(write_project(tmp_path, SHAPES)).raise_for_errors()
    through = definitions_for(project, translator=TablesToo()).get_repository_def()
    assert through.asset_graph.get(_key("marts.after_table")).parent_keys == {
        _key("int.days_t"),
        _key("raw.days"),
    }
    after = through.assets_defs_by_key[_key("marts.after_table")]
    assert "**Backfills**" not in (after.specs_by_key[_key("marts.after_table")].description or "")
    assert "marts.after_table" in _targeted(through, ["raw.days", "marts.after_table"], JANUARY)

    direct = definitions_for(project, translator=Never()).get_repository_def()
    assert direct.asset_graph.get(_key("marts.chain")).parent_keys == {_key("staging.days_vv")}

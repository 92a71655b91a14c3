"""Dagster UI range backfills, driven by Dagster's own backfill machinery.

The backfill is created as the webserver's ``launchPartitionBackfill`` mutation
creates it for "Materialize selected" with a partition range (an asset
selection plus partition names: ``PartitionBackfill.from_asset_partitions``),
stored in a persistent instance, and driven by the backfill daemon's iteration
(``execute_backfill_iteration``) until it is done; runs are launched
synchronously by ``SyncInMemoryRunLauncher`` from the code location's origin,
as a run worker would load them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.selector import (
    PartitionRangeSelector,
    PartitionsByAssetSelector,
    PartitionsSelector,
)
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._time import get_current_timestamp
from dagster._utils.caching_instance_queryer import CachingInstanceQueryer

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.project import load_project

# Slow: a dozen Dagster runs, each loading the code location from its origin.
pytestmark = pytest.mark.slow

ORDERS = dg.AssetKey(["raw", "orders"])
STG_ORDERS = dg.AssetKey(["staging", "stg_orders"])
DAILY_REVENUE = dg.AssetKey(["marts", "daily_revenue"])
JANUARY = [f"2024-01-{day:02d}" for day in range(1, 32)]
DEFS = "import sqlassets\n\ndefs = sqlassets.build_definitions({root!r})\n"
LOGGER = logging.getLogger("sqlassets.tests.backfill")


@dataclass(frozen=True)
class Step:
    """One asset's materialization in one backfill run."""

    run_id: str
    asset: dg.AssetKey
    partitions: tuple[str, ...]
    job_ids: tuple[str, ...]
    sql: str


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(
        temp_dir=str(home), synchronous_run_launcher=True, synchronous_run_coordinator=True
    ) as instance:
        yield instance


@pytest.fixture
def workspace(example: Path, instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The example project (DuckDB) as a code location loaded from a file, as `dagster dev -f`."""
    defs_file = example / "defs.py"
    defs_file.write_text(DEFS.format(root=str(example)))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(defs_file), working_directory=str(example))
    )
    with create_test_daemon_workspace_context(
        InProcessWorkspaceLoadTarget(origin), instance
    ) as context:
        entries = context.create_request_context().get_code_location_entries().values()
        for entry in entries:
            assert entry.code_location is not None, entry.load_error
        yield context


def _launch(
    workspace: WorkspaceProcessContext,
    selection: Sequence[dg.AssetKey],
    partitions: Sequence[str],
) -> str:
    """What ``launchPartitionBackfill`` does for an asset selection and partition names."""
    context = workspace.create_request_context()
    timestamp = get_current_timestamp()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=context.asset_graph,
        backfill_timestamp=timestamp,
        tags={},
        asset_selection=list(selection),
        partition_names=list(partitions),
        dynamic_partitions_store=CachingInstanceQueryer(
            instance=context.instance, asset_graph=context.asset_graph, loading_context=context
        ),
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    context.instance.add_backfill(backfill)
    return backfill.backfill_id


def _launch_by_assets(
    workspace: WorkspaceProcessContext, ranges: dict[dg.AssetKey, tuple[str, str]]
) -> str:
    """``launchPartitionBackfill`` with ``partitionsByAssets`` (a range per asset, the API form)."""
    context = workspace.create_request_context()
    backfill = PartitionBackfill.from_partitions_by_assets(
        backfill_id=make_new_backfill_id(),
        asset_graph=context.asset_graph,
        backfill_timestamp=get_current_timestamp(),
        tags={},
        dynamic_partitions_store=CachingInstanceQueryer(
            instance=context.instance, asset_graph=context.asset_graph, loading_context=context
        ),
        partitions_by_assets=[
            PartitionsByAssetSelector(
                asset_key=key,
                partitions=PartitionsSelector(
                    ranges=[PartitionRangeSelector(start=start, end=end)]
                ),
            )
            for key, (start, end) in ranges.items()
        ],
        title=None,
        description=None,
        run_config=None,
    )
    context.instance.add_backfill(backfill)
    return backfill.backfill_id


def _drive(workspace: WorkspaceProcessContext, backfill_id: str) -> PartitionBackfill:
    """The daemon's iterations until the backfill is no longer requested (at most 10)."""
    instance = workspace.instance
    for _ in range(10):
        for error in execute_backfill_iteration(workspace, LOGGER):
            assert error is None, error
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None
        if backfill.status is not BulkActionStatus.REQUESTED:
            return backfill
    raise AssertionError("the backfill did not finish in 10 daemon iterations")


def _steps(instance: dg.DagsterInstance, backfill_id: str) -> list[Step]:
    """Every materialization step of the backfill's runs, in the order they ran."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    steps: dict[tuple[str, dg.AssetKey], Step] = {}
    for run in reversed(runs):  # newest first from storage
        assert run.status is DagsterRunStatus.SUCCESS, run.run_id
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = record.asset_materialization
            assert materialization is not None
            previous = steps.get((run.run_id, materialization.asset_key))
            partition = (materialization.partition,) if materialization.partition else ()
            metadata = materialization.metadata
            steps[(run.run_id, materialization.asset_key)] = Step(
                run_id=run.run_id,
                asset=materialization.asset_key,
                partitions=(previous.partitions if previous else ()) + partition,
                job_ids=tuple(metadata["sqlassets/job_ids"].value),  # type: ignore[arg-type]
                sql=str(metadata["sqlassets/sql"].value),
            )
    return list(steps.values())


def _query(root: Path, sql: str) -> list[tuple[object, ...]]:
    DuckDBEngineResource.close_all()  # release the runs' connection before reading
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _first_run(root: Path) -> None:
    """The state after a first run: February 1st loaded, the views created over it."""
    project = load_project(root, lineage=True).raise_for_errors()
    names = {"raw.orders", "raw.order_items", "staging.stg_orders", "staging.stg_order_items"}
    outcomes = run_project(project, names, partition="2024-02-01")
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


def test_a_range_backfill_of_a_load_and_a_mart_through_a_view_materializes_both(
    example: Path, workspace: WorkspaceProcessContext
) -> None:
    _first_run(example)
    backfill_id = _launch(workspace, [ORDERS, DAILY_REVENUE], JANUARY)
    backfill = _drive(workspace, backfill_id)
    assert backfill.status is BulkActionStatus.COMPLETED_SUCCESS

    steps = _steps(workspace.instance, backfill_id)
    # Every selected asset, every partition of the range, the load before the mart.
    assert [step.asset for step in steps] == [ORDERS, DAILY_REVENUE]
    for step in steps:
        assert sorted(step.partitions) == JANUARY, step.asset
    # single_run: one run, and one step per asset whose one write covers the 31 days.
    assert len({step.run_id for step in steps}) == 1
    load, mart = steps
    assert load.sql.count("raw.orders") >= 1
    assert mart.sql.count("DELETE FROM marts.daily_revenue") == 1
    assert mart.sql.count("INSERT INTO marts.daily_revenue") == 1
    # The mart holds the freshly loaded January, read through the view.
    expected = _query(example, REVENUE_FROM_THE_LOAD)
    assert len({row[0] for row in expected}) == 31
    assert _query(example, REVENUE_OF_THE_MART) == expected

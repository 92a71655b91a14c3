"""The threaded executor with Dagster's own execution machinery: concurrency, limits, order, pools.

Plain Dagster assets stand in for warehouse steps: each blocks on a barrier
that only opens when enough steps run at once, so a serial executor fails
these tests (a broken barrier) rather than being merely slower.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.retries import RetryMode

from sqlassets.dagster.executor import (
    ThreadedExecutor,
    make_threaded_executor,
    materialize_in_threads,
    threaded_executor,
)
from tests.conftest import ROOT

BARRIER_S = 20.0
"""A barrier that has not opened by then never will (the steps are not concurrent)."""


class Probe:
    """Counts the steps running at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.order: list[str] = []

    def enter(self, name: str) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.order.append(f"start {name}")

    def leave(self, name: str) -> None:
        with self.lock:
            self.running -= 1
            self.order.append(f"end {name}")


def _parallel_assets(
    count: int, barrier: threading.Barrier, probe: Probe
) -> list[dg.AssetsDefinition]:
    def make(index: int) -> dg.AssetsDefinition:
        @dg.asset(name=f"step_{index}")
        def step() -> None:
            probe.enter(f"step_{index}")
            try:
                barrier.wait(timeout=BARRIER_S)
            finally:
                probe.leave(f"step_{index}")

        return step

    return [make(index) for index in range(count)]


def _keys(assets: list[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [assets_def.key for assets_def in assets]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_independent_steps_run_at_once(instance: dg.DagsterInstance) -> None:
    probe = Probe()
    assets = _parallel_assets(6, threading.Barrier(6), probe)
    result = materialize_in_threads(
        assets, _keys(assets), resources={}, executor=make_threaded_executor(6), instance=instance
    )
    assert result.success
    assert probe.peak == 6
    assert len(result.get_asset_materialization_events()) == 6


def test_never_more_steps_than_the_limit(instance: dg.DagsterInstance) -> None:
    probe = Probe()
    # Pairs: every step waits for a second one, so two at a time always progress.
    assets = _parallel_assets(6, threading.Barrier(2), probe)
    result = materialize_in_threads(
        assets, _keys(assets), resources={}, executor=make_threaded_executor(2), instance=instance
    )
    assert result.success
    assert probe.peak == 2


def test_run_config_sets_the_limit(instance: dg.DagsterInstance) -> None:
    probe = Probe()
    assets = _parallel_assets(3, threading.Barrier(3), probe)
    result = materialize_in_threads(
        assets,
        _keys(assets),
        resources={},
        executor=threaded_executor,
        instance=instance,
        run_config={"execution": {"config": {"max_concurrent": 3}}},
    )
    assert result.success
    assert probe.peak == 3


def test_a_limit_of_one_runs_steps_one_after_another(instance: dg.DagsterInstance) -> None:
    probe = Probe()
    assets = _parallel_assets(3, threading.Barrier(1), probe)
    result = materialize_in_threads(
        assets, _keys(assets), resources={}, executor=make_threaded_executor(1), instance=instance
    )
    assert result.success
    assert probe.peak == 1


def _chain(probe: Probe, fail: bool = False) -> list[dg.AssetsDefinition]:
    """a -> b -> c, where b is never selected: c reads a through b."""

    @dg.asset
    def a() -> None:
        probe.enter("a")
        probe.leave("a")
        if fail:
            raise RuntimeError("a failed")

    @dg.asset(deps=[a])
    def b() -> None:
        probe.enter("b")
        probe.leave("b")

    @dg.asset(deps=[b])
    def c() -> None:
        probe.enter("c")
        probe.leave("c")

    # "a" sorts before "c" by name: put the downstream one first so order is not luck.
    @dg.asset(deps=[b], name="_c")
    def early_c() -> None:
        probe.enter("_c")
        probe.leave("_c")

    return [a, b, c, early_c]


def test_a_step_waits_for_its_ancestor_through_an_unselected_asset(
    instance: dg.DagsterInstance,
) -> None:
    probe = Probe()
    assets = _chain(probe)
    keys = [dg.AssetKey("a"), dg.AssetKey("c"), dg.AssetKey("_c")]
    result = materialize_in_threads(
        assets, keys, resources={}, executor=make_threaded_executor(4), instance=instance
    )
    assert result.success
    assert probe.order.index("end a") < probe.order.index("start c")
    assert probe.order.index("end a") < probe.order.index("start _c")
    assert "start b" not in probe.order


def test_a_failure_skips_what_reads_it_through_an_unselected_asset(
    instance: dg.DagsterInstance,
) -> None:
    probe = Probe()
    assets = _chain(probe, fail=True)
    result = materialize_in_threads(
        assets,
        [dg.AssetKey("a"), dg.AssetKey("c")],
        resources={},
        executor=make_threaded_executor(4),
        instance=instance,
    )
    assert not result.success
    assert probe.order == ["start a", "end a"]
    assert [event.step_key for event in result.get_step_failure_events()] == ["a"]


def _fail_fast_assets(probe: Probe, halted: threading.Event) -> list[dg.AssetsDefinition]:
    """``a_fails`` and ``b_runs`` run together; ``c_later`` (lower priority) waits for a slot.

    ``b_runs`` returns only once the executor has halted: it is running when
    ``a_fails`` fails, and must be let finish.
    """
    together = threading.Barrier(2)

    @dg.asset
    def a_fails() -> None:
        probe.enter("a_fails")
        together.wait(timeout=BARRIER_S)
        probe.leave("a_fails")
        raise RuntimeError("a failed")

    @dg.asset
    def b_runs() -> None:
        probe.enter("b_runs")
        together.wait(timeout=BARRIER_S)
        halted.wait(timeout=BARRIER_S)
        probe.leave("b_runs")

    @dg.asset(op_tags={"dagster/priority": "-1"})
    def c_later() -> None:
        probe.enter("c_later")
        probe.leave("c_later")

    return [a_fails, b_runs, c_later]


@pytest.mark.parametrize("fail_fast", [True, False])
def test_fail_fast_starts_no_step_after_a_failure_and_lets_running_ones_finish(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, fail_fast: bool
) -> None:
    from sqlassets.dagster.executor import _OrderedExecution

    halted = threading.Event()
    halt = _OrderedExecution.halt

    def observed(self: _OrderedExecution) -> None:
        halt(self)
        halted.set()

    monkeypatch.setattr(_OrderedExecution, "halt", observed)
    if not fail_fast:
        halted.set()  # nothing halts: let b_runs return at once
    probe = Probe()
    assets = _fail_fast_assets(probe, halted)
    result = materialize_in_threads(
        assets,
        _keys(assets),
        resources={},
        executor=make_threaded_executor(2),
        instance=instance,
        run_config={"execution": {"config": {"fail_fast": fail_fast}}},
    )
    assert not result.success
    assert [event.step_key for event in result.get_step_failure_events()] == ["a_fails"]
    materialized = {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}
    if fail_fast:
        assert materialized == {"b_runs"}  # running when a_fails failed: finished, not cancelled
        assert "start c_later" not in probe.order
    else:
        assert materialized == {"b_runs", "c_later"}


def test_a_pool_limit_holds_across_threads(tmp_path: Path) -> None:
    probe = Probe()

    def make(index: int) -> dg.AssetsDefinition:
        @dg.asset(name=f"pooled_{index}", pool="one_table")
        def pooled() -> None:
            probe.enter(f"pooled_{index}")
            probe.leave(f"pooled_{index}")

        return pooled

    assets = [make(index) for index in range(4)]
    overrides = {"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        result = materialize_in_threads(
            assets,
            _keys(assets),
            resources={},
            executor=make_threaded_executor(4),
            instance=instance,
        )
        assert result.success
        assert instance.event_log_storage.get_concurrency_info("one_table").slot_count == 1
    # Without the pool the four would run at once (the limit is 4).
    assert probe.peak == 1


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThreadedExecutor(retries=RetryMode.DISABLED, max_concurrent=0)


PRODUCTS = {dg.AssetKey(["raw", "products"]), dg.AssetKey(["staging", "stg_products"])}


def test_definitions_of_a_deployment_run_through_it(example: Path, tmp_path: Path) -> None:
    """What a run worker does: the job from the code location, executed with its own executor."""
    shutil.copy(ROOT / "definitions.py", example / "definitions.py")
    repository = ReconstructableRepository.for_file(str(example / "definitions.py"), "defs")
    job = repository.get_reconstructable_job("__ASSET_JOB")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(
            job,
            instance=instance,
            asset_selection=list(PRODUCTS),
        )
        assert result.success
        started = [e for e in result.all_events if e.event_type_value == "ENGINE_EVENT"]
        assert any("in threads" in (event.message or "") for event in started)
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == PRODUCTS

"""``threaded_executor``: a run's steps in threads of one process, many warehouse jobs in flight.

A sqlassets step spends its time waiting for a remote job, so a thread per
running step is all the concurrency BigQuery needs: one process drives
hundreds of jobs, and no step pays for a new process that imports Dagster and
reloads the code location (what the multiprocess executor does). Dagster has
no threaded executor of its own (dagster-io/dagster#4041).

What it keeps of Dagster's executors: the :class:`ActiveExecution` state
machine (retries, skips, abandoned steps after a failure), instance
concurrency pools (a step claims its pool's slot before it starts and frees it
when it ends, as the multiprocess executor does), ``tag_concurrency_limits``,
hooks, and compute-log capture. Resources are initialised once per run and
shared by the threads.

What it adds: a step waits for every selected ancestor, also one reached only
through assets the run does not materialize (a mart reading a load through a
view). Dagster's plan links only selected assets that depend on each other
directly, so without this the mart could run first, on stale data.

On termination (Dagster's, or Ctrl-C) no further step starts and every
in-flight warehouse job is cancelled (:func:`sqlassets.engines.interrupt_all`);
the run ends interrupted once the running steps have returned. With
``fail_fast`` (executor config), the first failed step stops the run from
starting any other: running steps finish, the rest are abandoned.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import dagster as dg
from dagster import Bool, Field, Int
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import (
    PlanExecutionContext,
    PlanOrchestrationContext,
    StepExecutionContext,
)
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.execute_plan import (
    _trigger_hook,
    dagster_event_sequence_for_step,
)
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.step_dependency_config import (
    StepDependencyConfig,
    get_step_dependency_config_field,
)
from dagster._core.executor.base import Executor
from dagster._core.executor.init import InitExecutorContext

from sqlassets.engines import interrupt_all, resume_all

__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "ThreadedExecutor",
    "make_threaded_executor",
    "materialize_in_threads",
    "threaded_executor",
]

DEFAULT_MAX_CONCURRENT = 8
"""Steps in flight when nothing else says (a BigQuery target's ``max_concurrent_jobs`` default)."""

_POLL_S = 0.25
"""How often the orchestrating thread looks for a captured termination while steps run."""

_DRAIN_S = 60.0
"""After a termination, how long running steps get to return (their jobs are being cancelled)."""

_DONE = object()
"""Queued by a step's thread when it has nothing more to report."""


class _OrderedExecution(ActiveExecution):
    """Dagster's state machine, with extra dependencies between steps.

    ``extra[step]`` are steps that must succeed before ``step`` starts; if one
    fails, is skipped or abandoned, ``step`` is abandoned like a direct
    dependent would be.
    """

    def __init__(
        self, execution_plan: ExecutionPlan, extra: Mapping[str, set[str]], **kwargs: Any
    ) -> None:
        self._extra = {key: set(deps) for key, deps in extra.items() if deps}
        self._extra_applied = False
        self._halted = False
        super().__init__(execution_plan, **kwargs)

    def halt(self) -> None:
        """Start no further step: those not started are abandoned; running ones finish."""
        self._halted = True

    def _update(self) -> None:
        if not self._extra_applied:
            # The first update runs inside ActiveExecution.__init__, once _pending exists.
            for key, deps in self._extra.items():
                if key in self._pending:
                    self._pending[key] |= deps & set(self._pending)
            self._extra_applied = True
        super()._update()
        if self._halted:
            self._pending_abandon += [*self._pending, *self._executable]
            self._pending.clear()
            self._executable.clear()
        blocked = self._failed | self._abandoned | self._skipped
        for key in list(self._executable):
            if self._extra.get(key, set()) & blocked:
                self._executable.remove(key)
                self._pending_abandon.append(key)


class ThreadedExecutor(Executor):
    """Runs up to ``max_concurrent`` steps of a run at once, each in a thread of this process."""

    def __init__(
        self,
        retries: RetryMode,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        tag_concurrency_limits: list[dict[str, Any]] | None = None,
        step_dependency_config: StepDependencyConfig | None = None,
        fail_fast: bool = False,
    ):
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
        self._retries = retries
        self.max_concurrent = max_concurrent
        self.tag_concurrency_limits = tag_concurrency_limits or []
        self._step_dependency_config = step_dependency_config or StepDependencyConfig.default()
        self.fail_fast = fail_fast
        """After a step fails, start no other (the running ones finish)."""

    @property
    def retries(self) -> RetryMode:
        """Whether steps retry (Dagster's retry mode)."""
        return self._retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        """When a step may start relative to its upstream steps (Dagster's setting)."""
        return self._step_dependency_config

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        """Initialise resources once, then run the plan's steps in threads."""
        steps = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in threads (pid: {os.getpid()}, up to {self.max_concurrent} at once)",
            event_specific_data=EngineEventData.in_process(os.getpid(), steps),
        )
        started = time.monotonic()
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=self._iterate,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        )
        yield DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in threads (pid: {os.getpid()}) in {time.monotonic() - started:.1f}s",
            event_specific_data=EngineEventData.in_process(os.getpid(), steps),
        )

    def _iterate(
        self, job_context: PlanExecutionContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        running: dict[str, threading.Thread] = {}
        stopping = False
        with ExitStack() as stack:
            concurrency = stack.enter_context(
                InstanceConcurrencyContext(job_context.instance, job_context.dagster_run)
            )
            active = stack.enter_context(
                _OrderedExecution(
                    execution_plan,
                    hidden_dependencies(job_context, execution_plan),
                    retry_mode=job_context.retry_mode,
                    max_concurrent=self.max_concurrent,
                    tag_concurrency_limits=self.tag_concurrency_limits,
                    instance_concurrency_context=concurrency,
                    step_dependency_config=job_context.step_dependency_config,
                )
            )
            yield from _capture_logs(job_context, execution_plan, stack)
            try:
                while (not stopping and not active.is_complete) or running:
                    if not stopping and active.check_for_interrupts():
                        stopping = True
                        yield DagsterEvent.engine_event(
                            job_context,
                            "Threaded executor: termination requested, cancelling the "
                            f"warehouse jobs of {len(running)} running step(s)",
                            EngineEventData.interrupted(list(running)),
                        )
                        active.mark_interrupted()
                        interrupt_all()
                    if not stopping:
                        for step in active.get_steps_to_execute(
                            limit=self.max_concurrent - len(running)
                        ):
                            step_context = job_context.for_step(step, active.get_known_state())
                            thread = threading.Thread(
                                target=_run_step,
                                args=(step_context, step.key, events),
                                name=f"sqlassets-step-{step.key}",
                                daemon=True,
                            )
                            running[step.key] = thread
                            thread.start()
                        yield from active.concurrency_event_iterator(job_context)
                    yield from self._drain(events, running, active, job_context, self.fail_fast)
                    yield from active.plan_events_iterator(job_context)
                    if not running and not stopping and not active.is_complete:
                        active.sleep_til_ready()  # retries or pool slots pending
            except BaseException:
                # Ctrl-C raised straight into this thread, or an error of ours: never leave
                # warehouse jobs running behind a dead run.
                if running:
                    interrupt_all()
                    _wait_for(running)
                    resume_all()
                raise
            if stopping:
                resume_all()
                raise DagsterExecutionInterruptedError()

    def _drain(
        self,
        events: queue.Queue[tuple[str, Any]],
        running: dict[str, threading.Thread],
        active: _OrderedExecution,
        job_context: PlanExecutionContext,
        fail_fast: bool = False,
    ) -> Iterator[DagsterEvent]:
        """Hand on what the step threads reported; wait a little for it if nothing is there."""
        if not running:
            return
        try:
            item = events.get(timeout=_POLL_S)
        except queue.Empty:
            return
        while True:
            key, payload = item
            if payload is _DONE:
                del running[key]
                active.verify_complete(job_context, key)
            elif isinstance(payload, BaseException):
                raise payload
            else:
                yield payload
                active.handle_event(payload)
                if fail_fast and payload.is_step_failure:
                    active.halt()
            try:
                item = events.get_nowait()
            except queue.Empty:
                return


def _run_step(step_context: StepExecutionContext, key: str, events: queue.Queue[Any]) -> None:
    """A step's thread: its events (and its hooks') go to the orchestrating thread."""
    try:
        produced = []
        for event in dagster_event_sequence_for_step(step_context):
            produced.append(event)
            events.put((key, event))
        for event in _trigger_hook(step_context, produced):
            events.put((key, event))
    except BaseException as error:  # handed to the orchestrating thread
        events.put((key, error))
    finally:
        events.put((key, _DONE))


def _wait_for(running: Mapping[str, threading.Thread]) -> None:
    """Give running steps up to ``_DRAIN_S`` to return, even through repeated Ctrl-C."""
    deadline = time.monotonic() + _DRAIN_S
    for thread in list(running.values()):
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                thread.join(timeout=_POLL_S)
            except BaseException:  # a second Ctrl-C: keep waiting, bounded
                continue


def _capture_logs(
    job_context: PlanExecutionContext, execution_plan: ExecutionPlan, stack: ExitStack
) -> Iterator[DagsterEvent]:
    """Capture the process's logs for the run, as Dagster's in-process executor does."""
    manager = job_context.instance.compute_log_manager
    keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    log_key = manager.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())  # type: ignore[no-untyped-call]
    try:
        log_context = stack.enter_context(manager.capture_logs(log_key))
        yield DagsterEvent.capture_logs(job_context, keys, log_key, log_context)
    except Exception:  # log capture is best effort, as in Dagster
        from dagster._utils.error import serializable_error_info_from_exc_info

        yield DagsterEvent.engine_event(
            job_context,
            "Exception while setting up compute log capture",
            event_specific_data=EngineEventData(
                error=serializable_error_info_from_exc_info(sys.exc_info())
            ),
        )


def hidden_dependencies(
    job_context: PlanExecutionContext, execution_plan: ExecutionPlan
) -> dict[str, set[str]]:
    """For each step, the steps producing its nearest upstream assets through unselected ones.

    Walks the whole asset graph (not only the run's), from each step's assets
    up through assets no step of this run produces, and stops at the first
    asset a step produces: that step must succeed first.
    """
    layer = job_context.job_def.asset_layer
    graph = layer.asset_graph
    full = getattr(graph, "source_asset_graph", graph)
    producer: dict[dg.AssetKey, str] = {}
    outputs: dict[str, set[dg.AssetKey]] = {}
    for step in execution_plan.get_steps_to_execute_in_topo_order():
        for output in step.step_outputs:
            key = output.properties.asset_key if output.properties else None
            if key is not None:
                producer[key] = step.key
                outputs.setdefault(step.key, set()).add(key)
    above: dict[dg.AssetKey, set[str]] = {}

    def producers_above(key: dg.AssetKey) -> set[str]:
        if key in above:
            return above[key]
        above[key] = set()  # a cycle cannot happen in an asset graph; this only guards
        found: set[str] = set()
        if full.has(key):
            for parent in full.get(key).parent_keys:
                if parent in producer:
                    found.add(producer[parent])
                else:
                    found |= producers_above(parent)
        above[key] = found
        return found

    return {
        step_key: set().union(*(producers_above(key) for key in keys)) - {step_key}
        for step_key, keys in outputs.items()
    }


def _config(default_max: int) -> Field:
    return Field(
        {
            "max_concurrent": Field(
                Int,
                default_value=default_max,
                is_required=False,
                description="Steps running at once (each waits on its warehouse jobs).",
            ),
            "tag_concurrency_limits": Field(
                [dict],
                is_required=False,
                description="Limits by op tag within a run (as the multiprocess executor's).",
            ),
            "retries": get_retries_config(),  # type: ignore[no-untyped-call]
            "step_dependency_config": get_step_dependency_config_field(),  # type: ignore[no-untyped-call]
            "fail_fast": Field(
                Bool,
                default_value=False,
                is_required=False,
                description="After a step fails, start no other; the running ones finish.",
            ),
        },
        description="Execute a run's steps in threads of one process.",
    )


def make_threaded_executor(max_concurrent: int = DEFAULT_MAX_CONCURRENT) -> dg.ExecutorDefinition:
    """The threaded executor, running up to ``max_concurrent`` steps at once unless run config says.

    Definitions built by sqlassets use it with the target's ``max_concurrent_jobs``
    (one at a time for an embedded engine: one writer). Run config can still
    set ``execution: {config: {max_concurrent: N}}`` in the launchpad.
    """

    @dg.executor(name="sqlassets_threads", config_schema=_config(max_concurrent))
    def threaded(init_context: InitExecutorContext) -> ThreadedExecutor:
        config = init_context.executor_config
        return ThreadedExecutor(
            retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
            max_concurrent=int(config["max_concurrent"]),  # type: ignore[call-overload]
            tag_concurrency_limits=config.get("tag_concurrency_limits"),  # type: ignore[arg-type]
            step_dependency_config=StepDependencyConfig.from_config(
                config.get("step_dependency_config")  # type: ignore[arg-type]
            ),
            fail_fast=bool(config.get("fail_fast", False)),
        )

    return threaded


threaded_executor = make_threaded_executor()
"""Runs a job's steps in threads of one process, up to ``max_concurrent`` (default 8) at once.

Use it in any ``Definitions`` (``executor=threaded_executor``), or
``make_threaded_executor(32)``. Each step starts as soon as every selected
ancestor succeeded, also one reached through assets the run does not
materialize; Dagster concurrency pools and ``tag_concurrency_limits`` hold as
in Dagster's own executors; termination cancels every in-flight sqlassets
warehouse job.
"""


def materialize_in_threads(
    assets: Sequence[Any],
    selection: Sequence[dg.AssetKey],
    *,
    resources: dict[str, Any],
    executor: dg.ExecutorDefinition | None = None,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
) -> ExecuteInProcessResult:
    """``dagster.materialize`` of ``selection``, through ``executor`` (default: the threaded one).

    ``materialize`` (``execute_in_process``) always swaps in Dagster's
    in-process executor, which runs one step at a time; this builds the same
    run and executes it with ``executor``, in this process. Used by
    ``sqlassets run``; handy in tests.
    """
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.execute_in_process import core_execute_in_process, merge_run_tags

    name = "__sqlassets_run"
    definitions = dg.Definitions(
        jobs=[
            dg.define_asset_job(
                name, selection=list(selection), executor_def=executor or threaded_executor
            )
        ],
        assets=assets,
        resources=resources,
    )
    job = definitions.resolve_job_def(name)
    run_tags = merge_run_tags(
        job_def=job,
        partition_key=partition_key,
        tags=tags,
        asset_selection=None,
        instance=instance,
        run_config=run_config,
    )
    return core_execute_in_process(
        job=InMemoryJob(job_def=job),
        run_config=run_config or {},
        instance=instance,
        output_capturing_enabled=False,
        raise_on_error=False,
        run_tags=run_tags,
    )

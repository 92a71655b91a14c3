"""``sqlassets run``: materialize selected models through Dagster, in process.

Assets with different partitions cannot share one Dagster run, so the
selection is cut into consecutive runs, each of assets with the same
partitions, in dependency order. A failed asset, or a failed blocking check,
skips everything downstream of it in later runs (within a run Dagster does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg

from sqlassets.dagster.definitions import FULL_REFRESH_TAG, definitions_for
from sqlassets.dagster.executor import materialize_in_threads
from sqlassets.dagster.resources import release_shared_engines
from sqlassets.dagster.translator import SqlAssetsTranslator, op_name
from sqlassets.errors import WindowError
from sqlassets.project import Project
from sqlassets.runner import OnEvent, Status, resolve_window
from sqlassets.spec import Backfill, StaticPartitions, TimePartitions

__all__ = ["Outcome", "Status", "plan_batches", "run_project"]


@dataclass
class Outcome:
    """What happened to one asset in a run."""

    name: str
    windows: list[str] = field(default_factory=list)
    """The window of each Dagster run the model took part in."""
    status: Status = Status.SKIPPED
    rows: int | None = None
    """Rows affected, as the warehouse counts them (a MERGE's inserts and deletes together)."""
    bytes: int | None = None
    """Bytes processed."""
    duration_s: float | None = None
    message: str = ""
    failed_checks: list[str] = field(default_factory=list)
    rows_inserted: int | None = None
    rows_deleted: int | None = None
    bytes_billed: int | None = None
    slot_ms: int | None = None
    job_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The outcome for tools (``run_results.json``): every figure, None where unknown."""
        return {
            "model": self.name,
            "status": self.status.value,
            "ok": self.ok,
            "window": self.window,
            "windows": list(self.windows),
            "job_ids": list(self.job_ids),
            "rows_inserted": self.rows_inserted,
            "rows_deleted": self.rows_deleted,
            "rows_affected": self.rows,
            "bytes_processed": self.bytes,
            "bytes_billed": self.bytes_billed,
            "slot_ms": self.slot_ms,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "failed_checks": list(self.failed_checks),
            "message": self.message,
        }

    @property
    def window(self) -> str:
        """The windows, short: ``a..b`` for one run, ``a..z (5 runs)`` for several."""
        if not self.windows:
            return "-"
        if len(self.windows) == 1:
            return self.windows[0]
        if not any(".." in window for window in self.windows):
            return ", ".join(self.windows)  # static keys, or single partitions
        first, last = self.windows[0].split("..")[0], self.windows[-1].split("..")[-1]
        return f"{first}..{last} ({len(self.windows)} runs)"

    @property
    def ok(self) -> bool:
        """Materialized with no blocking check failed."""
        return self.status.ok


@dataclass(frozen=True)
class _Batch:
    names: tuple[str, ...]
    partition_key: str | None = None
    key_range: tuple[str, str] | None = None
    label: str = "all"


def _group_key(project: Project, name: str) -> tuple[Any, ...]:
    spec = project.models[name].spec
    partitions: TimePartitions | StaticPartitions | None = spec.partitions
    backfill: Backfill = spec.backfill
    return (partitions, backfill.max_partitions if partitions is not None else None)


def plan_batches(project: Project, selected: set[str]) -> list[list[str]]:
    """Selected models in dependency order, cut where the partitions change.

    Order follows every selected ancestor, also one reached through models
    that are not selected (a mart reading a load through a view). Inside one
    Dagster run the threaded executor keeps that order (it waits for such
    ancestors too), so a run holds as many models as share its partitions.
    """
    graph = project.graph
    ancestors = {name: graph.ancestors(name) & selected for name in selected}
    remaining = {name: set(found) for name, found in ancestors.items()}
    groups: list[list[str]] = []
    current: tuple[Any, ...] | None = None
    while remaining:
        ready = sorted(name for name, parents in remaining.items() if not parents)
        if not ready:  # pragma: no cover - a valid project has no cycle
            raise RuntimeError("cycle among selected models")
        same = [name for name in ready if _group_key(project, name) == current]
        pick = same[0] if same else ready[0]
        key = _group_key(project, pick)
        if key != current or not groups:
            groups.append([])
            current = key
        groups[-1].append(pick)
        del remaining[pick]
        for parents in remaining.values():
            parents.discard(pick)
    return groups


def _batches(
    project: Project,
    names: list[str],
    partition: str | None,
    start: str | None,
    end: str | None,
    now: datetime | None,
) -> list[_Batch]:
    model = project.models[names[0]]
    spec = model.spec
    if spec.partitions is None:
        return [_Batch(tuple(names))]
    if spec.static_partitions is not None and partition is None:
        static = spec.static_partitions.keys
        return [_Batch(tuple(names), partition_key=key, label=key) for key in static]
    window = resolve_window(model, partition, start, end, now)
    keys = window.keys  # computed one at a time: only each chunk's ends are read
    size = spec.backfill.max_partitions or len(keys)
    batches = []
    for index in range(0, len(keys), size):
        first, last = keys[index], keys[min(index + size, len(keys)) - 1]
        if first == last:
            batches.append(_Batch(tuple(names), partition_key=first, label=first))
        else:
            batches.append(_Batch(tuple(names), key_range=(first, last), label=f"{first}..{last}"))
    return batches


def run_project(
    project: Project,
    selected: set[str],
    target: str | None = None,
    partition: str | None = None,
    start: str | None = None,
    end: str | None = None,
    on_event: OnEvent | None = None,
    now: datetime | None = None,
    resources: dict[str, Any] | None = None,
    full_refresh: bool = False,
    translator: SqlAssetsTranslator | None = None,
    fail_fast: bool = False,
    log_level: str = "CRITICAL",
) -> list[Outcome]:
    """Materialize ``selected`` models (and their checks); one outcome per model.

    ``on_event`` receives the runner's progress events as they happen;
    ``resources`` replace the default ones (for example your own ``bigquery``);
    ``translator`` shapes the assets as in :func:`build_definitions`.
    ``fail_fast``: after the first failed model (or blocking check) no other
    model starts; those already running finish. ``log_level`` is Dagster's
    console logger's (the default keeps Dagster's own lines out).
    """
    translator = translator or SqlAssetsTranslator(engine=project.config.target(target).engine)
    defs = definitions_for(project, target, translator, resources, on_event)
    assets = list(defs.assets or [])
    resources = dict(defs.resources or {})
    executor = defs.executor
    assert isinstance(executor, dg.ExecutorDefinition)
    outcomes = {name: Outcome(name) for name in selected}
    blocked: set[str] = set()
    failed_first: list[str] = []  # the first model that failed, for --fail-fast
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    keys = {name: translator.get_asset_key(project.models[name]) for name in selected}
    names_by_key = {key: name for name, key in keys.items()}
    try:
        with instance or _ephemeral_instance() as active:
            for group in plan_batches(project, selected):
                if fail_fast and failed_first:
                    for name in group:
                        outcomes[name].message = f"not started: --fail-fast after {failed_first[0]}"
                    continue
                runnable = [name for name in group if not (project.graph.ancestors(name) & blocked)]
                for name in set(group) - set(runnable):
                    outcomes[name].message = "an upstream model or blocking check failed"
                    blocked.add(name)
                if not runnable:
                    continue
                try:
                    batches = _batches(project, runnable, partition, start, end, now)
                except WindowError as error:
                    for name in runnable:
                        outcomes[name].status = Status.FAILED
                        outcomes[name].message = error.message
                        blocked.add(name)
                    failed_first += runnable[:1] if not failed_first else []
                    continue
                for batch in batches:
                    if fail_fast and failed_first:
                        break
                    _run_batch(
                        batch,
                        assets,
                        resources,
                        active,
                        keys,
                        names_by_key,
                        outcomes,
                        executor,
                        _Options(full_refresh, fail_fast, log_level),
                    )
                    failures = [n for n in batch.names if outcomes[n].status.failed]
                    failed_first += failures[:1] if not failed_first else []
                    blocked |= {name for name in batch.names if not outcomes[name].ok}
                if fail_fast and failed_first:
                    failed = {name for name in runnable if outcomes[name].status.failed}
                    for name in runnable:
                        upstream_failed = project.graph.ancestors(name) & failed
                        if outcomes[name].status is Status.SKIPPED and not upstream_failed:
                            outcomes[
                                name
                            ].message = f"not started: --fail-fast after {failed_first[0]}"
    finally:
        release_shared_engines()
    return [outcomes[name] for name in project.graph.order if name in outcomes]


def _ephemeral_instance() -> dg.DagsterInstance:
    """Dagster's ephemeral instance, with an event log that keeps only run-level events.

    Nothing reads a step's events back from an ephemeral instance: the run's
    outcome comes from the events the execution yields, and the instance is
    gone with the command. Storing them is most of Dagster's work per step
    (~30 ms each in the in-memory SQLite log, plus data-version lookups that
    query it), and a range run stores a planned event and a materialization
    per partition (17,544 of each for a 2-year hourly window). With
    ``$DAGSTER_HOME`` set, the real instance keeps everything.
    Built as ``dagster._core.instance.factory.create_ephemeral_instance`` does.
    """
    from dagster._core.instance import InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage

    return dg.DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),  # type: ignore[no-untyped-call]
        run_storage=InMemoryRunStorage(),
        event_storage=_run_events_log_class()(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )


def _run_events_log_class() -> type[Any]:
    from dagster._core.storage.event_log import InMemoryEventLogStorage

    class RunEventsLog(InMemoryEventLogStorage):
        # One planned event for a whole partition range instead of one per partition.
        supports_partition_subset_in_asset_materialization_planned_events = True

        def store_event(self, event: Any) -> None:
            dagster_event = event.dagster_event
            if dagster_event is not None and not dagster_event.is_job_event:
                return  # a step's or an asset's event: nothing reads it back
            super().store_event(event)  # type: ignore[no-untyped-call]

        # What steps ask of the log (data versions of their inputs): no asset event is kept,
        # so the answer is known without a query.
        def get_asset_records(self, asset_keys: Any = None) -> list[Any]:
            return []

        def fetch_observations(
            self,
            records_filter: Any,
            limit: int,
            cursor: str | None = None,
            ascending: bool = False,
        ) -> Any:
            from dagster._core.event_api import EventRecordsResult

            return EventRecordsResult(records=[], cursor=cursor or "", has_more=False)

    return RunEventsLog


@dataclass(frozen=True)
class _Options:
    full_refresh: bool = False
    fail_fast: bool = False
    log_level: str = "CRITICAL"


def _run_batch(
    batch: _Batch,
    assets: Sequence[Any],
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    keys: dict[str, dg.AssetKey],
    names_by_key: dict[dg.AssetKey, str],
    outcomes: dict[str, Outcome],
    executor: dg.ExecutorDefinition,
    options: _Options,
) -> None:
    tags = {FULL_REFRESH_TAG: "true"} if options.full_refresh else {}
    if batch.key_range is not None:
        tags["dagster/asset_partition_range_start"] = batch.key_range[0]
        tags["dagster/asset_partition_range_end"] = batch.key_range[1]
    result = materialize_in_threads(
        assets,
        [keys[name] for name in batch.names],
        resources=resources,
        executor=executor,
        instance=instance,
        partition_key=batch.partition_key,
        tags=tags,
        # Progress comes from sqlassets; Dagster's own console lines only when asked for.
        run_config={
            "loggers": {"console": {"config": {"log_level": options.log_level}}},
            **({"execution": {"config": {"fail_fast": True}}} if options.fail_fast else {}),
        },
    )
    for selected in batch.names:
        outcome = outcomes[selected]
        outcome.windows.append(batch.label)
        if outcome.status is Status.SKIPPED:
            outcome.message = outcome.message or "not run (an upstream step failed)"
    by_step = {op_name(keys[name]): name for name in batch.names}
    for event in result.all_events:
        output = event.step_output_data if event.is_successful_output else None
        name = by_step.get(event.step_key or "")
        if output is None or name is None:
            continue
        # One output per asset step: its metadata is the materialization's, once per run.
        metadata = output.metadata
        outcome = outcomes[name]
        if outcome.status is not Status.FAILED:
            outcome.status = Status.MATERIALIZED
        outcome.message = ""
        # Several runs (chunks, static keys) add up.
        outcome.rows = _add(outcome.rows, _value(metadata.get("sqlassets/rows_affected")))
        outcome.rows_inserted = _add(
            outcome.rows_inserted, _value(metadata.get("sqlassets/rows_inserted"))
        )
        outcome.rows_deleted = _add(
            outcome.rows_deleted, _value(metadata.get("sqlassets/rows_deleted"))
        )
        outcome.bytes = _add(outcome.bytes, _value(metadata.get("sqlassets/bytes_processed")))
        outcome.bytes_billed = _add(
            outcome.bytes_billed, _value(metadata.get("sqlassets/bytes_billed"))
        )
        outcome.slot_ms = _add(outcome.slot_ms, _value(metadata.get("sqlassets/slot_ms")))
        outcome.job_ids += [str(job) for job in _value(metadata.get("sqlassets/job_ids")) or []]
        duration = _value(metadata.get("sqlassets/duration_s"))
        outcome.duration_s = (outcome.duration_s or 0.0) + float(duration or 0.0)
    for evaluation in result.get_asset_check_evaluations():
        checked = names_by_key.get(evaluation.asset_key)
        if checked is None or evaluation.passed:
            continue
        outcome = outcomes[checked]
        outcome.failed_checks.append(evaluation.check_name)
        if evaluation.severity == dg.AssetCheckSeverity.ERROR:
            outcome.status = Status.CHECK_FAILED
        elif outcome.status is Status.MATERIALIZED:
            outcome.status = Status.WARNED
    for failure in result.get_step_failure_events():
        for name in batch.names:
            if failure.step_key and failure.step_key.startswith(op_name(keys[name])):
                outcome = outcomes[name]
                if outcome.status is Status.CHECK_FAILED:
                    continue  # Dagster fails the step after a blocking check fails
                outcome.status = Status.FAILED
                data = failure.step_failure_data
                user = data.user_failure_data
                failed_jobs = _value(user.metadata.get("sqlassets/job_ids")) if user else None
                outcome.job_ids += [str(job) for job in failed_jobs or []]
                outcome.message = (
                    data.user_failure_data.description
                    if data.user_failure_data and data.user_failure_data.description
                    else data.error.message.strip().splitlines()[0]
                    if data.error
                    else "failed"
                )


def _add(total: int | None, value: Any) -> int | None:
    if value is None:
        return total
    return (total or 0) + int(value)


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)

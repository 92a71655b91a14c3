"""Running a model: its jobs in order, then its checks, with progress reported as it goes.

The Dagster assets and any other caller run models through here; progress
reaches the caller through the ``on_event`` callback it passes in.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlglot import expressions as exp

from sqlassets.engines.base import ConstructError, Engine, JobContext, JobResult
from sqlassets.errors import EngineError
from sqlassets.job import Job
from sqlassets.loader import Model, token_location, tokens
from sqlassets.project import Project
from sqlassets.schemas import KnownSchemas
from sqlassets.spec import CheckSpec, ModelSpec
from sqlassets.strategies import (
    appends,
    checks_query,
    drop_table,
    partition_windows,
    staged_append,
    staged_overwrite,
    staging_table,
)
from sqlassets.window import Window

from .plan import piece_jobs, split_window
from .schema import loaded_columns


class Status(enum.StrEnum):
    """What happened to a model in a run."""

    MATERIALIZED = "materialized"
    WARNED = "warned"
    """Materialized; a non-blocking check failed."""
    CHECK_FAILED = "check failed"
    """Materialized; a blocking check failed, so nothing downstream runs."""
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def ok(self) -> bool:
        """Materialized with no blocking check failed."""
        return self in (Status.MATERIALIZED, Status.WARNED)

    @property
    def failed(self) -> bool:
        """A job or a blocking check failed (the table may be written: see CHECK_FAILED)."""
        return self in (Status.FAILED, Status.CHECK_FAILED)


@dataclass(frozen=True)
class ModelStarted:
    """A model's first job is about to be sent."""

    model: str


@dataclass(frozen=True)
class ModelFailed:
    """A job of the model failed; nothing more of it runs."""

    model: str
    error: str


@dataclass(frozen=True)
class CheckEvaluated:
    """A check of the model ran over every window of the run."""

    model: str
    check: str
    passed: bool
    blocking: bool


@dataclass(frozen=True)
class ModelMaterialized:
    """Every job of the model succeeded (its checks are reported before)."""

    model: str
    window: str
    rows: int | None
    bytes: int | None
    duration_s: float
    rows_inserted: int | None = None
    rows_deleted: int | None = None


Event = ModelStarted | ModelFailed | CheckEvaluated | ModelMaterialized
OnEvent = Callable[[Event], None]
"""Receives progress as it happens (``sqlassets run`` prints it)."""


def run_model(
    project: Project,
    model: Model,
    engine: Engine,
    window: Window,
    context: JobContext,
    full_refresh: bool = False,
) -> list[JobResult]:
    """Materialize ``model`` over ``window``: each job in order, each atomic.

    A window longer than one job may modify is written piece by piece.
    """
    results: list[JobResult] = []
    pieces = split_window(model.spec, window, engine)
    try:
        for piece, jobs in piece_jobs(project, model, engine, pieces, full_refresh, True):
            piece_context = context if piece == window else replace(context, window=piece.label())
            results += _execute(engine, model.spec, jobs, piece, piece_context)
    except ConstructError as error:
        raise located(error, model) from None
    return results


def located(error: EngineError, model: Model) -> EngineError:
    """``error``, when it refuses a construct, with the place in ``model``'s file it starts.

    Its message becomes ``path:line:col: CODE message``; unchanged for any
    other error, or when the construct is not in the model's own body (a
    check, a header value).
    """
    if not isinstance(error, ConstructError) or error.location is not None:
        return error
    stream = tokens(model.sql)
    texts = [token.text.upper() for token in stream]
    size = len(error.marker)
    for index in range(len(stream) - size + 1):
        if tuple(texts[index : index + size]) == error.marker:
            error.location = token_location(stream[index], model.path, model.body_line)
            error.message = f"{error.location}: {error.code} {error.message}"
            break
    return error


def _execute(
    engine: Engine, spec: ModelSpec, jobs: Sequence[Job], window: Window, context: JobContext
) -> list[JobResult]:
    """Run ``jobs`` in order; the staging tables they use are dropped after, also on failure.

    The staged write is rebuilt once the files are loaded: it inserts by the
    staging tables' column names, which only the load reveals.
    """
    stagings = {job.staging.name: job.staging for job in jobs if job.staging is not None}
    if not stagings:
        return [engine.execute(job, context) for job in jobs]
    target = engine.naming.table(spec.name)
    drop_context = replace(context, step="drop-staging")
    results: list[JobResult] = []
    try:
        for job in jobs:
            results.append(engine.execute(_staged(engine, spec, target, job, window), context))
    except BaseException:
        for staging in stagings.values():
            with contextlib.suppress(Exception):  # the first failure is the one to report
                engine.execute(drop_table(staging), drop_context)
        raise
    for staging in stagings.values():
        engine.execute(drop_table(staging), drop_context)
    return results


def _staged(engine: Engine, spec: ModelSpec, target: exp.Table, job: Job, window: Window) -> Job:
    """``job`` rebuilt with the loaded staging tables' columns when it writes from them."""
    if job.staging is None or job.action == "stage":
        return job
    if job.action == "overwrite":
        columns = loaded_columns(engine, spec, target, job.staging)
        return staged_overwrite(spec, target, job.staging, window, columns)
    if not appends(spec) or job.action not in ("append", "rebuild"):
        return job
    rebuild = job.action == "rebuild"
    staged: dict[str, list[str]] = {}
    for part in partition_windows(spec, window):
        staging = staging_table(spec, target, part)
        if rebuild:
            # A full refresh takes the files' columns as they are now.
            staged[staging.name] = [name for name, _ in engine.table_columns(staging) or []]
        else:
            staged[staging.name] = loaded_columns(engine, spec, target, staging)
    return staged_append(spec, target, window, staged, rebuild)


@dataclass(frozen=True)
class CheckOutcome:
    """One check's single row over one window, and whether it holds."""

    check: CheckSpec
    passed: bool
    row: Mapping[str, Any]
    """The query's row, or ``{"error": message}`` when the query failed."""


def run_checks(
    model: Model, engine: Engine, table: exp.Table, window: Window, context: JobContext
) -> list[CheckOutcome]:
    """Run every check of ``model`` on ``table`` over ``window``, as one query.

    A failed query fails every check, each with the error as its row.
    """
    query = checks_query(model.spec, table, window)
    if query is None:
        return []
    try:
        row = engine.fetch_row(query.query, query.parameters, replace(context, step="checks"))
    except EngineError as error:
        return [CheckOutcome(check, False, {"error": error.message}) for check in query.checks]
    return [
        CheckOutcome(check, query.passed(check, own), own)
        for check, own in zip(query.checks, query.rows(row), strict=True)
    ]


@dataclass(frozen=True)
class Summary:
    """What a model's jobs report together."""

    rows: int | None
    """Rows the last job that counts rows affected."""
    bytes: int | None
    duration_s: float
    rows_inserted: int | None = None
    """Rows every job inserted, where the warehouse tells (None: not known)."""
    rows_deleted: int | None = None
    """Rows every job deleted, where the warehouse tells (None: not known)."""

    @classmethod
    def of(cls, results: Sequence[JobResult]) -> Summary:
        """The summary of ``results``."""
        rows = [result.rows_affected for result in results if result.rows_affected is not None]
        processed = [r.bytes_processed for r in results if r.bytes_processed is not None]
        inserted = [r.rows_inserted for r in results if r.rows_inserted is not None]
        deleted = [r.rows_deleted for r in results if r.rows_deleted is not None]
        # A job that changed rows without telling inserts from deletes (a MERGE on
        # DuckDB) leaves the model's split unknown: a sum of the others would understate it.
        untold = any(
            r.rows_affected and r.rows_inserted is None and r.rows_deleted is None for r in results
        )
        return cls(
            rows=rows[-1] if rows else None,
            bytes=sum(processed) if processed else None,
            duration_s=sum(result.duration_s for result in results),
            rows_inserted=sum(inserted) if inserted and not untold else None,
            rows_deleted=sum(deleted) if deleted and not untold else None,
        )


@dataclass(frozen=True)
class CheckVerdict:
    """A check over every window of a run: it passes when it held in each."""

    check: CheckSpec
    passed: bool
    row: Mapping[str, Any]
    """The row of the last window."""


@dataclass(frozen=True)
class ModelRun:
    """A model materialized over the windows of a run, and its checks."""

    results: list[JobResult]
    checks: list[CheckVerdict]
    columns: list[tuple[str, str]] | None
    """The table's columns after the run."""
    duration_s: float
    windows: Sequence[Window]

    @property
    def window(self) -> str:
        """The windows' labels."""
        return ", ".join(window.label() for window in self.windows)


def materialize(
    project: Project,
    model: Model,
    engine: Engine,
    windows: Sequence[Window],
    run_id: str,
    full_refresh: bool = False,
    on_event: OnEvent | None = None,
) -> ModelRun:
    """Run ``model`` over each window, then its checks; report progress to ``on_event``.

    An engine error is reported and raised; any other interruption cancels the
    engine's running jobs first.
    """
    emit = on_event or _ignore
    spec = model.spec
    table = engine.naming.table(spec.name)
    results: list[JobResult] = []
    outcomes: dict[str, list[CheckOutcome]] = {check.name: [] for check in spec.checks}
    started = time.monotonic()
    emit(ModelStarted(model.name))
    for window in windows:
        context = JobContext(
            asset=model.name,
            run_id=run_id,
            window=window.label(),
            labels=dict(spec.labels),
            maximum_bytes_billed=spec.maximum_bytes_billed,
        )
        try:
            results += run_model(project, model, engine, window, context, full_refresh)
        except EngineError as error:
            emit(ModelFailed(model.name, error.message))
            raise
        except BaseException:
            engine.cancel_all()
            raise
        for outcome in run_checks(model, engine, table, window, context):
            outcomes[outcome.check.name].append(outcome)
    columns = engine.table_columns(table)
    if columns:
        KnownSchemas.for_project(project.config, engine.name).put(model.name, columns)
    duration = time.monotonic() - started
    verdicts = []
    for check in spec.checks:
        found = outcomes[check.name]
        verdict = CheckVerdict(
            check, all(outcome.passed for outcome in found), found[-1].row if found else {}
        )
        verdicts.append(verdict)
        emit(CheckEvaluated(model.name, check.name, verdict.passed, check.blocking))
    run = ModelRun(results, verdicts, columns, duration, windows)
    summary = Summary.of(results)
    emit(
        ModelMaterialized(
            model.name,
            run.window,
            summary.rows,
            summary.bytes,
            summary.duration_s,
            summary.rows_inserted,
            summary.rows_deleted,
        )
    )
    return run


def _ignore(event: Event) -> None:
    pass

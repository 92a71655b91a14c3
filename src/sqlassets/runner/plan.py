"""From a loaded model, an engine and a window to the jobs the engine sends.

Shared by ``sqlassets compile``/``plan``/``run`` and the Dagster assets: one
place decides physical names, the window, how a long window is split, and the
columns a merge needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlglot import expressions as exp

from sqlassets.engines.base import DryRunResult, Engine
from sqlassets.errors import EngineError, WindowError
from sqlassets.job import Job, Naming
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.spec import (
    Cadence,
    Granularity,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    MergeMaterialization,
    ModelSpec,
)
from sqlassets.strategies import parse_body, plan_jobs, rewrite_references, self_reads
from sqlassets.window import (
    Window,
    key_window,
    latest_window,
    parse_key,
    parse_moment,
    step,
    time_window,
)

from .schema import first_run_query, refresh_jobs, schema_jobs


def physical_tables(project: Project, naming: Naming) -> dict[str, exp.Table]:
    """Every model's physical table under ``naming`` (a target's), by model name."""
    return {name: naming.table(model.spec.name) for name, model in project.models.items()}


def resolve_window(
    model: Model,
    partition: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    now: datetime | None = None,
) -> Window:
    """The window a run of ``model`` covers, validated against its partitions.

    Unpartitioned models ignore a window (they run whole); partitioned ones
    without one run their latest complete partition. A time partition exists
    once it has ended (at ``now``, UTC), as in Dagster's partitions: a window
    reaching past the last complete one is refused.
    """
    spec = model.spec
    if spec.partitions is None:
        return Window()
    time_partitions = spec.time_partitions
    if partition is not None:
        if time_partitions is not None:
            first = parse_key(time_partitions, partition)
            if step(time_partitions.cadence, first) > _now(now):
                raise WindowError(
                    f"partition {partition} of {spec.name.name} has not ended yet "
                    f"(now {_now(now):%Y-%m-%d %H:%M} UTC); {_last_complete(spec, now)}"
                )
        return key_window(spec, partition)
    if (start is None) != (end is None):
        raise WindowError("give both --start and --end, or neither")
    if start is not None and end is not None:
        if time_partitions is None:
            raise WindowError(
                f"{spec.name.name} has static partitions: choose one with --partition"
            )
        low = start if isinstance(start, datetime) else parse_moment(start)
        high = end if isinstance(end, datetime) else parse_moment(end)
        if low < high and high > _now(now):
            raise WindowError(
                f"the window ends at {high:%Y-%m-%d %H:%M}, after now "
                f"({_now(now):%Y-%m-%d %H:%M} UTC): partitions of {spec.name.name} exist once "
                f"they have ended; {_last_complete(spec, now)}"
            )
        return time_window(spec, low, high)
    return latest_window(spec, now)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC).replace(tzinfo=None)


def _last_complete(spec: ModelSpec, now: datetime | None) -> str:
    """Which partition of ``spec`` is the last complete one, for an error message."""
    try:
        return f"the last complete one is {latest_window(spec, now).label()}"
    except WindowError:
        return "none is complete yet"


def model_jobs(
    project: Project,
    model: Model,
    engine: Engine,
    window: Window,
    full_refresh: bool = False,
    check_schema: bool = False,
) -> list[Job]:
    """The jobs that materialize ``model`` over ``window`` on ``engine``.

    With ``check_schema`` (runs, not ``compile``), an existing incremental
    table is compared first (see :mod:`sqlassets.runner.schema`).
    """
    # Only the tables this model reads need their physical names.
    names = {model.name} | {read.ref.name for read in model.reads}
    tables = {
        name: engine.naming.table(project.models[name].spec.name)
        for name in names
        if name in project.models
    }
    target = tables[model.name]
    spec = model.spec
    if isinstance(spec.materialization, LoadMaterialization):
        return plan_jobs(spec, target, window, full_refresh=full_refresh)
    preamble, query = parse_body(model.sql)
    query = rewrite_references(query, tables)
    columns = model.analysis.output_columns if model.analysis else None
    incremental = isinstance(
        spec.materialization, MergeMaterialization | InsertOverwriteMaterialization
    )
    jobs: list[Job] = []
    exists = False
    if incremental and check_schema and not full_refresh:
        prepare, exists = schema_jobs(spec, engine, target, query, window, preamble)
        jobs += prepare
    if incremental and check_schema and full_refresh:
        jobs += refresh_jobs(engine, target, spec)
    probed = query
    if incremental and check_schema and not exists and self_reads(query, target):
        # The query reads the table it fills, which does not exist yet.
        probed = first_run_query(engine, target, query, window, preamble, columns)
    if incremental and not columns:
        # `SELECT *`: ask the warehouse for the query's columns (a dry run, no data).
        parameters = list(window.parameters().values())
        columns = tuple(engine.query_columns(probed, parameters, preamble))
    planned = plan_jobs(spec, target, window, query, columns, preamble, full_refresh)
    if probed is not query:
        # Created from the query's schema, never reading the missing table.
        create = plan_jobs(spec, target, window, probed, columns, preamble, full_refresh)[0]
        planned = [create if job.action == "create" else job for job in planned]
    return jobs + [job for job in planned if not (exists and job.action == "create")]


_GRANULARITY_STEP = {
    Granularity.HOUR: Cadence.HOURLY,
    Granularity.DAY: Cadence.DAILY,
    Granularity.MONTH: Cadence.MONTHLY,
}


def table_partitions(spec: ModelSpec, start: datetime, end: datetime) -> int:
    """How many partitions of the table ``[start, end)`` touches."""
    if spec.partition_by is None:
        return 0
    granularity = spec.partition_by.granularity
    if granularity is Granularity.YEAR:
        return max(1, end.year - start.year + (1 if (end.month, end.day) > (1, 1) else 0))
    cadence = _GRANULARITY_STEP[granularity]
    count, moment = 0, start
    while moment < end:
        count += 1
        moment = step(cadence, moment)
    return count


def split_window(spec: ModelSpec, window: Window, engine: Engine) -> list[Window]:
    """``window`` cut so no job modifies more partitions than the engine allows.

    Only insert_overwrite and partitioned loads replace a known set of
    partitions; each piece is still one atomic statement.
    """
    limit = engine.capabilities.max_partitions_per_job
    replaces = isinstance(
        spec.materialization, InsertOverwriteMaterialization | LoadMaterialization
    )
    partitions = spec.time_partitions
    if limit is None or not replaces or partitions is None or window.start is None:
        return [window]
    assert window.end is not None
    if table_partitions(spec, window.start, window.end) <= limit:
        return [window]
    pieces: list[Window] = []
    start = window.start
    while start < window.end:
        end = step(partitions.cadence, start)
        while (
            end < window.end
            and table_partitions(spec, start, step(partitions.cadence, end)) <= limit
        ):
            end = step(partitions.cadence, end)
        pieces.append(time_window(spec, start, end))
        start = end
    return pieces


def piece_jobs(
    project: Project,
    model: Model,
    engine: Engine,
    pieces: list[Window],
    full_refresh: bool = False,
    check_schema: bool = False,
) -> Iterator[tuple[Window, list[Job]]]:
    """Each piece of a split window with its jobs, built when the piece comes up.

    Only the first piece prepares the table (schema check, refresh, ``create``,
    ``alter``): the later ones write into it.
    """
    for index, piece in enumerate(pieces):
        first = index == 0
        jobs = model_jobs(
            project, model, engine, piece, full_refresh and first, check_schema and first
        )
        if not first:
            jobs = [job for job in jobs if job.action not in ("create", "alter")]
        yield piece, jobs


@dataclass(frozen=True)
class PlannedStatement:
    """One dry-run statement of ``sqlassets plan``, or the error that stopped its model."""

    model: str
    window: str
    action: str
    result: DryRunResult | None = None
    error: str | None = None


@dataclass
class DryRun:
    """What every model's jobs would do over a window, without running any."""

    statements: list[PlannedStatement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Warnings, e.g. a window split into several jobs."""
    failed: int = 0
    """Models that could not be planned."""

    @property
    def bytes_processed(self) -> int:
        """Bytes all statements would process (engines that report them)."""
        return sum(
            statement.result.bytes_processed
            for statement in self.statements
            if statement.result is not None and statement.result.bytes_processed is not None
        )


def dry_run(
    project: Project,
    engine: Engine,
    partition: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> DryRun:
    """Dry-run every model's jobs in run order (``sqlassets plan``); nothing is written."""
    report = DryRun()
    for name in project.graph.order:
        model = project.models[name]
        try:
            window = resolve_window(model, partition if model.spec.partitions else None, start, end)
            pieces = split_window(model.spec, window, engine)
            if len(pieces) > 1:
                limit = engine.capabilities.max_partitions_per_job
                report.notes.append(
                    f"{name}: the window touches more than {limit} partitions, the most one job "
                    f"may modify: it runs as {len(pieces)} jobs, each atomic, not one"
                )
            for piece, jobs in piece_jobs(project, model, engine, pieces):
                for job in jobs:
                    report.statements += [
                        PlannedStatement(name, piece.label(), job.action, result)
                        for result in engine.dry_run(job)
                    ]
        except (WindowError, EngineError) as error:
            report.failed += 1
            report.statements.append(PlannedStatement(name, "-", "error", error=error.message))
    return report


def render_jobs(engine: Engine, jobs: list[Job]) -> str:
    """The jobs as the engine sends them, one commented block each (``sqlassets compile``)."""
    blocks = []
    for index, job in enumerate(jobs, start=1):
        lines = [f"-- job {index}/{len(jobs)}: {job.action}"]
        if engine.capabilities.query_parameters:
            lines += [
                f"-- @{parameter.name} {parameter.type} = {parameter.value}"
                for parameter in job.parameters
            ]
        lines.append(engine.render(job) + ";")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"

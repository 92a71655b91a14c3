"""From a loaded model, an engine and a window to the jobs the engine sends.

Shared by ``sqlassets compile``/``plan``/``run`` and the Dagster assets: one
place decides physical names, the window, how a long window is split, and the
columns a merge needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlglot import expressions as exp

from sqlassets.codes import Code
from sqlassets.engines.base import DryRunResult, Engine
from sqlassets.errors import EngineError, Location, StrategyError, WindowError
from sqlassets.job import Job, Naming
from sqlassets.loader import Model, first_parameter_uses
from sqlassets.parameters import PARAMETERS
from sqlassets.project import Project
from sqlassets.spec import (
    LOADED_PARTITION,
    TARGET_ALIAS,
    Cadence,
    Granularity,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    MergeMaterialization,
    ModelSpec,
    TableMaterialization,
    ViewMaterialization,
)
from sqlassets.strategies import (
    appends,
    drop_table,
    load_uris,
    parse_body,
    plan_jobs,
    rewrite_references,
    self_reads,
)
from sqlassets.strategies.common import bound_parameters
from sqlassets.window import (
    Window,
    covering_window,
    key_window,
    latest_window,
    parse_key,
    parse_moment,
    step,
    time_window,
)

from .columns import offline_columns
from .limits import limit_findings
from .schema import (
    changed_layout,
    check_partition_type,
    first_run_query,
    load_layout_jobs,
    refresh_jobs,
    schema_jobs,
)


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
    check_types: bool = False,
    offline: bool = False,
) -> list[Job]:
    """The jobs that materialize ``model`` over ``window`` on ``engine``.

    With ``check_schema`` (runs, not ``compile``), an existing incremental
    table is compared first (see :mod:`sqlassets.runner.schema`). With
    ``check_schema`` or ``check_types`` (``plan``), the partition column's type
    is checked first (SA306), before any job is sent. With ``offline``
    (``compile``), the columns of a ``SELECT *`` come from the models it reads
    (:mod:`sqlassets.runner.columns`); the engine is asked only when they are
    unknown, and its failure is a :class:`StrategyError` naming the model and
    the step. A parameter the window does not bind is a located
    :class:`StrategyError` (SA302/SA305) before anything else.
    """
    unbound_parameter(model, window)
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
        capabilities = engine.capabilities
        loads = plan_jobs(
            spec,
            target,
            window,
            full_refresh=full_refresh,
            partition_load_jobs=capabilities.partition_load_jobs,
            load_layout=capabilities.load_layout,
        )
        if not check_schema:
            return loads
        return load_layout_jobs(engine, target, spec, window, full_refresh, loads)
    preamble, query = parse_body(model.sql)
    query = rewrite_references(query, tables)
    columns = model.analysis.output_columns if model.analysis else None
    incremental = isinstance(
        spec.materialization, MergeMaterialization | InsertOverwriteMaterialization
    )
    jobs: list[Job] = []
    exists = False
    if (check_schema or check_types) and spec.partition_by is not None:
        parameters = list(window.parameters().values())
        try:
            schema = engine.query_schema(query, parameters, preamble)
        except EngineError:
            # Upstream not built yet (plan), or a query the warehouse refuses: the
            # statement itself will report it; there is no type to check.
            schema = []
        check_partition_type(spec, engine, schema)
    if (
        check_schema
        and not incremental
        and engine.capabilities.drop_before_layout_change
        and changed_layout(engine, target, spec)
    ):
        # CREATE OR REPLACE cannot change the layout; the table is rebuilt whole anyway.
        jobs.append(drop_table(target))
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
        columns = _star_columns(project, model, engine, window, probed, preamble, offline)
    planned = plan_jobs(spec, target, window, query, columns, preamble, full_refresh)
    if probed is not query:
        # Created from the query's schema, never reading the missing table.
        create = plan_jobs(spec, target, window, probed, columns, preamble, full_refresh)[0]
        planned = [create if job.action == "create" else job for job in planned]
    return jobs + [job for job in planned if not (exists and job.action == "create")]


def unbound_parameter(model: Model, window: Window) -> None:
    """Raise a located :class:`StrategyError` for a parameter ``window`` does not bind.

    ``sqlassets lint`` reports the same as SA305 (a name sqlassets never binds)
    or SA302 (a window parameter of a model without that window).
    """
    if model.analysis is None:
        return
    available = window.parameters()
    missing = model.analysis.parameters - set(available)
    if not missing:
        return
    name, location = next(iter(first_parameter_uses(model, missing)), (min(missing), None))
    code = Code.WINDOW_PARAMETER_UNPARTITIONED if name in PARAMETERS else Code.UNKNOWN_PARAMETER
    bound = ", ".join(f"@{parameter}" for parameter in sorted(available)) or "none"
    raise StrategyError(
        f"{model.name} reads query parameter `@{name}`, which this run does not bind "
        f"(it binds {bound}); nothing was sent",
        location or Location(model.path, model.body_line, 1),
        code,
    )


def _star_columns(
    project: Project,
    model: Model,
    engine: Engine,
    window: Window,
    query: exp.Expression,
    preamble: list[exp.Expression],
    offline: bool,
) -> tuple[str, ...]:
    """The columns of a query whose final SELECT has a star (a MERGE and an INSERT name them)."""
    known = offline_columns(project, model, engine.name) if offline else None
    if known is not None and known.columns is not None:
        return known.columns
    parameters = list(window.parameters().values())
    try:
        # A dry run on the warehouse: no data is read.
        return tuple(engine.query_columns(query, parameters, preamble))
    except EngineError as error:
        if known is None:
            raise
        raise StrategyError(
            f"{model.name}: the final SELECT has `*`, and the {model.spec.materialization.kind}"
            f" names every column; {known.why()}, so {engine.name} was asked for the "
            f"query's columns (a dry run), which failed: {error.message.rstrip('.')}. Build the "
            "tables it reads first (`sqlassets run`), or list the columns in the final SELECT",
            model.analysis.star_location if model.analysis else None,
        ) from error


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
    """``window`` cut so no job modifies more partitions, or loads more URIs, than allowed.

    Only insert_overwrite and partitioned loads replace a known set of
    partitions; each piece is still one atomic statement.
    """
    capabilities = engine.capabilities
    limit = capabilities.max_partitions_per_job
    uri_limit = (
        capabilities.max_uris_per_job
        if isinstance(spec.materialization, LoadMaterialization)
        else None
    )
    replaces = isinstance(
        spec.materialization, InsertOverwriteMaterialization | LoadMaterialization
    )
    partitions = spec.time_partitions
    if (
        (limit is None and uri_limit is None)
        or not replaces
        or partitions is None
        or window.start is None
    ):
        return [window]
    assert window.end is not None

    def fits(start: datetime, end: datetime) -> bool:
        return limit is None or table_partitions(spec, start, end) <= limit

    if fits(window.start, window.end) and (
        uri_limit is None or len(load_uris(spec, window)) <= uri_limit
    ):
        return [window]
    pieces: list[Window] = []
    start = window.start
    while start < window.end:
        end = step(partitions.cadence, start)
        uris = set(_partition_uris(spec, start, end))
        while end < window.end and fits(start, step(partitions.cadence, end)):
            following = step(partitions.cadence, end)
            added = uris | set(_partition_uris(spec, end, following))
            if uri_limit is not None and len(added) > uri_limit:
                break
            uris, end = added, following
        pieces.append(time_window(spec, start, end))
        start = end
    return pieces


def _partition_uris(spec: ModelSpec, start: datetime, end: datetime) -> tuple[str, ...]:
    """The URIs a load of spec reads for ``[start, end)`` (empty for other models)."""
    if not isinstance(spec.materialization, LoadMaterialization):
        return ()
    return load_uris(spec, time_window(spec, start, end))


def split_reason(spec: ModelSpec, window: Window, engine: Engine, pieces: int) -> str:
    """Why ``window`` of ``spec`` runs as ``pieces`` jobs (``plan`` notes it)."""
    limit = engine.capabilities.max_partitions_per_job
    assert window.start is not None and window.end is not None
    if limit is not None and table_partitions(spec, window.start, window.end) > limit:
        what = f"touches more than {limit} partitions, the most one job may modify"
    else:
        what = (
            f"reads {len(load_uris(spec, window))} URIs, more than one load job may "
            f"({engine.capabilities.max_uris_per_job})"
        )
    return f"{spec.name.name}: the window {what}: it runs as {pieces} jobs, each atomic, not one"


def piece_jobs(
    project: Project,
    model: Model,
    engine: Engine,
    pieces: list[Window],
    full_refresh: bool = False,
    check_schema: bool = False,
    check_types: bool = False,
) -> Iterator[tuple[Window, list[Job]]]:
    """Each piece of a split window with its jobs, built when the piece comes up.

    Only the first piece prepares the table (schema check, refresh, ``create``,
    ``alter``): the later ones write into it.
    """
    for index, piece in enumerate(pieces):
        first = index == 0
        jobs = model_jobs(
            project,
            model,
            engine,
            piece,
            full_refresh and first,
            check_schema and first,
            check_types and first,
        )
        if not first:
            jobs = [job for job in jobs if job.action not in ("create", "alter")]
        yield piece, jobs


class Bound(StrEnum):
    """How far a figure of ``sqlassets plan`` can be trusted; the mark printed before it."""

    EXACT = ""
    """BigQuery's dry run of the statement sent, or 0 B for what BigQuery does not bill."""
    ESTIMATE = "≈"
    """A stand-in dry run (the target columns a MERGE reads)."""
    LOWER = "≥"
    """An input is not built yet, or the rows are unknown before the load."""


@dataclass(frozen=True)
class PlannedStatement:
    """A row of ``sqlassets plan``: a job's dry run, a figure, or the error that stopped a model."""

    model: str
    window: str
    action: str
    result: DryRunResult | None = None
    error: str | None = None
    bound: Bound = Bound.EXACT
    note: str = ""
    """Why the figure is what it is (a free job, a missing table, a skipped target side)."""


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

    @property
    def bound(self) -> Bound:
        """How far :attr:`bytes_processed` can be trusted: its least certain figure's bound."""
        bounds = {statement.bound for statement in self.statements}
        return next(
            (bound for bound in (Bound.LOWER, Bound.ESTIMATE) if bound in bounds), Bound.EXACT
        )


def plan_windows(
    model: Model,
    partition: str | None,
    start: str | None,
    end: str | None,
    now: datetime | None = None,
) -> tuple[list[Window], str | None]:
    """The windows ``sqlassets plan`` plans ``model`` over, and why, when not the one asked for.

    A model the given window does not fit (a monthly one for a daily window,
    a later ``@start``) is planned over its own partitions covering it; a
    model with static partitions over each key unless ``--partition`` names
    one of them; no windows when none of its partitions is in range.
    """
    spec = model.spec
    statics = spec.static_partitions
    if statics is not None:
        if partition in statics.keys:
            return [key_window(spec, partition)], None
        shown = "" if partition is None else f" (`{partition}` is not one of them)"
        return [key_window(spec, key) for key in statics.keys], f"each of its keys{shown}"
    partitions = spec.time_partitions
    if partitions is None:
        return [resolve_window(model, now=now)], None
    try:
        return [resolve_window(model, partition, start, end, now)], None
    except WindowError as error:
        if partition is not None:
            low = parse_moment(partition)
            high = low + timedelta(microseconds=1)
        elif start is not None and end is not None:
            low, high = parse_moment(start), parse_moment(end)
        else:
            return [], error.message
    window = covering_window(spec, low, high, now)
    if window is None:
        return [], f"none of its {partitions.cadence.value} partitions is in the window and ended"
    return [window], f"its own {partitions.cadence.value} partitions covering the window"


def dry_run(
    project: Project,
    engine: Engine,
    partition: str | None = None,
    start: str | None = None,
    end: str | None = None,
    selected: set[str] | None = None,
    now: datetime | None = None,
) -> DryRun:
    """Dry-run every (selected) model in run order (``sqlassets plan``); nothing is written.

    Engines that report bytes (BigQuery) get figures: what the query reads
    and what the write adds on the target (:func:`_figures`); the others
    (DuckDB) dry-run each job (``EXPLAIN``).
    """
    report = DryRun()
    existing: dict[str, bool] = {}
    for name in project.graph.order:
        if selected is not None and name not in selected:
            continue
        model = project.models[name]
        report.notes += [
            f"{name}: {finding.message} ({Code.BIGQUERY_LIMITS})"
            for finding in limit_findings(model.spec)
        ]
        try:
            windows, why = plan_windows(model, partition, start, end, now)
            if why is not None:
                shown = ", ".join(window.label() for window in windows) or "skipped"
                report.notes.append(f"{name}: planned over {why}: {shown}")
            for window in windows:
                pieces = split_window(model.spec, window, engine)
                if len(pieces) > 1:
                    report.notes.append(split_reason(model.spec, window, engine, len(pieces)))
                if engine.capabilities.dry_run_bytes:
                    for piece in pieces:
                        report.statements += _figures(project, model, engine, piece, existing)
                    continue
                for piece, jobs in piece_jobs(project, model, engine, pieces, check_types=True):
                    for job in jobs:
                        report.statements += [
                            PlannedStatement(name, piece.label(), job.action, result)
                            for result in engine.dry_run(job)
                        ]
        except (WindowError, EngineError) as error:
            report.failed += 1
            report.statements.append(PlannedStatement(name, "-", "error", error=error.message))
    return report


def _exists(project: Project, engine: Engine, name: str, existing: dict[str, bool]) -> bool:
    """Whether model ``name``'s table exists on ``engine`` (asked once per plan)."""
    if name not in existing:
        table = engine.naming.table(project.models[name].spec.name)
        existing[name] = engine.table_columns(table) is not None
    return existing[name]


def _figures(
    project: Project, model: Model, engine: Engine, window: Window, existing: dict[str, bool]
) -> list[PlannedStatement]:
    """What BigQuery would bill for ``model`` over ``window``: the query, then the target side.

    Dry runs of what is billed, never of the scripts sent: BigQuery's dry
    run of a script validates its first DDL statement and stops (≈ 0 bytes),
    and a MERGE into a table that does not exist yet fails. The query is
    dry-run alone (``preamble; SELECT`` is one query); the target side
    follows BigQuery's billing: a view and a load are free, a DELETE of
    whole partitions is free, a MERGE reads the target's columns.
    """
    spec = model.spec
    label = window.label()

    def row(
        action: str, count: int | None, note: str, bound: Bound = Bound.EXACT
    ) -> PlannedStatement:
        return PlannedStatement(
            model.name,
            label,
            action,
            DryRunResult(sql="", bytes_processed=count),
            None,
            bound,
            note,
        )

    target = engine.naming.table(spec.name)
    materialization = spec.materialization
    if isinstance(materialization, LoadMaterialization):
        capabilities = engine.capabilities
        jobs = plan_jobs(
            spec,
            target,
            window,
            partition_load_jobs=capabilities.partition_load_jobs,
            load_layout=capabilities.load_layout,
        )
        rows = [row("load", 0, "load jobs are free")]
        if any(job.statements and _writes_rows(job) for job in jobs):
            rows.append(
                row(
                    "insert",
                    0,
                    "the staged rows are inserted by a query, billed by their size",
                    Bound.LOWER,
                )
            )
        if appends(spec) and _exists(project, engine, model.name, existing):
            # Its DELETE finds the partitions' earlier rows by their tag: that column is read.
            tags = exp.select(exp.column(LOADED_PARTITION)).from_(target.copy())
            count = engine.query_bytes(tags, [])
            rows.append(row("target", count, f"the DELETE reads {LOADED_PARTITION}"))
        return rows
    if isinstance(materialization, ViewMaterialization):
        return [row("view", 0, "a view stores no rows: creating it is free")]
    missing = [
        read.ref.name
        for read in model.reads
        if read.ref.name in project.models and not _exists(project, engine, read.ref.name, existing)
    ]
    preamble, query = parse_body(model.sql)
    query = rewrite_references(query, physical_tables(project, engine.naming))
    parameters = list(window.parameters().values())
    if missing:
        source = row(
            "query", 0, f"reads {', '.join(sorted(set(missing)))}: not built yet", Bound.LOWER
        )
    else:
        schema, count = engine.query_schema_and_bytes(query, parameters, preamble)
        # The partition column's type, from the same dry run (SA306), before any figure.
        check_partition_type(spec, engine, schema)
        source = row("query", count, "")
    if isinstance(materialization, TableMaterialization):
        return [source]
    if not _exists(project, engine, model.name, existing):
        return [
            source,
            row("target", None, f"skipped: {target.sql(engine.dialect)} does not exist yet"),
        ]
    if isinstance(materialization, InsertOverwriteMaterialization):
        return [source, row("target", 0, "a DELETE of whole partitions is free")]
    columns = [column for column, _ in engine.table_columns(target) or []]
    read = _target_read(spec, target, window, query, columns)
    count = engine.query_bytes(read, list(bound_parameters(read, window)))
    return [source, row("target", count, "a MERGE reads the target's columns", Bound.ESTIMATE)]


def _writes_rows(job: Job) -> bool:
    """Whether ``job`` copies rows with a query (billed), not with a load job (free)."""
    return any(isinstance(statement, exp.Insert | exp.Merge) for statement in job.statements)


def _target_read(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression,
    columns: list[str],
) -> exp.Select:
    """``SELECT * FROM target AS _t WHERE <what the MERGE's ON asks of the target>``.

    A stand-in for the target's share of the MERGE's bytes (BigQuery bills
    the columns it reads of the partitions it cannot prune).
    """
    merges = [
        statement
        for job in plan_jobs(spec, target, window, query, columns)
        for statement in job.statements
        if isinstance(statement, exp.Merge)
    ]
    on = merges[0].args["on"] if merges else exp.true()
    conditions = [
        condition.unnest()
        for condition in on.flatten()
        if all(column.table == TARGET_ALIAS for column in condition.find_all(exp.Column))
        and condition.find(exp.Column) is not None
    ]
    aliased = target.copy()
    aliased.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    read = exp.select(exp.Star()).from_(aliased)
    return read.where(*conditions) if conditions else read


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

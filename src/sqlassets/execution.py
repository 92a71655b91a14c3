"""From a loaded model, a target and a window to the jobs an engine sends.

Shared by ``sqlassets compile``/``plan`` and the Dagster assets: one place
decides physical names, the window and the columns a merge needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlglot import expressions as exp

from sqlassets.config import BigQueryTarget, Config, DuckDBTarget
from sqlassets.engines.base import Engine, JobContext, JobResult
from sqlassets.errors import SchemaChangeError, WindowError
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.spec import (
    Cadence,
    Granularity,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    MergeMaterialization,
    ModelSpec,
    OnSchemaChange,
)
from sqlassets.strategies import (
    Job,
    add_columns,
    drop_table,
    parse_body,
    plan_jobs,
    rewrite_references,
)
from sqlassets.window import Window, key_window, latest_window, parse_moment, step, time_window


def open_engine(config: Config, target: str | None = None) -> Engine:
    """The engine of ``target`` (default: the configured one). Connects lazily."""
    settings = config.target(target)
    if isinstance(settings, DuckDBTarget):
        from sqlassets.engines.duckdb import DuckDBEngine

        database = (
            settings.path if settings.path == ":memory:" else config.resolve_path(settings.path)
        )
        return DuckDBEngine(database, config.resolve_path(settings.gcs_root))
    assert isinstance(settings, BigQueryTarget)
    from sqlassets.engines.bigquery import BigQueryEngine

    return BigQueryEngine.from_target(settings)


def physical_tables(project: Project, engine: Engine) -> dict[str, exp.Table]:
    """Every model's physical table on the engine's target, by model name."""
    return {name: engine.naming.table(model.spec.name) for name, model in project.models.items()}


def resolve_window(
    model: Model,
    partition: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    now: datetime | None = None,
) -> Window:
    """The window a run of ``model`` covers, validated against its partitions.

    Unpartitioned models ignore a window (they run whole); partitioned ones
    without one run their latest complete partition.
    """
    spec = model.spec
    if spec.partitions is None:
        return Window()
    if partition is not None:
        return key_window(spec, partition)
    if (start is None) != (end is None):
        raise WindowError("give both --start and --end, or neither")
    if start is not None and end is not None:
        if spec.time_partitions is None:
            raise WindowError(
                f"{spec.name.name} has static partitions: choose one with --partition"
            )
        low = start if isinstance(start, datetime) else parse_moment(start)
        high = end if isinstance(end, datetime) else parse_moment(end)
        return time_window(spec, low, high)
    return latest_window(spec, now)


@dataclass(frozen=True)
class SchemaDiff:
    """How a query's columns differ from its existing table's."""

    added: tuple[tuple[str, str], ...]
    removed: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def describe(self) -> str:
        """``added a (INT64); removed b; retyped c (STRING -> INT64)``."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(f"{n} ({t})" for n, t in self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append("retyped " + ", ".join(f"{n} ({a} -> {b})" for n, a, b in self.retyped))
        return "; ".join(parts)


def schema_diff(existing: list[tuple[str, str]], incoming: list[tuple[str, str]]) -> SchemaDiff:
    """Columns added, removed and retyped between a table and a query (names ignore case)."""
    old = {name.lower(): (name, kind.upper()) for name, kind in existing}
    new = {name.lower(): (name, kind.upper()) for name, kind in incoming}
    return SchemaDiff(
        added=tuple(new[key] for key in new if key not in old),
        removed=tuple(old[key][0] for key in old if key not in new),
        retyped=tuple(
            (new[key][0], old[key][1], new[key][1])
            for key in new
            if key in old and new[key][1] != old[key][1]
        ),
    )


def expected_layout(spec: ModelSpec) -> tuple[str | None, tuple[str, ...]]:
    """The ``(partitioning, clustering)`` BigQuery reports for a table built from ``spec``."""
    partitioning = None
    if spec.partition_by is not None:
        partitioning = f"{spec.partition_by.column}:{spec.partition_by.granularity.value}"
    return partitioning, tuple(spec.cluster_by)


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
    table is compared first: a changed partitioning or clustering needs
    ``full_refresh``; changed columns follow ``@on_schema_change`` (fail, or
    add the new columns first).
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
    if incremental and check_schema and not full_refresh:
        jobs += _schema_jobs(spec, engine, target, query, window)
    if incremental and check_schema and full_refresh:
        layout = engine.table_layout(target)
        if layout is not None and layout != expected_layout(spec):
            # BigQuery cannot CREATE OR REPLACE a table with another partitioning
            # (dbt-core#2000): drop it first. Explicitly asked for; never implied.
            jobs.append(drop_table(target))
    if incremental and not columns:
        # `SELECT *`: ask the warehouse for the query's columns (a dry run, no data).
        columns = tuple(engine.query_columns(query, list(window.parameters().values())))
    return jobs + plan_jobs(spec, target, window, query, columns, preamble, full_refresh)


def _schema_jobs(
    spec: ModelSpec, engine: Engine, target: exp.Table, query: exp.Expression, window: Window
) -> list[Job]:
    existing = engine.table_columns(target)
    if existing is None:
        return []
    layout = engine.table_layout(target)
    if layout is not None and layout != expected_layout(spec):
        raise SchemaChangeError(
            f"{spec.name.name}: the table is partitioned/clustered as {layout}, the header "
            f"says {expected_layout(spec)}; rebuild it with `sqlassets run --full-refresh`"
        )
    incoming = engine.query_schema(query, list(window.parameters().values()))
    diff = schema_diff(existing, incoming)
    if not diff:
        return []
    assert isinstance(spec.materialization, MergeMaterialization | InsertOverwriteMaterialization)
    policy = spec.materialization.on_schema_change
    if policy is OnSchemaChange.FAIL or diff.retyped:
        advice = (
            "set `@on_schema_change: append_new_columns` to add new columns, or rebuild the "
            "table with `sqlassets run --full-refresh`"
            if policy is OnSchemaChange.FAIL
            else "retyped columns need `sqlassets run --full-refresh`"
        )
        raise SchemaChangeError(
            f"{spec.name.name}: the query's columns changed ({diff.describe()}); {advice}"
        )
    if not diff.added:
        return []  # removed columns stay in the table and get NULL from now on
    added = [(name, exp.DataType.build(kind, dialect=engine.dialect)) for name, kind in diff.added]
    return [add_columns(target, added)]


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
    for index, piece in enumerate(split_window(model.spec, window, engine)):
        jobs = model_jobs(project, model, engine, piece, full_refresh and index == 0, index == 0)
        if index:
            jobs = [job for job in jobs if job.action not in ("create", "alter")]
        piece_context = context if piece == window else replace(context, window=piece.label())
        results += [engine.execute(job, piece_context) for job in jobs]
    return results


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

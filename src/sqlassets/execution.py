"""From a loaded model, a target and a window to the jobs an engine sends.

Shared by ``sqlassets compile``/``plan`` and the Dagster assets: one place
decides physical names, the window and the columns a merge needs.
"""

from __future__ import annotations

from datetime import datetime

from sqlglot import expressions as exp

from sqlassets.config import BigQueryTarget, Config, DuckDBTarget
from sqlassets.engines.base import Engine, JobContext, JobResult
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.spec import InsertOverwriteMaterialization, LoadMaterialization, MergeMaterialization
from sqlassets.strategies import Job, parse_body, plan_jobs, rewrite_references
from sqlassets.window import (
    Window,
    WindowError,
    key_window,
    latest_window,
    parse_moment,
    time_window,
)


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


def model_jobs(project: Project, model: Model, engine: Engine, window: Window) -> list[Job]:
    """The jobs that materialize ``model`` over ``window`` on ``engine``."""
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
        return plan_jobs(spec, target, window)
    preamble, query = parse_body(model.sql)
    query = rewrite_references(query, tables)
    columns = model.analysis.output_columns if model.analysis else None
    needs_columns = isinstance(
        spec.materialization, MergeMaterialization | InsertOverwriteMaterialization
    )
    if needs_columns and not columns:
        # `SELECT *`: ask the warehouse for the query's columns (a dry run, no data).
        columns = tuple(engine.query_columns(query, list(window.parameters().values())))
    return plan_jobs(spec, target, window, query, columns, preamble)


def run_model(
    project: Project, model: Model, engine: Engine, window: Window, context: JobContext
) -> list[JobResult]:
    """Materialize ``model`` over ``window``: each job in order, each atomic."""
    return [engine.execute(job, context) for job in model_jobs(project, model, engine, window)]


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

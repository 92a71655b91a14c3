"""``build_definitions``: a project as Dagster assets, checks, schedules and resources.

Each model is one asset whose body sends the model's jobs to the warehouse
and runs its checks as single-row queries; rows never come back. A
partitioned run covers the whole partition range of the step in one window,
so a single-run backfill is one statement per asset.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from sqlassets.config import BigQueryTarget, DuckDBTarget
from sqlassets.engines.base import Engine, JobContext, JobResult
from sqlassets.errors import EngineError
from sqlassets.execution import physical_tables, run_model
from sqlassets.loader import Model
from sqlassets.project import Project, load_project
from sqlassets.strategies import check_query
from sqlassets.window import Window, key_window, time_window

from ._compute import bigquery_compute, duckdb_compute
from .resources import DuckDBEngineResource
from .translator import SqlAssetsTranslator

ProgressHook = Callable[[str, str, Mapping[str, Any]], None]
"""``(asset, event, details)``: ``started``, ``materialized``, ``failed``, ``check``."""

_progress: list[ProgressHook] = []

FULL_REFRESH_TAG = "sqlassets/full_refresh"
"""Run tag: ``true`` rebuilds incremental tables (empty, current layout) before writing."""


@contextlib.contextmanager
def progress_hook(hook: ProgressHook) -> Iterator[None]:
    """Report asset progress to ``hook`` while the context is open (in-process runs)."""
    _progress.append(hook)
    try:
        yield
    finally:
        _progress.remove(hook)


def _report(asset: str, event: str, details: Mapping[str, Any] | None = None) -> None:
    for hook in list(_progress):
        hook(asset, event, details or {})


@dataclass(frozen=True)
class _Target:
    name: str
    settings: DuckDBTarget | BigQueryTarget
    resource_key: str


def build_definitions(
    project_dir: str | Path = ".",
    target: str | None = None,
    translator: SqlAssetsTranslator | None = None,
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Dagster definitions for the sqlassets project in ``project_dir``.

    ``target`` defaults to ``$SQLASSETS_TARGET`` or the configured one. BigQuery
    targets use the resource under ``bigquery`` (a dagster-gcp
    ``BigQueryResource``; one is made from the target if none is given);
    DuckDB targets the resource under ``duckdb``.
    """
    project = load_project(Path(project_dir), lineage=True).raise_for_errors()
    return definitions_for(project, target, translator, resources)


def definitions_for(
    project: Project,
    target: str | None = None,
    translator: SqlAssetsTranslator | None = None,
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Definitions for an already loaded project."""
    config = project.config
    name = config.target_name(target)
    settings = config.target(name)
    chosen = _Target(
        name, settings, "bigquery" if isinstance(settings, BigQueryTarget) else "duckdb"
    )
    translator = translator or SqlAssetsTranslator(engine=settings.engine)
    tables = physical_tables(project, _naming_engine(settings))
    keys = {
        model_name: translator.get_asset_key(model) for model_name, model in project.models.items()
    }
    source_keys = {str(ref): translator.get_source_key(ref) for ref in project.graph.sources}

    assets: list[Any] = []
    for model_name in project.graph.order:
        model = project.models[model_name]
        deps = [keys[parent] for parent in project.graph.upstream[model_name]]
        deps += [source_keys[str(ref)] for ref in project.graph.external[model_name]]
        lineage = _lineage(model, keys, source_keys)
        table = tables[model_name]
        table_name = ".".join(part for part in (table.catalog, table.db, table.name) if part)
        spec = translator.get_asset_spec(model, deps, table_name, lineage)
        assets.append(_asset(project, model, spec, translator, chosen))
    for ref in project.graph.sources:
        assets.append(
            dg.AssetSpec(
                key=source_keys[str(ref)],
                description=f"External source `{ref}`, read by sqlassets models.",
                group_name="external_sources",
                kinds={settings.engine},
            )
        )
    default_resources: dict[str, Any] = {}
    if isinstance(settings, BigQueryTarget):
        from dagster_gcp import BigQueryResource

        from .bigquery_resources import BigQueryEmulatorResource

        if settings.api_endpoint:
            default_resources["bigquery"] = BigQueryEmulatorResource(
                project=settings.project,
                location=settings.location,
                api_endpoint=settings.api_endpoint,
            )
        else:
            default_resources["bigquery"] = BigQueryResource(
                project=settings.project, location=settings.location
            )
    else:
        database = (
            settings.path
            if settings.path == ":memory:"
            else str(config.resolve_path(settings.path))
        )
        default_resources["duckdb"] = DuckDBEngineResource(
            database=database, gcs_root=str(config.resolve_path(settings.gcs_root))
        )
    return dg.Definitions(
        assets=assets,
        schedules=_schedules(project, keys, translator),
        resources={**default_resources, **(resources or {})},
        # One DuckDB file takes one writer process: run its steps in process.
        executor=dg.in_process_executor if isinstance(settings, DuckDBTarget) else None,
    )


def _naming_engine(settings: DuckDBTarget | BigQueryTarget) -> Engine:
    if isinstance(settings, BigQueryTarget):
        from sqlassets.engines.bigquery import BigQueryEngine

        return BigQueryEngine.from_target(settings)
    from sqlassets.engines.duckdb import DuckDBEngine

    return DuckDBEngine()


def _lineage(
    model: Model, keys: Mapping[str, dg.AssetKey], source_keys: Mapping[str, dg.AssetKey]
) -> dict[str, list[dg.TableColumnDep]]:
    sources = model.analysis.column_sources if model.analysis else None
    if not sources:
        return {}
    lineage: dict[str, list[dg.TableColumnDep]] = {}
    for column, reads in sources.items():
        deps = []
        for table, source_column in reads:
            parts = table.split(".")
            key = keys.get(".".join(parts[-2:])) or source_keys.get(table)
            if key is not None:
                deps.append(dg.TableColumnDep(asset_key=key, column_name=source_column))
        if deps:
            lineage[column] = deps
    return lineage


def _asset(
    project: Project,
    model: Model,
    spec: dg.AssetSpec,
    translator: SqlAssetsTranslator,
    target: _Target,
) -> dg.AssetsDefinition:
    checks = [
        dg.AssetCheckSpec(
            name=check.name,
            asset=spec.key,
            blocking=check.blocking,
            description=f"{check.kind} check from {model.path}:{check.location.line}",
        )
        for check in model.spec.checks
    ]
    op_name = "__".join(spec.key.path).replace("-", "_")

    def body(context: dg.AssetExecutionContext, resource: Any) -> Iterator[Any]:
        with _engine(resource, target) as engine:
            yield from _materialize(context, project, model, spec.key, engine)

    compute = bigquery_compute(body) if target.resource_key == "bigquery" else duckdb_compute(body)
    return dg.multi_asset(
        name=op_name,
        specs=[spec],
        check_specs=checks,
        partitions_def=spec.partitions_def,
        backfill_policy=translator.get_backfill_policy(model),
        # One pool per target table: with a pool limit of 1, runs never write it at once.
        pool=_pool(target, spec) if target.resource_key == "bigquery" else None,
        can_subset=False,
    )(compute)


def _pool(target: _Target, spec: dg.AssetSpec) -> str:
    """``sqlassets__<target>__<dataset>__<table>``: the concurrency pool of one table."""
    return "__".join(["sqlassets", target.name, *spec.key.path]).replace("-", "_")


@contextlib.contextmanager
def _engine(resource: Any, target: _Target) -> Iterator[Engine]:
    if isinstance(resource, DuckDBEngineResource):
        yield resource.get_engine()
        return
    from sqlassets.engines.bigquery import BigQueryEngine

    assert isinstance(target.settings, BigQueryTarget)
    with resource.get_client() as client:
        engine = BigQueryEngine.from_target(target.settings, client=client)
        try:
            yield engine
        finally:
            engine.close()


def windows_of(context: dg.AssetExecutionContext, model: Model) -> list[Window]:
    """The windows a step covers: one time window for any range, one per static key."""
    spec = model.spec
    if spec.partitions is None:
        return [Window()]
    if spec.time_partitions is not None:
        span = context.partition_time_window
        start = span.start.astimezone(UTC).replace(tzinfo=None)
        end = span.end.astimezone(UTC).replace(tzinfo=None)
        return [time_window(spec, start, end)]
    return [key_window(spec, key) for key in context.partition_keys]


def _materialize(
    context: dg.AssetExecutionContext,
    project: Project,
    model: Model,
    key: dg.AssetKey,
    engine: Engine,
) -> Iterator[Any]:
    spec = model.spec
    table = engine.naming.table(spec.name)
    results: list[JobResult] = []
    check_rows: dict[str, list[tuple[bool, Mapping[str, Any]]]] = {}
    started = time.monotonic()
    _report(model.name, "started", {})
    windows = windows_of(context, model)
    for window in windows:
        job_context = JobContext(
            asset=model.name,
            # The root run: a re-execution of a crashed run attaches to the jobs it
            # submitted (exactly once); the engine moves past attempts that failed.
            run_id=context.run.root_run_id or context.run.run_id,
            window=window.label(),
            labels=dict(spec.labels),
            maximum_bytes_billed=spec.maximum_bytes_billed,
        )
        full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        try:
            results += run_model(project, model, engine, window, job_context, full_refresh)
        except EngineError as error:
            _report(model.name, "failed", {"error": error.message})
            raise dg.Failure(
                description=error.message,
                metadata={"sql": dg.MetadataValue.md(f"```sql\n{error.sql or ''}\n```")},
            ) from None
        except BaseException:
            engine.cancel_all()
            raise
        for check in spec.checks:
            query = check_query(spec, check, table, window)
            step = replace(job_context, step=f"check_{check.name}")
            try:
                row = engine.fetch_row(query.query, query.parameters, step)
                passed = query.passed(row)
            except EngineError as error:
                row, passed = {"error": error.message}, False
            check_rows.setdefault(check.name, []).append((passed, row))

    columns = engine.table_columns(table)
    metadata = _metadata(results, time.monotonic() - started, windows, columns)
    check_results = []
    for check in spec.checks:
        outcomes = check_rows.get(check.name, [])
        passed = all(ok for ok, _ in outcomes)
        details = {
            name: value
            for _, row in outcomes[-1:]
            for name, value in row.items()
            if isinstance(value, int | float | str)
        }
        check_results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name=check.name,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR
                if check.blocking
                else dg.AssetCheckSeverity.WARN,
                metadata=details,
            )
        )
        _report(
            model.name, "check", {"check": check.name, "passed": passed, "blocking": check.blocking}
        )
    _report(
        model.name,
        "materialized",
        {**_summary(results), "window": ", ".join(w.label() for w in windows)},
    )
    yield dg.MaterializeResult(asset_key=key, metadata=metadata, check_results=check_results)


def _summary(results: Sequence[JobResult]) -> dict[str, Any]:
    rows = [result.rows_affected for result in results if result.rows_affected is not None]
    processed = [result.bytes_processed for result in results if result.bytes_processed is not None]
    return {
        "rows": rows[-1] if rows else None,
        "bytes": sum(processed) if processed else None,
        "duration": sum(result.duration_s for result in results),
    }


def _metadata(
    results: Sequence[JobResult],
    duration: float,
    windows: Sequence[Window],
    columns: list[tuple[str, str]] | None,
) -> dict[str, Any]:
    summary = _summary(results)
    metadata: dict[str, Any] = {
        "sqlassets/job_ids": dg.MetadataValue.json([result.job_id for result in results]),
        "sqlassets/window": ", ".join(window.label() for window in windows),
        "sqlassets/duration_s": dg.MetadataValue.float(round(duration, 3)),
        "sqlassets/sql": dg.MetadataValue.md(
            "\n\n".join(f"```sql\n{result.sql}\n```" for result in results)
        ),
    }
    if summary["rows"] is not None:
        metadata["sqlassets/rows_affected"] = dg.MetadataValue.int(summary["rows"])
    if summary["bytes"] is not None:
        metadata["sqlassets/bytes_processed"] = dg.MetadataValue.int(summary["bytes"])
    billed = [r.bytes_billed for r in results if r.bytes_billed is not None]
    if billed:
        metadata["sqlassets/bytes_billed"] = dg.MetadataValue.int(sum(billed))
    slots = [r.slot_ms for r in results if r.slot_ms is not None]
    if slots:
        metadata["sqlassets/slot_ms"] = dg.MetadataValue.int(sum(slots))
    urls = [r.url for r in results if r.url]
    if urls:
        metadata["sqlassets/job_url"] = dg.MetadataValue.url(urls[-1])
    if columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=kind) for name, kind in columns]
        )
    return metadata


def _schedules(
    project: Project, keys: Mapping[str, dg.AssetKey], translator: SqlAssetsTranslator
) -> list[dg.ScheduleDefinition]:
    schedules = []
    for model_name in project.graph.order:
        model = project.models[model_name]
        cron = model.spec.schedule
        if not cron:
            continue
        name = "__".join(keys[model_name].path).replace("-", "_")
        partitions = translator.get_partitions_def(model)
        job = dg.define_asset_job(
            f"{name}__job", selection=dg.AssetSelection.assets(keys[model_name])
        )
        if partitions is None:
            schedules.append(
                dg.ScheduleDefinition(
                    name=f"{name}__schedule", cron_schedule=cron, job=job, execution_timezone="UTC"
                )
            )
        else:
            schedules.append(_partitioned_schedule(name, cron, job, partitions))
    return schedules


def _partitioned_schedule(
    name: str, cron: str, job: Any, partitions: dg.PartitionsDefinition
) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"{name}__schedule", cron_schedule=cron, job=job, execution_timezone="UTC")
    def latest_partition(context: dg.ScheduleEvaluationContext) -> Any:
        now = context.scheduled_execution_time or datetime.now(UTC)
        if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
            keys = partitions.get_partition_keys(current_time=now)
            if not keys:
                return dg.SkipReason("no complete partition yet")
            key = keys[-1]
            return dg.RunRequest(run_key=f"{name}:{key}", partition_key=key)
        return [
            dg.RunRequest(run_key=f"{name}:{key}:{now:%Y%m%d%H%M}", partition_key=key)
            for key in partitions.get_partition_keys()
        ]

    return latest_partition

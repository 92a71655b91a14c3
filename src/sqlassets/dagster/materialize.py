"""The asset body: Dagster's partitions in, the runner's results out as Dagster events.

The runner sends the jobs and runs the checks; this module only turns a step's
partitions into windows and the run into a ``MaterializeResult``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import dagster as dg

from sqlassets.engines.base import Engine
from sqlassets.errors import EngineError
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.runner import ModelRun, OnEvent, Summary, materialize
from sqlassets.window import Window, key_window, time_window

from .resources import ChosenTarget, open_engine

FULL_REFRESH_TAG = "sqlassets/full_refresh"
"""Run tag: ``true`` rebuilds incremental tables (empty, current layout) before writing."""


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


def asset_body(
    project: Project, model: Model, key: dg.AssetKey, target: ChosenTarget, on_event: OnEvent | None
) -> Any:
    """The body of ``model``'s asset: open the engine from the resource, run, report."""

    def body(context: dg.AssetExecutionContext, resource: Any) -> Iterator[Any]:
        with open_engine(resource, target) as engine:
            yield _materialize(context, project, model, key, engine, on_event)

    return body


def _materialize(
    context: dg.AssetExecutionContext,
    project: Project,
    model: Model,
    key: dg.AssetKey,
    engine: Engine,
    on_event: OnEvent | None,
) -> dg.MaterializeResult[None]:
    try:
        run = materialize(
            project,
            model,
            engine,
            windows_of(context, model),
            # The root run: a re-execution of a crashed run attaches to the jobs it
            # submitted (exactly once); the engine moves past attempts that failed.
            run_id=context.run.root_run_id or context.run.run_id,
            full_refresh=context.run.tags.get(FULL_REFRESH_TAG) == "true",
            on_event=on_event,
        )
    except EngineError as error:
        metadata: dict[str, Any] = {"sql": dg.MetadataValue.md(f"```sql\n{error.sql or ''}\n```")}
        if error.job_id:
            metadata["sqlassets/job_ids"] = dg.MetadataValue.json([error.job_id])
        raise dg.Failure(description=error.message, metadata=metadata) from None
    check_results = [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=verdict.check.name,
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR
            if verdict.check.blocking
            else dg.AssetCheckSeverity.WARN,
            metadata={
                name: value
                for name, value in verdict.row.items()
                if isinstance(value, int | float | str)
            },
        )
        for verdict in run.checks
    ]
    return dg.MaterializeResult(asset_key=key, metadata=_metadata(run), check_results=check_results)


def _metadata(run: ModelRun) -> dict[str, Any]:
    results = run.results
    summary = Summary.of(results)
    metadata: dict[str, Any] = {
        "sqlassets/job_ids": dg.MetadataValue.json([result.job_id for result in results]),
        "sqlassets/window": run.window,
        "sqlassets/duration_s": dg.MetadataValue.float(round(run.duration_s, 3)),
        "sqlassets/sql": dg.MetadataValue.md(
            "\n\n".join(f"```sql\n{result.sql}\n```" for result in results)
        ),
    }
    if summary.rows is not None:
        metadata["sqlassets/rows_affected"] = dg.MetadataValue.int(summary.rows)
    if summary.rows_inserted is not None:
        metadata["sqlassets/rows_inserted"] = dg.MetadataValue.int(summary.rows_inserted)
    if summary.rows_deleted is not None:
        metadata["sqlassets/rows_deleted"] = dg.MetadataValue.int(summary.rows_deleted)
    if summary.bytes is not None:
        metadata["sqlassets/bytes_processed"] = dg.MetadataValue.int(summary.bytes)
    billed = [r.bytes_billed for r in results if r.bytes_billed is not None]
    if billed:
        metadata["sqlassets/bytes_billed"] = dg.MetadataValue.int(sum(billed))
    slots = [r.slot_ms for r in results if r.slot_ms is not None]
    if slots:
        metadata["sqlassets/slot_ms"] = dg.MetadataValue.int(sum(slots))
    urls = [r.url for r in results if r.url]
    if urls:
        metadata["sqlassets/job_url"] = dg.MetadataValue.url(urls[-1])
    if run.columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=kind) for name, kind in run.columns]
        )
    return metadata

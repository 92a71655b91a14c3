"""``@schedule`` headers as Dagster schedules: partitioned ones request their latest partition."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.schedule_definition import DecoratedScheduleFunction

from sqlassets.project import Project

from .translator import SqlAssetsTranslator, op_name


def schedules_for(
    project: Project, keys: Mapping[str, dg.AssetKey], translator: SqlAssetsTranslator
) -> list[dg.ScheduleDefinition]:
    """One schedule per model with ``@schedule``, running a job of that asset alone."""
    schedules = []
    for model_name in project.graph.order:
        model = project.models[model_name]
        cron = model.spec.schedule
        if not cron:
            continue
        name = op_name(keys[model_name])
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
    def latest_partition(context: dg.ScheduleEvaluationContext) -> Iterator[Any]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
            keys = partitions.get_partition_keys(current_time=now)
            if not keys:
                yield dg.SkipReason("no complete partition yet")
                return
            key = keys[-1]
            yield dg.RunRequest(run_key=f"{name}:{key}", partition_key=key)
            return
        for key in partitions.get_partition_keys():
            yield dg.RunRequest(run_key=f"{name}:{key}:{now:%Y%m%d%H%M}", partition_key=key)

    # What ``@dg.schedule`` builds, without inspecting the function's signature and
    # (postponed) annotations for each of thousands of schedules: it takes the context only.
    return dg.ScheduleDefinition(
        name=f"{name}__schedule",
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        execution_fn=DecoratedScheduleFunction(
            decorated_fn=latest_partition, wrapped_fn=latest_partition, has_context_arg=True
        ),
    )

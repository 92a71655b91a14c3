"""Observations and freshness in Dagster: the observation job, its schedule, freshness checks.

A job records each table's metadata, on a schedule; each ``@freshness`` (and
each source's configured one) becomes a freshness check, run by a sensor.

The job's one op asks the engine for every model table's and source's
metadata (:func:`sqlassets.runner.observe.observe`: one metadata query per
dataset, no row read) and records an ``AssetObservation`` for each table that
exists. Its ``dagster/last_updated_timestamp`` is what Dagster's last-update
freshness checks compare against; where the warehouse keeps no modification
time (DuckDB), they fall back on the latest materialization.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import dagster as dg

from sqlassets.project import Project
from sqlassets.runner.observe import Observation, observe
from sqlassets.values import Freshness

from ._compute import resource_op
from .resources import ChosenTarget, open_engine

OBSERVE_JOB = "sqlassets_observe"
"""The observation job's name (its schedule is ``sqlassets_observe__schedule``)."""
DEFAULT_OBSERVE_CRON = "0 * * * *"
"""Hourly, unless ``[tool.sqlassets] observe_cron`` says otherwise."""
FRESHNESS_SENSOR = "sqlassets_freshness_sensor"


def observation_metadata(observation: Observation) -> dict[str, Any]:
    """An observation's metadata, under Dagster's own keys where it has them."""
    stats = observation.stats
    assert stats is not None
    metadata: dict[str, Any] = {
        "dagster/table_name": observation.table,
        "sqlassets/table_kind": stats.kind,
    }
    if stats.row_count is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(stats.row_count)
    if stats.logical_bytes is not None:
        metadata["sqlassets/logical_bytes"] = dg.MetadataValue.int(stats.logical_bytes)
    if stats.physical_bytes is not None:
        metadata["sqlassets/physical_bytes"] = dg.MetadataValue.int(stats.physical_bytes)
    if stats.partitions is not None:
        metadata["sqlassets/partitions"] = dg.MetadataValue.int(stats.partitions)
    if stats.last_modified is not None:
        metadata["dagster/last_updated_timestamp"] = dg.MetadataValue.timestamp(stats.last_modified)
    return metadata


def observation_job(
    project: Project, keys: Mapping[str, dg.AssetKey], target: ChosenTarget
) -> dg.JobDefinition:
    """The job recording one ``AssetObservation`` per model table and source (``keys``)."""

    def observe_tables(context: dg.OpExecutionContext, resource: Any) -> Iterator[Any]:
        with open_engine(resource, target) as engine:
            observations = observe(project, engine)
        missing = [item.name for item in observations if item.stats is None]
        if missing:
            context.log.warning(f"not in the warehouse yet: {', '.join(missing)}")
        for item in observations:
            if item.stats is not None and item.name in keys:
                yield dg.AssetObservation(
                    asset_key=keys[item.name], metadata=observation_metadata(item)
                )
        yield dg.Output(None)

    op = resource_op(
        # Not the job's name: Dagster wants op and graph names distinct in a repository.
        f"{OBSERVE_JOB}_tables",
        target.engine.resource_key,
        "Record each model table's and source's metadata (no row is read).",
        observe_tables,
    )
    return dg.GraphDefinition(name=OBSERVE_JOB, node_defs=[op]).to_job(
        description="Observe every model table and source (metadata only)."
    )


def observation_schedule(project: Project, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    """The observation job's schedule: ``observe_cron`` (hourly), stopped until turned on."""
    return dg.ScheduleDefinition(
        name=f"{OBSERVE_JOB}__schedule",
        cron_schedule=project.config.observe_cron or DEFAULT_OBSERVE_CRON,
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )


def freshness_rules(
    project: Project, keys: Mapping[str, dg.AssetKey], source_keys: Mapping[str, dg.AssetKey]
) -> dict[Freshness, list[dg.AssetKey]]:
    """The asset keys of each freshness rule: models' ``@freshness``, then configured sources'."""
    rules: dict[Freshness, list[dg.AssetKey]] = {}
    for name in project.graph.order:
        freshness = project.models[name].spec.freshness
        if freshness is not None:
            rules.setdefault(freshness, []).append(keys[name])
    configured = project.config.source_freshness
    for name, key in source_keys.items():
        freshness = configured.get(name) or configured.get(".".join(name.split(".")[-2:]))
        if freshness is not None:
            rules.setdefault(freshness, []).append(key)
    return rules


def freshness_checks(
    rules: Mapping[Freshness, list[dg.AssetKey]],
) -> tuple[list[dg.AssetChecksDefinition], list[dg.SensorDefinition]]:
    """One last-update freshness check per asset (grouped by rule), and the sensor running them.

    Dagster marks these factories superseded by ``FreshnessPolicy``, which
    shows as asset health rather than as a check; the issue asks for checks
    that fail like any other, evaluated by a sensor, so these are used.
    """
    if not rules:
        return [], []
    checks: list[dg.AssetChecksDefinition] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        for freshness, assets in rules.items():
            checks += dg.build_last_update_freshness_checks(
                assets=assets,
                lower_bound_delta=timedelta(seconds=freshness.max_lag.total_seconds()),
                deadline_cron=freshness.deadline,
                timezone="UTC",
            )
        sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=FRESHNESS_SENSOR,
            # Reads only Dagster's event log: cheap, and what @freshness asks for.
            default_status=dg.DefaultSensorStatus.RUNNING,
        )
    return checks, [sensor]

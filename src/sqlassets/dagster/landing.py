"""``@sensor: files`` and ``@retention_days`` of load models as Dagster sensors and jobs.

Files are seen through the resource under ``gcs``: dagster-gcp's
``GCSResource`` (or the ``google.cloud.storage.Client`` it attaches to
contexts) on BigQuery targets, :class:`LocalGcsResource` (the ``gcs_root``
folder) on DuckDB. Every sensor starts stopped, as deleting files and
starting loads should be switched on deliberately.
"""

# No `from __future__ import annotations`: Dagster resolves the op's config annotation.

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from sqlassets.engines.storage import FileStore, GcsFileStore, LocalFileStore
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.runner.landing import arrived_files, deletable_files
from sqlassets.spec import LoadMaterialization
from sqlassets.window import key_window

from .resources import ChosenTarget
from .translator import SqlAssetsTranslator, op_name

GCS_RESOURCE_KEY = "gcs"
"""The resource key landing sensors and clean-up jobs list and delete files through."""


class LocalGcsResource(dg.ConfigurableResource["LocalGcsResource"]):
    """The folder that stands for Cloud Storage on DuckDB targets (``gcs_root``)."""

    gcs_root: str = Field(description="The folder standing for gs://.")


def file_store(resource: Any) -> FileStore:
    """The store behind the ``gcs`` resource: a local folder, a ``GCSResource`` or its client."""
    if isinstance(resource, LocalGcsResource):
        return LocalFileStore(resource.gcs_root)
    if hasattr(resource, "list_blobs"):
        return GcsFileStore(resource)
    return GcsFileStore(resource.get_client())


def default_gcs_resource(target: ChosenTarget) -> Any:
    """The ``gcs`` resource of a target: its ``gcs_root``, or a ``GCSResource`` on its project."""
    settings: Any = target.settings
    if target.engine.resource_key == "duckdb":
        engine: Any = target.engine.from_target(target.settings, target.config)
        return LocalGcsResource(gcs_root=str(engine.gcs_root))
    from dagster_gcp import GCSResource

    return GCSResource(project=settings.project)


@dataclass
class Landing:
    """The sensors and jobs of the project's landing directives."""

    sensors: list[dg.SensorDefinition] = field(default_factory=list)
    jobs: list[dg.JobDefinition] = field(default_factory=list)


def landing_for(
    project: Project, keys: Mapping[str, dg.AssetKey], translator: SqlAssetsTranslator
) -> Landing:
    """A sensor per ``@sensor: files``; a clean-up job and its sensor per ``@retention_days``."""
    landing = Landing()
    for model_name in project.graph.order:
        model = project.models[model_name]
        load = model.spec.materialization
        partitions = translator.get_partitions_def(model)
        if not isinstance(load, LoadMaterialization) or not isinstance(
            partitions, dg.TimeWindowPartitionsDefinition
        ):
            continue
        key = keys[model_name]
        if load.sensor is not None:
            landing.sensors.append(_arrival_sensor(model, key, partitions))
        if load.retention_days is not None:
            job = _retention_job(model, key, partitions, load.retention_days)
            landing.jobs.append(job)
            landing.sensors.append(_retention_sensor(key, job))
    return landing


def _arrival_sensor(
    model: Model, key: dg.AssetKey, partitions: dg.TimeWindowPartitionsDefinition
) -> dg.SensorDefinition:
    name = op_name(key)

    @dg.sensor(
        name=f"{name}__files",
        asset_selection=dg.AssetSelection.assets(key),
        default_status=dg.DefaultSensorStatus.STOPPED,
        required_resource_keys={GCS_RESOURCE_KEY},
        description=f"Requests a run of each partition of {model.spec.name} once its files exist.",
    )
    def files_arrived(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
        store = file_store(getattr(context.resources, GCS_RESOURCE_KEY))
        materialized = context.instance.get_materialized_partitions(key)
        complete = partitions.get_partition_keys(current_time=datetime.now(UTC))
        done = [index for index, partition in enumerate(complete) if partition in materialized]
        # Only partitions after the last materialized one: older gaps are backfills.
        pending = complete[done[-1] + 1 :] if done else complete
        requested = set(json.loads(context.cursor)) if context.cursor else set()
        for partition in pending:
            if partition in requested:
                continue
            files = arrived_files(model.spec, partition, store)
            if files is None:
                continue
            requested.add(partition)
            context.log.info(f"{partition}: {len(files)} files arrived")
            yield dg.RunRequest(run_key=f"{name}:{partition}", partition_key=partition)
        context.update_cursor(json.dumps(sorted(requested & set(pending))))

    return files_arrived


class RetentionConfig(dg.Config):
    """How a retention clean-up runs."""

    dry_run: bool = Field(default=False, description="List what would be deleted; delete nothing.")


def _retention_job(
    model: Model,
    key: dg.AssetKey,
    partitions: dg.TimeWindowPartitionsDefinition,
    days: int,
) -> dg.JobDefinition:
    name = op_name(key)
    spec = model.spec

    @dg.op(name=f"{name}__retention", required_resource_keys={GCS_RESOURCE_KEY})
    def delete_expired_files(context: dg.OpExecutionContext, config: RetentionConfig) -> None:
        store = file_store(getattr(context.resources, GCS_RESOURCE_KEY))
        now = datetime.now(UTC).replace(tzinfo=None)
        every = partitions.get_partition_keys(current_time=datetime.now(UTC))
        status = context.instance.get_status_by_partition(key, every, partitions) or {}
        expired: list[str] = []
        kept: list[str] = []
        for partition in every:
            end = key_window(spec, partition).end
            old = end is not None and end + timedelta(days=days) <= now
            loaded = status.get(partition) == dg.AssetPartitionStatus.MATERIALIZED
            (expired if old and loaded else kept).append(partition)
        files = deletable_files(spec, expired, kept, store)
        for uri in files:
            if config.dry_run:
                context.log.info(f"would delete {uri}")
            else:
                store.delete(uri)
                context.log.info(f"deleted {uri}")
        verb = "would delete" if config.dry_run else "deleted"
        context.log.info(f"{verb} {len(files)} files of {len(expired)} expired partitions")

    return dg.job(
        name=f"{name}__retention_job",
        description=f"Deletes landed files of {spec.name} older than {days} days once loaded.",
    )(_only(delete_expired_files))


def _only(op: dg.OpDefinition) -> Any:
    def graph() -> None:
        op()

    return graph


def _retention_sensor(key: dg.AssetKey, job: dg.JobDefinition) -> dg.SensorDefinition:
    @dg.asset_sensor(
        asset_key=key,
        job=job,
        name=f"{op_name(key)}__retention",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def after_load(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> Any:
        # One clean-up per materialization event (its timestamp and run).
        run_key = f"{key.to_user_string()}:{asset_event.run_id}:{asset_event.timestamp}"
        return dg.RunRequest(run_key=run_key)

    return after_load

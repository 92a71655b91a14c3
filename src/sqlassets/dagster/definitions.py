"""``build_definitions``: a project as Dagster assets, checks, schedules and resources.

Each model is one asset whose body runs the model through the runner (its
jobs, then its checks as single-row queries); rows never come back. A
partitioned run covers the whole partition range of the step in one window,
so a single-run backfill is one statement per asset.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from sqlassets.bulk import bulk_gc
from sqlassets.job import table_name
from sqlassets.loader import Model
from sqlassets.project import BrokenFile, Project, load_project
from sqlassets.runner import OnEvent, physical_tables
from sqlassets.schemas import KnownSchemas
from sqlassets.spec import TableRef
from sqlassets.spec.checks import describe_check

from . import type_resolution
from .executor import make_threaded_executor
from .landing import GCS_RESOURCE_KEY, default_gcs_resource, landing_for
from .materialize import FULL_REFRESH_TAG, asset_body
from .observe import freshness_checks, freshness_rules, observation_job, observation_schedule
from .resources import ChosenTarget, compute, default_resources
from .schedules import schedules_for
from .translator import SqlAssetsTranslator, op_name

__all__ = ["FULL_REFRESH_TAG", "build_definitions", "definitions_for", "project_definitions"]

log = logging.getLogger(__name__)

type_resolution.install()  # a fifth of Dagster's time building thousands of assets' ops


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
    DuckDB targets the resource under ``duckdb``. ``translator`` shapes the
    assets (keys, groups, metadata…); ``resources`` replace the default ones.
    A file in error does not stop the others: it becomes an asset whose
    materialization and check fail with its located errors, and every valid
    model loads (``strict`` in [tool.sqlassets] or ``$SQLASSETS_STRICT=1``:
    raises ``ProjectError`` instead, as for errors in the configuration).

    The definitions come back with their repository resolved (what Dagster
    does first on loading them), faster here than later. Definitions that only
    resolve once merged with others (``dg.Definitions.merge``) come back as
    they are, and Dagster reports what stops them where it always did;
    :func:`project_definitions` never tries.
    """
    project = _loaded(project_dir)
    with bulk_gc():
        definitions = definitions_for(project, target, translator, resources)
        # Every Dagster process resolves the repository (validation, resources bound to
        # each asset) right after loading: here, while the collector is tuned for it.
        try:
            definitions.get_repository_def()
        except Exception as error:  # Dagster raises it again when it resolves them itself
            log.debug("the definitions do not resolve on their own: %s", error)
    return definitions


def project_definitions(
    project_dir: str | Path = ".",
    target: str | None = None,
    translator: SqlAssetsTranslator | None = None,
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """:func:`build_definitions` without resolving the repository.

    What a component returns: Dagster merges it with other definitions, and
    resolves them together.
    """
    project = _loaded(project_dir)
    return definitions_for(project, target, translator, resources)


def _loaded(project_dir: str | Path) -> Project:
    """The project with column lineage, its broken files set apart (``without_broken``)."""
    return load_project(Path(project_dir), lineage=True).without_broken(downstream=True)


def definitions_for(
    project: Project,
    target: str | None = None,
    translator: SqlAssetsTranslator | None = None,
    resources: Mapping[str, Any] | None = None,
    on_event: OnEvent | None = None,
) -> dg.Definitions:
    """Definitions for an already loaded project.

    ``on_event`` receives the runner's progress events of in-process runs
    (``sqlassets run`` prints them).
    """
    with bulk_gc():
        return _definitions(project, target, translator, resources, on_event)


def _definitions(
    project: Project,
    target: str | None,
    translator: SqlAssetsTranslator | None,
    resources: Mapping[str, Any] | None,
    on_event: OnEvent | None,
) -> dg.Definitions:
    config = project.config
    name = config.target_name(target)
    chosen = ChosenTarget(name, config.target(name), config)
    engine = chosen.engine
    known = KnownSchemas.for_project(config, engine.name).get_all(project.models)
    translator = translator or SqlAssetsTranslator(engine=engine.name)
    if not getattr(translator, "known_types", None):
        translator.known_types = known
    tables = physical_tables(project, engine.naming_for(chosen.settings))
    keys = {
        model_name: translator.get_asset_key(model) for model_name, model in project.models.items()
    }
    source_keys = {str(ref): translator.get_source_key(ref) for ref in project.graph.sources}
    broken = _broken_keys(project.broken, keys.values())

    upstream = _dagster_upstream(project, translator)
    notes = _unwalkable_notes(project, upstream, translator)
    assets: list[Any] = []
    for model_name in project.graph.order:
        model = project.models[model_name]
        direct = project.graph.upstream[model_name]
        deps: list[dg.AssetKey | dg.AssetDep] = [keys[parent] for parent in direct]
        deps += [
            _through_dep(keys[parent], project.models[parent], model, translator)
            for parent in upstream[model_name]
            if parent not in direct
        ]
        deps += [source_keys[str(ref)] for ref in project.graph.external[model_name]]
        lineage = _lineage(model, keys, source_keys)
        spec = translator.get_asset_spec(model, deps, table_name(tables[model_name]), lineage)
        if model_name in notes:
            described = "\n\n".join(filter(None, [spec.description, notes[model_name]]))
            spec = spec.replace_attributes(description=described)
        assets.append(_asset(project, model, spec, translator, chosen, on_event))
    for ref in project.graph.sources:
        if source_keys[str(ref)] not in broken.values():  # a broken file's asset stands for it
            assets.append(_source_spec(ref, source_keys[str(ref)], engine.name))
    assets += [_broken_asset(file, broken[file.path]) for file in project.broken]
    observe_job = observation_job(project, {**keys, **source_keys}, chosen)
    checks, sensors = freshness_checks(freshness_rules(project, keys, source_keys))
    landing = landing_for(project, keys, translator)
    defaults = default_resources(chosen)
    if landing.sensors:
        defaults[GCS_RESOURCE_KEY] = default_gcs_resource(chosen)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[observe_job, *landing.jobs],
        schedules=[
            *schedules_for(project, keys, translator),
            observation_schedule(project, observe_job),
        ],
        sensors=[*sensors, *landing.sensors],
        resources={**defaults, **(resources or {})},
        # Steps in threads (each waits on a remote job); an embedded engine: one at a time.
        executor=make_threaded_executor(engine.concurrent_jobs(chosen.settings)),
    )


def _broken_keys(
    broken: Iterable[BrokenFile], taken: Iterable[dg.AssetKey]
) -> dict[str, dg.AssetKey]:
    """The asset key of each broken file: its table's, else one from its path.

    ``["dataset", "table"]`` when its path names a table no valid model has
    (readers then depend on it); ``["sqlassets_broken", "<path>"]`` otherwise.
    """
    used = set(taken)
    keys: dict[str, dg.AssetKey] = {}
    for file in broken:
        key = dg.AssetKey(file.name.split(".")) if file.name else None
        if key is None or key in used:
            key = dg.AssetKey(["sqlassets_broken", re.sub(r"[^A-Za-z0-9_]", "_", file.path)])
        used.add(key)
        keys[file.path] = key
    return keys


def _broken_asset(file: BrokenFile, key: dg.AssetKey) -> dg.AssetsDefinition:
    """An asset for a file in error: its materialization and its check fail with the errors."""
    errors = file.describe()
    check = dg.AssetCheckSpec(
        name="file_is_valid",
        asset=key,
        description=f"{file.path} loads without errors (`sqlassets lint`).",
    )

    @dg.multi_asset(
        name=op_name(key),
        specs=[
            dg.AssetSpec(
                key=key,
                description=f"**{file.path} has errors**; fix them (`sqlassets lint`):\n\n"
                f"```\n{errors}\n```",
                group_name="broken_files",
                metadata={"sqlassets/path": file.path, "sqlassets/errors": errors},
            )
        ],
        check_specs=[check],
        can_subset=False,
    )
    def broken_file() -> Iterator[Any]:
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=check.name,
            passed=False,
            description=errors,
            metadata={"path": file.path},
        )
        raise dg.Failure(description=f"{file.path} has errors:\n{errors}")

    return broken_file


def _source_spec(ref: TableRef, key: dg.AssetKey, engine: str) -> dg.AssetSpec:
    """The external asset of a source table; a wildcard keeps its table pattern as metadata."""
    what = "wildcard source" if ref.is_wildcard else "source"
    return dg.AssetSpec(
        key=key,
        description=f"External {what} `{ref}`, read by sqlassets models.",
        group_name="external_sources",
        kinds={engine},
        metadata={"sqlassets/table_pattern": str(ref)} if ref.is_wildcard else None,
    )


def _dagster_upstream(project: Project, translator: SqlAssetsTranslator) -> dict[str, list[str]]:
    """Each model's upstream models in Dagster: those it reads, and those it reads through views.

    A model that passes through (``get_passes_through``: views) is read, when
    its reader runs, as the models it reads; its readers depend on them too.
    """
    upstream: dict[str, list[str]] = {}
    for name in project.graph.order:  # parents first
        found = dict.fromkeys(project.graph.upstream[name])
        for parent in project.graph.upstream[name]:
            if translator.get_passes_through(project.models[parent]):
                found.update(dict.fromkeys(upstream.get(parent, ())))
        upstream[name] = list(found)
    return upstream


def _through_dep(
    key: dg.AssetKey, parent: Model, model: Model, translator: SqlAssetsTranslator
) -> dg.AssetDep:
    """A dependency on a model read through a view: each window on the same window upstream.

    Never on partitions the upstream model lacks: its view shows whatever it
    holds (a mart may start before its load, or be keyed by region over a
    daily load), and Dagster fails a backfill that needs a missing partition.
    """
    child = translator.get_partitions_def(model)
    upstream = translator.get_partitions_def(parent)
    mapping: dg.PartitionMapping | None = None
    if isinstance(child, dg.TimeWindowPartitionsDefinition) and isinstance(
        upstream, dg.TimeWindowPartitionsDefinition
    ):
        mapping = _same_window_if_any()
    elif child is not None and upstream is not None and child != upstream:
        mapping = dg.AllPartitionMapping()
    return dg.AssetDep(key, partition_mapping=mapping)


@cache
def _same_window_if_any() -> dg.TimeWindowPartitionMapping:
    # The parameter is marked beta: one warning per dependency otherwise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)


def _unwalkable_notes(
    project: Project, upstream: Mapping[str, list[str]], translator: SqlAssetsTranslator
) -> dict[str, str]:
    """A note on each partitioned model a Dagster range backfill cannot reach from an ancestor.

    Dagster's asset backfill gives the selection's roots the chosen partitions
    and walks down from them through selected partitioned assets only. A
    partitioned model whose partitioned ancestor is reached only through an
    unpartitioned model that does not pass through (a ``table``, an
    unpartitioned ``merge``) is left out of a backfill selecting both, which
    then succeeds without it, whatever else is selected.
    """
    graph = project.graph
    partitioned = [
        name for name in graph.order if translator.get_partitions_def(project.models[name])
    ]
    bit = {name: 1 << index for index, name in enumerate(partitioned)}
    # Bit sets of partitioned models: every partitioned ancestor, and those a backfill
    # walks down from (through partitioned assets only).
    ancestors: dict[str, int] = {}
    walkable: dict[str, int] = {}
    notes: dict[str, str] = {}
    for name in graph.order:  # parents first
        ancestors[name] = 0
        for parent in graph.upstream[name]:
            ancestors[name] |= ancestors.get(parent, 0) | bit.get(parent, 0)
        walkable[name] = 0
        for parent in upstream[name]:
            if parent in bit:
                walkable[name] |= walkable.get(parent, 0) | bit[parent]
        blocked = ancestors[name] & ~walkable[name]
        if name in bit and blocked:
            notes[name] = _unwalkable_note(partitioned, blocked)
    return notes


def _unwalkable_note(partitioned: list[str], blocked: int) -> str:
    """The note naming the first three of ``blocked``, a bit set over ``partitioned``."""
    first: list[str] = []
    rest = blocked
    while rest and len(first) < 3:  # lowest set bits first: the order of ``partitioned``
        low = rest & -rest
        first.append(partitioned[low.bit_length() - 1])
        rest ^= low
    shown = ", ".join(f"`{model}`" for model in first)
    more = blocked.bit_count() - len(first)
    if more:
        shown += f" and {more} more"
    return (
        f"**Backfills**: a Dagster range backfill that selects this asset with {shown} "
        "leaves this asset out and still succeeds: Dagster walks a backfill down through "
        "partitioned assets only, and an unpartitioned model that is not a view (a table, "
        "an unpartitioned merge) lies between. Backfill this asset on its own once they are "
        "done, or with `sqlassets run`."
    )


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
    target: ChosenTarget,
    on_event: OnEvent | None,
) -> dg.AssetsDefinition:
    checks = [
        dg.AssetCheckSpec(
            name=check.name,
            asset=spec.key,
            blocking=check.blocking,
            description=f"{describe_check(check)} From {model.path}:{check.location.line}.",
        )
        for check in model.spec.checks
    ]
    body = asset_body(project, model, spec.key, target, on_event)
    return dg.multi_asset(
        name=op_name(spec.key),
        specs=[spec],
        check_specs=checks,
        partitions_def=spec.partitions_def,
        backfill_policy=translator.get_backfill_policy(model),
        # One pool per target table: with a pool limit of 1, runs never write it at once.
        pool=_pool(target, spec) if target.engine.capabilities.table_pools else None,
        can_subset=False,
    )(compute(body, target))


def _pool(target: ChosenTarget, spec: dg.AssetSpec) -> str:
    """``sqlassets__<target>__<dataset>__<table>``: the concurrency pool of one table."""
    return "__".join(["sqlassets", target.name, *spec.key.path]).replace("-", "_")

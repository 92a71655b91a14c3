"""``build_definitions``: a project as Dagster assets, checks, schedules and resources.

Each model is one asset whose body runs the model through the runner (its
jobs, then its checks as single-row queries); rows never come back. A
partitioned run covers the whole partition range of the step in one window,
so a single-run backfill is one statement per asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from sqlassets.job import table_name
from sqlassets.loader import Model
from sqlassets.project import Project, load_project
from sqlassets.runner import OnEvent, physical_tables

from .executor import make_threaded_executor
from .materialize import FULL_REFRESH_TAG, asset_body
from .resources import ChosenTarget, compute, default_resources
from .schedules import schedules_for
from .translator import SqlAssetsTranslator, op_name

__all__ = ["FULL_REFRESH_TAG", "build_definitions", "definitions_for"]


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
    Raises ``ProjectError`` when a model has errors (see ``sqlassets lint``).
    """
    project = load_project(Path(project_dir), lineage=True).raise_for_errors()
    return definitions_for(project, target, translator, resources)


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
    config = project.config
    name = config.target_name(target)
    chosen = ChosenTarget(name, config.target(name), config)
    engine = chosen.engine
    translator = translator or SqlAssetsTranslator(engine=engine.name)
    tables = physical_tables(project, engine.naming_for(chosen.settings))
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
        spec = translator.get_asset_spec(model, deps, table_name(tables[model_name]), lineage)
        assets.append(_asset(project, model, spec, translator, chosen, on_event))
    for ref in project.graph.sources:
        assets.append(
            dg.AssetSpec(
                key=source_keys[str(ref)],
                description=f"External source `{ref}`, read by sqlassets models.",
                group_name="external_sources",
                kinds={engine.name},
            )
        )
    return dg.Definitions(
        assets=assets,
        schedules=schedules_for(project, keys, translator),
        resources={**default_resources(chosen), **(resources or {})},
        # Steps in threads (each waits on a remote job); an embedded engine: one at a time.
        executor=make_threaded_executor(engine.concurrent_jobs(chosen.settings)),
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
            description=f"{check.kind} check from {model.path}:{check.location.line}",
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

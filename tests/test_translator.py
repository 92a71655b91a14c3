"""A custom ``SqlAssetsTranslator`` (the public extension seam, as in dagster-dbt):
the overridden hooks are what the built definitions contain, everywhere a key,
a group or metadata appears (deps, checks, column lineage, schedules, op names)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest

import sqlassets
from sqlassets.dagster import definitions_for
from sqlassets.dagster.translator import SqlAssetsTranslator
from sqlassets.project import Project, load_project

if TYPE_CHECKING:
    from sqlassets.loader import Model

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "fixtures" / "golden"


class WarehouseTranslator(SqlAssetsTranslator):
    """Keys under ``warehouse/``, one group per dataset and layer, an owner team in metadata."""

    def get_asset_key(self, model: Model) -> dg.AssetKey:
        return dg.AssetKey(["warehouse", *super().get_asset_key(model).path])

    def get_group_name(self, model: Model) -> str:
        return f"wh_{model.spec.name.dataset}"

    def get_metadata(
        self, model: Model, table_name: str, lineage: Mapping[str, list[dg.TableColumnDep]]
    ) -> dict[str, Any]:
        metadata = super().get_metadata(model, table_name, lineage)
        metadata["acme/team"] = "analytics" if model.spec.name.dataset == "marts" else "platform"
        metadata["acme/table"] = table_name
        return metadata


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", *name.split(".")])


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT, lineage=True).raise_for_errors()


@pytest.fixture(scope="module")
def repo(project: Project) -> dg.RepositoryDefinition:
    return definitions_for(project, translator=WarehouseTranslator()).get_repository_def()


def _specs(repo: dg.RepositoryDefinition) -> dict[dg.AssetKey, dg.AssetSpec]:
    return {
        spec.key: spec for assets in set(repo.assets_defs_by_key.values()) for spec in assets.specs
    }


def test_every_asset_takes_the_overridden_key(project: Project, repo) -> None:
    assert set(_specs(repo)) == {_key(name) for name in project.models}


def _reads(project: Project, name: str) -> set[str]:
    """The models ``name`` reads, and those it reads through views."""
    found = set(project.graph.upstream[name])
    for parent in project.graph.upstream[name]:
        if project.models[parent].spec.materialized == "view":
            found |= _reads(project, parent)
    return found


def test_deps_use_the_overridden_keys_of_the_upstream_models(project: Project, repo) -> None:
    specs = _specs(repo)
    for name in project.models:
        deps = {dep.asset_key for dep in specs[_key(name)].deps}
        assert deps == {_key(parent) for parent in _reads(project, name)}, name
    # The asset graph agrees: a parent is found under its new key.
    parents = repo.asset_graph.get(_key("marts.daily_revenue")).parent_keys
    assert _key("staging.stg_orders") in parents
    assert not any(key.path[0] != "warehouse" for key in repo.asset_graph.get_all_asset_keys())


def test_groups_come_from_get_group_name(project: Project, repo) -> None:
    specs = _specs(repo)
    for name, model in project.models.items():
        assert specs[_key(name)].group_name == f"wh_{model.spec.name.dataset}"
    assert {spec.group_name for spec in specs.values()} == {"wh_raw", "wh_staging", "wh_marts"}


def test_metadata_comes_from_get_metadata_and_keeps_the_defaults(repo) -> None:
    specs = _specs(repo)
    customers = specs[_key("marts.customers")].metadata
    assert customers["acme/team"] == "analytics"
    assert customers["acme/table"] == customers["dagster/table_name"] == "marts.customers"
    assert customers["sqlassets/materialized"] == "merge"
    assert specs[_key("raw.orders")].metadata["acme/team"] == "platform"


def test_column_lineage_points_at_the_overridden_keys(repo) -> None:
    lineage = _specs(repo)[_key("marts.products")].metadata["dagster/column_lineage"]
    assert lineage.deps_by_column["sku"] == [
        dg.TableColumnDep(asset_key=_key("staging.stg_products"), column_name="sku")
    ]
    keys = {dep.asset_key for deps in lineage.deps_by_column.values() for dep in deps}
    assert keys == {_key("staging.stg_products"), _key("staging.stg_order_items")}


def test_checks_ops_and_schedules_follow_the_overridden_key(repo) -> None:
    assets = repo.assets_defs_by_key[_key("marts.customers")]
    assert {spec.asset_key for spec in assets.check_specs} == {_key("marts.customers")}
    assert assets.op.name == "warehouse__marts__customers"
    schedules = {schedule.name: schedule for schedule in repo.schedule_defs}
    schedule = schedules["warehouse__marts__customers__schedule"]
    assert schedule.job.name == "warehouse__marts__customers__job"
    assert schedule.job.selection.resolve(repo.asset_graph) == {_key("marts.customers")}


def test_the_default_translator_differs_so_the_overrides_are_what_is_seen(project) -> None:
    specs = definitions_for(project).resolve_all_asset_specs()
    assert all(spec.key.path[0] != "warehouse" for spec in specs)
    assert all("acme/team" not in spec.metadata for spec in specs)


def test_build_definitions_takes_the_translator_and_keeps_source_keys() -> None:
    """Through the public entry point, on a project with an external source: model keys
    are overridden; a source keeps ``get_source_key`` (not overridden), deps agree."""
    defs = sqlassets.build_definitions(GOLDEN, translator=WarehouseTranslator())
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    source = dg.AssetKey(["acme-prod", "crm", "customers"])
    assert specs[source].group_name == "external_sources"
    assert {dep.asset_key for dep in specs[_key("staging.customers")].deps} == {source}
    assert {dep.asset_key for dep in specs[_key("marts.customers")].deps} == {
        _key("staging.customers"),
        _key("raw.orders"),
    }
    assert specs[_key("marts.customers")].group_name == "wh_marts"
    assert specs[_key("marts.customers")].metadata["acme/table"] == "marts.customers"

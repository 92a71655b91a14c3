"""``build_definitions`` resolves the repository when it can; definitions to merge still load."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from sqlassets import build_definitions
from sqlassets.dagster import project_definitions


def _needing_a_secret() -> dg.ResourceDefinition:
    return dg.ResourceDefinition(resource_fn=lambda _: None, required_resource_keys={"secret"})


def test_definitions_come_back_resolved(example: Path) -> None:
    definitions = build_definitions(example)
    resolved = definitions.get_repository_def()
    assert resolved is definitions.get_repository_def()  # Dagster keeps it
    assert dg.AssetKey(["marts", "daily_revenue"]) in resolved.assets_defs_by_key


def test_definitions_that_resolve_only_once_merged_still_load(example: Path) -> None:
    # A resource needing one that other definitions bring: resolving ours alone fails.
    definitions = build_definitions(example, resources={"needy": _needing_a_secret()})
    with pytest.raises(dg.DagsterInvariantViolationError, match="secret"):
        definitions.get_repository_def()  # where Dagster has always reported it
    secret = dg.Definitions(resources={"secret": dg.ResourceDefinition.hardcoded_resource(1)})
    merged = dg.Definitions.merge(definitions, secret)
    assert dg.AssetKey(["marts", "daily_revenue"]) in merged.get_repository_def().assets_defs_by_key


def test_project_definitions_are_the_same_definitions_unresolved(example: Path) -> None:
    definitions = project_definitions(example, resources={"needy": _needing_a_secret()})
    secret = dg.Definitions(resources={"secret": dg.ResourceDefinition.hardcoded_resource(1)})
    merged = dg.Definitions.merge(definitions, secret).get_repository_def()
    keys = set(build_definitions(example).get_repository_def().assets_defs_by_key)
    assert set(merged.assets_defs_by_key) == keys

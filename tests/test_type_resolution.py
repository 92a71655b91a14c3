"""``sqlassets.dagster.type_resolution``: Dagster's type resolution, a Dagster type at once.

No ``from __future__ import annotations``: Dagster reads the asset's annotations.
"""

import sys
import typing

import dagster as dg
import pytest
from dagster._core.definitions import input as dagster_input
from dagster._core.definitions import output as dagster_output
from dagster._core.definitions.assets.job import asset_in
from dagster._core.types import dagster_type

import sqlassets.dagster.definitions  # noqa: F401 - installs it
from sqlassets.dagster import type_resolution

DAGSTERS = type_resolution._dagsters
"""Dagster's own function (the name is replaced in Dagster's modules)."""
DAGSTER_TYPES = [
    dagster_type.Nothing,
    dagster_type.Any,
    dagster_type.Int,
    dagster_type.String,
    dagster_type.Bool,
    dagster_type.Float,
    DAGSTERS(list[int]),
    DAGSTERS(typing.Optional[str]),  # noqa: UP045 - the form Dagster resolves itself
    dg.DagsterType(type_check_fn=lambda _, value: True, name="Custom"),
    dg.PythonObjectDagsterType(dict, name="PythonDict2"),
]
OTHER_ARGUMENTS = [
    int,
    str,
    float,
    bool,
    None,
    type(None),
    typing.Any,
    list[int],
    dict[str, int],
    dg.Nothing,
    dg.Output[int],
]


@pytest.mark.parametrize("given", DAGSTER_TYPES, ids=str)
def test_a_dagster_type_resolves_to_what_dagster_resolves_it_to(given: dg.DagsterType) -> None:
    assert type_resolution.resolve_dagster_type(given) is DAGSTERS(given) is given


@pytest.mark.parametrize("given", OTHER_ARGUMENTS, ids=str)
def test_anything_else_is_resolved_by_dagster(given: object) -> None:
    ours = type_resolution.resolve_dagster_type(given)
    assert ours == DAGSTERS(given)
    assert isinstance(ours, dg.DagsterType)


def test_a_type_class_is_still_refused_as_dagster_refuses_it() -> None:
    with pytest.raises(Exception, match="Do not pass runtime type classes") as ours:
        type_resolution.resolve_dagster_type(dg.DagsterType)
    with pytest.raises(ours.type, match="Do not pass runtime type classes"):
        DAGSTERS(dg.DagsterType)


def test_the_modules_that_build_inputs_and_outputs_use_it() -> None:
    for module in (dagster_input, dagster_output, asset_in):
        assert module.resolve_dagster_type is type_resolution.resolve_dagster_type, module
    assert type_resolution.install() >= 3  # idempotent: counts the modules already using it


def test_installing_again_changes_nothing() -> None:
    assert type_resolution.install() == type_resolution.install()
    assert type_resolution._dagsters is not type_resolution.resolve_dagster_type


def _asset() -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[dg.AssetSpec("b", deps=["a", "z"])],
        check_specs=[dg.AssetCheckSpec("c", asset="b"), dg.AssetCheckSpec("d", asset="b")],
        can_subset=False,
    )
    def b(context: dg.AssetExecutionContext):  # type: ignore[no-untyped-def]
        yield dg.MaterializeResult()

    return b


def _types(assets: dg.AssetsDefinition) -> list[tuple[str, dg.DagsterType]]:
    op = assets.op
    return [(d.name, d.dagster_type) for d in [*op.input_defs, *op.output_defs]]


def test_an_asset_built_with_it_has_the_types_dagster_gives_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours = _types(_asset())
    for module in list(sys.modules.values()):
        if getattr(module, "resolve_dagster_type", None) is type_resolution.resolve_dagster_type:
            monkeypatch.setattr(module, "resolve_dagster_type", DAGSTERS)
    assert dagster_input.resolve_dagster_type is DAGSTERS
    assert ours == _types(_asset())
    assert [name for name, _ in ours] == ["a", "z", "b", "b_c", "b_d"]

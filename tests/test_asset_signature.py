"""Asset bodies share one signature per engine, which Dagster reads instead of inspecting each."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import dagster as dg

from sqlassets.dagster._compute import bigquery_compute, duckdb_compute


def _body(context: dg.AssetExecutionContext, resource: Any) -> Iterator[Any]:
    yield resource


def test_bodies_of_one_engine_share_a_signature_equal_to_their_own() -> None:
    first, second = duckdb_compute(_body), duckdb_compute(_body)
    assert first is not second
    assert inspect.signature(first) is inspect.signature(second)
    del second.__signature__
    assert inspect.signature(first) == inspect.signature(second)
    assert list(inspect.signature(first).parameters) == ["context", "duckdb"]


def test_each_engine_keeps_its_own_resource_parameter() -> None:
    assert list(inspect.signature(bigquery_compute(_body)).parameters) == ["context", "bigquery"]


def test_dagster_hands_the_resource_to_a_body_by_its_signature() -> None:
    from sqlassets.dagster.resources import DuckDBEngineResource

    seen: list[Any] = []

    def body(context: dg.AssetExecutionContext, resource: Any) -> Iterator[Any]:
        seen.append(resource)
        yield dg.MaterializeResult()

    asset = dg.multi_asset(specs=[dg.AssetSpec("a")], can_subset=False)(duckdb_compute(body))
    resource = DuckDBEngineResource(database=":memory:", gcs_root="/nowhere")
    result = dg.materialize([asset], resources={"duckdb": resource})
    assert result.success
    assert [type(found) for found in seen] == [DuckDBEngineResource]

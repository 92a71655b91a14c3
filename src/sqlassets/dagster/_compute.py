"""Asset bodies with resource parameters Dagster can inject.

Dagster reads these annotations at definition time, so this module must not
postpone them (no ``from __future__ import annotations``).
"""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

Body = Callable[[dg.AssetExecutionContext, Any], Iterator[Any]]


def bigquery_compute(body: Body) -> Callable[..., Iterator[Any]]:
    """An asset body that receives the ``bigquery`` resource (a ``BigQueryResource``)."""
    from dagster_gcp import BigQueryResource  # seconds to import: only for BigQuery targets

    def materialize(context: dg.AssetExecutionContext, bigquery: BigQueryResource) -> Iterator[Any]:
        yield from body(context, bigquery)

    return materialize


def duckdb_compute(body: Body) -> Callable[..., Iterator[Any]]:
    """An asset body that receives the ``duckdb`` resource."""
    from sqlassets.dagster.resources import DuckDBEngineResource  # it imports this module

    def materialize(
        context: dg.AssetExecutionContext, duckdb: DuckDBEngineResource
    ) -> Iterator[Any]:
        yield from body(context, duckdb)

    return materialize


def resource_op(
    name: str,
    resource_key: str,
    description: str,
    body: Callable[[dg.OpExecutionContext, Any], Iterator[Any]],
) -> dg.OpDefinition:
    """An op running ``body`` with the resource under ``resource_key``."""

    @dg.op(name=name, required_resource_keys={resource_key}, description=description)
    def run(context: dg.OpExecutionContext) -> Iterator[Any]:
        yield from body(context, getattr(context.resources, resource_key))

    return run

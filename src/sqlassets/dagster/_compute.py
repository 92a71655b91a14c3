"""Asset bodies with resource parameters Dagster can inject.

Dagster reads these annotations at definition time, so this module must not
postpone them (no ``from __future__ import annotations``).
"""

import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import dagster as dg

Body = Callable[[dg.AssetExecutionContext, Any], Iterator[Any]]
F = TypeVar("F", bound=Callable[..., Any])
_signatures: dict[Any, inspect.Signature] = {}


def _with_shared_signature(fn: F) -> F:
    """``fn`` with its signature computed once for all functions of its code.

    Dagster reads an asset function's parameters and their annotations a dozen
    times while building its op (``inspect.signature`` each time, ~0.1 ms); an
    explicit ``__signature__``, which ``inspect`` and Dagster both honour, makes
    that a lookup. Thousands of asset bodies share one code object.
    """
    signature = _signatures.get(fn.__code__)
    if signature is None:
        signature = _signatures[fn.__code__] = inspect.signature(fn)
    fn.__signature__ = signature  # type: ignore[attr-defined]
    return fn


def bigquery_compute(body: Body) -> Callable[..., Iterator[Any]]:
    """An asset body that receives the ``bigquery`` resource (a ``BigQueryResource``)."""
    from dagster_gcp import BigQueryResource  # seconds to import: only for BigQuery targets

    def materialize(context: dg.AssetExecutionContext, bigquery: BigQueryResource) -> Iterator[Any]:
        yield from body(context, bigquery)

    return _with_shared_signature(materialize)


def duckdb_compute(body: Body) -> Callable[..., Iterator[Any]]:
    """An asset body that receives the ``duckdb`` resource."""
    from sqlassets.dagster.resources import DuckDBEngineResource  # it imports this module

    def materialize(
        context: dg.AssetExecutionContext, duckdb: DuckDBEngineResource
    ) -> Iterator[Any]:
        yield from body(context, duckdb)

    return _with_shared_signature(materialize)


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

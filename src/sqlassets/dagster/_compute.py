"""Asset and op bodies that take their engine's resource from the context.

A body declares the resource by key (``required_resource_keys``) rather than
by an annotated parameter: Dagster resolves an annotated parameter's type for
every asset it builds (signature, type hints, resource-type checks), a third
of a millisecond per asset that thousands of models pay in every process.

Dagster reads the ``context`` annotation at definition time, so this module
must not postpone annotations (no ``from __future__ import annotations``).
"""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

Body = Callable[[dg.AssetExecutionContext, Any], Iterator[Any]]


def resource_compute(body: Body, resource_key: str) -> Callable[..., Iterator[Any]]:
    """An asset function running ``body`` with the resource under ``resource_key``.

    The asset must require ``resource_key`` (``required_resource_keys``).
    """

    def materialize(context: dg.AssetExecutionContext) -> Iterator[Any]:
        yield from body(context, getattr(context.resources, resource_key))

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

"""Dagster's type resolution, answering a Dagster type at once.

Building an op, Dagster resolves the type of every input and output two or
three times (``AssetIn``, ``In``, ``InputDefinition``; ``Out``,
``OutputDefinition``) through ``resolve_dagster_type``, which first tests its
argument against a dozen ``typing`` forms (``get_origin``/``get_args`` each)
before it finds that a ``DagsterType`` is one, and returns it. An asset's
dependencies and checks are such inputs and outputs (``Nothing``): at 5,000
assets that is 90,000 resolutions and a fifth of the time Dagster takes to
build their definitions (bench/definitions_bench.py).

:func:`install` puts a function in front that returns a ``DagsterType``
argument as it is, what Dagster's own code returns for one (every test it
runs first is false for an instance; ``tests/test_type_resolution.py`` compares
both on Dagster's types), and hands everything else to Dagster's function.
It replaces the name in every loaded Dagster module that holds Dagster's
function, the one defining it included (Dagster's function calls ours only
through other functions, which hand anything else back to it); a module
loaded later keeps Dagster's function, which gives the same results.
"""

from __future__ import annotations

import sys
from typing import Any

from dagster._core.types import dagster_type

__all__ = ["install", "resolve_dagster_type"]

_dagsters = dagster_type.resolve_dagster_type
_DagsterType = dagster_type.DagsterType


def resolve_dagster_type(dagster_type: object) -> Any:
    """Dagster's ``resolve_dagster_type``, with a ``DagsterType`` returned as it is."""
    if isinstance(dagster_type, _DagsterType):
        return dagster_type
    return _dagsters(dagster_type)


def install() -> int:
    """Use :func:`resolve_dagster_type` in every loaded Dagster module (idempotent).

    Returns how many modules now use it.
    """
    installed = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("dagster") or module is None:
            continue
        found = getattr(module, "resolve_dagster_type", None)
        if found is _dagsters:
            module.resolve_dagster_type = resolve_dagster_type  # type: ignore[attr-defined]
        if found is _dagsters or found is resolve_dagster_type:
            installed += 1
    return installed

"""Engine adapters: the only code that knows engine differences or talks to a warehouse.

A target's ``engine`` names its adapter in :data:`ENGINES`; the adapter builds
itself from the target (:meth:`Engine.from_target`) and declares what differs
in its :class:`Capabilities`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from sqlassets.engines.base import (
    Capabilities,
    DryRunResult,
    Engine,
    JobContext,
    JobResult,
    Layout,
)
from sqlassets.errors import EngineError

if TYPE_CHECKING:
    from sqlassets.config import Config


class _Registry(Mapping[str, type[Engine]]):
    """Engine name → adapter class, each module imported on first use (clients are slow)."""

    def __init__(self, paths: Mapping[str, str]):
        self._paths = dict(paths)

    def __getitem__(self, name: str) -> type[Engine]:
        module, _, attribute = self._paths[name].rpartition(".")
        engine: type[Engine] = getattr(importlib.import_module(module), attribute)
        return engine

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


ENGINES: Mapping[str, type[Engine]] = _Registry(
    {
        "duckdb": "sqlassets.engines.duckdb.DuckDBEngine",
        "bigquery": "sqlassets.engines.bigquery.BigQueryEngine",
    }
)
"""The adapter class of each target ``engine``."""


def open_engine(config: Config, target: str | None = None) -> Engine:
    """The engine of ``target`` (default: the configured one). Connects lazily."""
    settings = config.target(target)
    return ENGINES[settings.engine].from_target(settings, config)


__all__ = [
    "ENGINES",
    "Capabilities",
    "DryRunResult",
    "Engine",
    "EngineError",
    "JobContext",
    "JobResult",
    "Layout",
    "open_engine",
]

"""Engine adapters: the only code that knows engine differences or talks to a warehouse.

A target's ``engine`` names its adapter in :data:`ENGINES`; the adapter builds
itself from the target (:meth:`Engine.from_target`) and declares what differs
in its :class:`Capabilities`.
"""

from __future__ import annotations

import importlib
import sys
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

    def loaded(self) -> list[type[Engine]]:
        """The adapters whose module is imported already (the only ones that can be running)."""
        found = []
        for path in self._paths.values():
            module, _, attribute = path.rpartition(".")
            if module in sys.modules:
                found.append(getattr(sys.modules[module], attribute))
        return found


_REGISTRY = _Registry(
    {
        "duckdb": "sqlassets.engines.duckdb.DuckDBEngine",
        "bigquery": "sqlassets.engines.bigquery.BigQueryEngine",
    }
)
ENGINES: Mapping[str, type[Engine]] = _REGISTRY
"""The adapter class of each target ``engine``."""


def interrupt_all() -> None:
    """Stop every running statement or job of every engine in this process; start none.

    Safe from any thread (a signal watcher, an executor whose run was
    terminated): each adapter's :meth:`Engine.interrupt_all`.
    """
    for engine in _REGISTRY.loaded():
        engine.interrupt_all()


def resume_all() -> None:
    """Accept statements again after :func:`interrupt_all`."""
    for engine in _REGISTRY.loaded():
        engine.resume_all()


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
    "interrupt_all",
    "open_engine",
    "resume_all",
]

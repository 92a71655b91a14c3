"""sqlassets: a folder of BigQuery SQL files as a Dagster asset graph.

Dagster is imported only when its names are used, so ``sqlassets lint``
stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sqlassets.dagster import (
        SqlAssetsComponent,
        SqlAssetsTranslator,
        build_definitions,
        make_threaded_executor,
        threaded_executor,
    )

__all__ = [
    "SqlAssetsComponent",
    "SqlAssetsTranslator",
    "build_definitions",
    "make_threaded_executor",
    "threaded_executor",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import sqlassets.dagster

        return getattr(sqlassets.dagster, name)
    raise AttributeError(f"module 'sqlassets' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster's component registry (this package is its `registry_modules` entry
    # point) lists a module's names with dir(): the lazy ones must be among them.
    return sorted({*globals(), *__all__})

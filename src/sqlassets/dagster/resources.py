"""Engine resources, and how an asset body opens its engine from one.

DuckDB assets share one engine (one connection) per file and process. BigQuery
assets take their client from dagster-gcp's ``BigQueryResource`` (see
:mod:`sqlassets.dagster.bigquery_resources`), imported only for BigQuery
targets because dagster-gcp takes seconds to import. What differs is keyed by
the engine's ``resource_key``, never by its class.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import dagster as dg
from pydantic import Field

from sqlassets.config import Config, Target
from sqlassets.engines import ENGINES
from sqlassets.engines.base import Engine
from sqlassets.engines.duckdb import DuckDBEngine

from ._compute import Body, bigquery_compute, duckdb_compute


class DuckDBEngineResource(dg.ConfigurableResource["DuckDBEngineResource"]):
    """The embedded DuckDB engine: one shared connection per database file and process."""

    database: str = Field(description="The DuckDB file (or :memory:).")
    gcs_root: str = Field(description="The folder standing for gs://.")

    _engines: ClassVar[dict[tuple[str, str], DuckDBEngine]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def get_engine(self) -> DuckDBEngine:
        """The shared engine for this database (opened on first use)."""
        key = (self.database, self.gcs_root)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = DuckDBEngine(self.database, self.gcs_root)
                self._engines[key] = engine
            return engine

    @classmethod
    def close_all(cls) -> None:
        """Close every shared connection (tests, and the end of `sqlassets run`)."""
        with cls._lock:
            for engine in cls._engines.values():
                engine.close()
            cls._engines.clear()


@dataclass(frozen=True)
class ChosenTarget:
    """The target definitions are built for, with its engine's adapter class."""

    name: str
    settings: Target
    config: Config

    @property
    def engine(self) -> type[Engine]:
        """The adapter class of the target's engine."""
        return ENGINES[self.settings.engine]


def _duckdb_resource(target: ChosenTarget) -> Any:
    # The engine resolves the target's paths; its connection is never opened here.
    engine = cast(DuckDBEngine, target.engine.from_target(target.settings, target.config))
    return DuckDBEngineResource(database=engine.database, gcs_root=str(engine.gcs_root))


@contextlib.contextmanager
def _duckdb_engine(resource: Any, target: ChosenTarget) -> Iterator[Engine]:
    yield cast(DuckDBEngineResource, resource).get_engine()


def _bigquery_resource(target: ChosenTarget) -> Any:
    from .bigquery_resources import bigquery_resource

    return bigquery_resource(target.settings)


@contextlib.contextmanager
def _client_engine(resource: Any, target: ChosenTarget) -> Iterator[Engine]:
    with resource.get_client() as client:
        engine = target.engine.from_target(target.settings, target.config, client=client)
        try:
            yield engine
        finally:
            engine.close()


@dataclass(frozen=True)
class _Binding:
    """How assets of one engine get it from the resource under its ``resource_key``."""

    default_resource: Callable[[ChosenTarget], Any]
    open_engine: Callable[[Any, ChosenTarget], contextlib.AbstractContextManager[Engine]]
    compute: Callable[[Body], Callable[..., Iterator[Any]]]
    """Wraps an asset body in a function whose parameter Dagster fills with the resource."""


_BINDINGS = {
    "duckdb": _Binding(_duckdb_resource, _duckdb_engine, duckdb_compute),
    "bigquery": _Binding(_bigquery_resource, _client_engine, bigquery_compute),
}


def default_resources(target: ChosenTarget) -> dict[str, Any]:
    """The resource the target's assets need, made from the target's settings."""
    key = target.engine.resource_key
    return {key: _BINDINGS[key].default_resource(target)}


def open_engine(resource: Any, target: ChosenTarget) -> contextlib.AbstractContextManager[Engine]:
    """The engine an asset body runs on, from the resource Dagster gave it."""
    return _BINDINGS[target.engine.resource_key].open_engine(resource, target)


def compute(body: Body, target: ChosenTarget) -> Callable[..., Iterator[Any]]:
    """``body`` as an asset function that receives the target's resource."""
    return _BINDINGS[target.engine.resource_key].compute(body)


def release_shared_engines() -> None:
    """Close the engines resources share across runs (the end of ``sqlassets run``)."""
    DuckDBEngineResource.close_all()

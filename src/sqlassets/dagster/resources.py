"""The DuckDB engine resource: one shared engine (one connection) per file and process.

BigQuery assets take their client from dagster-gcp's ``BigQueryResource``
(see :mod:`sqlassets.dagster.bigquery_resources`), imported only for
BigQuery targets because dagster-gcp takes seconds to import.
"""

from __future__ import annotations

import threading
from typing import ClassVar

import dagster as dg
from pydantic import Field

from sqlassets.engines.duckdb import DuckDBEngine


class DuckDBEngineResource(dg.ConfigurableResource):
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

"""Resources: where the engines come from inside Dagster.

BigQuery assets take their client from dagster-gcp's ``BigQueryResource``
under the key ``bigquery`` — the resource Dagster users already configure.
:class:`BigQueryEmulatorResource` only adds an emulator endpoint. DuckDB
assets share one engine (one connection) per database file and process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
from dagster_gcp import BigQueryResource
from google.cloud import bigquery
from pydantic import Field

from sqlassets.engines.duckdb import DuckDBEngine


class BigQueryEmulatorResource(BigQueryResource):
    """``BigQueryResource`` pointed at a BigQuery emulator (anonymous credentials)."""

    api_endpoint: str = Field(description="The emulator's URL, e.g. http://127.0.0.1:9050.")

    @contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        """A client on the emulator endpoint."""
        from google.auth.credentials import AnonymousCredentials

        yield bigquery.Client(
            project=self.project,
            location=self.location,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.api_endpoint},
        )


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

"""The Dagster integration: the only package that imports Dagster."""

from sqlassets.dagster.component import SqlAssetsComponent
from sqlassets.dagster.definitions import build_definitions, definitions_for, project_definitions
from sqlassets.dagster.executor import (
    ThreadedExecutor,
    make_threaded_executor,
    materialize_in_threads,
    threaded_executor,
)
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.translator import SqlAssetsTranslator


def __getattr__(name: str) -> object:
    # dagster-gcp takes seconds to import: only for those who use BigQuery.
    if name == "BigQueryEmulatorResource":
        from sqlassets.dagster.bigquery_resources import BigQueryEmulatorResource

        return BigQueryEmulatorResource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BigQueryEmulatorResource",
    "DuckDBEngineResource",
    "SqlAssetsComponent",
    "SqlAssetsTranslator",
    "ThreadedExecutor",
    "build_definitions",
    "definitions_for",
    "make_threaded_executor",
    "materialize_in_threads",
    "project_definitions",
    "threaded_executor",
]

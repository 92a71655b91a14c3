"""The Dagster integration: the only package that imports Dagster."""

from sqlassets.dagster.component import SqlAssetsComponent
from sqlassets.dagster.definitions import build_definitions, definitions_for, progress_hook
from sqlassets.dagster.resources import BigQueryEmulatorResource, DuckDBEngineResource
from sqlassets.dagster.translator import SqlAssetsTranslator

__all__ = [
    "BigQueryEmulatorResource",
    "DuckDBEngineResource",
    "SqlAssetsComponent",
    "SqlAssetsTranslator",
    "build_definitions",
    "definitions_for",
    "progress_hook",
]

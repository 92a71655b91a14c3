"""sqlassets: a folder of BigQuery SQL files as a Dagster asset graph."""

__version__ = "0.1.0"

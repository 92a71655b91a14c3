"""Stable diagnostic codes.

Codes never change meaning once released. Lint codes (SA1xx-SA4xx, SA900) are
documented in ``sqlassets.lint.rules``; runtime codes (:data:`RUNTIME_CODES`)
are carried by the exceptions of :mod:`sqlassets.errors`.
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    """Every diagnostic code sqlassets emits."""

    INTERNAL = "SA000"
    """An error without a more precise code (a project that cannot be used)."""

    SYNTAX = "SA100"
    """The SQL body does not parse."""
    UNKNOWN_DIRECTIVE = "SA101"
    """A header directive with an unknown key."""
    INVALID_VALUE = "SA102"
    """A header directive whose value is invalid."""
    REPEATED_DIRECTIVE = "SA103"
    """A non-repeatable directive given twice."""
    CONFLICT = "SA104"
    """Directives that contradict each other or the materialization."""
    MISPLACED_DIRECTIVE = "SA105"
    """A directive-like comment outside the header, or a malformed directive line."""
    INVALID_NAME = "SA106"
    """A model name (from the path or ``@name``) that is not ``dataset.table``."""
    BODY_SHAPE = "SA107"
    """The body is not one query (or, for ``load``, is not empty)."""
    FRESHNESS = "SA108"
    """A freshness rule (``@freshness``, or a source's in the configuration) that is invalid."""
    LANDING_UNPARTITIONED = "SA109"
    """``@sensor``, ``@retention_days`` or an append on a load whose files are not by partition."""
    LANDING_URIS_SHARED = "SA110"
    """A sensed, cleaned-up or appending load whose URIs name the same files for two partitions."""
    MERGE_WITHOUT_UNIQUE_KEY = "SA201"
    INSERT_OVERWRITE_WITHOUT_PARTITIONING = "SA202"
    TIME_PARTITIONS_WITHOUT_START = "SA203"
    BIGQUERY_LIMITS = "SA204"
    """A table heading past 10,000 partitions, or a load past 10,000 URIs (a warning)."""
    WINDOW_NOT_READ = "SA301"
    WINDOW_PARAMETER_UNPARTITIONED = "SA302"
    COLUMN_NOT_IN_OUTPUT = "SA303"
    SELECT_STAR = "SA304"
    UNKNOWN_PARAMETER = "SA305"
    PARTITION_COLUMN_TYPE = "SA306"
    """``@partition_by`` on a column whose type BigQuery cannot partition that way."""
    CYCLE = "SA401"
    DUPLICATE_NAME = "SA402"
    SELF_REFERENCE = "SA403"
    CONFIG = "SA900"
    NO_SQL_DIR = "SA901"
    """The project's SQL folder does not exist (raised: there is nothing to lint)."""
    WINDOW = "SA501"
    """A requested partition or window does not exist for the model."""
    STRATEGY = "SA502"
    """A model cannot be turned into statements."""
    SELECTION = "SA503"
    """A selector selects nothing, or names an unknown model."""
    SCHEMA_CHANGE = "SA504"
    """A query's columns or layout no longer match its existing table."""
    ENGINE = "SA600"
    """A statement failed on the warehouse."""


RUNTIME_CODES = frozenset(
    {
        Code.INTERNAL,
        Code.NO_SQL_DIR,
        Code.WINDOW,
        Code.STRATEGY,
        Code.SELECTION,
        Code.SCHEMA_CHANGE,
        Code.ENGINE,
    }
)
"""Codes raised (by every command, lint included), not reported as findings.

SA901: with no SQL folder there is no project to lint.
"""

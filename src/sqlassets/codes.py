"""Stable diagnostic codes.

Codes never change meaning once released; ``sqlassets lint`` documents each
one in its rule module (``sqlassets.lint.rules``).
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    """Every diagnostic code sqlassets emits."""

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
    MERGE_WITHOUT_UNIQUE_KEY = "SA201"
    INSERT_OVERWRITE_WITHOUT_PARTITIONING = "SA202"
    TIME_PARTITIONS_WITHOUT_START = "SA203"
    WINDOW_NOT_READ = "SA301"
    WINDOW_PARAMETER_UNPARTITIONED = "SA302"
    COLUMN_NOT_IN_OUTPUT = "SA303"
    SELECT_STAR = "SA304"
    UNKNOWN_PARAMETER = "SA305"
    CYCLE = "SA401"
    DUPLICATE_NAME = "SA402"
    SELF_REFERENCE = "SA403"
    CONFIG = "SA900"

"""The names of the parameters a partitioned model reads its window through.

One definition for every layer: the spec (which templates and lint rules accept
them), the window (their values), the strategies (window predicates) and lint.
"""

from __future__ import annotations

START_DATE = "start_date"
"""First day of the window (DATE, inclusive)."""
END_DATE = "end_date"
"""Day after the window (DATE, exclusive)."""
START_TS = "start_ts"
"""Start of the window (TIMESTAMP, inclusive)."""
END_TS = "end_ts"
"""End of the window (TIMESTAMP, exclusive)."""
PARTITION_KEY = "partition_key"
"""The static partition's key (STRING)."""

WINDOW_PARAMETERS = frozenset({START_DATE, END_DATE, START_TS, END_TS})
"""What a time-partitioned model may read."""
KEY_PARAMETER = PARTITION_KEY
"""What a static-partitioned model reads."""
PARAMETERS = WINDOW_PARAMETERS | {KEY_PARAMETER}
"""Every parameter name sqlassets binds."""

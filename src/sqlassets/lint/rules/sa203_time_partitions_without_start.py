"""Time partitions without ``@start``.

Time partitions run from a first partition onwards; without it there is no
partition to run or backfill.

Anti-pattern::

    -- @partitions: daily

Fix::

    -- @partitions: daily
    -- @start: 2024-01-01
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(
    Code.TIME_PARTITIONS_WITHOUT_START,
    "time-partitions-without-start",
    __doc__,
    reported(Code.TIME_PARTITIONS_WITHOUT_START),
)

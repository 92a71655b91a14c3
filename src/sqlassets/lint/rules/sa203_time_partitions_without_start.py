"""Time partitions without ``@start``.

Time partitions run from a first partition onwards; without it there is no
partition to run or backfill.

Anti-pattern::

    -- @partitions: daily

Fix::

    -- @partitions: daily
    -- @start: 2024-01-01

Implemented by ``sqlassets.spec.invariants.time_partitions_without_start``,
which the spec builder applies while the project loads; this rule reports
what it finds.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(
    Code.TIME_PARTITIONS_WITHOUT_START,
    __doc__,
    "sqlassets.spec.invariants.time_partitions_without_start",
)

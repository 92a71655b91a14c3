"""An insert_overwrite model without ``@partition_by`` or ``@partitions``.

insert_overwrite replaces exactly the run's window of a partitioned table: it
needs the table's partitioning and time partitions that define the window.

Anti-pattern::

    -- @materialized: insert_overwrite
    -- @partitions: daily

Fix::

    -- @materialized: insert_overwrite
    -- @partition_by: order_date
    -- @partitions: daily
    -- @start: 2024-01-01
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(
    Code.INSERT_OVERWRITE_WITHOUT_PARTITIONING,
    "insert-overwrite-without-partitioning",
    __doc__,
    reported(Code.INSERT_OVERWRITE_WITHOUT_PARTITIONING),
)

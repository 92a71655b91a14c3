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

Implemented by
``sqlassets.spec.invariants.insert_overwrite_without_partitioning``, a field
invariant the spec builder (and ``ModelSpec``) applies while the project
loads; this rule reports what it finds.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(
    Code.INSERT_OVERWRITE_WITHOUT_PARTITIONING,
    __doc__,
    "sqlassets.spec.invariants.insert_overwrite_without_partitioning",
)

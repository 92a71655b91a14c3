"""A table, view or load model that reads its own table.

``CREATE OR REPLACE`` of a table or view from itself reads the previous
version (or fails on the first run); only merge and insert_overwrite models,
whose table is created before their query runs, may read themselves.

Anti-pattern::

    -- @name: marts.orders
    SELECT ... FROM marts.orders

Fix: read the upstream tables instead, or make the model incremental.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.SELF_REFERENCE, "self-reference", __doc__, reported(Code.SELF_REFERENCE))

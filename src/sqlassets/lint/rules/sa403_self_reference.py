"""A table, view or load model that reads its own table.

``CREATE OR REPLACE`` of a table or view from itself reads the previous
version (or fails on the first run); only merge and insert_overwrite models,
whose table is created before their query runs, may read themselves.

Anti-pattern::

    -- @name: marts.orders
    SELECT ... FROM marts.orders

Fix: read the upstream tables instead, or make the model incremental.

Implemented by ``sqlassets.graph.self_references``, applied while the graph
is built; this rule reports what it finds.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(Code.SELF_REFERENCE, __doc__, "sqlassets.graph.self_references")

"""Two files define the same model.

Each ``dataset.table`` is one asset; two files for it (through ``@name`` or
the same path under different folders) would overwrite each other.

Anti-pattern: ``sql/marts/orders.sql`` and a file with ``-- @name: marts.orders``.

Fix: rename one file or change its ``@name``.

Implemented by ``sqlassets.graph.duplicate_names``, applied while the graph
is built (the graph keeps the first file by path); this rule reports what it
finds.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(Code.DUPLICATE_NAME, __doc__, "sqlassets.graph.duplicate_names")

"""Two files define the same model, or spell one dataset in two cases.

Each ``dataset.table`` is one asset; two files for it (through ``@name`` or
the same path under different folders) would overwrite each other. Names are
compared ignoring case, because DuckDB, always a possible target, does:
``raw/Customers.sql`` and ``raw/customers.sql`` are one table there. For the
same reason a dataset is spelled one way in every file: ``RAW`` and ``raw``
are one schema on DuckDB and two datasets on BigQuery.

Anti-pattern: ``sql/marts/orders.sql`` and a file with ``-- @name: marts.orders``;
``sql/raw/Customers.sql`` next to ``sql/raw/customers.sql``; ``sql/RAW/a.sql``
next to ``sql/raw/b.sql``.

Fix: rename one file or change its ``@name``; spell each dataset the same way.

Implemented by ``sqlassets.graph.duplicate_names`` and
``sqlassets.graph.dataset_spellings``, applied while the graph is built (the
graph keeps the first file by path); this rule reports what they find.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(
    Code.DUPLICATE_NAME,
    __doc__,
    "sqlassets.graph.duplicate_names",
    "sqlassets.graph.dataset_spellings",
)

"""The model has no valid ``dataset.table`` name.

The name comes from the path, ``sql/<dataset>/<table>.sql``, or from
``@name``. Dataset and table names are letters, digits and underscores.

Anti-pattern: ``sql/orders.sql`` (no dataset folder) or ``sql/my-data/orders.sql``.

Fix: move the file to ``sql/<dataset>/<table>.sql`` or set ``-- @name: dataset.table``.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.INVALID_NAME, "invalid-model-name", __doc__, reported(Code.INVALID_NAME))

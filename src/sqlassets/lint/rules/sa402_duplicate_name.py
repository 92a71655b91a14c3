"""Two files define the same model.

Each ``dataset.table`` is one asset; two files for it (through ``@name`` or
the same path under different folders) would overwrite each other.

Anti-pattern: ``sql/marts/orders.sql`` and a file with ``-- @name: marts.orders``.

Fix: rename one file or change its ``@name``.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.DUPLICATE_NAME, "duplicate-model-name", __doc__, reported(Code.DUPLICATE_NAME))

"""A merge model without ``@unique_key``.

A merge matches incoming rows to existing ones on the unique key; without it
there is nothing to match on.

Anti-pattern::

    -- @materialized: merge

Fix::

    -- @materialized: merge
    -- @unique_key: customer_id
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(
    Code.MERGE_WITHOUT_UNIQUE_KEY,
    "merge-without-unique-key",
    __doc__,
    reported(Code.MERGE_WITHOUT_UNIQUE_KEY),
)

"""A merge model without ``@unique_key``.

A merge matches incoming rows to existing ones on the unique key; without it
there is nothing to match on.

Anti-pattern::

    -- @materialized: merge

Fix::

    -- @materialized: merge
    -- @unique_key: customer_id

Implemented by ``sqlassets.spec.invariants.merge_without_unique_key``, which
the spec builder applies while the project loads (a merge without a key has
no spec to lint later); this rule reports what it finds.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(
    Code.MERGE_WITHOUT_UNIQUE_KEY, __doc__, "sqlassets.spec.invariants.merge_without_unique_key"
)

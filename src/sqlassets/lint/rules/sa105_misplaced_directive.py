"""A directive outside the header, or a header line that looks like a broken directive.

The header ends at the first line that is not a ``--`` comment (a blank line
included); a ``-- @key: value`` line after that would be ignored.

Anti-pattern::

    -- @materialized: table

    -- @partition_by: order_date
    SELECT ...

Fix: keep every directive in the one leading block of ``--`` lines.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(
    Code.MISPLACED_DIRECTIVE, "misplaced-directive", __doc__, reported(Code.MISPLACED_DIRECTIVE)
)

"""A directive that may appear once is given twice.

Only ``@check`` repeats; for any other key the second line would silently win
or lose, so it is an error.

Anti-pattern::

    -- @partition_by: order_date
    -- @partition_by: DATE(created_at)

Fix: keep one of the two lines.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(
    Code.REPEATED_DIRECTIVE, "repeated-directive", __doc__, reported(Code.REPEATED_DIRECTIVE)
)

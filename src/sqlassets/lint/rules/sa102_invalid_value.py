"""A header directive whose value is not valid for its key.

Covers every value rule of the header: materializations, partitioning
expressions, dates, cron schedules, check syntax, labels, URIs and so on.
The finding points at the value (or the part of it that is wrong).

Anti-pattern::

    -- @partitions: daly
    -- @schedule: 0 3 * *

Fix::

    -- @partitions: daily
    -- @schedule: 0 3 * * *
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.INVALID_VALUE, "invalid-value", __doc__, reported(Code.INVALID_VALUE))

"""Directives that contradict each other or the materialization.

Examples: ``@unique_key`` on a model that is not a merge, ``@uris`` on a
model that is not a load, partitions on a view, ``@end`` before ``@start``,
``@start`` with static partitions, a load without ``@uris``, a partitioned
``table`` (each run would erase the other partitions).

Anti-pattern::

    -- @materialized: view
    -- @partitions: daily

Fix: drop the directive that does not apply, or change ``@materialized``.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.CONFLICT, "conflicting-directives", __doc__, reported(Code.CONFLICT))

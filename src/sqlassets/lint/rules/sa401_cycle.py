"""A dependency cycle.

Models that read each other in a loop have no order to run in. The finding
names the whole cycle and points, in each model, at the read of the next one.

Anti-pattern: ``marts.a`` reads ``marts.b``, which reads ``marts.a``.

Fix: remove one of the reads (often a derived table belongs upstream of both).
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.CYCLE, "dependency-cycle", __doc__, reported(Code.CYCLE))

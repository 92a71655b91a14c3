"""A dependency cycle.

Models that read each other in a loop have no order to run in. The finding
names the whole cycle and points, in each model, at the read of the next one.

Anti-pattern: ``marts.a`` reads ``marts.b``, which reads ``marts.a``.

Fix: remove one of the reads (often a derived table belongs upstream of both).

Implemented by ``sqlassets.graph.dependency_cycles``, applied while the graph
is built (models on or downstream of a cycle get no run order); this rule
reports what it finds.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

RULE = load_rule(Code.CYCLE, __doc__, "sqlassets.graph.dependency_cycles")

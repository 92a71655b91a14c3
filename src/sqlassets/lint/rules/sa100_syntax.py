"""The SQL body does not parse as BigQuery SQL.

The finding points at the token where the parser stopped (or at the opening
quote of an unterminated string, identifier or comment).

Anti-pattern::

    SELECT order_id, FROM raw.orders WHERE

Fix: complete or correct the statement; it must run as-is in the BigQuery
console (apart from the ``@start_date``-style partition parameters).
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.SYNTAX, "sql-syntax", __doc__, reported(Code.SYNTAX))

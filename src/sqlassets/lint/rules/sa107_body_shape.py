"""The body is not one query (or a load model has one).

sqlassets writes the table itself, so the body is a single ``SELECT`` (or
``WITH … SELECT``), optionally after ``CREATE TEMP FUNCTION`` statements. A
``load`` model has no body.

Anti-pattern::

    CREATE OR REPLACE TABLE marts.orders AS SELECT ...

Fix: keep only the ``SELECT``; declare how it is written with ``@materialized``.
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.BODY_SHAPE, "body-shape", __doc__, reported(Code.BODY_SHAPE))

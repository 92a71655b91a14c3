"""``@partition_by`` on a column whose type BigQuery cannot partition that way.

A bare column must be DATE; ``DATE(ts)`` takes a TIMESTAMP or DATETIME;
``TIMESTAMP_TRUNC``, ``DATETIME_TRUNC`` and ``DATE_TRUNC`` each take their own
type. DuckDB runs such a model, BigQuery refuses its DDL and its window filter
(TIMESTAMP compared with DATE). Lint finds it when the type shows in the final
projection (a typed literal, a ``CAST``, a typed function); runs and ``plan``
check the query's schema on every engine before any job is sent.

Anti-pattern::

    -- @partition_by: ts
    SELECT CAST(created_at AS TIMESTAMP) AS ts, amount FROM ...

Fix: ``@partition_by: DATE(ts)`` (or ``TIMESTAMP_TRUNC(ts, HOUR)`` for hourly
partitions), or cast in the query (``DATE(created_at) AS ts``).
"""

from collections.abc import Iterator

import sqlglot
from sqlglot import expressions as exp
from sqlglot.optimizer.annotate_types import annotate_types

from sqlassets.codes import Code
from sqlassets.dialect import DIALECT
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule, per_model
from sqlassets.loader import Model


def projection_type(sql: str, column: str) -> str | None:
    """The BigQuery type of output ``column`` when the projection alone shows it."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except sqlglot.errors.ParseError:
        return None
    query = statements[-1] if statements else None
    while isinstance(query, exp.SetOperation):
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    for projection in query.expressions:
        if projection.alias_or_name.lower() != column.lower():
            continue
        value = projection.this if isinstance(projection, exp.Alias) else projection
        typed = annotate_types(value.copy(), dialect=DIALECT)
        kind = typed.type
        if kind is None or kind.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
            return None
        return str(kind.sql(DIALECT))
    return None


def check_model(model: Model) -> Iterator[Diagnostic]:
    """A partitioning that does not fit the type the projection gives its column."""
    partition_by = model.spec.partition_by
    if partition_by is None:
        return
    kind = projection_type(model.sql, partition_by.column)
    problem = partition_by.type_problem(kind) if kind else None
    if problem is not None:
        yield Diagnostic(
            Code.PARTITION_COLUMN_TYPE, problem, model.spec.location_of("partition_by")
        )


RULE = Rule(Code.PARTITION_COLUMN_TYPE, __doc__, per_model(check_model))

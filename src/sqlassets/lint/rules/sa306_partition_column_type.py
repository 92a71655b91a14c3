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

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule, per_model
from sqlassets.loader import Model


def check_model(model: Model) -> Iterator[Diagnostic]:
    """A partitioning that does not fit the type the projection gives its column."""
    partition_by = model.spec.partition_by
    if partition_by is None:
        return
    # The loader typed the partition column from its one parse of the file.
    typed = model.analysis.typed_column if model.analysis else None
    kind = typed[1] if typed is not None and typed[0] == partition_by.column else None
    problem = partition_by.type_problem(kind) if kind else None
    if problem is not None:
        yield Diagnostic(
            Code.PARTITION_COLUMN_TYPE, problem, model.spec.location_of("partition_by")
        )


RULE = Rule(Code.PARTITION_COLUMN_TYPE, __doc__, per_model(check_model))

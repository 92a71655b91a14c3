"""``@partition_by`` on a column whose type BigQuery cannot partition that way.

A bare column must be DATE; ``DATE(ts)`` takes a TIMESTAMP or DATETIME;
``TIMESTAMP_TRUNC``, ``DATETIME_TRUNC`` and ``DATE_TRUNC`` each take their own
type. DuckDB runs such a model, BigQuery refuses its DDL and its window filter
(TIMESTAMP compared with DATE). Lint finds it when the type shows offline: in
the final projection (a typed literal, a ``CAST``, a typed function), or in
the output of the model the column is read from (``SELECT ts FROM
staging.events`` where ``staging.events`` casts ``ts`` to TIMESTAMP), traced
through CTEs, subqueries, joins and stars (:class:`ColumnTypes`). A column of
an external source or of a load (typed by its files) has no known type here:
runs and ``plan`` check the query's schema (its dry run) on every engine
before any job is sent, and a staged load the files' columns before its
transaction (``sqlassets.runner.schema.check_partition_type``).

Anti-pattern::

    -- @partition_by: ts
    SELECT CAST(created_at AS TIMESTAMP) AS ts, amount FROM ...

Fix: ``@partition_by: DATE(ts)`` (or ``TIMESTAMP_TRUNC(ts, HOUR)`` for hourly
partitions), or cast in the query (``DATE(created_at) AS ts``).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.column_types import ColumnTypes
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule
from sqlassets.project import Project


def check_project(project: Project) -> Iterator[Diagnostic]:
    """Each partitioning that does not fit the type its column is known to have."""
    types = ColumnTypes(project.models)
    for model in project.models.values():
        partition_by = model.spec.partition_by
        if partition_by is None or model.analysis is None:
            continue
        found = types.of(model.name, partition_by.column)
        problem = partition_by.type_problem(found.type) if found is not None else None
        if problem is None or found is None:
            continue
        if found.model != model.name:
            problem += (
                f" (`{partition_by.column}` comes from {found.model}, where it is {found.type})"
            )
        yield Diagnostic(
            Code.PARTITION_COLUMN_TYPE, problem, model.spec.location_of("partition_by")
        )


RULE = Rule(Code.PARTITION_COLUMN_TYPE, __doc__, check_project)

"""A model's checks as one single-row query: each check's failure count (or the row count)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import expressions as exp

from sqlassets.spec import (
    TARGET_ALIAS,
    AcceptedValuesCheck,
    CheckSpec,
    ExpressionCheck,
    ModelSpec,
    NotNullCheck,
    RowCountCheck,
    UniqueCheck,
)
from sqlassets.window import QueryParameter, Window

from .common import bound_parameters, on_target, subquery, window_condition


@dataclass(frozen=True)
class ChecksQuery:
    """Every check of a model as one remote query: one scan, one row, a column per check.

    BigQuery bills each scan of the table (at least 10 MB per table a query
    reads), and each job has its own latency: a job per check would multiply both.
    """

    checks: tuple[CheckSpec, ...]
    query: exp.Select
    parameters: tuple[QueryParameter, ...]
    scoped: bool
    """Whether the query covers only the run's window (else the whole table)."""

    def rows(self, row: Mapping[str, object]) -> list[dict[str, int]]:
        """Each check's own row from the query's: ``{"failures": n}`` or ``{"row_count": n}``."""
        return [
            {_ROW_COUNT if isinstance(check, RowCountCheck) else _FAILURES: _count(row[check.name])}
            for check in self.checks
        ]

    @staticmethod
    def passed(check: CheckSpec, row: Mapping[str, int]) -> bool:
        """Whether ``row``, the check's own row (see :meth:`rows`), means ``check`` holds."""
        if isinstance(check, RowCountCheck):
            count = row[_ROW_COUNT]
            low = check.min if check.min is not None else 0
            return low <= count and (check.max is None or count <= check.max)
        return row[_FAILURES] == 0


def _count(value: object) -> int:
    """A count column of a check's row (NULL when the table is empty)."""
    if value is None:
        return 0
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"a check returned {value!r} where a count was expected")


def _column(name: str) -> exp.Column:
    return exp.column(name, table=TARGET_ALIAS)


_FAILURES = "failures"
_ROW_COUNT = "row_count"
_DUPLICATE = "_sqlassets_{}"
"""The row number of a row among those sharing a unique check's key (2: a duplicate key)."""


def _not_null(check: NotNullCheck) -> exp.Expr:
    return exp.CountIf(
        this=exp.or_(*(exp.Is(this=_column(c), expression=exp.null()) for c in check.columns))
    )


def _unique(check: UniqueCheck) -> exp.Expr:
    """Keys that repeat: each has exactly one row numbered 2 among the rows sharing it."""
    return exp.CountIf(
        this=exp.EQ(this=_column(_DUPLICATE.format(check.name)), expression=exp.Literal.number(2))
    )


def _accepted_values(check: AcceptedValuesCheck) -> exp.Expr:
    values = [_value_literal(value) for value in check.values]
    outside = exp.and_(
        exp.Not(this=exp.Is(this=_column(check.column), expression=exp.null())),
        exp.Not(this=exp.In(this=_column(check.column), expressions=values)),
    )
    return exp.CountIf(this=outside)


def _row_count(check: RowCountCheck) -> exp.Expr:
    return exp.Count(this=exp.Star())


def _expression(check: ExpressionCheck) -> exp.Expr:
    condition = on_target(check.sql, f"check `{check.name}`")
    return exp.CountIf(this=exp.Not(this=exp.Paren(this=condition)))


_COUNTS: dict[type, Callable[[Any], exp.Expr]] = {
    NotNullCheck: _not_null,
    UniqueCheck: _unique,
    AcceptedValuesCheck: _accepted_values,
    RowCountCheck: _row_count,
    ExpressionCheck: _expression,
}
"""The aggregate of each kind of check: its failures (or rows) among the checked rows."""


def checks_query(spec: ModelSpec, table: exp.Table, window: Window) -> ChecksQuery | None:
    """The single-row query of every check of ``spec`` over the materialized window of ``table``.

    The window applies when the model is time-partitioned with ``@partition_by``
    (the same condition the overwrite uses, a partition filter BigQuery prunes
    with); otherwise the whole table is checked. ``unique`` checks number the
    rows of each key (``ROW_NUMBER() OVER (PARTITION BY key)``) in a subquery
    over the same scan. None when the model has no checks.
    """
    if not spec.checks:
        return None
    source = table.copy()
    source.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    condition: exp.Expr | None = None
    if spec.partition_by is not None and window.is_time:
        condition = window_condition(spec.partition_by, TARGET_ALIAS)
    counts = [
        exp.alias_(_COUNTS[type(check)](check), exp.to_identifier(check.name))
        for check in spec.checks
    ]
    numbered = [
        exp.alias_(
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[_column(column) for column in check.columns],
            ),
            exp.to_identifier(_DUPLICATE.format(check.name)),
        )
        for check in spec.checks
        if isinstance(check, UniqueCheck)
    ]
    rows: exp.Select | exp.Table = source
    if numbered:
        # The columns the checks read, by name: BigQuery bills each column a query reads.
        read = [_column(name) for name in _columns_read(counts)]
        rows = exp.select(*read, *numbered).from_(source)
        if condition is not None:
            rows = rows.where(condition)
    query = exp.select(*counts).from_(
        subquery(rows, TARGET_ALIAS) if isinstance(rows, exp.Select) else rows
    )
    if condition is not None and not numbered:
        query = query.where(condition)
    return ChecksQuery(spec.checks, query, bound_parameters(query, window), condition is not None)


def _columns_read(counts: Sequence[exp.Expr]) -> list[str]:
    """The target columns ``counts`` read, in order, each once.

    A column on :data:`TARGET_ALIAS` is the target's; so is the head of a path
    (``address.city``: a struct column) that no alias inside the check defines.
    """
    names: dict[str, str] = {}
    for count in counts:
        local = {
            name.lower()
            for alias in count.find_all(exp.TableAlias)
            for name in (alias.name, *(column.name for column in alias.columns))
            if name
        }
        for column in count.find_all(exp.Column):
            parts = column.parts
            if len(parts) > 1 and parts[0].name == TARGET_ALIAS:
                name = parts[1].name
            elif len(parts) > 1 and parts[0].name.lower() not in local:
                name = parts[0].name
            else:
                continue
            if not name.startswith(_DUPLICATE.format("")):
                names.setdefault(name.lower(), name)
    return list(names.values())


def _value_literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))

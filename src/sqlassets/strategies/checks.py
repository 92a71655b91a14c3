"""Checks as single-row queries: a failure count (or a row count) over the window."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import expressions as exp

from sqlassets.dialect import DIALECT
from sqlassets.spec import (
    AcceptedValuesCheck,
    CheckSpec,
    ExpressionCheck,
    ModelSpec,
    NotNullCheck,
    RowCountCheck,
    UniqueCheck,
)
from sqlassets.window import QueryParameter, Window

from .body import refuse_side_effects
from .common import TARGET_ALIAS, bound_parameters, window_condition


@dataclass(frozen=True)
class CheckQuery:
    """A check as one remote query returning exactly one row."""

    check: CheckSpec
    query: exp.Select
    parameters: tuple[QueryParameter, ...]
    scoped: bool
    """Whether the query covers only the run's window (else the whole table)."""

    def passed(self, row: Mapping[str, object]) -> bool:
        """Whether the row the query returned means the check holds."""
        if isinstance(self.check, RowCountCheck):
            count = _count(row["row_count"])
            low = self.check.min if self.check.min is not None else 0
            return low <= count and (self.check.max is None or count <= self.check.max)
        return _count(row["failures"]) == 0


def _count(value: object) -> int:
    """A count column of a check's row (NULL when the table is empty)."""
    if value is None:
        return 0
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"a check returned {value!r} where a count was expected")


@dataclass(frozen=True)
class _Scope:
    """The checked table (aliased) and the window predicate, if the check is scoped."""

    source: exp.Table
    condition: exp.Expr | None

    def column(self, name: str) -> exp.Column:
        return exp.column(name, table=TARGET_ALIAS)

    def select(self, *expressions: exp.Expr) -> exp.Select:
        """``SELECT … FROM table [WHERE in window]``."""
        select = exp.select(*expressions).from_(self.source)
        return select.where(self.condition) if self.condition is not None else select


_FAILURES = "failures"


def _not_null(check: NotNullCheck, scope: _Scope) -> exp.Select:
    nulls = exp.or_(*(exp.Is(this=scope.column(c), expression=exp.null()) for c in check.columns))
    return scope.select(exp.alias_(exp.CountIf(this=nulls), exp.to_identifier(_FAILURES)))


def _unique(check: UniqueCheck, scope: _Scope) -> exp.Select:
    keys = [scope.column(c) for c in check.columns]
    duplicates = (
        scope.select(*keys)
        .group_by(*keys)
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    return exp.select(exp.alias_(exp.Count(this=exp.Star()), exp.to_identifier(_FAILURES))).from_(
        exp.Subquery(this=duplicates, alias=exp.TableAlias(this=exp.to_identifier("_d")))
    )


def _accepted_values(check: AcceptedValuesCheck, scope: _Scope) -> exp.Select:
    values = [_value_literal(value) for value in check.values]
    outside = exp.and_(
        exp.Not(this=exp.Is(this=scope.column(check.column), expression=exp.null())),
        exp.Not(this=exp.In(this=scope.column(check.column), expressions=values)),
    )
    return scope.select(exp.alias_(exp.CountIf(this=outside), exp.to_identifier(_FAILURES)))


def _row_count(check: RowCountCheck, scope: _Scope) -> exp.Select:
    return scope.select(exp.alias_(exp.Count(this=exp.Star()), "row_count"))


def _expression(check: ExpressionCheck, scope: _Scope) -> exp.Select:
    condition = sqlglot.parse_one(check.sql, read=DIALECT)
    refuse_side_effects([condition], f"check `{check.name}`")
    qualified = condition.transform(
        lambda node: (
            scope.column(node.name) if isinstance(node, exp.Column) and not node.table else node
        )
    )
    failing = exp.CountIf(this=exp.Not(this=exp.Paren(this=qualified)))
    return scope.select(exp.alias_(failing, exp.to_identifier(_FAILURES)))


_QUERIES: dict[type, Callable[[Any, _Scope], exp.Select]] = {
    NotNullCheck: _not_null,
    UniqueCheck: _unique,
    AcceptedValuesCheck: _accepted_values,
    RowCountCheck: _row_count,
    ExpressionCheck: _expression,
}
"""The query builder of each kind of check."""


def check_query(spec: ModelSpec, check: CheckSpec, table: exp.Table, window: Window) -> CheckQuery:
    """The single-row query of ``check`` over the materialized window of ``table``.

    The window applies when the model is time-partitioned with ``@partition_by``
    (the same condition the overwrite uses); otherwise the whole table is checked.
    """
    source = table.copy()
    source.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    condition: exp.Expr | None = None
    if spec.partition_by is not None and window.is_time:
        condition = window_condition(spec.partition_by, TARGET_ALIAS)
    query = _QUERIES[type(check)](check, _Scope(source, condition))
    return CheckQuery(check, query, bound_parameters(query, window), condition is not None)


def _value_literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))

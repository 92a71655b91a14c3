"""Tree pieces every strategy shares: table DDL, window predicates, bound parameters."""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import expressions as exp

from sqlassets.dialect import DIALECT
from sqlassets.errors import StrategyError
from sqlassets.job import inline_parameters, parameter_names
from sqlassets.parameters import END_DATE, END_TS, START_DATE, START_TS
from sqlassets.spec import TARGET_ALIAS, ModelSpec, PartitionBy
from sqlassets.window import QueryParameter, Window

from .body import refuse_side_effects

SOURCE_ALIAS = "_s"


def _partition_expression(partition_by: PartitionBy) -> exp.Expression:
    column = exp.column(partition_by.column)
    unit = exp.var(partition_by.granularity.value)
    if partition_by.function == "DATE":
        return exp.Date(this=column)
    if partition_by.function == "DATE_TRUNC":
        # DateTrunc's own __init__ (unit normalization) is not annotated in sqlglot.
        return exp.DateTrunc(  # type: ignore[no-untyped-call]
            this=column, unit=exp.Literal.string(partition_by.granularity.value)
        )
    if partition_by.function == "TIMESTAMP_TRUNC":
        return exp.TimestampTrunc(this=column, unit=unit)
    if partition_by.function == "DATETIME_TRUNC":
        return exp.DatetimeTrunc(this=column, unit=unit)
    return column


def properties(spec: ModelSpec) -> exp.Properties | None:
    """``PARTITION BY …`` and ``CLUSTER BY …`` of ``spec``'s table, if it has either."""
    properties: list[exp.Expression] = []
    if spec.partition_by is not None:
        properties.append(exp.PartitionedByProperty(this=_partition_expression(spec.partition_by)))
    if spec.cluster_by:
        properties.append(
            exp.ClusterProperty(expressions=[exp.column(column) for column in spec.cluster_by])
        )
    return exp.Properties(expressions=properties) if properties else None


def create(
    target: exp.Table,
    query: exp.Expression,
    spec: ModelSpec,
    *,
    kind: str = "TABLE",
    replace: bool = False,
    if_not_exists: bool = False,
) -> exp.Create:
    """``CREATE [OR REPLACE] TABLE|VIEW target [PARTITION BY …] [CLUSTER BY …] AS query``."""
    return exp.Create(
        this=target.copy(),
        kind=kind,
        replace=replace,
        exists=if_not_exists,
        expression=query,
        properties=properties(spec) if kind == "TABLE" else None,
    )


def subquery(query: exp.Expression, alias: str) -> exp.Subquery:
    """``(query) AS alias``."""
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def empty(query: exp.Expression) -> exp.Select:
    """``SELECT * FROM (query) WHERE FALSE``: the query's schema, no rows, no scan."""
    return exp.select(exp.Star()).from_(subquery(query, SOURCE_ALIAS)).where(exp.false())


def _same_table(table: exp.Table, target: exp.Table) -> bool:
    return (table.name, table.db, table.catalog) == (target.name, target.db, target.catalog)


def self_reads(tree: exp.Expression, target: exp.Table) -> list[exp.Table]:
    """The reads of ``target`` in ``tree`` (not the table a statement writes)."""
    return [
        table
        for table in tree.find_all(exp.Table)
        if _same_table(table, target)
        and not (
            table.arg_key == "this"
            and isinstance(table.parent, exp.Create | exp.Insert | exp.Merge | exp.Delete)
        )
    ]


def self_columns(tree: exp.Expression, target: exp.Table) -> list[str]:
    """The columns ``tree`` reads from ``target`` through its aliases (``prev.first_seen``)."""
    aliases = {table.alias_or_name for table in self_reads(tree, target)}
    found = dict.fromkeys(
        column.name
        for column in tree.find_all(exp.Column)
        if column.table in aliases and not isinstance(column.this, exp.Star)
    )
    return list(found)


def without_self_reads(
    tree: exp.Expression, target: exp.Table, columns: Sequence[tuple[str, exp.DataType | None]]
) -> exp.Expression:
    """``tree`` with each read of ``target`` replaced by an empty relation of ``columns``.

    ``(SELECT CAST(NULL AS t) AS c, … LIMIT 0) AS alias``: what a model reading
    its own table sees before the table exists, so the table can be created
    from the query's schema. A column without a type stays out of the relation
    and its reads (``alias.column``) become a bare ``NULL``, which takes any
    type (in a relation BigQuery would make it an INT64). BigQuery refuses a
    literal ``NULL`` compared (``Operands of < cannot be literal NULL``), so
    such a comparison becomes ``CAST(NULL AS BOOL)``: the tree is only ever
    used for its schema, and an empty relation's column is NULL in every row.
    """
    tree = tree.copy()
    untyped = {name.lower() for name, kind in columns if kind is None}
    reads = self_reads(tree, target)
    aliases = {table.alias_or_name for table in reads}
    for column in list(tree.find_all(exp.Column)):
        if column.table in aliases and column.name.lower() in untyped:
            _replace_untyped(column)
    for table in reads:
        projection = [
            exp.alias_(exp.Cast(this=exp.null(), to=kind.copy()), name)
            for name, kind in columns
            if kind is not None
        ]
        empty_relation = exp.Select(
            expressions=projection or [exp.alias_(exp.null(), "_")],
            limit=exp.Limit(expression=exp.Literal.number(0)),
        )
        table.replace(subquery(empty_relation, table.alias_or_name))
    return tree


_NULL_REFUSED = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Between, exp.Like, exp.In)
"""Predicates BigQuery refuses with a literal ``NULL`` operand."""


def _replace_untyped(column: exp.Column) -> None:
    """``column`` as ``NULL``, or its comparison as ``CAST(NULL AS BOOL)``."""
    node: exp.Expression = column
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    if isinstance(node.parent, _NULL_REFUSED) and node.arg_key in {
        "this",
        "expression",
        "low",
        "high",
    }:
        node.parent.replace(exp.cast(exp.null(), exp.DataType.Type.BOOLEAN))
    else:
        column.replace(exp.null())


def window_condition(partition_by: PartitionBy, qualifier: str) -> exp.Condition:
    """``partition column in [start, end)`` on table alias ``qualifier``, with parameters."""
    column = exp.column(partition_by.column, table=qualifier)
    low: exp.Expression
    high: exp.Expression
    if partition_by.function == "DATE":
        value: exp.Expression = exp.Date(this=column)
        low, high = (
            exp.Parameter(this=exp.var(START_DATE)),
            exp.Parameter(this=exp.var(END_DATE)),
        )
    elif partition_by.function == "TIMESTAMP_TRUNC":
        value = column
        low, high = exp.Parameter(this=exp.var(START_TS)), exp.Parameter(this=exp.var(END_TS))
    elif partition_by.function == "DATETIME_TRUNC":
        value = column
        low = exp.cast(exp.Parameter(this=exp.var(START_TS)), exp.DataType.Type.DATETIME)
        high = exp.cast(exp.Parameter(this=exp.var(END_TS)), exp.DataType.Type.DATETIME)
    else:
        value = column
        low, high = (
            exp.Parameter(this=exp.var(START_DATE)),
            exp.Parameter(this=exp.var(END_DATE)),
        )
    return exp.and_(exp.GTE(this=value, expression=low), exp.LT(this=value.copy(), expression=high))


def bound_parameters(statement: exp.Expression, window: Window) -> tuple[QueryParameter, ...]:
    """The window's parameters ``statement`` reads; one it reads but the run lacks is an error."""
    available = window.parameters()
    used = parameter_names(statement)
    missing = used - set(available)
    if missing:
        raise StrategyError(
            f"the statement reads {', '.join('@' + name for name in sorted(missing))}, which this "
            "run does not bind (see `sqlassets lint`, SA302/SA305)"
        )
    return tuple(available[name] for name in sorted(used))


def inline_window(statement: exp.Expression, window: Window) -> exp.Expression:
    """``statement`` with the window's parameters as literals (DDL takes no parameters)."""
    bound_parameters(statement, window)
    return inline_parameters(statement, window.parameters())


def on_target(condition: str, what: str) -> exp.Expression:
    """A header's boolean SQL (a check, a merge filter) with bare columns on :data:`TARGET_ALIAS`.

    Lint refuses writes first; the files may have changed since, so again here.
    """
    tree = sqlglot.parse_one(condition, read=DIALECT)
    refuse_side_effects([tree], what)
    return tree.transform(
        lambda node: (
            exp.column(node.this.copy(), table=TARGET_ALIAS)
            if isinstance(node, exp.Column) and not node.table
            else node
        )
    )

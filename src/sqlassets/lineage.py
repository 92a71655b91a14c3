"""Column lineage: which source table columns each output column is computed from.

Built on sqlglot's scopes (``build_scope``) without the full ``qualify`` pass,
which costs 5 ms a model: a column is traced through CTEs, subqueries and
aliases to the tables it reads. An unqualified column is traced only when its
SELECT has a single source; anything ambiguous is left out rather than
guessed.
"""

from __future__ import annotations

import logging

from sqlglot import expressions as exp
from sqlglot.optimizer.scope import Scope, build_scope

ColumnSources = dict[str, tuple[tuple[str, str], ...]]
"""Output column -> ((``[project.]dataset.table``, column), …)."""

_MAX_DEPTH = 32

_log = logging.getLogger(__name__)


def column_sources(query: exp.Expr, root: Scope | None = None) -> ColumnSources:
    """The source columns of every output column of ``query`` (the final SELECT).

    ``root`` is ``build_scope(query)`` when the caller has it already. Never
    raises: a column sqlglot's scopes cannot trace (``Alias already used`` for
    ``UNNEST(events) AS events``…) is left out, with a debug log.
    """
    try:
        root = build_scope(query) if root is None else root
        if root is None:
            return {}
        scope, select = _leftmost(root)
    except Exception as error:
        _log.debug("no column lineage: %s", error)
        return {}
    if select is None:
        return {}
    result: ColumnSources = {}
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            continue
        found: set[tuple[str, str]] = set()
        try:
            for column in _own_columns(projection, select):
                found |= _trace(scope, column.table, column.name, 0)
        except Exception as error:
            _log.debug("no column lineage for %s: %s", projection.alias_or_name, error)
            continue
        result[projection.alias_or_name] = tuple(sorted(found))
    return result


def _leftmost(scope: Scope) -> tuple[Scope, exp.Select | None]:
    while scope.set_operation_scopes:
        scope = scope.set_operation_scopes[0]
    expression = scope.expression
    return scope, expression if isinstance(expression, exp.Select) else None


def _own_columns(projection: exp.Expression, select: exp.Select) -> list[exp.Column]:
    """Columns of ``projection`` that belong to ``select`` (not to a nested subquery)."""
    return [
        column
        for column in projection.find_all(exp.Column)
        if column.find_ancestor(exp.Select) is select and not isinstance(column.this, exp.Star)
    ]


def _table_name(table: exp.Table) -> str | None:
    if not table.db or not isinstance(table.this, exp.Identifier):
        return None
    return ".".join(part for part in (table.catalog, table.db, table.name) if part)


def _trace(scope: Scope, qualifier: str, column: str, depth: int) -> set[tuple[str, str]]:
    if depth > _MAX_DEPTH:
        return set()
    sources = scope.sources
    if not qualifier:
        selected = list(scope.selected_sources)
        if len(selected) != 1:
            return set()
        qualifier = selected[0]
    source = sources.get(qualifier)
    if isinstance(source, exp.Table):
        name = _table_name(source)
        return {(name, column)} if name else set()
    if isinstance(source, Scope):
        inner_scope, inner = _leftmost(source)
        if inner is None:
            return set()
        found: set[tuple[str, str]] = set()
        for projection in inner.expressions:
            if projection.alias_or_name == column:
                for inner_column in _own_columns(projection, inner):
                    found |= _trace(inner_scope, inner_column.table, inner_column.name, depth + 1)
                return found
        # `SELECT *` (or `t.*`) passes columns through unchanged.
        for projection in inner.expressions:
            if isinstance(projection, exp.Star):
                return _trace(inner_scope, "", column, depth + 1)
            if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                return _trace(inner_scope, projection.table, column, depth + 1)
    return set()

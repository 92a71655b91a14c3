"""The output column types of models, as far as their SQL shows them offline.

Shared by the loader, which types a model's partition column from its one
parse of the file (through the file's own CTEs and subqueries), and SA306,
which follows what the loader could not type into upstream models.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import expressions as exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.scope import Scope, build_scope

from sqlassets.dialect import DIALECT

_log = logging.getLogger(__name__)

_MAX_DEPTH = 32
"""CTEs and subqueries followed within one query, at most."""


@dataclass(frozen=True)
class ColumnType:
    """A column's BigQuery type, and the model whose query gives it that type."""

    type: str
    model: str


class ColumnTypes:
    """The output column types of a project's models, as far as their SQL shows them offline.

    A column is typed by its own projection (a typed literal, a ``CAST``, a
    typed function) or, when it is a column read from elsewhere, by where it
    comes from: a CTE's or subquery's projection, a star (minus ``EXCEPT``,
    with ``REPLACE``) or another model's output, recursively; an expression
    over such columns (``COALESCE(a.ts, b.ts)``) is typed from theirs.
    Built on sqlglot's scopes, without the ``qualify`` pass (5 ms a query): an
    unqualified column is followed only when its SELECT has a single source.
    Each query is parsed at most once.
    """

    def __init__(
        self, models: Mapping[str, Any], scopes: Mapping[str, Scope] | None = None
    ) -> None:
        """``models``: loaded models by name; ``scopes``: final-SELECT scopes already built."""
        self._models = models
        self._scopes: dict[str, Scope | None] = dict(scopes or {})
        self._types: dict[tuple[str, str], ColumnType | None] = {}

    def of(self, name: str, column: str) -> ColumnType | None:
        """The type of output ``column`` of model ``name``, or None when unknown offline."""
        key = (name, column.lower())
        model = self._models.get(name)
        typed = model.analysis.typed_column if model is not None and model.analysis else None
        if typed is not None and typed[0].lower() == key[1]:
            # Typed by the loader from its own parse: no second parse of the file.
            return ColumnType(typed[1], name)
        if key not in self._types:
            self._types[key] = None  # a cycle, or a model reading itself, stays unknown
            try:
                scope = self._scope(name)
                if scope is not None:
                    self._types[key] = self._output(name, scope, column, 0)
            except Exception as error:  # a query sqlglot cannot type: no finding, never a crash
                _log.debug("no type for %s.%s: %s", name, column, error)
        return self._types[key]

    def _scope(self, name: str) -> Scope | None:
        """The scope of model ``name``'s final SELECT; None for a source, a load, a broken file."""
        if name not in self._scopes:
            self._scopes[name] = None
            model = self._models.get(name)
            if model is not None and model.analysis is not None:
                statements = [s for s in sqlglot.parse(model.sql, read=DIALECT) if s is not None]
                if statements and isinstance(statements[-1], exp.Query):
                    root = build_scope(statements[-1])
                    self._scopes[name] = leftmost(root) if root is not None else None
        return self._scopes[name]

    def _output(self, name: str, scope: Scope, column: str, depth: int) -> ColumnType | None:
        """The type of output ``column`` of the SELECT of ``scope`` (in model ``name``)."""
        select = scope.expression
        if depth > _MAX_DEPTH or not isinstance(select, exp.Select):
            return None
        wanted = column.lower()
        for projection in select.expressions:
            if not projection.is_star and projection.alias_or_name.lower() == wanted:
                value = projection.this if isinstance(projection, exp.Alias) else projection
                return self._expression(name, scope, value, depth)
        for projection in select.expressions:
            star = projection.this if isinstance(projection, exp.Column) else projection
            if not isinstance(star, exp.Star):
                continue  # not a star, or `(expr).*`
            if any(e.name.lower() == wanted for e in star.args.get("except_") or ()):
                continue
            for replaced in star.args.get("replace") or ():
                if replaced.alias_or_name.lower() == wanted:
                    return self._expression(name, scope, replaced.this, depth)
            qualifier = projection.table if isinstance(projection, exp.Column) else ""
            for source in [qualifier] if qualifier else list(scope.selected_sources):
                found = self._source(name, scope, source, column, depth)
                if found is not None:
                    return found
        return None

    def _expression(
        self, name: str, scope: Scope, value: exp.Expression, depth: int
    ) -> ColumnType | None:
        kind = _known(annotate_types(value.copy(), dialect=DIALECT).type)
        if kind is not None:
            return ColumnType(kind, name)
        if isinstance(value, exp.Column):
            return self._column(name, scope, value, depth)
        # Type the expression with its columns' types: each as `CAST(NULL AS type)`.
        columns = list(value.find_all(exp.Column))
        copy = value.copy()
        found = []
        for column, copied in zip(columns, list(copy.find_all(exp.Column)), strict=True):
            if column.is_star or column.find_ancestor(exp.Select) is not scope.expression:
                continue
            typed = self._column(name, scope, column, depth)
            if typed is not None:
                found.append(typed)
                copied.replace(exp.cast(exp.null(), exp.DataType.build(typed.type, DIALECT)))
        if not found:
            return None
        kind = _known(annotate_types(copy, dialect=DIALECT).type)
        return ColumnType(kind, found[0].model) if kind is not None else None

    def _column(self, name: str, scope: Scope, column: exp.Column, depth: int) -> ColumnType | None:
        qualifier = column.table
        if not qualifier:
            selected = list(scope.selected_sources)
            if len(selected) != 1:
                return None  # ambiguous without the tables' columns: left out, not guessed
            qualifier = selected[0]
        return self._source(name, scope, qualifier, column.name, depth)

    def _source(
        self, name: str, scope: Scope, qualifier: str, column: str, depth: int
    ) -> ColumnType | None:
        source = scope.sources.get(qualifier)
        if isinstance(source, Scope):
            return self._output(name, leftmost(source), column, depth + 1)
        if isinstance(source, exp.Table) and source.db and isinstance(source.this, exp.Identifier):
            parent = f"{source.db}.{source.name}"  # models are named without a project
            return self.of(parent, column) if parent != name else None
        return None


def leftmost(scope: Scope) -> Scope:
    """The first SELECT of a set operation's scope (the one naming the columns)."""
    while scope.set_operation_scopes:
        scope = scope.set_operation_scopes[0]
    return scope


def _known(kind: exp.DataType | None) -> str | None:
    """``kind`` in BigQuery's notation, or None when sqlglot could not type it."""
    if kind is None or kind.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    return str(kind.sql(DIALECT))


def query_column_type(query: exp.Expr, column: str, root: Scope | None = None) -> str | None:
    """The type of output ``column`` of ``query``, when the query alone shows it.

    ``root`` is ``build_scope(query)`` when the caller has it already.
    """
    root = build_scope(query) if root is None else root
    if root is None:
        return None
    found = ColumnTypes({}, {"": leftmost(root)}).of("", column)
    return found.type if found is not None else None

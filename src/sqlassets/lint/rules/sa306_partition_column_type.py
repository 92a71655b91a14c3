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

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import expressions as exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.scope import Scope, build_scope

from sqlassets.codes import Code
from sqlassets.dialect import DIALECT
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule
from sqlassets.project import Project

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

    def __init__(self, project: Project) -> None:
        self._models = project.models
        self._scopes: dict[str, Scope | None] = {}
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
                    self._scopes[name] = _leftmost(root) if root is not None else None
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
            return self._output(name, _leftmost(source), column, depth + 1)
        if isinstance(source, exp.Table) and source.db and isinstance(source.this, exp.Identifier):
            parent = f"{source.db}.{source.name}"  # models are named without a project
            return self.of(parent, column) if parent != name else None
        return None


def _leftmost(scope: Scope) -> Scope:
    while scope.set_operation_scopes:
        scope = scope.set_operation_scopes[0]
    return scope


def _known(kind: exp.DataType | None) -> str | None:
    """``kind`` in BigQuery's notation, or None when sqlglot could not type it."""
    if kind is None or kind.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    return str(kind.sql(DIALECT))


def check_project(project: Project) -> Iterator[Diagnostic]:
    """Each partitioning that does not fit the type its column is known to have."""
    types = ColumnTypes(project)
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

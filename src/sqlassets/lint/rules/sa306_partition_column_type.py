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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import expressions as exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from sqlassets.codes import Code
from sqlassets.dialect import DIALECT
from sqlassets.errors import Diagnostic
from sqlassets.lineage import column_sources
from sqlassets.lint.rule import Rule
from sqlassets.project import Project
from sqlassets.strategies import rewrite_references

_log = logging.getLogger(__name__)

_UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class ColumnType:
    """A column's BigQuery type, and the model whose query gives it that type."""

    type: str
    model: str


class ColumnTypes:
    """The output column types of a project's models, as far as their SQL shows them offline.

    A column is typed by its own projection or, when it is read from another
    model, by that model's output (recursively). Each query is parsed at most
    once, and qualified (sqlglot's ``qualify``, ~5 ms) only when a type read
    from upstream is known: most partition columns are typed by their
    projection, or read from external sources, and cost no more.
    """

    def __init__(self, project: Project) -> None:
        self._models = project.models
        self._queries: dict[str, exp.Query | None] = {}
        self._types: dict[tuple[str, str], ColumnType | None] = {}

    def of(self, name: str, column: str) -> ColumnType | None:
        """The type of output ``column`` of model ``name``, or None when unknown offline."""
        key = (name, column.lower())
        if key not in self._types:
            self._types[key] = None  # a cycle, or a model reading itself, stays unknown
            try:
                self._types[key] = self._infer(name, column)
            except Exception as error:  # a query sqlglot cannot type: no finding, never a crash
                _log.debug("no type for %s.%s: %s", name, column, error)
        return self._types[key]

    def _query(self, name: str) -> exp.Query | None:
        if name not in self._queries:
            model = self._models[name]
            try:
                statements = [s for s in sqlglot.parse(model.sql, read=DIALECT) if s is not None]
            except sqlglot.errors.ParseError:
                statements = []
            last = statements[-1] if statements else None
            self._queries[name] = last if isinstance(last, exp.Query) else None
        return self._queries[name]

    def _infer(self, name: str, column: str) -> ColumnType | None:
        model = self._models.get(name)
        if model is None or model.analysis is None:
            return None  # an external source, a broken file, or a load typed by its files
        query = self._query(name)
        if query is None:
            return None
        projection = _projection(query, column)
        if projection is not None:
            value = projection.this if isinstance(projection, exp.Alias) else projection
            kind = _known(annotate_types(value.copy(), dialect=DIALECT).type)
            if kind is not None:
                return ColumnType(kind, name)
            candidates = column_sources(query).get(projection.alias_or_name, ())
        elif model.analysis.has_star:
            # A star may pass the column through from any table the query reads.
            candidates = tuple((str(read.ref), column) for read in model.reads)
        else:
            return None
        upstream: dict[str, dict[str, ColumnType]] = {}
        for table, source_column in candidates:
            parent = ".".join(table.split(".")[-2:])  # models are named without a project
            found = self.of(parent, source_column) if parent != name else None
            if found is not None:
                upstream.setdefault(parent, {})[source_column] = found
        if not upstream:
            return None
        kind = self._qualified_type(name, query, column, upstream)
        if kind is None:
            return None
        origins = {found.model for typed in upstream.values() for found in typed.values()}
        return ColumnType(kind, origins.pop() if len(origins) == 1 else name)

    def _qualified_type(
        self,
        name: str,
        query: exp.Query,
        column: str,
        upstream: Mapping[str, Mapping[str, ColumnType]],
    ) -> str | None:
        """``column``'s type once the query is qualified against the models it reads."""
        mapping: dict[str, dict[str, dict[str, str]]] = {}
        tables: dict[str, exp.Table] = {}
        for read in self._models[name].reads:
            parent = self._models.get(read.ref.name)
            if parent is None or read.ref.name == name:
                continue
            known = upstream.get(read.ref.name, {})
            # Every column name the parent is known to have, so that the
            # unqualified columns of a join are resolved as BigQuery would.
            columns = dict.fromkeys(
                (parent.analysis and parent.analysis.output_columns) or (), _UNKNOWN
            )
            columns.update({source: found.type for source, found in known.items()})
            if not columns:
                continue
            mapping.setdefault(read.ref.dataset, {})[read.ref.table] = columns
            tables[read.ref.name] = exp.table_(read.ref.table, db=read.ref.dataset)
        schema = MappingSchema(mapping, dialect=DIALECT)
        tree = rewrite_references(query, tables)
        qualified = qualify(
            tree,
            schema=schema,
            dialect=DIALECT,
            validate_qualify_columns=False,
            allow_partial_qualification=True,  # a parent's star hides some of its columns
            quote_identifiers=False,
            identify=False,
        )
        typed = annotate_types(qualified, schema=schema, dialect=DIALECT)
        assert isinstance(typed, exp.Query)
        projection = _projection(typed, column)
        return _known(projection.type) if projection is not None else None


def _leftmost(query: exp.Expression) -> exp.Select | None:
    while isinstance(query, exp.SetOperation | exp.Subquery):
        query = query.this
    return query if isinstance(query, exp.Select) else None


def _projection(query: exp.Query, column: str) -> exp.Expression | None:
    """The final projection named ``column`` (case-insensitive), if the query names it."""
    select = _leftmost(query)
    if select is None:
        return None
    wanted = column.lower()
    return next(
        (
            projection
            for projection in select.expressions
            if not projection.is_star and projection.alias_or_name.lower() == wanted
        ),
        None,
    )


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

"""The output columns of a ``SELECT *`` query, known offline from the models it reads.

A merge or insert_overwrite names its columns (``UPDATE SET``, ``INSERT (…)``).
When the final SELECT has a star, ``sqlassets compile`` expands it from what
the project knows without a warehouse: each upstream model's own output
columns (recursively through upstream stars), else the columns its last run
recorded (:mod:`sqlassets.schemas`). A source no model builds has no known
columns; :func:`offline_columns` then says which, and the caller asks the
engine (a dry run) instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import expressions as exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from sqlassets.dialect import DIALECT
from sqlassets.errors import StrategyError
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.schemas import KnownSchemas
from sqlassets.spec import LoadMaterialization
from sqlassets.strategies import parse_body

_UNKNOWN_TYPE = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class OfflineColumns:
    """A query's output columns as the project knows them, or why they are unknown."""

    columns: tuple[str, ...] | None
    unknown: tuple[str, ...] = ()
    """Why not, one phrase per table read whose columns are unknown."""

    def why(self) -> str:
        """Why the columns are unknown offline, as a phrase."""
        if not self.unknown:
            return "its star cannot be expanded offline"
        return "the columns of " + "; of ".join(self.unknown) + " are unknown offline"


class _Resolver:
    """Output columns per model name, each worked out once (cycles end as unknown)."""

    def __init__(self, project: Project, engine: str) -> None:
        self.project = project
        self.recorded = KnownSchemas.for_project(project.config, engine)
        self.memo: dict[str, OfflineColumns] = {}

    def model(self, name: str) -> OfflineColumns:
        if name in self.memo:
            return self.memo[name]
        self.memo[name] = OfflineColumns(None, (f"`{name}` (it reads itself)",))
        model = self.project.models.get(name)
        if model is None:
            found = OfflineColumns(None, (f"`{name}` (a source: no model builds it)",))
        elif model.analysis is not None and model.analysis.output_columns is not None:
            found = OfflineColumns(model.analysis.output_columns)
        elif model.analysis is not None:
            found = self.query(model)
        else:
            found = OfflineColumns(None, (f"`{name}` (a load: its columns are in its files)",))
        if found.columns is None and model is not None:
            recorded = self.recorded.get(name)
            if recorded:
                found = OfflineColumns(tuple(recorded))
        self.memo[name] = found
        return found

    def query(self, model: Model) -> OfflineColumns:
        """The columns of ``model``'s query with its stars expanded from its reads'."""
        if isinstance(model.spec.materialization, LoadMaterialization):
            return OfflineColumns(None)
        try:
            _, query = parse_body(model.sql)
        except (StrategyError, SqlglotError):
            return OfflineColumns(None)
        schema: dict[str, dict[str, dict[str, str]]] = {}
        unknown: list[str] = []
        for read in model.reads:
            if read.ref.project:
                unknown.append(f"`{read.ref}` (a table of another project)")
                continue
            found = self.model(read.ref.name)
            if found.columns is None:
                unknown.extend(found.unknown)
                continue
            tables = schema.setdefault(read.ref.dataset, {})
            tables[read.ref.table] = dict.fromkeys(found.columns, _UNKNOWN_TYPE)
        spelled = _spellings(query, schema)
        try:
            expanded = qualify(
                query,
                schema=MappingSchema(dict[str, object](schema), dialect=DIALECT),
                dialect=DIALECT,
                validate_qualify_columns=False,
                quote_identifiers=False,
                identify=False,
            )
        except (SqlglotError, KeyError, ValueError, RecursionError):
            return OfflineColumns(None, tuple(unknown))
        if not isinstance(expanded, exp.Query) or _has_star(expanded):
            return OfflineColumns(None, tuple(unknown))
        return OfflineColumns(tuple(spelled.get(name, name) for name in expanded.named_selects))


def _spellings(
    query: exp.Expression, schema: dict[str, dict[str, dict[str, str]]]
) -> dict[str, str]:
    """Each name's spelling as written, by its lower case (qualify lower-cases BigQuery names)."""
    spelled: dict[str, str] = {}
    for tables in schema.values():
        for columns in tables.values():
            for column in columns:
                spelled.setdefault(column.lower(), column)
    for identifier in query.find_all(exp.Identifier):
        spelled.setdefault(identifier.name.lower(), identifier.name)
    return spelled


def _has_star(query: exp.Query) -> bool:
    node: exp.Expr = query
    while isinstance(node, exp.SetOperation | exp.Subquery):
        node = node.this
    return not isinstance(node, exp.Select) or any(item.is_star for item in node.expressions)


def offline_columns(project: Project, model: Model, engine: str) -> OfflineColumns:
    """``model``'s output columns, its star expanded from the project alone.

    ``engine`` names whose recorded columns (a previous run's) may stand in
    for an upstream model the project cannot expand.
    """
    return _Resolver(project, engine).query(model)

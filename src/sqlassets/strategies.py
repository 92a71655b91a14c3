"""Materialization strategies: pure functions from a spec and a window to SQL trees.

Nothing here does I/O. Every statement is a sqlglot tree in the BigQuery
dialect; engines transpile and send them. Values reach a statement as query
parameters (``@start_date``) or as typed literals substituted on the tree,
never as formatted text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlglot
from sqlglot import expressions as exp

from sqlassets.dialect import DIALECT, side_effect, side_effect_keyword
from sqlassets.errors import StrategyError
from sqlassets.parameters import END_DATE, END_TS, PARTITION_KEY, START_DATE, START_TS
from sqlassets.spec import (
    AcceptedValuesCheck,
    CheckSpec,
    ExpressionCheck,
    FileFormat,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    MergeMaterialization,
    ModelSpec,
    NotNullCheck,
    PartitionBy,
    RowCountCheck,
    TableMaterialization,
    TableRef,
    TimePartitions,
    UniqueCheck,
    ViewMaterialization,
)
from sqlassets.window import KEY_FORMATS, QueryParameter, Window, step

TARGET_ALIAS = "_t"
SOURCE_ALIAS = "_s"


@dataclass(frozen=True)
class Job:
    """Statements sent together as one remote job (a script when there are several)."""

    action: str
    """What the job does: ``replace``, ``create``, ``merge``, ``overwrite`` or ``load``."""
    statements: tuple[exp.Expression, ...]
    parameters: tuple[QueryParameter, ...] = ()
    uris: tuple[str, ...] = field(default=())
    """Cloud Storage URIs a load job reads."""

    def sql(self, dialect: str = DIALECT, pretty: bool = False) -> str:
        """The job as SQL text of ``dialect`` (statements separated by ``;``)."""
        return ";\n".join(
            statement.sql(dialect=dialect, pretty=pretty) for statement in self.statements
        )


@dataclass(frozen=True)
class Naming:
    """How model names map to physical tables on a target."""

    project: str | None = None
    dataset_prefix: str = ""
    dataset_suffix: str = ""

    def table(self, ref: TableRef) -> exp.Table:
        """The physical table of model ``ref`` (its project is replaced by the target's)."""
        return exp.Table(
            this=exp.to_identifier(ref.table),
            db=exp.to_identifier(f"{self.dataset_prefix}{ref.dataset}{self.dataset_suffix}"),
            catalog=exp.to_identifier(self.project) if self.project else None,
        )


def rewrite_references(tree: exp.Expression, models: Mapping[str, exp.Table]) -> exp.Expression:
    """A copy of ``tree`` whose references to models name their physical tables.

    ``models`` maps ``dataset.table`` to the physical table; other tables (external
    sources) are left as written. Aliases are kept.
    """

    def replace(node: exp.Expression) -> exp.Expression:
        if (
            not isinstance(node, exp.Table)
            or not node.db
            or not isinstance(node.this, exp.Identifier)
        ):
            return node
        physical = models.get(f"{node.db}.{node.name}")
        if physical is None:
            return node
        replacement = physical.copy()
        for key in ("alias", "joins", "laterals", "pivots", "version", "sample", "hints"):
            if node.args.get(key) is not None:
                replacement.set(key, node.args[key])
        return replacement

    return tree.copy().transform(replace, copy=False)


def literal(parameter: QueryParameter) -> exp.Expression:
    """A typed literal for a parameter's value: ``DATE '…'``, ``TIMESTAMP '…'`` or a string."""
    value = parameter.value
    if parameter.type == "DATE" and isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if parameter.type == "TIMESTAMP" and isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S+00")
        return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMPTZ)
    return exp.Literal.string(str(value))


def parameter_names(tree: exp.Expression) -> set[str]:
    """Names of the ``@parameters`` a tree reads (system variables excluded)."""
    return {
        node.this.name
        for node in tree.find_all(exp.Parameter)
        if not isinstance(node.this, exp.Parameter) and not isinstance(node.parent, exp.Parameter)
    }


def inline_parameters(
    tree: exp.Expression, parameters: Mapping[str, QueryParameter]
) -> exp.Expression:
    """A copy of ``tree`` with each bound ``@parameter`` replaced by its typed literal."""

    def replace(node: exp.Expression) -> exp.Expression:
        if (
            isinstance(node, exp.Parameter)
            and not isinstance(node.this, exp.Parameter)
            and node.this.name in parameters
        ):
            return literal(parameters[node.this.name])
        return node

    return tree.copy().transform(replace, copy=False)


def _partition_expression(partition_by: PartitionBy) -> exp.Expression:
    column = exp.column(partition_by.column)
    unit = exp.var(partition_by.granularity.value)
    if partition_by.function == "DATE":
        return exp.Date(this=column)
    if partition_by.function == "DATE_TRUNC":
        return exp.DateTrunc(this=column, unit=exp.Literal.string(partition_by.granularity.value))
    if partition_by.function == "TIMESTAMP_TRUNC":
        return exp.TimestampTrunc(this=column, unit=unit)
    if partition_by.function == "DATETIME_TRUNC":
        return exp.DatetimeTrunc(this=column, unit=unit)
    return column


def _properties(spec: ModelSpec) -> exp.Properties | None:
    properties: list[exp.Expression] = []
    if spec.partition_by is not None:
        properties.append(exp.PartitionedByProperty(this=_partition_expression(spec.partition_by)))
    if spec.cluster_by:
        properties.append(
            exp.ClusterProperty(expressions=[exp.column(column) for column in spec.cluster_by])
        )
    return exp.Properties(expressions=properties) if properties else None


def window_condition(partition_by: PartitionBy, qualifier: str) -> exp.Expression:
    """``partition column in [start, end)`` on table alias ``qualifier``, with parameters."""
    column = exp.column(partition_by.column, table=qualifier)
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


def _guarded_source(
    source: exp.Expression, partition_by: PartitionBy, window: Window
) -> exp.Select:
    """``SELECT * FROM (source) WHERE IF(in window, TRUE, ERROR(…))``.

    A row outside the window (or with a NULL partition value) fails the whole
    statement, so it is never written and nothing else changes.
    """
    message = (
        f"sqlassets: a row outside the run window [{window.start:%Y-%m-%d %H:%M}, "
        f"{window.end:%Y-%m-%d %H:%M}) or with a NULL `{partition_by.column}`: nothing was "
        "written; filter the input to the window (@start_date/@end_date or @start_ts/@end_ts)"
    )
    check = exp.If(
        this=window_condition(partition_by, SOURCE_ALIAS),
        true=exp.true(),
        false=exp.Anonymous(this="ERROR", expressions=[exp.Literal.string(message)]),
    )
    return (
        exp.select(exp.Star())
        .from_(
            exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier(SOURCE_ALIAS)))
        )
        .where(check)
    )


def _subquery(query: exp.Expression, alias: str) -> exp.Subquery:
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _create(
    target: exp.Table,
    query: exp.Expression,
    spec: ModelSpec,
    *,
    kind: str = "TABLE",
    replace: bool = False,
    if_not_exists: bool = False,
) -> exp.Create:
    return exp.Create(
        this=target.copy(),
        kind=kind,
        replace=replace,
        exists=if_not_exists,
        expression=query,
        properties=_properties(spec) if kind == "TABLE" else None,
    )


def _empty(query: exp.Expression) -> exp.Select:
    """``SELECT * FROM (query) WHERE FALSE``: the query's schema, no rows, no scan."""
    return exp.select(exp.Star()).from_(_subquery(query, SOURCE_ALIAS)).where(exp.false())


def _insert(columns: Sequence[str]) -> exp.Insert:
    return exp.Insert(
        this=exp.Tuple(expressions=[exp.column(column) for column in columns]),
        expression=exp.Tuple(
            expressions=[exp.column(column, table=SOURCE_ALIAS) for column in columns]
        ),
    )


def _insert_row() -> exp.Insert:
    # BigQuery's INSERT ROW: every column of the source, by position.
    return exp.Insert(this=exp.var("ROW"))


def _target(target: exp.Table) -> exp.Table:
    aliased = target.copy()
    aliased.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    return aliased


def _merge_upsert(
    target: exp.Table, query: exp.Expression, unique_key: Sequence[str], columns: Sequence[str]
) -> exp.Merge:
    on = exp.and_(
        *(
            exp.EQ(
                this=exp.column(key, table=TARGET_ALIAS),
                expression=exp.column(key, table=SOURCE_ALIAS),
            )
            for key in unique_key
        )
    )
    keys = {key.lower() for key in unique_key}
    updates = [
        exp.EQ(this=exp.column(column), expression=exp.column(column, table=SOURCE_ALIAS))
        for column in columns
        if column.lower() not in keys
    ]
    whens = []
    if updates:
        whens.append(exp.When(matched=True, source=False, then=exp.Update(expressions=updates)))
    whens.append(exp.When(matched=False, source=False, then=_insert(columns)))
    return exp.Merge(
        this=_target(target),
        using=_subquery(query, SOURCE_ALIAS),
        on=on,
        whens=exp.Whens(expressions=whens),
    )


def _merge_overwrite(
    target: exp.Table,
    source: exp.Expression,
    partition_by: PartitionBy,
    window: Window,
    columns: Sequence[str] | None,
) -> exp.Merge:
    return exp.Merge(
        this=_target(target),
        using=_subquery(_guarded_source(source, partition_by, window), SOURCE_ALIAS),
        on=exp.false(),
        whens=exp.Whens(
            expressions=[
                exp.When(
                    matched=False,
                    source=True,
                    condition=window_condition(partition_by, TARGET_ALIAS),
                    then=exp.var("DELETE"),
                ),
                exp.When(
                    matched=False,
                    source=False,
                    then=_insert(columns) if columns else _insert_row(),
                ),
            ]
        ),
    )


def _with_parameters(statement: exp.Expression, window: Window) -> tuple[QueryParameter, ...]:
    available = window.parameters()
    used = parameter_names(statement)
    missing = used - set(available)
    if missing:
        raise StrategyError(
            f"the statement reads {', '.join('@' + name for name in sorted(missing))}, which this "
            "run does not bind (see `sqlassets lint`, SA302/SA305)"
        )
    return tuple(available[name] for name in sorted(used))


def _inline(statement: exp.Expression, window: Window) -> exp.Expression:
    _with_parameters(statement, window)
    return inline_parameters(statement, window.parameters())


def load_uris(spec: ModelSpec, window: Window) -> tuple[str, ...]:
    """Every URI a load reads for ``window``: each template for each partition in it."""
    assert isinstance(spec.materialization, LoadMaterialization)
    values: list[dict[str, object]] = []
    partitions = spec.time_partitions
    if (
        window.start is not None
        and window.end is not None
        and isinstance(partitions, TimePartitions)
    ):
        moment = window.start
        while moment < window.end:
            key = moment.strftime(KEY_FORMATS[partitions.cadence])
            values.append({START_DATE: moment, PARTITION_KEY: key})
            moment = step(partitions.cadence, moment)
    else:
        values.append({PARTITION_KEY: window.partition_key or ""})
    uris: dict[str, None] = {}
    for template in spec.materialization.uris:
        for value in values:
            if set(template.placeholders) <= set(value):
                uris.setdefault(template.render(value))
    return tuple(uris)


def temp_table_name(spec: ModelSpec, window: Window) -> exp.Table:
    """A temp table unique to the model and window, so parallel runs never share one."""
    digest = hashlib.sha256(f"{spec.name.name}|{window.label()}".encode()).hexdigest()[:12]
    return exp.Table(this=exp.to_identifier(f"_sqlassets_load_{digest}"))


def _load_data(
    target: exp.Table, fmt: FileFormat, uris: Sequence[str], *, temp: bool
) -> exp.LoadData:
    options: list[exp.Expression] = [
        exp.FileFormatProperty(this=exp.Literal.string(fmt.value.upper())),
        exp.Property(
            this=exp.var("uris"),
            value=exp.Array(expressions=[exp.Literal.string(uri) for uri in uris]),
        ),
    ]
    if fmt is FileFormat.CSV:
        options.append(exp.Property(this=exp.var("skip_leading_rows"), value=exp.Literal.number(1)))
    # A temp table is new in its script: `LOAD DATA INTO TEMP TABLE` creates it.
    return exp.LoadData(
        this=target.copy(), overwrite=not temp, temp=temp, files=exp.Properties(expressions=options)
    )


def plan_jobs(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression | None = None,
    columns: Sequence[str] | None = None,
    preamble: Sequence[exp.Expression] = (),
    full_refresh: bool = False,
) -> list[Job]:
    """The jobs that materialize ``spec`` over ``window`` into ``target``.

    ``query`` is the model's query with physical names already rewritten;
    ``columns`` its output columns (needed by merges); ``preamble`` the
    ``CREATE TEMP FUNCTION`` statements that precede it in the file.
    ``full_refresh`` recreates an incremental table (empty, with the current
    partitioning and clustering) before the window is written.
    """
    materialization = spec.materialization
    head = tuple(statement.copy() for statement in preamble)
    if isinstance(materialization, LoadMaterialization):
        return [_load_job(spec, target, window, materialization.format, full_refresh)]
    if query is None:
        raise StrategyError(f"{spec.name.name} has no query")
    if isinstance(materialization, TableMaterialization | ViewMaterialization):
        kind = "VIEW" if isinstance(materialization, ViewMaterialization) else "TABLE"
        statement = _inline(_create(target, query.copy(), spec, kind=kind, replace=True), window)
        return [Job("replace", (*head, statement))]
    empty = _empty(query.copy())
    create = _inline(
        _create(target, empty, spec, replace=full_refresh, if_not_exists=not full_refresh), window
    )
    if isinstance(materialization, MergeMaterialization):
        if not columns:
            raise StrategyError(f"{spec.name.name}: the merge needs the query's output columns")
        merge = _merge_upsert(target, query.copy(), materialization.unique_key, columns)
        action = "merge"
    else:
        assert isinstance(materialization, InsertOverwriteMaterialization)
        if spec.partition_by is None or not window.is_time:
            raise StrategyError(f"{spec.name.name}: insert_overwrite needs a time window")
        merge = _merge_overwrite(target, query.copy(), spec.partition_by, window, columns)
        action = "overwrite"
    return [
        Job("create", (*head, create)),
        Job(action, (*head, merge), _with_parameters(merge, window)),
    ]


def _load_job(
    spec: ModelSpec, target: exp.Table, window: Window, fmt: FileFormat, full_refresh: bool
) -> Job:
    uris = load_uris(spec, window)
    if spec.partition_by is None and not spec.cluster_by:
        return Job("load", (_load_data(target, fmt, uris, temp=False),), uris=uris)
    temp = temp_table_name(spec, window)
    staged = exp.select(exp.Star()).from_(temp.copy())
    statements: list[exp.Expression] = [_load_data(temp, fmt, uris, temp=True)]
    if spec.partitions is None or spec.partition_by is None or not window.is_time:
        statements.append(_create(target, staged, spec, replace=True))
    else:
        statements.append(
            _create(
                target,
                staged.copy().where(exp.false()),
                spec,
                replace=full_refresh,
                if_not_exists=not full_refresh,
            )
        )
        merge = _merge_overwrite(target, staged, spec.partition_by, window, None)
        statements.append(inline_parameters(merge, window.parameters()))
    return Job("load", tuple(statements), uris=uris)


def add_columns(target: exp.Table, columns: Sequence[tuple[str, exp.DataType]]) -> Job:
    """``ALTER TABLE t ADD COLUMN …`` for new nullable columns (existing rows get NULL)."""
    statements = [
        exp.Alter(
            this=target.copy(),
            kind="TABLE",
            actions=[exp.ColumnDef(this=exp.to_identifier(name), kind=kind.copy())],
        )
        for name, kind in columns
    ]
    return Job("alter", tuple(statements))


def drop_table(target: exp.Table) -> Job:
    """``DROP TABLE IF EXISTS t`` (a full refresh that changes the partitioning)."""
    return Job("drop", (exp.Drop(this=target.copy(), kind="TABLE", exists=True),))


_POSITION_KEYS = frozenset(("line", "col", "start", "end"))


def parse_body(sql: str) -> tuple[list[exp.Expression], exp.Expression]:
    """A model body as (temp-function statements, the query), without source positions."""
    statements = [tree for tree in sqlglot.parse(sql, read=DIALECT) if tree is not None]
    _refuse_side_effects(statements, "the model body")
    if not isinstance(statements[-1], exp.Query):
        raise StrategyError("the model body does not end with a query")
    for statement in statements:
        _drop_positions(statement)
    return statements[:-1], statements[-1]


def _refuse_side_effects(statements: list[exp.Expression], what: str) -> None:
    """Lint refuses these first; this holds again before any job is built (files change)."""
    found = side_effect(statements)
    if found is not None:
        raise StrategyError(
            f"`{side_effect_keyword(found[1])}` inside {what}: it must be a pure query; "
            "nothing was sent"
        )


def _drop_positions(tree: exp.Expression) -> None:
    """Forget token positions: diagnostics are made at load time, not when building jobs.

    sqlglot deep-copies each node's ``meta`` dict with ``copy.deepcopy``; for the
    positions the parser records on every identifier that is most of the cost of
    copying a tree (4x here), and jobs copy trees at every rewrite.
    """
    for node in tree.walk():
        meta = node._meta
        if meta is not None and meta.keys() <= _POSITION_KEYS:
            node._meta = None


# ---------------------------------------------------------------- checks


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
            count = int(row["row_count"] or 0)  # type: ignore[call-overload]
            low = self.check.min if self.check.min is not None else 0
            return low <= count and (self.check.max is None or count <= self.check.max)
        return int(row["failures"] or 0) == 0  # type: ignore[call-overload]


def check_query(spec: ModelSpec, check: CheckSpec, table: exp.Table, window: Window) -> CheckQuery:
    """The single-row query of ``check`` over the materialized window of ``table``.

    The window applies when the model is time-partitioned with ``@partition_by``
    (the same condition the overwrite uses); otherwise the whole table is checked.
    """
    source = table.copy()
    source.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    condition: exp.Expression | None = None
    if spec.partition_by is not None and window.is_time:
        condition = window_condition(spec.partition_by, TARGET_ALIAS)

    def column(name: str) -> exp.Column:
        return exp.column(name, table=TARGET_ALIAS)

    def scoped(select: exp.Select) -> exp.Select:
        return select.where(condition) if condition is not None else select

    failures = exp.to_identifier("failures")
    if isinstance(check, NotNullCheck):
        nulls = exp.or_(*(exp.Is(this=column(c), expression=exp.null()) for c in check.columns))
        query = scoped(exp.select(exp.alias_(exp.CountIf(this=nulls), failures)).from_(source))
    elif isinstance(check, UniqueCheck):
        keys = [column(c) for c in check.columns]
        duplicates = (
            scoped(exp.select(*keys).from_(source))
            .group_by(*keys)
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        )
        query = exp.select(exp.alias_(exp.Count(this=exp.Star()), failures)).from_(
            exp.Subquery(this=duplicates, alias=exp.TableAlias(this=exp.to_identifier("_d")))
        )
    elif isinstance(check, AcceptedValuesCheck):
        values = [_value_literal(value) for value in check.values]
        outside = exp.and_(
            exp.Not(this=exp.Is(this=column(check.column), expression=exp.null())),
            exp.Not(this=exp.In(this=column(check.column), expressions=values)),
        )
        query = scoped(exp.select(exp.alias_(exp.CountIf(this=outside), failures)).from_(source))
    elif isinstance(check, RowCountCheck):
        query = scoped(
            exp.select(exp.alias_(exp.Count(this=exp.Star()), "row_count")).from_(source)
        )
    else:
        assert isinstance(check, ExpressionCheck)
        condition_sql = sqlglot.parse_one(check.sql, read=DIALECT)
        _refuse_side_effects([condition_sql], f"check `{check.name}`")
        qualified = condition_sql.transform(
            lambda node: (
                column(node.name) if isinstance(node, exp.Column) and not node.table else node
            )
        )
        query = scoped(
            exp.select(
                exp.alias_(exp.CountIf(this=exp.Not(this=exp.Paren(this=qualified))), failures)
            ).from_(source)
        )
    return CheckQuery(check, query, _with_parameters(query, window), condition is not None)


def _value_literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))

"""Incremental strategies: ``merge`` (upsert on a unique key) and ``insert_overwrite``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import expressions as exp

from sqlassets.errors import StrategyError
from sqlassets.job import Job
from sqlassets.spec import (
    TARGET_ALIAS,
    InsertOverwriteMaterialization,
    MergeMaterialization,
    ModelSpec,
    PartitionBy,
)
from sqlassets.window import QueryParameter, Window

from .common import (
    SOURCE_ALIAS,
    bound_parameters,
    create,
    empty,
    inline_window,
    on_target,
    subquery,
    window_condition,
)


def _guard(partition_by: PartitionBy, window: Window) -> exp.If:
    """``IF(partition value in window, value, ERROR(…))`` for the partition column.

    It stands in the projection, never in ``WHERE``: BigQuery does not order
    ``WHERE`` conditions, so a guard there could fire on rows the model's own
    filter removes. A row outside the window (or with a NULL partition value)
    fails the whole job, so nothing is written and nothing else changes.
    """
    message = (
        f"sqlassets: a row outside the run window [{window.start:%Y-%m-%d %H:%M}, "
        f"{window.end:%Y-%m-%d %H:%M}) or with a NULL `{partition_by.column}`: nothing was "
        "written; filter the input to the window (@start_date/@end_date or @start_ts/@end_ts)"
    )
    return exp.If(
        this=window_condition(partition_by, SOURCE_ALIAS),
        true=exp.column(partition_by.column, table=SOURCE_ALIAS),
        false=exp.Anonymous(this="ERROR", expressions=[exp.Literal.string(message)]),
    )


def guarded_source(
    source: exp.Expression,
    partition_by: PartitionBy,
    window: Window,
    columns: Sequence[str] | None,
) -> exp.Select:
    """The source's rows with the partition column guarded (see :func:`_guard`).

    ``SELECT _s.a, IF(…) AS d, … FROM (source) AS _s`` when the columns are
    known, else ``SELECT * REPLACE (IF(…) AS d) FROM (source) AS _s``.
    """
    guard = exp.alias_(_guard(partition_by, window), partition_by.column)
    if columns:
        wanted = partition_by.column.lower()
        if wanted not in {column.lower() for column in columns}:
            raise StrategyError(
                f"the partition column `{partition_by.column}` is not in the query's output"
            )
        projection: list[exp.Expr] = [
            guard.copy() if column.lower() == wanted else exp.column(column, table=SOURCE_ALIAS)
            for column in columns
        ]
    else:
        projection = [exp.Star(replace=[guard])]
    return exp.select(*projection).from_(subquery(source, SOURCE_ALIAS))


def _insert(columns: Sequence[str]) -> exp.Insert:
    return exp.Insert(
        this=exp.Tuple(expressions=[exp.column(column) for column in columns]),
        expression=exp.Tuple(
            expressions=[exp.column(column, table=SOURCE_ALIAS) for column in columns]
        ),
    )


def _target(target: exp.Table) -> exp.Table:
    aliased = target.copy()
    aliased.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    return aliased


def merge_upsert(
    target: exp.Table,
    query: exp.Expression,
    unique_key: Sequence[str],
    columns: Sequence[str],
    target_conditions: Sequence[exp.Expr] = (),
) -> exp.Merge:
    """``MERGE target USING (query) ON keys``: update matched rows, insert the others.

    ``target_conditions`` (on :data:`TARGET_ALIAS` only) are ANDed into ``ON``:
    BigQuery then reads only the target's rows, and partitions, they allow.
    """
    on = exp.and_(
        *(
            exp.EQ(
                this=exp.column(key, table=TARGET_ALIAS),
                expression=exp.column(key, table=SOURCE_ALIAS),
            )
            for key in unique_key
        ),
        *(exp.Paren(this=condition) for condition in target_conditions),
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
        using=subquery(query, SOURCE_ALIAS),
        on=on,
        whens=exp.Whens(expressions=whens),
    )


def overwrite(
    target: exp.Table,
    source: exp.Expression,
    partition_by: PartitionBy,
    window: Window,
    columns: Sequence[str] | None,
) -> tuple[exp.Expression, ...]:
    """Replace the window atomically: one transaction that deletes it and inserts the source.

    ``BEGIN TRANSACTION; DELETE FROM t WHERE <window>; INSERT INTO t (…) SELECT
    <guarded source>; COMMIT TRANSACTION``. Deleting whole partitions is free
    on BigQuery, so the job bills only the source (a ``MERGE … ON FALSE … NOT
    MATCHED BY SOURCE`` bills every column of the replaced partitions too, and
    DuckDB runs it as a nested-loop join: quadratic in the rows re-written).
    Without known columns the insert is positional (``SELECT *``, same layout).
    """
    delete = exp.Delete(
        this=_target(target), where=exp.Where(this=window_condition(partition_by, TARGET_ALIAS))
    )
    insert = exp.Insert(
        this=(
            exp.Schema(
                this=target.copy(), expressions=[exp.to_identifier(column) for column in columns]
            )
            if columns
            else target.copy()
        ),
        expression=guarded_source(source, partition_by, window, columns),
    )
    return (exp.Transaction(), delete, insert, exp.Commit())


def incremental_jobs(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression,
    columns: Sequence[str] | None,
    head: tuple[exp.Expression, ...],
    full_refresh: bool,
) -> list[Job]:
    """``create`` the table if missing, then merge the window in.

    A full refresh is one job, ``CREATE OR REPLACE TABLE … AS`` the (guarded)
    query: if it fails, the old table is still there, whole.
    """
    materialization = spec.materialization
    if full_refresh:
        return [Job("rebuild", (*head, rebuild(spec, target, window, query, columns)))]
    create_statement = inline_window(
        create(target, empty(query.copy()), spec, if_not_exists=True), window
    )
    if isinstance(materialization, MergeMaterialization):
        if not columns:
            raise StrategyError(f"{spec.name.name}: the merge needs the query's output columns")
        source, conditions = _merge_scope(spec, materialization, window, query.copy(), columns)
        merge = merge_upsert(target, source, materialization.unique_key, columns, conditions)
        action = "merge"
    else:
        assert isinstance(materialization, InsertOverwriteMaterialization)
        if spec.partition_by is None or not window.is_time:
            raise StrategyError(f"{spec.name.name}: insert_overwrite needs a time window")
        statements = overwrite(target, query.copy(), spec.partition_by, window, columns)
        return [
            Job("create", (*head, create_statement)),
            Job("overwrite", (*head, *statements), _bound(statements, window)),
        ]
    return [
        Job("create", (*head, create_statement)),
        Job(action, (*head, merge), bound_parameters(merge, window)),
    ]


def _merge_scope(
    spec: ModelSpec,
    materialization: MergeMaterialization,
    window: Window,
    query: exp.Expression,
    columns: Sequence[str],
) -> tuple[exp.Expression, list[exp.Expr]]:
    """The merge's source and the conditions on the target it adds to ``ON``.

    With the partition column in the key, the window limits the target (the
    key match implies it): the source is guarded to the window as an
    overwrite's is, since a source row outside it would match nothing and be
    inserted a second time. ``@merge_filter`` comes on top.
    """
    conditions: list[exp.Expr] = []
    partition_by = spec.partition_by
    keys = {key.lower() for key in materialization.unique_key}
    if partition_by is not None and window.is_time and partition_by.column.lower() in keys:
        conditions.append(window_condition(partition_by, TARGET_ALIAS))
        query = guarded_source(query, partition_by, window, columns)
    if materialization.merge_filter:
        conditions.append(on_target(materialization.merge_filter, "@merge_filter"))
    return query, conditions


def rebuild(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression,
    columns: Sequence[str] | None,
) -> exp.Expression:
    """``CREATE OR REPLACE TABLE target … AS`` the window's rows, guarded as an overwrite is."""
    source = query.copy()
    if isinstance(spec.materialization, InsertOverwriteMaterialization):
        if spec.partition_by is None or not window.is_time:
            raise StrategyError(f"{spec.name.name}: insert_overwrite needs a time window")
        source = guarded_source(source, spec.partition_by, window, columns)
    return inline_window(create(target, source, spec, replace=True), window)


def _bound(statements: Sequence[exp.Expression], window: Window) -> tuple[QueryParameter, ...]:
    """The window parameters any of ``statements`` reads, each once."""
    bound = {
        parameter.name: parameter
        for statement in statements
        for parameter in bound_parameters(statement, window)
    }
    return tuple(bound[name] for name in sorted(bound))

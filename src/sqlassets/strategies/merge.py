"""Incremental strategies: ``merge`` (upsert on a unique key) and ``insert_overwrite``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import expressions as exp

from sqlassets.errors import StrategyError
from sqlassets.job import Job
from sqlassets.spec import (
    InsertOverwriteMaterialization,
    MergeMaterialization,
    ModelSpec,
    PartitionBy,
)
from sqlassets.window import Window

from .common import (
    SOURCE_ALIAS,
    TARGET_ALIAS,
    bound_parameters,
    create,
    empty,
    inline_window,
    subquery,
    window_condition,
)


def guarded_source(source: exp.Expression, partition_by: PartitionBy, window: Window) -> exp.Select:
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


def merge_upsert(
    target: exp.Table, query: exp.Expression, unique_key: Sequence[str], columns: Sequence[str]
) -> exp.Merge:
    """``MERGE target USING (query) ON keys``: update matched rows, insert the others."""
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
        using=subquery(query, SOURCE_ALIAS),
        on=on,
        whens=exp.Whens(expressions=whens),
    )


def merge_overwrite(
    target: exp.Table,
    source: exp.Expression,
    partition_by: PartitionBy,
    window: Window,
    columns: Sequence[str] | None,
) -> exp.Merge:
    """One atomic ``MERGE … ON FALSE``: delete the window's rows, insert the guarded source."""
    return exp.Merge(
        this=_target(target),
        using=subquery(guarded_source(source, partition_by, window), SOURCE_ALIAS),
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


def incremental_jobs(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression,
    columns: Sequence[str] | None,
    head: tuple[exp.Expression, ...],
    full_refresh: bool,
) -> list[Job]:
    """``create`` the table if missing (or anew on a full refresh), then merge the window in."""
    materialization = spec.materialization
    create_statement = inline_window(
        create(
            target, empty(query.copy()), spec, replace=full_refresh, if_not_exists=not full_refresh
        ),
        window,
    )
    if isinstance(materialization, MergeMaterialization):
        if not columns:
            raise StrategyError(f"{spec.name.name}: the merge needs the query's output columns")
        merge = merge_upsert(target, query.copy(), materialization.unique_key, columns)
        action = "merge"
    else:
        assert isinstance(materialization, InsertOverwriteMaterialization)
        if spec.partition_by is None or not window.is_time:
            raise StrategyError(f"{spec.name.name}: insert_overwrite needs a time window")
        merge = merge_overwrite(target, query.copy(), spec.partition_by, window, columns)
        action = "overwrite"
    return [
        Job("create", (*head, create_statement)),
        Job(action, (*head, merge), bound_parameters(merge, window)),
    ]

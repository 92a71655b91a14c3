"""``sqlassets show``: a few rows of a model's table, filtered by a window and ``--where``.

The filter is one BigQuery-dialect tree with typed literals (never parameters:
the Storage Read API's ``row_restriction`` binds none); the engine reads the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import sqlglot
from sqlglot import expressions as exp

from sqlassets.dialect import DIALECT
from sqlassets.engines.base import Engine, JobContext, Preview
from sqlassets.errors import EngineError, WindowError, did_you_mean
from sqlassets.job import Job, inline_parameters, parameter_names
from sqlassets.loader import Model
from sqlassets.project import Project
from sqlassets.spec import LoadMaterialization
from sqlassets.spec.conditions import boolean_sql_problem
from sqlassets.strategies import parse_body, rewrite_references
from sqlassets.strategies.common import bound_parameters, subquery, window_condition
from sqlassets.window import Window

from .plan import physical_tables, resolve_window

DEFAULT_LIMIT = 20


def where_condition(text: str) -> exp.Expression:
    """``--where`` as a tree; anything but one pure boolean expression is a :class:`WindowError`."""
    problem = boolean_sql_problem(text, reader="--where")
    if problem is not None:
        raise WindowError(f"--where: {problem}")
    tree = cast("exp.Expression", sqlglot.parse_one(text, read=DIALECT))
    if isinstance(tree, exp.Subquery) or tree.find(exp.Query) is not None:
        raise WindowError("--where: a subquery would run a query; filter on the table's columns")
    used = parameter_names(tree)
    if used:
        names = ", ".join("@" + name for name in sorted(used))
        raise WindowError(f"--where: {names} is not bound here; write the value as a literal")
    return tree


def preview_condition(
    model: Model, window: Window | None, where: exp.Expression | None
) -> exp.Expression | None:
    """The rows to show: the window's partitions (typed literals) AND ``where``."""
    parts: list[exp.Expression] = []
    if window is not None and window.is_time:
        partition_by = model.spec.partition_by
        if partition_by is None:
            raise WindowError(
                f"{model.name} has no @partition_by column to filter a window on; use --where"
            )
        condition = window_condition(partition_by, "")
        for column in condition.find_all(exp.Column):
            column.set("table", None)
        parts.append(inline_parameters(cast("exp.Expression", condition), window.parameters()))
    elif window is not None and window.partition_key is not None:
        raise WindowError(
            f"{model.name} has static partitions, which name no column to filter on; use --where"
        )
    if where is not None:
        parts.append(exp.paren(where.copy()) if isinstance(where, exp.Or) else where.copy())
    if not parts:
        return None
    return cast("exp.Expression", exp.and_(*parts)) if len(parts) > 1 else parts[0]


def preview(
    model: Model,
    engine: Engine,
    window: Window | None,
    columns: Sequence[str] = (),
    where: exp.Expression | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Preview:
    """Up to ``limit`` rows of ``model``'s table; unknown columns or a missing table refused."""
    condition = preview_condition(model, window, where)
    table = engine.naming.table(model.spec.name)
    existing = engine.table_columns(table)
    if existing is None:
        raise EngineError(
            f"{model.name} has no table yet ({table.sql(DIALECT)}); "
            f"run `sqlassets run --select {model.name}` first"
        )
    known = {name.lower(): name for name, _ in existing}
    for column in columns:
        if column.lower() not in known:
            raise WindowError(
                f"--columns: {model.name} has no column `{column}`"
                + did_you_mean(column.lower(), known, prefix="")
            )
    chosen = [known[column.lower()] for column in columns]
    return engine.preview_rows(table, chosen, condition, limit)


def query_preview(
    project: Project,
    model: Model,
    engine: Engine,
    window: Window | None,
    columns: Sequence[str],
    where: exp.Expression | None,
    limit: int,
    on_dry_run: Callable[[int | None], None],
) -> Preview:
    """Up to ``limit`` rows of ``model``'s query (not its table), as one query job with ``LIMIT``.

    The job is dry-run first: ``on_dry_run`` gets its bytes, and above the
    model's ``@maximum_bytes_billed`` it is refused before it runs. Without a
    window a partitioned model's query reads its latest partition.
    """
    if isinstance(model.spec.materialization, LoadMaterialization):
        raise WindowError(f"{model.name} is a load: it has no query; show its table instead")
    window = window if window is not None else resolve_window(model)
    tables = physical_tables(project, engine.naming)
    preamble, body = parse_body(model.sql)
    query = rewrite_references(body, tables)
    selected: list[exp.Expr] = [exp.column(name, quoted=True) for name in columns]
    selected = selected or [exp.Star()]
    select = exp.Select(expressions=selected, from_=exp.From(this=subquery(query, "_q")))
    condition = preview_condition(model, window if window.is_time else None, where)
    if condition is not None:
        select = select.where(condition, copy=False)
    select = select.limit(exp.Literal.number(limit), copy=False)
    job = Job(
        action="preview",
        statements=(*preamble, select),
        parameters=bound_parameters(select, window),
    )
    planned = engine.dry_run(job)
    processed = planned[-1].bytes_processed if planned else None
    on_dry_run(processed)
    cap = model.spec.maximum_bytes_billed
    if cap is not None and processed is not None and processed > cap:
        raise EngineError(
            f"{model.name}: the query would process {processed:,} bytes, above its "
            f"@maximum_bytes_billed of {cap:,}; narrow the window or --where"
        )
    context = JobContext(
        model.name, step="preview", window=window.label(), maximum_bytes_billed=cap
    )
    return engine.query_rows(job, context, limit)

"""Whole-table strategies (``table``, ``view``) and the schema-change statements."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import expressions as exp

from sqlassets.job import Job
from sqlassets.spec import ModelSpec, ViewMaterialization
from sqlassets.window import Window

from .common import create, inline_window


def replace_jobs(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression,
    columns: Sequence[str] | None,
    head: tuple[exp.Expression, ...],
    full_refresh: bool,
) -> list[Job]:
    """``CREATE OR REPLACE TABLE|VIEW target AS query``, the window's values inlined.

    Columns and a full refresh change nothing: the table is rebuilt on every run.
    """
    kind = "VIEW" if isinstance(spec.materialization, ViewMaterialization) else "TABLE"
    statement = inline_window(create(target, query.copy(), spec, kind=kind, replace=True), window)
    return [Job("replace", (*head, statement))]


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

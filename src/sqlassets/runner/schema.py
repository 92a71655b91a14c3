"""Before an incremental run: compare the existing table with the header and the query.

A changed partitioning or clustering needs a full refresh; changed columns
follow ``@on_schema_change`` (fail, or add the new columns first). The engine
reports and predicts layouts in its own notation; this module only compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import expressions as exp

from sqlassets.codes import Code
from sqlassets.engines.base import Engine, Layout
from sqlassets.errors import SchemaChangeError
from sqlassets.job import Job
from sqlassets.spec import (
    LOADED_PARTITION,
    InsertOverwriteMaterialization,
    MergeMaterialization,
    ModelSpec,
    OnSchemaChange,
)
from sqlassets.strategies import (
    add_columns,
    appends,
    drop_table,
    self_columns,
    without_self_reads,
)
from sqlassets.window import Window


@dataclass(frozen=True)
class SchemaDiff:
    """How a query's columns differ from its existing table's."""

    added: tuple[tuple[str, str], ...]
    removed: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def describe(self) -> str:
        """``added a (INT64); removed b; retyped c (STRING -> INT64)``."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(f"{n} ({t})" for n, t in self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append("retyped " + ", ".join(f"{n} ({a} -> {b})" for n, a, b in self.retyped))
        return "; ".join(parts)


def schema_diff(existing: list[tuple[str, str]], incoming: list[tuple[str, str]]) -> SchemaDiff:
    """Columns added, removed and retyped between a table and a query (names ignore case)."""
    old = {name.lower(): (name, kind.upper()) for name, kind in existing}
    new = {name.lower(): (name, kind.upper()) for name, kind in incoming}
    return SchemaDiff(
        added=tuple(new[key] for key in new if key not in old),
        removed=tuple(old[key][0] for key in old if key not in new),
        retyped=tuple(
            (new[key][0], old[key][1], new[key][1])
            for key in new
            if key in old and new[key][1] != old[key][1]
        ),
    )


def check_partition_type(
    spec: ModelSpec, engine: Engine, schema: Sequence[tuple[str, str]]
) -> None:
    """Refuse (SA306) a ``@partition_by`` BigQuery cannot apply to the query's column type.

    Checked on every engine: DuckDB would run it, BigQuery would not. The
    message is located as lint's finding is (``path:line:col: SA306 …``):
    runs, Dagster and ``plan`` show an error's message alone.
    """
    if spec.partition_by is None:
        return
    wanted = spec.partition_by.column.lower()
    for name, kind in schema:
        if name.lower() == wanted:
            bigquery_type = exp.DataType.build(kind, dialect=engine.dialect, udt=True)
            problem = spec.partition_by.type_problem(bigquery_type.sql("bigquery"))
            if problem is not None:
                code = Code.PARTITION_COLUMN_TYPE
                error = SchemaChangeError(f"{spec.location_of('partition_by')}: {code} {problem}")
                error.code = code
                raise error
            return


def changed_layout(engine: Engine, target: exp.Table, spec: ModelSpec) -> Layout | None:
    """The existing table's layout when it is not the one ``spec`` declares, else None."""
    if not engine.capabilities.partitioning:
        return None
    layout = engine.table_layout(target)
    if layout is None or layout == engine.expected_layout(spec):
        return None
    return layout


def _layout_changed(engine: Engine, spec: ModelSpec, layout: Layout) -> SchemaChangeError:
    return SchemaChangeError(
        f"{spec.name.name}: the table is partitioned/clustered as {layout}, the header "
        f"says {engine.expected_layout(spec)}; rebuild it with `sqlassets run --full-refresh`"
    )


def load_layout_jobs(
    engine: Engine,
    target: exp.Table,
    spec: ModelSpec,
    window: Window,
    full_refresh: bool,
    jobs: Sequence[Job],
) -> list[Job]:
    """A load's ``jobs``, with a drop first when the table's layout is not the header's.

    An append into a table without its tag column (loaded as an overwrite) is
    refused: it could not replace its partitions' rows.

        BigQuery refuses to change a table's partitioning or clustering in place:
        ``LOAD DATA OVERWRITE … PARTITION BY``, ``CREATE OR REPLACE`` and a load job
        into ``t$partition`` all fail. A whole-table load and a full refresh
        rebuild the table anyway: the drop comes right before the job that writes
        it (after the files are staged, so a file error keeps the table). A
        window of a partitioned load would keep the other partitions' rows in the
        old layout: refused, as for incremental models, before anything is sent.
    """
    if appends(spec) and not full_refresh:
        existing = engine.table_columns(target)
        if existing is not None and LOADED_PARTITION not in {n.lower() for n, _ in existing}:
            raise SchemaChangeError(
                f"{spec.name.name}: the table has no {LOADED_PARTITION} column, so an append "
                "cannot tell which rows its partitions' files gave (it was loaded with "
                "@load_mode: overwrite); rebuild it once with `sqlassets run --full-refresh`"
            )
    if not engine.capabilities.drop_before_layout_change:
        return list(jobs)
    layout = changed_layout(engine, target, spec)
    if layout is None:
        return list(jobs)
    windowed = spec.time_partitions is not None and window.is_time
    if windowed and not full_refresh:
        raise _layout_changed(engine, spec, layout)
    index = next(i for i, job in enumerate(jobs) if job.action != "stage")
    return [*jobs[:index], drop_table(target), *jobs[index:]]


def refresh_jobs(engine: Engine, target: exp.Table, spec: ModelSpec) -> list[Job]:
    """What a full refresh sends before recreating the table (a drop, on some engines)."""
    if engine.capabilities.drop_before_layout_change and changed_layout(engine, target, spec):
        # Explicitly asked for with --full-refresh; never implied.
        return [drop_table(target)]
    return []


def schema_jobs(
    spec: ModelSpec,
    engine: Engine,
    target: exp.Table,
    query: exp.Expression,
    window: Window,
    preamble: Sequence[exp.Expression] = (),
) -> tuple[list[Job], bool]:
    """The jobs that bring an existing table's columns to the query's, or an error.

    Also whether the table exists: then the run sends no ``create`` job (it
    would be a no-op, and one more job per run). ``preamble`` holds the temp
    functions the query calls.
    """
    existing = engine.table_columns(target)
    if existing is None:
        return [], False
    layout = changed_layout(engine, target, spec)
    if layout is not None:
        raise _layout_changed(engine, spec, layout)
    incoming = engine.query_schema(query, list(window.parameters().values()), preamble)
    diff = schema_diff(existing, incoming)
    if not diff:
        return [], True
    assert isinstance(spec.materialization, MergeMaterialization | InsertOverwriteMaterialization)
    policy = spec.materialization.on_schema_change
    if policy is OnSchemaChange.FAIL or diff.retyped:
        advice = (
            "set `@on_schema_change: append_new_columns` to add new columns, or rebuild the "
            "table with `sqlassets run --full-refresh`"
            if policy is OnSchemaChange.FAIL
            else "retyped columns need `sqlassets run --full-refresh`"
        )
        raise SchemaChangeError(
            f"{spec.name.name}: the query's columns changed ({diff.describe()}); {advice}"
        )
    if not diff.added:
        return [], True  # removed columns stay in the table and get NULL from now on
    added = [(name, exp.DataType.build(kind, dialect=engine.dialect)) for name, kind in diff.added]
    return [add_columns(target, added)], True


def loaded_columns(
    engine: Engine, spec: ModelSpec, target: exp.Table, staging: exp.Table
) -> list[str]:
    """The staged files' columns, to insert by name; refused when they differ from the table's.

    A load has no ``@on_schema_change``: as BigQuery's own load into an
    existing table does, added or retyped columns fail (removed ones get NULL).
    The files type the partition column: it is checked here (SA306), before
    the transaction writes anything.
    """
    staged = engine.table_columns(staging) or []
    check_partition_type(spec, engine, staged)
    existing = engine.table_columns(target)
    if existing is not None and appends(spec):
        # An append's own tag column: the files never have it.
        existing = [(name, kind) for name, kind in existing if name.lower() != LOADED_PARTITION]
    if existing is not None:
        diff = schema_diff(existing, staged)
        if diff.added or diff.retyped:
            raise SchemaChangeError(
                f"{spec.name.name}: the files' columns differ from the table's "
                f"({diff.describe()}); nothing was written; fix the files, or rebuild the "
                "table with `sqlassets run --full-refresh`"
            )
    return [name for name, _ in staged]


_PROBES = 4
"""At most this many schema probes settle the columns of a table a model reads before it exists."""


def first_run_query(
    engine: Engine,
    target: exp.Table,
    query: exp.Expression,
    window: Window,
    preamble: Sequence[exp.Expression] = (),
    columns: Sequence[str] | None = None,
) -> exp.Expression:
    """``query`` with its reads of ``target`` (a table not created yet) as an empty relation.

    The table will hold the query's output, so the relation starts with the
    output columns (``columns``) and those read through its aliases, untyped;
    each probe of the query's schema types them, until nothing changes.
    """
    names = dict.fromkeys([*(columns or ()), *self_columns(query, target)])
    guess: list[tuple[str, exp.DataType | None]] = [(name, None) for name in names]
    parameters = list(window.parameters().values())
    for _ in range(_PROBES):
        candidate = without_self_reads(query, target, guess)
        schema = engine.query_schema(candidate, parameters, preamble)
        typed = {name.lower(): kind for name, kind in schema}
        settled: list[tuple[str, exp.DataType | None]] = []
        for name, kind in guess:
            found = typed.pop(name.lower(), None)
            settled.append((name, _data_type(found, engine.dialect) if found else kind))
        settled += [
            (name, _data_type(kind, engine.dialect))
            for name, kind in schema
            if name.lower() in typed
        ]
        if [(n, k and k.sql()) for n, k in settled] == [(n, k and k.sql()) for n, k in guess]:
            break
        guess = settled
    return without_self_reads(query, target, guess)


def _data_type(kind: str, dialect: str) -> exp.DataType | None:
    """The type ``kind`` in the engine's notation; None for DuckDB's untyped ``NULL``."""
    if kind.upper() == "NULL":
        return None
    return exp.DataType.build(kind, dialect=dialect)

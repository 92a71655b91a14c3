"""The ``load`` strategy: from Cloud Storage, as free as the engine allows.

On BigQuery a window of one partition is a load job into ``t$partition``, a
whole table one ``LOAD DATA OVERWRITE … PARTITION BY … CLUSTER BY``, and a
window of several partitions is staged, then replaced in a transaction.

``@load_mode: append`` adds each partition's files to the table instead, and
tags their rows with the partition's key (:data:`~sqlassets.spec.LOADED_PARTITION`):
a run first deletes the rows its partitions' files gave before, so a re-run
replaces them instead of adding them twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlglot import expressions as exp

from sqlassets.job import Job, PartitionLoad, inline_parameters
from sqlassets.parameters import PARTITION_KEY, START_DATE
from sqlassets.spec import (
    LOADED_PARTITION,
    TARGET_ALIAS,
    FileFormat,
    Granularity,
    LoadMaterialization,
    LoadMode,
    ModelSpec,
    PartitionBy,
    TimePartitions,
)
from sqlassets.window import KEY_FORMATS, Window, step

from .common import SOURCE_ALIAS, create, properties, subquery
from .merge import guarded_source, overwrite


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


def staging_table(spec: ModelSpec, target: exp.Table, window: Window) -> exp.Table:
    """A real table next to ``target`` for one window's files (dropped after the run).

    Not a temp table: BigQuery bills a script's temp tables for up to 24 hours,
    and its docs contradict themselves on ``LOAD DATA INTO TEMP TABLE``.
    """
    staged = temp_table_name(spec, window)
    staged.set("db", target.args.get("db"))
    staged.set("catalog", target.args.get("catalog"))
    return staged


_SOURCE_FORMATS = {
    FileFormat.PARQUET: "PARQUET",
    FileFormat.CSV: "CSV",
    FileFormat.JSON: "NEWLINE_DELIMITED_JSON",
    FileFormat.AVRO: "AVRO",
    FileFormat.ORC: "ORC",
}
_DECORATORS = {
    Granularity.HOUR: "%Y%m%d%H",
    Granularity.DAY: "%Y%m%d",
    Granularity.MONTH: "%Y%m",
    Granularity.YEAR: "%Y",
}


def partition_start(granularity: Granularity, moment: datetime) -> datetime:
    """The start of the table partition of ``granularity`` holding ``moment``."""
    if granularity is Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def next_partition(granularity: Granularity, moment: datetime) -> datetime:
    """The start of the table partition after the one starting at ``moment``."""
    if granularity is Granularity.HOUR:
        return moment + timedelta(hours=1)
    if granularity is Granularity.DAY:
        return moment + timedelta(days=1)
    if granularity is Granularity.MONTH:
        return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment.replace(year=moment.year + 1)


def single_partition(partition_by: PartitionBy, window: Window) -> str | None:
    """The partition decorator (``20240102``) when ``window`` is exactly one table partition."""
    if window.start is None or window.end is None:
        return None
    granularity = partition_by.granularity
    if partition_start(granularity, window.start) != window.start:
        return None
    if next_partition(granularity, window.start) != window.end:
        return None
    return window.start.strftime(_DECORATORS[granularity])


def _load_data(
    target: exp.Table,
    fmt: FileFormat,
    uris: Sequence[str],
    *,
    temp: bool,
    layout: exp.Properties | None = None,
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
        this=target.copy(),
        overwrite=not temp,
        temp=temp,
        files=exp.Properties(expressions=options),
        partition=layout,  # rendered as PARTITION BY/CLUSTER BY by sqlassets.dialect
    )


def _partition_load(spec: ModelSpec, target: exp.Table, partition: str) -> PartitionLoad:
    assert isinstance(spec.materialization, LoadMaterialization)
    assert spec.partition_by is not None
    fmt = spec.materialization.format
    return PartitionLoad(
        table=target.copy(),
        partition=partition,
        source_format=_SOURCE_FORMATS[fmt],
        partition_field=spec.partition_by.column,
        partition_type=spec.partition_by.granularity.value,
        clustering=tuple(spec.cluster_by),
        skip_leading_rows=1 if fmt is FileFormat.CSV else 0,
    )


def staged_overwrite(
    spec: ModelSpec,
    target: exp.Table,
    staging: exp.Table,
    window: Window,
    columns: Sequence[str] | None,
) -> Job:
    """Create the table if missing, then replace the window with the staged rows by name.

    ``BEGIN TRANSACTION; DELETE <window>; INSERT INTO t (a, d, …) SELECT …;
    COMMIT TRANSACTION``: deleting whole partitions is free, so the job bills
    the staged bytes only. ``columns`` are the staging table's (the runner
    reads them after the files are loaded); without them (``compile``) the
    insert lists no columns.
    """
    return Job(
        "overwrite", tuple(_replace_window(spec, target, staging, window, columns)), staging=staging
    )


def _replace_window(
    spec: ModelSpec,
    target: exp.Table,
    source: exp.Table,
    window: Window,
    columns: Sequence[str] | None,
) -> list[exp.Expression]:
    """``CREATE TABLE IF NOT EXISTS`` the target, then the window overwritten from ``source``."""
    assert spec.partition_by is not None
    staged = exp.select(exp.Star()).from_(source.copy())
    statements: list[exp.Expression] = [
        create(target, staged.copy().where(exp.false()), spec, if_not_exists=True)
    ]
    replaced = overwrite(target, staged, spec.partition_by, window, columns)
    return statements + [
        inline_parameters(statement, window.parameters()) for statement in replaced
    ]


def _rebuild(
    spec: ModelSpec, target: exp.Table, source: exp.Table, window: Window
) -> exp.Expression:
    """One ``CREATE OR REPLACE TABLE … AS`` the guarded rows (a failure keeps the old table)."""
    assert spec.partition_by is not None
    staged = exp.select(exp.Star()).from_(source.copy())
    guarded = guarded_source(staged, spec.partition_by, window, None)
    return inline_parameters(create(target, guarded, spec, replace=True), window.parameters())


def load_jobs(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    full_refresh: bool,
    *,
    partition_load_jobs: bool = False,
    load_layout: bool = False,
) -> list[Job]:
    """The jobs of a ``load``: one statement or load job when possible, else staged.

    ``partition_load_jobs``: a window of exactly one table partition is a load
    job into that partition. ``load_layout``: ``LOAD DATA`` carries ``PARTITION
    BY``/``CLUSTER BY``, and a window of several partitions is staged in a real
    table. Without either (DuckDB), a temp table and a transaction in one job.
    """
    assert isinstance(spec.materialization, LoadMaterialization)
    fmt = spec.materialization.format
    if appends(spec) and window.is_time:
        return _append_jobs(spec, target, window, full_refresh, staged=load_layout)
    uris = load_uris(spec, window)
    if spec.partition_by is None and not spec.cluster_by:
        return [Job("load", (_load_data(target, fmt, uris, temp=False),), uris=uris)]
    windowed = spec.partitions is not None and spec.partition_by is not None and window.is_time
    if load_layout and not windowed:
        # One free, atomic statement, where `CREATE OR REPLACE … AS` would bill every byte.
        statement = _load_data(target, fmt, uris, temp=False, layout=properties(spec))
        return [Job("load", (statement,), uris=uris)]
    if windowed and not full_refresh and partition_load_jobs:
        assert spec.partition_by is not None
        partition = single_partition(spec.partition_by, window)
        if partition is not None:
            load = _partition_load(spec, target, partition)
            return [Job("load", (), uris=uris, load=load)]
    if windowed and load_layout:
        assert spec.partition_by is not None
        staging = staging_table(spec, target, window)
        stage = Job(
            "stage", (_load_data(staging, fmt, uris, temp=False),), uris=uris, staging=staging
        )
        if full_refresh:
            return [
                stage,
                Job("rebuild", (_rebuild(spec, target, staging, window),), staging=staging),
            ]
        return [stage, staged_overwrite(spec, target, staging, window, None)]
    temp = temp_table_name(spec, window)
    statements: list[exp.Expression] = [_load_data(temp, fmt, uris, temp=True)]
    if not windowed:
        statements.append(
            create(target, exp.select(exp.Star()).from_(temp.copy()), spec, replace=True)
        )
    elif full_refresh:
        statements.append(_rebuild(spec, target, temp, window))
    else:
        statements += _replace_window(spec, target, temp, window, None)
    return [Job("load", tuple(statements), uris=uris)]


def appends(spec: ModelSpec) -> bool:
    """Whether ``spec`` is a load with ``@load_mode: append``."""
    materialization = spec.materialization
    return (
        isinstance(materialization, LoadMaterialization)
        and materialization.load_mode is LoadMode.APPEND
    )


def partition_windows(spec: ModelSpec, window: Window) -> list[Window]:
    """Each partition of the time ``window`` as a window of its own, in order."""
    partitions = spec.time_partitions
    assert partitions is not None and window.start is not None and window.end is not None
    pieces: list[Window] = []
    moment = window.start
    while moment < window.end:
        following = step(partitions.cadence, moment)
        key = moment.strftime(KEY_FORMATS[partitions.cadence])
        pieces.append(Window(start=moment, end=following, keys=(key,)))
        moment = following
    return pieces


def _append_jobs(
    spec: ModelSpec, target: exp.Table, window: Window, full_refresh: bool, *, staged: bool
) -> list[Job]:
    """An append: each partition's files loaded apart, then one write of them all.

    Apart, so each row can carry the key of the partition whose files gave it
    (a load cannot add a column). ``staged`` (BigQuery): one free load job per
    partition into a real staging table, then the write as one job that the
    runner rebuilds with the staged column names. Otherwise (DuckDB) temp
    tables and the write in one job, one transaction.
    """
    assert isinstance(spec.materialization, LoadMaterialization)
    fmt = spec.materialization.format
    parts = partition_windows(spec, window)
    if staged:
        stages = []
        for part in parts:
            staging = staging_table(spec, target, part)
            uris = load_uris(spec, part)
            load = _load_data(staging, fmt, uris, temp=False)
            stages.append(Job("stage", (load,), uris=uris, staging=staging))
        return [*stages, staged_append(spec, target, window, None, full_refresh)]
    loads: list[exp.Expression] = []
    sources: list[tuple[str, exp.Table, Sequence[str] | None]] = []
    for part in parts:
        temp = temp_table_name(spec, part)
        loads.append(_load_data(temp, fmt, load_uris(spec, part), temp=True))
        sources.append((part.keys[0], temp, None))
    statements = loads + _append_statements(spec, target, sources, full_refresh)
    return [Job("load", tuple(statements), uris=load_uris(spec, window))]


def staged_append(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    columns: Mapping[str, Sequence[str]] | None,
    full_refresh: bool = False,
) -> Job:
    """The write of an append from its staging tables (one per partition of ``window``).

    ``columns`` are each staging table's, by table name (the runner reads them
    after the files are loaded): the insert names its columns, never relying
    on their positions, and a column one partition's files lack is NULL.
    """
    sources: list[tuple[str, exp.Table, Sequence[str] | None]] = []
    for part in partition_windows(spec, window):
        staging = staging_table(spec, target, part)
        known = None if columns is None else columns.get(staging.name)
        sources.append((part.keys[0], staging, known))
    statements = _append_statements(spec, target, sources, full_refresh)
    action = "rebuild" if full_refresh else "append"
    return Job(action, tuple(statements), staging=sources[0][1])


def _append_statements(
    spec: ModelSpec,
    target: exp.Table,
    sources: Sequence[tuple[str, exp.Table, Sequence[str] | None]],
    full_refresh: bool,
) -> list[exp.Expression]:
    """Replace the rows the partitions' files gave, by their key, with the files' rows now.

    ``CREATE TABLE IF NOT EXISTS``; ``BEGIN TRANSACTION; DELETE … WHERE
    _sqlassets_partition IN (keys); INSERT …; COMMIT TRANSACTION``. A full
    refresh is one ``CREATE OR REPLACE TABLE … AS`` the rows (the old table
    stays whole if it fails).
    """
    known = all(columns is not None for _, _, columns in sources)
    names: list[str] = []
    if known:
        seen: set[str] = set()
        for _, _, columns in sources:
            for name in columns or ():
                if name.lower() not in seen and name.lower() != LOADED_PARTITION:
                    seen.add(name.lower())
                    names.append(name)
    rows: exp.Select | exp.Union | None = None
    for key, table, columns in sources:
        tag = exp.alias_(exp.Literal.string(key), LOADED_PARTITION)
        projection: list[exp.Expr]
        if known:
            has = {name.lower() for name in columns or ()}
            projection = [
                exp.column(name) if name.lower() in has else exp.alias_(exp.null(), name)
                for name in names
            ]
        else:
            projection = [exp.Star()]
        select = exp.select(*projection, tag).from_(table.copy())
        # Unknown columns (DuckDB, or `compile` before the files are staged): by name.
        rows = (
            select
            if rows is None
            else exp.Union(this=rows, expression=select, distinct=False, by_name=not known)
        )
    assert rows is not None
    if full_refresh:
        return [create(target, rows, spec, replace=True)]
    empty = exp.select(exp.Star()).from_(subquery(rows.copy(), SOURCE_ALIAS)).where(exp.false())
    aliased = target.copy()
    aliased.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
    keys = [exp.Literal.string(key) for key, _, _ in sources]
    delete = exp.Delete(
        this=aliased,
        where=exp.Where(
            this=exp.In(this=exp.column(LOADED_PARTITION, table=TARGET_ALIAS), expressions=keys)
        ),
    )
    into: exp.Expression = target.copy()
    if known:
        listed = [*names, LOADED_PARTITION]
        into = exp.Schema(this=target.copy(), expressions=[exp.to_identifier(n) for n in listed])
    return [
        create(target, empty, spec, if_not_exists=True),
        exp.Transaction(),
        delete,
        exp.Insert(this=into, expression=rows),
        exp.Commit(),
    ]

"""The ``load`` strategy: ``LOAD DATA`` from Cloud Storage, staged when the table is laid out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlglot import expressions as exp

from sqlassets.job import Job, inline_parameters
from sqlassets.parameters import PARTITION_KEY, START_DATE
from sqlassets.spec import FileFormat, LoadMaterialization, ModelSpec, TimePartitions
from sqlassets.window import KEY_FORMATS, Window, step

from .common import create
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


def load_jobs(spec: ModelSpec, target: exp.Table, window: Window, full_refresh: bool) -> list[Job]:
    """One ``load`` job: straight into the table, or through a temp table and a merge."""
    assert isinstance(spec.materialization, LoadMaterialization)
    fmt = spec.materialization.format
    uris = load_uris(spec, window)
    if spec.partition_by is None and not spec.cluster_by:
        return [Job("load", (_load_data(target, fmt, uris, temp=False),), uris=uris)]
    temp = temp_table_name(spec, window)
    staged = exp.select(exp.Star()).from_(temp.copy())
    statements: list[exp.Expression] = [_load_data(temp, fmt, uris, temp=True)]
    if spec.partitions is None or spec.partition_by is None or not window.is_time:
        statements.append(create(target, staged, spec, replace=True))
    elif full_refresh:
        # One statement rebuilds the table: a failure leaves the old one whole.
        guarded = guarded_source(staged, spec.partition_by, window, None)
        statements.append(
            inline_parameters(create(target, guarded, spec, replace=True), window.parameters())
        )
    else:
        statements.append(
            create(target, staged.copy().where(exp.false()), spec, if_not_exists=True)
        )
        replaced = overwrite(target, staged, spec.partition_by, window, None)
        statements += [inline_parameters(statement, window.parameters()) for statement in replaced]
    return [Job("load", tuple(statements), uris=uris)]

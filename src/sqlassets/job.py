"""The contract between strategies and engines: a job, physical names, parameter trees.

Strategies build :class:`Job` records of BigQuery-dialect sqlglot trees;
engines render and send them. :class:`Naming` maps a model to its physical
table on one target. Nothing here does I/O or knows an engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlglot import expressions as exp

from sqlassets.dialect import DIALECT
from sqlassets.window import QueryParameter

if TYPE_CHECKING:
    from sqlassets.spec import TableRef


@dataclass(frozen=True)
class PartitionLoad:
    """A load job (configuration, not SQL) that replaces one partition of a table.

    BigQuery writes ``table$partition`` with ``WRITE_TRUNCATE``: free, atomic,
    and it refuses any row outside that partition.
    """

    table: exp.Table
    partition: str
    """The partition decorator: ``20240102`` (day), ``2024010213`` (hour), ``202401``, ``2024``."""
    source_format: str
    """``PARQUET``, ``CSV``, ``NEWLINE_DELIMITED_JSON``, ``AVRO`` or ``ORC``."""
    partition_field: str
    partition_type: str
    """``HOUR``, ``DAY``, ``MONTH`` or ``YEAR``."""
    clustering: tuple[str, ...] = ()
    skip_leading_rows: int = 0

    def describe(self, uris: Sequence[str]) -> str:
        """A comment for ``compile`` and ``plan``: what the job writes, from where."""
        layout = f"time_partitioning {self.partition_type}({self.partition_field})"
        if self.clustering:
            layout += f", clustering {', '.join(self.clustering)}"
        return (
            f"-- load job (no SQL): {self.source_format} into "
            f"{table_name(self.table)}${self.partition}, WRITE_TRUNCATE, {layout}, from "
            + ", ".join(uris)
        )


@dataclass(frozen=True)
class Job:
    """Statements sent together as one remote job (a script when there are several)."""

    action: str
    """What the job does: ``replace``, ``create``, ``merge``, ``overwrite`` or ``load``."""
    statements: tuple[exp.Expression, ...]
    parameters: tuple[QueryParameter, ...] = ()
    uris: tuple[str, ...] = field(default=())
    """Cloud Storage URIs a load job reads."""
    load: PartitionLoad | None = None
    """Set for a load job: sent as its configuration, ``statements`` is empty."""
    staging: exp.Table | None = None
    """A staging table the job reads or writes; the runner drops it after, also on failure."""

    def sql(self, dialect: str = DIALECT, pretty: bool = False) -> str:
        """The job as SQL text of ``dialect`` (statements separated by ``;``)."""
        if self.load is not None:
            return self.load.describe(self.uris)
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


def table_name(table: exp.Table) -> str:
    """``project.dataset.table`` (the parts the table has), as Dagster shows it."""
    return ".".join(part for part in (table.catalog, table.db, table.name) if part)


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

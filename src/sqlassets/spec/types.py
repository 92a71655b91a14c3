"""The frozen value types a model spec is made of.

Table names, the :data:`Materialization` union (discriminated on ``kind``),
partitioning, partitions and backfill, and the :data:`CheckSpec` union. They
are pydantic models with ``frozen=True, extra="forbid"``; what ties several of
them together is checked by :mod:`sqlassets.spec.invariants`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sqlassets.errors import Location
from sqlassets.spec.conditions import parse_merge_filter

PLACEHOLDER = re.compile(r"\{(?P<name>[A-Za-z_]+)(?::(?P<format>[^{}]*))?\}")
"""A ``{name}`` or ``{name:strftime format}`` placeholder of a :class:`UriTemplate`."""

MAX_CLUSTER_COLUMNS = 4
"""BigQuery clusters a table by at most this many columns."""


class Frozen(BaseModel):
    """Base of every spec type: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TableRef(Frozen):
    """A table reference: ``[project.]dataset.table``."""

    dataset: str
    table: str
    project: str | None = None

    @property
    def name(self) -> str:
        """``dataset.table``: the model name, without a project."""
        return f"{self.dataset}.{self.table}"

    @property
    def is_wildcard(self) -> bool:
        """Whether this is a wildcard table such as ``events_*``."""
        return self.table.endswith("*")

    def __str__(self) -> str:
        return f"{self.project}.{self.name}" if self.project else self.name


class Materialized(StrEnum):
    """How a model is written to the warehouse."""

    TABLE = "table"
    VIEW = "view"
    MERGE = "merge"
    INSERT_OVERWRITE = "insert_overwrite"
    LOAD = "load"


class OnSchemaChange(StrEnum):
    """What an incremental model does when its query's columns change."""

    FAIL = "fail"
    APPEND_NEW_COLUMNS = "append_new_columns"


class FileFormat(StrEnum):
    """File formats ``LOAD DATA`` reads."""

    PARQUET = "parquet"
    CSV = "csv"
    JSON = "json"
    AVRO = "avro"
    ORC = "orc"


class LoadMode(StrEnum):
    """``@load_mode``: what a load run does with the rows already in the table."""

    OVERWRITE = "overwrite"
    """The run's partitions (or the whole table) are replaced by the files' rows."""
    APPEND = "append"
    """Each partition's files are added; a re-run replaces only the rows of that partition's
    files (tracked in :data:`LOADED_PARTITION`)."""


LOADED_PARTITION = "_sqlassets_partition"
"""The STRING column of an append load that holds the partition key whose files gave the row."""


class TableMaterialization(Frozen):
    """``CREATE OR REPLACE TABLE … AS <query>``."""

    kind: Literal["table"] = "table"


class ViewMaterialization(Frozen):
    """``CREATE OR REPLACE VIEW … AS <query>``."""

    kind: Literal["view"] = "view"


class MergeMaterialization(Frozen):
    """Upsert on ``unique_key`` with one ``MERGE``."""

    kind: Literal["merge"] = "merge"
    unique_key: tuple[str, ...] = Field(min_length=1)
    on_schema_change: OnSchemaChange = OnSchemaChange.FAIL
    merge_filter: str | None = None
    """``@merge_filter``: a condition on the target ANDed into ``ON`` (limits what is read)."""

    @field_validator("merge_filter")
    @classmethod
    def _merge_filter(cls, value: str | None) -> str | None:
        # A spec built in code obeys the same rule as a header.
        return None if value is None else parse_merge_filter(value)


class InsertOverwriteMaterialization(Frozen):
    """Replace exactly the run's window of a partitioned table, atomically."""

    kind: Literal["insert_overwrite"] = "insert_overwrite"
    on_schema_change: OnSchemaChange = OnSchemaChange.FAIL


class UriTemplate(Frozen):
    """A ``gs://`` URI, possibly with ``{partition_key}``/``{start_date[:fmt]}`` placeholders."""

    template: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Names of the placeholders in the template, in order."""
        return tuple(m.group("name") for m in PLACEHOLDER.finditer(self.template))

    def render(self, values: Mapping[str, Any]) -> str:
        """Substitute placeholders; dates take an optional strftime format.

        Placeholders are replaced by a regex over validated names, never by
        ``str.format``, so a template cannot reach attributes of the values.
        """

        def substitute(match: re.Match[str]) -> str:
            value = values[match.group("name")]
            fmt = match.group("format")
            if fmt is not None and hasattr(value, "strftime"):
                return str(value.strftime(fmt))
            if hasattr(value, "strftime"):
                return str(value.strftime("%Y-%m-%d"))
            return str(value)

        return PLACEHOLDER.sub(substitute, self.template)


class FileSensor(Frozen):
    """``@sensor: files``: request a partition's run once its files have arrived."""

    min_files: int = Field(default=1, ge=1)
    """How many files the partition's URIs must match (all templates together)."""


class LoadMaterialization(Frozen):
    """``LOAD DATA … FROM FILES`` from Cloud Storage."""

    kind: Literal["load"] = "load"
    uris: tuple[UriTemplate, ...] = Field(min_length=1)
    format: FileFormat = FileFormat.PARQUET
    sensor: FileSensor | None = None
    """``@sensor``: a file-arrival sensor, or none."""
    ready_marker: str | None = None
    """``@ready_marker``: a file name next to each template's files that marks them complete."""
    retention_days: int | None = Field(default=None, ge=1)
    """``@retention_days``: delete loaded partitions' files this many days after they end."""
    load_mode: LoadMode = LoadMode.OVERWRITE
    """``@load_mode``: replace the run's partitions, or append each partition's files once."""


Materialization = Annotated[
    TableMaterialization
    | ViewMaterialization
    | MergeMaterialization
    | InsertOverwriteMaterialization
    | LoadMaterialization,
    Field(discriminator="kind"),
]


class Granularity(StrEnum):
    """Granularity of a BigQuery time-partitioned table."""

    HOUR = "HOUR"
    DAY = "DAY"
    MONTH = "MONTH"
    YEAR = "YEAR"


class PartitionBy(Frozen):
    """BigQuery ``PARTITION BY``: a column, optionally through a truncation function."""

    column: str
    function: Literal["DATE", "DATE_TRUNC", "TIMESTAMP_TRUNC", "DATETIME_TRUNC"] | None = None
    granularity: Granularity = Granularity.DAY

    def __str__(self) -> str:
        if self.function is None:
            return self.column
        if self.function == "DATE":
            return f"DATE({self.column})"
        return f"{self.function}({self.column}, {self.granularity.value})"

    def type_problem(self, column_type: str) -> str | None:
        """Why BigQuery refuses this partitioning of a ``column_type`` column, or None.

        ``column_type`` is in BigQuery's notation (``TIMESTAMP``, ``DATETIME``,
        ``DATE``). A bare column must be DATE; ``DATE()`` takes a TIMESTAMP or
        DATETIME; each ``*_TRUNC`` takes its own type (*CREATE TABLE →
        partition_expression*).
        """
        family = column_type.strip().upper().split("(")[0].split(" ")[0]
        if family in _PARTITION_COLUMN_TYPES[self.function]:
            return None
        unit = self.granularity.value
        column = self.column
        if family == "TIMESTAMP":
            fix = f"DATE({column})" if unit == "DAY" else f"TIMESTAMP_TRUNC({column}, {unit})"
        elif family == "DATETIME":
            fix = f"DATE({column})" if unit == "DAY" else f"DATETIME_TRUNC({column}, {unit})"
        elif family == "DATE" and unit in ("DAY", "MONTH", "YEAR"):
            fix = column if unit == "DAY" else f"DATE_TRUNC({column}, {unit})"
        else:
            return (
                f"`@partition_by: {self}` needs a DATE, TIMESTAMP or DATETIME column of that "
                f"precision, but `{column}` is {column_type}: cast it in the query "
                f"(`CAST(… AS TIMESTAMP) AS {column}`)"
            )
        return (
            f"`@partition_by: {self}` does not fit `{column}`, which is {column_type}: "
            f"BigQuery refuses it; write `@partition_by: {fix}`, or cast in the query "
            f"(`DATE({column}) AS {column}`)"
        )


_PARTITION_COLUMN_TYPES: dict[str | None, frozenset[str]] = {
    None: frozenset({"DATE"}),
    "DATE": frozenset({"TIMESTAMP", "DATETIME"}),
    "DATE_TRUNC": frozenset({"DATE"}),
    "TIMESTAMP_TRUNC": frozenset({"TIMESTAMP"}),
    "DATETIME_TRUNC": frozenset({"DATETIME"}),
}
"""The column types BigQuery accepts under each partitioning function."""


class Cadence(StrEnum):
    """Cadence of time-window partitions."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


CADENCE_STEP = {
    Cadence.HOURLY: Granularity.HOUR,
    Cadence.DAILY: Granularity.DAY,
    Cadence.WEEKLY: Granularity.DAY,
    Cadence.MONTHLY: Granularity.MONTH,
}
"""The finest table partitioning whose partitions each cadence's windows cover whole."""
GRANULARITY_ORDER = (Granularity.HOUR, Granularity.DAY, Granularity.MONTH, Granularity.YEAR)
"""Granularities from finest to coarsest."""


class TimePartitions(Frozen):
    """Time-window partitions from ``start`` to ``end`` (exclusive, open if ``None``)."""

    kind: Literal["time"] = "time"
    cadence: Cadence
    start: datetime
    end: datetime | None = None


class StaticPartitions(Frozen):
    """A fixed list of partition keys."""

    kind: Literal["static"] = "static"
    keys: tuple[str, ...] = Field(min_length=1)


Partitions = Annotated[TimePartitions | StaticPartitions, Field(discriminator="kind")]


class Backfill(Frozen):
    """How a range of partitions is run: one run, or chunks of ``max_partitions``."""

    max_partitions: int | None = Field(default=None, ge=1)

    @property
    def single_run(self) -> bool:
        """Whether the whole range runs as one window."""
        return self.max_partitions is None


class _Check(Frozen):
    name: str
    blocking: bool = True
    location: Location


class NotNullCheck(_Check):
    """No NULL in any of ``columns``."""

    kind: Literal["not_null"] = "not_null"
    columns: tuple[str, ...] = Field(min_length=1)


class UniqueCheck(_Check):
    """The combination of ``columns`` is unique."""

    kind: Literal["unique"] = "unique"
    columns: tuple[str, ...] = Field(min_length=1)


class AcceptedValuesCheck(_Check):
    """``column`` only holds one of ``values`` (or NULL)."""

    kind: Literal["accepted_values"] = "accepted_values"
    column: str
    values: tuple[str | int | float | bool, ...] = Field(min_length=1)


class RowCountCheck(_Check):
    """The materialized window holds between ``min`` and ``max`` rows."""

    kind: Literal["row_count"] = "row_count"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class ExpressionCheck(_Check):
    """A boolean SQL expression that holds on every row."""

    kind: Literal["expression"] = "expression"
    sql: str


CheckSpec = Annotated[
    NotNullCheck | UniqueCheck | AcceptedValuesCheck | RowCountCheck | ExpressionCheck,
    Field(discriminator="kind"),
]

CHECK_KINDS = ("not_null", "unique", "accepted_values", "row_count", "expression")


def check_columns(check: CheckSpec) -> tuple[str, ...]:
    """The output columns a check names (none for row_count and expression)."""
    if isinstance(check, NotNullCheck | UniqueCheck):
        return check.columns
    if isinstance(check, AcceptedValuesCheck):
        return (check.column,)
    return ()

"""Frozen, validated model specs built from a file's header directives.

:func:`build_spec` turns :class:`~sqlassets.header.Header` directives into a
:class:`ModelSpec`, reporting every problem as a located diagnostic. The
pydantic models re-check the cross-field invariants (:func:`invariant_problems`)
so a spec built in code is held to the same rules as one built from a file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlglot import expressions as exp
from sqlglot.errors import SqlglotError

from sqlassets.codes import Code
from sqlassets.dialect import side_effect, side_effect_keyword
from sqlassets.errors import Diagnostic, Location, did_you_mean
from sqlassets.header import Header
from sqlassets.parameters import (
    PARTITION_KEY,
    START_DATE,
)

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROJECT_ID = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]")
_LABEL = re.compile(r"[a-z0-9_\-]{0,63}")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_\-]{0,62}")
_TAG_KEY = re.compile(r"[A-Za-z0-9_.\-/]{1,63}")
_TAG_VALUE = re.compile(r"[A-Za-z0-9_.\-]{0,63}")
_STATIC_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")
_TEAM = re.compile(r"team:[A-Za-z0-9_\-]+")
_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?", re.IGNORECASE)
_URI = re.compile(r"gs://(?P<bucket>[a-z0-9][a-z0-9._\-]{1,220}[a-z0-9])/(?P<object>[^\s'\"`\\;]+)")
_PLACEHOLDER = re.compile(r"\{(?P<name>[A-Za-z_]+)(?::(?P<format>[^{}]*))?\}")
_STRFTIME = re.compile(r"(?:%[YmdHjUuVGgWa-zA-Z%]|[^%{}])*")

MAX_CLUSTER_COLUMNS = 4

"""Query parameters that carry a time-partitioned run's half-open window."""
"""The query parameter that carries a static partition's key."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- names


class TableRef(_Frozen):
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


def parse_table_name(value: str, allow_project: bool = False) -> TableRef:
    """Parse ``dataset.table`` (or ``project.dataset.table``), backticks allowed."""
    text = value.strip()
    if text.startswith("`") and text.endswith("`") and len(text) > 1:
        text = text[1:-1]
    parts = [part.strip("`") for part in text.split(".")]
    if allow_project and len(parts) == 3:
        project, dataset, table = parts
        if not PROJECT_ID.fullmatch(project):
            raise _Invalid(f"`{project}` is not a Google Cloud project id")
    elif len(parts) == 2:
        project = None
        dataset, table = parts
    else:
        form = "[project.]dataset.table" if allow_project else "dataset.table"
        raise _Invalid(f"`{value}` is not a table name of the form `{form}`")
    for part in (dataset, table):
        if not IDENTIFIER.fullmatch(part):
            raise _Invalid(
                f"`{part}` is not a valid name: use letters, digits and underscores, "
                "starting with a letter or underscore"
            )
    return TableRef(dataset=dataset, table=table, project=project)


# ---------------------------------------------------------------- materializations


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


class TableMaterialization(_Frozen):
    """``CREATE OR REPLACE TABLE … AS <query>``."""

    kind: Literal["table"] = "table"


class ViewMaterialization(_Frozen):
    """``CREATE OR REPLACE VIEW … AS <query>``."""

    kind: Literal["view"] = "view"


class MergeMaterialization(_Frozen):
    """Upsert on ``unique_key`` with one ``MERGE``."""

    kind: Literal["merge"] = "merge"
    unique_key: tuple[str, ...] = Field(min_length=1)
    on_schema_change: OnSchemaChange = OnSchemaChange.FAIL


class InsertOverwriteMaterialization(_Frozen):
    """Replace exactly the run's window of a partitioned table, atomically."""

    kind: Literal["insert_overwrite"] = "insert_overwrite"
    on_schema_change: OnSchemaChange = OnSchemaChange.FAIL


class UriTemplate(_Frozen):
    """A ``gs://`` URI, possibly with ``{partition_key}``/``{start_date[:fmt]}`` placeholders."""

    template: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Names of the placeholders in the template, in order."""
        return tuple(m.group("name") for m in _PLACEHOLDER.finditer(self.template))

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

        return _PLACEHOLDER.sub(substitute, self.template)


class LoadMaterialization(_Frozen):
    """``LOAD DATA … FROM FILES`` from Cloud Storage."""

    kind: Literal["load"] = "load"
    uris: tuple[UriTemplate, ...] = Field(min_length=1)
    format: FileFormat = FileFormat.PARQUET


Materialization = Annotated[
    TableMaterialization
    | ViewMaterialization
    | MergeMaterialization
    | InsertOverwriteMaterialization
    | LoadMaterialization,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------- partitioning


class Granularity(StrEnum):
    """Granularity of a BigQuery time-partitioned table."""

    HOUR = "HOUR"
    DAY = "DAY"
    MONTH = "MONTH"
    YEAR = "YEAR"


class PartitionBy(_Frozen):
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


class Cadence(StrEnum):
    """Cadence of time-window partitions."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class TimePartitions(_Frozen):
    """Time-window partitions from ``start`` to ``end`` (exclusive, open if ``None``)."""

    kind: Literal["time"] = "time"
    cadence: Cadence
    start: datetime
    end: datetime | None = None


class StaticPartitions(_Frozen):
    """A fixed list of partition keys."""

    kind: Literal["static"] = "static"
    keys: tuple[str, ...] = Field(min_length=1)


Partitions = Annotated[TimePartitions | StaticPartitions, Field(discriminator="kind")]


class Backfill(_Frozen):
    """How a range of partitions is run: one run, or chunks of ``max_partitions``."""

    max_partitions: int | None = Field(default=None, ge=1)

    @property
    def single_run(self) -> bool:
        """Whether the whole range runs as one window."""
        return self.max_partitions is None


# ---------------------------------------------------------------- checks


class _Check(_Frozen):
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


# ---------------------------------------------------------------- the model


class ModelSpec(_Frozen):
    """Everything a model's header declares, validated."""

    name: TableRef
    path: str
    description: str = ""
    materialization: Materialization = Field(default_factory=TableMaterialization)
    partition_by: PartitionBy | None = None
    cluster_by: tuple[str, ...] = Field(default=(), max_length=MAX_CLUSTER_COLUMNS)
    partitions: Partitions | None = None
    backfill: Backfill = Field(default_factory=Backfill)
    schedule: str | None = None
    depends_on: tuple[TableRef, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    maximum_bytes_billed: int | None = Field(default=None, gt=0)
    labels: tuple[tuple[str, str], ...] = ()
    owners: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    group: str | None = None
    locations: dict[str, Location] = Field(default_factory=dict, exclude=True, repr=False)
    """Where each directive was written, by key (first occurrence)."""

    @model_validator(mode="after")
    def _invariants(self) -> ModelSpec:
        problems = invariant_problems(self.__dict__)
        if problems:
            raise ValueError("; ".join(problem.message for problem in problems))
        return self

    @property
    def materialized(self) -> Materialized:
        """The materialization kind."""
        return Materialized(self.materialization.kind)

    @property
    def time_partitions(self) -> TimePartitions | None:
        """The time partitions, if the model has them."""
        return self.partitions if isinstance(self.partitions, TimePartitions) else None

    @property
    def static_partitions(self) -> StaticPartitions | None:
        """The static partitions, if the model has them."""
        return self.partitions if isinstance(self.partitions, StaticPartitions) else None

    @property
    def group_name(self) -> str:
        """The Dagster group: ``@group`` or the dataset."""
        return self.group or self.name.dataset

    def location_of(self, key: str) -> Location:
        """Where directive ``key`` was written, else the top of the file."""
        return self.locations.get(key) or Location(self.path, 1, 1)


@dataclass(frozen=True, slots=True)
class Problem:
    """A broken invariant: its code, message and the directive to point at."""

    code: Code
    message: str
    key: str


_CADENCE_STEP = {
    Cadence.HOURLY: Granularity.HOUR,
    Cadence.DAILY: Granularity.DAY,
    Cadence.WEEKLY: Granularity.DAY,
    Cadence.MONTHLY: Granularity.MONTH,
}
_GRANULARITY_ORDER = [Granularity.HOUR, Granularity.DAY, Granularity.MONTH, Granularity.YEAR]


def invariant_problems(fields: Mapping[str, Any]) -> list[Problem]:
    """Cross-field rules every spec obeys, shared by :func:`build_spec` and the model."""
    problems: list[Problem] = []
    materialization = fields.get("materialization")
    kind = getattr(materialization, "kind", "table")
    partitions = fields.get("partitions")
    partition_by: PartitionBy | None = fields.get("partition_by")

    if kind == "view":
        for key in ("partitions", "partition_by", "cluster_by", "schedule"):
            if fields.get(key):
                problems.append(
                    Problem(
                        Code.CONFLICT,
                        f"a view holds no data: remove @{key} or materialize a table",
                        key,
                    )
                )
    if kind == "table" and partitions is not None:
        problems.append(
            Problem(
                Code.CONFLICT,
                "a `table` is rebuilt whole on every run, so each partition would erase the "
                "others: use `@materialized: insert_overwrite` (or merge) to write one window",
                "partitions",
            )
        )
    if kind == "insert_overwrite":
        if partition_by is None or partitions is None:
            missing = " and ".join(
                f"@{key}"
                for key, value in (("partition_by", partition_by), ("partitions", partitions))
                if value is None
            )
            problems.append(
                Problem(
                    Code.INSERT_OVERWRITE_WITHOUT_PARTITIONING,
                    f"insert_overwrite replaces one time window of a partitioned table and needs "
                    f"{missing} (for example `@partition_by: order_date` and "
                    "`@partitions: daily`)",
                    "materialized",
                )
            )
        elif isinstance(partitions, StaticPartitions):
            problems.append(
                Problem(
                    Code.CONFLICT,
                    "insert_overwrite replaces time windows; for static partition keys use "
                    "`@materialized: merge` with a @unique_key",
                    "partitions",
                )
            )
    if kind == "load" and isinstance(partitions, TimePartitions) and partition_by is None:
        problems.append(
            Problem(
                Code.CONFLICT,
                "a partitioned load replaces the run's partitions and needs @partition_by",
                "partitions",
            )
        )
    if kind == "load" and isinstance(partitions, StaticPartitions):
        problems.append(
            Problem(
                Code.CONFLICT,
                "a load replaces time partitions (`LOAD DATA OVERWRITE … PARTITIONS`); static "
                "partition keys are not supported for load",
                "partitions",
            )
        )
    if isinstance(partitions, TimePartitions):
        problems.extend(_time_partition_problems(partitions, partition_by))
    backfill: Backfill | None = fields.get("backfill")
    if backfill is not None and backfill.max_partitions is not None and partitions is None:
        problems.append(
            Problem(Code.CONFLICT, "@backfill only applies to partitioned models", "backfill")
        )
    return problems


def _time_partition_problems(
    partitions: TimePartitions, partition_by: PartitionBy | None
) -> Iterator[Problem]:
    start, end = partitions.start, partitions.end
    if end is not None and end <= start:
        yield Problem(Code.CONFLICT, f"@end ({end}) must come after @start ({start})", "end")
    for key, moment in (("start", start), ("end", end)):
        if moment is None:
            continue
        misaligned = moment.second or moment.microsecond or moment.minute
        if partitions.cadence is not Cadence.HOURLY:
            misaligned = misaligned or moment.hour
        if partitions.cadence is Cadence.MONTHLY:
            misaligned = misaligned or moment.day != 1
        if misaligned:
            yield Problem(
                Code.INVALID_VALUE,
                f"@{key} {moment:%Y-%m-%d %H:%M} does not begin a {partitions.cadence.value} "
                "partition",
                key,
            )
    if end is not None and partitions.cadence is Cadence.WEEKLY and (end - start).days % 7:
        yield Problem(
            Code.INVALID_VALUE, "@end must be a whole number of weeks after @start", "end"
        )
    if partition_by is not None:
        step = _CADENCE_STEP[partitions.cadence]
        if _GRANULARITY_ORDER.index(partition_by.granularity) > _GRANULARITY_ORDER.index(step):
            yield Problem(
                Code.CONFLICT,
                f"{partitions.cadence.value} partitions cannot replace windows of a table "
                f"partitioned by {partition_by.granularity.value}: make @partitions at least "
                f"as coarse as @partition_by",
                "partitions",
            )


# ---------------------------------------------------------------- directive values


class _Invalid(ValueError):
    """A bad directive value; ``offset`` is where in the value the problem starts."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


def _split_list(value: str) -> list[tuple[str, int]]:
    """Split a comma list, respecting brackets and quotes; items with their offsets."""
    items: list[tuple[str, int]] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(value):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append((value[start:index], start))
            start = index + 1
    items.append((value[start:], start))
    result = []
    for text, offset in items:
        stripped = text.strip()
        if not stripped:
            raise _Invalid("empty item in list", offset)
        result.append((stripped, offset + len(text) - len(text.lstrip())))
    return result


def _columns(value: str, what: str = "column") -> tuple[str, ...]:
    columns = []
    seen: set[str] = set()
    for item, offset in _split_list(value):
        name = item.strip("`")
        if not IDENTIFIER.fullmatch(name):
            raise _Invalid(f"`{item}` is not a {what} name", offset)
        if name.lower() in seen:
            raise _Invalid(f"{what} `{name}` is listed twice", offset)
        seen.add(name.lower())
        columns.append(name)
    return tuple(columns)


def _choice(value: str, enum: type[StrEnum]) -> Any:
    try:
        return enum(value.strip().lower())
    except ValueError:
        options = [member.value for member in enum]  # type: ignore[attr-defined]
        message = f"`{value}` is not one of {', '.join(options)}{_suggest(value, options)}"
        raise _Invalid(message) from None


def _suggest(word: str, options: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    return did_you_mean(word.lower(), options)


_PARTITION_BY = re.compile(
    r"(?:(?P<date>DATE)\s*\(\s*(?P<date_col>\w+)\s*\)"
    r"|(?P<fn>DATE_TRUNC|TIMESTAMP_TRUNC|DATETIME_TRUNC)\s*\(\s*(?P<fn_col>\w+)\s*,\s*"
    r"(?P<unit>\w+)\s*\)"
    r"|(?P<col>\w+))",
    re.IGNORECASE,
)
_TRUNC_UNITS = {
    "DATE_TRUNC": {"MONTH", "YEAR"},
    "TIMESTAMP_TRUNC": {"HOUR", "DAY", "MONTH", "YEAR"},
    "DATETIME_TRUNC": {"HOUR", "DAY", "MONTH", "YEAR"},
}


def _partition_by(value: str) -> PartitionBy:
    match = _PARTITION_BY.fullmatch(value.strip())
    if match is None:
        raise _Invalid(
            f"`{value}` is not a BigQuery partitioning: use `col`, `DATE(ts)`, "
            "`TIMESTAMP_TRUNC(ts, HOUR)` or `DATE_TRUNC(d, MONTH)`"
        )
    if match.group("date"):
        return PartitionBy(column=_identifier(match.group("date_col")), function="DATE")
    if match.group("fn"):
        function = match.group("fn").upper()
        unit = match.group("unit").upper()
        if unit not in _TRUNC_UNITS[function]:
            allowed = ", ".join(sorted(_TRUNC_UNITS[function]))
            raise _Invalid(
                f"{function} partitioning takes one of {allowed}, not `{unit}`",
                match.start("unit"),
            )
        return PartitionBy(
            column=_identifier(match.group("fn_col")),
            function=function,  # type: ignore[arg-type]
            granularity=Granularity(unit),
        )
    return PartitionBy(column=_identifier(match.group("col")))


def _identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise _Invalid(f"`{name}` is not a column name")
    return name


def _moment(value: str) -> datetime:
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise _Invalid(f"`{value}` is not a date: write `YYYY-MM-DD` or `YYYY-MM-DD HH:MM`")


_VALUES = re.compile(r"values\s*\((?P<items>.*)\)", re.IGNORECASE | re.DOTALL)


def _partitions(value: str) -> tuple[str, Any]:
    text = value.strip()
    match = _VALUES.fullmatch(text)
    if match is None:
        if text.lower().startswith("values"):
            raise _Invalid("static partitions are written `values(a, b, c)`")
        return ("time", _choice(text, Cadence))
    keys: list[str] = []
    for item, offset in _split_list(match.group("items")):
        key = item
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
            key = key[1:-1]
        at = match.start("items") + offset
        if not _STATIC_KEY.fullmatch(key):
            raise _Invalid(
                f"partition key `{item}` may only hold letters, digits, `_`, `-` and `.` "
                "(at most 64)",
                at,
            )
        if key in keys:
            raise _Invalid(f"partition key `{key}` is listed twice", at)
        keys.append(key)
    return ("static", tuple(keys))


def _backfill(value: str) -> Backfill:
    text = value.strip().lower().replace(" ", "")
    if text == "single_run":
        return Backfill()
    match = re.fullmatch(r"max_partitions=(\d+)", text)
    if match is None or int(match.group(1)) < 1:
        raise _Invalid(f"`{value}` is not `single_run` or `max_partitions=N` (N >= 1)")
    return Backfill(max_partitions=int(match.group(1)))


@functools.lru_cache(maxsize=1024)
def _valid_cron(text: str) -> bool:
    fields = text.split(" ")
    shape = len(fields) == 5 or (len(fields) == 1 and text.startswith("@"))
    if not shape:
        return False
    # Imported on first use: most runs and lint passes see no schedule (~30 ms).
    from croniter import croniter

    return croniter.is_valid(text)


def _schedule(value: str) -> str:
    text = " ".join(value.split())
    if not _valid_cron(text):
        raise _Invalid(
            f"`{value}` is not a cron expression: five fields `minute hour day month weekday`, "
            "for example `0 3 * * *`"
        )
    return text


def _table_list(value: str) -> tuple[TableRef, ...]:
    refs = []
    for item, offset in _split_list(value):
        try:
            refs.append(parse_table_name(item, allow_project=True))
        except _Invalid as error:
            raise _Invalid(error.message, offset) from None
    return tuple(refs)


_BYTE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "PB": 10**15,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "PIB": 2**50,
}


def parse_bytes(value: str) -> int:
    """``50GB`` (decimal units), ``1TiB`` (binary units) or a plain byte count."""
    match = _BYTES.fullmatch(value.strip())
    if match is None:
        raise _Invalid(f"`{value}` is not a byte size such as `50GB`, `1TiB` or `1000000`")
    amount = float(match.group(1)) * _BYTE_UNITS[(match.group(2) or "B").upper()]
    if amount < 1:
        raise _Invalid("the byte limit must be at least 1 byte")
    return int(amount)


def _labels(value: str) -> tuple[tuple[str, str], ...]:
    labels: list[tuple[str, str]] = []
    for item, offset in _split_list(value):
        key, equals, label = item.partition("=")
        key, label = key.strip(), label.strip()
        if not equals or not _LABEL_KEY.fullmatch(key) or not _LABEL.fullmatch(label):
            raise _Invalid(
                f"`{item}` is not a BigQuery label `key=value`: lowercase letters, digits, `_` "
                "and `-`, at most 63 characters, keys starting with a letter",
                offset,
            )
        if key in RESERVED_LABELS:
            raise _Invalid(f"label `{key}` is set by sqlassets itself", offset)
        if any(existing == key for existing, _ in labels):
            raise _Invalid(f"label `{key}` is given twice", offset)
        labels.append((key, label))
    return tuple(labels)


RESERVED_LABELS = frozenset({"sqlassets_asset", "dagster_run_id", "sqlassets_window"})


def _owners(value: str) -> tuple[str, ...]:
    owners = []
    for item, offset in _split_list(value):
        if not (_EMAIL.fullmatch(item) or _TEAM.fullmatch(item)):
            raise _Invalid(f"`{item}` is not an email address or `team:name`", offset)
        owners.append(item)
    return tuple(owners)


def _tags(value: str) -> tuple[tuple[str, str], ...]:
    tags = []
    for item, offset in _split_list(value):
        key, _, tag_value = item.partition("=")
        key, tag_value = key.strip(), tag_value.strip()
        if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(tag_value):
            raise _Invalid(
                f"`{item}` is not a tag `key` or `key=value` (letters, digits, `_`, `-`, `.`; "
                "at most 63 characters)",
                offset,
            )
        tags.append((key, tag_value))
    return tuple(tags)


def _group(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_]+", text):
        raise _Invalid(f"`{value}` is not a group name (letters, digits and `_`)")
    return text


def _uris(value: str) -> tuple[UriTemplate, ...]:
    uris = []
    for item, offset in _split_list(value):
        uri = item
        if len(uri) >= 2 and uri[0] == uri[-1] and uri[0] in "'\"":
            uri, offset = uri[1:-1], offset + 1
        if not _URI.fullmatch(uri):
            raise _Invalid(f"`{item}` is not a `gs://bucket/path` URI", offset)
        rest = _PLACEHOLDER.sub("", uri)
        if "{" in rest or "}" in rest:
            raise _Invalid(
                "braces in a URI must be `{partition_key}`, `{start_date}` or "
                "`{start_date:%Y%m%d}`",
                offset + uri.find("{"),
            )
        for match in _PLACEHOLDER.finditer(uri):
            name, fmt = match.group("name"), match.group("format")
            if name not in (PARTITION_KEY, START_DATE):
                raise _Invalid(
                    f"unknown placeholder `{{{name}}}`: use `{{partition_key}}` or "
                    f"`{{start_date}}`{_suggest(name, ('partition_key', 'start_date'))}",
                    offset + match.start(),
                )
            if fmt is not None and (name != START_DATE or not _STRFTIME.fullmatch(fmt)):
                raise _Invalid(
                    "only `{start_date}` takes a format, written with strftime codes such as "
                    "`{start_date:%Y%m%d}`",
                    offset + match.start(),
                )
        uris.append(UriTemplate(template=uri))
    return tuple(uris)


# ---------------------------------------------------------------- checks


_CHECK = re.compile(
    r"(?P<warn>warn\s+)?(?P<kind>[A-Za-z_]+)\s*\((?P<args>.*)\)", re.IGNORECASE | re.DOTALL
)


def _check(value: str, location: Location, names: dict[str, int]) -> CheckSpec:
    match = _CHECK.fullmatch(value.strip())
    if match is None:
        raise _Invalid(
            f"`{value}` is not a check: write `name(args)`, one of {', '.join(CHECK_KINDS)}, "
            "optionally prefixed `warn`"
        )
    kind = match.group("kind").lower()
    args, at = match.group("args"), match.start("args")
    blocking = not match.group("warn")
    common: dict[str, Any] = {"blocking": blocking, "location": location}
    check: CheckSpec
    if kind in ("not_null", "unique"):
        try:
            columns = _columns(args)
        except _Invalid as error:
            raise _Invalid(error.message, at + error.offset) from None
        cls = NotNullCheck if kind == "not_null" else UniqueCheck
        check = cls(name=_check_name(kind, columns, names), columns=columns, **common)
    elif kind == "accepted_values":
        check = _accepted_values(args, at, common, names)
    elif kind == "row_count":
        bounds: dict[str, int] = {}
        for item, offset in _split_list(args):
            bound = re.fullmatch(r"(min|max)\s*=\s*(\d+)", item)
            if bound is None or bound.group(1) in bounds:
                raise _Invalid(
                    f"`{item}` is not `min=N` or `max=N` (each at most once)", at + offset
                )
            bounds[bound.group(1)] = int(bound.group(2))
        if bounds.get("min", 0) > bounds.get("max", 2**63):
            raise _Invalid("row_count min is greater than max", at)
        check = RowCountCheck(name=_check_name(kind, (), names), **bounds, **common)
    elif kind == "expression":
        check = ExpressionCheck(
            name=_check_name(kind, (), names), sql=_boolean_sql(args, at), **common
        )
    else:
        raise _Invalid(
            f"unknown check `{kind}`: use one of {', '.join(CHECK_KINDS)}"
            f"{_suggest(kind, CHECK_KINDS)}",
            match.start("kind"),
        )
    return check


def _accepted_values(
    args: str, at: int, common: dict[str, Any], names: dict[str, int]
) -> AcceptedValuesCheck:
    items = _split_list(args)
    if len(items) != 2 or not items[1][0].startswith("["):
        raise _Invalid("accepted_values takes a column and a list: `accepted_values(c, ['a'])`", at)
    (column, column_at), (array_text, array_at) = items
    try:
        column = _identifier(column)
    except _Invalid as error:
        raise _Invalid(error.message, at + column_at) from None
    values = _literal_list(array_text)
    if isinstance(values, str):
        raise _Invalid(values, at + array_at)
    return AcceptedValuesCheck(
        name=_check_name("accepted_values", (column,), names),
        column=column,
        values=values,
        **common,
    )


@functools.lru_cache(maxsize=4096)
def _literal_list(text: str) -> tuple[str | int | float | bool, ...] | str:
    """The literals of ``[a, b, …]``, or why it is not such a list. Cached like checks."""
    try:
        array = sqlglot.parse_one(text, read="bigquery")
    except SqlglotError:
        array = None
    if not isinstance(array, exp.Array) or not array.expressions:
        return "the accepted values must be a non-empty list of literals"
    values: list[str | int | float | bool] = []
    for element in array.expressions:
        if isinstance(element, exp.Boolean):
            values.append(bool(element.this))
        elif isinstance(element, exp.Literal):
            values.append(element.this if element.is_string else element.to_py())
        else:
            return (
                f"`{element.sql('bigquery')}` is not a literal: accepted values are strings, "
                "numbers or booleans"
            )
    return tuple(values)


def _boolean_sql(text: str, at: int) -> str:
    problem = _boolean_sql_problem(text.strip())
    if problem:
        raise _Invalid(problem, at)
    return text.strip()


@functools.lru_cache(maxsize=4096)
def _boolean_sql_problem(text: str) -> str | None:
    """Why ``text`` is not one boolean expression, or None. Cached: checks repeat across files."""
    try:
        statements = sqlglot.parse(text, read="bigquery")
    except SqlglotError as error:
        return f"the expression does not parse: {_first_line(error)}"
    if len(statements) != 1 or statements[0] is None:
        return "the expression must be one boolean SQL expression"
    if isinstance(statements[0], exp.Query | exp.DDL | exp.DML | exp.Command):
        return "the expression must be a boolean condition, not a statement"
    found = side_effect([statements[0]])
    if found is not None:
        keyword = side_effect_keyword(found[1])
        return f"`{keyword}` inside the expression: a check reads, never writes"
    return None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _check_name(kind: str, columns: tuple[str, ...], names: dict[str, int]) -> str:
    base = "_".join((kind, *columns)).lower()
    names[base] = names.get(base, 0) + 1
    return base if names[base] == 1 else f"{base}_{names[base]}"


# ---------------------------------------------------------------- building a spec

_SIMPLE_PARSERS: dict[str, Callable[[str], Any]] = {
    "name": lambda v: parse_table_name(v),
    "materialized": lambda v: _choice(v, Materialized),
    "unique_key": _columns,
    "partition_by": _partition_by,
    "cluster_by": _columns,
    "partitions": _partitions,
    "start": _moment,
    "end": _moment,
    "backfill": _backfill,
    "schedule": _schedule,
    "depends_on": _table_list,
    "uris": _uris,
    "format": lambda v: _choice(v, FileFormat),
    "maximum_bytes_billed": parse_bytes,
    "labels": _labels,
    "owners": _owners,
    "tags": _tags,
    "group": _group,
    "on_schema_change": lambda v: _choice(v, OnSchemaChange),
}
REPEATABLE = frozenset({"check"})
DIRECTIVES = frozenset(_SIMPLE_PARSERS) | REPEATABLE
"""Every header key a model file may use."""

_ONLY_FOR = {
    "unique_key": {Materialized.MERGE},
    "uris": {Materialized.LOAD},
    "format": {Materialized.LOAD},
    "on_schema_change": {Materialized.MERGE, Materialized.INSERT_OVERWRITE},
}


def _suggest_directive(key: str) -> str:
    return (
        did_you_mean(key, sorted(DIRECTIVES), prefix="@") or "; see the header keys in the README"
    )


def name_from_path(relative: PurePosixPath) -> TableRef | None:
    """``<dataset>/…/<table>.sql`` to ``dataset.table``, or None if the path has no dataset."""
    if len(relative.parts) < 2:
        return None
    return parse_table_name(f"{relative.parts[0]}.{relative.stem}")


def build_spec(
    header: Header, path: str, relative: PurePosixPath
) -> tuple[ModelSpec | None, list[Diagnostic]]:
    """Validate ``header``'s directives into a :class:`ModelSpec`.

    ``path`` is the file as shown to the user; ``relative`` its path under the
    SQL folder, which gives the default name. Returns the spec (None if any
    error) and every problem found, each pointing at its directive.
    """
    diagnostics: list[Diagnostic] = []
    values: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    checks: list[CheckSpec] = []
    check_names: dict[str, int] = {}

    def report(code: Code, message: str, location: Location) -> None:
        diagnostics.append(Diagnostic(code, message, location))

    for directive in header.directives:
        key = directive.key.lower()
        if key not in DIRECTIVES:
            report(
                Code.UNKNOWN_DIRECTIVE,
                f"unknown directive `@{directive.key}`{_suggest_directive(key)}",
                directive.location,
            )
            continue
        if key in locations and key not in REPEATABLE:
            first = locations[key]
            report(
                Code.REPEATED_DIRECTIVE,
                f"@{key} is already set on line {first.line}; give it once",
                directive.location,
            )
            continue
        locations.setdefault(key, directive.location)
        if not directive.value:
            report(Code.INVALID_VALUE, f"@{key} needs a value", directive.value_location)
            continue
        try:
            if key == "check":
                checks.append(_check(directive.value, directive.location, check_names))
            else:
                values[key] = _SIMPLE_PARSERS[key](directive.value)
        except _Invalid as error:
            code = Code.INVALID_NAME if key == "name" else Code.INVALID_VALUE
            report(code, error.message, directive.value_location.shifted(cols=error.offset))

    def at(key: str) -> Location:
        return locations.get(key) or Location(path, 1, 1)

    name = values.get("name")
    if name is None and "name" not in locations:
        try:
            name = name_from_path(relative)
        except _Invalid as error:
            report(
                Code.INVALID_NAME,
                f"the path gives the model name `{relative.parts[0]}.{relative.stem}`, which is "
                f"invalid: {error.message}; rename the file or set `@name: dataset.table`",
                Location(path, 1, 1),
            )
            name = None
        else:
            if name is None:
                report(
                    Code.INVALID_NAME,
                    "a file directly in the SQL folder has no dataset: move it to "
                    "`<dataset>/<table>.sql` or set `@name: dataset.table`",
                    Location(path, 1, 1),
                )

    materialized: Materialized = values.get("materialized", Materialized.TABLE)
    for key, allowed in _ONLY_FOR.items():
        if key in locations and materialized not in allowed:
            kinds = " or ".join(kind.value for kind in sorted(allowed))
            report(
                Code.CONFLICT,
                f"@{key} only applies to `@materialized: {kinds}`, not `{materialized.value}`",
                locations[key],
            )

    materialization: Any = None
    if materialized is Materialized.MERGE:
        if "unique_key" not in locations:
            report(
                Code.MERGE_WITHOUT_UNIQUE_KEY,
                "merge needs @unique_key: the columns that identify a row "
                "(for example `-- @unique_key: order_id`)",
                at("materialized"),
            )
        elif "unique_key" in values:
            materialization = MergeMaterialization(
                unique_key=values["unique_key"],
                on_schema_change=values.get("on_schema_change", OnSchemaChange.FAIL),
            )
    elif materialized is Materialized.LOAD:
        if "uris" not in locations:
            report(
                Code.CONFLICT,
                "load needs @uris: one or more `gs://bucket/path` URIs to load",
                at("materialized"),
            )
        elif "uris" in values:
            materialization = LoadMaterialization(
                uris=values["uris"], format=values.get("format", FileFormat.PARQUET)
            )
    elif materialized is Materialized.INSERT_OVERWRITE:
        materialization = InsertOverwriteMaterialization(
            on_schema_change=values.get("on_schema_change", OnSchemaChange.FAIL)
        )
    elif materialized is Materialized.VIEW:
        materialization = ViewMaterialization()
    else:
        materialization = TableMaterialization()

    partitions: Any = None
    if "partitions" in values:
        partition_kind, partition_value = values["partitions"]
        if partition_kind == "static":
            partitions = StaticPartitions(keys=partition_value)
            for key in ("start", "end"):
                if key in locations:
                    report(
                        Code.CONFLICT,
                        f"@{key} applies to time partitions, not `values(…)`",
                        locations[key],
                    )
        elif "start" in values:
            partitions = TimePartitions(
                cadence=partition_value, start=values["start"], end=values.get("end")
            )
        elif "start" not in locations:
            report(
                Code.TIME_PARTITIONS_WITHOUT_START,
                f"{partition_value.value} partitions need @start, the first partition "
                "(for example `-- @start: 2024-01-01`)",
                at("partitions"),
            )
    elif "partitions" not in locations:
        for key in ("start", "end"):
            if key in locations:
                report(Code.CONFLICT, f"@{key} needs time @partitions", locations[key])

    if "cluster_by" in values and len(values["cluster_by"]) > MAX_CLUSTER_COLUMNS:
        report(
            Code.INVALID_VALUE,
            f"BigQuery clusters by at most {MAX_CLUSTER_COLUMNS} columns",
            locations["cluster_by"],
        )
        values.pop("cluster_by")

    fields: dict[str, Any] = {
        "materialization": materialization,
        "partitions": partitions,
        "partition_by": values.get("partition_by"),
        "cluster_by": values.get("cluster_by", ()),
        "backfill": values.get("backfill", Backfill()),
        "schedule": values.get("schedule"),
    }
    if materialization is not None and ("partitions" not in locations or partitions is not None):
        for problem in invariant_problems(fields):
            report(problem.code, problem.message, at(problem.key))

    if materialized is Materialized.LOAD and header.body.strip() and _has_sql(header.body):
        report(
            Code.BODY_SHAPE,
            "a load model has no query: remove the SQL below the header",
            Location(path, header.body_line, 1),
        )

    if any(d.is_error for d in diagnostics) or name is None or materialization is None:
        return None, diagnostics
    spec = ModelSpec(
        name=name,
        path=path,
        description=header.description,
        depends_on=values.get("depends_on", ()),
        checks=tuple(checks),
        maximum_bytes_billed=values.get("maximum_bytes_billed"),
        labels=values.get("labels", ()),
        owners=values.get("owners", ()),
        tags=values.get("tags", ()),
        group=values.get("group"),
        locations=locations,
        **fields,
    )
    return spec, diagnostics


def _has_sql(body: str) -> bool:
    """Whether ``body`` holds anything but comments and blank lines."""
    for line in body.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return True
    return False

"""The rules that tie a spec's fields together, one named pure function each.

Two kinds of rule, each function reporting one code:

- *Field invariants* (:data:`INVARIANTS`) look at the fields of a spec. Both
  :func:`~sqlassets.spec.build.build_spec` and :class:`~sqlassets.spec.ModelSpec`
  apply them (:func:`invariant_problems`), so a spec built in code obeys the
  same rules as one written in a file.
- *Directive rules* look at which directives a file gives; only the builder
  applies them, since a spec built in code has no directives.

Each returns the :class:`Problem` s it finds; the builder turns a problem into
a diagnostic at the directive the problem names.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlassets.codes import Code
from sqlassets.spec.types import (
    CADENCE_STEP,
    GRANULARITY_ORDER,
    Cadence,
    LoadMode,
    Materialized,
    PartitionBy,
    StaticPartitions,
    TimePartitions,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """A broken rule: its code, message and the directive to point at."""

    code: Code
    message: str
    key: str


Fields = Mapping[str, Any]
"""A spec's fields by name: a :class:`~sqlassets.spec.ModelSpec`'s, or the builder's."""

ONLY_FOR = {
    "unique_key": {Materialized.MERGE},
    "uris": {Materialized.LOAD},
    "format": {Materialized.LOAD},
    "on_schema_change": {Materialized.MERGE, Materialized.INSERT_OVERWRITE},
    "merge_filter": {Materialized.MERGE},
    "sensor": {Materialized.LOAD},
    "ready_marker": {Materialized.LOAD},
    "retention_days": {Materialized.LOAD},
    "load_mode": {Materialized.LOAD},
}
"""Directives that apply to some materializations only."""


def _kind(fields: Fields) -> str:
    return getattr(fields.get("materialization"), "kind", "table")


def _appends(fields: Fields) -> bool:
    """Whether ``fields`` are an append load's (its rows are never replaced by partition)."""
    return getattr(fields.get("materialization"), "load_mode", None) is LoadMode.APPEND


def view_holds_no_data(fields: Fields) -> Iterator[Problem]:
    """SA104: a view with partitions, partitioning, clustering or a schedule."""
    if _kind(fields) != "view":
        return
    for key in ("partitions", "partition_by", "cluster_by", "schedule"):
        if fields.get(key):
            yield Problem(
                Code.CONFLICT, f"a view holds no data: remove @{key} or materialize a table", key
            )


def partitioned_table(fields: Fields) -> Iterator[Problem]:
    """SA104: a ``table`` with partitions (each run would erase the others)."""
    if _kind(fields) == "table" and fields.get("partitions") is not None:
        yield Problem(
            Code.CONFLICT,
            "a `table` is rebuilt whole on every run, so each partition would erase the "
            "others: use `@materialized: insert_overwrite` (or merge) to write one window",
            "partitions",
        )


def insert_overwrite_without_partitioning(fields: Fields) -> Iterator[Problem]:
    """SA202: an insert_overwrite model without ``@partition_by`` or ``@partitions``."""
    if _kind(fields) != "insert_overwrite":
        return
    given = (("partition_by", fields.get("partition_by")), ("partitions", fields.get("partitions")))
    missing = " and ".join(f"@{key}" for key, value in given if value is None)
    if missing:
        yield Problem(
            Code.INSERT_OVERWRITE_WITHOUT_PARTITIONING,
            f"insert_overwrite replaces one time window of a partitioned table and needs "
            f"{missing} (for example `@partition_by: order_date` and "
            "`@partitions: daily`)",
            "materialized",
        )


def insert_overwrite_static_partitions(fields: Fields) -> Iterator[Problem]:
    """SA104: insert_overwrite with static partition keys (it replaces time windows)."""
    if (
        _kind(fields) == "insert_overwrite"
        and fields.get("partition_by") is not None
        and isinstance(fields.get("partitions"), StaticPartitions)
    ):
        yield Problem(
            Code.CONFLICT,
            "insert_overwrite replaces time windows; for static partition keys use "
            "`@materialized: merge` with a @unique_key",
            "partitions",
        )


def load_partitions(fields: Fields) -> Iterator[Problem]:
    """SA104: a load with time partitions but no partitioning, or with static partitions."""
    if _kind(fields) != "load":
        return
    partitions = fields.get("partitions")
    if (
        isinstance(partitions, TimePartitions)
        and fields.get("partition_by") is None
        and not _appends(fields)  # it replaces rows by the partition of their files
    ):
        yield Problem(
            Code.CONFLICT,
            "a partitioned load replaces the run's partitions and needs @partition_by",
            "partitions",
        )
    if isinstance(partitions, StaticPartitions):
        yield Problem(
            Code.CONFLICT,
            "a load replaces time partitions (`LOAD DATA OVERWRITE … PARTITIONS`); static "
            "partition keys are not supported for load",
            "partitions",
        )


def landing_without_time_partitions(fields: Fields) -> Iterator[Problem]:
    """SA109: ``@sensor``, ``@retention_days`` or an append on a load not reading by partition.

    All work partition by partition: a sensor requests a partition's run once
    its files exist, a clean-up deletes the files of old partitions, an append
    adds each partition's files once. Without time partitions, or with URIs
    holding no placeholder, every run reads the same files, so nothing could
    tell which partition arrived, may go, or was already appended.
    ``@ready_marker`` only says when a sensor's files are complete.
    """
    materialization = fields.get("materialization")
    if _kind(fields) != "load":
        return
    for key in ("sensor", "retention_days", "load_mode"):
        value = getattr(materialization, key, None)
        if value is None or value is LoadMode.OVERWRITE:
            continue
        shown = "load_mode: append" if key == "load_mode" else key
        if not isinstance(fields.get("partitions"), TimePartitions):
            yield Problem(
                Code.LANDING_UNPARTITIONED,
                f"@{shown} works partition by partition and needs time @partitions "
                "(for example `@partitions: daily` with `@start`)",
                key,
            )
        elif not any(uri.placeholders for uri in getattr(materialization, "uris", ())):
            yield Problem(
                Code.LANDING_UNPARTITIONED,
                f"@{shown} needs URIs that name each partition's files: put `{{start_date}}` "
                "or `{partition_key}` in @uris",
                key,
            )
    if getattr(materialization, "ready_marker", None) and not getattr(
        materialization, "sensor", None
    ):
        yield Problem(
            Code.CONFLICT,
            "@ready_marker tells the file sensor when a partition is complete: add "
            "`@sensor: files`, or remove @ready_marker",
            "ready_marker",
        )


def window_bounds_out_of_order(fields: Fields) -> Iterator[Problem]:
    """SA104: time partitions whose ``@end`` is not after ``@start``."""
    partitions = fields.get("partitions")
    if not isinstance(partitions, TimePartitions):
        return
    start, end = partitions.start, partitions.end
    if end is not None and end <= start:
        yield Problem(Code.CONFLICT, f"@end ({end}) must come after @start ({start})", "end")


def window_bounds_misaligned(fields: Fields) -> Iterator[Problem]:
    """SA102: an ``@start`` or ``@end`` that does not begin a partition of the cadence."""
    partitions = fields.get("partitions")
    if not isinstance(partitions, TimePartitions):
        return
    cadence, start, end = partitions.cadence, partitions.start, partitions.end
    for key, moment in (("start", start), ("end", end)):
        if moment is None:
            continue
        misaligned = moment.second or moment.microsecond or moment.minute
        if cadence is not Cadence.HOURLY:
            misaligned = misaligned or moment.hour
        if cadence is Cadence.MONTHLY:
            misaligned = misaligned or moment.day != 1
        if misaligned:
            yield Problem(
                Code.INVALID_VALUE,
                f"@{key} {moment:%Y-%m-%d %H:%M} does not begin a {cadence.value} partition",
                key,
            )
    if end is not None and cadence is Cadence.WEEKLY and (end - start).days % 7:
        yield Problem(
            Code.INVALID_VALUE, "@end must be a whole number of weeks after @start", "end"
        )


def partitions_finer_than_table(fields: Fields) -> Iterator[Problem]:
    """SA104: time partitions finer than the table's partitioning (they cannot be replaced)."""
    partitions = fields.get("partitions")
    partition_by: PartitionBy | None = fields.get("partition_by")
    if not isinstance(partitions, TimePartitions) or partition_by is None or _appends(fields):
        return
    step = CADENCE_STEP[partitions.cadence]
    if GRANULARITY_ORDER.index(partition_by.granularity) > GRANULARITY_ORDER.index(step):
        yield Problem(
            Code.CONFLICT,
            f"{partitions.cadence.value} partitions cannot replace windows of a table "
            f"partitioned by {partition_by.granularity.value}: make @partitions at least "
            f"as coarse as @partition_by",
            "partitions",
        )


def backfill_without_partitions(fields: Fields) -> Iterator[Problem]:
    """SA104: ``@backfill: max_partitions=N`` on a model without partitions."""
    backfill = fields.get("backfill")
    if (
        backfill is not None
        and backfill.max_partitions is not None
        and fields.get("partitions") is None
    ):
        yield Problem(Code.CONFLICT, "@backfill only applies to partitioned models", "backfill")


INVARIANTS: tuple[Callable[[Fields], Iterator[Problem]], ...] = (
    view_holds_no_data,
    partitioned_table,
    insert_overwrite_without_partitioning,
    insert_overwrite_static_partitions,
    load_partitions,
    landing_without_time_partitions,
    window_bounds_out_of_order,
    window_bounds_misaligned,
    partitions_finer_than_table,
    backfill_without_partitions,
)
"""The field invariants, in the order their problems are reported."""


def invariant_problems(fields: Fields) -> list[Problem]:
    """Every field invariant ``fields`` breaks, shared by the builder and the model."""
    return [problem for invariant in INVARIANTS for problem in invariant(fields)]


def directive_not_for_materialization(
    materialized: Materialized, declared: Collection[str]
) -> Iterator[Problem]:
    """SA104: a directive of :data:`ONLY_FOR` given to another materialization."""
    for key, allowed in ONLY_FOR.items():
        if key in declared and materialized not in allowed:
            kinds = " or ".join(kind.value for kind in sorted(allowed))
            yield Problem(
                Code.CONFLICT,
                f"@{key} only applies to `@materialized: {kinds}`, not `{materialized.value}`",
                key,
            )


def merge_without_unique_key(
    materialized: Materialized, declared: Collection[str]
) -> Iterator[Problem]:
    """SA201: a merge model without ``@unique_key``."""
    if materialized is Materialized.MERGE and "unique_key" not in declared:
        yield Problem(
            Code.MERGE_WITHOUT_UNIQUE_KEY,
            "merge needs @unique_key: the columns that identify a row "
            "(for example `-- @unique_key: order_id`)",
            "materialized",
        )


def load_without_uris(materialized: Materialized, declared: Collection[str]) -> Iterator[Problem]:
    """SA104: a load model without ``@uris``."""
    if materialized is Materialized.LOAD and "uris" not in declared:
        yield Problem(
            Code.CONFLICT,
            "load needs @uris: one or more `gs://bucket/path` URIs to load",
            "materialized",
        )


def time_partitions_without_start(cadence: Cadence, declared: Collection[str]) -> Iterator[Problem]:
    """SA203: time partitions of ``cadence`` without ``@start``."""
    if "start" not in declared:
        yield Problem(
            Code.TIME_PARTITIONS_WITHOUT_START,
            f"{cadence.value} partitions need @start, the first partition "
            "(for example `-- @start: 2024-01-01`)",
            "partitions",
        )


def window_bounds_without_time_partitions(
    partitions: str | None, declared: Collection[str]
) -> Iterator[Problem]:
    """SA104: ``@start``/``@end`` with static partitions (``"static"``) or none declared (None)."""
    for key in ("start", "end"):
        if key not in declared:
            continue
        if partitions == "static":
            yield Problem(Code.CONFLICT, f"@{key} applies to time partitions, not `values(…)`", key)
        elif partitions is None:
            yield Problem(Code.CONFLICT, f"@{key} needs time @partitions", key)

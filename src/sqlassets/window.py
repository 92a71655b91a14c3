"""Run windows: which partitions a run covers, validated before any SQL exists.

A time-partitioned run covers the half-open window ``[start, end)`` of one or
more whole partitions; a static-partitioned run covers one key. Every value
that reaches SQL comes from here, already parsed into a date, a timestamp or
one of the declared keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, overload

from sqlassets.errors import WindowError
from sqlassets.parameters import END_DATE, END_TS, PARTITION_KEY, START_DATE, START_TS
from sqlassets.spec import Cadence, ModelSpec, StaticPartitions, TimePartitions

KEY_FORMATS = {
    Cadence.HOURLY: "%Y-%m-%d-%H:%M",
    Cadence.DAILY: "%Y-%m-%d",
    Cadence.WEEKLY: "%Y-%m-%d",
    Cadence.MONTHLY: "%Y-%m-%d",
}
"""Partition key formats, the same as Dagster's time-window partitions."""


_HUMAN_FORMATS = {
    Cadence.HOURLY: "YYYY-MM-DD-HH:00",
    Cadence.DAILY: "YYYY-MM-DD",
    Cadence.WEEKLY: "YYYY-MM-DD",
    Cadence.MONTHLY: "YYYY-MM-01",
}


@dataclass(frozen=True, slots=True)
class QueryParameter:
    """A named, typed value bound to a statement (``@name``)."""

    name: str
    type: Literal["DATE", "TIMESTAMP", "STRING"]
    value: date | datetime | str


@dataclass(frozen=True, slots=True)
class Window:
    """What one run covers: a time window, a static key, or everything."""

    start: datetime | None = None
    end: datetime | None = None
    partition_key: str | None = None
    keys: Sequence[str] = ()
    """Partition keys in the window (time keys in Dagster's format, computed when read)."""

    @property
    def is_time(self) -> bool:
        """Whether this is a time window."""
        return self.start is not None

    def parameters(self) -> dict[str, QueryParameter]:
        """The query parameters of this window, by name."""
        if self.start is not None and self.end is not None:
            start, end = self.start.replace(tzinfo=UTC), self.end.replace(tzinfo=UTC)
            return {
                START_DATE: QueryParameter(START_DATE, "DATE", self.start.date()),
                END_DATE: QueryParameter(END_DATE, "DATE", self.end.date()),
                START_TS: QueryParameter(START_TS, "TIMESTAMP", start),
                END_TS: QueryParameter(END_TS, "TIMESTAMP", end),
            }
        if self.partition_key is not None:
            return {PARTITION_KEY: QueryParameter(PARTITION_KEY, "STRING", self.partition_key)}
        return {}

    def label(self) -> str:
        """A short human form: ``2024-01-01..2024-01-04``, a key, or ``all``."""
        if self.start is not None and self.end is not None:
            if len(self.keys) == 1:
                return self.keys[0]
            return f"{self.keys[0]}..{self.keys[-1]}" if self.keys else "empty"
        return self.partition_key or "all"


def step(cadence: Cadence, moment: datetime) -> datetime:
    """The start of the partition after the one starting at ``moment``."""
    try:
        if cadence is Cadence.HOURLY:
            return moment + timedelta(hours=1)
        if cadence is Cadence.DAILY:
            return moment + timedelta(days=1)
        if cadence is Cadence.WEEKLY:
            return moment + timedelta(days=7)
        month = moment.month + 1
        return moment.replace(year=moment.year + (month > 12), month=(month - 1) % 12 + 1)
    except (OverflowError, ValueError):
        raise WindowError(
            f"the {cadence.value} partition starting {moment:%Y-%m-%d %H:%M} ends after year 9999"
        ) from None


def _aligned(partitions: TimePartitions, moment: datetime) -> bool:
    if partitions.cadence is Cadence.HOURLY:
        return moment.minute == moment.second == moment.microsecond == 0
    if moment.time() != datetime.min.time():
        return False
    if partitions.cadence is Cadence.WEEKLY:
        return (moment - partitions.start).days % 7 == 0
    if partitions.cadence is Cadence.MONTHLY:
        return moment.day == 1
    return True


def parse_key(partitions: TimePartitions, key: str) -> datetime:
    """The start of the time partition named ``key``; raises on anything else."""
    fmt = KEY_FORMATS[partitions.cadence]
    try:
        moment = datetime.strptime(key, fmt)
        if moment.strftime(fmt) != key:
            raise ValueError(key)
    except (ValueError, TypeError):
        raise WindowError(
            f"`{_shown(key)}` is not a {partitions.cadence.value} partition key "
            f"(written {_HUMAN_FORMATS[partitions.cadence]})"
        ) from None
    if not _aligned(partitions, moment):
        raise WindowError(f"`{_shown(key)}` does not start a {partitions.cadence.value} partition")
    return moment


def parse_moment(text: str) -> datetime:
    """A window bound written ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM``."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d-%H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except (ValueError, TypeError):
            continue
    raise WindowError(f"`{_shown(text)}` is not a date: write YYYY-MM-DD or YYYY-MM-DD HH:MM")


def _shown(text: object) -> str:
    """A value as shown in an error message: printable and bounded."""
    shown = repr(str(text))[1:-1]
    return shown if len(shown) <= 64 else shown[:61] + "..."


def time_window(spec: ModelSpec, start: datetime, end: datetime) -> Window:
    """The window ``[start, end)`` of a time-partitioned model, validated."""
    partitions = spec.time_partitions
    if partitions is None:
        raise WindowError(f"{spec.name.name} has no time partitions: run it without a window")
    if end <= start:
        raise WindowError(f"the window end {end} is not after its start {start}")
    for moment in (start, end):
        if not _aligned(partitions, moment):
            raise WindowError(
                f"{moment:%Y-%m-%d %H:%M} does not start a {partitions.cadence.value} partition of "
                f"{spec.name.name}"
            )
    if start < partitions.start:
        raise WindowError(
            f"the window starts before the first partition of {spec.name.name} "
            f"({partitions.start:%Y-%m-%d %H:%M})"
        )
    if partitions.end is not None and end > partitions.end:
        raise WindowError(
            f"the window ends after the last partition of {spec.name.name} "
            f"(@end {partitions.end:%Y-%m-%d %H:%M})"
        )
    return Window(start=start, end=end, keys=TimeKeys(partitions.cadence, start, end))


_FIXED_STEPS = {
    Cadence.HOURLY: timedelta(hours=1),
    Cadence.DAILY: timedelta(days=1),
    Cadence.WEEKLY: timedelta(days=7),
}


class TimeKeys(Sequence[str]):
    """The partition keys of ``[start, end)``, each computed when asked for.

    A 10-year hourly window has 87,600 keys; a run needs its count, the first
    and the last (and the boundaries of its chunks), never the list.
    """

    __slots__ = ("_cadence", "_end", "_length", "_start")

    def __init__(self, cadence: Cadence, start: datetime, end: datetime):
        self._cadence, self._start, self._end = cadence, start, end
        fixed = _FIXED_STEPS.get(cadence)
        if fixed is not None:
            self._length = max(0, -(-(end - start) // fixed))
        else:
            months = (end.year - start.year) * 12 + end.month - start.month
            self._length = max(0, months + (self._moment(months) < end))

    def _moment(self, index: int) -> datetime:
        fixed = _FIXED_STEPS.get(self._cadence)
        if fixed is not None:
            return self._start + fixed * index
        month = self._start.month - 1 + index
        return self._start.replace(year=self._start.year + month // 12, month=month % 12 + 1)

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(self._length)))
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._moment(index).strftime(KEY_FORMATS[self._cadence])

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(self._length))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TimeKeys):
            return (self._cadence, self._start, self._length) == (
                other._cadence,
                other._start,
                other._length,
            ) or self._length == other._length == 0
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"TimeKeys({self._cadence.value}, {self._start}, {self._end}, {self._length} keys)"


def key_window(spec: ModelSpec, key: str) -> Window:
    """The window of one partition key (time or static), validated."""
    if isinstance(spec.partitions, StaticPartitions):
        if key not in spec.partitions.keys:
            raise WindowError(
                f"`{_shown(key)}` is not a partition of {spec.name.name}; its keys are "
                f"{', '.join(spec.partitions.keys)}"
            )
        return Window(partition_key=key, keys=(key,))
    if isinstance(spec.partitions, TimePartitions):
        start = parse_key(spec.partitions, key)
        return time_window(spec, start, step(spec.partitions.cadence, start))
    raise WindowError(f"{spec.name.name} is not partitioned: run it without a partition")


def latest_window(spec: ModelSpec, now: datetime | None = None) -> Window:
    """The latest complete partition at ``now`` (UTC), for runs without a window."""
    partitions = spec.time_partitions
    if partitions is None:
        if spec.static_partitions is not None:
            raise WindowError(f"{spec.name.name} has static partitions: name one with --partition")
        return Window()
    limit = now or datetime.now(UTC).replace(tzinfo=None)
    if partitions.end is not None:
        limit = min(limit, partitions.end)
    start = partitions.start
    if step(partitions.cadence, start) > limit:
        raise WindowError(f"{spec.name.name} has no complete partition yet")
    while step(partitions.cadence, step(partitions.cadence, start)) <= limit:
        start = step(partitions.cadence, start)
    return time_window(spec, start, step(partitions.cadence, start))


def partition_start(partitions: TimePartitions, moment: datetime) -> datetime:
    """The start of the partition of ``partitions`` that holds ``moment``."""
    if partitions.cadence is Cadence.HOURLY:
        return moment.replace(minute=0, second=0, microsecond=0)
    day = datetime.combine(moment.date(), datetime.min.time())
    if partitions.cadence is Cadence.WEEKLY:
        return day - timedelta(days=(day - partitions.start).days % 7)
    if partitions.cadence is Cadence.MONTHLY:
        return day.replace(day=1)
    return day


def covering_window(
    spec: ModelSpec, start: datetime, end: datetime, now: datetime | None = None
) -> Window | None:
    """The partitions of ``spec`` that overlap ``[start, end)``, within its range and ended.

    None when none does (the window lies before ``@start``, or nothing has
    ended yet). ``sqlassets plan`` plans a model whose partitions do not fit
    the window given (a monthly model, a later ``@start``) over this one.
    """
    partitions = spec.time_partitions
    if partitions is None:
        raise WindowError(f"{spec.name.name} has no time partitions: run it without a window")
    low = max(partition_start(partitions, start), partitions.start)
    high = partition_start(partitions, end)
    if high < end:
        high = step(partitions.cadence, high)
    limit = partition_start(partitions, now or datetime.now(UTC).replace(tzinfo=None))
    if partitions.end is not None:
        limit = min(limit, partitions.end)
    high = min(high, limit)
    if high <= low:
        return None
    return time_window(spec, low, high)

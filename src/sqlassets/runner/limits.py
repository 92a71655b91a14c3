"""BigQuery's per-table and per-load limits a project is heading for (lint and plan warn).

A table holds at most 10,000 partitions; a load job reads at most 10,000
source URIs (*Quotas and limits*). Hourly partitioning passes the first after
about 416 days. Both are checked against what the project will reach
:data:`HORIZON` from now (or at ``@end``), so the warning comes before the
failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlassets.spec import Cadence, Granularity, LoadMaterialization, ModelSpec
from sqlassets.strategies.load import next_partition, partition_start

MAX_PARTITIONS_PER_TABLE = 10_000
MAX_URIS_PER_LOAD = 10_000
HORIZON = timedelta(days=90)
"""How far ahead an open-ended range (no ``@end``) is checked."""


@dataclass(frozen=True)
class LimitFinding:
    """A limit a model passes, and the directive to change."""

    directive: str
    message: str


def partitions_between(granularity: Granularity, start: datetime, end: datetime) -> int:
    """How many table partitions of ``granularity`` ``[start, end)`` touches (arithmetic)."""
    if end <= start:
        return 0
    first = partition_start(granularity, start)
    if granularity is Granularity.HOUR:
        return -(-(end - first) // timedelta(hours=1))
    if granularity is Granularity.DAY:
        return -(-(end - first) // timedelta(days=1))
    last = partition_start(granularity, end)
    if granularity is Granularity.MONTH:
        count = (last.year - first.year) * 12 + last.month - first.month
    else:
        count = last.year - first.year
    return count + (1 if end > last else 0)


def limit_findings(spec: ModelSpec, now: datetime | None = None) -> list[LimitFinding]:
    """What ``spec`` passes by ``@end``, or :data:`HORIZON` from ``now`` when open-ended."""
    partitions = spec.time_partitions
    if partitions is None:
        return []
    today = now or datetime.now(UTC).replace(tzinfo=None)
    end = partitions.end or today + HORIZON
    until = f"by @end {partitions.end:%Y-%m-%d}" if partitions.end else f"by {end:%Y-%m-%d}"
    findings: list[LimitFinding] = []
    partition_by = spec.partition_by
    if partition_by is not None:
        granularity = partition_by.granularity
        count = partitions_between(granularity, partitions.start, end)
        if count > MAX_PARTITIONS_PER_TABLE:
            full = partition_start(granularity, partitions.start)
            for _ in range(MAX_PARTITIONS_PER_TABLE):
                full = next_partition(granularity, full)
            findings.append(
                LimitFinding(
                    "partition_by",
                    f"{spec.name.name} has {count:,} {granularity.value} partitions from @start "
                    f"{partitions.start:%Y-%m-%d} {until}; BigQuery refuses writes past "
                    f"{MAX_PARTITIONS_PER_TABLE:,} partitions per table (reached on "
                    f"{full:%Y-%m-%d}): partition by DAY (with daily @partitions), move @start "
                    "later, or set @end",
                )
            )
    materialization = spec.materialization
    if isinstance(materialization, LoadMaterialization):
        # Imported here: lint checks every model, and only loads need the BigQuery engine.
        from sqlassets.engines.bigquery import MAX_PARTITIONS_PER_JOB

        per_partition = sum(1 for uri in materialization.uris if uri.placeholders)
        fixed = len(materialization.uris) - per_partition
        windows = _windows(partitions.cadence, partitions.start, end)
        # Jobs are cut at 4,000 partitions anyway: only more URIs than that per job split further.
        per_job = per_partition * min(windows, MAX_PARTITIONS_PER_JOB) + fixed
        if per_job > MAX_URIS_PER_LOAD:
            findings.append(
                LimitFinding(
                    "uris",
                    f"a backfill of {spec.name.name} from @start {partitions.start:%Y-%m-%d} "
                    f"{until} reads {per_partition * windows + fixed:,} URIs, {per_job:,} in a "
                    f"job of {MAX_PARTITIONS_PER_JOB:,} partitions; a BigQuery load job reads at "
                    f"most {MAX_URIS_PER_LOAD:,}: such windows run as several load jobs, each "
                    "atomic, not one",
                )
            )
    return findings


def _windows(cadence: Cadence, start: datetime, end: datetime) -> int:
    """How many time partitions (windows) of ``cadence`` ``[start, end)`` holds."""
    if cadence is Cadence.WEEKLY:
        return -(-partitions_between(Granularity.DAY, start, end) // 7)
    granularity = {
        Cadence.HOURLY: Granularity.HOUR,
        Cadence.DAILY: Granularity.DAY,
        Cadence.MONTHLY: Granularity.MONTH,
    }[cadence]
    return partitions_between(granularity, start, end)

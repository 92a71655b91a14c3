"""The ``sqlassets cost`` report: bytes billed and slot time per model and per day.

Entries come from two places, each kept apart in the report: the Dagster
event log (each materialization's ``sqlassets/bytes_billed`` and
``sqlassets/slot_ms``) and, on BigQuery, ``INFORMATION_SCHEMA.JOBS`` by the
``sqlassets_asset`` label (which also counts jobs Dagster never recorded,
such as those of ``sqlassets run`` without an instance).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from sqlassets.values import parse_duration

EVENT_LOG = "dagster"
JOBS = "bigquery"


@dataclass(frozen=True)
class CostEntry:
    """What one model cost on one day, by one source of figures."""

    model: str
    day: date
    source: str
    """:data:`EVENT_LOG` or :data:`JOBS`."""
    runs: int
    """Materializations (event log) or jobs (BigQuery) counted."""
    bytes_billed: int
    slot_ms: int


@dataclass(frozen=True)
class Total:
    """A sum of entries: one model's, or one day's."""

    key: str
    runs: int = 0
    bytes_billed: int = 0
    slot_ms: int = 0

    def plus(self, entry: CostEntry) -> Total:
        """The sum of this total and ``entry``."""
        return Total(
            self.key,
            self.runs + entry.runs,
            self.bytes_billed + entry.bytes_billed,
            self.slot_ms + entry.slot_ms,
        )


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d`` back from ``now`` (UTC), or a date ``YYYY-MM-DD`` (midnight UTC)."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        pass
    return (now or datetime.now(UTC)) - parse_duration(text)


def totals(entries: Iterable[CostEntry], by: str) -> list[Total]:
    """Totals by ``model`` (most bytes billed first) or by ``day`` (in order)."""
    found: dict[str, Total] = {}
    for entry in entries:
        key = entry.model if by == "model" else entry.day.isoformat()
        found[key] = found.get(key, Total(key)).plus(entry)
    if by == "model":
        return sorted(found.values(), key=lambda t: (-t.bytes_billed, -t.slot_ms, t.key))
    return [found[key] for key in sorted(found)]


def days(since: datetime, until: datetime) -> list[date]:
    """Every UTC day from ``since`` to ``until``, both included."""
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def daily_series(
    entries: Sequence[CostEntry], span: Sequence[date], models: Sequence[str]
) -> dict[str, list[int]]:
    """Bytes billed per day of ``span`` for each of ``models``; the rest summed as ``other``."""
    index = {day: n for n, day in enumerate(span)}
    series = {model: [0] * len(span) for model in models}
    for entry in entries:
        if entry.day not in index:
            continue
        name = entry.model if entry.model in series else "other"
        series.setdefault(name, [0] * len(span))[index[entry.day]] += entry.bytes_billed
    return series


def render_text(entries: Sequence[CostEntry], since: datetime, notes: Sequence[str]) -> str:
    """The report: per model, then per day, for each source that gave figures."""
    lines = [f"Costs since {since:%Y-%m-%d %H:%M} UTC"]
    for source, title in ((EVENT_LOG, "Dagster event log"), (JOBS, "BigQuery INFORMATION_SCHEMA")):
        chosen = [entry for entry in entries if entry.source == source]
        if not chosen:
            continue
        unit = "materializations" if source == EVENT_LOG else "jobs"
        for by in ("model", "day"):
            rows = [(by, unit, "bytes billed", "slot ms")]
            rows += [
                (t.key, str(t.runs), format_bytes(t.bytes_billed), f"{t.slot_ms:,}")
                for t in totals(chosen, by)
            ]
            if by == "model":
                whole = Total("total")
                for entry in chosen:
                    whole = whole.plus(entry)
                rows.append(
                    (
                        "total",
                        str(whole.runs),
                        format_bytes(whole.bytes_billed),
                        f"{whole.slot_ms:,}",
                    )
                )
            lines += ["", f"{title}, by {by}:", *_table(rows)]
    if not entries:
        lines.append("no costs recorded in this period")
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def render_json(entries: Sequence[CostEntry], since: datetime) -> str:
    """Every entry, for tools."""
    return json.dumps(
        {
            "since": since.isoformat(),
            "entries": [{**asdict(e), "day": e.day.isoformat()} for e in entries],
        },
        indent=2,
    )


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in rows
    ]


def format_bytes(count: int) -> str:
    """``1.2 GB``: decimal units, as BigQuery bills."""
    size = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} B"  # pragma: no cover

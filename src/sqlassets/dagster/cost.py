"""Costs from the Dagster instance's event log: each materialization's job statistics.

A step that materializes a range of partitions records one materialization
per partition, each with the metadata of the step's jobs: a step is counted
once, by its run and job ids.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sqlassets.costs import EVENT_LOG, CostEntry
from sqlassets.project import Project

from .translator import SqlAssetsTranslator

_PAGE = 1000


def event_log_costs(
    project: Project,
    instance: dg.DagsterInstance,
    since: datetime,
    selected: Collection[str] | None = None,
    translator: SqlAssetsTranslator | None = None,
) -> list[CostEntry]:
    """Bytes billed and slot ms per selected model (all if None) and UTC day, since ``since``."""
    translator = translator or SqlAssetsTranslator()
    entries: dict[tuple[str, str], CostEntry] = {}
    for name in project.graph.order:
        if selected is not None and name not in selected:
            continue
        key = translator.get_asset_key(project.models[name])
        seen: set[tuple[str, str]] = set()
        for record in _materializations(instance, key, since):
            materialization = record.asset_materialization
            if materialization is None:
                continue
            metadata = materialization.metadata
            step = (record.run_id, str(_value(metadata.get("sqlassets/job_ids"))))
            if step in seen:
                continue
            seen.add(step)
            billed = _value(metadata.get("sqlassets/bytes_billed"))
            slots = _value(metadata.get("sqlassets/slot_ms"))
            day = datetime.fromtimestamp(record.timestamp, UTC).date()
            previous = entries.get((name, day.isoformat()))
            entries[(name, day.isoformat())] = CostEntry(
                model=name,
                day=day,
                source=EVENT_LOG,
                runs=(previous.runs if previous else 0) + 1,
                bytes_billed=(previous.bytes_billed if previous else 0) + int(billed or 0),
                slot_ms=(previous.slot_ms if previous else 0) + int(slots or 0),
            )
    return sorted(entries.values(), key=lambda e: (e.day, e.model))


def _materializations(
    instance: dg.DagsterInstance, key: dg.AssetKey, since: datetime
) -> Iterator[dg.EventLogRecord]:
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_timestamp=since.timestamp()),
            limit=_PAGE,
            cursor=cursor,
        )
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def _value(entry: object) -> Any:
    return getattr(entry, "value", entry)

"""Observations: what the warehouse's metadata says of each model table and source.

Everything here reads metadata only, through :meth:`Engine.table_stats` (one
catalog query per dataset); no query reads a table's rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlglot import expressions as exp

from sqlassets.engines.base import Engine, TableStats
from sqlassets.job import table_name
from sqlassets.project import Project
from sqlassets.runner.plan import physical_tables
from sqlassets.spec import TableRef
from sqlassets.values import Freshness


@dataclass(frozen=True)
class Observation:
    """One model or source table and its metadata (None: the table does not exist)."""

    name: str
    """The model's name, or the source's as the models read it."""
    is_source: bool
    table: str
    """The physical table observed."""
    stats: TableStats | None
    freshness: Freshness | None = None

    def is_fresh(self, now: datetime) -> bool | None:
        """Whether the table was modified within its freshness rule at ``now``.

        As Dagster's last-update check: within ``max_lag`` of the latest
        deadline tick (or of ``now``). None without a rule or a known time.
        """
        modified = self.stats.last_modified if self.stats else None
        if self.freshness is None or modified is None:
            return None
        deadline = now
        if self.freshness.deadline:
            from croniter import croniter

            deadline = croniter(self.freshness.deadline, now).get_prev(datetime)
        return modified >= deadline - self.freshness.max_lag


def observed_tables(
    project: Project, selected: Collection[str] | None = None
) -> list[tuple[str, TableRef | None]]:
    """The models in ``selected`` (all if None), in run order, then the sources they read.

    Each as ``(name, ref)``: ``ref`` is a source's reference, None for a model.
    """
    models = [name for name in project.graph.order if selected is None or name in selected]
    sources: dict[str, TableRef] = {}
    for name in models:
        for ref in project.graph.external[name]:
            sources.setdefault(str(ref), ref)
    return [(name, None) for name in models] + [(key, sources[key]) for key in sorted(sources)]


def observe(
    project: Project, engine: Engine, selected: Collection[str] | None = None
) -> list[Observation]:
    """Observe the selected models' tables (all if None) and the sources they read."""
    models = physical_tables(project, engine.naming)
    wanted: list[tuple[str, bool, exp.Table]] = []
    for name, ref in observed_tables(project, selected):
        if ref is None:
            wanted.append((name, False, models[name]))
        else:
            wanted.append((name, True, _source_table(ref)))
    stats = engine.table_stats([table for _, _, table in wanted])
    freshness = project.config.source_freshness
    return [
        Observation(
            name=name,
            is_source=is_source,
            table=table_name(table),
            stats=stats.get(f"{table.db}.{table.name}"),
            freshness=_source_freshness(freshness, name)
            if is_source
            else project.models[name].spec.freshness,
        )
        for name, is_source, table in wanted
    ]


def _source_table(ref: TableRef) -> exp.Table:
    """A source as the models name it: sources are not renamed per target."""
    return exp.Table(
        this=exp.to_identifier(ref.table),
        db=exp.to_identifier(ref.dataset),
        catalog=exp.to_identifier(ref.project) if ref.project else None,
    )


def _source_freshness(configured: Mapping[str, Freshness], name: str) -> Freshness | None:
    """A source's configured freshness, by its name with or without the project."""
    return configured.get(name) or configured.get(".".join(name.split(".")[-2:]))

"""Materialization strategies: pure functions from a spec and a window to SQL trees.

Nothing here does I/O. Every statement is a sqlglot tree in the BigQuery
dialect; engines transpile and send them. Values reach a statement as query
parameters (``@start_date``) or as typed literals substituted on the tree,
never as formatted text.

- :mod:`.ddl`: ``table`` and ``view`` (``CREATE OR REPLACE``), ``ALTER``/``DROP``;
- :mod:`.merge`: ``merge`` (one ``MERGE``, the window or ``@merge_filter`` in
  its ``ON``) and ``insert_overwrite`` (one atomic job per window);
- :mod:`.load`: ``load`` (a load job per partition, ``LOAD DATA``, or staged;
  ``@load_mode: append`` tags each partition's rows to replace them on a re-run);
- :mod:`.checks`: every ``@check`` of a model as one single-row query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import expressions as exp

from sqlassets.errors import StrategyError
from sqlassets.job import Job
from sqlassets.spec import (
    TARGET_ALIAS,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    MergeMaterialization,
    ModelSpec,
    TableMaterialization,
    ViewMaterialization,
)
from sqlassets.window import Window

from .body import parse_body, rewrite_references
from .checks import ChecksQuery, checks_query
from .common import SOURCE_ALIAS, self_columns, self_reads, window_condition, without_self_reads
from .ddl import add_columns, drop_table, replace_jobs
from .load import (
    appends,
    load_jobs,
    load_uris,
    partition_windows,
    staged_append,
    staged_overwrite,
    staging_table,
    temp_table_name,
)
from .merge import incremental_jobs

_QueryPlanner = Callable[
    [
        ModelSpec,
        exp.Table,
        Window,
        exp.Expression,
        Sequence[str] | None,
        tuple[exp.Expression, ...],
        bool,
    ],
    list[Job],
]

_PLANNERS: dict[type, _QueryPlanner] = {
    TableMaterialization: replace_jobs,
    ViewMaterialization: replace_jobs,
    MergeMaterialization: incremental_jobs,
    InsertOverwriteMaterialization: incremental_jobs,
}
"""The strategy of each materialization that runs the model's query."""


def plan_jobs(
    spec: ModelSpec,
    target: exp.Table,
    window: Window,
    query: exp.Expression | None = None,
    columns: Sequence[str] | None = None,
    preamble: Sequence[exp.Expression] = (),
    full_refresh: bool = False,
    *,
    partition_load_jobs: bool = False,
    load_layout: bool = False,
) -> list[Job]:
    """The jobs that materialize ``spec`` over ``window`` into ``target``.

    ``query`` is the model's query with physical names already rewritten;
    ``columns`` its output columns (needed by merges); ``preamble`` the
    ``CREATE TEMP FUNCTION`` statements that precede it in the file.
    ``full_refresh`` recreates an incremental table (empty, with the current
    partitioning and clustering) before the window is written.
    ``partition_load_jobs`` and ``load_layout`` are the engine's capabilities
    of the same names (see :func:`.load.load_jobs`).
    """
    if isinstance(spec.materialization, LoadMaterialization):
        return load_jobs(
            spec,
            target,
            window,
            full_refresh,
            partition_load_jobs=partition_load_jobs,
            load_layout=load_layout,
        )
    if query is None:
        raise StrategyError(f"{spec.name.name} has no query")
    head = tuple(statement.copy() for statement in preamble)
    planner = _PLANNERS[type(spec.materialization)]
    return planner(spec, target, window, query, columns, head, full_refresh)


__all__ = [
    "SOURCE_ALIAS",
    "TARGET_ALIAS",
    "ChecksQuery",
    "add_columns",
    "appends",
    "checks_query",
    "drop_table",
    "load_uris",
    "parse_body",
    "partition_windows",
    "plan_jobs",
    "rewrite_references",
    "self_columns",
    "self_reads",
    "staged_append",
    "staged_overwrite",
    "staging_table",
    "temp_table_name",
    "window_condition",
    "without_self_reads",
]

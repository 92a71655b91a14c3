"""A whole project: configuration, every model file, the graph and all diagnostics."""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from sqlassets.config import Config, find_project_dir, load_config
from sqlassets.errors import ConfigError, Diagnostic, Location, ProjectError, display_path
from sqlassets.graph import Graph, build_graph
from sqlassets.loader import Model, iter_model_files, load_model


@dataclass(frozen=True)
class Project:
    """Everything loaded from a project directory."""

    config: Config
    graph: Graph
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[Path, ...]

    @property
    def models(self) -> dict[str, Model]:
        """Valid models by ``dataset.table``."""
        return self.graph.models

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The diagnostics that make the project unusable."""
        return tuple(d for d in self.diagnostics if d.is_error)

    def raise_for_errors(self) -> Project:
        """Raise :class:`ProjectError` listing every error; return self if there is none."""
        if self.errors:
            raise ProjectError(list(self.errors))
        return self


PARALLEL_FROM = 500
"""Projects with at least this many files load in one process per core."""


def _workers(jobs: int | None, files: int) -> int:
    if jobs is not None:
        return max(1, jobs)
    if files < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _load_batch(
    files: list[Path], sql_dir: Path, display_base: Path | None, lineage: bool = False
) -> tuple[list[Model], list[Diagnostic]]:
    """Load ``files``; in a worker process or in this one."""
    models: list[Model] = []
    diagnostics: list[Diagnostic] = []
    # Parse trees are dropped file by file. Freezing what is already loaded
    # and collecting less often keeps the cyclic collector from rescanning
    # the heap for every few trees (notes/performance.md).
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 20_000), *threshold[1:])
    try:
        for path in files:
            model, found = load_model(path, sql_dir, display_base, lineage)
            diagnostics.extend(found)
            if model is not None:
                models.append(model)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
    return models, diagnostics


def load_project(
    project_dir: Path | str | None = None,
    display_base: Path | None = None,
    jobs: int | None = None,
    lineage: bool = False,
) -> Project:
    """Load the project in ``project_dir`` (default: found from the working directory).

    Never raises for problems in model files: they are returned as diagnostics
    (use :meth:`Project.raise_for_errors`). Raises :class:`ConfigError` when the
    configuration itself is unusable. ``jobs`` is the number of processes that
    parse files (default: one per core, up to 8, for projects of 500 files or more);
    ``lineage`` traces output columns to source columns (Dagster needs it, lint does not).
    """
    root = Path(project_dir) if project_dir is not None else find_project_dir()
    if not root.is_dir():
        raise ConfigError(f"project directory {root} does not exist", Location(str(root)))
    config = load_config(root, display_base=display_base)
    if not config.sql_dir.is_dir():
        raise ConfigError(
            f"the SQL folder {display_path(config.sql_dir, display_base)} does not exist: create "
            "it or set `sql_dir` in [tool.sqlassets]",
            Location(display_path(config.source or root, display_base)),
        )
    files = iter_model_files(config.sql_dir)
    diagnostics: list[Diagnostic] = list(config.diagnostics)
    models: list[Model] = []
    workers = _workers(jobs, len(files))
    if workers > 1:
        batches = [files[start::workers] for start in range(workers)]
        context = multiprocessing.get_context("fork")
        # Freeze before forking: a child's collector would otherwise touch every
        # inherited object and copy the parent's whole heap (seconds with Dagster loaded).
        gc.freeze()
        try:
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = list(
                    pool.map(
                        _load_batch,
                        batches,
                        repeat(config.sql_dir),
                        repeat(display_base),
                        repeat(lineage),
                    )
                )
        finally:
            gc.unfreeze()
    else:
        results = [_load_batch(files, config.sql_dir, display_base, lineage)]
    for batch_models, batch_diagnostics in results:
        models.extend(batch_models)
        diagnostics.extend(batch_diagnostics)
    models.sort(key=lambda model: model.path)
    graph = build_graph(models)
    diagnostics.extend(graph.diagnostics)
    diagnostics.sort(key=lambda d: (d.location, d.code))
    return Project(config=config, graph=graph, diagnostics=tuple(diagnostics), files=tuple(files))

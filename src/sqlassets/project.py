"""A whole project: configuration, every model file, the graph and all diagnostics."""

from __future__ import annotations

import gc
from dataclasses import dataclass
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


def load_project(
    project_dir: Path | str | None = None, display_base: Path | None = None
) -> Project:
    """Load the project in ``project_dir`` (default: found from the working directory).

    Never raises for problems in model files: they are returned as diagnostics
    (use :meth:`Project.raise_for_errors`). Raises :class:`ConfigError` when the
    configuration itself is unusable.
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
    # Parse trees are dropped file by file; pausing the cyclic collector while
    # they churn avoids rescanning the growing heap (notes/performance.md).
    enabled = gc.isenabled()
    gc.disable()
    try:
        for index, path in enumerate(files):
            model, found = load_model(path, config.sql_dir, display_base)
            diagnostics.extend(found)
            if model is not None:
                models.append(model)
            if index % 500 == 499:
                gc.collect(0)
    finally:
        if enabled:
            gc.enable()
    graph = build_graph(models)
    diagnostics.extend(graph.diagnostics)
    diagnostics.sort(key=lambda d: (d.location, d.code))
    return Project(config=config, graph=graph, diagnostics=tuple(diagnostics), files=tuple(files))

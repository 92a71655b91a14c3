"""A whole project: configuration, every model file, the graph and all diagnostics."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path

from sqlassets.bulk import bulk_gc, frozen
from sqlassets.cache import AnalysisCache, decode, encode
from sqlassets.config import Config, find_project_dir, load_config
from sqlassets.errors import (
    ConfigError,
    Diagnostic,
    Location,
    MissingSqlDirError,
    ProjectError,
    display_path,
)
from sqlassets.graph import Graph, build_graph
from sqlassets.loader import LoadResult, Model, iter_model_files, load_model, relative_path


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

    broken: tuple[BrokenFile, ...] = field(default=())
    """Files in error left out by :meth:`without_broken` (empty otherwise)."""
    blocked: tuple[str, ...] = field(default=())
    """Valid models left out by :meth:`without_broken` because they read a broken file's table."""

    def raise_for_errors(self) -> Project:
        """Raise :class:`ProjectError` listing every error; return self if there is none."""
        if self.errors:
            raise ProjectError(list(self.errors))
        return self

    def broken_files(self) -> tuple[BrokenFile, ...]:
        """Each model file with an error, with its errors, by path."""
        files = {display_path(path, self.config.display_base): path for path in self.files}
        found: dict[str, list[Diagnostic]] = {}
        for diagnostic in self.errors:
            if diagnostic.location.path in files:
                found.setdefault(diagnostic.location.path, []).append(diagnostic)
        broken = []
        for shown, diagnostics in sorted(found.items()):
            parts = relative_path(files[shown], self.config.sql_dir).with_suffix("").parts
            name = ".".join(parts) if len(parts) == 2 else None
            broken.append(BrokenFile(shown, name, tuple(diagnostics)))
        return tuple(broken)

    def without_broken(self, strict: bool | None = None, downstream: bool = False) -> Project:
        """The project without its files in error, so that every other model still runs.

        Left out: each file with an error and, unless ``downstream``, every
        model reading (directly or not) a table a broken file names; they are
        listed in ``broken`` and ``blocked``. Raises :class:`ProjectError` in
        ``strict`` mode (default: :meth:`Config.is_strict`) when anything is in
        error, and always for errors outside model files (the configuration).
        """
        if not self.errors:
            return self
        if self.config.is_strict() if strict is None else strict:
            self.raise_for_errors()
        broken = self.broken_files()
        located = {diagnostic for file in broken for diagnostic in file.diagnostics}
        if any(diagnostic not in located for diagnostic in self.errors):
            self.raise_for_errors()
        paths = {file.path for file in broken}
        names = {file.name for file in broken if file.name}
        models = {name: m for name, m in self.models.items() if m.path not in paths}
        blocked: list[str] = []
        if not downstream:
            for name in self.graph.order:  # parents first
                model = models.get(name)
                if model is None:
                    continue
                reads = {parent for parent in self.graph.upstream[name]}
                reads |= {ref.name for ref in self.graph.external[name]}
                if reads & names:
                    names.add(name)
                    blocked.append(name)
                    del models[name]
        graph = build_graph(models.values())
        if graph.diagnostics:  # pragma: no cover - every graph error is located in a broken file
            self.raise_for_errors()
        return replace(self, graph=graph, broken=broken, blocked=tuple(sorted(blocked)))


@dataclass(frozen=True)
class BrokenFile:
    """A model file with errors: where it is, the table its path names, and its errors."""

    path: str
    name: str | None
    """``dataset.table`` from ``sql/<dataset>/<table>.sql`` (None for another layout)."""
    diagnostics: tuple[Diagnostic, ...]

    def describe(self) -> str:
        """Its errors, one per line."""
        return "\n".join(str(diagnostic) for diagnostic in self.diagnostics)


PARALLEL_FROM_BYTES = 1_500_000
"""With at least this much SQL to analyse (cache misses), one process per idle core does it.

About 550 files of 60 lines, or 120 of 300: starting and feeding workers costs
more than it saves below that.
"""


def _workers(jobs: int | None, misses: list[_Miss]) -> int:
    if jobs is not None:
        return max(1, min(jobs, len(misses)))
    size = sum(len(miss.data) for miss in misses)
    if size < PARALLEL_FROM_BYTES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(_idle_cores(), 8, len(misses)))


def _idle_cores() -> int:
    """The cores free for workers: CPUs plus one, minus the 1-minute load average.

    Workers beyond the free cores compete with the machine's other work and
    cost more CPU in all (about 15% more for two on 2 cores: bench/lint_bench.py),
    so a busy machine lints in one process. The "plus one" is this process's own
    share: the 1-minute average still counts its recent runs (the previous lint),
    and on 2 cores with one other busy process two workers still get 4/3 of the
    machine against one core for a single process.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this platform
        return cores
    return max(1, min(cores, round(cores + 1 - load)))


@dataclass(frozen=True, slots=True)
class _Miss:
    """A file to analyse: no usable cache entry."""

    index: int
    source: Path
    data: bytes
    key: str | None


def _key(
    cache: AnalysisCache, source: Path, data: bytes, sql_dir: Path, display_base: Path | None
) -> str | None:
    """The cache key of a file (None when the cache is off): what its result depends on."""
    if not cache.enabled:
        return None
    relative = relative_path(source, sql_dir).as_posix()
    return cache.key(data, display_path(source, display_base), relative)


def _from_cache(
    files: list[Path],
    sql_dir: Path,
    display_base: Path | None,
    lineage: bool,
    cache: AnalysisCache,
) -> tuple[list[LoadResult | None], list[_Miss]]:
    """Each file's cached result (one read and one hash per file), and the files to analyse."""
    results: list[LoadResult | None] = [None] * len(files)
    misses: list[_Miss] = []
    for index, source in enumerate(files):
        data = source.read_bytes()
        key = _key(cache, source, data, sql_dir, display_base)
        hit = cache.get(key, lineage, source) if key is not None else None
        if hit is None:
            misses.append(_Miss(index, source, data, key))
        else:
            results[index] = hit
    return results, misses


def _analyse(
    miss: _Miss, sql_dir: Path, display_base: Path | None, lineage: bool, cache: AnalysisCache
) -> tuple[LoadResult, bytes]:
    """Load one file from its bytes, and store the result in the cache."""
    result = load_model(miss.source, sql_dir, display_base, lineage, miss.data)
    payload = encode(result, lineage)
    if miss.key is not None:
        cache.put(miss.key, payload)
    return result, payload


def _analyse_batch(
    files: list[Path],
    sql_dir: Path,
    display_base: Path | None,
    lineage: bool,
    cache_root: Path | None,
) -> list[bytes]:
    """Analyse ``files`` in a worker process; the encoded results, in order.

    Encoded results travel back to the parent faster than pickled models, and
    are what the cache stores anyway.
    """
    cache = AnalysisCache(cache_root)
    payloads = []
    with bulk_gc():
        for source in files:
            data = source.read_bytes()
            key = _key(cache, source, data, sql_dir, display_base)
            miss = _Miss(0, source, data, key)
            payloads.append(_analyse(miss, sql_dir, display_base, lineage, cache)[1])
    return payloads


def _load_files(
    files: list[Path],
    sql_dir: Path,
    display_base: Path | None,
    lineage: bool,
    jobs: int | None,
    cache: AnalysisCache,
) -> list[LoadResult]:
    """Every file's result: from the cache, else analysed here or in worker processes."""
    with bulk_gc():
        results, misses = _from_cache(files, sql_dir, display_base, lineage, cache)
        workers = _workers(jobs, misses)
        if workers <= 1:
            for miss in misses:
                results[miss.index] = _analyse(miss, sql_dir, display_base, lineage, cache)[0]
    if workers > 1:
        batches = [misses[start::workers] for start in range(workers)]
        context = multiprocessing.get_context("fork")
        # Freeze before forking: a child's collector would otherwise touch every
        # inherited object and copy the parent's whole heap (seconds with Dagster loaded).
        with frozen(), ProcessPoolExecutor(workers, mp_context=context) as pool:
            encoded = list(
                pool.map(
                    _analyse_batch,
                    [[miss.source for miss in batch] for batch in batches],
                    repeat(sql_dir),
                    repeat(display_base),
                    repeat(lineage),
                    repeat(cache.root),
                )
            )
        with bulk_gc():
            for batch, payloads in zip(batches, encoded, strict=True):
                for miss, payload in zip(batch, payloads, strict=True):
                    decoded = decode(payload, lineage, miss.source)
                    if decoded is None:  # pragma: no cover - a worker's own payload always decodes
                        decoded = _analyse(miss, sql_dir, display_base, lineage, cache)[0]
                    results[miss.index] = decoded
    return [result for result in results if result is not None]


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
    parse files (default: one per idle core, up to 8, from 1.5 MB of SQL to parse);
    ``lineage`` traces output columns to source columns (Dagster needs it, lint does not).
    """
    root = Path(project_dir) if project_dir is not None else find_project_dir()
    if not root.is_dir():
        raise ConfigError(f"project directory {root} does not exist", Location(str(root)))
    config = load_config(root, display_base=display_base)
    if not config.sql_dir.is_dir():
        raise MissingSqlDirError(
            f"the SQL folder {display_path(config.sql_dir, display_base)} does not exist: create "
            "it (one subfolder per dataset, one .sql file per model) or set `sql_dir` in "
            "[tool.sqlassets]",
            Location(display_path(config.source or root, display_base)),
        )
    files = iter_model_files(config.sql_dir)
    diagnostics: list[Diagnostic] = list(config.diagnostics)
    models: list[Model] = []
    cache = AnalysisCache.for_project(config.root, config.cache_dir)
    for model, found in _load_files(files, config.sql_dir, display_base, lineage, jobs, cache):
        diagnostics.extend(found)
        if model is not None:
            models.append(model)
    models.sort(key=lambda model: model.path)
    graph = build_graph(models)
    diagnostics.extend(graph.diagnostics)
    diagnostics.sort(key=lambda d: (d.location, d.code))
    return Project(config=config, graph=graph, diagnostics=tuple(diagnostics), files=tuple(files))

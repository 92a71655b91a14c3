"""The dependency graph of a project's models.

Edges come from the tables each query reads plus ``@depends_on``. A read of a
table that is not a model (or of a wildcard table) is an external source.
Duplicate names, self references and cycles are located diagnostics; a graph
is still built from what remains so that every other problem is reported too.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Location
from sqlassets.loader import Model
from sqlassets.spec import Materialized, TableRef

# Incremental models may read their own table: it is created before the query runs.
_SELF_READ_ALLOWED = frozenset({Materialized.MERGE, Materialized.INSERT_OVERWRITE})


@dataclass(frozen=True)
class Graph:
    """Models by name, their upstream models and external sources, in run order."""

    models: dict[str, Model]
    upstream: dict[str, tuple[str, ...]]
    external: dict[str, tuple[TableRef, ...]]
    order: tuple[str, ...]
    """Topological order (ties by name); models on or downstream of a cycle are left out."""
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def downstream(self) -> dict[str, tuple[str, ...]]:
        """Models that read each model."""
        result: dict[str, list[str]] = {name: [] for name in self.models}
        for name, parents in self.upstream.items():
            for parent in parents:
                result[parent].append(name)
        return {name: tuple(sorted(children)) for name, children in result.items()}

    @property
    def sources(self) -> tuple[TableRef, ...]:
        """Every external source, once, sorted by name."""
        unique = {str(ref): ref for refs in self.external.values() for ref in refs}
        return tuple(unique[key] for key in sorted(unique))

    def ancestors(self, name: str) -> set[str]:
        """Every model upstream of ``name``."""
        return _reach(name, self.upstream)

    def descendants(self, name: str) -> set[str]:
        """Every model downstream of ``name``."""
        return _reach(name, self.downstream)


def _reach(start: str, edges: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


def build_graph(models: Iterable[Model]) -> Graph:
    """Build the graph of ``models``, reporting duplicates, self references and cycles."""
    groups = _by_name(models)
    unique = {group[0].name: group[0] for group in groups.values()}
    upstream, external, read_at = _edges(unique)
    cyclic, cycles = dependency_cycles(upstream, read_at, unique)
    return Graph(
        models=unique,
        upstream=upstream,
        external=external,
        order=_topological_order(upstream, cyclic),
        diagnostics=(
            *duplicate_names(groups),
            *dataset_spellings(unique.values()),
            *self_references(unique),
            *cycles,
        ),
    )


def _by_name(models: Iterable[Model]) -> dict[str, list[Model]]:
    """The models of each name ignoring case, names sorted and each name's models by path.

    DuckDB, always a possible target, ignores case in names: ``raw.Customers``
    and ``raw.customers`` are one table there.
    """
    by_name: dict[str, list[Model]] = {}
    for model in models:
        by_name.setdefault(model.name.lower(), []).append(model)
    return {name: sorted(group, key=lambda m: m.path) for name, group in sorted(by_name.items())}


def duplicate_names(groups: Mapping[str, Sequence[Model]]) -> Iterator[Diagnostic]:
    """SA402: each model whose name another file also defines, in any case (the first is kept)."""
    for group in groups.values():
        if len(group) < 2:
            continue
        for model in group:
            same = [
                other.path for other in group if other.name == model.name and other is not model
            ]
            cased = [other for other in group if other.name != model.name]
            parts = [f"model `{model.name}` is also defined by {', '.join(same)}"] if same else []
            parts += [
                f"`{model.name}` and `{other.name}` ({other.path}) are one table on DuckDB, "
                "which ignores case in names"
                for other in cased
            ]
            yield Diagnostic(
                Code.DUPLICATE_NAME,
                f"{'; '.join(parts)}: rename one file or set a different `@name`",
                model.spec.location_of("name"),
            )


def dataset_spellings(models: Iterable[Model]) -> Iterator[Diagnostic]:
    """SA402: each model whose dataset is spelled in another case than by most models.

    ``RAW`` and ``raw`` are one schema on DuckDB and two datasets on BigQuery,
    so one project would build different tables on each. The spelling most
    files use (the first by path on a tie) is kept; the others are reported.
    """
    by_dataset: dict[str, dict[str, list[Model]]] = {}
    for model in sorted(models, key=lambda m: m.path):
        dataset = model.spec.name.dataset
        by_dataset.setdefault(dataset.lower(), {}).setdefault(dataset, []).append(model)
    for spellings in by_dataset.values():
        if len(spellings) < 2:
            continue
        kept = max(spellings, key=lambda spelling: len(spellings[spelling]))
        example = spellings[kept][0].path
        for spelling, group in spellings.items():
            if spelling == kept:
                continue
            for model in group:
                yield Diagnostic(
                    Code.DUPLICATE_NAME,
                    f"dataset `{spelling}` is spelled `{kept}` by {example}: DuckDB ignores "
                    "case in names (one schema there, two datasets on BigQuery); spell it "
                    f"`{kept}` everywhere (rename the folder or fix `@name`)",
                    model.spec.location_of("name"),
                )


def _references(model: Model) -> list[tuple[TableRef, Location]]:
    """The tables a model reads or declares with ``@depends_on``, each where it is written."""
    refs = [(read.ref, read.location) for read in model.reads]
    refs += [(ref, model.spec.location_of("depends_on")) for ref in model.spec.depends_on]
    return refs


def _is_self(ref: TableRef, name: str) -> bool:
    return ref.name == name and not ref.is_wildcard


def self_references(models: Mapping[str, Model]) -> Iterator[Diagnostic]:
    """SA403: each read of its own table by a model that is not merge or insert_overwrite."""
    for name, model in models.items():
        if model.spec.materialized in _SELF_READ_ALLOWED:
            continue
        for ref, location in _references(model):
            if _is_self(ref, name):
                yield Diagnostic(
                    Code.SELF_REFERENCE,
                    f"`{name}` reads itself; only merge and insert_overwrite models may "
                    "read their own table",
                    location,
                )


_Edges = tuple[
    dict[str, tuple[str, ...]], dict[str, tuple[TableRef, ...]], dict[tuple[str, str], Location]
]


def _edges(models: Mapping[str, Model]) -> _Edges:
    """Upstream models and external sources of each model, and where each edge is read."""
    upstream: dict[str, tuple[str, ...]] = {}
    external: dict[str, tuple[TableRef, ...]] = {}
    read_at: dict[tuple[str, str], Location] = {}
    for name, model in models.items():
        parents: dict[str, None] = {}
        sources: dict[str, TableRef] = {}
        for ref, location in _references(model):
            if _is_self(ref, name):
                continue
            if ref.name in models and not ref.is_wildcard:
                parents.setdefault(ref.name)
                read_at.setdefault((name, ref.name), location)
            else:
                sources.setdefault(str(ref), ref)
        upstream[name] = tuple(sorted(parents))
        external[name] = tuple(sources[key] for key in sorted(sources))
    return upstream, external, read_at


def dependency_cycles(
    upstream: Mapping[str, tuple[str, ...]],
    read_at: Mapping[tuple[str, str], Location],
    models: Mapping[str, Model],
) -> tuple[set[str], list[Diagnostic]]:
    """SA401: the models on a cycle, and for each cycle one finding per read along it."""
    cyclic: set[str] = set()
    diagnostics: list[Diagnostic] = []
    for component in _strongly_connected(upstream):
        if len(component) < 2:
            continue
        cyclic.update(component)
        path = _cycle_path(component, upstream)
        text = " → ".join([*path, path[0]])
        for index, node in enumerate(path):
            parent = path[(index + 1) % len(path)]
            diagnostics.append(
                Diagnostic(
                    Code.CYCLE,
                    f"dependency cycle: {text} (each reads the next); break it by removing "
                    "one of these reads",
                    read_at.get((node, parent), models[node].spec.location_of("name")),
                )
            )
    return cyclic, diagnostics


def _topological_order(upstream: dict[str, tuple[str, ...]], skip: set[str]) -> tuple[str, ...]:
    remaining = {name: len(parents) for name, parents in upstream.items()}
    children: dict[str, list[str]] = {name: [] for name in upstream}
    for name, parents in upstream.items():
        for parent in parents:
            children[parent].append(name)
    ready = [name for name, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for child in children[name]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, child)
    return tuple(name for name in order if name not in skip)


def _strongly_connected(edges: Mapping[str, tuple[str, ...]]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative (deep graphs must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield sorted(component)


def _cycle_path(component: list[str], edges: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A shortest cycle through the first member of a strongly connected component."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in edges[node]:
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return list(reversed(path))
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return component  # pragma: no cover - a component of two or more always has a cycle

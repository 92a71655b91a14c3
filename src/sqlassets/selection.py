"""``--select`` and ``--exclude``: which models a command works on.

One selector is ``[N]+`` (upstream, N levels or all), a body, ``+[N]``
(downstream). The body is a model name or glob (``marts.orders``,
``marts.*``), a dataset (``marts``), or ``kind:value`` with kind ``tag``
(``tag:pii``, ``tag:tier=gold``), ``owner`` (``owner:team:crm``,
``owner:crm``), ``group``, ``path`` (``path:sql/marts/``, relative to the
project directory) or ``dataset``; values are globs. :func:`select` is pure:
the graph and the words in, the set of model names out.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlassets.errors import SelectionError, did_you_mean
from sqlassets.graph import Graph
from sqlassets.loader import Model

__all__ = ["KINDS", "Selector", "parse_selector", "select", "subgraph"]

_GRAMMAR = (
    "a selector is a model name or glob, a dataset, tag:k[=v], owner:o, group:g, path:p or "
    "dataset:d, with +/N+ before (upstream) or +/+N after (downstream), without spaces"
)
_DEPTH = re.compile(
    r"^(?:(?P<up_depth>\d*)(?P<up>\+))?(?P<body>.*?)(?:(?P<down>\+)(?P<down_depth>\d*))?$"
)


@dataclass(frozen=True)
class Selector:
    """One parsed selector."""

    text: str
    kind: str
    """``name`` (a name, glob or dataset) or one of :data:`KINDS`."""
    value: str
    upstream: int | None = 0
    """Levels of ancestors to add: 0 none, None all."""
    downstream: int | None = 0
    """Levels of descendants to add: 0 none, None all."""


def _tag(model: Model, value: str, root: Path | None) -> bool:
    key, has_value, wanted = value.partition("=")
    return any(
        fnmatch.fnmatchcase(tag_key, key) and (not has_value or fnmatch.fnmatchcase(tag, wanted))
        for tag_key, tag in model.spec.tags
    )


def _owner(model: Model, value: str, root: Path | None) -> bool:
    return any(
        fnmatch.fnmatchcase(owner, value) or fnmatch.fnmatchcase(owner, f"team:{value}")
        for owner in model.spec.owners
    )


def _group(model: Model, value: str, root: Path | None) -> bool:
    return fnmatch.fnmatchcase(model.spec.group_name, value)


def _dataset(model: Model, value: str, root: Path | None) -> bool:
    return fnmatch.fnmatchcase(model.spec.name.dataset or "", value)


def _path(model: Model, value: str, root: Path | None) -> bool:
    path = Path(model.spec.path)
    if root is not None and path.is_absolute():
        with contextlib.suppress(ValueError):  # a file outside the project: its own path
            path = path.relative_to(root)
    shown = PurePosixPath(path.as_posix())
    wanted = value.rstrip("/")
    if fnmatch.fnmatchcase(str(shown), wanted):
        return True
    # A folder selects every file under it: path:sql/marts, path:sql/marts/.
    return any(fnmatch.fnmatchcase(str(parent), wanted) for parent in shown.parents)


_Match = Callable[[Model, str, Path | None], bool]
KINDS: dict[str, _Match] = {
    "tag": _tag,
    "owner": _owner,
    "group": _group,
    "path": _path,
    "dataset": _dataset,
}
"""Selector kinds and how each matches a model."""


def parse_selector(text: str) -> Selector:
    """``text`` parsed; a malformed selector or an unknown kind is a :class:`SelectionError`."""
    _refuse_unprintable(text)
    match = _DEPTH.match(text)
    assert match is not None  # the pattern matches any text
    body = match["body"]
    if not body or body.startswith("+") or body.endswith("+"):
        raise SelectionError(f"`{text}`: {_GRAMMAR}")
    kind, colon, value = body.partition(":")
    if not colon:
        kind, value = "name", body
    elif kind not in KINDS:
        hint = did_you_mean(f"{kind}:", [f"{known}:" for known in KINDS])
        hint = hint or f"; the kinds are {_kinds()}"
        raise SelectionError(f"`{text}`: unknown selector kind `{kind}:`{hint}")
    elif not value:
        raise SelectionError(f"`{text}`: `{kind}:` needs a value, as in `{kind}:{_EXAMPLE[kind]}`")

    def depth(plus: str | None, digits: str | None) -> int | None:
        if not plus:
            return 0
        return int(digits) if digits else None

    return Selector(
        text,
        kind,
        value,
        upstream=depth(match["up"], match["up_depth"]),
        downstream=depth(match["down"], match["down_depth"]),
    )


_EXAMPLE = {
    "tag": "pii",
    "owner": "team:crm",
    "group": "finance",
    "path": "sql/marts/",
    "dataset": "marts",
}


def _kinds() -> str:
    return ", ".join(f"`{kind}:`" for kind in KINDS)


def select(
    graph: Graph,
    selectors: Sequence[str],
    exclude: Sequence[str] = (),
    root: Path | None = None,
) -> set[str]:
    """The models ``selectors`` name (every model when there are none), less ``exclude``'s.

    ``root`` is the project directory ``path:`` selectors are relative to. A
    selector that matches no model is an error (with the closest name), in
    ``exclude`` too: a mistyped exclusion would run what it meant to leave out.
    """
    parsed = [parse_selector(text) for text in selectors]
    left_out = [parse_selector(text) for text in exclude]
    chosen: set[str] = set(graph.models) if not parsed else set()
    for selector in parsed:
        chosen |= _matches(graph, selector, root)
    for selector in left_out:
        chosen -= _matches(graph, selector, root)
    if not chosen and (parsed or left_out) and graph.models:
        given = " ".join([*selectors, *(f"--exclude {text}" for text in exclude)])
        raise SelectionError(f"`{given}` leaves no model to work on")
    return chosen


def _matches(graph: Graph, selector: Selector, root: Path | None) -> set[str]:
    """The models ``selector`` names, with the ancestors and descendants it asks for."""
    models = graph.models
    if selector.kind == "name":
        found = {name for name in models if fnmatch.fnmatchcase(name, selector.value)}
        if not found:  # no model is called that: a dataset, as dbt's bare words select
            found = {name for name in models if _dataset(models[name], selector.value, root)}
    else:
        test = KINDS[selector.kind]
        found = {name for name, model in models.items() if test(model, selector.value, root)}
    if not found:
        raise SelectionError(f"`{selector.text}` selects no model{_hint(graph, selector)}")
    chosen = set(found)
    for name in found:
        if selector.upstream != 0:
            chosen |= _reach(name, graph.upstream, selector.upstream)
        if selector.downstream != 0:
            chosen |= _reach(name, graph.downstream, selector.downstream)
    return chosen


def _reach(start: str, edges: dict[str, tuple[str, ...]], depth: int | None) -> set[str]:
    """Models up to ``depth`` edges from ``start`` (every one when None)."""
    seen: set[str] = set()
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        frontier = [node for name in frontier for node in edges.get(name, ()) if node not in seen]
        seen.update(frontier)
    return seen


def _hint(graph: Graph, selector: Selector) -> str:
    """``; did you mean …`` from the values the selector's kind could have matched."""
    specs = [model.spec for model in graph.models.values()]
    options: Iterable[str]
    prefix = "" if selector.kind == "name" else f"{selector.kind}:"
    if selector.kind == "name":
        datasets = {spec.name.dataset or "" for spec in specs}
        options = [*graph.models, *sorted(datasets)]
    elif selector.kind == "tag":
        has_value = "=" in selector.value
        options = sorted(
            {f"{k}={v}" if has_value and v else k for spec in specs for k, v in spec.tags}
        )
    elif selector.kind == "owner":
        options = sorted({owner for spec in specs for owner in spec.owners})
    elif selector.kind == "group":
        options = sorted({spec.group_name for spec in specs})
    elif selector.kind == "dataset":
        options = sorted({spec.name.dataset or "" for spec in specs})
    else:
        options = []
    return did_you_mean(selector.value, options, prefix=prefix)


def subgraph(graph: Graph, names: set[str]) -> Graph:
    """``graph`` with only ``names``: edges among them, their external sources, same order."""
    return Graph(
        models={name: model for name, model in graph.models.items() if name in names},
        upstream={
            name: tuple(parent for parent in parents if parent in names)
            for name, parents in graph.upstream.items()
            if name in names
        },
        external={name: refs for name, refs in graph.external.items() if name in names},
        order=tuple(name for name in graph.order if name in names),
        diagnostics=graph.diagnostics,
    )


def _refuse_unprintable(selector: str) -> None:
    """A selector with whitespace or a control character (a pasted newline) is an error."""
    bad = next((char for char in selector if char.isspace() or not char.isprintable()), None)
    if bad is None and selector:
        return
    shown = repr(selector)[1:-1]
    shown = shown if len(shown) <= 64 else shown[:61] + "..."
    if bad is None:
        what = "is empty"
    else:
        what = "contains a space" if bad == " " else f"contains `{repr(bad)[1:-1]}`"
    raise SelectionError(
        f"`{shown}` {what}: {_GRAMMAR} (give several as --select a b, or --select a --select b)"
    )

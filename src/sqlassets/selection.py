"""``--select``: model names, globs, ``+name`` (with upstream), ``name+`` (with downstream)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from sqlassets.errors import SelectionError, did_you_mean
from sqlassets.graph import Graph


def select(graph: Graph, selectors: Sequence[str]) -> set[str]:
    """The models ``selectors`` name (every model when there are none)."""
    if not selectors:
        return set(graph.models)
    chosen: set[str] = set()
    for selector in selectors:
        _refuse_unprintable(selector)
        text = selector
        upstream, downstream = text.startswith("+"), text.endswith("+")
        pattern = text.strip("+")
        matched = {name for name in graph.models if fnmatch.fnmatchcase(name, pattern)}
        if not matched:
            hint = did_you_mean(pattern, graph.models)
            raise SelectionError(f"`{selector}` selects no model{hint}")
        for name in matched:
            chosen.add(name)
            if upstream:
                chosen |= graph.ancestors(name)
            if downstream:
                chosen |= graph.descendants(name)
    return chosen


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
        f"`{shown}` {what}: a selector is a model name, a glob, +name or name+, "
        "without spaces (give several as --select a --select b)"
    )

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
        text = selector.strip()
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

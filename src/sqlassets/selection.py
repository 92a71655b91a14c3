"""``--select``: model names, globs, ``+name`` (with upstream), ``name+`` (with downstream)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence

from sqlassets.errors import SqlAssetsError
from sqlassets.graph import Graph


class SelectionError(SqlAssetsError):
    """A selector that matches no model."""

    code = "SA503"


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
            close = difflib.get_close_matches(pattern, list(graph.models), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise SelectionError(f"`{selector}` selects no model{hint}")
        for name in matched:
            chosen.add(name)
            if upstream:
                chosen |= graph.ancestors(name)
            if downstream:
                chosen |= graph.descendants(name)
    return chosen

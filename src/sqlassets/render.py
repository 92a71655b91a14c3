"""``sqlassets graph`` output: the dependency graph as text, Mermaid or Graphviz dot."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable

from sqlassets.graph import Graph
from sqlassets.spec import ModelSpec


class GraphFormat(enum.StrEnum):
    """How the graph is printed."""

    TEXT = "text"
    MERMAID = "mermaid"
    DOT = "dot"


def _describe(spec: ModelSpec) -> str:
    parts = [spec.materialized.value]
    if spec.time_partitions is not None:
        parts.append(spec.time_partitions.cadence.value)
    elif spec.static_partitions is not None:
        parts.append(f"{len(spec.static_partitions.keys)} keys")
    if spec.schedule:
        parts.append(f"schedule {spec.schedule}")
    return ", ".join(parts)


def format_text(graph: Graph) -> str:
    """One line per model in run order: name, how it is built, what it reads."""
    width = max((len(name) for name in graph.order), default=0)
    lines = []
    for name in graph.order:
        model = graph.models[name]
        reads = [*graph.upstream[name], *(f"{ref} (external)" for ref in graph.external[name])]
        arrow = f"  <- {', '.join(reads)}" if reads else ""
        lines.append(f"{name:<{width}}  [{_describe(model.spec)}]{arrow}")
    sources = graph.sources
    if sources:
        lines.append("")
        lines.append("external sources: " + ", ".join(str(ref) for ref in sources))
    lines.append("")
    lines.append(f"{len(graph.order)} models, {len(sources)} external sources")
    return "\n".join(lines) + "\n"


def format_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart; external sources drawn as cylinders."""
    ids: dict[str, str] = {}
    lines = ["flowchart LR"]
    for index, name in enumerate(graph.order):
        ids[name] = f"m{index}"
        label = f"{name}<br/>{_describe(graph.models[name].spec)}"
        lines.append(f"  m{index}[{json.dumps(label)}]")
    for index, ref in enumerate(graph.sources):
        ids[str(ref)] = f"s{index}"
        lines.append(f"  s{index}[({json.dumps(str(ref))})]")
    for name in graph.order:
        for parent in graph.upstream[name]:
            if parent in ids:
                lines.append(f"  {ids[parent]} --> {ids[name]}")
        for ref in graph.external[name]:
            lines.append(f"  {ids[str(ref)]} -.-> {ids[name]}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_dot(graph: Graph) -> str:
    """A Graphviz digraph; external sources dashed."""
    lines = ["digraph sqlassets {", "  rankdir=LR;", "  node [shape=box];"]
    for name in graph.order:
        # Join two quoted strings with dot's `\n` line break, not an escaped backslash.
        label = _dot_quote(name)[:-1] + "\\n" + _dot_quote(_describe(graph.models[name].spec))[1:]
        lines.append(f"  {_dot_quote(name)} [label={label}];")
    for ref in graph.sources:
        lines.append(f"  {_dot_quote(str(ref))} [shape=cylinder, style=dashed];")
    for name in graph.order:
        for parent in graph.upstream[name]:
            lines.append(f"  {_dot_quote(parent)} -> {_dot_quote(name)};")
        for ref in graph.external[name]:
            lines.append(f"  {_dot_quote(str(ref))} -> {_dot_quote(name)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


GRAPH_FORMATTERS: dict[GraphFormat, Callable[[Graph], str]] = {
    GraphFormat.TEXT: format_text,
    GraphFormat.MERMAID: format_mermaid,
    GraphFormat.DOT: format_dot,
}

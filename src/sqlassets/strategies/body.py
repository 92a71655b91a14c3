"""A model's body as trees: its query and temp functions, with models' physical names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import expressions as exp

from sqlassets.dialect import DIALECT, side_effect, side_effect_keyword
from sqlassets.errors import StrategyError


def rewrite_references(tree: exp.Expression, models: Mapping[str, exp.Table]) -> exp.Expression:
    """A copy of ``tree`` whose references to models name their physical tables.

    ``models`` maps ``dataset.table`` to the physical table; other tables (external
    sources) are left as written. Aliases are kept.
    """

    def replace(node: exp.Expression) -> exp.Expression:
        if (
            not isinstance(node, exp.Table)
            or not node.db
            or not isinstance(node.this, exp.Identifier)
        ):
            return node
        physical = models.get(f"{node.db}.{node.name}")
        if physical is None:
            return node
        replacement = physical.copy()
        for key in ("alias", "joins", "laterals", "pivots", "version", "sample", "hints"):
            if node.args.get(key) is not None:
                replacement.set(key, node.args[key])
        return replacement

    return tree.copy().transform(replace, copy=False)


_POSITION_KEYS = frozenset(("line", "col", "start", "end"))


def parse_body(sql: str) -> tuple[list[exp.Expression], exp.Expression]:
    """A model body as (temp-function statements, the query), without source positions."""
    statements = [
        tree for tree in sqlglot.parse(sql, read=DIALECT) if isinstance(tree, exp.Expression)
    ]
    refuse_side_effects(statements, "the model body")
    last: exp.Expr | None = statements[-1] if statements else None
    if not isinstance(last, exp.Query):
        raise StrategyError("the model body does not end with a query")
    for statement in statements:
        _drop_positions(statement)
    return statements[:-1], statements[-1]


def refuse_side_effects(statements: Sequence[exp.Expr], what: str) -> None:
    """Raise unless ``statements`` are pure (lint refuses them first; files change after)."""
    found = side_effect(statements)
    if found is not None:
        raise StrategyError(
            f"`{side_effect_keyword(found[1])}` inside {what}: it must be a pure query; "
            "nothing was sent"
        )


def _drop_positions(tree: exp.Expression) -> None:
    """Forget token positions: diagnostics are made at load time, not when building jobs.

    sqlglot deep-copies each node's ``meta`` dict with ``copy.deepcopy``; for the
    positions the parser records on every identifier that is most of the cost of
    copying a tree (4x here), and jobs copy trees at every rewrite.
    """
    for node in tree.walk():
        meta = node._meta
        if meta is not None and meta.keys() <= _POSITION_KEYS:
            node._meta = None

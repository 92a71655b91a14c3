"""Boolean SQL written in a header: ``@check: expression(…)`` and ``@merge_filter``.

Both are one BigQuery expression that reads and never writes, nested no
deeper than :data:`MAX_NESTING`. A merge filter is also a condition on the
target table alone: bare columns (or ``_t.col``, :data:`TARGET_ALIAS`) and the
window parameters, so BigQuery can prune the target's partitions with it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import sqlglot
from sqlglot import expressions as exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from sqlassets.dialect import DIALECT, side_effect, side_effect_keyword
from sqlassets.errors import did_you_mean
from sqlassets.parameters import PARAMETERS
from sqlassets.values import InvalidValue

TARGET_ALIAS = "_t"
"""The alias of a model's own table in the statements sqlassets sends (merges, checks)."""

MAX_NESTING = 100
"""How deep parentheses, brackets and ``CASE … END`` may nest in a query or a check.

sqlglot parses, and writes each engine's SQL, by recursion: a query nested
much deeper fails with Python's ``RecursionError`` (parentheses near 500
levels, arrays near 200 when written for DuckDB). No hand-written query comes
close to this limit; a generated one can be flattened with CTEs.
"""
NESTED_TOO_DEEPLY = (
    f"nested too deeply: more than {MAX_NESTING} levels of parentheses, brackets or CASE; "
    "flatten the expression, for example with CTEs (`WITH step AS (…)`)"
)
"""The message for SQL nested deeper than :data:`MAX_NESTING`."""
_OPENS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.CASE})
_CLOSES = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.END})


def too_deep(stream: Iterable[Token]) -> Token | None:
    """The first token that opens a level deeper than :data:`MAX_NESTING`, or None."""
    depth = 0
    for token in stream:
        if token.token_type in _OPENS:
            depth += 1
            if depth > MAX_NESTING:
                return token
        elif token.token_type in _CLOSES and depth:
            depth -= 1
    return None


def nested_too_deeply(text: str) -> bool:
    """Whether ``text`` nests deeper than :data:`MAX_NESTING` (raises if it cannot be tokenized)."""
    return too_deep(sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)) is not None


@functools.lru_cache(maxsize=4096)
def boolean_sql_problem(text: str, reader: str = "a check") -> str | None:
    """Why ``text`` is not one boolean expression, or None. Cached: checks repeat across files.

    ``reader`` names what the expression is for, in the message about writes.
    """
    try:
        if nested_too_deeply(text):
            return f"the expression is {NESTED_TOO_DEEPLY}"
        statements = sqlglot.parse(text, read=DIALECT)
    except SqlglotError as error:
        return f"the expression does not parse: {_first_line(error)}"
    except RecursionError:
        return f"the expression is {NESTED_TOO_DEEPLY}"
    if len(statements) != 1 or statements[0] is None:
        return "the expression must be one boolean SQL expression"
    if isinstance(statements[0], exp.Query | exp.DDL | exp.DML | exp.Command):
        return "the expression must be a boolean condition, not a statement"
    found = side_effect([statements[0]])
    if found is not None:
        keyword = side_effect_keyword(found[1])
        return f"`{keyword}` inside the expression: {reader} reads, never writes"
    return None


def parse_merge_filter(value: str) -> str:
    """``@merge_filter``: a boolean condition on the target's columns and window parameters.

    Returns the condition as written; raises :class:`~sqlassets.values.InvalidValue`
    located inside ``value`` for anything else: a statement, a subquery, a column
    of another table (``_s.id``), an aggregate or an unknown ``@parameter``.
    """
    text = value.strip()
    lead = len(value) - len(value.lstrip())
    problem = boolean_sql_problem(text, "a merge filter")
    if problem:
        raise InvalidValue(problem)
    tree = sqlglot.parse_one(text, read=DIALECT)
    for node in tree.walk():
        at = lead + _offset(node, text)
        if isinstance(node, exp.Query | exp.Subquery):
            raise InvalidValue(
                "a merge filter is a condition on the target's own columns: no subqueries", at
            )
        if isinstance(node, exp.AggFunc | exp.Window):
            raise InvalidValue(
                f"`{node.sql(DIALECT)}` aggregates rows: a merge filter is a condition on "
                "each target row",
                at,
            )
        if (
            isinstance(node, exp.Column)
            and len(node.parts) > 1
            and node.parts[0].name != TARGET_ALIAS
        ):
            raise InvalidValue(
                f"`{node.sql(DIALECT)}` is not a column of the target: a merge filter reads "
                f"the target's columns, bare (`{node.name}`) or as `{TARGET_ALIAS}.{node.name}`",
                at,
            )
        if isinstance(node, exp.Parameter) and node.name not in PARAMETERS:
            hint = did_you_mean(node.name, sorted(PARAMETERS), prefix="@")
            raise InvalidValue(
                f"`@{node.name}` is never bound: a merge filter may read "
                f"{', '.join('@' + p for p in sorted(PARAMETERS))}{hint}",
                at,
            )
    return text


def merge_filter_parameters(text: str) -> frozenset[str]:
    """The ``@parameters`` a valid merge filter reads."""
    tree = sqlglot.parse_one(text, read=DIALECT)
    return frozenset(node.name for node in tree.find_all(exp.Parameter))


def merge_filter_columns(text: str) -> tuple[str, ...]:
    """The target columns a valid merge filter reads, in order, each once."""
    tree = sqlglot.parse_one(text, read=DIALECT)
    columns = (
        column.parts[1 if column.parts[0].name == TARGET_ALIAS and len(column.parts) > 1 else 0]
        for column in tree.find_all(exp.Column)
    )
    return tuple(dict.fromkeys(identifier.name for identifier in columns))


def _offset(node: exp.Expr, text: str) -> int:
    """Where ``node`` starts in ``text``, the condition it was parsed from (0 when unknown)."""
    if isinstance(node, exp.Parameter):  # sqlglot records no position for parameters
        return max(0, text.lower().find(f"@{node.name.lower()}"))
    starts = [start for sub in node.walk() if isinstance(start := sub.meta.get("start"), int)]
    first = min(starts, default=0)
    if isinstance(node, exp.Query | exp.Subquery):  # at its SELECT, before the first column
        return max(0, text.upper().rfind("SELECT", 0, first + 1))
    return first


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__

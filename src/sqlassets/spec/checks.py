"""The ``@check`` language: ``[warn] kind(args)`` to a :data:`CheckSpec`.

The kinds are ``not_null(c, …)``, ``unique(c, …)``,
``accepted_values(c, [literal, …])``, ``row_count(min=N, max=N)`` and
``expression(<boolean SQL>)``. A ``warn`` prefix makes a check non-blocking.
Each check gets a name from its kind and columns (an expression check: from
its SQL, ``expression_amount_gte_0``), numbered when it repeats.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import expressions as exp
from sqlglot.errors import SqlglotError

from sqlassets.dialect import DIALECT
from sqlassets.errors import Location, did_you_mean
from sqlassets.spec.conditions import (
    MAX_NESTING,
    NESTED_TOO_DEEPLY,
    boolean_sql_problem,
    nested_too_deeply,
    too_deep,
)
from sqlassets.spec.directives import parse_columns, parse_identifier, split_list
from sqlassets.spec.types import (
    CHECK_KINDS,
    AcceptedValuesCheck,
    CheckSpec,
    ExpressionCheck,
    NotNullCheck,
    RowCountCheck,
    UniqueCheck,
)
from sqlassets.values import InvalidValue

_CHECK = re.compile(
    r"(?P<warn>warn\s+)?(?P<kind>[A-Za-z_]+)\s*\((?P<args>.*)\)", re.IGNORECASE | re.DOTALL
)
_BOUND = re.compile(r"(min|max)\s*=\s*(\d+)")

# Each kind's arguments: (kind, the text between the parentheses, its offset in
# the value, the fields every check has, the names given so far) to a check.
_KindParser = Callable[[str, str, int, dict[str, Any], dict[str, int]], CheckSpec]


def parse_check(value: str, location: Location, names: dict[str, int]) -> CheckSpec:
    """Parse one ``@check`` value written at ``location``.

    ``names`` counts the names given so far in the file, so that a repeated
    check is numbered (``unique_id``, ``unique_id_2``). Raises
    :class:`~sqlassets.values.InvalidValue` located inside ``value``.
    """
    match = _CHECK.fullmatch(value.strip())
    if match is None:
        raise InvalidValue(
            f"`{value}` is not a check: write `name(args)`, one of {', '.join(CHECK_KINDS)}, "
            "optionally prefixed `warn`"
        )
    kind = match.group("kind").lower()
    parser = _KINDS.get(kind)
    if parser is None:
        raise InvalidValue(
            f"unknown check `{kind}`: use one of {', '.join(CHECK_KINDS)}"
            f"{did_you_mean(kind, CHECK_KINDS)}",
            match.start("kind"),
        )
    common: dict[str, Any] = {"blocking": not match.group("warn"), "location": location}
    return parser(kind, match.group("args"), match.start("args"), common, names)


def _columns_check(
    kind: str, args: str, at: int, common: dict[str, Any], names: dict[str, int]
) -> CheckSpec:
    try:
        columns = parse_columns(args)
    except InvalidValue as error:
        raise InvalidValue(error.message, at + error.offset) from None
    cls = NotNullCheck if kind == "not_null" else UniqueCheck
    return cls(name=_check_name(kind, columns, names), columns=columns, **common)


def _accepted_values(
    kind: str, args: str, at: int, common: dict[str, Any], names: dict[str, int]
) -> CheckSpec:
    items = split_list(args)
    if len(items) != 2 or not items[1][0].startswith("["):
        raise InvalidValue(
            "accepted_values takes a column and a list: `accepted_values(c, ['a'])`", at
        )
    (column, column_at), (array_text, array_at) = items
    try:
        column = parse_identifier(column)
    except InvalidValue as error:
        raise InvalidValue(error.message, at + column_at) from None
    values = _literal_list(array_text)
    if isinstance(values, str):
        raise InvalidValue(values, at + array_at)
    return AcceptedValuesCheck(
        name=_check_name(kind, (column,), names), column=column, values=values, **common
    )


def _row_count(
    kind: str, args: str, at: int, common: dict[str, Any], names: dict[str, int]
) -> CheckSpec:
    bounds: dict[str, int] = {}
    for item, offset in split_list(args):
        bound = _BOUND.fullmatch(item)
        if bound is None or bound.group(1) in bounds:
            raise InvalidValue(
                f"`{item}` is not `min=N` or `max=N` (each at most once)", at + offset
            )
        bounds[bound.group(1)] = int(bound.group(2))
    if bounds.get("min", 0) > bounds.get("max", 2**63):
        raise InvalidValue("row_count min is greater than max", at)
    return RowCountCheck(name=_check_name(kind, (), names), **bounds, **common)


def _expression(
    kind: str, args: str, at: int, common: dict[str, Any], names: dict[str, int]
) -> CheckSpec:
    name = _check_name(kind, (expression_slug(args.strip()),), names)
    problem = boolean_sql_problem(args.strip())
    if problem:
        raise InvalidValue(problem, at)
    return ExpressionCheck(name=name, sql=args.strip(), **common)


_KINDS: dict[str, _KindParser] = {
    "not_null": _columns_check,
    "unique": _columns_check,
    "accepted_values": _accepted_values,
    "row_count": _row_count,
    "expression": _expression,
}


@functools.lru_cache(maxsize=4096)
def _literal_list(text: str) -> tuple[str | int | float | bool, ...] | str:
    """The literals of ``[a, b, …]``, or why it is not such a list. Cached like checks."""
    try:
        array = None if nested_too_deeply(text) else sqlglot.parse_one(text, read=DIALECT)
    except (SqlglotError, RecursionError):
        array = None
    if not isinstance(array, exp.Array) or not array.expressions:
        return "the accepted values must be a non-empty list of literals"
    values: list[str | int | float | bool] = []
    for element in array.expressions:
        if isinstance(element, exp.Boolean):
            values.append(bool(element.this))
        elif isinstance(element, exp.Literal):
            value = element.this if element.is_string else element.to_py()
            if not isinstance(value, str | int | float | bool):
                value = float(value)  # a decimal literal (Decimal), as the spec stores it
            values.append(value)
        else:
            return (
                f"`{element.sql(DIALECT)}` is not a literal: accepted values are strings, "
                "numbers or booleans"
            )
    return tuple(values)


_OPERATOR_WORDS = {
    ">=": "gte",
    "<=": "lte",
    "<>": "ne",
    "!=": "ne",
    "=": "eq",
    ">": "gt",
    "<": "lt",
    "+": "plus",
    "-": "minus",
    "*": "times",
    "/": "div",
}
_SLUG_PART = re.compile(r">=|<=|<>|!=|[=<>+\-*/]|[a-z0-9]+", re.ASCII)
_SLUG_MAX = 40


def expression_slug(sql: str) -> str:
    """A name for a check's SQL in Dagster: ``amount >= 0`` → ``amount_gte_0``.

    Words and numbers are kept, comparison and arithmetic operators spelt out;
    a slug longer than 40 characters is cut and ends with a hash of the SQL, so
    two long expressions still get different names.
    """
    words = [_OPERATOR_WORDS.get(part, part) for part in _SLUG_PART.findall(sql.lower())]
    slug = "_".join(words)
    if slug and len(slug) <= _SLUG_MAX:
        return slug
    digest = hashlib.sha256(sql.encode()).hexdigest()[:6]
    return "_".join(filter(None, [slug[: _SLUG_MAX - 7].rstrip("_"), digest]))


def describe_check(check: CheckSpec) -> str:
    """What ``check`` asserts, in a sentence (the check's description in Dagster)."""
    if isinstance(check, NotNullCheck):
        said = f"No NULL in {_names(check.columns)}."
    elif isinstance(check, UniqueCheck):
        said = f"No two rows share {_names(check.columns)}."
    elif isinstance(check, AcceptedValuesCheck):
        values = ", ".join(repr(value) for value in check.values)
        said = f"`{check.column}` is NULL or one of {values}."
    elif isinstance(check, RowCountCheck):
        if check.min is not None and check.max is not None:
            said = f"Between {check.min} and {check.max} rows."
        elif check.min is not None:
            said = f"At least {check.min} rows."
        elif check.max is not None:
            said = f"At most {check.max} rows."
        else:
            said = "Any number of rows (no bound given)."
    else:
        said = f"`{check.sql}` holds on every row."
    if not check.blocking:
        said += " A warning: failing it does not block downstream models."
    return said


def _names(columns: tuple[str, ...]) -> str:
    return ", ".join(f"`{column}`" for column in columns)


def _check_name(kind: str, columns: tuple[str, ...], names: dict[str, int]) -> str:
    base = "_".join((kind, *columns)).lower()
    names[base] = names.get(base, 0) + 1
    return base if names[base] == 1 else f"{base}_{names[base]}"


__all__ = [
    # Defined in conditions.py; still importable from here, where they used to live.
    "MAX_NESTING",
    "NESTED_TOO_DEEPLY",
    "describe_check",
    "expression_slug",
    "parse_check",
    "too_deep",
]

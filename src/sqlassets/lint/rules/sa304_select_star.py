"""``SELECT *`` in the final projection (warning).

The table's columns then change whenever an upstream table changes, silently
breaking consumers and incremental models; sqlassets also cannot check the
partition and key columns. ``* EXCEPT (…)`` and ``t.*`` count too.

Anti-pattern::

    SELECT * FROM staging.orders

Fix: list the columns.
"""

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Location, Severity
from sqlassets.lint.rule import Rule, per_model
from sqlassets.loader import Model, token_location, tokens

_BEFORE_STAR = frozenset({"SELECT", "DISTINCT", "ALL", ",", "."})


def check_model(model: Model) -> Iterator[Diagnostic]:
    """A star in the final projection."""
    assert model.analysis is not None
    if not model.analysis.has_star:
        return
    yield Diagnostic(
        Code.SELECT_STAR,
        "`*` in the final SELECT: list the columns so the table's schema is explicit",
        _star_location(model),
    )


def _star_location(model: Model) -> Location:
    depth = 0
    previous = ""
    for token in tokens(model.sql):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif token.text == "*" and depth == 0 and previous.upper() in _BEFORE_STAR:
            return token_location(token, model.path, model.body_line)
        previous = token.text
    return Location(model.path, model.body_line, 1)


RULE = Rule(Code.SELECT_STAR, __doc__, per_model(check_model), Severity.WARNING)

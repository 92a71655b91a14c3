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
from sqlassets.loader import Model


def check_model(model: Model) -> Iterator[Diagnostic]:
    """A star in the final projection."""
    assert model.analysis is not None
    if not model.analysis.has_star:
        return
    yield Diagnostic(
        Code.SELECT_STAR,
        "`*` in the final SELECT: list the columns so the table's schema is explicit",
        model.analysis.star_location or Location(model.path, model.body_line, 1),
    )


RULE = Rule(Code.SELECT_STAR, __doc__, per_model(check_model), Severity.WARNING)

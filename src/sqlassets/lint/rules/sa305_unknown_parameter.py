"""A query parameter sqlassets never binds.

Only ``@start_date``, ``@end_date``, ``@start_ts``, ``@end_ts`` and
``@partition_key`` are bound; any other ``@name`` fails on BigQuery with an
undeclared parameter. (``@@system_variables`` are fine.)

Anti-pattern::

    WHERE order_date >= @run_date

Fix::

    WHERE order_date >= @start_date AND order_date < @end_date

The finding suggests a bound name only when it is close to the one written
(a typo such as ``@start_dt``), not for a different idea (``@run_date``).
"""

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, did_you_mean
from sqlassets.lint.rule import Rule, first_parameter_uses, per_model
from sqlassets.loader import Model
from sqlassets.parameters import PARAMETERS

CLOSE = 0.8
"""How close a name must be to be suggested: `@start_dt` gets `@start_date`, `@run_date` nothing."""


def check_model(model: Model) -> Iterator[Diagnostic]:
    """Parameters outside the ones sqlassets binds."""
    assert model.analysis is not None
    unknown = model.analysis.parameters - PARAMETERS
    if not unknown:
        return
    for name, location in first_parameter_uses(model, unknown):
        hint = did_you_mean(name, sorted(PARAMETERS), cutoff=CLOSE, prefix="@")
        yield Diagnostic(
            Code.UNKNOWN_PARAMETER,
            f"query parameter `@{name}` is never bound: sqlassets binds "
            f"{', '.join('@' + p for p in sorted(PARAMETERS))}{hint}",
            location,
        )


RULE = Rule(Code.UNKNOWN_PARAMETER, __doc__, per_model(check_model))

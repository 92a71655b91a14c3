"""A partition parameter the model's partitioning does not provide.

``@start_date``, ``@end_date``, ``@start_ts`` and ``@end_ts`` exist only for
time partitions and ``@partition_key`` only for static partitions; in any
other model the query would fail with an unbound parameter.

Anti-pattern::

    -- @materialized: table
    SELECT * FROM raw.orders WHERE order_date >= @start_date

Fix: partition the model (``@partitions``, ``@start``) or drop the filter.
"""

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule, parameter_tokens, per_model
from sqlassets.loader import Model
from sqlassets.spec import KEY_PARAMETER, PARAMETERS, WINDOW_PARAMETERS


def check_model(model: Model) -> Iterator[Diagnostic]:
    """Parameters the model's partitioning does not bind."""
    assert model.analysis is not None
    spec = model.spec
    if spec.time_partitions is not None:
        available, kind = WINDOW_PARAMETERS, "time-partitioned"
    elif spec.static_partitions is not None:
        available, kind = frozenset({KEY_PARAMETER}), "static-partitioned"
    else:
        available, kind = frozenset(), "unpartitioned"
    unavailable = (model.analysis.parameters & PARAMETERS) - available
    if not unavailable:
        return
    reported: set[str] = set()
    for name, location in parameter_tokens(model):
        if name in unavailable and name not in reported:
            reported.add(name)
            hint = (
                "partition the model with @partitions to get it"
                if kind == "unpartitioned"
                else f"a {kind} model gets only " + ", ".join(f"`@{p}`" for p in sorted(available))
            )
            yield Diagnostic(
                Code.WINDOW_PARAMETER_UNPARTITIONED,
                f"`@{name}` is not bound in {'an' if kind[0] in 'aeiou' else 'a'} {kind} model: "
                f"{hint}",
                location,
            )


RULE = Rule(
    Code.WINDOW_PARAMETER_UNPARTITIONED,
    "window-parameter-unpartitioned",
    __doc__,
    per_model(check_model),
)

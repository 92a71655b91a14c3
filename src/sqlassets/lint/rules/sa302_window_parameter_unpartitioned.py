"""A partition parameter the model's partitioning does not provide.

``@start_date``, ``@end_date``, ``@start_ts`` and ``@end_ts`` exist only for
time partitions and ``@partition_key`` only for static partitions; in any
other model the query (or the merge, for one in ``@merge_filter``) would fail
with an unbound parameter.

Anti-pattern::

    -- @materialized: table
    SELECT * FROM raw.orders WHERE order_date >= @start_date

Fix: partition the model (``@partitions``, ``@start``) or drop the filter.
"""

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule, first_parameter_uses, per_model
from sqlassets.loader import Model
from sqlassets.parameters import KEY_PARAMETER, PARAMETERS, WINDOW_PARAMETERS
from sqlassets.spec import MergeMaterialization, merge_filter_parameters


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
    hint = (
        "partition the model with @partitions to get it"
        if kind == "unpartitioned"
        else f"a {kind} model gets only " + ", ".join(f"`@{p}`" for p in sorted(available))
    )
    article = "an" if kind[0] in "aeiou" else "a"
    unavailable = (model.analysis.parameters & PARAMETERS) - available
    for name, location in first_parameter_uses(model, unavailable):
        yield Diagnostic(
            Code.WINDOW_PARAMETER_UNPARTITIONED,
            f"`@{name}` is not bound in {article} {kind} model: {hint}",
            location,
        )
    materialization = spec.materialization
    if isinstance(materialization, MergeMaterialization) and materialization.merge_filter:
        for name in sorted(merge_filter_parameters(materialization.merge_filter) - available):
            yield Diagnostic(
                Code.WINDOW_PARAMETER_UNPARTITIONED,
                f"@merge_filter reads `@{name}`, which is not bound in {article} {kind} "
                f"model: {hint}",
                spec.location_of("merge_filter"),
            )


RULE = Rule(Code.WINDOW_PARAMETER_UNPARTITIONED, __doc__, per_model(check_model))

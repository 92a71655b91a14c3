"""A partitioned model that does not read its window.

A time-partitioned model must filter its input to the run's half-open window
with a start parameter (``@start_date`` or ``@start_ts``) and an end
parameter (``@end_date`` or ``@end_ts``); a model with static partitions must
read ``@partition_key``. Otherwise every partition recomputes everything, and
insert_overwrite refuses rows outside the window at run time. A partitioned
``load`` must put ``{start_date}`` or ``{partition_key}`` in its URIs.

Anti-pattern::

    -- @partitions: daily
    SELECT order_date, SUM(amount) AS revenue FROM raw.orders GROUP BY 1

Fix::

    SELECT order_date, SUM(amount) AS revenue FROM raw.orders
    WHERE order_date >= @start_date AND order_date < @end_date
    GROUP BY 1

A run covers a range of partitions when a backfill or ``sqlassets run
--start … --end …`` spans several, so the query needs both bounds to read
exactly ``[start, end)``. Under ``@backfill: max_partitions=1`` every run is
one partition, whose start (or end) identifies it: ``WHERE d = @start_date``
reads the whole window, so one bound is enough.
"""

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic
from sqlassets.lint.rule import Rule
from sqlassets.parameters import (
    END_DATE,
    END_TS,
    KEY_PARAMETER,
    START_DATE,
    START_TS,
    WINDOW_PARAMETERS,
)
from sqlassets.project import Project
from sqlassets.spec import LoadMaterialization


def check(project: Project) -> Iterator[Diagnostic]:
    """Partitioned models that do not read their window parameters."""
    for model in project.models.values():
        spec = model.spec
        if spec.partitions is None:
            continue
        location = spec.location_of("partitions")
        if isinstance(spec.materialization, LoadMaterialization):
            if not any(uri.placeholders for uri in spec.materialization.uris):
                yield Diagnostic(
                    Code.WINDOW_NOT_READ,
                    "a partitioned load must choose its files by partition: put `{start_date}` "
                    "or `{partition_key}` in @uris",
                    spec.location_of("uris"),
                )
            continue
        used = model.analysis.parameters if model.analysis else frozenset()
        if spec.static_partitions is not None:
            if KEY_PARAMETER not in used:
                yield Diagnostic(
                    Code.WINDOW_NOT_READ,
                    "the model has static partitions but never reads `@partition_key`: filter "
                    "the query to the run's key",
                    location,
                )
            continue
        if spec.backfill.max_partitions == 1 and used & WINDOW_PARAMETERS:
            continue  # one partition per run: either bound names the whole window
        missing = [
            label
            for label, names in (
                ("a start (`@start_date` or `@start_ts`)", {START_DATE, START_TS}),
                ("an end (`@end_date` or `@end_ts`)", {END_DATE, END_TS}),
            )
            if not names & used
        ]
        if missing:
            yield Diagnostic(
                Code.WINDOW_NOT_READ,
                f"the model is partitioned but its query never reads {' or '.join(missing)} "
                "of the run's window: a run can cover several partitions (a backfill of a "
                "range), so filter the input to `[start, end)` with both bounds, or set "
                "`@backfill: max_partitions=1` to run one partition at a time",
                location,
            )


RULE = Rule(Code.WINDOW_NOT_READ, __doc__, check)

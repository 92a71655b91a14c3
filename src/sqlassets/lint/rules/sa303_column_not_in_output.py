"""A column named in the header is missing from the query's output.

The partition column, cluster columns, unique key, the columns checks name
and those ``@merge_filter`` reads must all be columns of the final
``SELECT``; BigQuery would reject the table, or the merge and checks would
fail at run time. (Skipped when the
final projection uses ``*``: the columns are not known without a schema.)

Anti-pattern::

    -- @partition_by: order_date
    SELECT DATE(created_at) AS day, SUM(amount) AS revenue FROM ...

Fix: alias the column as the header names it (``AS order_date``), or change
the directive.
"""

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Location
from sqlassets.lint.rule import Rule, per_model
from sqlassets.loader import Model
from sqlassets.spec import MergeMaterialization, check_columns, merge_filter_columns


def check_model(model: Model) -> Iterator[Diagnostic]:
    """Header columns absent from the final projection."""
    assert model.analysis is not None
    output = model.analysis.output_columns
    if output is None:
        return
    present = {column.lower() for column in output}
    spec = model.spec
    named: list[tuple[str, str, Location]] = []
    if spec.partition_by is not None:
        named.append(
            (spec.partition_by.column, "partition column", spec.location_of("partition_by"))
        )
    named += [(c, "cluster column", spec.location_of("cluster_by")) for c in spec.cluster_by]
    if isinstance(spec.materialization, MergeMaterialization):
        location = spec.location_of("unique_key")
        named += [(c, "unique key column", location) for c in spec.materialization.unique_key]
        if spec.materialization.merge_filter:
            location = spec.location_of("merge_filter")
            named += [
                (c, "@merge_filter column", location)
                for c in merge_filter_columns(spec.materialization.merge_filter)
            ]
    for check in spec.checks:
        named += [
            (c, f"column of check `{check.name}`", check.location) for c in check_columns(check)
        ]
    shown = ", ".join(output[:12]) + (", …" if len(output) > 12 else "")
    for column, role, location in named:
        if column.lower() not in present:
            yield Diagnostic(
                Code.COLUMN_NOT_IN_OUTPUT,
                f"{role} `{column}` is not in the query's output ({shown})",
                location,
            )


RULE = Rule(Code.COLUMN_NOT_IN_OUTPUT, __doc__, per_model(check_model))

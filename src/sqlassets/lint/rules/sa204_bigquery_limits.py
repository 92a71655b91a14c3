"""A table heading past BigQuery's 10,000 partitions, or a load past 10,000 URIs.

BigQuery refuses writes to a table with more than 10,000 partitions; hourly
partitioning reaches that about 416 days after ``@start``. A load job reads
at most 10,000 source URIs: longer load windows run as several jobs, each
atomic, not one. Both are checked up to ``@end``, or 90 days from today when
the range is open-ended, so the warning comes before the failure.

Anti-pattern::

    -- @partition_by: TIMESTAMP_TRUNC(ts, HOUR)
    -- @partitions: hourly
    -- @start: 2024-01-01

Fix (or set ``@end``, or move ``@start`` later)::

    -- @partition_by: TIMESTAMP_TRUNC(ts, DAY)
    -- @partitions: daily
    -- @start: 2024-01-01

A warning, at the directive to change. The limits are computed by
``sqlassets.runner.limits.limit_findings``, which ``sqlassets plan`` reports too.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Severity
from sqlassets.lint.rule import Rule
from sqlassets.project import Project
from sqlassets.runner.limits import limit_findings


def check(project: Project) -> Iterator[Diagnostic]:
    """Each limit each model passes, at the directive to change."""
    for model in project.models.values():
        for finding in limit_findings(model.spec):
            yield Diagnostic(
                Code.BIGQUERY_LIMITS, finding.message, model.spec.location_of(finding.directive)
            )


RULE = Rule(Code.BIGQUERY_LIMITS, __doc__, check, Severity.WARNING)

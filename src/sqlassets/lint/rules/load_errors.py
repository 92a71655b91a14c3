"""Problems found while the project loads, which ``sqlassets lint`` re-reports.

As in sqlfluff, where a parse error is not a rule, these codes have no check
of their own: a file whose SQL, header or name is broken has no model for a
rule to look at, so loading reports the problem and lint passes it on. Each
code is one :class:`~sqlassets.lint.rule.Rule` below, documented like every
rule, and found by:

- SA100 ``sqlassets.loader.load_model`` (the file is read and its body parsed)
- SA101 ``sqlassets.spec.build.parse_directives``
- SA102 ``sqlassets.spec.build.parse_directives`` (each value through its parser
  in ``sqlassets.spec.directives`` or ``sqlassets.spec.checks``),
  ``sqlassets.spec.build._limit_cluster_columns`` and
  ``sqlassets.spec.invariants.window_bounds_misaligned``
- SA103 ``sqlassets.spec.build.parse_directives``
- SA104 the SA104 rules of ``sqlassets.spec.invariants``
- SA105 ``sqlassets.header.parse_header`` (``_directive``, ``_stray_directives``)
- SA106 ``sqlassets.spec.build.parse_directives`` and ``sqlassets.spec.build._resolve_name``
- SA107 ``sqlassets.loader._body_shape`` and ``sqlassets.spec.build.build_spec``
- SA108 ``sqlassets.spec.build.parse_directives`` (``@freshness``) and
  ``sqlassets.config._source_freshness`` (a source's ``freshness``)
- SA109 ``sqlassets.spec.invariants.landing_without_time_partitions``
- SA900 ``sqlassets.config.load_config``
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import load_rule

SYNTAX = load_rule(
    Code.SYNTAX,
    """The SQL body does not parse as BigQuery SQL.

The finding points at the token where the parser stopped (or at the opening
quote of an unterminated string, identifier or comment). A file that is not
UTF-8 text, or holds a NUL byte, is reported the same way, and so is a query
nested deeper than ``sqlassets.spec.checks.MAX_NESTING`` levels of
parentheses, brackets or ``CASE`` (which the parser would only meet with a
``RecursionError``): flatten it with CTEs.

Anti-pattern::

    SELECT order_id, FROM raw.orders WHERE

Fix: complete or correct the statement; it must run as-is in the BigQuery
console (apart from the ``@start_date``-style partition parameters).

Found by ``sqlassets.loader.load_model``, which reads the file and parses the
body with ``sqlassets.loader.analyze_sql``.
""",
    "sqlassets.loader.load_model",
)

UNKNOWN_DIRECTIVE = load_rule(
    Code.UNKNOWN_DIRECTIVE,
    """A header directive whose key sqlassets does not know.

An unknown key would otherwise be ignored silently; the finding suggests the
closest valid key.

Anti-pattern::

    -- @materialised: table

Fix::

    -- @materialized: table

Found by ``sqlassets.spec.build.parse_directives``, against
``sqlassets.spec.directives.DIRECTIVES``.
""",
    "sqlassets.spec.build.parse_directives",
)

INVALID_VALUE = load_rule(
    Code.INVALID_VALUE,
    """A header directive whose value is not valid for its key.

Covers every value rule of the header: materializations, partitioning
expressions, dates, cron schedules, check syntax, labels, URIs and so on.
The finding points at the value (or the part of it that is wrong). A URI
must name a valid bucket and stay inside it: a ``.`` or ``..`` segment,
plainly or percent-encoded, is refused (``sqlassets.spec.directives.check_gcs_uri``),
since locally it would resolve outside ``gcs_root``. A byte limit is at most
BigQuery's int64. A ``@merge_filter`` is one condition on the target's own
columns (bare or ``_t.col``) and the window parameters: no subquery, no
aggregate, no column of another table (``sqlassets.spec.conditions.parse_merge_filter``).

Anti-pattern::

    -- @partitions: daly
    -- @schedule: 0 3 * *
    -- @uris: gs://landing/../../etc/x.csv

Fix::

    -- @partitions: daily
    -- @schedule: 0 3 * * *
    -- @uris: gs://landing/x.csv

Found by ``sqlassets.spec.build.parse_directives``, which runs each value
through its parser (``sqlassets.spec.directives.PARSERS``,
``sqlassets.spec.checks.parse_check``); by
``sqlassets.spec.build._limit_cluster_columns``; and by
``sqlassets.spec.invariants.window_bounds_misaligned`` for an ``@start`` or
``@end`` that does not begin a partition.
""",
    "sqlassets.spec.build.parse_directives",
    "sqlassets.spec.build._limit_cluster_columns",
    "sqlassets.spec.invariants.window_bounds_misaligned",
)

REPEATED_DIRECTIVE = load_rule(
    Code.REPEATED_DIRECTIVE,
    """A directive that may appear once is given twice.

Only ``@check`` repeats; for any other key the second line would silently win
or lose, so it is an error.

Anti-pattern::

    -- @partition_by: order_date
    -- @partition_by: DATE(created_at)

Fix: keep one of the two lines.

Found by ``sqlassets.spec.build.parse_directives``.
""",
    "sqlassets.spec.build.parse_directives",
)

CONFLICT = load_rule(
    Code.CONFLICT,
    """Directives that contradict each other or the materialization.

Examples: ``@unique_key`` on a model that is not a merge, ``@uris`` on a
model that is not a load, partitions on a view, ``@end`` before ``@start``,
``@start`` with static partitions, a load without ``@uris``, a partitioned
``table`` (each run would erase the other partitions).

Anti-pattern::

    -- @materialized: view
    -- @partitions: daily

Fix: drop the directive that does not apply, or change ``@materialized``.

Found by the SA104 rules of ``sqlassets.spec.invariants``, one function each:
on the directives given, ``directive_not_for_materialization``,
``load_without_uris`` and ``window_bounds_without_time_partitions``; on the
fields (also checked by ``ModelSpec``), ``view_holds_no_data``,
``partitioned_table``, ``insert_overwrite_static_partitions``,
``load_partitions``, ``window_bounds_out_of_order``,
``partitions_finer_than_table`` and ``backfill_without_partitions``.
""",
    *(
        f"sqlassets.spec.invariants.{name}"
        for name in (
            "directive_not_for_materialization",
            "load_without_uris",
            "window_bounds_without_time_partitions",
            "view_holds_no_data",
            "partitioned_table",
            "insert_overwrite_static_partitions",
            "load_partitions",
            "window_bounds_out_of_order",
            "partitions_finer_than_table",
            "backfill_without_partitions",
        )
    ),
)

MISPLACED_DIRECTIVE = load_rule(
    Code.MISPLACED_DIRECTIVE,
    """A directive outside the header, or a header line that looks like a broken directive.

The header ends at the first line that is not a ``--`` comment (a blank line
included); a ``-- @key: value`` line after that would be ignored.

Anti-pattern::

    -- @materialized: table

    -- @partition_by: order_date
    SELECT ...

Fix: keep every directive in the one leading block of ``--`` lines.

Found by ``sqlassets.header.parse_header``, through ``_directive`` (a
malformed directive line) and ``_stray_directives`` (a directive after the
header).
""",
    "sqlassets.header._directive",
    "sqlassets.header._stray_directives",
)

INVALID_NAME = load_rule(
    Code.INVALID_NAME,
    """The model has no valid ``dataset.table`` name.

The name comes from the path, ``sql/<dataset>/<table>.sql``, or from
``@name``. Dataset and table names are letters, digits and underscores, so a
file name with a space, a dash or a second dot is refused. A hidden file
(``.sql``, ``..sql``, ``.orders.sql``) is refused even with ``@name``, rather
than skipped.

Anti-pattern: ``sql/orders.sql`` (no dataset folder), ``sql/my-data/orders.sql``,
``sql/raw/my orders.sql`` or ``sql/raw/..sql``.

Fix: move the file to ``sql/<dataset>/<table>.sql`` or set ``-- @name: dataset.table``.

Found by ``sqlassets.spec.build.parse_directives`` (``@name``) and
``sqlassets.spec.build._resolve_name`` (the path).
""",
    "sqlassets.spec.build.parse_directives",
    "sqlassets.spec.build._resolve_name",
)

BODY_SHAPE = load_rule(
    Code.BODY_SHAPE,
    """The body is not one query (or a load model has one).

sqlassets writes the table itself, so the body is a single ``SELECT`` (or
``WITH … SELECT``), optionally after ``CREATE TEMP FUNCTION`` statements. A
``load`` model has no body.

Anti-pattern::

    CREATE OR REPLACE TABLE marts.orders AS SELECT ...

Fix: keep only the ``SELECT``; declare how it is written with ``@materialized``.

Found by ``sqlassets.loader._body_shape`` (the statements of the body) and
``sqlassets.spec.build.build_spec`` (a load model with a query).
""",
    "sqlassets.loader._body_shape",
    "sqlassets.spec.build.build_spec",
)

FRESHNESS = load_rule(
    Code.FRESHNESS,
    """A freshness rule whose duration or deadline is invalid.

``@freshness`` (and a source's ``freshness`` in ``[tool.sqlassets.sources]``)
takes a duration, ``26h``, or ``max_lag=<duration>`` with an optional
``deadline=<cron>``. Durations are whole numbers with units ``s``, ``m``,
``h``, ``d``, ``w`` (``1d12h``), positive and at most a year; a deadline is a
five-field cron expression in UTC. Each becomes a Dagster freshness check.

Anti-pattern::

    -- @freshness: 26 hours
    -- @freshness: max_lag=0h
    -- @freshness: max_lag=1h, deadline=9am

Fix::

    -- @freshness: 26h
    -- @freshness: max_lag=1h, deadline=0 9 * * *

Found by ``sqlassets.spec.build.parse_directives`` (through
``sqlassets.values.parse_freshness``) and, for sources, by
``sqlassets.config._source_freshness``.
""",
    "sqlassets.spec.build.parse_directives",
    "sqlassets.config._source_freshness",
)

LANDING_UNPARTITIONED = load_rule(
    Code.LANDING_UNPARTITIONED,
    """``@sensor``, ``@retention_days`` or an append on a load whose files are not by partition.

The file sensor requests a partition's run once that partition's files
exist; the clean-up deletes the files of partitions older than N days; an
append adds each partition's files once (a re-run replaces the rows of that
partition's files only). All need time partitions and URIs with
``{start_date}`` or ``{partition_key}``: otherwise every run reads the same
files, and an append would add them again each run.

Anti-pattern::

    -- @materialized: load
    -- @uris: gs://landing/orders/*.parquet
    -- @retention_days: 30

Fix: partition the load (``@partitions: daily``, ``@start``, ``@partition_by``)
and name each partition's files: ``gs://landing/orders/{start_date}/*.parquet``.

Found by ``sqlassets.spec.invariants.landing_without_time_partitions``.
""",
    "sqlassets.spec.invariants.landing_without_time_partitions",
)

CONFIG = load_rule(
    Code.CONFIG,
    """An invalid target in ``[tool.sqlassets.targets.<name>]``.

Targets are checked when the project loads, so CI catches a typo before a
run selects the target. (A target that reads an unset ``env:`` variable is
checked when it is selected.)

Anti-pattern::

    [tool.sqlassets.targets.prod]
    engine = "bigquery"
    projet = "my-project"

Fix: correct the setting (``project``).

Found by ``sqlassets.config.load_config``, which validates each target.
""",
    "sqlassets.config.load_config",
)

RULES = (
    SYNTAX,
    UNKNOWN_DIRECTIVE,
    INVALID_VALUE,
    REPEATED_DIRECTIVE,
    CONFLICT,
    MISPLACED_DIRECTIVE,
    INVALID_NAME,
    BODY_SHAPE,
    FRESHNESS,
    LANDING_UNPARTITIONED,
    CONFIG,
)
"""The rules of this module, one per load-time code."""

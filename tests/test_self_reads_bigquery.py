"""Models reading their own table on BigQuery: what their first run sends (issue 11, item 2).

``d.first_seen`` LEFT JOINs its own previous days: the first run creates the
table from the query's schema without reading it (it does not exist yet).
Here, the exact SQL BigQuery gets, on the fake transport (the emulator's
analyzer is not BigQuery's: what it accepts, BigQuery may not); end to end on
the emulator in ``test_bigquery_emulator.py``.
"""

from __future__ import annotations

from pathlib import Path

import sqlglot
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import expressions as exp

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.job import Naming
from sqlassets.project import load_project
from sqlassets.runner import resolve_window, run_model
from sqlassets.strategies import without_self_reads
from tests.fakes.bigquery_transport import FakeBigQuery
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.helpers import write_project
from tests.test_real_world_loads import EVENTS, FIRST_SEEN

# ---------------------------------------------------------------- the probe, as a tree


def test_each_comparison_of_an_untyped_self_read_becomes_a_null_bool() -> None:
    """BigQuery refuses `NULL < x`, `NULL BETWEEN`, `NULL IN`, `x LIKE NULL`; not `NULL + 1`."""
    query = sqlglot.parse_one(
        "SELECT e.id, prev.n + 1 AS n FROM raw.e AS e LEFT JOIN d.s AS prev "
        "ON (prev.id) = e.id AND prev.d BETWEEN @start_date AND @end_date "
        "AND prev.k IN (1, 2) AND e.d > prev.d WHERE prev.id IS NULL OR e.x LIKE prev.p",
        read="bigquery",
    )
    untyped = [(name, None) for name in ("id", "n", "d", "k", "p")]
    probe = without_self_reads(query, exp.to_table("d.s"), untyped)
    null_bool = "CAST(NULL AS BOOL)"
    assert probe.sql("bigquery") == (
        "SELECT e.id, NULL + 1 AS n FROM raw.e AS e LEFT JOIN (SELECT NULL AS _ LIMIT 0) AS prev "
        f"ON {null_bool} AND {null_bool} AND {null_bool} AND {null_bool} "
        f"WHERE NULL IS NULL OR {null_bool}"
    )


# ---------------------------------------------------------------- the fake transport


def test_the_first_run_sends_a_create_that_never_reads_the_missing_table(tmp_path: Path) -> None:
    files = {"pyproject.toml": BIGQUERY_PYPROJECT, "sql/raw/events.sql": EVENTS}
    write_project(tmp_path, {**files, "sql/d/first_seen.sql": FIRST_SEEN})
    project = load_project(tmp_path, display_base=tmp_path).raise_for_errors()
    fake = FakeBigQuery()  # no table exists; every dry run reports the query's columns
    fake.result_schema = [
        {"name": name, "type": kind}
        for name, kind in [("user_id", "INTEGER"), ("day", "DATE"), ("first_seen", "DATE")]
    ]
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    engine = BigQueryEngine(
        "acme-prod",
        location="EU",
        naming=Naming(project="acme-prod"),
        client_factory=lambda: client,
        request_retry=Retry(initial=0.001, maximum=0.001, multiplier=1, timeout=5),
    )
    model = project.models["d.first_seen"]
    window = resolve_window(model, partition="2024-01-01")
    run_model(project, model, engine, window, JobContext("d.first_seen", run_id="r"))
    sent = [
        (bool(body["configuration"].get("dryRun")), body["configuration"]["query"]["query"])
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs") and body
    ]
    source = "FROM `acme-prod`.raw.events AS e LEFT JOIN "
    window_filter = "WHERE e.day >= @start_date AND e.day < @end_date"
    relation = (
        "(SELECT CAST(NULL AS INT64) AS user_id, CAST(NULL AS DATE) AS day, "
        "CAST(NULL AS DATE) AS first_seen LIMIT 0) AS prev"
    )
    probes = [sql for dry, sql in sent if dry][1:]  # the first is the partition type check
    assert probes == [
        # Untyped, the self-read columns are NULL; BigQuery refuses `NULL < x`.
        "SELECT e.user_id, e.day, COALESCE(NULL, e.day) AS first_seen "
        f"{source}(SELECT NULL AS _ LIMIT 0) AS prev "
        f"ON CAST(NULL AS BOOL) AND CAST(NULL AS BOOL) {window_filter}",
        "SELECT e.user_id, e.day, COALESCE(prev.first_seen, e.day) AS first_seen "
        f"{source}{relation} ON prev.user_id = e.user_id AND prev.day < @start_date "
        f"{window_filter}",
    ]
    create, overwrite = (sql for dry, sql in sent if not dry)
    assert create == (
        "CREATE TABLE IF NOT EXISTS `acme-prod`.d.first_seen PARTITION BY day AS SELECT * FROM "
        "(SELECT e.user_id, e.day, COALESCE(prev.first_seen, e.day) AS first_seen "
        f"{source}{relation} "
        "ON prev.user_id = e.user_id AND prev.day < CAST('2024-01-01' AS DATE) "
        "WHERE e.day >= CAST('2024-01-01' AS DATE) AND e.day < CAST('2024-01-02' AS DATE)) "
        "AS _s WHERE FALSE"
    )
    # The run itself reads the table, created by then.
    assert "LEFT JOIN `acme-prod`.d.first_seen AS prev ON" in overwrite

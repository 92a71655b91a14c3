"""Models reading their own table run on BigQuery from their first run (issue 11, item 2).

``d.first_seen`` LEFT JOINs its own previous days: the first run creates the
table from the query's schema without reading it (it does not exist yet). On
the emulator end to end; on the fake transport, the exact SQL BigQuery gets
(the emulator's analyzer is not BigQuery's: what it accepts, BigQuery may not).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import expressions as exp

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.job import Naming
from sqlassets.project import Project, load_project
from sqlassets.runner import resolve_window, run_model
from sqlassets.strategies import without_self_reads
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.fakes.bigquery_transport import FakeBigQuery
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.helpers import write_project
from tests.test_real_world_loads import EVENTS, FIRST_SEEN, FIRST_SEEN_MERGE

PROJECT_ID = "test-project"


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


# ---------------------------------------------------------------- the emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def _setup(emulator: Emulator, root: Path, first_seen: str):
    write_project(root, {"sql/raw/events.sql": EVENTS, "sql/d/first_seen.sql": first_seen})
    project = load_project(root, display_base=root).raise_for_errors()
    suffix = f"_{root.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    client = emulator.client()
    engine = BigQueryEngine.from_target(target, client=client)
    return project, engine, client, suffix


def _run(project: Project, engine: BigQueryEngine, name: str, **window: str):
    model = project.models[name]
    return run_model(project, model, engine, resolve_window(model, **window), JobContext(name))


def _rows(client: bigquery.Client, sql: str) -> list[tuple]:
    return [tuple(row.values()) for row in client.query(sql).result()]


@pytest.mark.emulator
def test_insert_overwrite_reading_itself_runs_its_first_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    project, engine, client, suffix = _setup(emulator, tmp_path, FIRST_SEEN)
    _run(project, engine, "raw.events")
    # One partition a run, as `@backfill: max_partitions=1` has the CLI and Dagster run it.
    actions = [
        [result.action for result in _run(project, engine, "d.first_seen", partition=day)]
        for day in ("2024-01-01", "2024-01-02", "2024-01-03")
    ]
    assert actions == [["create", "overwrite"], ["overwrite"], ["overwrite"]]
    rows = _rows(
        client,
        f"SELECT user_id, CAST(day AS STRING), CAST(first_seen AS STRING) "
        f"FROM d{suffix}.first_seen ORDER BY day, user_id",
    )
    assert rows == [
        (1, "2024-01-01", "2024-01-01"),
        (2, "2024-01-02", "2024-01-02"),
        (1, "2024-01-03", "2024-01-01"),
    ]
    table = client.get_table(f"{PROJECT_ID}.d{suffix}.first_seen")
    assert [(f.name, f.field_type) for f in table.schema] == [
        ("user_id", "INTEGER"),
        ("day", "DATE"),
        ("first_seen", "DATE"),
    ]


@pytest.mark.emulator
def test_merge_reading_itself_runs_its_first_run(emulator: Emulator, tmp_path: Path) -> None:
    project, engine, client, suffix = _setup(emulator, tmp_path, FIRST_SEEN_MERGE)
    _run(project, engine, "raw.events")
    _run(project, engine, "d.first_seen")
    _run(project, engine, "d.first_seen")
    rows = _rows(
        client,
        f"SELECT user_id, CAST(first_seen AS STRING) FROM d{suffix}.first_seen ORDER BY 1",
    )
    assert rows == [(1, "2024-01-01"), (2, "2024-01-02")]

"""DuckDB rewrite goldens: a BigQuery tree in, the DuckDB text ``DuckDBEngine`` sends out.

One layer only: ``DuckDBEngine.translate`` (parameters inlined, ``_rewrite`` /
``_fix_in_place``, ``LOAD DATA`` through ``_load``) and the unpretty
``.sql("duckdb")`` that ``DuckDBEngine.execute`` sends, statement by statement
(``tests.helpers.duckdb_sent_sql``). Each case is one file in
``fixtures/duckdb``: ``-- title:``, ``-- rewrite:`` (which rewrites it shows),
optionally ``-- window: start..end`` or ``-- partition_key:`` (the parameters),
then the BigQuery statements under ``-- >>> bigquery`` and the DuckDB text
under ``-- >>> duckdb``. Regenerate with SQLASSETS_UPDATE_GOLDENS=1.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlglot

from sqlassets.engines.base import JobContext
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import EngineError
from sqlassets.project import load_project
from sqlassets.strategies import plan_jobs
from sqlassets.window import QueryParameter, Window
from tests.helpers import SqlFixture, duckdb_sent_sql, sql_fixtures, write_project

FIXTURES = sql_fixtures(Path(__file__).parent / "fixtures" / "duckdb")
GCS_ROOT = "/srv/acme/gcs"
"""Absolute: ``gs://`` URIs resolve under it, and the goldens must not depend on the checkout."""


def _parameters(fixture: SqlFixture) -> dict[str, QueryParameter]:
    if "window" in fixture.settings:
        start, end = (
            datetime.fromisoformat(p.strip()) for p in fixture.settings["window"].split("..")
        )
        return Window(start=start, end=end).parameters()
    if "partition_key" in fixture.settings:
        return Window(partition_key=fixture.settings["partition_key"]).parameters()
    return {}


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.path.stem for f in FIXTURES])
def test_duckdb_receives_the_golden_text(fixture: SqlFixture) -> None:
    engine = DuckDBEngine(":memory:", gcs_root=GCS_ROOT)
    statements = sqlglot.parse(fixture.sections["bigquery"], read="bigquery")
    parameters = _parameters(fixture)
    sent = [duckdb_sent_sql(engine, statement, parameters) for statement in statements]
    fixture.assert_section("duckdb", ";\n".join(sent))


REWRITES = {
    # DuckDBEngine.translate
    "inline parameters",
    # _fix_in_place, one entry per branch
    "drop catalog",
    "numeric precision",
    "drop partition_by cluster_by",
    "insert by name",
    "safe functions",
    "array_agg limit",
    "expression star",
    "struct star replace",
    "nested struct star",
    "any type",
    # _rewrite's wrapping fixes
    "dayofweek",
    "date functions",
    # _load, one entry per reader, and the temp table
    "load parquet",
    "load csv",
    "load json",
    "load temp",
}


def test_every_rewrite_has_a_case() -> None:
    """A meta-test: each rewrite of engines/duckdb.py is shown by at least one fixture."""
    shown = {
        name.strip() for fixture in FIXTURES for name in fixture.settings["rewrite"].split(",")
    }
    assert shown <= REWRITES, f"unknown rewrite names {sorted(shown - REWRITES)}"
    assert shown >= REWRITES, f"no fixture shows {sorted(REWRITES - shown)}"


def test_translate_leaves_its_input_tree_unchanged() -> None:
    """Engines get the strategies' trees; a rewrite in place would leak into the next engine."""
    engine = DuckDBEngine(":memory:", gcs_root=GCS_ROOT)
    text = (
        "CREATE OR REPLACE TABLE `acme-prod`.marts.t PARTITION BY d AS "
        "SELECT CAST(x AS NUMERIC) AS n, DATE_ADD(d, INTERVAL 1 DAY) AS d FROM raw.s"
    )
    tree = sqlglot.parse_one(text, read="bigquery")
    before = tree.sql("bigquery")
    engine.translate(tree, {})
    assert tree.sql("bigquery") == before
    assert "PARTITION BY d" in before and "NUMERIC" in before


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (
            "LOAD DATA OVERWRITE raw.t FROM FILES(FORMAT='AVRO', uris=['gs://b/t.avro'])",
            "AVRO files cannot be loaded on DuckDB; use parquet, csv or json",
        ),
        (
            "LOAD DATA OVERWRITE raw.t FROM FILES(FORMAT='PARQUET', uris=['s3://b/t.parquet'])",
            "`s3://b/t.parquet` is not a gs:// URI",
        ),
    ],
    ids=["avro", "not-gs"],
)
def test_loads_duckdb_cannot_read_are_refused(load: str, message: str) -> None:
    engine = DuckDBEngine(":memory:", gcs_root=GCS_ROOT)
    with pytest.raises(EngineError) as raised:
        engine.translate(sqlglot.parse_one(load, read="bigquery"))
    assert raised.value.message == message


def test_execute_sends_the_translated_text_and_it_means_what_bigquery_means(
    tmp_path: Path,
) -> None:
    """From a model file to the text DuckDB ran: the mirrored helper is what ``execute`` sent
    (``JobResult.sql`` joins the texts it executed), and the rewrites keep BigQuery's meaning."""
    model = (
        "-- @materialized: table\n-- @partition_by: d\n"
        "SELECT CAST(1.5 AS NUMERIC) AS n, DATE_ADD(DATE '2024-01-06', INTERVAL 1 DAY) AS d,\n"
        "  EXTRACT(DAYOFWEEK FROM DATE '2024-01-07') AS weekday\n"
    )
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.sqlassets.targets.local]\nengine = "duckdb"\n',
            "sql/marts/t.sql": model,
        },
    )
    loaded = load_project(root).raise_for_errors().models["marts.t"]
    target = sqlglot.exp.to_table("`acme-prod`.marts.t", dialect="bigquery")
    query = sqlglot.parse_one(loaded.sql, read="bigquery")
    (job,) = plan_jobs(loaded.spec, target, Window(), query)
    engine = DuckDBEngine(":memory:", gcs_root=GCS_ROOT)
    try:
        result = engine.execute(job, JobContext("marts.t"))
        assert result.sql == (
            "CREATE OR REPLACE TABLE marts.t AS SELECT CAST(1.5 AS DECIMAL(38, 9)) AS n, "
            "CAST(CAST('2024-01-06' AS DATE) + INTERVAL '1' DAY AS DATE) AS d, "
            "(EXTRACT(DAYOFWEEK FROM CAST('2024-01-07' AS DATE)) + 1) AS weekday"
        )
        assert [duckdb_sent_sql(engine, s, {}) for s in job.statements] == [result.sql]
        row = engine.connection.execute("SELECT n, d, weekday FROM marts.t").fetchall()
        # BigQuery: NUMERIC keeps 9 decimals, DATE_ADD is a DATE, Sunday is day 1.
        assert row == [(Decimal("1.500000000"), datetime(2024, 1, 7).date(), 1)]
        types = engine.connection.execute("DESCRIBE marts.t").fetchall()
        assert [(name, kind) for name, kind, *_ in types] == [
            ("n", "DECIMAL(38,9)"),
            ("d", "DATE"),
            ("weekday", "BIGINT"),
        ]
    finally:
        engine.close()

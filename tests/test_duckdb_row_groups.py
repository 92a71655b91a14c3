"""Writes larger than one DuckDB row group (122,880 rows) read back right in the same run.

DuckDB 2.0.0 answered 0 to ``count(*) … WHERE status IS NOT NULL`` on a table
filled from a temp table of one row group or more in one transaction, on the
same connection (the right answer came back only after reopening the file).
Partitioned loads take exactly that path, and staging views filter on
``IS NOT NULL``, so a large day made every downstream model read nothing and
the run exit 0. The first two tests are the upstream reproduction, to re-check
on every DuckDB upgrade; the third is the user's run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.engines.duckdb import BROKEN_VERSIONS
from sqlassets.project import load_project
from tests.helpers import write_project

ROWS = 3 * 122_880 + 17  # more than two row groups
STATUS_NOT_NULL = ROWS - len(range(0, ROWS, 5))  # every fifth status is NULL
DAYS = ("2024-01-01", "2024-01-02")


@pytest.mark.parametrize(
    "write",
    [
        "INSERT INTO t SELECT * FROM tmp",
        "MERGE INTO t USING tmp ON t.i = tmp.i WHEN NOT MATCHED THEN INSERT (i, status) "
        "VALUES (tmp.i, tmp.status)",
    ],
    ids=["insert", "merge"],
)
def test_upstream_reproduction(tmp_path: Path, write: str) -> None:
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("BEGIN")
    con.execute(
        f"CREATE TEMP TABLE tmp AS SELECT i, CASE WHEN i % 5 = 0 THEN NULL ELSE 'x' END "
        f"AS status FROM range({ROWS}) r(i)"
    )
    con.execute("CREATE TABLE t AS SELECT * FROM tmp WHERE FALSE")
    con.execute(write)
    con.execute("COMMIT")
    assert con.execute("SELECT count(*) FROM t WHERE status IS NOT NULL").fetchone() == (
        STATUS_NOT_NULL,
    )


def test_the_locked_duckdb_is_not_a_broken_release() -> None:
    assert duckdb.__version__ not in BROKEN_VERSIONS


def test_a_large_partitioned_load_feeds_downstream_models_in_the_same_run(
    tmp_path: Path,
) -> None:
    for day in DAYS:
        landing = tmp_path / "gcs" / "land" / "events" / day
        landing.mkdir(parents=True)
        duckdb.execute(
            f"COPY (SELECT i AS event_id, TIMESTAMP '{day}' + INTERVAL (i % 86400) SECOND "
            f"AS event_ts, CASE WHEN i % 5 = 0 THEN NULL ELSE 'ok' END AS status "
            f"FROM range({ROWS}) r(i)) TO '{landing / 'events.parquet'}' (FORMAT parquet)"
        )
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.sqlassets.targets.local]\nengine = "duckdb"\n'
            'path = "warehouse.duckdb"\n',
            "sql/raw/events.sql": "-- @materialized: load\n"
            "-- @uris: gs://land/events/{start_date}/*.parquet\n"
            "-- @partition_by: DATE(event_ts)\n-- @partitions: daily\n-- @start: 2024-01-01\n",
            "sql/staging/stg_events.sql": "-- @materialized: view\n"
            "SELECT event_id, status FROM raw.events WHERE status IS NOT NULL\n",
            "sql/marts/event_count.sql": "SELECT COUNT(*) AS events FROM staging.stg_events\n",
        },
    )
    try:
        project = load_project(root).raise_for_errors()
        outcomes = run_project(project, set(project.models), start="2024-01-01", end="2024-01-03")
        assert {o.name: o.status for o in outcomes} == dict.fromkeys(project.models, "materialized")
    finally:
        DuckDBEngineResource.close_all()
    # marts.event_count was computed on the run's own connection, where the bug showed.
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT events FROM marts.event_count").fetchall() == [
            (len(DAYS) * STATUS_NOT_NULL,)
        ]
        assert con.execute("SELECT count(*) FROM raw.events").fetchall() == [(len(DAYS) * ROWS,)]

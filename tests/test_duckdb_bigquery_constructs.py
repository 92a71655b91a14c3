"""BigQuery constructs of real queries on DuckDB: each runs with BigQuery's result, or is refused
with a message naming it and where it is (issue 11, item 7; README "Engines")."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import sqlglot
from click.testing import CliRunner

from sqlassets.cli import main
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import EngineError
from tests.helpers import write_project


def _run(*statements: str) -> list[tuple[object, ...]]:
    """Each BigQuery statement translated as the engine does, run on one DuckDB connection."""
    engine = DuckDBEngine(":memory:")
    connection = duckdb.connect()
    rows: list[tuple[object, ...]] = []
    for text in statements:
        translated = engine.translate(sqlglot.parse_one(text, read="bigquery"), {})
        rows = connection.execute(translated.sql("duckdb")).fetchall()
    return rows


STRUCTS = "(SELECT STRUCT(1 AS id, 'new' AS v) AS c, STRUCT(2 AS id, 'old' AS v) AS p)"
NESTED = "(SELECT STRUCT(STRUCT(1 AS id, 'new' AS v) AS c, STRUCT(2 AS id, 'old' AS v) AS p) AS n)"


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (
            (
                "SELECT SAFE.PARSE_DATE('%Y%m%d', 'bad') AS a, "
                "SAFE.PARSE_DATE('%Y%m%d', '20240102') AS b, SAFE.DATE('nope') AS c",
            ),
            [(None, date(2024, 1, 2), None)],
        ),
        (("SELECT SAFE.TIMESTAMP_MILLIS(0) IS NOT NULL AS a",), [(True,)]),
        (
            (
                "SELECT ARRAY_AGG(x ORDER BY t DESC LIMIT 2) AS a FROM "
                "(SELECT 1 AS x, 1 AS t UNION ALL SELECT 2, 3 UNION ALL SELECT 3, 2)",
            ),
            [([2, 3],)],
        ),
        ((f"SELECT IF(c.id IS NULL, p, c).* FROM {STRUCTS}",), [(1, "new")]),
        (
            (
                "SELECT IF(c.id IS NULL, p, c).* REPLACE ('x' AS v, c.id + 10 AS id) "
                f"FROM {STRUCTS}",
            ),
            [(11, "x")],
        ),
        ((f"SELECT n.c.* FROM {NESTED}",), [(1, "new")]),
        (
            (f"SELECT n.p.* REPLACE (UPPER(n.p.v) AS v) FROM {NESTED}",),
            [(2, "OLD")],
        ),
        (
            (
                "CREATE TEMP FUNCTION plus_one(x ANY TYPE) AS (x + 1)",
                "SELECT plus_one(1) AS i, plus_one(1.5) AS f",
            ),
            [(2, 2.5)],
        ),
    ],
    ids=[
        "safe-date",
        "safe-timestamp-millis",
        "array-agg-limit",
        "expression-star",
        "expression-star-replace",
        "nested-struct-star",
        "nested-struct-star-replace",
        "any-type",
    ],
)
def test_construct_runs_with_bigquerys_result(
    statements: tuple[str, ...], expected: list[tuple[object, ...]]
) -> None:
    assert _run(*statements) == expected


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (f"SELECT IF(c.id IS NULL, p, c).* EXCEPT (v) FROM {STRUCTS}", "(expr).* EXCEPT"),
        (f"SELECT n.c.* EXCEPT (v) FROM {NESTED}", "a.b.* EXCEPT"),
        ("SELECT * FROM raw.t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01'", "FOR SYSTEM_TIME"),
    ],
    ids=["expression-star-except", "nested-struct-star-except", "system-time"],
)
def test_construct_duckdb_cannot_run_is_refused_by_name(statement: str, named: str) -> None:
    with pytest.raises(EngineError) as raised:
        _run(statement)
    assert named in raised.value.message


# ---------------------------------------------------------------- end to end: `sqlassets run`

SESSIONS = """-- @materialized: table
SELECT * FROM UNNEST([
  STRUCT(1 AS id, '20240101' AS day, 1704067200000 AS ms,
         STRUCT(STRUCT('fr' AS country, 'paris' AS city) AS geo) AS ctx,
         STRUCT('old' AS v, 1 AS n) AS prev, STRUCT(CAST(NULL AS STRING) AS v, 0 AS n) AS cur),
  STRUCT(2 AS id, 'bad' AS day, 0 AS ms,
         STRUCT(STRUCT('de' AS country, 'berlin' AS city) AS geo) AS ctx,
         STRUCT('old' AS v, 2 AS n) AS prev, STRUCT('new' AS v, 5 AS n) AS cur)])
"""
EVERYTHING = """-- @materialized: table
CREATE TEMP FUNCTION twice(x ANY TYPE) AS (x * 2);
SELECT
  id,
  SAFE.PARSE_DATE('%Y%m%d', day) AS day,
  SAFE.DATE(day) AS not_a_date,
  SAFE.TIMESTAMP_MILLIS(ms) AS at,
  twice(id) AS doubled,
  twice(1.25) AS fraction,
  IF(cur.v IS NULL, prev, cur).* REPLACE (UPPER(IF(cur.v IS NULL, prev, cur).v) AS v),
  ctx.geo.* REPLACE (UPPER(ctx.geo.country) AS country),
  (SELECT ARRAY_AGG(x ORDER BY x DESC LIMIT 1)[OFFSET(0)] FROM UNNEST([id, 7, 3]) AS x) AS top
FROM raw.sessions
"""
SYSTEM_TIME = """-- @materialized: table
SELECT id
FROM raw.sessions FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01'
"""
STAR_EXCEPT = """-- @materialized: table
SELECT id,
  ctx.geo.* EXCEPT (city)
FROM raw.sessions
"""


def _cli(root: Path, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_emulated_construct_runs_in_a_model_on_duckdb(tmp_path: Path) -> None:
    write_project(
        tmp_path, {"sql/raw/sessions.sql": SESSIONS, "sql/marts/everything.sql": EVERYTHING}
    )
    result = _cli(tmp_path, "run")
    assert result.exit_code == 0, result.output
    database = tmp_path / ".sqlassets" / "warehouse.duckdb"
    with duckdb.connect(str(database), read_only=True) as db:
        rows = db.execute("SELECT * FROM marts.everything ORDER BY id").fetchall()
        columns = [column[0] for column in db.description]
    assert columns == [
        *("id", "day", "not_a_date", "at", "doubled", "fraction"),
        *("v", "n", "country", "city", "top"),
    ]
    assert [row[1:6] for row in rows] == [  # DuckDB's TIMESTAMP is UTC, without a zone
        (date(2024, 1, 1), None, datetime(2024, 1, 1), 2, 2.5),
        (None, None, datetime(1970, 1, 1), 4, 2.5),
    ]
    assert [row[6:] for row in rows] == [
        ("OLD", 1, "FR", "paris", 7),
        ("NEW", 5, "DE", "berlin", 7),
    ]


@pytest.mark.parametrize(
    ("model", "where", "named"),
    [
        (
            SYSTEM_TIME,
            "sql/marts/refused.sql:3:19: SA600 ",
            "`FOR SYSTEM_TIME AS OF` on `raw.sessions`",
        ),
        (STAR_EXCEPT, "sql/marts/refused.sql:3:7: SA600 ", "`a.b.* EXCEPT (…)`"),
    ],
    ids=["system-time", "nested-struct-star-except"],
)
def test_a_construct_duckdb_cannot_run_fails_located_in_run_and_compile(
    tmp_path: Path, model: str, where: str, named: str
) -> None:
    write_project(tmp_path, {"sql/raw/sessions.sql": SESSIONS, "sql/marts/refused.sql": model})
    result = _cli(tmp_path, "run")
    assert result.exit_code == 1
    assert f"marts.refused: {where}{named} cannot run on DuckDB" in result.stderr
    assert "1 of 2 model(s) materialized" in result.stderr
    compiled = _cli(tmp_path, "compile", "marts.refused")
    assert compiled.exit_code == 2
    assert f"{where}{named} cannot run on DuckDB" in compiled.stderr
    assert "Traceback" not in compiled.output

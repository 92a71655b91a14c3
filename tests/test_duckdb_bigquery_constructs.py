"""BigQuery constructs of real queries on DuckDB: each runs with BigQuery's result, or is refused
with a message naming it (issue 11, item 7; README "BigQuery on DuckDB")."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
import sqlglot

from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import EngineError


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
                "CREATE TEMP FUNCTION plus_one(x ANY TYPE) AS (x + 1)",
                "SELECT plus_one(1) AS i, plus_one(1.5) AS f",
            ),
            [(2, 2.5)],
        ),
    ],
    ids=["safe-date", "safe-timestamp-millis", "array-agg-limit", "expression-star", "any-type"],
)
def test_construct_runs_with_bigquerys_result(
    statements: tuple[str, ...], expected: list[tuple[object, ...]]
) -> None:
    assert _run(*statements) == expected


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (f"SELECT IF(c.id IS NULL, p, c).* REPLACE ('x' AS v) FROM {STRUCTS}", "(expr).* REPLACE"),
        ("SELECT * FROM raw.t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01'", "FOR SYSTEM_TIME"),
    ],
    ids=["expression-star-replace", "system-time"],
)
def test_construct_duckdb_cannot_run_is_refused_by_name(statement: str, named: str) -> None:
    with pytest.raises(EngineError) as raised:
        _run(statement)
    assert named in raised.value.message

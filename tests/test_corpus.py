"""Dependency inference against a corpus of realistic BigQuery queries.

Each ``tests/fixtures/corpus/NNN_topic.sql`` holds one model query; ``expected.json``
maps its file name to the tables it reads, worked out by hand from the SQL (not
copied from ``analyze_sql``): ``dataset.table`` or ``project.dataset.table`` as
written, without backticks, wildcards kept, and without CTE names, UNNEST paths,
temporary function names or ``INFORMATION_SCHEMA`` views.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sqlassets.loader import analyze_sql

CORPUS_DIR = Path(__file__).parent / "fixtures" / "corpus"
EXPECTED: dict[str, list[str]] = json.loads(
    (CORPUS_DIR / "expected.json").read_text(encoding="utf-8")
)
SQL_FILES = sorted(CORPUS_DIR.glob("*.sql"))

MIN_FILES = 200
MIN_FILES_PER_FEATURE = 5

# Feature name -> pattern searched in each file's text; each must occur in at
# least MIN_FILES_PER_FEATURE files so the corpus keeps exercising it.
FEATURES: dict[str, str] = {
    "QUALIFY": r"\bQUALIFY\b",
    "UNNEST": r"\bUNNEST\s*\(",
    "STRUCT": r"\bSTRUCT\b",
    "SAFE.": r"\bSAFE\.",
    "SAFE_CAST / SAFE_DIVIDE": r"\bSAFE_(CAST|DIVIDE)\(",
    "SELECT * EXCEPT(": r"\bEXCEPT\s*\(",
    "SELECT * REPLACE(": r"[*)]\s*REPLACE\s*\(",
    "_TABLE_SUFFIX": r"\b_TABLE_SUFFIX\b",
    "JSON_": r"\bJSON_\w+\(",
    "PARSE_JSON": r"\bPARSE_JSON\(",
    "PIVOT": r"(?<!UN)PIVOT\s*\(",
    "UNPIVOT": r"\bUNPIVOT\b",
    "OVER (": r"\bOVER\s*\(",
    "ARRAY_AGG ... LIMIT": r"\bARRAY_AGG\([^;]*?\bLIMIT\s+\d+\s*\)",
    "ROW_NUMBER": r"\bROW_NUMBER\(\)",
    "LAG / LEAD": r"\b(LAG|LEAD)\(",
    "PERCENTILE_CONT": r"\bPERCENTILE_CONT\(",
    "NTILE": r"\bNTILE\(",
    "window frame": r"\b(ROWS|RANGE)\s+(BETWEEN|UNBOUNDED)\b",
    "DATE_TRUNC / TIMESTAMP_TRUNC": r"\b(DATE|TIMESTAMP)_TRUNC\(",
    "DATE_DIFF / TIMESTAMP_DIFF": r"\b(DATE|TIMESTAMP)_DIFF\(",
    "FORMAT_DATE": r"\bFORMAT_DATE\(",
    "PARSE_TIMESTAMP": r"\bPARSE_TIMESTAMP\(",
    "GENERATE_DATE_ARRAY": r"\bGENERATE_DATE_ARRAY\(",
    "EXTRACT": r"\bEXTRACT\(",
    "INTERVAL arithmetic": r"\b(DATE|TIMESTAMP)_(ADD|SUB)\([^)]*\bINTERVAL\b",
    "wildcard table": r"\*`|\w\*\s",
    "backticked dashed project": r"`[a-z][a-z0-9]*-[a-z0-9-]+[`.]",
    "APPROX_COUNT_DISTINCT": r"\bAPPROX_COUNT_DISTINCT\(",
    "HLL_COUNT": r"\bHLL_COUNT\.",
    "ROLLUP": r"\bROLLUP\s*\(",
    "COUNTIF": r"\bCOUNTIF\(",
    "LOGICAL_OR / LOGICAL_AND": r"\bLOGICAL_(OR|AND)\(",
    "REGEXP_": r"\bREGEXP_\w+\(",
    "STRING_AGG": r"\bSTRING_AGG\(",
    "CTE": r"\bWITH\s+(RECURSIVE\s+)?\w+\s+AS\s*\(",
    "NOT EXISTS": r"\bNOT\s+EXISTS\s*\(",
    "IN (SELECT": r"\bIN\s*\(\s*SELECT\b",
    "TABLESAMPLE": r"\bTABLESAMPLE\s+SYSTEM\b",
    "FOR SYSTEM_TIME AS OF": r"\bFOR\s+SYSTEM_TIME\s+AS\s+OF\b",
    "CREATE TEMP FUNCTION": r"\bCREATE\s+TEMP(ORARY)?\s+FUNCTION\b",
    "JavaScript UDF": r"\bLANGUAGE\s+js\b",
    "UNION ALL": r"\bUNION\s+ALL\b",
    "INFORMATION_SCHEMA": r"\bINFORMATION_SCHEMA\b",
    "query parameter": r"@\w+",
}


def test_corpus_size_and_expected_entries_match() -> None:
    names = {path.name for path in SQL_FILES}
    assert len(names) >= MIN_FILES
    assert sorted(names - EXPECTED.keys()) == [], "SQL files without an expected entry"
    assert sorted(EXPECTED.keys() - names) == [], "expected entries without a SQL file"
    for name in names:
        assert re.fullmatch(r"\d{3}_[a-z0-9_]+\.sql", name), name


def test_expected_lists_are_sorted_and_unique() -> None:
    for name, deps in EXPECTED.items():
        assert deps == sorted(set(deps)), name
        for dep in deps:
            assert "`" not in dep, (name, dep)
            assert 2 <= len(dep.split(".")) <= 3, (name, dep)


def test_corpus_covers_features() -> None:
    texts = [path.read_text(encoding="utf-8") for path in SQL_FILES]
    counts = {
        feature: sum(1 for text in texts if re.search(pattern, text))
        for feature, pattern in FEATURES.items()
    }
    rare = {feature: n for feature, n in counts.items() if n < MIN_FILES_PER_FEATURE}
    assert rare == {}, f"features in fewer than {MIN_FILES_PER_FEATURE} files: {rare}"
    zero_dependency_files = [name for name, deps in EXPECTED.items() if not deps]
    assert len(zero_dependency_files) >= 3
    assert max(len(deps) for deps in EXPECTED.values()) >= 5


@pytest.mark.parametrize("path", SQL_FILES, ids=[path.name for path in SQL_FILES])
def test_dependencies(path: Path) -> None:
    analysis = analyze_sql(path.read_text(encoding="utf-8"))
    assert analysis.dependencies == tuple(EXPECTED[path.name])

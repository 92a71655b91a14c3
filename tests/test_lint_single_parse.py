"""Lint parses and tokenizes each file once; parallel parsing uses idle cores only (issue 11, 8).

Speed itself is measured in bench/lint_bench.py; these tests pin the causes
of the slowness: rules that parsed (SA306) or tokenized (SA302, SA304, SA305)
a file again, and a second process on a core another process keeps busy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot.dialects.dialect import Dialect

import sqlassets.project as project_module
from sqlassets.lint import lint_project
from sqlassets.project import load_project
from tests.helpers import write_project

FILES = {
    "sql/marts/daily.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
        "-- @start: 2024-01-01\n"
        "SELECT CAST(created_at AS TIMESTAMP) AS d, *\n"
        "FROM raw.orders WHERE created_at >= @start_ts AND created_at < @end_ts\n"
        "  AND region = @regoin\n"
    ),
    "sql/marts/chained.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
        "-- @start: 2024-01-01\n"
        "WITH x AS (SELECT CAST(ts AS TIMESTAMP) AS d FROM raw.t\n"
        "  WHERE ts >= @start_ts AND ts < @end_ts)\nSELECT y.d FROM x AS y\n"
    ),
    "sql/marts/flat.sql": (
        "-- @materialized: table\nSELECT 1 AS x FROM raw.t WHERE d = @start_date\n"
    ),
}


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("a lint rule parsed or tokenized a file again")


def test_rules_locate_findings_without_parsing_or_tokenizing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = load_project(write_project(tmp_path, FILES), display_base=tmp_path)
    monkeypatch.setattr(sqlglot, "parse", _refuse)
    monkeypatch.setattr(sqlglot, "parse_one", _refuse)
    monkeypatch.setattr(Dialect, "parse", _refuse)
    monkeypatch.setattr(Dialect, "tokenize", _refuse)
    found = {(d.code, str(d.location)) for d in lint_project(project)}
    assert ("SA304", "sql/marts/daily.sql:5:44") in found  # the star, from the tree
    assert ("SA305", "sql/marts/daily.sql:7:16") in found  # @regoin, from the load's tokens
    assert ("SA302", "sql/marts/flat.sql:2:36") in found
    assert ("SA306", "sql/marts/daily.sql:2:4") in found  # a TIMESTAMP partitioned bare
    assert ("SA306", "sql/marts/chained.sql:2:4") in found  # typed through its CTE


def _misses(count: int, size: int) -> list[project_module._Miss]:
    return [project_module._Miss(i, Path(f"{i}.sql"), b"x" * size, None) for i in range(count)]


@pytest.mark.parametrize(("load", "workers"), [(0.0, 2), (0.95, 2), (1.4, 2), (1.6, 1), (6.0, 1)])
def test_parallel_parsing_uses_only_idle_cores(
    monkeypatch: pytest.MonkeyPatch, load: float, workers: int
) -> None:
    monkeypatch.setattr(project_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(project_module.os, "getloadavg", lambda: (load, load, load))
    big = _misses(200, 10_000)  # 2 MB of SQL
    assert project_module._workers(None, big) == workers
    assert project_module._workers(None, _misses(200, 1_000)) == 1  # 200 kB: not worth a pool
    assert project_module._workers(3, big) == 3  # --jobs decides

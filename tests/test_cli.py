"""The command line: exit codes, output formats, path selection, graph formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlassets.cli import main
from tests.helpers import write_project

GOOD = {
    "sql/raw/orders.sql": (
        "-- @materialized: load\n-- @uris: gs://landing/orders/{start_date}/*.parquet\n"
        "-- @partitions: daily\n-- @partition_by: DATE(created_at)\n-- @start: 2024-01-01\n"
    ),
    "sql/marts/daily.sql": (
        "-- Daily revenue.\n-- @materialized: insert_overwrite\n-- @partition_by: d\n"
        "-- @partitions: daily\n-- @start: 2024-01-01\n"
        "SELECT DATE(created_at) AS d, SUM(amount) AS revenue FROM raw.orders\n"
        "WHERE created_at >= @start_ts AND created_at < @end_ts GROUP BY d\n"
    ),
}
BAD = {
    **GOOD,
    "sql/marts/bad.sql": "-- @materialised: table\nSELECT 1 AS id",
    "sql/staging/star.sql": "SELECT * FROM raw.orders",
}


def _run(root: Path, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_clean_project_exits_zero(tmp_path: Path) -> None:
    result = _run(write_project(tmp_path, GOOD), "lint")
    assert result.exit_code == 0, result.output
    assert "All checks passed: 2 file(s), 2 model(s)" in result.stderr


def test_findings_exit_one_as_path_line_col_code(tmp_path: Path) -> None:
    result = _run(write_project(tmp_path, BAD), "lint")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "sql/marts/bad.sql:1:4: SA101 unknown directive `@materialised`; did you mean "
        "`@materialized`?",
        "sql/staging/star.sql:1:8: SA304 `*` in the final SELECT: list the columns so the "
        "table's schema is explicit (warning)",
    ]
    assert "1 error(s), 1 warning(s) in 4 file(s)" in result.stderr


def test_warnings_alone_exit_zero_and_paths_select(tmp_path: Path) -> None:
    root = write_project(tmp_path, BAD)
    result = _run(root, "lint", "sql/staging")
    assert result.exit_code == 0
    assert result.stdout.startswith("sql/staging/star.sql:1:8: SA304")


def test_json_and_github_formats(tmp_path: Path) -> None:
    root = write_project(tmp_path, BAD)
    findings = json.loads(_run(root, "lint", "--format", "json").stdout)
    assert findings[0] == {
        "path": "sql/marts/bad.sql",
        "line": 1,
        "col": 4,
        "code": "SA101",
        "severity": "error",
        "message": "unknown directive `@materialised`; did you mean `@materialized`?",
    }
    github = _run(root, "lint", "--format", "github").stdout.splitlines()
    assert github[0] == (
        "::error file=sql/marts/bad.sql,line=1,col=4,title=SA101::SA101 unknown directive "
        "`@materialised`; did you mean `@materialized`?"
    )
    assert github[1].startswith("::warning file=sql/staging/star.sql,line=1,col=8,title=SA304::")


def test_configuration_error_exits_two(tmp_path: Path) -> None:
    root = write_project(tmp_path, {**GOOD, "pyproject.toml": "[tool.sqlassets]\nsql_dri = 1\n"})
    result = _run(root, "lint")
    assert result.exit_code == 2
    assert "pyproject.toml:2:1: SA900 unknown setting `sql_dri`" in result.stderr


def test_usage_error_exits_two(tmp_path: Path) -> None:
    result = _run(write_project(tmp_path, GOOD), "lint", "--format", "xml")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "text",
            "raw.orders   [load, daily]\n"
            "marts.daily  [insert_overwrite, daily]  <- raw.orders\n\n"
            "2 models, 0 external sources\n",
        ),
        (
            "mermaid",
            'flowchart LR\n  m0["raw.orders<br/>load, daily"]\n'
            '  m1["marts.daily<br/>insert_overwrite, daily"]\n  m0 --> m1\n',
        ),
        (
            "dot",
            "digraph sqlassets {\n  rankdir=LR;\n  node [shape=box];\n"
            '  "raw.orders" [label="raw.orders\\nload, daily"];\n'
            '  "marts.daily" [label="marts.daily\\ninsert_overwrite, daily"];\n'
            '  "raw.orders" -> "marts.daily";\n}\n',
        ),
    ],
)
def test_graph_formats(tmp_path: Path, fmt: str, expected: str) -> None:
    result = _run(write_project(tmp_path, GOOD), "graph", "--format", fmt)
    assert result.exit_code == 0
    assert result.stdout == expected


def test_graph_with_errors_exits_one(tmp_path: Path) -> None:
    result = _run(write_project(tmp_path, BAD), "graph")
    assert result.exit_code == 1
    assert "staging.star" in result.stdout and "marts.bad" not in result.stdout
    assert "1 error(s) left models out" in result.stderr


def test_console_script_runs_with_project_dir(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", BAD)
    script = Path(sys.executable).parent / "sqlassets"
    done = subprocess.run(
        [str(script), "lint", "--project-dir", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert [f["code"] for f in json.loads(done.stdout)] == ["SA101", "SA304"]
    assert json.loads(done.stdout)[0]["path"] == "p/sql/marts/bad.sql"

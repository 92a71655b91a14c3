"""`sqlassets run` from the command line on DuckDB: run results, rows named honestly,
--fail-fast, Dagster's lines only with --verbose, a summary that agrees with itself."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.engines.base import JobResult
from sqlassets.runner.run import Summary
from tests.helpers import invoke_cli, write_project

PYPROJECT = (
    '[tool.sqlassets]\ntarget = "local"\n'
    '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
)
DAILY = (
    "-- @materialized: insert_overwrite\n-- @partitions: daily\n-- @partition_by: d\n"
    "-- @start: 2024-01-01\n"
    "SELECT d, x FROM raw.src WHERE d >= @start_date AND d < @end_date\n"
)
BAD_CAST = "SELECT x, CAST(label AS INT64) AS n FROM raw.src\n"


_run = invoke_cli


def _source(root: Path, rows: list[tuple[str, int, str]]) -> None:
    """``raw.src`` (d DATE, x INT, label TEXT), an external source the models read."""
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
        connection.execute("CREATE OR REPLACE TABLE raw.src (d DATE, x INT, label TEXT)")
        connection.executemany("INSERT INTO raw.src VALUES (?, ?, ?)", rows)


def _results(root: Path) -> dict:
    return json.loads((root / ".sqlassets" / "run_results.json").read_text(encoding="utf-8"))


def test_run_results_name_inserted_and_deleted_rows_and_match_format_json(tmp_path: Path) -> None:
    write_project(tmp_path, {"pyproject.toml": PYPROJECT, "sql/marts/daily.sql": DAILY})
    _source(tmp_path, [("2024-01-02", i, str(i)) for i in range(15)])
    first = _run(tmp_path, "run", "--partition", "2024-01-02")
    assert first.exit_code == 0, first.output
    assert _results(tmp_path)["results"][0]["rows_inserted"] == 15

    again = _run(tmp_path, "run", "--partition", "2024-01-02", "--format", "json")
    assert again.exit_code == 0, again.output
    printed = json.loads(again.stdout)
    assert printed == _results(tmp_path)  # what --format json prints is the file
    assert (printed["command"], printed["engine"], printed["success"]) == ("run", "duckdb", True)
    (result,) = printed["results"]
    # A re-run of a 15-row partition replaces 15 rows: +15 -15, never "30 rows".
    assert (result["rows_inserted"], result["rows_deleted"]) == (15, 15)
    assert result["rows_affected"] == 15
    assert result["model"] == "marts.daily"
    assert (result["status"], result["ok"], result["window"]) == (
        "materialized",
        True,
        "2024-01-02",
    )
    assert len(result["job_ids"]) >= 1 and all(result["job_ids"])
    assert result["duration_s"] is not None and result["duration_s"] >= 0
    assert (result["bytes_processed"], result["bytes_billed"], result["slot_ms"]) == (None,) * 3
    assert (result["failed_checks"], result["message"]) == ([], "")
    assert "ok  marts.daily [2024-01-02], rows +15 -15" in again.stderr

    text = _run(tmp_path, "run", "--partition", "2024-01-02")
    table = {line.split()[0]: line.split() for line in text.stdout.splitlines() if line.strip()}
    assert table["marts.daily"][3:5] == ["+15", "-15"]
    assert not list((tmp_path / ".sqlassets").glob(".*.tmp"))  # written whole, then renamed


FAILING = {
    "pyproject.toml": PYPROJECT,
    # Two independent models that fail on a bad label, in one Dagster run (unpartitioned) ...
    "sql/src/a_bad.sql": BAD_CAST,
    "sql/src/b_bad.sql": BAD_CAST,
    # ... and a partitioned one, in the Dagster run after.
    "sql/src/later.sql": DAILY,
    "sql/marts/guarded.sql": "-- @check: expression(x > 100)\nSELECT x FROM raw.src\n",
    "sql/marts/after_guard.sql": "SELECT x FROM marts.guarded\n",
}


def test_fail_fast_starts_nothing_after_the_first_failure(tmp_path: Path) -> None:
    write_project(tmp_path, FAILING)
    _source(tmp_path, [("2024-01-02", 1, "one")])
    plain = _run(tmp_path, "run", "--select", "src", "--partition", "2024-01-02")
    assert plain.exit_code == 1, plain.output
    assert {r["model"]: r["status"] for r in _results(tmp_path)["results"]} == {
        "src.a_bad": "failed",
        "src.b_bad": "failed",
        "src.later": "materialized",
    }

    fast = _run(tmp_path, "run", "--select", "src", "--partition", "2024-01-02", "--fail-fast")
    assert fast.exit_code == 1, fast.output
    document = _results(tmp_path)
    assert document["fail_fast"] is True and document["success"] is False
    by_model = {r["model"]: r for r in document["results"]}
    statuses = sorted(r["status"] for r in by_model.values())
    # One step at a time on DuckDB: the first to fail stops the other (same Dagster run)
    # and the partitioned model (the next run) from starting.
    assert statuses == ["failed", "skipped", "skipped"]
    failed = next(name for name, r in by_model.items() if r["status"] == "failed")
    assert "Could not convert string 'one'" in by_model[failed]["message"]
    for name, result in by_model.items():
        if name != failed:
            assert result["message"] == f"not started: --fail-fast after {failed}"
            assert result["job_ids"] == []
    assert "1 failed, 2 not run" in fast.stderr


def test_a_blocking_check_failure_reads_the_same_in_progress_and_summary(tmp_path: Path) -> None:
    write_project(tmp_path, FAILING)
    _source(tmp_path, [("2024-01-02", 1, "1")])
    result = _run(tmp_path, "run", "--select", "marts.guarded+")
    assert result.exit_code == 1, result.output
    assert "  FAIL check marts.guarded:expression_x_gt_100" in result.stderr
    assert "ok  marts.guarded" not in result.stderr  # the table was written, the check failed
    assert "FAIL marts.guarded [all]" in result.stderr
    assert "materialized, a blocking check failed" in result.stderr
    assert (
        "1 of 2 model(s) materialized in" in result.stderr
        and "; 1 failed a blocking check (downstream not run), 1 not run" in result.stderr
    )
    table = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "check failed (expression_x_gt_100)" in table["marts.guarded"]
    assert "skipped" in table["marts.after_guard"]
    guarded = next(r for r in _results(tmp_path)["results"] if r["model"] == "marts.guarded")
    assert (guarded["status"], guarded["ok"]) == ("check failed", False)
    assert guarded["failed_checks"] == ["expression_x_gt_100"]


def test_dagster_log_lines_only_with_verbose(tmp_path: Path) -> None:
    write_project(tmp_path, FAILING)
    _source(tmp_path, [("2024-01-02", 1, "one")])
    quiet = _run(tmp_path, "run", "--select", "src.a_bad")
    assert quiet.exit_code == 1
    assert "Traceback" not in quiet.output
    assert "dagster" not in quiet.stderr.lower()
    assert "STEP_FAILURE" not in quiet.stderr and "Stack Trace" not in quiet.stderr
    assert "FAIL src.a_bad: " in quiet.stderr  # the failure itself, one line
    loud = _run(tmp_path, "run", "--select", "src.a_bad", "--verbose")
    assert loud.exit_code == 1
    assert "STEP_FAILURE" in loud.stderr


def test_a_failing_run_in_a_real_process_prints_no_dagster_line(tmp_path: Path) -> None:
    """The same through the process's own stderr (no click runner between)."""
    import subprocess
    import sys

    write_project(tmp_path, FAILING)
    _source(tmp_path, [("2024-01-02", 1, "one")])
    done = subprocess.run(
        [sys.executable, "-m", "sqlassets.cli", "run", "--select", "src.a_bad", "marts.guarded+"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    for noise in ("Traceback", "Stack Trace", " - dagster - ", "STEP_FAILURE", "Warning"):
        assert noise not in done.stderr, done.stderr
    assert "FAIL src.a_bad: Conversion Error" in done.stderr
    assert "1 of 3 model(s) materialized" in done.stderr


def test_a_failure_is_told_of_its_own_model_not_one_whose_name_it_extends(tmp_path: Path) -> None:
    # `marts__rep` is a prefix of `marts__rep2`'s op name: only rep2 failed.
    files = {
        "pyproject.toml": PYPROJECT,
        "sql/marts/rep.sql": "SELECT x FROM raw.src\n",
        "sql/marts/rep2.sql": BAD_CAST,
    }
    write_project(tmp_path, files)
    _source(tmp_path, [("2024-01-02", 1, "not a number")])
    result = _run(tmp_path, "run")
    assert result.exit_code == 1, result.output
    status = {r["model"]: r["status"] for r in _results(tmp_path)["results"]}
    assert status == {"marts.rep": "materialized", "marts.rep2": "failed"}


MERGE = "-- @materialized: merge\n-- @unique_key: x\nSELECT x, label FROM raw.src\n"


def test_a_merge_whose_inserts_duckdb_does_not_tell_reports_rows_affected_not_plus_0(
    tmp_path: Path,
) -> None:
    # The create-if-missing job inserts 0 rows; DuckDB's MERGE counts 3 rows without
    # telling inserts from updates: the model's split is unknown, never "+0".
    write_project(tmp_path, {"pyproject.toml": PYPROJECT, "sql/marts/merged.sql": MERGE})
    _source(tmp_path, [("2024-01-02", i, str(i)) for i in range(3)])
    result = _run(tmp_path, "run")
    assert result.exit_code == 0, result.output
    (merged,) = _results(tmp_path)["results"]
    assert (merged["rows_inserted"], merged["rows_deleted"], merged["rows_affected"]) == (
        None,
        None,
        3,
    )
    assert "3 affected" in result.stdout


def test_a_summary_sums_inserts_and_deletes_only_when_every_job_tells_them() -> None:
    told = JobResult("a", "create", "", 0.0, rows_affected=0, rows_inserted=0)
    split = JobResult("b", "insert", "", 0.0, rows_affected=5, rows_inserted=5, rows_deleted=2)
    untold = JobResult("c", "merge", "", 0.0, rows_affected=3)
    assert (Summary.of([told, split]).rows_inserted, Summary.of([told, split]).rows_deleted) == (
        5,
        2,
    )
    assert (Summary.of([told, untold]).rows_inserted, Summary.of([told, untold]).rows) == (None, 3)

"""`compile`, `plan` and `run` from the command line: output, exit codes, errors."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlassets.cli import main
from sqlassets.dagster.resources import DuckDBEngineResource

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "golden"


def _run(root: Path, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_compile_prints_the_jobs_in_the_targets_dialect() -> None:
    result = _run(
        GOLDEN, "compile", "marts.daily_revenue", "--partition", "2024-01-02", "-t", "prod"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "-- marts.daily_revenue on target prod (bigquery), window 2024-01-02"
    )
    assert "-- @start_date DATE = 2024-01-02" in result.stdout
    assert "BEGIN TRANSACTION;" in result.stdout
    assert "DELETE FROM `acme-prod`.marts_prod.daily_revenue AS _t" in result.stdout
    local = _run(GOLDEN, "compile", "marts.daily_revenue", "--partition", "2024-01-02")
    assert "DELETE FROM marts.daily_revenue AS _t" in local.stdout
    assert "BEGIN TRANSACTION" not in local.stdout  # each DuckDB job is one transaction
    assert "CAST('2024-01-02' AS DATE)" in local.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile", "marts.daily_revenu"], "did you mean `marts.daily_revenue`"),
        (
            ["compile", "marts.daily_revenue", "--partition", "2024-13-01"],
            "not a daily partition key",
        ),
        (
            ["compile", "marts.regional", "--partition", "eu'; DROP TABLE x; --"],
            "is not a partition",
        ),
        (["compile", "marts.daily_revenue", "--start", "2024-01-01"], "both --start and --end"),
        (["compile", "marts.daily_revenue", "-t", "nope"], "unknown target `nope`"),
        (["run", "--select", "marts.nothing"], "selects no model"),
    ],
)
def test_usage_errors_exit_two(args: list[str], message: str) -> None:
    result = _run(GOLDEN, *args)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--start", "9999-12-30", "--end", "9999-12-31"], "9999-12-31 00:00, after now"),
        (
            ["compile", "marts.daily_revenue", "--start", "9999-12-30", "--end", "9999-12-31"],
            "9999-12-31 00:00, after now",
        ),
        (["compile", "marts.daily_revenue", "--partition", "9999-12-31"], "ends after year 9999"),
        (["run", "--start", "2024-03-05", "--end", "2024-03-01"], "is not after --start"),
        (["run", "--start", "2024-03-01", "--end", "2024-03-01"], "is not after --start"),
        (["run", "--start", "2024/03/01", "--end", "2024-03-05"], "is not a date"),
        (["run", "-s", "marts.daily_revenue", "--partition", "2024/03/01"], "daily partition"),
        (["run", "-s", "marts.daily_revenue", "--partition", "20240301"], "not a daily partition"),
        (
            ["run", "-s", "marts.daily_revenue", "--partition", "2024-03-10T02:00"],
            "not a daily partition",
        ),
        (
            ["run", "-s", "marts.daily_revenue", "--partition", "{today}"],
            "partition {today} of marts.daily_revenue has not ended yet",
        ),
        (
            ["run", "-s", "marts.daily_revenue", "--partition", "{in_30_days}"],
            "the last complete one is {yesterday}",
        ),
        (
            ["run", "--partition", "2024-01-02", "--start", "2024-01-01", "--end", "2024-01-03"],
            "give --partition or --start/--end, not both",
        ),
        (["run", "--select", "marts.daily_revenue\n"], "`marts.daily_revenue\\n` contains `\\n`"),
        (["run", "--select", "marts.daily_revenue\t"], "contains `\\t`"),
        (["run", "--select", " marts.daily_revenue"], "contains a space"),
        (["run", "--select", "marts.daily\x00_revenue"], "contains `\\x00`"),
        (["run", "--select", ""], "is empty"),
    ],
)
def test_window_and_selection_errors_exit_two_before_any_job(args: list[str], message: str) -> None:
    today = datetime.now(UTC).date()
    days = {"today": today, "in_30_days": today + timedelta(30), "yesterday": today - timedelta(1)}
    args = [arg.format(**days) if "{" in arg else arg for arg in args]
    message = message.format(**days) if "{" in message else message
    result = _run(GOLDEN, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Running" not in result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_plan_on_duckdb_reports_every_job() -> None:
    result = _run(GOLDEN, "plan", "--start", "2024-01-01", "--end", "2024-01-02")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["model", "window", "job", "processes", "note"]
    assert any(line.startswith("marts.daily_revenue") and "overwrite" in line for line in lines)


def test_plan_selects_models_and_plans_each_over_a_window_it_has() -> None:
    """A daily window does not fit the monthly model, nor static keys the regional one:
    each is planned over its own partitions (plan used to exit 1)."""
    result = _run(
        GOLDEN, "plan", "--select", "marts.monthly", "marts.regional",
        "--start", "2024-01-01", "--end", "2024-01-03",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()[:3]) for line in result.stdout.splitlines()[1:] if line.strip()}
    assert {(model, window) for model, window, _ in rows} == {
        ("marts.monthly", "2024-01-01"),
        ("marts.regional", "eu"),
        ("marts.regional", "us"),
    }
    assert "marts.monthly: planned over its own monthly partitions covering" in result.stderr
    assert "marts.regional: planned over each of its keys: eu, us" in result.stderr


def test_run_selects_materializes_and_summarizes(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    shutil.copytree(ROOT / "gcs", tmp_path / "gcs")
    try:
        result = _run(
            tmp_path,
            "run",
            "--select",
            "+staging.stg_orders",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-04",
        )
    finally:
        DuckDBEngineResource.close_all()
    assert result.exit_code == 0, result.output
    summary = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert summary[0] == ["asset", "window", "status", "rows", "duration", "bytes"]
    rows = {line[0]: line for line in summary[1:]}
    assert set(rows) == {"raw.orders", "staging.stg_orders"}
    assert rows["raw.orders"][1:4] == ["2024-01-01..2024-01-03", "materialized", "+36"]
    assert "2 of 2 model(s) materialized" in result.stderr
    assert "ok  raw.orders" in result.stderr

"""`sqlassets init` writes a project that lints and runs; `sqlassets list` describes models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sqlassets.cli import main
from sqlassets.dagster.resources import DuckDBEngineResource


def _cli(cwd: Path, *args: str) -> Result:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_writes_a_project_that_lints_runs_and_lists(tmp_path: Path) -> None:
    created = _cli(tmp_path, "init", "shop")
    assert created.exit_code == 0, created.output
    root = tmp_path / "shop"
    assert (root / "definitions.py").is_file()
    assert (root / "gcs/landing/orders/orders.csv").is_file()
    pyproject = (root / "pyproject.toml").read_text()
    assert 'name = "shop"' in pyproject
    assert '# engine = "bigquery"' in pyproject
    linted = _cli(root, "lint")
    assert linted.exit_code == 0, linted.output
    assert "All checks passed: 3 file(s), 3 model(s)" in linted.stderr
    try:
        ran = _cli(root, "run")
    finally:
        DuckDBEngineResource.close_all()
    assert ran.exit_code == 0, ran.output
    assert "3 of 3 model(s) materialized" in ran.stderr
    shown = _cli(root, "show", "marts.daily_revenue", "--format", "json")
    assert shown.exit_code == 0, shown.output
    revenue = {
        row["order_date"]: (row["orders"], float(row["revenue"]))
        for row in json.loads(shown.stdout)
    }
    assert revenue == {"2024-01-01": (2, 42.5), "2024-01-02": (2, 27.15), "2024-01-03": (2, 47.1)}
    listed = _cli(root, "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [(row["name"], row["materialized"]) for row in json.loads(listed.stdout)] == [
        ("raw.orders", "load"),
        ("staging.orders", "view"),
        ("marts.daily_revenue", "table"),
    ]


def test_init_refuses_a_non_empty_directory_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    refused = _cli(tmp_path, "init")
    assert refused.exit_code == 2
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    assert not (tmp_path / "pyproject.toml").exists()
    forced = _cli(tmp_path, "init", "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "pyproject.toml").is_file() and (
        tmp_path / "notes.txt"
    ).read_text() == "mine"


def test_list_prints_partitions_schedule_owners_and_takes_select(tmp_path: Path) -> None:
    files = {
        "sql/raw/events.sql": (
            "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
            "-- @start: 2024-01-01\n-- @schedule: 0 3 * * *\n-- @owners: ana@x.com, team:web\n"
            "SELECT DATE '2024-01-01' AS d WHERE DATE '2024-01-01' >= @start_date"
        ),
        "sql/marts/regions.sql": (
            "-- @materialized: merge\n-- @unique_key: r\n-- @partitions: values(eu, us)\n"
            "SELECT @partition_key AS r FROM raw.events"
        ),
        "sql/marts/other.sql": "SELECT 1 AS n",
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    listed = _cli(tmp_path, "list", "--select", "raw.events+")
    assert listed.exit_code == 0, listed.output
    assert [line.split("  ")[0] for line in listed.stdout.splitlines()] == [
        "model",
        "raw.events",
        "marts.regions",
    ]
    lines = {line.split()[0]: " ".join(line.split()) for line in listed.stdout.splitlines()}
    assert lines["raw.events"] == (
        "raw.events insert_overwrite daily from 2024-01-01 0 3 * * * ana@x.com, team:web"
    )
    assert lines["marts.regions"] == "marts.regions merge values(eu, us) - -"
    unknown = _cli(tmp_path, "list", "--select", "marts.nothing")
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output

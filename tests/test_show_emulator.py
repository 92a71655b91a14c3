"""`sqlassets show` on the BigQuery emulator: rows through its Storage Read API, no query job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sqlassets.cli import main
from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.project import load_project
from sqlassets.runner import resolve_window, run_model
from sqlassets.runner.preview import preview, where_condition
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project

pytestmark = pytest.mark.emulator

PROJECT_ID = "test-project"
ROWS = 200_000
MODELS = {
    "sql/marts/events.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
        "-- @start: 2024-01-01\n"
        "SELECT x AS id, DATE_ADD(DATE '2024-01-01', INTERVAL MOD(x, 10) DAY) AS d,\n"
        "  CONCAT('n', CAST(x AS STRING)) AS label\n"
        "FROM src.numbers WHERE DATE_ADD(DATE '2024-01-01', INTERVAL MOD(x, 10) DAY)\n"
        "  BETWEEN @start_date AND DATE_SUB(@end_date, INTERVAL 1 DAY)"
    ),
    "sql/marts/events_view.sql": "-- @materialized: view\nSELECT id FROM marts.events",
    "sql/marts/capped.sql": "-- @maximum_bytes_billed: 10MB\nSELECT x FROM src.numbers",
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        client = running.client()
        client.create_dataset(f"{PROJECT_ID}.src", exists_ok=True)
        client.query(
            "CREATE OR REPLACE TABLE src.numbers AS "
            f"SELECT x FROM UNNEST(GENERATE_ARRAY(0, {ROWS - 1})) AS x"
        ).result()
        yield running


def _materialized(emulator: Emulator, root: Path) -> tuple[Any, BigQueryEngine, Any]:
    project = load_project(write_project(root, MODELS)).raise_for_errors()
    client = emulator.client()
    suffix = f"_{root.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID,
        location="US",
        dataset_suffix=suffix,
        api_endpoint=emulator.endpoint,
        storage_endpoint=emulator.grpc_address,
    )
    engine = BigQueryEngine.from_target(target, client=client)
    model = project.models["marts.events"]
    window = resolve_window(model, None, "2024-01-01", "2024-01-11")
    run_model(project, model, engine, window, JobContext(model.name))
    view = project.models["marts.events_view"]
    run_model(project, view, engine, resolve_window(view), JobContext(view.name))
    return project, engine, client


def test_show_reads_through_the_storage_api_capped_and_filtered(
    emulator: Emulator, tmp_path: Path
) -> None:
    project, engine, client = _materialized(emulator, tmp_path)
    model = project.models["marts.events"]
    sent: list[str] = []
    real_query = client.query

    def recording(sql: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(sql)
        return real_query(sql, *args, **kwargs)

    client.query = recording
    try:
        capped = preview(model, engine, None, (), None, 7)
        window = resolve_window(model, "2024-01-03")
        filtered = preview(
            model, engine, window, ("label", "id", "d"), where_condition("id < 50 AND id > 10"), 100
        )
    finally:
        client.query = real_query
    assert sent == []  # no query job: the rows came through read sessions
    assert capped.source == "storage read API"
    assert len(capped.rows) == 7  # of 200,000
    assert capped.columns == ("id", "d", "label")
    assert filtered.columns == ("label", "id", "d")
    assert sorted(row[1] for row in filtered.rows) == [12, 22, 32, 42]
    assert {str(row[2]) for row in filtered.rows} == {"2024-01-03"}


def _write_target(emulator: Emulator, tmp_path: Path) -> None:
    suffix = f"_{tmp_path.name[-8:].replace('-', '_')}"
    (tmp_path / "pyproject.toml").write_text(
        "[tool.sqlassets]\ntarget = 'emu'\n[tool.sqlassets.targets.emu]\n"
        f"engine = 'bigquery'\nproject = '{PROJECT_ID}'\ndataset_suffix = '{suffix}'\n"
        f"api_endpoint = '{emulator.endpoint}'\nstorage_endpoint = '{emulator.grpc_address}'\n",
        encoding="utf-8",
    )


def test_show_command_on_a_bigquery_target(emulator: Emulator, tmp_path: Path) -> None:
    _materialized(emulator, tmp_path)
    _write_target(emulator, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        result = CliRunner().invoke(
            main,
            [
                *("show", "marts.events", "--partition", "2024-01-05", "--where", "id < 30"),
                *("--columns", "id,d", "--format", "csv"),
            ],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == [
        "14,2024-01-05",
        "24,2024-01-05",
        "4,2024-01-05",
        "id,d",
    ]
    assert "3 row(s) of marts.events (storage read API)" in result.stderr


def test_show_query_prints_the_dry_run_then_runs_a_limited_query(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The refusal above @maximum_bytes_billed is tested on the fake transport
    (tests/test_show.py): the emulator's dry runs report 0 bytes."""
    _materialized(emulator, tmp_path)
    _write_target(emulator, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        shown = CliRunner().invoke(
            main,
            ["show", "marts.capped", "--query", "-n", "25", "--format", "json"],
            catch_exceptions=False,
        )
    assert shown.exit_code == 0, shown.output
    assert "the query would process 0 B" in shown.stderr
    assert len(json.loads(shown.stdout)) == 25
    assert "25 row(s) of marts.capped (query job sqlassets_marts_capped_preview_" in shown.stderr


def test_show_of_a_view_on_bigquery_points_to_query(emulator: Emulator, tmp_path: Path) -> None:
    _materialized(emulator, tmp_path)
    _write_target(emulator, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        refused = CliRunner().invoke(main, ["show", "marts.events_view"], catch_exceptions=False)
        shown = CliRunner().invoke(
            main, ["show", "marts.events_view", "--query", "-n", "3"], catch_exceptions=False
        )
    assert refused.exit_code == 1, refused.output
    assert "is a view: the Storage Read API reads stored tables only" in refused.stderr
    assert shown.exit_code == 0, shown.output
    assert len(shown.stdout.splitlines()) == 1 + 3

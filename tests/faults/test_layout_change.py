"""A changed @partition_by/@cluster_by on an existing BigQuery table (the emulator)
needs --full-refresh, which rebuilds it with the new layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlassets.dagster.run import run_project
from sqlassets.project import load_project
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "layout-project"


def _model(cluster: str) -> str:
    return (
        "-- @materialized: merge\n-- @unique_key: id\n-- @partition_by: d\n"
        f"-- @cluster_by: {cluster}\n"
        "SELECT 1 AS id, 'a' AS kind, 'x' AS shop, DATE '2024-01-01' AS d"
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def test_changed_clustering_needs_full_refresh(emulator: Emulator, tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "sql/marts/m.sql": _model("kind"),
            "pyproject.toml": (
                '[tool.sqlassets.targets.emu]\nengine = "bigquery"\n'
                f'project = "{PROJECT_ID}"\napi_endpoint = "{emulator.endpoint}"\n'
            ),
        },
    )

    def run(full_refresh: bool = False):
        project = load_project(tmp_path, lineage=True).raise_for_errors()
        (outcome,) = run_project(
            project, set(project.models), target="emu", full_refresh=full_refresh
        )
        return outcome

    assert run().status == "materialized"
    client = emulator.client()
    assert client.get_table(f"{PROJECT_ID}.marts.m").clustering_fields == ["kind"]
    (tmp_path / "sql/marts/m.sql").write_text(_model("shop"))
    changed = run()
    assert changed.status == "failed"
    assert "--full-refresh" in changed.message and "shop" in changed.message
    assert client.get_table(f"{PROJECT_ID}.marts.m").clustering_fields == ["kind"]
    assert run(full_refresh=True).status == "materialized"
    table = client.get_table(f"{PROJECT_ID}.marts.m")
    assert table.clustering_fields == ["shop"]
    assert table.time_partitioning.field == "d"
    assert [tuple(row.values()) for row in client.query("SELECT id FROM marts.m").result()] == [
        (1,)
    ]


def _table_model(cluster: str) -> str:
    return (
        "-- @materialized: table\n-- @partition_by: d\n"
        f"-- @cluster_by: {cluster}\n"
        "SELECT 1 AS id, 'a' AS kind, 'x' AS shop, DATE '2024-01-01' AS d"
    )


def test_a_table_model_drops_first_only_when_its_layout_changed(
    emulator: Emulator, tmp_path: Path
) -> None:
    """BigQuery refuses CREATE OR REPLACE with another partitioning or clustering; a
    `table` model is rebuilt whole anyway, so a changed layout drops it first."""
    from sqlassets.engines import open_engine
    from sqlassets.runner import model_jobs, resolve_window

    write_project(
        tmp_path,
        {
            "sql/marts/t.sql": _table_model("kind"),
            "pyproject.toml": (
                '[tool.sqlassets.targets.emu]\nengine = "bigquery"\n'
                f'project = "{PROJECT_ID}"\napi_endpoint = "{emulator.endpoint}"\n'
            ),
        },
    )

    def actions() -> list[str]:
        project = load_project(tmp_path).raise_for_errors()
        model = project.models["marts.t"]
        engine = open_engine(project.config, "emu")
        jobs = model_jobs(project, model, engine, resolve_window(model), check_schema=True)
        return [job.action for job in jobs]

    def run() -> str:
        project = load_project(tmp_path).raise_for_errors()
        (outcome,) = run_project(project, set(project.models), target="emu")
        return outcome.status

    assert run() == "materialized"
    assert actions() == ["replace"]  # the same layout: one job, no drop
    (tmp_path / "sql/marts/t.sql").write_text(_table_model("shop"))
    assert actions() == ["drop", "replace"]
    assert run() == "materialized"
    assert emulator.client().get_table(f"{PROJECT_ID}.marts.t").clustering_fields == ["shop"]
    assert actions() == ["replace"]

"""SA306: a `@partition_by` BigQuery cannot apply to the column's type is refused by lint when the
SQL shows the type (also through the models a query reads), and on every engine by runs and
plan before any write, also where lint cannot know the type (an external source)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.engines import open_engine
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.errors import SchemaChangeError
from sqlassets.job import Naming
from sqlassets.lint import lint_project
from sqlassets.project import load_project
from sqlassets.runner import dry_run, resolve_window, run_model
from sqlassets.strategies.load import staging_table
from tests.fakes.bigquery_transport import FakeBigQuery
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.helpers import write_project

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
BY_TS = (
    "-- @materialized: insert_overwrite\n-- @partitions: daily\n-- @start: 2024-01-01\n"
    "-- @partition_by: ts\n"
    "SELECT ts, n FROM {source} WHERE ts >= @start_ts AND ts < @end_ts"
)
LOCATION = "sql/marts/by_ts.sql:4:4: SA306 "
# Lint cannot see the column types of a table outside the project: run and plan must.
FILES = {"pyproject.toml": PYPROJECT, "sql/marts/by_ts.sql": BY_TS.format(source="ext.events")}


def _external_source(root: Path) -> None:
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute(
            "CREATE SCHEMA ext; CREATE TABLE ext.events AS "
            "SELECT TIMESTAMPTZ '2024-01-01 10:00:00+00' AS ts, 1 AS n"
        )


def _marts_tables(root: Path) -> set[str]:
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
            ).fetchall()
        }


def test_run_refuses_a_timestamp_partition_column_before_writing(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    _external_source(root)
    project = load_project(root, display_base=root).raise_for_errors()
    assert [f.code for f in lint_project(project) if f.code == "SA306"] == []
    (failed,) = run_project(project, set(project.models), start="2024-01-01", end="2024-01-02")
    assert failed.status == "failed"
    assert failed.message.startswith(LOCATION + "`@partition_by: ts` does not fit `ts`, which is "
                                     "TIMESTAMP"), failed.message  # fmt: skip
    assert "write `@partition_by: DATE(ts)`" in failed.message
    assert _marts_tables(root) == set()  # nothing was created or written


@pytest.mark.parametrize("fixed", ["DATE(ts)", "TIMESTAMP_TRUNC(ts, DAY)"])
def test_the_suggested_partitioning_runs(tmp_path: Path, fixed: str) -> None:
    files = dict(FILES)
    files["sql/marts/by_ts.sql"] = files["sql/marts/by_ts.sql"].replace(
        "@partition_by: ts", f"@partition_by: {fixed}"
    )
    root = write_project(tmp_path, files)
    _external_source(root)
    project = load_project(root).raise_for_errors()
    outcomes = run_project(project, set(project.models), start="2024-01-01", end="2024-01-02")
    assert [outcome.status for outcome in outcomes] == ["materialized"]


def test_plan_refuses_it_too(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    _external_source(root)
    project = load_project(root, display_base=root).raise_for_errors()
    engine = open_engine(project.config)
    report = dry_run(project, engine, start="2024-01-01", end="2024-01-02")
    errors = [s for s in report.statements if s.model == "marts.by_ts" and s.action == "error"]
    assert report.failed == 1 and len(errors) == 1
    assert (errors[0].error or "").startswith(LOCATION), errors[0].error
    assert "DATE(ts)" in (errors[0].error or "")


def test_lint_sees_a_type_from_the_upstream_model_as_run_does(tmp_path: Path) -> None:
    """The same finding, at the same place, from lint (offline) and from a run (the engine)."""
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "sql/raw/events.sql": (
                "-- @materialized: table\nSELECT TIMESTAMP '2024-01-01 10:00:00' AS ts, 1 AS n"
            ),
            "sql/marts/by_ts.sql": BY_TS.format(source="raw.events"),
        },
    )
    project = load_project(root, display_base=root).raise_for_errors()
    (finding,) = [f for f in lint_project(project) if f.code == "SA306"]
    assert str(finding).startswith(LOCATION), finding
    assert "(`ts` comes from raw.events, where it is TIMESTAMP)" in finding.message
    outcomes = {
        outcome.name: outcome
        for outcome in run_project(
            project, set(project.models), start="2024-01-01", end="2024-01-02"
        )
    }
    assert outcomes["raw.events"].status == "materialized"
    assert outcomes["marts.by_ts"].message.startswith(LOCATION)
    assert _marts_tables(root) == set()


def test_a_staged_load_refuses_files_with_a_timestamp_partition_column(tmp_path: Path) -> None:
    """The files type a load's columns: checked once staged, before the transaction writes."""
    load = (
        "-- @materialized: load\n-- @format: csv\n-- @uris: gs://land/e/{start_date:%Y%m%d}/*.csv\n"
        "-- @partitions: daily\n-- @start: 2024-01-01\n-- @partition_by: ts\n"
    )
    root = write_project(
        tmp_path, {"pyproject.toml": BIGQUERY_PYPROJECT, "sql/raw/events.sql": load}
    )
    project = load_project(root, display_base=root).raise_for_errors()
    model = project.models["raw.events"]
    window = resolve_window(model, start="2024-01-01", end="2024-01-04")
    staging = staging_table(model.spec, Naming("acme-prod").table(model.spec.name), window)
    fake = FakeBigQuery()
    fields = [{"name": "ts", "type": "TIMESTAMP", "mode": "NULLABLE"}]
    fake.tables[f"raw.{staging.name}"] = {"schema": {"fields": fields}}
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    engine = BigQueryEngine(
        "acme-prod", location="EU", naming=Naming("acme-prod"), client_factory=lambda: client
    )
    with pytest.raises(SchemaChangeError) as raised:
        run_model(project, model, engine, window, JobContext("raw.events", "r1"))
    assert raised.value.message.startswith("sql/raw/events.sql:6:4: SA306 "), raised.value
    sent = [
        body["configuration"]["query"]["query"].split(" ")[0]
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs")
    ]
    assert sent == ["LOAD"]  # the files were staged; no transaction was sent
    assert [path.rsplit("/", 1)[1] for method, path, _ in fake.requests if method == "DELETE"] == [
        staging.name
    ]

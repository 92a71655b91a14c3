"""`sqlassets show` on DuckDB: rows of a model's table, capped, filtered, in three formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sqlassets.cli import main
from sqlassets.config import DuckDBTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.project import load_project
from sqlassets.runner import resolve_window, run_model
from tests.helpers import write_project

ROWS = 200_000
FILES = {
    "pyproject.toml": (
        "[tool.sqlassets]\ntarget = 'local'\n"
        "[tool.sqlassets.targets.local]\nengine = 'duckdb'\npath = 'warehouse.duckdb'\n"
    ),
    "sql/marts/events.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
        "-- @start: 2024-01-01\n"
        "SELECT x AS id, DATE_ADD(DATE '2024-01-01', INTERVAL MOD(x, 10) DAY) AS d,\n"
        "  CONCAT('n', CAST(x AS STRING)) AS label, NULLIF(MOD(x, 3), 0) AS maybe\n"
        f"FROM UNNEST(GENERATE_ARRAY(0, {ROWS - 1})) AS x\n"
        "WHERE DATE_ADD(DATE '2024-01-01', INTERVAL MOD(x, 10) DAY)\n"
        "  BETWEEN @start_date AND DATE_SUB(@end_date, INTERVAL 1 DAY)"
    ),
    "sql/marts/regions.sql": (
        "-- @materialized: merge\n-- @unique_key: region\n-- @partitions: values(eu, us)\n"
        "SELECT @partition_key AS region, 1 AS n"
    ),
    "sql/marts/later.sql": "SELECT 1 AS n",
}


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("show"), FILES)
    project = load_project(root).raise_for_errors()
    engine = DuckDBEngine.from_target(DuckDBTarget(path=str(root / "warehouse.duckdb")))
    with engine:
        model = project.models["marts.events"]
        window = resolve_window(model, None, "2024-01-01", "2024-01-11")
        run_model(project, model, engine, window, JobContext(model.name))
    return root


def _show(root: Path, *args: str) -> Result:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, ["show", *args], catch_exceptions=False)


def test_show_prints_twenty_rows_of_a_large_table_by_default(project_dir: Path) -> None:
    result = _show(project_dir, "marts.events")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "d", "label", "maybe"]
    assert len(lines) == 1 + 20
    assert "NULL" in result.stdout  # maybe is NULL for every third id
    assert "20 row(s) of marts.events (query)" in result.stderr


def test_show_filters_by_window_where_and_columns_in_json_and_csv(project_dir: Path) -> None:
    args = ("--partition", "2024-01-03", "--where", "id < 50 OR id = 102", "--columns", "label,ID")
    result = _show(project_dir, "marts.events", *args, "--format", "json", "-n", "100")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted(rows, key=lambda row: row["id"]) == [
        {"label": f"n{i}", "id": i} for i in (2, 12, 22, 32, 42, 102)
    ]
    window = ("--start", "2024-01-02", "--end", "2024-01-04")
    csv = _show(project_dir, "marts.events", *window, "--where", "id < 13", "--format", "csv")
    assert csv.exit_code == 0, csv.output
    expected = ["id,d,label,maybe", "1,2024-01-02,n1,1", "2,2024-01-03,n2,2"]
    expected += ["11,2024-01-02,n11,2", "12,2024-01-03,n12,"]
    assert sorted(csv.stdout.splitlines()) == sorted(expected)


def test_show_query_previews_the_models_query_with_a_limit(project_dir: Path) -> None:
    args = ("--query", "--partition", "2024-01-05", "--columns", "id", "-n", "3", "--format", "csv")
    result = _show(project_dir, "marts.events", *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "id"
    assert len(result.stdout.splitlines()) == 4
    assert all(int(line) % 10 == 4 for line in result.stdout.splitlines()[1:])
    assert "the query would process" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["marts.event"], "`marts.event` selects no model; did you mean `marts.events`?"),
        (["marts.events", "--where", "1; DROP TABLE x"], "must be one boolean SQL expression"),
        (["marts.events", "--where", "id IN (SELECT 1)"], "a subquery would run a query"),
        (["marts.events", "--where", "d = @start_date"], "@start_date is not bound here"),
        (["marts.events", "--columns", "lable"], "has no column `lable`; did you mean `label`?"),
        (["marts.events", "--partition", "2024-13-01"], "not a daily partition key"),
        (["marts.regions", "--partition", "eu"], "static partitions, which name no column"),
        (["marts.events", "--partition", "2024-01-01", "--start", "2024-01-01"], "not both"),
    ],
)
def test_show_refuses_bad_input_with_exit_two(
    project_dir: Path, args: list[str], message: str
) -> None:
    result = _show(project_dir, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_show_of_a_table_not_built_yet_says_to_run_it(project_dir: Path) -> None:
    result = _show(project_dir, "marts.later")
    assert result.exit_code == 1, result.output
    assert "marts.later has no table yet" in result.stderr
    assert "sqlassets run --select marts.later" in result.stderr


def test_show_query_refuses_a_dry_run_above_maximum_bytes_billed(tmp_path: Path) -> None:
    """On the fake transport: the emulator's dry runs report 0 bytes."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from sqlassets.engines.bigquery import BigQueryEngine
    from sqlassets.errors import EngineError
    from sqlassets.job import Naming
    from sqlassets.runner.preview import query_preview
    from tests.fakes.bigquery_transport import FakeBigQuery

    files = {"sql/marts/capped.sql": "-- @maximum_bytes_billed: 1000\nSELECT 1 AS x"}
    project = load_project(write_project(tmp_path, files)).raise_for_errors()
    fake = FakeBigQuery()
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    engine = BigQueryEngine(
        "acme-prod", naming=Naming(project="acme-prod"), client_factory=lambda: client
    )
    seen: list[int | None] = []
    with pytest.raises(EngineError, match="above its @maximum_bytes_billed of 1,000"):
        query_preview(
            project, project.models["marts.capped"], engine, None, (), None, 5, seen.append
        )
    assert seen == [1_000_000]
    inserted = [
        body for method, path, body in fake.requests if method == "POST" and path.endswith("/jobs")
    ]
    assert [bool(body["configuration"].get("dryRun")) for body in inserted] == [True]

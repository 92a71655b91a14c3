"""Issue 10 on the BigQuery emulator, which enforces ``require_partition_filter``
on queries and lists the jobs a run sent: a second merge run sends no create
job, a model's checks are one query that runs on a table requiring a partition
filter, and ``@merge_filter`` reaches the MERGE."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.api_core.exceptions import BadRequest, NotFound
from google.cloud import bigquery

from sqlassets.cli import main
from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.errors import SchemaChangeError
from sqlassets.lint import lint_project
from sqlassets.project import Project, load_project
from sqlassets.runner import materialize, resolve_window, run_checks
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.fidelity_models import FILTERED, KEYED_BY_DAY
from tests.helpers import write_project

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "test-project"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> tuple[BigQueryEngine, Any, str]:
    client = emulator.client()
    suffix = f"_{tmp_path.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    engine = BigQueryEngine.from_target(target, client=client)
    client.create_dataset(f"{PROJECT_ID}.raw", exists_ok=True)
    client.query(
        "CREATE OR REPLACE TABLE raw.src AS SELECT *, TIMESTAMP(d) AS updated FROM UNNEST(["
        "STRUCT(DATE '2024-01-01' AS d, 1 AS id, 10 AS v), (DATE '2024-01-02', 2, 20), "
        "(DATE '2024-01-02', 3, 30)])"
    ).result()
    return engine, client, suffix


def _project(root: Path, name: str, sql: str) -> Project:
    write_project(root, {f"sql/marts/{name}.sql": sql})
    return load_project(root, display_base=root).raise_for_errors()


def _run(project: Project, engine: BigQueryEngine, name: str, run_id: str, day: str) -> Any:
    model = project.models[name]
    return materialize(project, model, engine, [resolve_window(model, partition=day)], run_id)


def _queries(client: bigquery.Client, run_id: str) -> list[str]:
    """The statements of the jobs a run sent, in the order it sent them."""
    jobs = [
        job
        for job in client.list_jobs(all_users=True)
        if (job.labels or {}).get("dagster_run_id") == run_id
    ]
    return [job.query for job in sorted(jobs, key=lambda job: job.created)]


def test_a_second_merge_run_sends_one_merge_and_one_check_query(env, tmp_path: Path) -> None:
    engine, client, _ = env
    project = _project(tmp_path, "keyed", KEYED_BY_DAY)
    _run(project, engine, "marts.keyed", "first-run", "2024-01-02")
    run = _run(project, engine, "marts.keyed", "second-run", "2024-01-02")
    sent = _queries(client, "second-run")
    assert [sql.split(" ", 1)[0] for sql in sent] == ["MERGE", "SELECT"], sent
    assert [(v.check.name, v.passed) for v in run.checks] == [
        ("not_null_id", True),
        ("unique_d_id", True),
        ("row_count", True),
    ]
    assert dict(run.checks[2].row) == {"row_count": 2}


def test_the_check_query_runs_on_a_table_requiring_a_partition_filter(env, tmp_path: Path) -> None:
    """The emulator refuses a query on such a table without a WHERE on its partition column.

    (It refuses every MERGE into one, whatever its ``ON``: it runs a MERGE as a
    join and looks for the filter in WHERE only. The window in ``ON`` is asserted
    on the fake transport, tests/test_bigquery_fidelity.py.)
    """
    engine, client, suffix = env
    project = _project(tmp_path, "keyed", KEYED_BY_DAY)
    _run(project, engine, "marts.keyed", "before", "2024-01-02")
    table = f"marts{suffix}.keyed"
    client.query(f"ALTER TABLE {table} SET OPTIONS (require_partition_filter = TRUE)").result()
    with pytest.raises(BadRequest, match="partition elimination"):
        client.query(f"SELECT COUNT(*) FROM {table}").result()
    model = project.models["marts.keyed"]
    window = resolve_window(model, partition="2024-01-02")
    outcomes = run_checks(
        model,
        engine,
        engine.naming.table(model.spec.name),
        window,
        JobContext("marts.keyed", run_id="checks"),
    )
    assert [(outcome.check.name, outcome.passed, dict(outcome.row)) for outcome in outcomes] == [
        ("not_null_id", True, {"failures": 0}),
        ("unique_d_id", True, {"failures": 0}),
        ("row_count", True, {"row_count": 2}),
    ]


def test_a_merge_with_merge_filter_upserts(env, tmp_path: Path) -> None:
    engine, client, suffix = env
    project = _project(tmp_path, "filtered", FILTERED)
    for day in ("2024-01-01", "2024-01-02", "2024-01-02"):
        run = _run(project, engine, "marts.filtered", f"filter-{day}", day)
        assert [verdict.passed for verdict in run.checks] == [True]
    (merge,) = [sql for sql in _queries(client, "filter-2024-01-02") if sql.startswith("MERGE")]
    assert "ON _t.id = _s.id AND (_t.d >= DATE_SUB(@start_date, INTERVAL '7' DAY))" in merge
    rows = client.query(f"SELECT id, d FROM marts{suffix}.filtered ORDER BY id").result()
    assert [tuple(row.values()) for row in rows] == [
        (1, date(2024, 1, 1)),
        (2, date(2024, 1, 2)),
        (3, date(2024, 1, 2)),
    ]


# ---------------------------------------------------------------- sqlassets plan (item 4)

ROOT = Path(__file__).resolve().parent.parent


def _plan(root: Path, *args: str) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, ["plan", *args], catch_exceptions=False)


def _emulator_target(emulator: Emulator, suffix: str) -> str:
    return (
        '[tool.sqlassets]\nsql_dir = "sql"\ntarget = "emu"\n\n[tool.sqlassets.targets.emu]\n'
        f'engine = "bigquery"\nproject = "{PROJECT_ID}"\nlocation = "US"\n'
        f'dataset_suffix = "{suffix}"\napi_endpoint = "{emulator.endpoint}"\n'
    )


def _rows(stdout: str) -> list[list[str]]:
    """The table of ``plan``: model, window, job, processes (mark and size), note."""
    lines = stdout.split("\n\n")[0].splitlines()
    assert lines[0].split() == ["model", "window", "job", "processes", "note"]
    return [line.split() for line in lines[1:]]


def test_plan_of_the_fresh_example_project_exits_0_with_bytes_per_model_and_window(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Nothing exists yet: no dataset, no table. It used to exit 1 (notFound, static keys, a
    monthly model in a daily window); now each model has figures over its own window."""
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    suffix = f"_{tmp_path.name[-8:].replace('-', '_')}"
    (tmp_path / "pyproject.toml").write_text(_emulator_target(emulator, suffix))
    result = _plan(tmp_path, "--start", "2024-01-01", "--end", "2024-01-03")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    by_model: dict[str, set[str]] = {}
    for row in rows:
        assert row[3] in {"0", "≥", "skipped"} or row[3][0].isdigit(), row
        by_model.setdefault(row[0], set()).add(row[1])
    assert set(by_model) == {
        "raw.customers", "raw.order_items", "raw.orders", "raw.products", "raw.web_events",
        "staging.stg_customers", "staging.stg_order_items", "staging.stg_orders",
        "staging.stg_products", "marts.customers", "marts.customer_segments",
        "marts.daily_revenue", "marts.daily_traffic", "marts.monthly_revenue",
        "marts.products", "marts.regional_sales",
    }  # fmt: skip
    assert by_model["marts.daily_revenue"] == {"2024-01-01..2024-01-02"}
    assert by_model["marts.monthly_revenue"] == {"2024-01-01"}  # its own monthly partition
    assert by_model["marts.regional_sales"] == {"eu", "us"}  # each static key
    reads = ["reads", "staging.stg_order_items,", "staging.stg_orders:", "not", "built", "yet"]
    assert ["marts.daily_revenue", "2024-01-01..2024-01-02", "query", "≥", "0", "B", *reads] in rows
    assert ["raw.customers", "all", "load", "0", "B", "load", "jobs", "are", "free"] in rows
    target = [row for row in rows if row[:3] == ["marts.customers", "all", "target"]]
    assert target and target[0][3:5] == ["skipped", "skipped:"], target
    assert "\ntotal: ≥ 0 B\n≈ estimate" in result.stdout
    assert "marts.monthly_revenue: planned over its own monthly partitions" in result.stderr
    assert client_datasets(emulator, suffix) == []  # a plan creates nothing


def client_datasets(emulator: Emulator, suffix: str) -> list[str]:
    return [
        d.dataset_id for d in emulator.client().list_datasets() if d.dataset_id.endswith(suffix)
    ]


def test_plan_dry_runs_the_merges_target_read_once_the_table_exists(
    emulator: Emulator, env, tmp_path: Path
) -> None:
    """The emulator accepts the stand-in read of the target (it reports 0 bytes for every
    dry run: the figures added are asserted on the fake transport)."""
    engine, _, suffix = env
    write_project(tmp_path, {"pyproject.toml": _emulator_target(emulator, suffix)})
    project = _project(tmp_path, "keyed", KEYED_BY_DAY)
    _run(project, engine, "marts.keyed", "build", "2024-01-02")
    result = _plan(tmp_path, "--select", "marts.keyed", "--partition", "2024-01-02")
    assert result.exit_code == 0, result.output
    assert _rows(result.stdout) == [
        ["marts.keyed", "2024-01-02", "query", "0", "B"],
        ["marts.keyed", "2024-01-02", "target", "≈", "0", "B", "a", "MERGE", "reads", "the",
         "target's", "columns"],
    ]  # fmt: skip


# ---------------------------------------------------------------- partition column type (item 2)

BY_UPDATED = """\
-- @materialized: insert_overwrite
-- @partitions: daily
-- @start: 2024-01-01
-- @partition_by: updated
SELECT updated, id FROM raw.src WHERE updated >= @start_ts AND updated < @end_ts
"""
SA306_AT = "sql/marts/by_updated.sql:4:4: SA306 `@partition_by: updated` does not fit `updated`"


def test_a_run_refuses_a_timestamp_partition_column_before_any_job(env, tmp_path: Path) -> None:
    """raw.src is outside the project: lint cannot know `updated` is a TIMESTAMP; the run
    learns it from the query's dry run and stops with lint's located finding, sending nothing."""
    engine, client, suffix = env
    project = _project(tmp_path, "by_updated", BY_UPDATED)
    assert [f for f in lint_project(project) if f.code == "SA306"] == []
    with pytest.raises(SchemaChangeError) as raised:
        _run(project, engine, "marts.by_updated", "typed", "2024-01-02")
    assert raised.value.message.startswith(SA306_AT), raised.value.message
    assert "which is TIMESTAMP: BigQuery refuses it; write `@partition_by: DATE(updated)`" in (
        raised.value.message
    )
    assert _queries(client, "typed") == []  # no job: no create, no insert
    with pytest.raises(NotFound):
        client.get_table(f"{PROJECT_ID}.marts{suffix}.by_updated")
    fixed = _project(
        tmp_path,
        "by_updated",
        BY_UPDATED.replace("@partition_by: updated", "@partition_by: DATE(updated)"),
    )
    _run(fixed, engine, "marts.by_updated", "fixed", "2024-01-02")
    rows = client.query(f"SELECT id FROM marts{suffix}.by_updated ORDER BY id").result()
    assert [row.id for row in rows] == [2, 3]


def test_plan_refuses_it_with_the_same_located_error(
    emulator: Emulator, env, tmp_path: Path
) -> None:
    _, _, suffix = env
    write_project(tmp_path, {"pyproject.toml": _emulator_target(emulator, suffix)})
    _project(tmp_path, "by_updated", BY_UPDATED)
    result = _plan(tmp_path, "--partition", "2024-01-02")
    assert result.exit_code == 1, result.output
    assert SA306_AT in result.stdout, result.output
    assert "write `@partition_by: DATE(updated)`" in result.stdout

"""What BigQuery accepts and bills (issue 10, items 1, 7, 8, 10, 11), where DuckDB or
the fake transport can show it: temp functions in incremental models, the window
(or ``@merge_filter``) in a merge's ``ON``, one check query per model, the 404
that may follow a 409, and a create job that lost a race."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine, RetryPolicy
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import EngineError
from sqlassets.job import Naming
from sqlassets.project import Project, load_project
from sqlassets.runner import dry_run, materialize, model_jobs, resolve_window, run_model
from tests.fakes.bigquery_transport import FakeBigQuery, Outcome
from tests.fidelity_models import (
    BIGQUERY_PYPROJECT,
    FILTERED,
    KEYED_BY_DAY,
    TEMP_MERGE,
    TEMP_OVERWRITE,
    TEMP_STAR,
)
from tests.helpers import write_project


def _project(root: Path, models: dict[str, str], config: str = BIGQUERY_PYPROJECT) -> Project:
    files = {"pyproject.toml": config, **{f"sql/{k}.sql": v for k, v in models.items()}}
    write_project(root, files)
    return load_project(root, display_base=root).raise_for_errors()


# ---------------------------------------------------------------- DuckDB


def _duckdb_source(engine: DuckDBEngine) -> None:
    engine.connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    engine.connection.execute(
        "CREATE OR REPLACE TABLE raw.src AS SELECT * FROM (VALUES "
        "(DATE '2024-01-01', 1, 10), (DATE '2024-01-01', 2, 20), (DATE '2024-01-02', 3, 30)) "
        "AS t(d, id, v)"
    )


@pytest.mark.parametrize("name", ["marts.temp_merge", "marts.temp_overwrite"])
def test_temp_functions_in_incremental_models_run_twice_on_duckdb(
    tmp_path: Path, name: str
) -> None:
    """Run 1 used to fail (the macro existed already), run 2 too (the probe lacked it)."""
    project = _project(
        tmp_path, {"marts/temp_merge": TEMP_MERGE, "marts/temp_overwrite": TEMP_OVERWRITE}
    )
    model = project.models[name]
    window = resolve_window(model, partition="2024-01-01") if model.spec.partitions else None
    windows = [window] if window else [resolve_window(model)]
    database = tmp_path / "warehouse.duckdb"
    for run in ("first", "second"):  # each on a fresh connection, as each `sqlassets run` is
        with DuckDBEngine(database) as engine:
            _duckdb_source(engine)
            materialize(project, model, engine, windows, run_id=run)
    with duckdb.connect(str(database)) as connection:
        rows = connection.execute(f"SELECT id, w FROM {name} ORDER BY id").fetchall()
    assert rows == [(1, 11), (2, 21)] + ([(3, 31)] if name == "marts.temp_merge" else [])


def test_merges_with_the_window_or_a_merge_filter_in_on_upsert_on_duckdb(tmp_path: Path) -> None:
    project = _project(tmp_path, {"marts/keyed": KEYED_BY_DAY, "marts/filtered": FILTERED})
    database = tmp_path / "warehouse.duckdb"
    with DuckDBEngine(database) as engine:
        _duckdb_source(engine)
        engine.connection.execute(
            "CREATE OR REPLACE TABLE raw.src AS SELECT *, CAST(d AS TIMESTAMP) AS updated "
            "FROM raw.src"
        )
        for name in ("marts.keyed", "marts.filtered"):
            model = project.models[name]
            for day in ("2024-01-01", "2024-01-02", "2024-01-02"):
                run = materialize(
                    project, model, engine, [resolve_window(model, partition=day)], day
                )
                assert all(verdict.passed for verdict in run.checks)
        keyed = engine.connection.execute("SELECT d, id, v FROM marts.keyed ORDER BY id").fetchall()
        filtered = engine.connection.execute("SELECT id FROM marts.filtered ORDER BY id").fetchall()
    assert [row[1:] for row in keyed] == [(1, 10), (2, 20), (3, 30)]
    assert filtered == [(1,), (2,), (3,)]


def test_a_merge_keyed_on_its_partition_refuses_rows_outside_the_window(tmp_path: Path) -> None:
    """Such a row would match nothing in the window and be inserted twice: the job fails."""
    leaky = KEYED_BY_DAY.replace("WHERE d >= @start_date AND d < @end_date", "WHERE d <= @end_date")
    project = _project(tmp_path, {"marts/keyed": leaky})
    model = project.models["marts.keyed"]
    with DuckDBEngine(tmp_path / "warehouse.duckdb") as engine:
        _duckdb_source(engine)
        with pytest.raises(EngineError, match="a row outside the run window"):
            materialize(
                project, model, engine, [resolve_window(model, partition="2024-01-01")], "r"
            )
        assert engine.connection.execute("SELECT COUNT(*) FROM marts.keyed").fetchall() == [(0,)]


# ---------------------------------------------------------------- the fake transport


def _engine(fake: FakeBigQuery, **options: Any) -> BigQueryEngine:
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    sleeps: list[float] = []
    engine = BigQueryEngine(
        "acme-prod",
        location="EU",
        naming=Naming(project="acme-prod"),
        client_factory=lambda: client,
        sleep=sleeps.append,
        request_retry=Retry(initial=0.001, maximum=0.001, multiplier=1, timeout=5),
        **options,
    )
    engine.sleeps = sleeps  # type: ignore[attr-defined]
    return engine


def _inserts(fake: FakeBigQuery) -> list[dict[str, Any]]:
    return [
        body or {}
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs")
    ]


def _sent(fake: FakeBigQuery, dry_run: bool = False) -> list[str]:
    """The query text of every job inserted (dry runs or real ones), in order."""
    return [
        body["configuration"]["query"]["query"]
        for body in _inserts(fake)
        if bool(body["configuration"].get("dryRun")) == dry_run
    ]


def _existing(fake: FakeBigQuery, table: str, fields: list[tuple[str, str]]) -> None:
    """``table`` exists with ``fields``; dry runs report the same columns."""
    schema = [{"name": name, "type": kind, "mode": "NULLABLE"} for name, kind in fields]
    fake.tables[table] = {"schema": {"fields": schema}}
    fake.result_schema = schema


@pytest.mark.parametrize(
    ("name", "exists"),
    [("marts.temp_merge", True), ("marts.temp_star", False)],
    ids=["schema-check-of-an-existing-table", "columns-of-select-star"],
)
def test_bigquery_schema_probes_carry_the_temp_functions(
    tmp_path: Path, name: str, exists: bool
) -> None:
    """``CREATE TEMP FUNCTION …; SELECT …`` is one query to BigQuery: the probe sends both."""
    project = _project(tmp_path, {"marts/temp_merge": TEMP_MERGE, "marts/temp_star": TEMP_STAR})
    fake = FakeBigQuery()
    if exists:
        _existing(fake, name, [("id", "INTEGER"), ("w", "INTEGER")])
    else:
        fake.result_schema = [{"name": "id", "type": "INTEGER"}, {"name": "w", "type": "INTEGER"}]
    engine = _engine(fake)
    model = project.models[name]
    run_model(project, model, engine, resolve_window(model), JobContext(name, run_id="r"))
    (probe,) = _sent(fake, dry_run=True)
    assert probe.startswith("CREATE TEMPORARY FUNCTION plus1(x INT64) AS (x + 1);\nSELECT ")
    assert probe.endswith("FROM raw.src" + ("" if exists else ")"))


def test_a_merge_keyed_on_its_partition_column_reads_only_the_window(tmp_path: Path) -> None:
    """The window in ``ON``, on the target: BigQuery prunes the target's partitions."""
    project = _project(tmp_path, {"marts/keyed": KEYED_BY_DAY})
    model = project.models["marts.keyed"]
    engine = _engine(FakeBigQuery())
    jobs = model_jobs(project, model, engine, resolve_window(model, partition="2024-01-02"))
    merge = jobs[-1]
    sql = merge.sql("bigquery")
    assert (
        " ON _t.d = _s.d AND _t.id = _s.id AND (_t.d >= @start_date AND _t.d < @end_date) WHEN "
        in sql
    )
    # The source is guarded to the window: a row outside it would become a duplicate.
    assert "USING (SELECT IF(_s.d >= @start_date AND _s.d < @end_date, _s.d, ERROR(" in sql
    assert [p.name for p in merge.parameters] == ["end_date", "start_date"]


def test_merge_filter_is_anded_into_on(tmp_path: Path) -> None:
    project = _project(tmp_path, {"marts/filtered": FILTERED})
    model = project.models["marts.filtered"]
    engine = _engine(FakeBigQuery())
    jobs = model_jobs(project, model, engine, resolve_window(model, partition="2024-01-02"))
    sql = jobs[-1].sql("bigquery")
    assert " ON _t.id = _s.id AND (_t.d >= DATE_SUB(@start_date, INTERVAL '7' DAY)) WHEN " in sql
    assert "ERROR(" not in sql  # the partition column is not in the key: no window, no guard
    assert [p.name for p in jobs[-1].parameters] == ["end_ts", "start_date", "start_ts"]


def test_a_second_merge_run_sends_no_create_and_one_check_query(tmp_path: Path) -> None:
    project = _project(tmp_path, {"marts/keyed": KEYED_BY_DAY})
    model = project.models["marts.keyed"]
    fake = FakeBigQuery()
    _existing(fake, "marts.keyed", [("d", "DATE"), ("id", "INTEGER"), ("v", "INTEGER")])
    fake.tables["marts.keyed"]["timePartitioning"] = {"type": "DAY", "field": "d"}
    names = ("not_null_id", "unique_d_id", "row_count")
    counts = [{"name": name, "type": "INTEGER"} for name in names]
    fake.answer = lambda sql: (counts, [["0", "0", "2"]]) if "AS row_count FROM (" in sql else None
    engine = _engine(fake)
    window = resolve_window(model, partition="2024-01-02")
    run = materialize(project, model, engine, [window], run_id="second")
    sent = _sent(fake)
    assert [sql.split(" ", 1)[0] for sql in sent] == ["MERGE", "SELECT"]
    assert sent[1] == (
        "SELECT COUNTIF(_t.id IS NULL) AS not_null_id, COUNTIF(_t._sqlassets_unique_d_id = 2) "
        "AS unique_d_id, COUNT(*) AS row_count FROM (SELECT _t.id, ROW_NUMBER() OVER "
        "(PARTITION BY _t.d, _t.id) AS "
        "_sqlassets_unique_d_id FROM `acme-prod`.marts.keyed AS _t WHERE _t.d >= @start_date "
        "AND _t.d < @end_date) AS _t"
    )
    assert [(v.check.name, v.passed, dict(v.row)) for v in run.checks] == [
        ("not_null_id", True, {"failures": 0}),
        ("unique_d_id", True, {"failures": 0}),
        ("row_count", True, {"row_count": 2}),
    ]


def _lost_insert(tmp_path: Path, attempts: int, not_found: int) -> tuple[FakeBigQuery, Any, Any]:
    """(fake, engine, merge job): the job's insert response is lost, jobs.get then 404s."""
    project = _project(tmp_path, {"marts/temp_merge": TEMP_MERGE})
    model = project.models["marts.temp_merge"]
    fake = FakeBigQuery()
    engine = _engine(fake, retry_policy=RetryPolicy(max_attempts=attempts))
    job = model_jobs(project, model, engine, resolve_window(model))[-1]
    fake.outcomes = [Outcome(lose_response=True)]
    fake.jobs_get_not_found = not_found
    return fake, engine, job


def test_a_404_right_after_a_409_is_retried_then_attaches(tmp_path: Path) -> None:
    """python-bigquery#2134: jobs.get may not find the job the 409 said exists."""
    fake, engine, job = _lost_insert(tmp_path, attempts=5, not_found=3)
    result = engine.execute(job, JobContext("marts.temp_merge", run_id="r404"))
    assert result.attached is True
    assert fake.executions == {result.job_id: 1}
    assert len(engine.sleeps) == 3


def test_a_404_after_a_409_that_never_clears_fails_named(tmp_path: Path) -> None:
    fake, engine, job = _lost_insert(tmp_path, attempts=3, not_found=10**6)
    with pytest.raises(EngineError, match="notFound") as raised:
        engine.execute(job, JobContext("marts.temp_merge", run_id="r404x"))
    assert raised.value.job_id is not None and raised.value.job_id in raised.value.message
    assert fake.executions == {raised.value.job_id: 1}  # never run twice
    assert len(engine.sleeps) == 2


def test_a_create_that_lost_the_race_to_another_run_succeeds(tmp_path: Path) -> None:
    project = _project(tmp_path, {"marts/temp_merge": TEMP_MERGE})
    model = project.models["marts.temp_merge"]
    fake = FakeBigQuery()
    engine = _engine(fake)
    create = model_jobs(project, model, engine, resolve_window(model))[0]
    assert create.action == "create"
    fake.outcomes = [Outcome(job_error="duplicate", message="Already Exists: Table x")]
    result = engine.execute(create, JobContext("marts.temp_merge", run_id="race"))
    assert result.action == "create"
    assert len(fake.executions) == 1
    # Any other job failing with `duplicate` still fails.
    merge = model_jobs(project, model, engine, resolve_window(model))[1]
    fake.outcomes = [Outcome(job_error="duplicate", message="Already Exists: Table x")]
    with pytest.raises(EngineError, match="duplicate"):
        engine.execute(merge, JobContext("marts.temp_merge", run_id="race"))


# ---------------------------------------------------------------- sqlassets plan (item 4)

LOADED = """\
-- @materialized: load
-- @format: parquet
-- @uris: gs://landing/src/*.parquet
"""


def _figures(report: Any) -> list[tuple[str, str, str, int | None, str]]:
    return [
        (row.model, row.window, row.action, row.result.bytes_processed, row.bound.value)
        for row in report.statements
    ]


def _bytes_by_statement(sql: str) -> int:
    """Distinct sizes: the source, the target's stand-in read, anything else (a script)."""
    if sql.startswith("SELECT * FROM `acme-prod`.marts."):
        return 200
    return 1000 if "FROM raw.src" in sql and "BEGIN" not in sql else 7


def test_plan_adds_the_targets_columns_a_merge_reads_to_its_query(tmp_path: Path) -> None:
    """The MERGE itself is never dry-run (notFound on a fresh table, q + t on BigQuery): the
    query is, then a read of the target limited as the MERGE's ON limits it (≈)."""
    project = _project(tmp_path, {"marts/keyed": KEYED_BY_DAY})
    fake = FakeBigQuery()
    fake.bytes_of = _bytes_by_statement
    _existing(fake, "marts.keyed", [("d", "DATE"), ("id", "INTEGER"), ("v", "INTEGER")])
    report = dry_run(project, _engine(fake), partition="2024-01-02")
    assert _sent(fake, dry_run=True) == [
        "SELECT d, id, v FROM raw.src WHERE d >= @start_date AND d < @end_date",
        "SELECT * FROM `acme-prod`.marts.keyed AS _t "
        "WHERE _t.d >= @start_date AND _t.d < @end_date",
    ]
    assert _figures(report) == [
        ("marts.keyed", "2024-01-02", "query", 1000, ""),
        ("marts.keyed", "2024-01-02", "target", 200, "≈"),
    ]
    assert (report.bytes_processed, report.bound.value, report.failed) == (1200, "≈", 0)


def test_plan_dry_runs_temp_functions_and_the_select_as_one_query_not_the_script(
    tmp_path: Path,
) -> None:
    """The overwrite's script (BEGIN; DELETE; INSERT; COMMIT) would be validated up to its
    first DDL statement only; the DELETE of whole partitions adds nothing."""
    project = _project(tmp_path, {"marts/temp_overwrite": TEMP_OVERWRITE})
    fake = FakeBigQuery()
    fake.bytes_of = _bytes_by_statement
    _existing(fake, "marts.temp_overwrite", [("d", "DATE"), ("id", "INTEGER"), ("w", "INTEGER")])
    report = dry_run(project, _engine(fake), partition="2024-01-02")
    assert _sent(fake, dry_run=True) == [
        "CREATE TEMPORARY FUNCTION plus1(x INT64) AS (x + 1);\n"
        "SELECT d, id, plus1(v) AS w FROM raw.src WHERE d >= @start_date AND d < @end_date"
    ]
    assert _figures(report) == [
        ("marts.temp_overwrite", "2024-01-02", "query", 1000, ""),
        ("marts.temp_overwrite", "2024-01-02", "target", 0, ""),
    ]
    assert report.statements[1].note == "a DELETE of whole partitions is free"


def test_plan_skips_the_target_of_a_table_not_built_yet_and_bounds_its_readers(
    tmp_path: Path,
) -> None:
    """A fresh project: the load is free, its reader's query cannot be dry-run yet (≥ 0),
    the merge target does not exist (skipped, said so); nothing is sent but table lookups."""
    reader = KEYED_BY_DAY.replace("FROM raw.src", "FROM raw.loaded")
    project = _project(tmp_path, {"raw/loaded": LOADED, "marts/keyed": reader})
    fake = FakeBigQuery()
    report = dry_run(project, _engine(fake), partition="2024-01-02")
    assert _sent(fake, dry_run=True) == []
    assert _figures(report) == [
        ("raw.loaded", "all", "load", 0, ""),
        ("marts.keyed", "2024-01-02", "query", 0, "≥"),
        ("marts.keyed", "2024-01-02", "target", None, ""),
    ]
    assert [row.note for row in report.statements] == [
        "load jobs are free",
        "reads raw.loaded: not built yet",
        "skipped: `acme-prod`.marts.keyed does not exist yet",
    ]
    assert (report.bound.value, report.failed) == ("≥", 0)

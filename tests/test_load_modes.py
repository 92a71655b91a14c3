"""``@load_mode: overwrite | append`` on load models (issue 13, item 3).

An append adds each partition's files to the table and tags their rows with
the partition's key (``_sqlassets_partition``); a re-run of a window first
deletes the rows its partitions' files gave, in the same transaction, so it
never duplicates them. On DuckDB through the local ``gcs_root`` folder and
Dagster's own machinery; on BigQuery on the fake transport (the emulator has
no ``LOAD DATA``), asserting the statements sent, and on the emulator for the
write itself (tests/test_load_modes_emulator.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.engines import open_engine
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.errors import EngineError, SchemaChangeError
from sqlassets.job import Naming
from sqlassets.lint import lint_project
from sqlassets.project import Project, load_project
from sqlassets.runner import dry_run, model_jobs, resolve_window, run_model
from sqlassets.spec import LoadMode
from sqlassets.strategies.load import partition_windows, staging_table
from tests.fakes.bigquery_transport import FakeBigQuery, Outcome
from tests.fidelity_models import APPEND_EVENTS as EVENTS
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.helpers import write_project

PYPROJECT = (
    "[tool.sqlassets.targets.local]\n"
    'engine = "duckdb"\npath = "warehouse.duckdb"\ngcs_root = "gcs"\n'
)


@pytest.fixture(autouse=True)
def _close_engines() -> Any:
    yield
    DuckDBEngineResource.close_all()


def _lint(root: Path, sql: str) -> list[str]:
    write_project(root, {"pyproject.toml": PYPROJECT, "sql/raw/events.sql": sql})
    project = load_project(root, lineage=True)
    return [str(d).removeprefix(f"{root}/") for d in lint_project(project)]


# ------------------------------------------------------------------ directive and lint


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        (
            EVENTS.replace("append", "apend"),
            "sql/raw/events.sql:2:16: SA102 `apend` is not one of overwrite, append; "
            "did you mean `append`?",
        ),
        (
            # Every run reads the same files: each would add them again.
            "-- @materialized: load\n-- @uris: gs://land/snap/*.parquet\n-- @load_mode: append\n",
            "sql/raw/events.sql:3:4: SA109 @load_mode: append works partition by partition and "
            "needs time @partitions",
        ),
        (
            EVENTS.replace("{start_date}", "all"),
            "sql/raw/events.sql:2:4: SA109 @load_mode: append needs URIs that name each "
            "partition's files",
        ),
        (
            EVENTS.replace("{start_date}", "{start_date:%m}"),
            "sql/raw/events.sql:3:4: SA110 partitions 2024-01-01 and 2024-01-02 both read "
            "`gs://land/events/01/*.parquet`: the file sensor, the clean-up and an append",
        ),
        (
            "-- @load_mode: append\nSELECT 1 AS x\n",
            "sql/raw/events.sql:1:4: SA104 @load_mode only applies to `@materialized: load`",
        ),
    ],
)
def test_lint_locates_a_bad_load_mode(tmp_path: Path, sql: str, found: str) -> None:
    shown = _lint(tmp_path, sql)
    assert any(line.startswith(found) for line in shown), shown


def test_an_append_needs_no_partition_by_and_may_be_finer_than_its_table(
    tmp_path: Path,
) -> None:
    """It replaces rows by the partition of their files, not by a column: hourly files
    into a day-partitioned table are fine (an overwrite refuses both, SA104)."""
    unpartitioned = EVENTS.replace("-- @partition_by: DATE(ts)\n", "")
    assert _lint(tmp_path / "a", unpartitioned) == []
    hourly_files = EVENTS.replace("daily", "hourly").replace(
        "{start_date}", "{start_date:%Y%m%d%H}"
    )
    assert _lint(tmp_path / "b", hourly_files) == []
    overwrite = unpartitioned.replace("append", "overwrite")
    assert any(" SA104 a partitioned load " in line for line in _lint(tmp_path / "c", overwrite))
    finer = hourly_files.replace("append", "overwrite")
    assert any(" SA104 hourly partitions " in line for line in _lint(tmp_path / "d", finer))


def test_overwrite_is_the_default_and_the_same_statements(tmp_path: Path) -> None:
    without = EVENTS.replace("-- @load_mode: append\n", "")
    explicit = EVENTS.replace("append", "overwrite")
    sent = []
    for index, sql in enumerate((without, explicit)):
        root = write_project(
            tmp_path / str(index), {"pyproject.toml": PYPROJECT, "sql/raw/events.sql": sql}
        )
        project = load_project(root).raise_for_errors()
        model = project.models["raw.events"]
        assert model.spec.materialization.load_mode is LoadMode.OVERWRITE
        engine = open_engine(project.config)
        window = resolve_window(model, start="2024-01-01", end="2024-01-03")
        sent.append([job.sql() for job in model_jobs(project, model, engine, window)])
    assert sent[0] == sent[1]
    assert "_sqlassets_partition" not in "".join(sent[0])


# ------------------------------------------------------------------ DuckDB: the local folder


def _parquet(root: Path, day: str, name: str, ids: range, at: str | None = None) -> None:
    """A file of rows ``ids`` landed in ``day``'s folder; their events happened at ``at``."""
    path = root / "gcs" / "land" / "events" / day / name
    path.parent.mkdir(parents=True, exist_ok=True)
    moment = at or f"{day} 10:00"
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT range AS id, TIMESTAMP '{moment}' AS ts FROM range({ids.start}, "
            f"{ids.stop})) TO '{path}' (FORMAT parquet)"
        )


def _rows(root: Path) -> list[tuple[Any, ...]]:
    DuckDBEngineResource.close_all()
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(
            "SELECT _sqlassets_partition, count(*), min(id), max(id) FROM raw.events "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()


def _duckdb_project(root: Path, sql: str = EVENTS) -> Project:
    write_project(root, {"pyproject.toml": PYPROJECT, "sql/raw/events.sql": sql})
    return load_project(root).raise_for_errors()


def _run(project: Project, **window: str) -> str:
    (outcome,) = run_project(project, {"raw.events"}, **window)
    return f"{outcome.status} {outcome.message or ''}".strip()


def test_append_on_duckdb_is_idempotent_per_window(tmp_path: Path) -> None:
    project = _duckdb_project(tmp_path)
    _parquet(tmp_path, "2024-01-01", "a.parquet", range(0, 2))
    # A late file: landed on the 2nd, its events of the 1st (an overwrite would refuse it).
    _parquet(tmp_path, "2024-01-02", "a.parquet", range(10, 13), at="2024-01-01 23:00")
    _parquet(tmp_path, "2024-01-03", "a.parquet", range(20, 21))
    assert _run(project, start="2024-01-01", end="2024-01-03") == "materialized"
    two_days = [("2024-01-01", 2, 0, 1), ("2024-01-02", 3, 10, 12)]
    assert _rows(tmp_path) == two_days
    assert _run(project, start="2024-01-01", end="2024-01-03") == "materialized"
    assert _rows(tmp_path) == two_days  # the same window again: no row twice
    assert _run(project, partition="2024-01-02") == "materialized"
    assert _rows(tmp_path) == two_days  # a partition of it again: the same
    assert _run(project, partition="2024-01-03") == "materialized"
    assert _rows(tmp_path) == [*two_days, ("2024-01-03", 1, 20, 20)]  # appended


def test_a_rerun_replaces_the_rows_of_relanded_files_only(tmp_path: Path) -> None:
    project = _duckdb_project(tmp_path)
    _parquet(tmp_path, "2024-01-01", "a.parquet", range(0, 2))
    _parquet(tmp_path, "2024-01-02", "a.parquet", range(10, 13))
    assert _run(project, start="2024-01-01", end="2024-01-03") == "materialized"
    _parquet(tmp_path, "2024-01-02", "a.parquet", range(10, 11))  # corrected: one row
    _parquet(tmp_path, "2024-01-02", "b.parquet", range(15, 17))  # and a second file
    assert _run(project, partition="2024-01-02") == "materialized"
    assert _rows(tmp_path) == [("2024-01-01", 2, 0, 1), ("2024-01-02", 3, 10, 16)]


def test_a_failed_append_writes_nothing(tmp_path: Path) -> None:
    """The 2nd's files are missing: the 1st's rows are not written either (one transaction)."""
    project = _duckdb_project(tmp_path)
    _parquet(tmp_path, "2024-01-01", "a.parquet", range(0, 2))
    assert _run(project, partition="2024-01-01") == "materialized"
    _parquet(tmp_path, "2024-01-01", "b.parquet", range(5, 9))
    outcome = _run(project, start="2024-01-01", end="2024-01-03")
    assert outcome.startswith("failed"), outcome
    assert "2024-01-02" in outcome
    assert _rows(tmp_path) == [("2024-01-01", 2, 0, 1)]


def test_a_full_refresh_keeps_only_the_window(tmp_path: Path) -> None:
    project = _duckdb_project(tmp_path)
    for index, day in enumerate(("2024-01-01", "2024-01-02")):
        _parquet(tmp_path, day, "a.parquet", range(index * 10, index * 10 + 2))
    assert _run(project, start="2024-01-01", end="2024-01-03") == "materialized"
    (outcome,) = run_project(project, {"raw.events"}, partition="2024-01-02", full_refresh=True)
    assert outcome.status == "materialized"
    assert _rows(tmp_path) == [("2024-01-02", 2, 10, 11)]


# ------------------------------------------------------------------ BigQuery: fake transport


def _bigquery(root: Path, sql: str = EVENTS + "-- @cluster_by: id\n") -> tuple[Project, Any]:
    write_project(root, {"pyproject.toml": BIGQUERY_PYPROJECT, "sql/raw/events.sql": sql})
    project = load_project(root, display_base=root).raise_for_errors()
    return project, project.models["raw.events"]


def _engine(fake: FakeBigQuery) -> BigQueryEngine:
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    return BigQueryEngine(
        "acme-prod", location="EU", naming=Naming("acme-prod"), client_factory=lambda: client
    )


def _schema(*fields: tuple[str, str]) -> dict[str, Any]:
    return {"schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in fields]}}


def _laid_out(*fields: tuple[str, str]) -> dict[str, Any]:
    """The table as a first run created it: partitioned by DATE(ts), clustered by id."""
    layout = {"timePartitioning": {"type": "DAY", "field": "ts"}, "clustering": {"fields": ["id"]}}
    return {**_schema(*fields), **layout}


def _queries(fake: FakeBigQuery) -> list[str]:
    return [
        (body or {})["configuration"]["query"]["query"]
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs")
    ]


def _deleted(fake: FakeBigQuery) -> list[str]:
    return [
        path.rsplit("/tables/", 1)[1] for method, path, _ in fake.requests if method == "DELETE"
    ]


def _stagings(model: Any, window: Any) -> list[str]:
    target = Naming("acme-prod").table(model.spec.name)
    return [
        staging_table(model.spec, target, part).name
        for part in partition_windows(model.spec, window)
    ]


def test_append_on_bigquery_stages_each_day_and_replaces_their_rows_by_key(
    tmp_path: Path,
) -> None:
    """One free load job per day's files; one transaction that deletes the rows those days'
    files gave and inserts the files' rows by name, tagged; the staging tables dropped."""
    project, model = _bigquery(tmp_path)
    window = resolve_window(model, start="2024-01-01", end="2024-01-03")
    first, second = _stagings(model, window)
    fake = FakeBigQuery()
    fake.tables["raw.events"] = _laid_out(
        ("id", "INTEGER"),
        ("ts", "TIMESTAMP"),
        ("note", "STRING"),
        ("_sqlassets_partition", "STRING"),
    )
    # The days' files in other column orders; the first day's lacks `note`.
    fake.tables[f"raw.{first}"] = _schema(("ts", "TIMESTAMP"), ("id", "INTEGER"))
    fake.tables[f"raw.{second}"] = _schema(
        ("id", "INTEGER"), ("note", "STRING"), ("ts", "TIMESTAMP")
    )
    results = run_model(project, model, _engine(fake), window, JobContext("raw.events", "r1"))
    assert [result.action for result in results] == ["stage", "stage", "append"]
    stage_1, stage_2, append = _queries(fake)
    assert stage_1 == (
        f"LOAD DATA OVERWRITE `acme-prod`.raw.{first} FROM FILES(FORMAT='PARQUET', "
        "uris=['gs://land/events/2024-01-01/*.parquet'])"
    )
    assert stage_2 == (
        f"LOAD DATA OVERWRITE `acme-prod`.raw.{second} FROM FILES(FORMAT='PARQUET', "
        "uris=['gs://land/events/2024-01-02/*.parquet'])"
    )
    rows = (
        f"SELECT ts, id, NULL AS note, '2024-01-01' AS _sqlassets_partition FROM "
        f"`acme-prod`.raw.{first} UNION ALL SELECT ts, id, note, '2024-01-02' AS "
        f"_sqlassets_partition FROM `acme-prod`.raw.{second}"
    )
    assert append.split(";\n") == [
        "CREATE TABLE IF NOT EXISTS `acme-prod`.raw.events PARTITION BY DATE(ts) CLUSTER BY id "
        f"AS SELECT * FROM ({rows}) AS _s WHERE FALSE",
        "BEGIN TRANSACTION",
        "DELETE FROM `acme-prod`.raw.events AS _t WHERE _t._sqlassets_partition IN "
        "('2024-01-01', '2024-01-02')",
        f"INSERT INTO `acme-prod`.raw.events (ts, id, note, _sqlassets_partition) {rows}",
        "COMMIT TRANSACTION",
    ]
    assert "ERROR(" not in append  # rows outside the window are an append's to keep
    assert _deleted(fake) == [first, second]


def test_append_on_bigquery_drops_every_staging_table_when_the_write_fails(
    tmp_path: Path,
) -> None:
    project, model = _bigquery(tmp_path)
    window = resolve_window(model, start="2024-01-01", end="2024-01-03")
    first, second = _stagings(model, window)
    fake = FakeBigQuery()
    fake.tables[f"raw.{first}"] = _schema(("id", "INTEGER"), ("ts", "TIMESTAMP"))
    fake.tables[f"raw.{second}"] = _schema(("id", "INTEGER"), ("ts", "TIMESTAMP"))
    fake.outcomes = [Outcome(), Outcome(), Outcome(job_error="invalidQuery", message="no way")]
    with pytest.raises(EngineError, match="no way"):
        run_model(project, model, _engine(fake), window, JobContext("raw.events", "r2"))
    assert len(_queries(fake)) == 3
    assert _deleted(fake) == [first, second]


def test_append_files_with_a_column_the_table_lacks_fail_before_the_transaction(
    tmp_path: Path,
) -> None:
    project, model = _bigquery(tmp_path)
    window = resolve_window(model, partition="2024-01-02")
    (staging,) = _stagings(model, window)
    fake = FakeBigQuery()
    fake.tables["raw.events"] = _laid_out(("id", "INTEGER"), ("_sqlassets_partition", "STRING"))
    fake.tables[f"raw.{staging}"] = _schema(("id", "INTEGER"), ("coupon", "STRING"))
    with pytest.raises(SchemaChangeError, match=r"added coupon \(STRING\)\); nothing was written"):
        run_model(project, model, _engine(fake), window, JobContext("raw.events", "r3"))
    assert [query.split(" ")[0] for query in _queries(fake)] == ["LOAD"]
    assert _deleted(fake) == [staging]


def test_a_full_refresh_append_on_bigquery_is_one_create_or_replace(tmp_path: Path) -> None:
    project, model = _bigquery(tmp_path)
    window = resolve_window(model, partition="2024-01-02")
    (staging,) = _stagings(model, window)
    fake = FakeBigQuery()
    fake.tables[f"raw.{staging}"] = _schema(("id", "INTEGER"), ("ts", "TIMESTAMP"))
    results = run_model(
        project, model, _engine(fake), window, JobContext("raw.events", "r4"), full_refresh=True
    )
    assert [result.action for result in results] == ["stage", "rebuild"]
    assert _queries(fake)[1] == (
        "CREATE OR REPLACE TABLE `acme-prod`.raw.events PARTITION BY DATE(ts) CLUSTER BY id AS "
        f"SELECT id, ts, '2024-01-02' AS _sqlassets_partition FROM `acme-prod`.raw.{staging}"
    )
    assert _deleted(fake) == [staging]


def test_plan_of_an_append_bills_the_tag_column_its_delete_reads(tmp_path: Path) -> None:
    project, _ = _bigquery(tmp_path)
    fake = FakeBigQuery()
    fake.tables["raw.events"] = _schema(("id", "INTEGER"), ("_sqlassets_partition", "STRING"))
    fake.bytes_of = lambda sql: 4_096 if "_sqlassets_partition" in sql else 0
    report = dry_run(project, _engine(fake), start="2024-01-01", end="2024-01-03")
    assert [
        (s.action, s.result and s.result.bytes_processed, s.note) for s in report.statements
    ] == [
        ("load", 0, "load jobs are free"),
        ("insert", 0, "the staged rows are inserted by a query, billed by their size"),
        ("target", 4_096, "the DELETE reads _sqlassets_partition"),
    ]
    (dry,) = [
        (body or {})["configuration"]
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs")
    ]
    assert dry["dryRun"] is True
    assert dry["query"]["query"] == "SELECT _sqlassets_partition FROM `acme-prod`.raw.events"


def test_switching_an_overwrite_load_to_append_needs_a_full_refresh(tmp_path: Path) -> None:
    """The table's rows carry no partition tag: an append could not replace them."""
    overwrite = EVENTS.replace("append", "overwrite")
    project = _duckdb_project(tmp_path, overwrite)
    _parquet(tmp_path, "2024-01-01", "a.parquet", range(0, 2))
    assert _run(project, partition="2024-01-01") == "materialized"
    project = _duckdb_project(tmp_path, EVENTS)
    outcome = _run(project, partition="2024-01-01")
    assert outcome.startswith("failed"), outcome
    assert "has no _sqlassets_partition column" in outcome
    assert "`sqlassets run --full-refresh`" in outcome
    (refreshed,) = run_project(project, {"raw.events"}, partition="2024-01-01", full_refresh=True)
    assert refreshed.status == "materialized"
    assert _run(project, partition="2024-01-01") == "materialized"
    assert _rows(tmp_path) == [("2024-01-01", 2, 0, 1)]

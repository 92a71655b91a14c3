"""A failed load names the model, the file (URI and local path), the line, and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.errors import EngineError, SchemaChangeError
from sqlassets.job import Naming
from sqlassets.project import load_project
from sqlassets.runner import model_jobs, resolve_window
from tests.fakes.bigquery_transport import FakeBigQuery, Outcome
from tests.helpers import write_project

LOAD = (
    "-- @materialized: load\n-- @format: csv\n-- @uris: gs://land/orders/{start_date}/*.csv\n"
    "-- @partition_by: day\n-- @partitions: daily\n-- @start: 2024-01-01\n"
)
GOOD = "id,day,amount\n1,2024-01-01,10\n"


def _load(tmp_path: Path, day_two: str) -> EngineError:
    for day, text in (("2024-01-01", GOOD), ("2024-01-02", day_two)):
        folder = tmp_path / "gcs" / "land" / "orders" / day
        folder.mkdir(parents=True)
        (folder / "orders.csv").write_text(text)
    write_project(tmp_path, {"sql/raw/orders.sql": LOAD})
    project = load_project(tmp_path).raise_for_errors()
    model = project.models["raw.orders"]
    engine = DuckDBEngine(":memory:", tmp_path / "gcs")
    window = resolve_window(model, start="2024-01-01", end="2024-01-03")
    (job,) = model_jobs(project, model, engine, window)
    with pytest.raises(EngineError) as raised:
        engine.execute(job, JobContext("raw.orders"))
    return raised.value


def test_a_bad_value_names_the_file_and_its_line(tmp_path: Path) -> None:
    rows = "id,day,amount\n" + "".join(f"{i},2024-01-02,{i}\n" for i in range(30_005))
    error = _load(tmp_path, rows + "30005,2024-01-02,abc\n")
    local = (tmp_path / "gcs" / "land" / "orders" / "2024-01-02" / "orders.csv").as_posix()
    assert error.message.startswith(
        f"raw.orders: cannot load gs://land/orders/2024-01-02/orders.csv ({local}), line 30007: "
    )
    assert "abc" in error.message
    assert error.message.endswith("and run again: nothing was written")


ROWS = "id,day,amount\n" + "".join(f"{i},2024-01-02,{i}\n" for i in range(30_005))
TOO_MANY = "4 values in a row of a file whose header has 3 columns"
UNCLOSED = "a quoted value is not closed, or text follows its closing quote"


@pytest.mark.parametrize(
    ("bad_row", "line", "cause"),
    [
        ("2,2024-01-02,20,extra\n", 3, TOO_MANY),
        ('2,"2024-01-02,20\n3,2024-01-02,30\n', 3, UNCLOSED),
        ('2,"2024"-01-02,20\n', 3, UNCLOSED),
        ("2,2024-01-02\n", 3, "2 values in a row of a file whose header has 3 columns"),
    ],
    ids=["value-too-many", "quote-not-closed", "text-after-quote", "value-missing"],
)
@pytest.mark.parametrize("rows_before", ["one row", "30,005 rows"])
def test_a_malformed_row_is_refused_naming_the_file_and_its_line(
    tmp_path: Path, bad_row: str, line: int, cause: str, rows_before: str
) -> None:
    # DuckDB's sniffer alone would read a file with a value too many as one column per line
    # (every row loads, as text); BigQuery refuses the row. Within the sniffed rows DuckDB
    # names no line (sqlassets finds it), past them its reader does.
    head = GOOD if rows_before == "one row" else ROWS
    if rows_before != "one row":
        line += 30_004
    error = _load(tmp_path, head + bad_row)
    local = (tmp_path / "gcs" / "land" / "orders" / "2024-01-02" / "orders.csv").as_posix()
    assert error.message == (
        f"raw.orders: cannot load gs://land/orders/2024-01-02/orders.csv ({local}), "
        f"line {line}: {cause}; fix the file (or the model's @format and columns) and run "
        "again: nothing was written"
    )


def test_a_whole_table_load_refuses_a_row_with_a_value_too_many(tmp_path: Path) -> None:
    folder = tmp_path / "gcs" / "land" / "codes"
    folder.mkdir(parents=True)
    (folder / "codes.csv").write_text("code,name\na,Alpha\nb,Beta,extra\n")
    load = "-- @materialized: load\n-- @format: csv\n-- @uris: gs://land/codes/*.csv\n"
    write_project(tmp_path, {"sql/raw/codes.sql": load})
    project = load_project(tmp_path).raise_for_errors()
    model = project.models["raw.codes"]
    engine = DuckDBEngine(":memory:", tmp_path / "gcs")
    (job,) = model_jobs(project, model, engine, resolve_window(model))
    with pytest.raises(EngineError, match="line 3: 3 values in a row of a file whose header has 2"):
        engine.execute(job, JobContext("raw.codes"))
    tables = engine.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert tables == []


def test_the_engine_refuses_a_uri_that_leaves_its_bucket(tmp_path: Path) -> None:
    engine = DuckDBEngine(":memory:", tmp_path / "gcs")
    with pytest.raises(EngineError, match="leaves its bucket"):
        engine._local_uri("gs://bucket/../../etc/passwd")
    assert engine._local_uri("gs://bucket/a/b.csv").endswith("gcs/bucket/a/b.csv")


def test_a_column_that_changes_type_between_days_is_refused_as_on_bigquery(
    tmp_path: Path,
) -> None:
    for day, value in (("2024-01-01", "abc"), ("2024-01-06", "1.5")):
        folder = tmp_path / "gcs" / "land" / "orders" / day
        folder.mkdir(parents=True)
        (folder / "orders.csv").write_text(f"id,day,amount\n1,{day},{value}\n")
    write_project(tmp_path, {"sql/raw/orders.sql": LOAD})
    project = load_project(tmp_path).raise_for_errors()
    model = project.models["raw.orders"]
    engine = DuckDBEngine(":memory:", tmp_path / "gcs")

    def load(start: str, end: str) -> None:
        window = resolve_window(model, start=start, end=end)
        (job,) = model_jobs(project, model, engine, window)
        engine.execute(job, JobContext("raw.orders", window=window.label()))

    load("2024-01-01", "2024-01-02")  # amount is VARCHAR
    with pytest.raises(SchemaChangeError) as raised:
        load("2024-01-06", "2024-01-07")  # amount is DOUBLE: DuckDB alone would cast it
    assert "retyped amount (VARCHAR -> DOUBLE)" in raised.value.message
    assert "gs://land/orders/2024-01-06/*.csv" in raised.value.message
    rows = engine.connection.execute("SELECT day::TEXT, amount FROM raw.orders").fetchall()
    assert rows == [("2024-01-01", "abc")]


def test_a_failed_bigquery_load_names_the_file_and_the_row_from_its_error_records(
    tmp_path: Path,
) -> None:
    # No emulator runs LOAD DATA: the fake transport answers as BigQuery does, the job's
    # message naming no file, its error records naming it (`location`) and the row.
    write_project(tmp_path, {"sql/raw/orders.sql": LOAD})
    project = load_project(tmp_path).raise_for_errors()
    model = project.models["raw.orders"]
    fake = FakeBigQuery()
    client = bigquery.Client(project="acme", credentials=AnonymousCredentials(), _http=fake)
    engine = BigQueryEngine("acme", naming=Naming(project="acme"), client_factory=lambda: client)
    window = resolve_window(model, start="2024-01-01", end="2024-01-03")
    # Two days: the files are loaded into a staging table first (a LOAD DATA job).
    job = model_jobs(project, model, engine, window)[0]
    assert job.action == "stage"
    uri = "gs://land/orders/2024-01-02/orders.csv"
    fake.outcomes = [
        Outcome(
            job_error="invalid",
            message="Error while reading data, error message: CSV processing encountered too "
            "many errors, giving up. Rows: 30005; errors: 1; max bad records: 0",
            job_errors=[
                {
                    "reason": "invalid",
                    "location": uri,
                    "message": "Error while reading data, error message: Too many values in "
                    f"row starting at position: 667904. File: {uri}",
                }
            ],
        )
    ]
    with pytest.raises(EngineError) as raised:
        engine.execute(job, JobContext("raw.orders", run_id="run-1"))
    assert raised.value.message == (
        f"raw.orders: invalid: cannot load {uri}, the row at byte 667904: Too many values in "
        "row starting at position: 667904; fix the file (or the model's @format and columns) "
        "and run again: nothing was written"
    )
    assert len(fake.executions) == 1  # a bad file is not retried


def test_the_command_line_names_the_model_once(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sqlassets.cli import main

    folder = tmp_path / "gcs" / "land" / "orders" / "2024-01-02"
    folder.mkdir(parents=True)
    (folder / "orders.csv").write_text(GOOD.replace("2024-01-01", "2024-01-02") + "2,x,3,4\n")
    write_project(tmp_path, {"sql/raw/orders.sql": LOAD})
    result = CliRunner().invoke(
        main, ["run", "--project-dir", str(tmp_path), "--partition", "2024-01-02"]
    )
    assert result.exit_code == 1, result.output
    assert "  FAIL raw.orders: cannot load gs://land/orders/2024-01-02/orders.csv" in result.output
    assert "\nraw.orders: cannot load gs://land/orders/2024-01-02/orders.csv" in result.output
    assert "raw.orders: raw.orders" not in result.output

"""Loads on BigQuery (issue 10, items 6 and 12), on the fake transport: the emulator
has no ``LOAD DATA`` and writes ``t$20240102`` as a table of that name.

One partition is a load job into the partition (its exact configuration is
asserted); several are staged in a real table, inserted by column name in one
transaction, and the staging table is dropped, also when the insert fails or
the files' columns differ from the table's; a long load window is split by
URI count."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.engines.base import Capabilities, JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.errors import EngineError, SchemaChangeError
from sqlassets.job import Naming
from sqlassets.project import Project, load_project
from sqlassets.runner import model_jobs, resolve_window, run_model
from sqlassets.runner.limits import limit_findings, partitions_between
from sqlassets.runner.plan import dry_run, split_reason, split_window
from sqlassets.spec import Granularity
from sqlassets.strategies.load import staging_table
from tests.fakes.bigquery_transport import FakeBigQuery, Outcome
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.fidelity_models import LOAD_ORDERS as ORDERS
from tests.helpers import write_project


def _project(root: Path, sql: str = ORDERS) -> Project:
    write_project(root, {"pyproject.toml": BIGQUERY_PYPROJECT, "sql/raw/orders.sql": sql})
    return load_project(root, display_base=root).raise_for_errors()


def _engine(fake: FakeBigQuery, cls: type[BigQueryEngine] = BigQueryEngine) -> BigQueryEngine:
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    return cls(
        "acme-prod", location="EU", naming=Naming("acme-prod"), client_factory=lambda: client
    )


def _inserted(fake: FakeBigQuery) -> list[dict[str, Any]]:
    return [
        (body or {})["configuration"]
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs")
    ]


def _deleted(fake: FakeBigQuery) -> list[str]:
    return [
        path.rsplit("/tables/", 1)[1] for method, path, _ in fake.requests if method == "DELETE"
    ]


def _schema(*fields: tuple[str, str]) -> dict[str, Any]:
    return {"schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in fields]}}


def _as_declared(table: dict[str, Any]) -> dict[str, Any]:
    """``table`` partitioned and clustered as ORDERS declares (a run compares the layout)."""
    layout = {
        "timePartitioning": {"type": "DAY", "field": "order_date"},
        "clustering": {"fields": ["customer_id"]},
    }
    return {**table, **layout}


def test_one_day_is_a_load_job_into_the_partition(tmp_path: Path) -> None:
    """Free, atomic, and BigQuery refuses rows outside `orders$20240102`: no SQL at all."""
    project = _project(tmp_path)
    model = project.models["raw.orders"]
    fake = FakeBigQuery()
    window = resolve_window(model, partition="2024-01-02")
    (result,) = run_model(project, model, _engine(fake), window, JobContext("raw.orders", "r1"))
    (config,) = _inserted(fake)
    labels = config.pop("labels")
    assert config == {
        "load": {
            "destinationTable": {
                "projectId": "acme-prod",
                "datasetId": "raw",
                "tableId": "orders$20240102",
            },
            "sourceUris": ["gs://land/orders/20240102/*.csv"],
            "sourceFormat": "CSV",
            "writeDisposition": "WRITE_TRUNCATE",
            "createDisposition": "CREATE_IF_NEEDED",
            "timePartitioning": {"type": "DAY", "field": "order_date"},
            "clustering": {"fields": ["customer_id"]},
            "autodetect": True,
            "skipLeadingRows": "1",
        }
    }
    assert labels == {
        "sqlassets_asset": "raw_orders",
        "dagster_run_id": "r1",
        "sqlassets_window": "all",
    }
    assert result.action == "load"
    assert result.job_id.startswith("sqlassets_raw_orders_load_")


def _staged_run(tmp_path: Path, fake: FakeBigQuery, staged: dict[str, Any]) -> tuple[Any, str, Any]:
    """(model, staging table id, window) of a three-day load whose files give ``staged``."""
    project = _project(tmp_path)
    model = project.models["raw.orders"]
    window = resolve_window(model, start="2024-01-01", end="2024-01-04")
    target = Naming("acme-prod").table(model.spec.name)
    staging = staging_table(model.spec, target, window).name
    fake.tables[f"raw.{staging}"] = staged
    return project, staging, window


def test_several_days_are_staged_inserted_by_name_and_the_staging_table_dropped(
    tmp_path: Path,
) -> None:
    fake = FakeBigQuery()
    # The files' columns come in another order than the table's: by name, never by position.
    staged = _schema(("customer_id", "INTEGER"), ("amount", "FLOAT"), ("order_date", "DATE"))
    project, staging, window = _staged_run(tmp_path, fake, staged)
    fake.tables["raw.orders"] = _as_declared(
        _schema(("order_date", "DATE"), ("customer_id", "INTEGER"), ("amount", "FLOAT"))
    )
    model = project.models["raw.orders"]
    results = run_model(project, model, _engine(fake), window, JobContext("raw.orders", "r2"))
    assert [result.action for result in results] == ["stage", "overwrite"]
    stage, overwrite = (config["query"]["query"] for config in _inserted(fake))
    assert stage == (
        f"LOAD DATA OVERWRITE `acme-prod`.raw.{staging} FROM FILES(FORMAT='CSV', uris=["
        "'gs://land/orders/20240101/*.csv', 'gs://land/orders/20240102/*.csv', "
        "'gs://land/orders/20240103/*.csv'], skip_leading_rows=1)"
    )
    statements = overwrite.split(";\n")
    assert statements[0] == (
        "CREATE TABLE IF NOT EXISTS `acme-prod`.raw.orders PARTITION BY order_date CLUSTER BY "
        f"customer_id AS SELECT * FROM `acme-prod`.raw.{staging} WHERE FALSE"
    )
    assert statements[1:3] == [
        "BEGIN TRANSACTION",
        "DELETE FROM `acme-prod`.raw.orders AS _t WHERE _t.order_date >= CAST('2024-01-01' AS "
        "DATE) AND _t.order_date < CAST('2024-01-04' AS DATE)",
    ]
    assert statements[3].startswith(
        "INSERT INTO `acme-prod`.raw.orders (customer_id, amount, order_date) SELECT "
        "_s.customer_id, _s.amount, IF(_s.order_date >= CAST('2024-01-01' AS DATE) AND "
    )
    assert statements[3].endswith(
        f"AS order_date FROM (SELECT * FROM `acme-prod`.raw.{staging}) AS _s"
    )
    assert statements[4] == "COMMIT TRANSACTION"
    assert _deleted(fake) == [staging]


def test_the_staging_table_is_dropped_when_the_transaction_fails(tmp_path: Path) -> None:
    fake = FakeBigQuery()
    project, staging, window = _staged_run(tmp_path, fake, _schema(("order_date", "DATE")))
    fake.outcomes = [Outcome(), Outcome(job_error="invalidQuery", message="a row outside")]
    model = project.models["raw.orders"]
    with pytest.raises(EngineError, match="a row outside"):
        run_model(project, model, _engine(fake), window, JobContext("raw.orders", "r3"))
    assert len(_inserted(fake)) == 2
    assert _deleted(fake) == [staging]


def test_files_with_a_column_the_table_lacks_fail_before_the_transaction(tmp_path: Path) -> None:
    """A load has no @on_schema_change: as BigQuery's own loads, a new column fails."""
    fake = FakeBigQuery()
    staged = _schema(("order_date", "DATE"), ("customer_id", "INTEGER"), ("coupon", "STRING"))
    project, staging, window = _staged_run(tmp_path, fake, staged)
    fake.tables["raw.orders"] = _as_declared(
        _schema(("order_date", "DATE"), ("customer_id", "INTEGER"))
    )
    model = project.models["raw.orders"]
    with pytest.raises(SchemaChangeError, match=r"added coupon \(STRING\)\); nothing was written"):
        run_model(project, model, _engine(fake), window, JobContext("raw.orders", "r4"))
    assert [config["query"]["query"].split(" ")[0] for config in _inserted(fake)] == ["LOAD"]
    assert _deleted(fake) == [staging]


class _FewUris(BigQueryEngine):
    capabilities: ClassVar[Capabilities] = replace(BigQueryEngine.capabilities, max_uris_per_job=5)


def test_a_load_window_is_split_by_uri_count(tmp_path: Path) -> None:
    """Two templates a day, at most 5 URIs a job: 2 days a piece (4 URIs)."""
    two = ORDERS.replace(
        "-- @uris: gs://land/orders/{start_date:%Y%m%d}/*.csv",
        "-- @uris: gs://land/orders/{start_date:%Y%m%d}/*.csv, gs://land/late/{start_date}/*.csv",
    )
    project = _project(tmp_path, two)
    model = project.models["raw.orders"]
    engine = _engine(FakeBigQuery(), _FewUris)
    window = resolve_window(model, start="2024-01-01", end="2024-01-06")
    pieces = split_window(model.spec, window, engine)
    assert [piece.label() for piece in pieces] == [
        "2024-01-01..2024-01-02",
        "2024-01-03..2024-01-04",
        "2024-01-05",
    ]
    assert split_reason(model.spec, window, engine, len(pieces)) == (
        "raw.orders: the window reads 10 URIs, more than one load job may (5): it runs as "
        "3 jobs, each atomic, not one"
    )
    assert split_window(model.spec, window, _engine(FakeBigQuery())) == [window]


HOURLY = """\
-- @materialized: load
-- @format: json
-- @uris: gs://land/clicks/{start_date:%Y%m%d%H}.json
-- @partition_by: TIMESTAMP_TRUNC(ts, HOUR)
-- @partitions: hourly
-- @start: 2024-01-01
"""


def test_an_open_ended_hourly_table_is_warned_of_before_it_passes_10000_partitions(
    tmp_path: Path,
) -> None:
    """10,000 hours after 2024-01-01 is 2025-02-20: warned 90 days before, not after."""
    spec = _project(tmp_path, HOURLY).models["raw.orders"].spec
    assert limit_findings(spec, now=datetime(2024, 11, 21)) == []
    (finding,) = limit_findings(spec, now=datetime(2024, 11, 23))
    assert finding.directive == "partition_by"
    assert finding.message == (
        "raw.orders has 10,008 HOUR partitions from @start 2024-01-01 by 2025-02-21; BigQuery "
        "refuses writes past 10,000 partitions per table (reached on 2025-02-20): partition by "
        "DAY (with daily @partitions), move @start later, or set @end"
    )


@pytest.mark.parametrize(
    ("granularity", "start", "end", "count"),
    [
        (Granularity.HOUR, datetime(2024, 1, 1, 5), datetime(2024, 1, 1, 7, 30), 3),
        (Granularity.DAY, datetime(2024, 1, 1), datetime(2025, 1, 1), 366),
        (Granularity.MONTH, datetime(2024, 1, 15), datetime(2024, 3, 1), 2),
        (Granularity.MONTH, datetime(2024, 1, 1), datetime(2024, 3, 2), 3),
        (Granularity.YEAR, datetime(2020, 6, 1), datetime(2024, 1, 1), 4),
    ],
)
def test_partitions_between_counts_touched_partitions(
    granularity: Granularity, start: datetime, end: datetime, count: int
) -> None:
    assert partitions_between(granularity, start, end) == count


def test_plan_notes_a_table_heading_past_10000_partitions(tmp_path: Path) -> None:
    """From 2020 hourly is past 10,000 whatever today is; plan says so, as lint does."""
    project = _project(tmp_path, HOURLY.replace("@start: 2024-01-01", "@start: 2020-01-01"))
    fake = FakeBigQuery()
    report = dry_run(project, _engine(fake), partition="2024-01-01-05:00")
    (note,) = report.notes
    assert note.startswith("raw.orders: raw.orders has ")
    assert note.endswith("move @start later, or set @end (SA204)")
    assert [(s.action, s.result and s.result.bytes_processed) for s in report.statements] == [
        ("load", 0)  # a load job into one partition: free, and nothing to dry-run
    ]
    assert not [method for method, path, _ in fake.requests if path.endswith("/jobs")]


def test_only_a_window_of_exactly_one_table_partition_is_a_partition_load(tmp_path: Path) -> None:
    """A month of a daily-partitioned table is 31 partitions: staged, not a load job."""
    monthly = ORDERS.replace("-- @partitions: daily", "-- @partitions: monthly").replace(
        "{start_date:%Y%m%d}", "{start_date:%Y%m}"
    )
    by_month = monthly.replace(
        "-- @partition_by: order_date", "-- @partition_by: DATE_TRUNC(order_date, MONTH)"
    )
    engine = _engine(FakeBigQuery())
    actions = []
    for index, sql in enumerate((monthly, by_month)):
        project = _project(tmp_path / str(index), sql)
        model = project.models["raw.orders"]
        jobs = model_jobs(project, model, engine, resolve_window(model, partition="2024-01-01"))
        actions.append([(job.action, job.load and job.load.partition) for job in jobs])
    assert actions == [[("stage", None), ("overwrite", None)], [("load", "202401")]]


def test_plan_of_a_staged_load_does_not_dry_run_what_reads_the_staging_table(
    tmp_path: Path,
) -> None:
    """The staging table exists only during the run: a dry run of the transaction would 404."""
    project = _project(tmp_path)
    fake = FakeBigQuery()
    report = dry_run(project, _engine(fake), start="2024-01-01", end="2024-01-04")
    assert [(s.action, s.note) for s in report.statements] == [
        ("load", "load jobs are free"),
        ("insert", "the staged rows are inserted by a query, billed by their size"),
    ]
    assert _inserted(fake) == []  # nothing dry-run: the staging table exists only in a run

"""Loads whose table's partitioning or clustering changed (issue 10, item 3), on the fake
transport: the emulator has no ``LOAD DATA``.

BigQuery refuses ``LOAD DATA OVERWRITE … PARTITION BY``, ``CREATE OR REPLACE`` and
a partition load job that would change a table's layout. A whole-table load
and a full refresh rebuild the table anyway, so the table is dropped first
(after the files are staged); a window of a partitioned load is refused
before anything is sent, as for incremental models. An unchanged layout sends
no drop. (``table`` models: tests/faults/test_layout_change.py, on the emulator.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.errors import SchemaChangeError
from sqlassets.job import Naming
from sqlassets.project import Project, load_project
from sqlassets.runner import resolve_window, run_model
from sqlassets.strategies.load import staging_table
from tests.fakes.bigquery_transport import FakeBigQuery
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.fidelity_models import LOAD_ORDERS as ORDERS
from tests.helpers import write_project

SNAPSHOT = """\
-- @materialized: load
-- @uris: gs://land/snap/*.parquet
-- @partition_by: d
-- @cluster_by: shop
"""


def _project(root: Path, name: str, sql: str) -> Project:
    files = {"pyproject.toml": BIGQUERY_PYPROJECT, f"sql/raw/{name}.sql": sql}
    write_project(root, files)
    return load_project(root, display_base=root).raise_for_errors()


def _engine(fake: FakeBigQuery) -> BigQueryEngine:
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    return BigQueryEngine(
        "acme-prod", location="EU", naming=Naming("acme-prod"), client_factory=lambda: client
    )


def _table(field: str, clustering: list[str]) -> dict[str, Any]:
    """A table resource as tables.get answers it: its partitioning, clustering and schema."""
    return {
        "timePartitioning": {"type": "DAY", "field": field},
        "clustering": {"fields": clustering},
        "schema": {"fields": [{"name": field, "type": "DATE", "mode": "NULLABLE"}]},
    }


def _sent(fake: FakeBigQuery) -> list[str]:
    """Writes in order: each job's query (or load destination) and each table deleted."""
    sent = []
    for method, path, body in fake.requests:
        if method == "DELETE":
            sent.append("DROP " + path.rsplit("/tables/", 1)[1])
        elif method == "POST" and path.endswith("/jobs"):
            configuration = (body or {})["configuration"]
            if "load" in configuration:
                sent.append("LOAD JOB " + configuration["load"]["destinationTable"]["tableId"])
            else:
                sent.append(configuration["query"]["query"])
    return sent


WHOLE = (
    "LOAD DATA OVERWRITE `acme-prod`.raw.snap PARTITION BY d CLUSTER BY shop FROM "
    "FILES(FORMAT='PARQUET', uris=['gs://land/snap/*.parquet'])"
)


@pytest.mark.parametrize(
    ("live", "sent"),
    [
        (_table("d", ["shop"]), [WHOLE]),  # the header's layout: one free statement
        (_table("d", ["kind"]), ["DROP snap", WHOLE]),  # clustering changed
        (_table("other_day", ["shop"]), ["DROP snap", WHOLE]),  # partitioning changed
        (None, [WHOLE]),  # no table yet
    ],
)
def test_a_whole_table_load_drops_first_only_when_the_layout_changed(
    tmp_path: Path, live: dict[str, Any] | None, sent: list[str]
) -> None:
    project = _project(tmp_path, "snap", SNAPSHOT)
    model = project.models["raw.snap"]
    fake = FakeBigQuery()
    if live is not None:
        fake.tables["raw.snap"] = live
    run_model(project, model, _engine(fake), resolve_window(model), JobContext("raw.snap", "r1"))
    assert _sent(fake) == sent


def test_an_unpartitioned_load_into_a_partitioned_table_drops_it_first(tmp_path: Path) -> None:
    """`LOAD DATA OVERWRITE t` would keep the old partitioning the header no longer has."""
    project = _project(tmp_path, "snap", "-- @materialized: load\n-- @uris: gs://land/s/*.csv\n")
    model = project.models["raw.snap"]
    fake = FakeBigQuery()
    fake.tables["raw.snap"] = _table("d", [])
    run_model(project, model, _engine(fake), resolve_window(model), JobContext("raw.snap", "r2"))
    assert _sent(fake) == [
        "DROP snap",
        "LOAD DATA OVERWRITE `acme-prod`.raw.snap FROM FILES(FORMAT='PARQUET', "
        "uris=['gs://land/s/*.csv'])",
    ]


def test_a_full_refresh_of_a_partitioned_load_drops_after_staging(tmp_path: Path) -> None:
    """The files are staged first: a file error keeps the old table."""
    project = _project(tmp_path, "orders", ORDERS)
    model = project.models["raw.orders"]
    window = resolve_window(model, start="2024-01-01", end="2024-01-03")
    staging = staging_table(model.spec, Naming("acme-prod").table(model.spec.name), window).name
    fake = FakeBigQuery()
    fake.tables["raw.orders"] = _table("order_date", ["region"])
    context = JobContext("raw.orders", "r3")
    run_model(project, model, _engine(fake), window, context, full_refresh=True)
    stage, drop, rebuild, dropped = _sent(fake)
    assert stage.startswith(f"LOAD DATA OVERWRITE `acme-prod`.raw.{staging} FROM FILES(")
    assert drop == "DROP orders"
    assert rebuild.startswith(
        "CREATE OR REPLACE TABLE `acme-prod`.raw.orders PARTITION BY order_date CLUSTER BY "
        "customer_id AS SELECT * REPLACE (IF(_s.order_date >= CAST('2024-01-01' AS DATE)"
    )
    assert dropped == f"DROP {staging}"


@pytest.mark.parametrize(
    "window", [{"partition": "2024-01-02"}, {"start": "2024-01-01", "end": "2024-01-03"}]
)
def test_a_window_of_a_partitioned_load_with_another_layout_is_refused_before_sending(
    tmp_path: Path, window: dict[str, str]
) -> None:
    """A partition load job (one day) or a staged window would keep the other partitions in
    the old layout; BigQuery refuses the load job too ("Incompatible table partitioning")."""
    project = _project(tmp_path, "orders", ORDERS)
    model = project.models["raw.orders"]
    fake = FakeBigQuery()
    fake.tables["raw.orders"] = _table("order_date", ["region"])
    with pytest.raises(SchemaChangeError, match=r"rebuild it with `sqlassets run --full-refresh`"):
        run_model(
            project,
            model,
            _engine(fake),
            resolve_window(model, **window),
            JobContext("raw.orders", "r4"),
        )
    assert _sent(fake) == []


def test_a_window_with_the_same_layout_sends_no_drop(tmp_path: Path) -> None:
    project = _project(tmp_path, "orders", ORDERS)
    model = project.models["raw.orders"]
    fake = FakeBigQuery()
    fake.tables["raw.orders"] = _table("order_date", ["customer_id"])
    window = resolve_window(model, partition="2024-01-02")
    run_model(project, model, _engine(fake), window, JobContext("raw.orders", "r5"))
    assert _sent(fake) == ["LOAD JOB orders$20240102"]

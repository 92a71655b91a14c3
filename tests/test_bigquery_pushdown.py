"""Pushdown: a full Dagster run on the BigQuery emulator brings no table rows back
to the Dagster process, apart from the single-row answers of checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from google.cloud import bigquery

from sqlassets.dagster.bigquery_resources import BigQueryEmulatorResource
from sqlassets.dagster.run import run_project
from sqlassets.project import load_project
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "pushdown-project"
MODELS = {
    "sql/marts/orders.sql": (
        "-- @materialized: table\n-- @check: not_null(order_id)\n-- @check: warn row_count(min=1)\n"
        "SELECT order_id, amount, order_date FROM src.orders"
    ),
    "sql/marts/daily.sql": (
        "-- @materialized: insert_overwrite\n-- @partition_by: order_date\n"
        "-- @partitions: daily\n-- @start: 2024-01-01\n-- @check: unique(order_date)\n"
        "SELECT order_date, SUM(amount) AS revenue FROM marts.orders\n"
        "WHERE order_date >= @start_date AND order_date < @end_date GROUP BY order_date"
    ),
    "sql/marts/customers.sql": (
        "-- @materialized: merge\n-- @unique_key: order_id\n"
        "SELECT order_id, amount * 2 AS doubled FROM marts.orders"
    ),
    "sql/marts/summary.sql": ("-- @materialized: view\nSELECT COUNT(*) AS days FROM marts.daily"),
}
_RESULTS = re.compile(r"/queries/(?P<job>[^/?]+)")


class RecordingBigQueryResource(BigQueryEmulatorResource):
    """The emulator resource, recording every HTTP exchange of its clients."""

    exchanges: ClassVar[list[tuple[str, str, Any]]] = []

    @contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        with super().get_client() as client:
            session = client._http
            original = session.request

            def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                response = original(method, url, *args, **kwargs)
                try:
                    payload = response.json()
                except ValueError:
                    payload = None
                self.exchanges.append((method, url, payload))
                return response

            session.request = request
            yield client


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def test_a_full_run_brings_back_only_single_row_check_results(
    emulator: Emulator, tmp_path: Path
) -> None:
    write_project(
        tmp_path,
        {
            **MODELS,
            "pyproject.toml": (
                '[tool.sqlassets.targets.emu]\nengine = "bigquery"\n'
                f'project = "{PROJECT_ID}"\nlocation = "US"\n'
                f'api_endpoint = "{emulator.endpoint}"\n'
            ),
        },
    )
    client = emulator.client()
    client.create_dataset(f"{PROJECT_ID}.src", exists_ok=True)
    client.query(
        "CREATE OR REPLACE TABLE src.orders AS "
        "SELECT 1 AS order_id, 10 AS amount, DATE '2024-01-01' AS order_date UNION ALL "
        "SELECT 2, 20, DATE '2024-01-02' UNION ALL SELECT 3, 30, DATE '2024-01-02'"
    ).result()
    project = load_project(tmp_path, lineage=True).raise_for_errors()
    resource = RecordingBigQueryResource(
        project=PROJECT_ID, location="US", api_endpoint=emulator.endpoint
    )
    RecordingBigQueryResource.exchanges.clear()
    outcomes = run_project(
        project,
        set(project.models),
        target="emu",
        start="2024-01-01",
        end="2024-01-03",
        resources={"bigquery": resource},
    )
    assert {o.name: o.status for o in outcomes} == {name: "materialized" for name in MODELS_NAMES}

    exchanges = RecordingBigQueryResource.exchanges
    assert exchanges, "the run made no BigQuery request through the resource"
    assert not [url for _, url, _ in exchanges if re.search(r"/tables/[^/]+/data", url)]
    rows_by_job: dict[str, int] = {}
    for method, url, payload in exchanges:
        match = _RESULTS.search(url)
        if method == "GET" and match and isinstance(payload, dict):
            rows_by_job[match.group("job")] = max(
                rows_by_job.get(match.group("job"), 0), len(payload.get("rows") or [])
            )
    with_rows = {job for job, count in rows_by_job.items() if count}
    assert all(rows_by_job[job] == 1 for job in with_rows), json.dumps(rows_by_job)
    assert with_rows and all("_checks_" in job for job in with_rows), sorted(with_rows)
    # The checks of each model ran as one remote query: 3 checks of 2 models, one row each.
    assert len(with_rows) == 2


MODELS_NAMES = ["marts.orders", "marts.daily", "marts.customers", "marts.summary"]

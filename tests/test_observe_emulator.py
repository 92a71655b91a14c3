"""Observations on the BigQuery emulator, whose metadata views answer (``__TABLES__``,
``INFORMATION_SCHEMA.PARTITIONS``, ``TABLE_STORAGE``).

Its ``INFORMATION_SCHEMA.JOBS`` has no ``labels`` column, so the cost query is
tested on the fake transport (tests/test_observe.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import expressions as exp

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.project import load_project
from sqlassets.runner import resolve_window, run_model
from sqlassets.runner.observe import observe
from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project

pytestmark = pytest.mark.emulator

PROJECT_ID = "test-project"
MODELS = {
    "sql/marts/orders.sql": (
        "-- @freshness: 26h\n-- @partition_by: d\n"
        "SELECT x AS id, DATE '2024-01-01' + x AS d FROM src.numbers"
    ),
    "sql/marts/orders_view.sql": "-- @materialized: view\nSELECT id FROM marts.orders",
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def test_observations_on_the_emulator_read_only_metadata_views(
    emulator: Emulator, tmp_path: Path
) -> None:
    project = load_project(write_project(tmp_path, MODELS)).raise_for_errors()
    client = emulator.client()
    client.create_dataset(f"{PROJECT_ID}.src", exists_ok=True)
    client.query(
        "CREATE OR REPLACE TABLE src.numbers AS SELECT x FROM UNNEST(GENERATE_ARRAY(0, 4)) AS x"
    ).result()
    suffix = f"_{tmp_path.name[-8:].replace('-', '_')}"
    target = BigQueryTarget(
        project=PROJECT_ID, location="US", dataset_suffix=suffix, api_endpoint=emulator.endpoint
    )
    engine = BigQueryEngine.from_target(target, client=client)
    started = datetime.now(UTC) - timedelta(minutes=1)
    for name in project.graph.order:
        model = project.models[name]
        run_model(project, model, engine, resolve_window(model), JobContext(name))

    sent: list[str] = []
    real_query = client.query

    def recording(sql: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(sql)
        return real_query(sql, *args, **kwargs)

    client.query = recording  # type: ignore[method-assign]
    observations = {item.name: item for item in observe(project, engine)}
    client.query = real_query  # type: ignore[method-assign]

    orders = observations["marts.orders"]
    assert orders.table == f"{PROJECT_ID}.marts{suffix}.orders"
    assert orders.stats is not None and orders.stats.row_count == 5
    assert orders.stats.kind == "table"
    assert orders.stats.last_modified is not None and orders.stats.last_modified >= started
    assert orders.is_fresh(datetime.now(UTC)) is True
    assert observations["marts.orders_view"].stats.kind == "view"  # type: ignore[union-attr]
    assert observations["src.numbers"].is_source
    assert observations["src.numbers"].stats.row_count == 5  # type: ignore[union-attr]
    assert len(sent) == 2  # one per dataset
    for sql in sent:
        names = {
            table.name for table in sqlglot.parse_one(sql, read="bigquery").find_all(exp.Table)
        }
        assert names == {
            "__TABLES__",
            "INFORMATION_SCHEMA.TABLE_STORAGE",
            "INFORMATION_SCHEMA.PARTITIONS",
        }, sql

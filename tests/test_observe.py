"""Observations, freshness checks and the cost report: metadata only, never a table's rows.

DuckDB answers from its catalog; BigQuery's metadata views (``__TABLES__``,
``INFORMATION_SCHEMA.*``) are not in the emulator, so the fake transport
stands in for them and records the SQL each query sends.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import sqlglot
from click.testing import CliRunner
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import expressions as exp

from sqlassets.cli import main
from sqlassets.costs import EVENT_LOG, CostEntry, parse_since, render_text, totals
from sqlassets.dagster import definitions_for
from sqlassets.dagster.cost import event_log_costs
from sqlassets.dagster.observe import FRESHNESS_SENSOR, OBSERVE_JOB, observation_metadata
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.engines.base import TableStats
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.engines.duckdb import DuckDBEngine
from sqlassets.job import Naming
from sqlassets.plot import cost_figure
from sqlassets.project import load_project
from sqlassets.runner.observe import Observation, observe
from sqlassets.values import Freshness
from tests.fakes.bigquery_transport import FakeBigQuery
from tests.helpers import write_project

PYPROJECT = """
[tool.sqlassets]
observe_cron = "*/30 * * * *"

[tool.sqlassets.targets.local]
engine = "duckdb"
path = "warehouse.duckdb"

[tool.sqlassets.sources."landing.events"]
freshness = "max_lag=1h, deadline=0 9 * * *"
"""
FILES = {
    "pyproject.toml": PYPROJECT,
    "sql/marts/daily.sql": (
        "-- Events per user.\n-- @freshness: 26h\n"
        "SELECT user_id, COUNT(*) AS events FROM landing.events GROUP BY user_id\n"
    ),
    "sql/marts/recent.sql": (
        "-- @materialized: view\nSELECT user_id FROM marts.daily WHERE events > 1\n"
    ),
}
DAILY, SOURCE = dg.AssetKey(["marts", "daily"]), dg.AssetKey(["landing", "events"])


@pytest.fixture
def project_dir(tmp_path: Path) -> Iterator[Path]:
    root = write_project(tmp_path, FILES)
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute(
            "CREATE SCHEMA landing; CREATE SCHEMA marts;"
            "CREATE TABLE landing.events AS SELECT range % 7 AS user_id FROM range(100);"
            "CREATE TABLE marts.daily AS SELECT 1 AS user_id, 2 AS events;"
            # Reading this view's rows fails: an observation must never do it.
            "CREATE VIEW marts.recent AS SELECT error('a row was read') AS user_id"
        )
    yield root
    DuckDBEngineResource.close_all()


class _Recording:
    """A DuckDB connection that records every statement sent through it."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection
        self.sent: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.sent.append(sql)
        return self.connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def _read_tables(sql: str, dialect: str) -> list[exp.Table]:
    return list(sqlglot.parse_one(sql, read=dialect).find_all(exp.Table))


def test_duckdb_observations_read_only_the_catalog(project_dir: Path) -> None:
    project = load_project(project_dir)
    engine = DuckDBEngine(project_dir / "warehouse.duckdb")
    recording = _Recording(engine.connection)
    engine._connection = recording  # type: ignore[assignment]
    observations = {item.name: item for item in observe(project, engine)}
    engine.close()

    assert {
        name: (o.is_source, o.stats and o.stats.row_count) for name, o in observations.items()
    } == {
        "marts.daily": (False, 1),
        "marts.recent": (False, None),
        "landing.events": (True, 100),
    }
    assert observations["marts.recent"].stats.kind == "view"  # type: ignore[union-attr]
    assert observations["marts.daily"].freshness == Freshness(timedelta(hours=26))
    assert observations["landing.events"].freshness == Freshness(timedelta(hours=1), "0 9 * * *")
    # One query per schema, and each reads DuckDB's catalog functions, never a table.
    assert len(recording.sent) == 2
    for sql in recording.sent:
        functions = {table.this.name.lower() for table in _read_tables(sql, "duckdb")}
        assert functions == {"duckdb_tables", "duckdb_views"}, sql
        assert all(
            isinstance(table.this, exp.Anonymous) for table in _read_tables(sql, "duckdb")
        ), sql


@pytest.mark.slow  # whole Dagster runs in process (about 10 s)
def test_the_observation_job_feeds_freshness_checks_run_by_the_sensor(project_dir: Path) -> None:
    project = load_project(project_dir, lineage=True).raise_for_errors()
    defs = definitions_for(project)
    schedule = defs.resolve_schedule_def(f"{OBSERVE_JOB}__schedule")
    assert (schedule.cron_schedule, schedule.default_status) == (
        "*/30 * * * *",
        dg.DefaultScheduleStatus.STOPPED,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(OBSERVE_JOB).execute_in_process(instance=instance)
    assert result.success
    observed = {
        event.asset_observation_data.asset_observation.asset_key: {
            key: value.value
            for key, value in event.asset_observation_data.asset_observation.metadata.items()
        }
        for event in result.get_asset_observation_events()
    }
    assert observed[DAILY]["dagster/row_count"] == 1
    assert observed[SOURCE]["dagster/row_count"] == 100
    assert observed[dg.AssetKey(["marts", "recent"])]["sqlassets/table_kind"] == "view"

    # The sensor asks for both freshness checks; the model's passes once materialized.
    sensor = defs.resolve_sensor_def(FRESHNESS_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    ticked = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    keys = ticked.run_requests[0].asset_check_keys
    assert {(key.asset_key, key.name) for key in keys} == {
        (DAILY, "freshness_check"),
        (SOURCE, "freshness_check"),
    }
    resources = dict(defs.resources or {})
    assets = list(defs.assets or [])
    assert dg.materialize(assets, instance=instance, resources=resources, selection=[DAILY]).success

    def verdicts() -> dict[dg.AssetKey, bool]:
        run = dg.materialize(
            [*assets, *(defs.asset_checks or [])],
            instance=instance,
            resources=resources,
            selection=dg.AssetSelection.checks(*keys),
        )
        return {e.asset_key: e.passed for e in run.get_asset_check_evaluations()}

    # DuckDB keeps no modification time: the unmaterialized source has no update to go by.
    assert verdicts() == {DAILY: True, SOURCE: False}
    # A BigQuery observation says when the table last changed: stale, then fresh.
    now = datetime.now(UTC)
    for modified, fresh in ((now - timedelta(days=3), False), (now, True)):
        stats = TableStats("landing.events", row_count=100, last_modified=modified)
        item = Observation("landing.events", True, "landing.events", stats)
        instance.report_runless_asset_event(
            dg.AssetObservation(asset_key=SOURCE, metadata=observation_metadata(item))
        )
        assert verdicts()[SOURCE] is fresh


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        if env is None:
            patch.delenv("DAGSTER_HOME", raising=False)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_observe_prints_each_table_without_reading_rows(project_dir: Path) -> None:
    result = _cli(project_dir, "observe")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "name",
        "kind",
        "rows",
        "logical",
        "physical",
        "partitions",
        "modified",
        "fresh",
    ]
    assert lines[1].split()[:3] == ["marts.daily", "model", "1"]
    assert lines[3].split()[:3] == ["landing.events", "source", "100"]
    rows = json.loads(_cli(project_dir, "observe", "--format", "json", "-s", "marts.daily").stdout)
    assert [(row["name"], row["rows"]) for row in rows] == [
        ("marts.daily", 1),
        ("landing.events", 100),
    ]
    assert _cli(project_dir, "observe", "-s", "nope").exit_code == 2


# ---------------------------------------------------------------- BigQuery (fake transport)


def _bigquery(fake: FakeBigQuery) -> BigQueryEngine:
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    return BigQueryEngine(
        "acme-prod",
        location="EU",
        naming=Naming(project="acme-prod", dataset_prefix="dev_"),
        client_factory=lambda: client,
        request_retry=Retry(initial=0.001, maximum=0.001, multiplier=1, timeout=5),
    )


def _queries(fake: FakeBigQuery) -> list[dict[str, Any]]:
    return [
        {**body["configuration"]["query"], "labels": body["configuration"].get("labels")}
        for method, path, body in fake.requests
        if method == "POST" and path.endswith("/jobs") and body
    ]


_STATS_SCHEMA = [
    {"name": name, "type": kind}
    for name, kind in (
        ("table_id", "STRING"),
        ("type", "INTEGER"),
        ("row_count", "INTEGER"),
        ("logical_bytes", "INTEGER"),
        ("physical_bytes", "INTEGER"),
        ("partitions", "INTEGER"),
        ("last_modified_time", "INTEGER"),
    )
]


def test_bigquery_observations_read_only_metadata_views(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, FILES))
    fake = FakeBigQuery()

    def answer(sql: str) -> Any:
        if "dev_marts" in sql:
            return _STATS_SCHEMA, [
                ["daily", "1", "7", "700", "300", "30", "1767225600000"],
                ["recent", "2", "0", "0", None, None, "1767225600000"],
            ]
        return _STATS_SCHEMA, [["events", "1", "100", "5000", "2000", None, "1767229200000"]]

    fake.answer = answer
    observations = {item.name: item for item in observe(project, _bigquery(fake))}

    daily = observations["marts.daily"]
    assert daily.table == "acme-prod.dev_marts.daily"
    assert daily.stats == TableStats(
        "dev_marts.daily",
        kind="table",
        row_count=7,
        logical_bytes=700,
        physical_bytes=300,
        partitions=30,
        last_modified=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert observations["marts.recent"].stats.kind == "view"  # type: ignore[union-attr]
    source = observations["landing.events"].stats
    assert source is not None and source.last_modified == datetime(2026, 1, 1, 1, tzinfo=UTC)
    metadata = observation_metadata(daily)
    assert metadata["dagster/last_updated_timestamp"] == dg.MetadataValue.timestamp(
        datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert metadata["sqlassets/partitions"] == dg.MetadataValue.int(30)

    queries = _queries(fake)
    assert len(queries) == 2  # one per dataset, for both tables of dev_marts at once
    for query in queries:
        assert query["labels"] == {"sqlassets_job": "observe"}
        tables = _read_tables(query["query"], "bigquery")
        names = {table.name for table in tables}
        assert names <= {
            "__TABLES__",
            "INFORMATION_SCHEMA.TABLE_STORAGE",
            "INFORMATION_SCHEMA.PARTITIONS",
        }, query["query"]
        assert len(names) == 3
        assert "`region-eu`" in query["query"]
    assert "IN ('daily', 'recent')" in queries[0]["query"]


def test_bigquery_job_costs_sum_labelled_top_level_jobs(tmp_path: Path) -> None:
    fake = FakeBigQuery()
    schema = [
        {"name": "asset", "type": "STRING"},
        {"name": "day", "type": "DATE"},
        {"name": "jobs", "type": "INTEGER"},
        {"name": "bytes_billed", "type": "INTEGER"},
        {"name": "slot_ms", "type": "INTEGER"},
    ]
    fake.answer = lambda sql: (
        schema,
        [
            ["marts_daily", "2026-01-01", "3", "3000000", "120"],
            ["other_thing", "2026-01-01", "1", "10", None],
        ],
    )
    since = datetime(2025, 12, 25, tzinfo=UTC)
    costs = _bigquery(fake).job_costs(since, ["marts.daily"])
    assert [(c.asset, c.day, c.jobs, c.bytes_billed, c.slot_ms) for c in costs] == [
        ("marts.daily", date(2026, 1, 1), 3, 3_000_000, 120),
        ("other_thing", date(2026, 1, 1), 1, 10, 0),
    ]
    (query,) = _queries(fake)
    tables = _read_tables(query["query"], "bigquery")
    assert [table.name for table in tables] == ["INFORMATION_SCHEMA.JOBS"]
    assert tables[0].db == "region-eu"
    tree = sqlglot.parse_one(query["query"], read="bigquery")
    assert "parent_job_id IS NULL" in tree.sql("bigquery")  # a script's children count once
    assert "l.key = 'sqlassets_asset'" in tree.sql("bigquery")
    (parameter,) = query["queryParameters"]
    assert parameter["name"] == "since" and parameter["parameterType"]["type"] == "TIMESTAMP"


# ---------------------------------------------------------------- the cost report


def _materialization(job_ids: list[str], billed: int, slots: int) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key=DAILY,
        metadata={
            "sqlassets/job_ids": dg.MetadataValue.json(job_ids),
            "sqlassets/bytes_billed": dg.MetadataValue.int(billed),
            "sqlassets/slot_ms": dg.MetadataValue.int(slots),
        },
    )


def test_cost_counts_a_step_once_and_plots_the_days(project_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # A range step records one materialization per partition, all with its jobs.
        for _ in range(3):
            instance.report_runless_asset_event(_materialization(["job-a"], 1000, 10))
        instance.report_runless_asset_event(_materialization(["job-b"], 500, 5))
        project = load_project(project_dir)
        entries = event_log_costs(project, instance, datetime.now(UTC) - timedelta(days=1))
    today = datetime.now(UTC).date()
    assert entries == [CostEntry("marts.daily", today, EVENT_LOG, 2, 1500, 15)]

    plot = tmp_path / "cost.png"
    result = _cli(
        project_dir, "cost", "--since", "2d", "--plot", str(plot), env={"DAGSTER_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Dagster event log, by model:" in lines
    model_row = lines[lines.index("Dagster event log, by model:") + 2].split()
    assert model_row == ["marts.daily", "2", "1.5", "KB", "15"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1.5 KB billed in all (dagster)" in result.stderr


def test_cost_plot_without_matplotlib_is_a_usage_error(
    project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    plot = tmp_path / "cost.png"
    result = _cli(project_dir, "cost", "--plot", str(plot), env={"DAGSTER_HOME": ""})
    assert result.exit_code == 2, result.output
    assert "pip install 'sqlassets[plot]'" in result.stderr
    assert not plot.exists()


def test_the_cost_chart_stacks_models_per_day_with_labels() -> None:
    span = [date(2026, 1, 1) + timedelta(days=n) for n in range(3)]
    series = {"marts.big": [0, 0, 2_000_000], "marts.small": [0, 500, 1_000]}
    figure = cost_figure(series, span, "Bytes billed")
    (axes,) = figure.axes
    assert axes.get_title() == "Bytes billed"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["marts.big", "marts.small"]
    assert [t.get_text() for t in axes.get_xticklabels()] == [d.isoformat() for d in span]
    big, small = axes.containers
    assert [bar.get_height() for bar in big] == [0, 0, 2_000_000]
    # Stacked: the second model's bars start on top of the first's.
    assert [bar.get_y() for bar in small] == [0, 0, 2_000_000]
    figure.canvas.draw()
    assert "2.0 MB" in [t.get_text() for t in axes.get_yticklabels()]


def test_cost_report_orders_models_by_bytes_and_reads_since() -> None:
    day = date(2026, 1, 1)
    entries = [
        CostEntry("a", day, EVENT_LOG, 1, 10, 1),
        CostEntry("b", day, EVENT_LOG, 1, 500, 1),
        CostEntry("a", day + timedelta(days=1), EVENT_LOG, 2, 20, 2),
    ]
    assert [(t.key, t.bytes_billed) for t in totals(entries, "model")] == [("b", 500), ("a", 30)]
    by_day = [(t.key, t.runs) for t in totals(entries, "day")]
    assert by_day == [("2026-01-01", 2), ("2026-01-02", 2)]
    now = datetime(2026, 1, 8, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_since("2026-01-03") == datetime(2026, 1, 3, tzinfo=UTC)
    lines = render_text(entries, now, ["a note"]).splitlines()
    by_model = lines.index("Dagster event log, by model:")
    assert [line.split() for line in lines[by_model + 2 : by_model + 5]] == [
        ["b", "1", "500", "B", "1"],
        ["a", "3", "30", "B", "3"],
        ["total", "4", "530", "B", "4"],
    ]
    assert lines[-1] == "note: a note"

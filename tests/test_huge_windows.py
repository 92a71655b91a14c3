"""A single-run range costs Dagster little per partition, and Dagster still shows every
partition materialized (reliability issue, item 7; the figure: ``bench/window_bench.py``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.plan import execute_step
from dagster_shared.check import CheckError

from sqlassets.dagster import ranges
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.dagster.run import run_project
from sqlassets.dagster.translator import time_partitions_def
from sqlassets.project import load_project
from sqlassets.spec import Cadence, TimePartitions
from sqlassets.window import KEY_FORMATS, TimeKeys, step
from tests.helpers import write_project

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
HOURLY = """-- @materialized: insert_overwrite
-- @partition_by: TIMESTAMP_TRUNC(ts, HOUR)
-- @partitions: hourly
-- @start: 2024-01-01 00:00
SELECT ts, 1 AS n
FROM UNNEST(GENERATE_TIMESTAMP_ARRAY(@start_ts, TIMESTAMP_SUB(@end_ts, INTERVAL 1 HOUR),
  INTERVAL 1 HOUR)) AS ts
"""
HOURS = 48


@pytest.fixture
def asset_events(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every asset event Dagster builds for a step's output (one per partition of a range)."""
    built: list[object] = []
    original = execute_step._dagster_event_for_asset_event

    def counting(*args: object, **kwargs: object) -> object:
        built.append(args[1])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(execute_step, "_dagster_event_for_asset_event", counting)
    return built


def _run(root: Path) -> None:
    write_project(root, {"pyproject.toml": PYPROJECT, "sql/m/hourly.sql": HOURLY})
    project = load_project(root).raise_for_errors()
    try:
        (outcome,) = run_project(
            project, {"m.hourly"}, start="2024-01-01 00:00", end="2024-01-03 00:00"
        )
    finally:
        DuckDBEngineResource.close_all()
    assert (outcome.status, outcome.rows) == ("materialized", HOURS)
    assert outcome.window == "2024-01-01-00:00..2024-01-02-23:00"


def test_the_command_lines_instance_builds_no_event_per_partition(
    tmp_path: Path, asset_events: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing reads a step's events back from the ephemeral instance (gone with the
    # command): building 17,520 of them was most of a 2-year hourly window's cost.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    _run(tmp_path)
    assert asset_events == []


def test_a_dagster_instance_shows_every_partition_of_the_range_materialized(
    tmp_path: Path, asset_events: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    _run(tmp_path / "project")
    assert len(asset_events) == HOURS
    with dg.DagsterInstance.get() as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey(["m", "hourly"]))
    expected = {f"2024-01-{1 + hour // 24:02d}-{hour % 24:02d}:00" for hour in range(HOURS)}
    assert materialized == expected


@pytest.mark.parametrize("cadence", list(Cadence), ids=lambda cadence: cadence.value)
def test_window_keys_are_the_stepped_keys_computed_one_at_a_time(cadence: Cadence) -> None:
    start = datetime(2023, 11, 1) if cadence is Cadence.MONTHLY else datetime(2023, 12, 30, 22)
    if cadence is not Cadence.HOURLY:
        start = start.replace(hour=0)
    stepped, moment = [], start
    for _ in range(30):
        stepped.append(moment.strftime(KEY_FORMATS[cadence]))
        moment = step(cadence, moment)
    keys = TimeKeys(cadence, start, moment)
    assert (len(keys), list(keys), keys[-1], keys[3:6]) == (
        30,
        stepped,
        stepped[-1],
        tuple(stepped[3:6]),
    )
    assert keys == tuple(stepped) and hash(keys) == hash(tuple(stepped))


def test_a_ten_year_hourly_window_is_counted_not_listed() -> None:
    keys = TimeKeys(Cadence.HOURLY, datetime(2015, 1, 1), datetime(2025, 1, 1))
    assert (len(keys), keys[0], keys[-1]) == (87_672, "2015-01-01-00:00", "2024-12-31-23:00")


@pytest.mark.parametrize(
    ("cadence", "first", "last"),
    [
        (Cadence.HOURLY, "2022-01-01-00:00", "2023-12-31-23:00"),
        (Cadence.HOURLY, "2022-03-27-00:00", "2022-03-27-05:00"),
        (Cadence.DAILY, "2020-01-01", "2024-02-29"),
        (Cadence.WEEKLY, "2020-01-08", "2020-03-04"),
        (Cadence.MONTHLY, "2020-01-01", "2021-12-01"),
        (Cadence.DAILY, "2020-01-05", "2020-01-05"),
    ],
    ids=["hourly-2y", "hourly-dst-day", "daily-leap", "weekly", "monthly", "one-day"],
)
def test_a_range_subset_is_dagsters_built_as_one_window(
    cadence: Cadence, first: str, last: str
) -> None:
    partitions_def = time_partitions_def(
        TimePartitions(cadence=cadence, start=datetime(2020, 1, 1))
    )
    if cadence is Cadence.WEEKLY:  # weeks start on @start's weekday (a Wednesday)
        assert partitions_def.cron_schedule == "0 0 * * 3"
    key_range = dg.PartitionKeyRange(first, last)
    dagsters = ranges._dagsters(partitions_def.empty_subset(), partitions_def, key_range)
    ours = partitions_def.empty_subset().with_partition_key_range(partitions_def, key_range)
    assert ours == dagsters and len(ours.included_time_windows) == 1
    assert list(ours.get_partition_keys()) == list(dagsters.get_partition_keys())


def test_a_range_outside_the_partitions_fails_as_in_dagster() -> None:
    partitions_def = time_partitions_def(
        TimePartitions(cadence=Cadence.DAILY, start=datetime(2020, 1, 1))
    )
    with pytest.raises(CheckError, match="is before the partitions definition start"):
        partitions_def.empty_subset().with_partition_key_range(
            partitions_def, dg.PartitionKeyRange("2019-12-30", "2020-01-03")
        )


def test_a_range_subset_takes_dagsters_keywords() -> None:
    partitions_def = time_partitions_def(
        TimePartitions(cadence=Cadence.DAILY, start=datetime(2020, 1, 1))
    )
    subset = partitions_def.empty_subset().with_partition_key_range(
        partitions_def=partitions_def,
        partition_key_range=dg.PartitionKeyRange("2020-01-02", "2020-01-04"),
    )
    assert list(subset.get_partition_keys()) == ["2020-01-02", "2020-01-03", "2020-01-04"]

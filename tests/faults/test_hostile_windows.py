"""Hostile partition keys and windows are refused before any SQL is built;
whatever is accepted renders as exactly one statement per statement."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlassets.engines import open_engine
from sqlassets.errors import WindowError
from sqlassets.project import load_project
from sqlassets.runner import model_jobs, resolve_window
from sqlassets.window import parse_moment

ROOT = Path(__file__).parent.parent / "fixtures" / "golden"
PROJECT = load_project(ROOT, display_base=ROOT).raise_for_errors()
ENGINE = open_engine(PROJECT.config, "prod")

HOSTILE = [
    "2024-01-01'; DROP TABLE x; --",
    "2024-01-01' OR '1'='1",
    "eu'; DELETE FROM t WHERE '1'='1",
    "`eu`",
    "eu\n; DROP TABLE x",
    "eu\\",
    "\uff45\uff55",  # fullwidth "eu"
    "2024\u200b-01-01",
    "2024-01-01\x00",
    "eu" * 500,
    "",
    "{partition_key}",
]

_keys = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))


@pytest.mark.parametrize("key", HOSTILE)
@pytest.mark.parametrize("model", ["marts.daily_revenue", "marts.regional", "raw.clicks"])
def test_hostile_keys_are_refused(model: str, key: str) -> None:
    with pytest.raises(WindowError) as error:
        resolve_window(PROJECT.models[model], partition=key)
    assert "\n" not in error.value.message
    assert len(error.value.message) < 300


@settings(max_examples=400, deadline=None)
@given(key=_keys)
def test_any_key_is_refused_or_exactly_a_declared_partition(key: str) -> None:
    for name in ("marts.daily_revenue", "marts.regional"):
        model = PROJECT.models[name]
        try:
            window = resolve_window(model, partition=key)
        except WindowError:
            continue
        assert window.keys == (key,)
        assert key in ("eu", "us") or datetime.strptime(key, "%Y-%m-%d").strftime("%Y-%m-%d") == key


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30)))
def test_window_bounds_parse_to_datetimes_or_fail(text: str) -> None:
    try:
        moment = parse_moment(text)
    except WindowError:
        return
    assert isinstance(moment, datetime)


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(sorted(PROJECT.models)),
    offset=st.integers(0, 800),
    length=st.integers(1, 40),
    key=st.sampled_from(["eu", "us"]),
)
def test_every_generated_statement_is_exactly_one_statement(
    model: str, offset: int, length: int, key: str
) -> None:
    spec = PROJECT.models[model].spec
    start = datetime(2024, 1, 1) + timedelta(days=offset)
    if spec.time_partitions is not None and spec.time_partitions.cadence.value == "monthly":
        start = start.replace(day=1)
        window = resolve_window(PROJECT.models[model], partition=start.strftime("%Y-%m-%d"))
    elif spec.time_partitions is not None:
        window = resolve_window(
            PROJECT.models[model], start=start, end=start + timedelta(days=length)
        )
    elif spec.static_partitions is not None:
        window = resolve_window(PROJECT.models[model], partition=key)
    else:
        window = resolve_window(PROJECT.models[model])
    for job in model_jobs(PROJECT, PROJECT.models[model], ENGINE, window):
        if job.load is not None:  # a load job into one partition: configuration, no SQL
            assert not job.statements and job.uris
            continue
        assert len(sqlglot.parse(job.sql(), read="bigquery")) == len(job.statements)
        for statement in job.statements:
            assert len(sqlglot.parse(statement.sql("bigquery"), read="bigquery")) == 1

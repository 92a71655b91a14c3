"""Golden files: the exact SQL each materialization sends, per partition kind and engine.

Regenerate with SQLASSETS_UPDATE_GOLDENS=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot

from sqlassets.engines import open_engine
from sqlassets.project import load_project
from sqlassets.runner import model_jobs, render_jobs, resolve_window

ROOT = Path(__file__).parent / "fixtures" / "golden"
EXPECTED = ROOT / "expected"
UPDATE = os.environ.get("SQLASSETS_UPDATE_GOLDENS") == "1"

CASES = [
    ("raw.events", {}),
    ("raw.orders", {"start": "2024-01-01", "end": "2024-01-04"}),
    ("raw.clicks", {"partition": "2024-01-01-05:00"}),
    ("raw.landed", {"start": "2024-01-01", "end": "2024-01-03"}),
    ("staging.customers", {}),
    ("marts.products", {}),
    ("marts.customers", {}),
    ("marts.regional", {"partition": "eu"}),
    ("marts.daily_revenue", {"partition": "2024-01-02"}),
    ("marts.daily_revenue", {"start": "2024-01-01", "end": "2025-01-01"}),
    ("marts.hourly_clicks", {"start": "2024-01-01 00:00", "end": "2024-01-01 06:00"}),
    ("marts.monthly", {"partition": "2024-02-01"}),
]
TARGETS = ["local", "prod"]


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT, display_base=ROOT).raise_for_errors()


def _name(model: str, window: dict[str, str], target: str) -> str:
    label = "-".join(value.replace(" ", "T").replace(":", "") for value in window.values()) or "all"
    return f"{model}__{label}.{target}.sql"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("model", "window"), CASES, ids=[f"{m}-{w}" for m, w in CASES])
def test_compiled_sql_matches_golden(project, model: str, window: dict, target: str) -> None:
    engine = open_engine(project.config, target)
    jobs = model_jobs(
        project, project.models[model], engine, resolve_window(project.models[model], **window)
    )
    got = render_jobs(engine, jobs)
    assert ROOT.resolve().as_posix() not in got, "golden SQL must not depend on the checkout path"
    golden = EXPECTED / _name(model, window, target)
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got)
    assert got == golden.read_text()


@pytest.mark.parametrize(("model", "window"), CASES, ids=[f"{m}-{w}" for m, w in CASES])
def test_bigquery_statements_reparse_one_by_one(project, model: str, window: dict) -> None:
    engine = open_engine(project.config, "prod")
    jobs = model_jobs(
        project, project.models[model], engine, resolve_window(project.models[model], **window)
    )
    for job in jobs:
        if job.load is not None:  # a load job: configuration, no SQL
            assert not job.statements
            continue
        reparsed = sqlglot.parse(job.sql("bigquery"), read="bigquery")
        assert len(reparsed) == len(job.statements)
        for statement in job.statements:
            (tree,) = sqlglot.parse(statement.sql("bigquery"), read="bigquery")
            assert tree.sql("bigquery") == statement.sql("bigquery")


def test_a_365_day_backfill_is_one_statement_per_job(project) -> None:
    engine = open_engine(project.config, "prod")
    model = project.models["marts.daily_revenue"]
    window = resolve_window(model, start="2024-01-01", end="2025-01-01")
    assert len(window.keys) == 366
    jobs = model_jobs(project, model, engine, window)
    assert [job.action for job in jobs] == ["create", "overwrite"]
    # One job each: the overwrite is one transaction (a script), whatever the window's size.
    assert len(jobs[0].statements) == 1
    assert [type(s).__name__ for s in jobs[1].statements] == [
        "Transaction",
        "Delete",
        "Insert",
        "Commit",
    ]
    overwrite = jobs[1]
    assert {p.name: str(p.value) for p in overwrite.parameters} == {
        "start_date": "2024-01-01",
        "end_date": "2025-01-01",
    }


def test_a_daily_load_window_reads_each_days_files(project) -> None:
    engine = open_engine(project.config, "prod")
    model = project.models["raw.orders"]
    job, overwrite = model_jobs(
        project, model, engine, resolve_window(model, start="2024-01-30", end="2024-02-02")
    )
    assert (job.action, overwrite.action) == ("stage", "overwrite")
    assert job.uris == (
        "gs://acme-landing/orders/20240130/*.csv",
        "gs://acme-landing/orders/20240131/*.csv",
        "gs://acme-landing/orders/20240201/*.csv",
    )

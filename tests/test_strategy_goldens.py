"""Strategy goldens: a model file and a window in, the BigQuery text sent out.

One layer only: ``sqlassets.strategies.plan_jobs`` (and ``checks_query``) on a
spec, a physical table and a window, with no engine planning around it. The
expected text is what ``BigQueryEngine`` sends (``tests.helpers.bigquery_sent_sql``),
not the pretty render the end-to-end goldens in ``fixtures/golden`` pin; the
last test replays every case through the real client on the fake transport
and reads the text back off the wire.

Each case is one file in ``fixtures/strategies`` (sqlglot's fixture style):
``-- title:``, ``-- model:`` (its ``dataset.table``), ``-- window:`` (``none``,
a partition key, or ``start..end``), optionally ``-- full_refresh: true``,
then the model file under ``-- >>> model`` and the jobs under ``-- >>> sent``.
Regenerate with SQLASSETS_UPDATE_GOLDENS=1 and review the diff.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import expressions as exp

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine
from sqlassets.project import load_project
from sqlassets.spec import LoadMaterialization, LoadMode
from sqlassets.strategies import checks_query, plan_jobs
from sqlassets.window import Window, key_window, time_window
from tests.fakes.bigquery_transport import FakeBigQuery
from tests.fidelity_models import BIGQUERY_PYPROJECT
from tests.helpers import (
    SqlFixture,
    bigquery_sent_check_sql,
    bigquery_sent_sql,
    sql_fixtures,
    write_project,
)

FIXTURES = sql_fixtures(Path(__file__).parent / "fixtures" / "strategies")
PROJECT_ID = "acme-prod"
CONFIG = BIGQUERY_PYPROJECT


def _ids(fixtures: list[SqlFixture]) -> list[str]:
    return [fixture.path.stem for fixture in fixtures]


def _plan(fixture: SqlFixture, tmp_path: Path) -> tuple[Any, list[Any], list[Any]]:
    """(spec, jobs, check queries) of the fixture's model, straight from the strategies."""
    name = fixture.settings["model"]
    dataset, table = name.split(".")
    root = write_project(
        tmp_path,
        {"pyproject.toml": CONFIG, f"sql/{dataset}/{table}.sql": fixture.sections["model"]},
    )
    model = load_project(root, display_base=root).raise_for_errors().models[name]
    spec = model.spec
    window = _window(spec, fixture.settings.get("window", "none"))
    target = exp.Table(
        this=exp.to_identifier(table),
        db=exp.to_identifier(dataset),
        catalog=exp.to_identifier(PROJECT_ID),
    )
    query, preamble, columns = None, [], None
    if model.analysis is not None:
        *preamble, query = sqlglot.parse(model.sql, read="bigquery")
        columns = model.analysis.output_columns
    full_refresh = fixture.settings.get("full_refresh") == "true"
    capabilities = BigQueryEngine.capabilities
    jobs = plan_jobs(
        spec,
        target,
        window,
        query,
        columns,
        preamble,
        full_refresh,
        partition_load_jobs=capabilities.partition_load_jobs,
        load_layout=capabilities.load_layout,
    )
    checks = checks_query(spec, target, window)
    return spec, jobs, [checks] if checks is not None else []


def _window(spec: Any, text: str) -> Window:
    if text == "none":
        return Window()
    if ".." in text:
        start, end = (datetime.fromisoformat(part.strip()) for part in text.split(".."))
        return time_window(spec, start, end)
    return key_window(spec, text)


def _parameters(parameters: Any) -> list[str]:
    # The same text the client puts on the wire for a DATE, TIMESTAMP or STRING value.
    return [f"-- @{p.name} {p.type} = {p.value}" for p in sorted(parameters, key=lambda p: p.name)]


def _load_configuration(body: dict[str, Any]) -> str:
    """A load job's configuration as sent (labels aside: they name the run), as JSON."""
    sent = dict(body["configuration"]["load"])
    sent.pop("labels", None)
    return json.dumps(sent, indent=2, sort_keys=True)


def _sent_load(job: Any) -> str:
    """What ``BigQueryEngine`` sends for a load job: its configuration, off the wire."""
    fake = FakeBigQuery()
    client = bigquery.Client(project=PROJECT_ID, credentials=AnonymousCredentials(), _http=fake)
    engine = BigQueryEngine(PROJECT_ID, location="EU", client_factory=lambda: client)
    engine.execute(job, JobContext("golden", run_id="golden"))
    (body,) = [b for m, p, b in fake.requests if m == "POST" and p.endswith("/jobs")]
    return _load_configuration(body or {})


def _sent(jobs: list[Any], checks: list[Any]) -> str:
    blocks = []
    for index, job in enumerate(jobs, start=1):
        header = f"-- job {index}/{len(jobs)}: {job.action}"
        if job.load is not None:
            blocks.append("\n".join([header, _sent_load(job)]))
            continue
        blocks.append("\n".join([header, *_parameters(job.parameters), bigquery_sent_sql(job)]))
    for query in checks:
        scope = "the window" if query.scoped else "the whole table"
        header = f"-- checks {', '.join(c.name for c in query.checks)} (over {scope})"
        sql = bigquery_sent_check_sql(query.query)
        blocks.append("\n".join([header, *_parameters(query.parameters), sql]))
    return "\n\n".join(blocks) + "\n"


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_strategy_output_is_the_golden_bigquery_text(fixture: SqlFixture, tmp_path: Path) -> None:
    _, jobs, checks = _plan(fixture, tmp_path)
    fixture.assert_section("sent", _sent(jobs, checks))


def _case(spec: Any, full_refresh: bool) -> str:
    """``materialized[ format] layout``: what a fixture covers, e.g. ``load csv daily``."""
    kind = spec.materialized.value
    if isinstance(spec.materialization, LoadMaterialization):
        kind += f" {spec.materialization.format.value}"
        if spec.materialization.load_mode is LoadMode.APPEND:
            kind += " append"
    if spec.time_partitions is not None:
        layout = spec.time_partitions.cadence.value
    elif spec.partitions is not None:
        layout = "static"
    elif spec.partition_by is not None:
        layout = "partition_by"
    elif spec.cluster_by:
        layout = "cluster_by"
    else:
        layout = "plain"
    return f"{kind} {layout}" + (" full_refresh" if full_refresh else "")


def test_every_materialization_and_layout_has_a_case(tmp_path: Path) -> None:
    """A meta-test: a strategy path without a golden fails here, not in production."""
    covered = {
        _case(
            _plan(fixture, tmp_path / str(index))[0], fixture.settings.get("full_refresh") == "true"
        )
        for index, fixture in enumerate(FIXTURES)
    }
    required = {
        "table plain",
        "table partition_by",
        "view plain",
        "merge plain",
        "merge static",
        "merge daily",
        "merge partition_by full_refresh",
        "insert_overwrite daily",
        "insert_overwrite hourly",
        "insert_overwrite monthly",
        "insert_overwrite daily full_refresh",
        "load parquet plain",
        "load parquet partition_by",
        "load csv daily",
        "load csv daily full_refresh",
        "load json hourly",
        "load json cluster_by",
        "load parquet append daily",
        "load parquet append daily full_refresh",
    }
    assert required <= covered, f"no fixture for {sorted(required - covered)}"


def _golden_blocks(fixture: SqlFixture) -> list[tuple[list[str], str]]:
    """(parameter lines, query text) of each job and check of the golden, in order."""
    blocks = []
    for block in fixture.sections["sent"].strip("\n").split("\n\n"):
        lines = block.split("\n")
        parameters = [line for line in lines[1:] if line.startswith("-- @")]
        sql = "\n".join(line for line in lines[1:] if not line.startswith("-- @"))
        blocks.append((parameters, sql))
    return blocks


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_the_bigquery_client_sends_the_golden_text(fixture: SqlFixture, tmp_path: Path) -> None:
    """Replayed through ``BigQueryEngine`` on the fake transport, each job and check
    sends exactly the golden's text and parameters: the goldens are the bytes sent."""
    _, jobs, checks = _plan(fixture, tmp_path)
    fake = FakeBigQuery()
    fake.result_rows = [[0]]
    fake.result_schema = [{"name": "failures", "type": "INTEGER"}]
    client = bigquery.Client(project=PROJECT_ID, credentials=AnonymousCredentials(), _http=fake)
    engine = BigQueryEngine(PROJECT_ID, location="EU", client_factory=lambda: client)
    context = JobContext(fixture.settings["model"], run_id="golden")
    for job in jobs:
        engine.execute(job, context)
    for query in checks:
        step = JobContext(context.asset, run_id="golden", step="checks")
        engine.fetch_row(query.query, query.parameters, step)
    received = []
    for method, path, body in fake.requests:
        if method == "POST" and path.endswith("/jobs") and "load" in body["configuration"]:
            received.append(([], _load_configuration(body)))
        elif method == "POST" and path.endswith("/jobs"):
            sent = body["configuration"]["query"]
            parameters = sorted(
                sent.get("queryParameters", []), key=lambda parameter: parameter["name"]
            )
            lines = [
                f"-- @{p['name']} {p['parameterType']['type']} = {p['parameterValue']['value']}"
                for p in parameters
            ]
            received.append((lines, sent["query"]))
    assert received == _golden_blocks(fixture)

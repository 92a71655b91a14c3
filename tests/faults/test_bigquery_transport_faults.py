"""The BigQuery engine against a fake transport, for what no emulator can do:
LOAD DATA, dry-run bytes, byte limits, lost responses and 409s, classified
retries and cancellation on interruption."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from sqlassets.engines.base import JobContext
from sqlassets.engines.bigquery import BigQueryEngine, RetryPolicy, classify, label_value
from sqlassets.errors import EngineError
from sqlassets.job import Naming
from sqlassets.project import load_project
from sqlassets.runner import model_jobs, resolve_window
from tests.fakes.bigquery_transport import FakeBigQuery, Outcome

# Slow: plan over a window of more than 4,000 hourly partitions takes about a minute.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent / "fixtures" / "golden"
PROJECT = load_project(ROOT, display_base=ROOT).raise_for_errors()


@pytest.fixture
def fake() -> FakeBigQuery:
    return FakeBigQuery()


@pytest.fixture
def engine(fake: FakeBigQuery) -> BigQueryEngine:
    client = bigquery.Client(project="acme-prod", credentials=AnonymousCredentials(), _http=fake)
    sleeps: list[float] = []
    built = BigQueryEngine(
        "acme-prod",
        location="EU",
        naming=Naming(project="acme-prod", dataset_suffix="_prod"),
        client_factory=lambda: client,
        maximum_bytes_billed=10**9,
        job_timeout_s=600,
        retry_policy=RetryPolicy(max_attempts=3),
        sleep=sleeps.append,
        # The client's own request retry, with instant backoff for the test.
        request_retry=Retry(initial=0.001, maximum=0.001, multiplier=1, timeout=5),
    )
    built.sleeps = sleeps  # type: ignore[attr-defined]
    return built


def _jobs(name: str, **window: str):
    model = PROJECT.models[name]
    return model_jobs(PROJECT, model, _engine_for_render(), resolve_window(model, **window))


def _engine_for_render() -> BigQueryEngine:
    return BigQueryEngine("acme-prod", naming=Naming(project="acme-prod", dataset_suffix="_prod"))


def _inserts(fake: FakeBigQuery) -> list[dict]:
    return [
        body for method, path, body in fake.requests if method == "POST" and path.endswith("/jobs")
    ]


def test_load_data_job_carries_sql_labels_limits_and_timeout(fake, engine) -> None:
    stage, overwrite = _jobs("raw.orders", start="2024-01-01", end="2024-01-03")
    assert (stage.action, overwrite.action) == ("stage", "overwrite")
    context = JobContext(
        "raw.orders", run_id="run-1", window="2024-01-01..2024-01-02", labels={"team": "Data"}
    )
    result = engine.execute(stage, context)
    (body,) = _inserts(fake)
    query = body["configuration"]["query"]
    # The literal text on the wire (not the engine's own rendering compared with itself).
    assert query["query"] == (
        "LOAD DATA OVERWRITE `acme-prod`.raw_prod._sqlassets_load_0c4bea82b537 FROM FILES("
        "FORMAT='CSV', uris=['gs://acme-landing/orders/20240101/*.csv', "
        "'gs://acme-landing/orders/20240102/*.csv'], skip_leading_rows=1)"
    )
    assert body["configuration"]["labels"] == {
        "team": "data",
        "sqlassets_asset": "raw_orders",
        "dagster_run_id": "run-1",
        "sqlassets_window": "2024-01-01_2024-01-02",
    }
    assert query["maximumBytesBilled"] == str(10**9)
    assert body["configuration"]["jobTimeoutMs"] == "600000"
    assert body["jobReference"]["jobId"] == result.job_id
    assert fake.datasets == ["raw_prod"]
    assert (result.bytes_processed, result.bytes_billed, result.slot_ms, result.rows_affected) == (
        1_000_000,
        1_000_000,
        42,
        3,
    )


def test_a_partition_load_job_carries_labels_and_timeout(fake, engine) -> None:
    (job,) = _jobs("raw.orders", partition="2024-01-02")
    context = JobContext("raw.orders", run_id="run-2", window="2024-01-02", labels={"team": "Data"})
    result = engine.execute(job, context)
    (body,) = _inserts(fake)
    assert body["configuration"]["load"]["destinationTable"]["tableId"] == "orders$20240102"
    assert body["configuration"]["labels"] == {
        "team": "data",
        "sqlassets_asset": "raw_orders",
        "dagster_run_id": "run-2",
        "sqlassets_window": "2024-01-02",
    }
    assert body["configuration"]["jobTimeoutMs"] == "600000"
    assert body["jobReference"] == {
        "jobId": result.job_id,
        "projectId": "acme-prod",
        "location": "EU",
    }


def test_the_transport_receives_the_literal_sql_and_parameters(fake, engine) -> None:
    """SQLMesh-style: the exact statements and parameters the server received, as literals."""
    for job in _jobs("marts.daily_revenue", partition="2024-01-02"):
        engine.execute(job, JobContext("marts.daily_revenue", run_id="run-sql"))
    sent = [body["configuration"]["query"]["query"] for body in _inserts(fake)]
    assert sent == [
        "CREATE TABLE IF NOT EXISTS `acme-prod`.marts_prod.daily_revenue PARTITION BY order_date "
        "CLUSTER BY customer_id AS SELECT * FROM (SELECT order_date, customer_id, SUM(amount) "
        "AS revenue FROM `acme-prod`.raw_prod.orders WHERE order_date >= CAST('2024-01-02' AS "
        "DATE) AND order_date < CAST('2024-01-03' AS DATE) GROUP BY order_date, customer_id) "
        "AS _s WHERE FALSE",
        "BEGIN TRANSACTION;\n"
        "DELETE FROM `acme-prod`.marts_prod.daily_revenue AS _t WHERE _t.order_date >= "
        "@start_date AND _t.order_date < @end_date;\n"
        "INSERT INTO `acme-prod`.marts_prod.daily_revenue (order_date, customer_id, revenue) "
        "SELECT IF(_s.order_date >= @start_date AND _s.order_date < @end_date, _s.order_date, "
        "ERROR('sqlassets: a row outside the run window [2024-01-02 00:00, 2024-01-03 00:00) "
        "or with a NULL `order_date`: nothing was written; filter the input to the window "
        "(@start_date/@end_date or @start_ts/@end_ts)')) AS order_date, _s.customer_id, "
        "_s.revenue FROM (SELECT order_date, customer_id, SUM(amount) AS revenue FROM "
        "`acme-prod`.raw_prod.orders WHERE order_date >= @start_date AND order_date < @end_date "
        "GROUP BY order_date, customer_id) AS _s;\n"
        "COMMIT TRANSACTION",
    ]
    parameters = [body["configuration"]["query"]["queryParameters"] for body in _inserts(fake)]
    assert parameters == [
        [],
        [
            {
                "name": "end_date",
                "parameterType": {"type": "DATE"},
                "parameterValue": {"value": "2024-01-03"},
            },
            {
                "name": "start_date",
                "parameterType": {"type": "DATE"},
                "parameterValue": {"value": "2024-01-02"},
            },
        ],
    ]


def test_a_per_model_byte_limit_wins_over_the_target_default(fake, engine) -> None:
    job = _jobs("marts.customers")[1]
    engine.execute(job, JobContext("marts.customers", maximum_bytes_billed=5 * 10**9))
    assert _inserts(fake)[0]["configuration"]["query"]["maximumBytesBilled"] == str(5 * 10**9)


def test_dry_run_reports_bytes_and_bills_nothing(fake, engine) -> None:
    fake.bytes_processed = 123_456_789
    (result,) = engine.dry_run(_jobs("marts.daily_revenue", partition="2024-01-02")[1])
    assert result.bytes_processed == 123_456_789
    (body,) = _inserts(fake)
    assert body["configuration"]["dryRun"] is True
    assert fake.executions == {}


def test_a_lost_insert_response_attaches_to_the_job_and_runs_it_once(fake, engine) -> None:
    fake.outcomes = [Outcome(lose_response=True)]
    job = _jobs("marts.customers")[1]
    result = engine.execute(job, JobContext("marts.customers", run_id="run-lost"))
    assert result.attached is True
    assert fake.executions == {result.job_id: 1}
    assert len(_inserts(fake)) == 2  # the lost one, then the retry that got 409


def test_a_run_retried_after_a_crash_attaches_to_its_jobs(fake, engine) -> None:
    jobs = _jobs("marts.daily_revenue", partition="2024-01-02")
    context = JobContext("marts.daily_revenue", run_id="run-crash", window="2024-01-02")
    first = [engine.execute(job, context) for job in jobs]
    second = [engine.execute(job, context) for job in jobs]
    assert [r.attached for r in second] == [True, True]
    assert sorted(fake.executions.values()) == [1, 1]
    assert {r.job_id for r in first} == {r.job_id for r in second}


@pytest.mark.parametrize(
    ("reason", "retried"),
    [
        ("jobBackendError", True),
        ("jobInternalError", True),
        ("jobRateLimitExceeded", True),
        ("backendError", True),
        ("invalidQuery", False),
        ("quotaExceeded", False),
        ("bytesBilledLimitExceeded", False),
        ("accessDenied", False),
    ],
)
def test_failed_jobs_are_retried_only_for_safe_reasons(
    fake, engine, reason: str, retried: bool
) -> None:
    fake.outcomes = [Outcome(job_error=reason, message=f"injected {reason}")]
    job = _jobs("marts.customers")[1]
    context = JobContext("marts.customers", run_id="run-retry")
    if retried:
        result = engine.execute(job, context)
        assert result.job_id.endswith("_a2")
        assert len(fake.executions) == 2
        assert len(engine.sleeps) == 1  # type: ignore[attr-defined]
    else:
        with pytest.raises(EngineError, match=reason):
            engine.execute(job, context)
        assert len(fake.executions) == 1
        assert engine.sleeps == []  # type: ignore[attr-defined]


def test_retries_stop_after_the_attempt_limit(fake, engine) -> None:
    fake.outcomes = [Outcome(job_error="jobBackendError")] * 3
    with pytest.raises(EngineError, match="jobBackendError"):
        engine.execute(_jobs("marts.customers")[1], JobContext("marts.customers"))
    assert len(fake.executions) == 3


def test_serialization_conflicts_are_retryable_despite_invalid_query() -> None:
    class Conflict(Exception):
        errors = [{"reason": "invalidQuery"}]
        message = "Could not serialize access to table t due to concurrent update"

    assert classify(Conflict()) == ("concurrentUpdate", True)


def test_bytes_billed_limit_as_http_500_is_not_retried() -> None:
    class Limit(Exception):
        code = 500
        errors = [{"reason": "bytesBilledLimitExceeded"}]

    assert classify(Limit()) == ("bytesBilledLimitExceeded", False)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit, TimeoutError])
def test_an_interruption_while_waiting_cancels_the_job(fake, engine, interruption) -> None:
    fake.outcomes = [Outcome(never_finishes=True)]
    polls: list[str] = []

    def interrupt(job_id: str) -> None:
        polls.append(job_id)
        if len(polls) == 2:
            raise interruption()

    fake.on_poll = interrupt
    with pytest.raises(interruption):
        engine.execute(_jobs("marts.customers")[1], JobContext("marts.customers"))
    assert fake.cancelled == [polls[0]]


def test_label_values_are_sanitized() -> None:
    assert label_value("Marts.Daily Revenue!") == "marts_daily_revenue"
    long = label_value("x" * 200)
    assert len(long) <= 63


def test_a_retried_run_resubmits_after_a_failed_attempt_but_attaches_after_success(
    fake, engine
) -> None:
    job = _jobs("marts.customers")[1]
    context = JobContext("marts.customers", run_id="root-run")
    fake.outcomes = [Outcome(job_error="invalidQuery", message="injected failure")]
    with pytest.raises(EngineError, match="invalidQuery"):
        engine.execute(job, context)
    # Dagster re-executes the run (same root run id): attempt 1 failed, so attempt 2 runs.
    retried = engine.execute(job, context)
    assert retried.job_id.endswith("_a2") and not retried.attached
    # Retried once more after a crash: attempt 2 succeeded, so it is attached, not re-run.
    again = engine.execute(job, context)
    assert again.attached and again.job_id == retried.job_id
    assert sorted(fake.executions.values()) == [1, 1]


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "rateLimitExceeded"), (500, "internalError"), (502, None), (503, "backendError")],
)
def test_transient_http_errors_on_insert_are_retried_with_the_same_id(
    fake, engine, status: int, reason: str | None
) -> None:
    fake.outcomes = [Outcome(status=status, reason=reason)]
    job = _jobs("marts.customers")[1]
    result = engine.execute(job, JobContext("marts.customers"))
    inserts = _inserts(fake)
    assert len(inserts) == 2
    assert (
        inserts[0]["jobReference"]["jobId"] == inserts[1]["jobReference"]["jobId"] == result.job_id
    )
    assert fake.executions == {result.job_id: 1}


@pytest.mark.parametrize("reason", ["internalError", "rateLimitExceeded"])
def test_more_job_reasons_are_retried(fake, engine, reason: str) -> None:
    fake.outcomes = [Outcome(job_error=reason)]
    result = engine.execute(_jobs("marts.customers")[1], JobContext("marts.customers"))
    assert result.job_id.endswith("_a2") and len(fake.executions) == 2


def test_plan_warns_before_a_window_is_split(fake, engine, monkeypatch) -> None:
    from click.testing import CliRunner

    import sqlassets.engines
    from sqlassets.cli import main

    monkeypatch.setattr(sqlassets.engines, "open_engine", lambda config, target=None: engine)
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        main,
        ["plan", "--start", "2024-01-01 00:00", "--end", "2024-07-01 00:00"],
        catch_exceptions=False,
    )
    assert (
        "warning: marts.hourly_clicks: the window touches more than 4000 partitions"
        in result.stderr
    )
    assert "runs as 2 jobs" in result.stderr
    assert "total: " in result.stdout

"""BigQuery through the official client: labelled, idempotent, cancellable jobs.

Every job gets a deterministic id from run, asset, window, job and attempt. A
second insert of that id returns 409: the engine attaches to the existing job
instead of running the statement again. Transient request errors are retried
by the client with the same id; failed jobs are retried under the next
attempt id only for reasons that are safe to retry (``notes/bigquery.md``).
Any interruption — ``KeyboardInterrupt`` and Dagster's termination included —
cancels the running job before it propagates.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlglot import expressions as exp

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import (
    NOT_FOUND,
    Capabilities,
    DryRunResult,
    Engine,
    JobContext,
    JobCost,
    JobResult,
    Layout,
    Preview,
    TableStats,
)
from sqlassets.errors import EngineError
from sqlassets.job import Job, Naming, PartitionLoad
from sqlassets.window import QueryParameter

if TYPE_CHECKING:
    from google.cloud import bigquery

    from sqlassets.config import Config, Target
    from sqlassets.spec import ModelSpec

DIALECT = "bigquery"

PREVIOUS_ATTEMPT_FAILED = "previousAttemptFailed"
ASSET_LABEL = "sqlassets_asset"
"""The label naming the model a job runs for (``sqlassets cost`` sums jobs by it)."""
MAX_PARTITIONS_PER_JOB = 4000
"""BigQuery's limit on partitions one job may modify."""
MAX_URIS_PER_JOB = 10_000
"""BigQuery's limit on source URIs of one load job."""

_TABLE_LOCKS: dict[str, threading.Lock] = {}
_CREATED_DATASETS: set[str] = set()
"""Datasets this process created or found (``endpoint project.dataset``), for every engine."""
_TABLE_LOCKS_GUARD = threading.Lock()


def table_lock(table: str) -> threading.Lock:
    """The process-wide lock of one target table: one writer at a time (across engines)."""
    with _TABLE_LOCKS_GUARD:
        return _TABLE_LOCKS.setdefault(table, threading.Lock())


RETRYABLE_REASONS = frozenset(
    {
        "backendError",
        "internalError",
        "rateLimitExceeded",
        "jobBackendError",
        "jobInternalError",
        "jobRateLimitExceeded",
    }
)
"""Job error reasons after which re-running the statement (next attempt id) is safe."""
FATAL_REASONS = frozenset(
    {
        "quotaExceeded",
        "bytesBilledLimitExceeded",
        "accessDenied",
        "invalidQuery",
        "notFound",
        "invalid",
        "duplicate",
        "billingTierLimitExceeded",
        "responseTooLarge",
    }
)
"""Reasons that fail at once: retrying would fail the same way (or cost again)."""
_SERIALIZATION = re.compile(r"could not serialize access", re.IGNORECASE)
_LABEL_CHARS = re.compile(r"[^a-z0-9_-]+")


def label_value(text: str) -> str:
    """``text`` as a BigQuery label value: lowercase, ``[a-z0-9_-]``, at most 63 characters."""
    cleaned = _LABEL_CHARS.sub("_", text.lower()).strip("_")
    if len(cleaned) > 63:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:54]}_{digest}"
    return cleaned


def job_id(context: JobContext, step: str) -> str:
    """The deterministic id of one step of a run: the same inputs, the same id."""
    digest = hashlib.sha256(
        "|".join(
            (context.run_id, context.asset, context.window, step, str(context.attempt))
        ).encode()
    ).hexdigest()[:20]
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", context.asset)[:60]
    what = re.sub(r"[^A-Za-z0-9_]+", "_", step)[:60]
    return f"sqlassets_{slug}_{what}_{digest}_a{context.attempt}"


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a failed job is re-run for a retryable reason."""

    deadline_s: float = 600.0
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    max_attempts: int = 5

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential backoff before ``attempt`` (2, 3, …)."""
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempt - 2))
        return (rng or random).uniform(0, ceiling)


CREATE_IF_MISSING = "create"
"""The action of the ``CREATE TABLE IF NOT EXISTS`` job of incremental models."""


def lost_create_race(action: str, failure: EngineError) -> bool:
    """Whether ``failure`` only says another run created the table first (then: success).

    Two first runs may both send ``CREATE TABLE IF NOT EXISTS``; BigQuery can
    fail the later one with ``duplicate`` ("Already Exists: Table"). The table
    exists, which is all that job is for. Any other job's ``duplicate`` fails.
    """
    return action == CREATE_IF_MISSING and failure.reason == "duplicate"


def classify(error: BaseException) -> tuple[str, bool]:
    """``(reason, retryable)`` of a BigQuery error, by reason rather than HTTP status.

    ``bytesBilledLimitExceeded`` can arrive as HTTP 500 and a serialization
    conflict carries ``invalidQuery``: the status alone would mislead.
    """
    errors = getattr(error, "errors", None) or []
    reasons = [str(item.get("reason", "")) for item in errors if isinstance(item, Mapping)]
    message = str(getattr(error, "message", "") or error)
    if _SERIALIZATION.search(message):
        return "concurrentUpdate", True
    for reason in reasons:
        if reason in FATAL_REASONS:
            return reason, False
    for reason in reasons:
        if reason in RETRYABLE_REASONS:
            return reason, True
    status = getattr(error, "code", None)
    if status in (429, 500, 502, 503, 504) and not reasons:
        return f"http{status}", True
    return (reasons[0] if reasons else type(error).__name__), False


class BigQueryEngine(Engine):
    """Google BigQuery: the production engine."""

    name = "bigquery"
    dialect = DIALECT
    resource_key = "bigquery"
    capabilities = Capabilities(
        query_parameters=True,
        dry_run_bytes=True,
        partitioning=True,
        max_partitions_per_job=MAX_PARTITIONS_PER_JOB,
        max_uris_per_job=MAX_URIS_PER_JOB,
        partition_load_jobs=True,
        load_layout=True,
        # BigQuery cannot CREATE OR REPLACE a table with another partitioning (dbt-core#2000).
        drop_before_layout_change=True,
        table_pools=True,
        job_history=True,
    )

    _live: ClassVar[weakref.WeakSet[BigQueryEngine]] = weakref.WeakSet()
    """Every engine of this process, for :meth:`interrupt_all`."""
    _interrupted: ClassVar[threading.Event] = threading.Event()
    """Set by :meth:`interrupt_all`: no new job is submitted."""

    def __init__(
        self,
        project: str,
        location: str = "US",
        naming: Naming | None = None,
        client_factory: Callable[[], bigquery.Client] | None = None,
        maximum_bytes_billed: int | None = None,
        job_timeout_s: float | None = None,
        max_concurrent_jobs: int = 8,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        request_retry: Any = None,
        read_client_factory: Callable[[], Any] | None = None,
    ):
        self.project = project
        self.location = location
        self.naming = naming or Naming(project=project)
        self.maximum_bytes_billed = maximum_bytes_billed
        self.job_timeout_s = job_timeout_s
        self.retry_policy = retry_policy or RetryPolicy()
        self._client_factory = client_factory
        self._client: bigquery.Client | None = None
        self._slots = threading.BoundedSemaphore(max_concurrent_jobs)
        self._running: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self._request_retry = request_retry
        self._read_client_factory = read_client_factory
        self._live.add(self)

    @classmethod
    def from_target(
        cls, target: Target, config: Config | None = None, client: Any = None
    ) -> BigQueryEngine:
        """An engine for a configured target, optionally on an existing client."""
        assert isinstance(target, BigQueryTarget)

        def factory() -> bigquery.Client:
            if client is not None:
                return cast("bigquery.Client", client)
            return make_client(target.project, target.location, target.api_endpoint)

        return cls(
            project=target.project,
            location=target.location,
            naming=cls.naming_for(target),
            client_factory=factory,
            maximum_bytes_billed=target.maximum_bytes_billed,
            job_timeout_s=target.job_timeout_s,
            max_concurrent_jobs=target.max_concurrent_jobs,
            read_client_factory=lambda: make_read_client(target.storage_endpoint),
        )

    @classmethod
    def naming_for(cls, target: Target) -> Naming:
        """The target's project, with its dataset prefix and suffix."""
        assert isinstance(target, BigQueryTarget)
        return Naming(
            project=target.project,
            dataset_prefix=target.dataset_prefix,
            dataset_suffix=target.dataset_suffix,
        )

    @classmethod
    def concurrent_jobs(cls, target: Target) -> int:
        """The target's ``max_concurrent_jobs``: steps of a run in flight at once."""
        assert isinstance(target, BigQueryTarget)
        return target.max_concurrent_jobs

    @property
    def client(self) -> bigquery.Client:
        """The client, created on first use (credentials are only needed to run)."""
        with self._lock:
            if self._client is None:
                if self._client_factory is None:
                    self._client = make_client(self.project, self.location, None)
                else:
                    self._client = self._client_factory()
                _settle_environment(self._client)
            return self._client

    # ------------------------------------------------------------ rendering

    def render(self, job: Job) -> str:
        """BigQuery SQL; parameters stay ``@name`` and are sent alongside."""
        return job.sql(DIALECT, pretty=True)

    def _config(
        self, parameters: Sequence[QueryParameter], context: JobContext | None, dry_run: bool
    ) -> bigquery.QueryJobConfig:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[_parameter(parameter) for parameter in parameters],
            use_legacy_sql=False,
            dry_run=dry_run,
            use_query_cache=not dry_run,
        )
        if context is not None:
            config.labels = _labels(context)
            limit = context.maximum_bytes_billed or self.maximum_bytes_billed
            if limit:
                config.maximum_bytes_billed = limit
            timeout = context.timeout_s or self.job_timeout_s
            if timeout:
                config.job_timeout_ms = int(timeout * 1000)
        return config

    def _load_config(self, load: PartitionLoad, context: JobContext) -> bigquery.LoadJobConfig:
        """The load job into one partition: WRITE_TRUNCATE, with the table's layout.

        The layout creates the table on a first run; on an existing table it
        must match, and BigQuery refuses rows outside the partition. No
        ``schema_update_options``: a column the table lacks fails the load.
        """
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            source_format=load.source_format,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            time_partitioning=bigquery.TimePartitioning(
                type_=load.partition_type, field=load.partition_field
            ),
            labels=_labels(context),
        )
        if load.clustering:
            config.clustering_fields = list(load.clustering)
        if load.source_format in ("CSV", "NEWLINE_DELIMITED_JSON"):
            config.autodetect = True
        if load.skip_leading_rows:
            config.skip_leading_rows = load.skip_leading_rows
        timeout = context.timeout_s or self.job_timeout_s
        if timeout:
            config.job_timeout_ms = int(timeout * 1000)
        return config

    # ------------------------------------------------------------ running

    def execute(self, job: Job, context: JobContext) -> JobResult:
        """Run ``job`` exactly once (attaching on 409), retrying only safe failures."""
        if job.action == "drop":
            return self._drop(job, context)
        self._ensure_datasets(written_datasets(job.statements))
        # One writer per table: jobs of this process that write the same table queue up
        # (Dagster pools do the same across processes, see the README).
        written = [written_table(statement) for statement in job.statements]
        if job.load is not None:
            written.append(job.load.table)
            self._ensure_datasets([(job.load.table.catalog, job.load.table.db)])
        targets = sorted(
            {
                ".".join(p for p in (table.catalog or self.project, table.db, table.name) if p)
                for table in written
                if table is not None and table.db
            }
        )
        with contextlib.ExitStack() as stack:
            for table in targets:  # sorted: two jobs never wait on each other in a cycle
                stack.enter_context(table_lock(table))
            result, _ = self._run(
                job.sql(DIALECT), job.parameters, context, job.action, load=job.load, uris=job.uris
            )
        return result

    def _run(
        self,
        sql: str,
        parameters: Sequence[QueryParameter],
        context: JobContext,
        action: str,
        fetch: int = 0,
        load: PartitionLoad | None = None,
        uris: Sequence[str] = (),
    ) -> tuple[JobResult, list[dict[str, Any]]]:
        from dataclasses import replace

        started = time.monotonic()
        attempt_context = context
        tries = 0
        while True:
            if self._interrupted.is_set():
                raise EngineError(f"{context.asset}: not started, the run was interrupted", sql=sql)
            try:
                with self._slots:
                    return self._submit_and_wait(
                        sql, parameters, attempt_context, action, fetch, load, uris
                    )
            except EngineError as error:
                attempt = attempt_context.attempt + (0 if error.same_attempt else 1)
                attempt_context = replace(attempt_context, attempt=attempt)
                if error.reason == PREVIOUS_ATTEMPT_FAILED:
                    continue  # an earlier run's failed job: resubmit at once, no backoff
                tries += 1
                elapsed = time.monotonic() - started
                policy = self.retry_policy
                if (
                    not error.retryable
                    or tries >= policy.max_attempts
                    or elapsed > policy.deadline_s
                ):
                    raise
                self._sleep(policy.backoff(tries + 1))

    def _submit_and_wait(
        self,
        sql: str,
        parameters: Sequence[QueryParameter],
        context: JobContext,
        action: str,
        fetch: int,
        load: PartitionLoad | None = None,
        uris: Sequence[str] = (),
    ) -> tuple[JobResult, list[dict[str, Any]]]:
        from google.api_core import exceptions as api_exceptions
        from google.cloud import bigquery

        client = self.client
        identifier = job_id(context, context.step or action)
        attached = False
        started = time.monotonic()
        kind: type[Any] = bigquery.QueryJob if load is None else bigquery.LoadJob
        query_job: Any
        try:
            options: dict[str, Any] = {}
            if self._request_retry is not None:
                options["retry"] = self._request_retry
            # A fixed job id: retried inserts of a job that was created come back 409.
            if load is None:
                query_job = client.query(
                    sql,
                    job_config=self._config(parameters, context, dry_run=False),
                    job_id=identifier,
                    location=self.location,
                    job_retry=None,
                    **options,
                )
            else:
                query_job = client.load_table_from_uri(
                    list(uris),
                    f"{self._reference(load.table)}${load.partition}",
                    job_config=self._load_config(load, context),
                    job_id=identifier,
                    location=self.location,
                    **options,
                )
        except api_exceptions.Conflict:
            # Submitted before (a lost response, or a retried run): attach, never re-run.
            found = self._get_conflicting_job(identifier, context, sql)
            if not isinstance(found, kind):
                raise EngineError(
                    f"job `{identifier}` exists and is not a {kind.__name__}", job_id=identifier
                ) from None
            query_job = found
            attached = True
            if query_job.state == "DONE" and query_job.error_result:
                # That attempt failed: this is a retry of it, under the next attempt's id.
                raise EngineError(
                    f"{context.asset}: attempt {context.attempt} ({identifier}) had failed",
                    job_id=identifier,
                    sql=sql,
                    reason=PREVIOUS_ATTEMPT_FAILED,
                    retryable=True,
                ) from None
        except api_exceptions.GoogleAPICallError as error:
            failure = _engine_error(error, context, identifier, sql)
            # The insert itself failed: the job may or may not exist, so a retry re-sends
            # the same id (a 409 then attaches) rather than risking a second job.
            failure.same_attempt = True
            raise failure from None
        except BaseException:
            # Interrupted while submitting: the job may exist already; its id is known.
            self._cancel(identifier, None)
            raise
        with self._lock:
            self._running[identifier] = query_job
        if self._interrupted.is_set():
            self._cancel(identifier, query_job)  # submitted while interrupt_all was cancelling
        rows: list[dict[str, Any]] = []
        try:
            iterator = query_job.result(timeout=context.timeout_s or self.job_timeout_s)
            if fetch:
                for row in iterator:  # ``fetch`` rows at most
                    rows.append(dict(row.items()))
                    if len(rows) >= fetch:
                        break
        except api_exceptions.GoogleAPICallError as error:
            failure = _engine_error(error, context, identifier, sql)
            if uris:
                # The job's error records name the file (``location``) and the row's offset.
                records = list(getattr(query_job, "errors", None) or []) + list(
                    getattr(error, "errors", None) or []
                )
                described = describe_load_failure(records, uris)
                if described is not None:
                    failure.message = f"{context.asset}: {failure.reason}: {described}"
            if not lost_create_race(action, failure):
                raise failure from None
        except BaseException:
            # KeyboardInterrupt, Dagster's termination, timeouts: the remote job
            # would keep running (and billing) without us.
            self._cancel(identifier, query_job)
            raise
        finally:
            with self._lock:
                self._running.pop(identifier, None)
        inserted, deleted = self._dml_counts(query_job) if not fetch else (None, None)
        return (
            JobResult(
                job_id=identifier,
                action=action,
                sql=sql,
                duration_s=time.monotonic() - started,
                rows_affected=_int(
                    getattr(query_job, "num_dml_affected_rows", None)
                    or getattr(query_job, "output_rows", None)  # a load job's
                ),
                rows_inserted=inserted,
                rows_deleted=deleted,
                bytes_processed=_int(getattr(query_job, "total_bytes_processed", None)),
                bytes_billed=_int(getattr(query_job, "total_bytes_billed", None)),
                slot_ms=_int(getattr(query_job, "slot_millis", None)),
                url=job_url(self.project, self.location, identifier),
                attached=attached,
            ),
            rows,
        )

    def _dml_counts(self, query_job: Any) -> tuple[int | None, int | None]:
        """Rows inserted and deleted: a DML statement's statistics, or a script's children's.

        A script (BEGIN ... COMMIT) reports no DML statistics of its own, and
        its rows affected add deletes to inserts; its child jobs (one free
        jobs.list call) tell them apart. None where BigQuery does not say:
        these are figures only, and never fail a job that succeeded.
        """
        from google.api_core import exceptions as api_exceptions

        if getattr(query_job, "job_type", None) == "load":
            return _int(getattr(query_job, "output_rows", None)), None
        stats = getattr(query_job, "dml_stats", None)
        if stats is not None:
            return _int(stats.inserted_row_count), _int(stats.deleted_row_count)
        if not _int(getattr(query_job, "num_child_jobs", None)):
            return None, None
        inserted: int | None = None
        deleted: int | None = None
        try:
            for child in self.client.list_jobs(parent_job=query_job.job_id):
                found = getattr(child, "dml_stats", None)
                if found is None:
                    continue
                inserted = (inserted or 0) + int(found.inserted_row_count or 0)
                deleted = (deleted or 0) + int(found.deleted_row_count or 0)
        except api_exceptions.GoogleAPICallError:
            return None, None
        return inserted, deleted

    def _get_conflicting_job(self, identifier: str, context: JobContext, sql: str) -> Any:
        """The job a 409 says exists; BigQuery may answer 404 for it a while longer.

        python-bigquery#2134: right after a 409, jobs.get can return NotFound.
        Retried with the engine's backoff, a bounded number of times, and the
        statement is never sent again meanwhile (that would run it twice).
        """
        from google.api_core import exceptions as api_exceptions

        policy = self.retry_policy
        tries = 0
        while True:
            tries += 1
            try:
                return self.client.get_job(identifier, location=self.location)
            except api_exceptions.NotFound as error:
                if tries >= policy.max_attempts:
                    raise EngineError(
                        f"{context.asset}: notFound: BigQuery answered that job `{identifier}` "
                        f"exists (409), then {tries} times that it does not (404): "
                        f"{_message(error)}; look the job up in the console before running again",
                        job_id=identifier,
                        sql=sql,
                        reason="notFound",
                        retryable=False,
                    ) from None
                self._sleep(policy.backoff(tries + 1))

    def _reference(self, table: exp.Table) -> str:
        """``project.dataset.table`` of ``table`` (the engine's project when it names none)."""
        return ".".join(
            part for part in (table.catalog or self.project, table.db, table.name) if part
        )

    def _drop(self, job: Job, context: JobContext) -> JobResult:
        """Drop tables through the API (a metadata call; no query job is needed)."""
        started = time.monotonic()
        for statement in job.statements:
            reference = self._reference(statement.this)
            with table_lock(reference):
                self.client.delete_table(reference, not_found_ok=True)
        return JobResult(
            job_id=f"drop-{label_value(context.asset)}",
            action=job.action,
            sql=job.sql(DIALECT),
            duration_s=time.monotonic() - started,
        )

    def _ensure_datasets(self, datasets: Sequence[tuple[str, str]]) -> None:
        """Create the datasets a job writes to, once per process (BigQuery needs them first).

        Steps of a run each have their own engine and run in threads: they share
        what was created, and create one dataset at a time (racing creates of the
        same dataset can fail as a commit conflict rather than the 409 that
        ``exists_ok`` absorbs).
        """
        from google.cloud import bigquery

        for project, dataset in datasets:
            key = f"{project or self.project}.{dataset}"
            # Keyed by endpoint too: two emulators (or BigQuery and one) are two warehouses.
            endpoint = getattr(getattr(self.client, "_connection", None), "API_BASE_URL", "")
            shared = f"{endpoint} {key}"
            with table_lock(f"dataset:{shared}"):
                if shared not in _CREATED_DATASETS:
                    reference = bigquery.Dataset(key)
                    reference.location = self.location
                    self.client.create_dataset(reference, exists_ok=True)
                    _CREATED_DATASETS.add(shared)

    def _cancel(self, identifier: str, query_job: Any) -> None:
        # Best effort: the job timeout is the backstop if cancelling fails.
        with contextlib.suppress(Exception):
            self.client.cancel_job(identifier, location=self.location)

    def cancel_all(self) -> None:
        """Cancel every job still running."""
        with self._lock:
            running = dict(self._running)
        for identifier, query_job in running.items():
            self._cancel(identifier, query_job)

    @classmethod
    def interrupt_all(cls) -> None:
        """Cancel every running job of every engine of this process; submit no new one.

        Safe from any thread: the threads waiting on those jobs see them end
        cancelled (``stopped``) and fail their step.
        """
        cls._interrupted.set()
        for engine in list(cls._live):
            engine.cancel_all()

    @classmethod
    def resume_all(cls) -> None:
        """Submit jobs again after :meth:`interrupt_all`."""
        cls._interrupted.clear()

    def dry_run(self, job: Job) -> list[DryRunResult]:
        """Bytes each statement would process (a script is dry-run as a whole)."""
        from google.api_core import exceptions as api_exceptions

        sql = job.sql(DIALECT)
        if job.load is not None:
            return [DryRunResult(sql=sql, bytes_processed=0)]  # load jobs are free
        if job.staging is not None and job.action != "stage":
            # It reads the staging table, which exists only while the run loads it.
            return [DryRunResult(sql=sql, plan="the staged files' bytes, known once loaded")]
        try:
            query_job = self.client.query(
                sql,
                job_config=self._config(job.parameters, None, dry_run=True),
                location=self.location,
            )
        except api_exceptions.GoogleAPICallError as error:
            raise EngineError(_message(error), sql=sql) from None
        return [DryRunResult(sql=sql, bytes_processed=_int(query_job.total_bytes_processed))]

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]] | None:
        """The schema of ``table``, or None if it does not exist."""
        from google.api_core import exceptions as api_exceptions

        reference = ".".join(part for part in (table.catalog or self.project, table.db, table.name))
        try:
            found = self.client.get_table(reference)
        except api_exceptions.NotFound:
            return None
        return [(field.name, field.field_type) for field in found.schema]

    def query_schema(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> list[tuple[str, str]]:
        """``(name, type)`` of the query's columns, from a dry run (no bytes billed).

        Temp functions and one ``SELECT`` are a single query to BigQuery, not a
        script, so the dry run of ``preamble; query`` still returns the schema.
        """
        return [
            (field.name, field.field_type)
            for field in (self._dry_run(query, parameters, preamble).schema or [])
        ]

    def query_bytes(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> int | None:
        """What BigQuery's dry run of ``preamble; query`` reports it would process (one query).

        Never a script: BigQuery's dry run of one validates its first DDL
        statement only, and reports ≈ 0 bytes.
        """
        return _int(self._dry_run(query, parameters, preamble).total_bytes_processed)

    def query_schema_and_bytes(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> tuple[list[tuple[str, str]], int | None]:
        """The schema and the bytes of ``preamble; query``, from one dry run."""
        job = self._dry_run(query, parameters, preamble)
        schema = [(field.name, field.field_type) for field in (job.schema or [])]
        return schema, _int(job.total_bytes_processed)

    def _dry_run(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression],
    ) -> Any:
        """The dry-run job of ``preamble; query``; a missing table is :data:`NOT_FOUND`."""
        from google.api_core import exceptions as api_exceptions

        sql = ";\n".join(statement.sql(DIALECT) for statement in (*preamble, query))
        try:
            return self.client.query(
                sql, job_config=self._config(parameters, None, dry_run=True), location=self.location
            )
        except api_exceptions.NotFound as error:
            raise EngineError(_message(error), sql=sql, reason=NOT_FOUND) from None
        except api_exceptions.GoogleAPICallError as error:
            raise EngineError(_message(error), sql=sql) from None

    def table_layout(self, table: exp.Table) -> Layout | None:
        """``(partitioning, clustering)`` of an existing table, or None if it does not exist."""
        from google.api_core import exceptions as api_exceptions

        reference = ".".join(part for part in (table.catalog or self.project, table.db, table.name))
        try:
            found = self.client.get_table(reference)
        except api_exceptions.NotFound:
            return None
        partitioning = found.time_partitioning
        described = None
        if partitioning is not None:
            described = _partitioning(partitioning.field or "_PARTITIONTIME", partitioning.type_)
        return described, tuple(found.clustering_fields or ())

    def expected_layout(self, spec: ModelSpec) -> Layout:
        """The layout BigQuery reports for a table built from ``spec``."""
        partitioning = None
        if spec.partition_by is not None:
            partitioning = _partitioning(
                spec.partition_by.column, spec.partition_by.granularity.value
            )
        return partitioning, tuple(spec.cluster_by)

    def table_stats(self, tables: Sequence[exp.Table]) -> dict[str, TableStats]:
        """One query per dataset over ``__TABLES__``, ``TABLE_STORAGE`` and ``PARTITIONS``.

        All three are metadata views: no table's rows are read, and the bytes
        billed are the views' own (INFORMATION_SCHEMA's 10 MB minimum).
        """
        by_dataset: dict[tuple[str, str], list[str]] = {}
        for table in tables:
            names = by_dataset.setdefault((table.catalog or self.project, table.db), [])
            if table.name not in names:
                names.append(table.name)
        found: dict[str, TableStats] = {}
        for (project, dataset), names in sorted(by_dataset.items()):
            query = table_stats_query(project, dataset, self.location, names)
            for row in self._metadata_rows(query, (), "observe"):
                name = str(row["table_id"])
                found[f"{dataset}.{name}"] = TableStats(
                    table=f"{dataset}.{name}",
                    kind=_TABLE_TYPES.get(_int(row.get("type")) or 1, "table"),
                    row_count=_int(row.get("row_count")),
                    logical_bytes=_int(row.get("logical_bytes")),
                    physical_bytes=_int(row.get("physical_bytes")),
                    partitions=_int(row.get("partitions")),
                    last_modified=_millis(row.get("last_modified_time")),
                )
        return found

    def job_costs(self, since: datetime, assets: Sequence[str]) -> list[JobCost]:
        """``INFORMATION_SCHEMA.JOBS`` of the target's project and location, by asset and day.

        Jobs are found by their ``sqlassets_asset`` label (:func:`label_value`
        of the model name); top-level jobs only, so a script counts once.
        """
        query = job_costs_query(self.project, self.location, ASSET_LABEL)
        parameters = (QueryParameter("since", "TIMESTAMP", since),)
        names = {label_value(asset): asset for asset in assets}
        return [
            JobCost(
                asset=names.get(str(row["asset"]), str(row["asset"])),
                day=row["day"],
                jobs=int(row["jobs"]),
                bytes_billed=int(row["bytes_billed"] or 0),
                slot_ms=int(row["slot_ms"] or 0),
            )
            for row in self._metadata_rows(query, parameters, "cost")
        ]

    def _metadata_rows(
        self, query: exp.Expression, parameters: Sequence[QueryParameter], what: str
    ) -> list[dict[str, Any]]:
        """Every row of a metadata query, labelled ``sqlassets_job=<what>`` (not an asset's)."""
        from google.api_core import exceptions as api_exceptions

        sql = query.sql(DIALECT)
        config = self._config(parameters, None, dry_run=False)
        config.labels = {"sqlassets_job": what}
        if self.job_timeout_s:
            config.job_timeout_ms = int(self.job_timeout_s * 1000)
        try:
            job = self.client.query(sql, job_config=config, location=self.location)
            return [dict(row.items()) for row in job.result(timeout=self.job_timeout_s)]
        except api_exceptions.GoogleAPICallError as error:
            reason, _ = classify(error)
            raise EngineError(f"{what}: {reason}: {_message(error)}", sql=sql) from None

    def fetch_row(
        self, query: exp.Expression, parameters: Sequence[QueryParameter], context: JobContext
    ) -> dict[str, Any]:
        """Run a single-row query (a check); only that row comes back."""
        sql = query.sql(DIALECT)
        _, rows = self._run(sql, parameters, context, "check", fetch=2)  # 2: more than one
        if len(rows) != 1:
            raise EngineError(f"{context.asset}: a check query returned {len(rows)} rows, not 1")
        return rows[0]

    def preview_rows(
        self,
        table: exp.Table,
        columns: Sequence[str],
        condition: exp.Expression | None,
        limit: int,
    ) -> Preview:
        """Rows through the Storage Read API: one read session, one stream, no query job.

        ``columns`` become the session's ``selected_fields`` and ``condition``
        its ``row_restriction``; reading stops once ``limit`` rows have come.
        """
        from google.api_core import exceptions as api_exceptions
        from google.cloud.bigquery_storage_v1 import types

        project = table.catalog or self.project
        path = f"projects/{project}/datasets/{table.db}/tables/{table.name}"
        try:
            kind = self.client.get_table(f"{project}.{table.db}.{table.name}").table_type
        except api_exceptions.NotFound:
            raise EngineError(f"{table.db}.{table.name} does not exist") from None
        if kind not in ("TABLE", None):
            raise EngineError(
                f"{table.db}.{table.name} is a {kind.lower().replace('_', ' ')}: the Storage "
                "Read API reads stored tables only; give --query to run its query with a LIMIT"
            )
        restriction = "" if condition is None else condition.sql(DIALECT)
        requested = types.ReadSession(
            table=path,
            data_format=types.DataFormat.ARROW,
            read_options=types.ReadSession.TableReadOptions(
                selected_fields=list(columns), row_restriction=restriction
            ),
        )
        factory = self._read_client_factory or (lambda: make_read_client(None))
        client = factory()
        rows: list[dict[str, Any]] = []
        try:
            session = client.create_read_session(
                parent=f"projects/{self.project}", read_session=requested, max_stream_count=1
            )
            if session.streams:
                reader = client.read_rows(session.streams[0].name)
                # One page is one response (an Arrow record batch); no page is asked
                # for once ``limit`` rows have come, and the stream is then cancelled.
                try:
                    for page in reader.rows(session).pages:
                        rows += page.to_arrow().to_pylist()[: limit - len(rows)]
                        if len(rows) >= limit:
                            break
                finally:
                    reader.cancel()
        except api_exceptions.GoogleAPICallError as error:
            raise EngineError(
                f"{table.db}.{table.name}: {_message(error)}", sql=restriction
            ) from None
        names = tuple(columns) or (tuple(rows[0]) if rows else ())
        if not names:
            names = tuple(name for name, _ in self.table_columns(table) or ())
        return Preview(
            columns=names,
            rows=tuple(tuple(row.get(name) for name in names) for row in rows),
            source="storage read API",
        )

    def query_rows(self, job: Job, context: JobContext, limit: int) -> Preview:
        """A labelled query job under the byte limits; its first ``limit`` rows."""
        result, rows = self._run(job.sql(DIALECT), job.parameters, context, job.action, fetch=limit)
        names = tuple(rows[0]) if rows else ()
        return Preview(
            columns=names,
            rows=tuple(tuple(row.values()) for row in rows[:limit]),
            source=f"query job {result.job_id}",
        )


_TABLE_TYPES = {1: "table", 2: "view", 3: "external"}
"""``__TABLES__.type``."""


def _metadata_table(project: str, dataset: str, name: str, alias: str) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(name, quoted=name.startswith("INFORMATION_SCHEMA.")),
        db=exp.to_identifier(dataset, quoted=not dataset.isidentifier()),
        catalog=exp.to_identifier(project, quoted=True),
        alias=exp.TableAlias(this=exp.to_identifier(alias)),
    )


def table_stats_query(
    project: str, dataset: str, location: str, names: Sequence[str]
) -> exp.Select:
    """The metadata of ``names`` in one dataset, from metadata views only (never the tables).

    ``__TABLES__``: type, rows, logical bytes, last modification;
    ``TABLE_STORAGE`` (regional): physical bytes; ``PARTITIONS``: how many.
    """
    storage = (
        exp.select("table_name", "total_physical_bytes")
        .from_(
            _metadata_table(
                project, f"region-{location.lower()}", "INFORMATION_SCHEMA.TABLE_STORAGE", "s"
            )
        )
        .where(exp.column("table_schema").eq(exp.Literal.string(dataset)))
    )
    partition_id = exp.column("partition_id")
    partitions = (
        exp.select("table_name", exp.alias_(exp.Count(this=exp.Star()), "partitions"))
        .from_(_metadata_table(project, dataset, "INFORMATION_SCHEMA.PARTITIONS", "p"))
        .where(
            exp.and_(
                exp.Not(this=exp.Is(this=partition_id.copy(), expression=exp.Null())),
                exp.Not(
                    this=partition_id.copy().isin(
                        exp.Literal.string("__NULL__"), exp.Literal.string("__UNPARTITIONED__")
                    )
                ),
            )
        )
        .group_by("table_name")
    )
    table_id = exp.column("table_id", "t")
    return (
        exp.select(
            table_id,
            exp.column("type", "t"),
            exp.column("row_count", "t"),
            exp.alias_(exp.column("size_bytes", "t"), "logical_bytes"),
            exp.alias_(exp.column("total_physical_bytes", "s"), "physical_bytes"),
            exp.column("partitions", "p"),
            exp.column("last_modified_time", "t"),
        )
        .from_(_metadata_table(project, dataset, "__TABLES__", "t"))
        .join(
            exp.Subquery(this=storage, alias=exp.TableAlias(this=exp.to_identifier("s"))),
            on=exp.column("table_name", "s").eq(table_id.copy()),
            join_type="LEFT",
        )
        .join(
            exp.Subquery(this=partitions, alias=exp.TableAlias(this=exp.to_identifier("p"))),
            on=exp.column("table_name", "p").eq(table_id.copy()),
            join_type="LEFT",
        )
        .where(table_id.copy().isin(*(exp.Literal.string(name) for name in names)))
        .order_by(table_id.copy())
    )


def job_costs_query(project: str, location: str, label: str) -> exp.Select:
    """Top-level jobs labelled ``label`` since ``@since``, summed per label value and day.

    Child jobs of a script are left out: the script's own row already holds
    their totals (INFORMATION_SCHEMA.JOBS, *Child jobs*), and their labels
    are not documented to be inherited.
    """
    labels = exp.Unnest(
        expressions=[exp.column("labels")],
        alias=exp.TableAlias(columns=[exp.to_identifier("l")]),
    )
    is_ours = exp.column("key", "l").eq(exp.Literal.string(label))
    value = exp.Subquery(this=exp.select(exp.column("value", "l")).from_(labels).where(is_ours))
    ours = exp.Exists(this=exp.select(exp.Literal.number(1)).from_(labels.copy()).where(is_ours))
    created = exp.column("creation_time")
    return (
        exp.select(
            exp.alias_(value, "asset"),
            exp.alias_(exp.Date(this=created.copy()), "day"),
            exp.alias_(exp.Count(this=exp.Star()), "jobs"),
            exp.alias_(exp.Sum(this=exp.column("total_bytes_billed")), "bytes_billed"),
            exp.alias_(exp.Sum(this=exp.column("total_slot_ms")), "slot_ms"),
        )
        .from_(
            _metadata_table(project, f"region-{location.lower()}", "INFORMATION_SCHEMA.JOBS", "j")
        )
        .where(
            exp.and_(
                created.copy() >= exp.Parameter(this=exp.var("since")),
                exp.Is(this=exp.column("parent_job_id"), expression=exp.Null()),
                ours,
            )
        )
        .group_by("asset", "day")
        .order_by("day", "asset")
    )


def _millis(value: Any) -> datetime | None:
    """``__TABLES__``' epoch milliseconds as an aware UTC time."""
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def written_table(statement: exp.Expression) -> exp.Table | None:
    """The table a statement creates, changes or writes rows of, if any."""
    if not isinstance(statement, _WRITES):
        return None
    table = statement.this
    if isinstance(table, exp.Schema):  # INSERT INTO t (a, b)
        table = table.this
    return table if isinstance(table, exp.Table) else None


_WRITES = (exp.Create, exp.Merge, exp.LoadData, exp.Alter, exp.Insert, exp.Delete, exp.Update)


def written_datasets(statements: Sequence[exp.Expression]) -> list[tuple[str, str]]:
    """``(project, dataset)`` of each permanent table the statements create or write."""
    found: dict[tuple[str, str], None] = {}
    for statement in statements:
        table = written_table(statement)
        properties = statement.args.get("properties")
        temporary = statement.args.get("temp") or (
            properties is not None and properties.find(exp.TemporaryProperty) is not None
        )
        if not temporary and table is not None and table.db:
            found.setdefault((table.catalog, table.db))
    return list(found)


def _labels(context: JobContext) -> dict[str, str]:
    """The job's labels: the model's, then the asset, run and window (for cost reports)."""
    labels = {key: label_value(value) for key, value in context.labels.items()}
    labels.update(
        {ASSET_LABEL: label_value(context.asset)},
        dagster_run_id=label_value(context.run_id),
        sqlassets_window=label_value(context.window),
    )
    return labels


def make_client(project: str, location: str, api_endpoint: str | None) -> bigquery.Client:
    """A client on Application Default Credentials, or anonymous on an emulator endpoint."""
    from google.cloud import bigquery

    if api_endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": api_endpoint},
        )
    return bigquery.Client(project=project, location=location)


def make_read_client(grpc_address: str | None) -> Any:
    """A Storage Read API client on default credentials, or plain gRPC on an emulator."""
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    if grpc_address:
        import grpc  # type: ignore[import-untyped]
        from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
            BigQueryReadGrpcTransport,
        )

        # As the default transport's channel: a response page of ARROW rows passes 4 MB.
        channel = grpc.insecure_channel(
            grpc_address, options=[("grpc.max_receive_message_length", -1)]
        )
        return BigQueryReadClient(  # type: ignore[no-untyped-call]
            transport=BigQueryReadGrpcTransport(channel=channel)
        )
    return BigQueryReadClient()  # type: ignore[no-untyped-call]


def _settle_environment(client: Any) -> None:
    """Read the proxy and CA settings of the environment once per client, not per request.

    ``requests`` re-reads every environment variable on each request
    (``trust_env``): a few ms each, a third of a step's CPU when many steps
    share one process. One client talks to one endpoint, so what the
    environment says for it is settled once: the same proxies (``NO_PROXY``
    included) and CA bundle, fixed on the session.
    """
    import requests.utils

    session = getattr(client, "_http", None)
    endpoint = getattr(getattr(client, "_connection", None), "API_BASE_URL", None)
    if not isinstance(session, requests.Session) or not endpoint or not session.trust_env:
        return
    settings = session.merge_environment_settings(endpoint, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False


def _partitioning(column: str, granularity: str) -> str:
    """``column:DAY``: how a table's time partitioning is described and compared."""
    return f"{column}:{granularity}"


def job_url(project: str, location: str, identifier: str) -> str:
    """The job's page in the Cloud console."""
    return (
        f"https://console.cloud.google.com/bigquery?project={project}"
        f"&j=bq:{location}:{identifier}&page=queryresults"
    )


def _parameter(parameter: QueryParameter) -> bigquery.ScalarQueryParameter:
    from google.cloud import bigquery

    return bigquery.ScalarQueryParameter(parameter.name, parameter.type, parameter.value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _message(error: BaseException) -> str:
    text = str(getattr(error, "message", "") or error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


_READING_PREFIX = re.compile(r"^(?:Query error: )?Error while reading data, error message: ")
_POSITION = re.compile(r"(?:starting at (?:position|location):? ?)(?P<offset>\d+)")
_FILE_SUFFIX = re.compile(r"\s*;?\s*File: gs://\S+\s*$")


def describe_load_failure(records: Sequence[Mapping[str, Any]], uris: Sequence[str]) -> str | None:
    """What a failed load's error records say, naming the file and the row's byte offset.

    BigQuery puts the offending file in a record's ``location`` (or a message's
    ``File: gs://…``) and the row as a byte offset ("starting at position: 812");
    the job's own message ("too many errors, giving up") names neither.
    """
    for record in records:
        message = str(record.get("message", ""))
        location = str(record.get("location", "") or "")
        named = re.search(r"File: (gs://\S+)", message)
        uri = location if location.startswith("gs://") else named.group(1) if named else None
        if uri is None:
            continue
        detail = _FILE_SUFFIX.sub("", _READING_PREFIX.sub("", message)).strip().rstrip(".")
        position = _POSITION.search(message)
        at = f", the row at byte {position.group('offset')}" if position else ""
        return (
            f"cannot load {uri}{at}: {detail}; fix the file (or the model's @format and "
            "columns) and run again: nothing was written"
        )
    return None


def _engine_error(
    error: BaseException, context: JobContext, identifier: str, sql: str
) -> EngineError:
    reason, retryable = classify(error)
    return EngineError(
        f"{context.asset}: {reason}: {_message(error)}",
        job_id=identifier,
        sql=sql,
        reason=reason,
        retryable=retryable,
    )

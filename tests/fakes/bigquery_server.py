"""A time-delayed stand-in of the BigQuery REST API on 127.0.0.1, for concurrency.

``BigQueryStandIn`` is a threaded HTTP server (stdlib ``ThreadingHTTPServer``)
that speaks the part of the BigQuery REST API that ``sqlassets run`` and the
official client use: jobs.insert (with the caller's job id; 409 on a second
insert), jobs.get, jobs.getQueryResults (long-polling up to ``timeoutMs``),
jobs.cancel, datasets.insert/get, tables.get/delete, and dry runs. Unlike the
in-process ``FakeBigQuery`` transport, every job takes a real wall-clock
duration from its insert, and any number of jobs run at once, so a client that
submits jobs concurrently sees them overlap, and one that does not, does not.

What the statements do is tracked only as far as the runner looks at it: a
``CREATE [OR REPLACE] TABLE`` creates the table when its job finishes, with
the columns of its ``SELECT`` (names and types inferred by sqlglot from the
tables known so far; ``STRING`` where nothing is known) and its partitioning
and clustering; ``ALTER TABLE … ADD COLUMN`` adds columns; ``DROP TABLE``
drops. A ``SELECT`` job (a check) returns one row whose every column is 0.
No data is stored.

Every job is recorded (insert time, completion time, cancellation, SQL, the
table it writes and the tables it reads) in a :class:`Timeline`, from which
a benchmark or a test reads the makespan, the peak number of jobs in flight
and the critical path of the jobs' own read/write dependencies.

Point a target at it with ``api_endpoint = server.endpoint`` (or, for a
project on disk, ``api_endpoint = "env:SQLASSETS_STANDIN_ENDPOINT"`` and
:func:`run_on_standin`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

import sqlglot
from sqlglot import expressions as exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

if TYPE_CHECKING:
    from google.cloud import bigquery

ENDPOINT_ENV = "SQLASSETS_STANDIN_ENDPOINT"
"""The variable a project's target reads its ``api_endpoint`` from (see :func:`target_toml`)."""
DEFAULT_PROJECT = "standin-project"
DEFAULT_POLL_S = 10.0
"""How long getQueryResults waits without ``timeoutMs`` (BigQuery's default is 10 s)."""

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/projects/(?P<project>[^/]+)/jobs$"), "_insert_job"),
    ("GET", re.compile(r"^/projects/(?P<project>[^/]+)/jobs/(?P<job>[^/]+)$"), "_get_job"),
    (
        "POST",
        re.compile(r"^/projects/(?P<project>[^/]+)/jobs/(?P<job>[^/]+)/cancel$"),
        "_cancel_job",
    ),
    ("GET", re.compile(r"^/projects/(?P<project>[^/]+)/queries/(?P<job>[^/]+)$"), "_results"),
    ("POST", re.compile(r"^/projects/(?P<project>[^/]+)/datasets$"), "_insert_dataset"),
    (
        "GET",
        re.compile(r"^/projects/(?P<project>[^/]+)/datasets/(?P<dataset>[^/]+)$"),
        "_get_dataset",
    ),
    (
        "GET",
        re.compile(
            r"^/projects/(?P<project>[^/]+)/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/]+)$"
        ),
        "_get_table",
    ),
    (
        "DELETE",
        re.compile(
            r"^/projects/(?P<project>[^/]+)/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/]+)$"
        ),
        "_delete_table",
    ),
]

_LEGACY_TYPES = {
    "INT64": "INTEGER",
    "FLOAT64": "FLOAT",
    "BOOL": "BOOLEAN",
    "STRUCT": "RECORD",
}
"""Type names as the REST API reports them (its legacy names)."""


@dataclass(frozen=True)
class JobPlan:
    """How one job behaves: how long it runs, and whether it fails."""

    seconds: float
    error: str | None = None
    """The job ends DONE with this ``errorResult.reason`` (``invalidQuery``, ``backendError`` …)."""


@dataclass(frozen=True)
class Column:
    """A column of a tracked table, as the REST API describes it."""

    name: str
    type: str
    mode: str = "NULLABLE"

    def resource(self) -> dict[str, str]:
        """The ``TableFieldSchema`` JSON."""
        return {"name": self.name, "type": self.type, "mode": self.mode}


@dataclass
class Table:
    """A table the stand-in knows: columns and layout, no rows."""

    reference: str
    """``project.dataset.table``."""
    columns: list[Column]
    partitioning: tuple[str, str] | None = None
    """``(column or "", DAY|HOUR|MONTH|YEAR)``."""
    clustering: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobRecord:
    """One job as the stand-in saw it; times are seconds since the server started."""

    job_id: str
    sql: str
    inserted_at: float
    done_at: float
    """When the job finished (or was cancelled)."""
    writes: str | None
    """``project.dataset.table`` the job writes, if any (the last written, for a script)."""
    reads: tuple[str, ...]
    """Tables the job reads (``project.dataset.table``), other than what it writes."""
    cancelled: bool = False
    error: str | None = None
    """``errorResult.reason`` (``stopped`` when cancelled)."""
    observed_at: float | None = None
    """When a client first learnt it was done (jobs.get or getQueryResults)."""

    @property
    def seconds(self) -> float:
        """How long the job ran."""
        return self.done_at - self.inserted_at


@dataclass(frozen=True)
class Timeline:
    """Every (non-dry-run) job the stand-in ran, in insert order."""

    jobs: tuple[JobRecord, ...]
    requests: tuple[tuple[str, str], ...] = ()
    """``(method, path)`` of every request, in arrival order."""
    unhandled: tuple[tuple[str, str], ...] = ()
    """Requests no route answered (404 ``noRoute``): the stand-in is missing an API; and
    ``("PARSE", sql)`` for a job statement sqlglot could only read as a ``Command``."""
    now: float = 0.0
    """When the snapshot was taken (seconds since the server started)."""

    def running(self) -> list[JobRecord]:
        """The jobs still running when the snapshot was taken."""
        return [job for job in self.jobs if job.inserted_at <= self.now < job.done_at]

    @property
    def cancelled(self) -> list[str]:
        """Ids of the jobs cancelled before they finished."""
        return [job.job_id for job in self.jobs if job.cancelled]

    def writing(self) -> Timeline:
        """Only the jobs that write a table (a model's build, not its checks)."""
        return replace(self, jobs=tuple(job for job in self.jobs if job.writes))

    def makespan(self) -> float:
        """First insert to last completion, in seconds (0 without jobs)."""
        if not self.jobs:
            return 0.0
        return max(job.done_at for job in self.jobs) - min(job.inserted_at for job in self.jobs)

    def peak_in_flight(self) -> int:
        """The most jobs running at the same instant (a job ending as another starts: not both)."""
        events = sorted(
            [(job.inserted_at, 1) for job in self.jobs] + [(job.done_at, -1) for job in self.jobs]
        )
        peak = running = 0
        for _, change in events:
            running += change
            peak = max(peak, running)
        return peak

    def critical_path(self) -> float:
        """The longest chain of jobs each reading a table an earlier one wrote, in job seconds.

        The dependencies are the jobs' own: a job depends on the last job inserted
        before it that wrote a table it reads. The result is the least makespan any
        scheduler could reach for these jobs.
        """
        finish: dict[int, float] = {}
        writer: dict[str, int] = {}
        for index, job in enumerate(self.jobs):
            upstream = [writer[table] for table in job.reads if table in writer]
            finish[index] = max((finish[i] for i in upstream), default=0.0) + job.seconds
            if job.writes:
                writer[job.writes] = index
        return max(finish.values(), default=0.0)


@dataclass
class _Job:
    record: JobRecord
    resource: dict[str, Any]
    statements: list[exp.Expr]
    plan: JobPlan
    dry_run: bool
    schema: list[Column] = field(default_factory=list)
    effects: list[_Effect] = field(default_factory=list)
    applied: bool = False


@dataclass(frozen=True)
class _Effect:
    """What a statement does to the tracked tables when its job succeeds."""

    kind: str
    """``create``, ``create_if_missing``, ``add_columns`` or ``drop``."""
    reference: str
    table: Table | None = None
    columns: tuple[Column, ...] = ()


class BigQueryStandIn:
    """A BigQuery REST API on ``127.0.0.1:<free port>`` whose jobs take wall-clock time.

    ``job_seconds`` is every job's duration from its insert; ``plan`` (SQL → :class:`JobPlan`)
    overrides it per job. Dry runs answer at once. Use as a context manager::

        with BigQueryStandIn(job_seconds=0.3) as server:
            client = server.client()
            ...
            timeline = server.timeline()
    """

    def __init__(
        self,
        job_seconds: float = 2.0,
        plan: Callable[[str], JobPlan] | None = None,
        project: str = DEFAULT_PROJECT,
        location: str = "US",
    ) -> None:
        self.job_seconds = job_seconds
        self.plan = plan or (lambda _sql: JobPlan(self.job_seconds))
        self.project = project
        self.location = location
        self._lock = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._datasets: set[str] = set()
        self._tables: dict[str, Table] = {}
        self._requests: list[tuple[str, str]] = []
        self._unhandled: list[tuple[str, str]] = []
        self._started = time.monotonic()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> BigQueryStandIn:
        """Listen on a free port of 127.0.0.1 and serve from a background thread."""
        _load_dialect()
        stand_in = self

        class Handler(_Handler):
            server_state = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bigquery-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (long polls in progress are dropped)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> BigQueryStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: a target's ``api_endpoint``."""
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def client(self) -> bigquery.Client:
        """An anonymous official client on this endpoint."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            location=self.location,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.endpoint},
        )

    # ------------------------------------------------------------ what happened

    def timeline(self) -> Timeline:
        """A snapshot of every job so far (dry runs excluded) and of the requests."""
        with self._lock:
            self._settle()
            return Timeline(
                jobs=tuple(job.record for job in self._jobs.values() if not job.dry_run),
                requests=tuple(self._requests),
                unhandled=tuple(self._unhandled),
                now=self._now(),
            )

    def wait_until(
        self, predicate: Callable[[Timeline], bool], timeout_s: float = 30.0
    ) -> Timeline:
        """Block until ``predicate(timeline)`` holds (checked after every request), or fail.

        For tests: "until 3 jobs are in flight", "until someone polls job X", without sleeping.
        """
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                timeline = self.timeline()
                if predicate(timeline):
                    return timeline
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the stand-in never reached the condition in {timeout_s} s: "
                        f"{len(timeline.jobs)} job(s), {len(timeline.running())} running, "
                        f"{len(timeline.requests)} request(s)"
                    )
                # Also wake when a running job's time is up: "done" needs no request.
                ends = [job.done_at - timeline.now for job in timeline.running()]
                self._lock.wait(min([left, *(end + 0.001 for end in ends)]))

    def table(self, reference: str) -> Table | None:
        """The tracked table ``project.dataset.table``, if it exists."""
        with self._lock:
            self._settle()
            return self._tables.get(reference)

    def add_table(self, reference: str, columns: Mapping[str, str]) -> None:
        """Declare an existing table (a source), ``{name: REST type}``."""
        with self._lock:
            self._tables[reference] = Table(
                reference, [Column(name, kind) for name, kind in columns.items()]
            )

    # ------------------------------------------------------------ dispatch

    def handle(
        self, method: str, url: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        """Answer one request: ``(HTTP status, JSON payload)``."""
        parsed = urlparse(url)
        path = parsed.path.removeprefix("/bigquery/v2")
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        with self._lock:
            self._requests.append((method, path))
            self._lock.notify_all()
        answer: tuple[int, dict[str, Any]] | None = None
        for route_method, pattern, name in _ROUTES:
            if method == route_method and (match := pattern.match(path)):
                arguments = {key: unquote(value) for key, value in match.groupdict().items()}
                handler: Callable[..., tuple[int, dict[str, Any]]] = getattr(self, name)
                try:
                    answer = handler(body=body or {}, query=query, **arguments)
                except _Answer as early:
                    answer = early.status, early.payload
                break
        with self._lock:
            if answer is None:
                self._unhandled.append((method, path))
                answer = (
                    404,
                    _error(404, "noRoute", f"the stand-in has no route for {method} {path}"),
                )
            self._lock.notify_all()  # wake wait_until()
        return answer

    def _now(self) -> float:
        return time.monotonic() - self._started

    # ------------------------------------------------------------ jobs

    def _insert_job(
        self, project: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        # A job starts when its insert arrives: the stand-in's own parsing is not the client's.
        arrived = self._now()
        reference = body.get("jobReference", {})
        configuration = body.get("configuration", {})
        sql = str(configuration.get("query", {}).get("query", ""))
        dry_run = bool(configuration.get("dryRun"))
        try:
            statements = [
                statement
                for statement in sqlglot.parse(sql, read="bigquery")
                if statement is not None
            ]
        except SqlglotError as error:
            return 400, _error(400, "invalidQuery", f"Syntax error: {error}")
        if any(isinstance(statement, exp.Command) for statement in statements):
            # sqlglot gave up on a statement: its tables are unknown, the figures would lie.
            with self._lock:
                self._unhandled.append(("PARSE", sql))
        plan = JobPlan(0.0) if dry_run else self.plan(sql)
        # The analysis (sqlglot) runs outside the lock, on a snapshot of the tables read:
        # other requests, and the long polls of jobs finishing now, are not held up.
        writes, reads = self._tables_of(statements)
        with self._lock:
            self._settle()
            known = {
                name: tuple(self._tables[name].columns) for name in reads if name in self._tables
            }
        schema = _schema(known)
        result = self._result_schema(statements, schema)
        effects = [] if dry_run else self._effects(statements, schema)
        with self._lock:
            job_id = str(reference.get("jobId") or f"standin_job_{len(self._jobs)}")
            if not dry_run and job_id in self._jobs:
                return 409, _error(409, "duplicate", f"Already Exists: Job {project}:{job_id}")
            record = JobRecord(
                job_id=job_id,
                sql=sql,
                inserted_at=arrived,
                done_at=arrived + plan.seconds,
                writes=writes,
                reads=reads,
                error=plan.error,
            )
            resource = {
                "kind": "bigquery#job",
                "etag": "standin",
                "id": f"{project}:{reference.get('location', self.location)}.{job_id}",
                "selfLink": f"/projects/{project}/jobs/{job_id}",
                "jobReference": {
                    "projectId": project,
                    "jobId": job_id,
                    "location": reference.get("location", self.location),
                },
                "configuration": configuration,
                "user_email": "standin@example.invalid",
            }
            job = _Job(record, resource, statements, plan, dry_run, result, effects)
            if dry_run:
                job.applied = True
            else:
                self._jobs[job_id] = job
            return 200, self._resource(job)

    def _job(self, project: str, job: str) -> _Job:
        """The job ``job``, or a 404 answer (the caller holds the lock)."""
        found = self._jobs.get(job)
        if found is None:
            raise _Answer(404, _error(404, "notFound", f"Not found: Job {project}:{job}"))
        return found

    def _get_job(
        self, project: str, job: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._settle()
            found = self._job(project, job)
            self._observe(found)
            return 200, self._resource(found)

    def _results(
        self, project: str, job: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        wait_s = int(query["timeoutMs"]) / 1000 if "timeoutMs" in query else DEFAULT_POLL_S
        deadline = time.monotonic() + wait_s
        with self._lock:
            found = self._job(project, job)
            # Long poll: wait until the job is done (or cancelled), at most timeoutMs.
            while not self._done(found) and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(min(left, max(found.record.done_at - self._now(), 0.0) + 0.001))
            self._settle()
            reference = found.resource["jobReference"]
            if not self._done(found):
                return 200, {
                    "kind": "bigquery#getQueryResultsResponse",
                    "jobReference": reference,
                    "jobComplete": False,
                }
            self._observe(found)
            if found.record.error:
                return 400, _error(400, found.record.error, _message(found.record.error))
            payload: dict[str, Any] = {
                "kind": "bigquery#getQueryResultsResponse",
                "jobReference": reference,
                "jobComplete": True,
                "cacheHit": False,
                "totalBytesProcessed": "0",
            }
            if _is_query(found.statements):
                payload["schema"] = {"fields": [column.resource() for column in found.schema]}
                payload["totalRows"] = "1"
                payload["rows"] = [{"f": [{"v": "0"} for _ in found.schema]}]
            else:
                payload["numDmlAffectedRows"] = "0"
            return 200, payload

    def _cancel_job(
        self, project: str, job: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._settle()
            found = self._job(project, job)
            if not self._done(found):
                found.record = replace(
                    found.record, done_at=self._now(), cancelled=True, error="stopped"
                )
                found.applied = True  # a cancelled job changes nothing
                self._lock.notify_all()
            return 200, {"kind": "bigquery#jobCancelResponse", "job": self._resource(found)}

    def _done(self, job: _Job) -> bool:
        return job.record.cancelled or self._now() >= job.record.done_at

    def _observe(self, job: _Job) -> None:
        if self._done(job) and job.record.observed_at is None:
            job.record = replace(job.record, observed_at=self._now())

    def _resource(self, job: _Job) -> dict[str, Any]:
        record = job.record
        done = job.dry_run or self._done(job)
        status: dict[str, Any] = {"state": "DONE" if done else "RUNNING"}
        if done and record.error:
            error = {"reason": record.error, "message": _message(record.error)}
            status["errorResult"] = error
            status["errors"] = [error]
        epoch_ms = int((time.time() - time.monotonic() + self._started) * 1000)
        statistics: dict[str, Any] = {
            "creationTime": str(epoch_ms + int(record.inserted_at * 1000)),
            "startTime": str(epoch_ms + int(record.inserted_at * 1000)),
            "totalBytesProcessed": "0",
            "query": {
                "totalBytesProcessed": "0",
                "totalBytesBilled": "0",
                "totalSlotMs": "0" if job.dry_run else str(int(record.seconds * 1000)),
                "statementType": _statement_type(job.statements),
                "cacheHit": False,
            },
        }
        if done:
            statistics["endTime"] = str(epoch_ms + int(record.done_at * 1000))
        if _is_query(job.statements):
            statistics["query"]["schema"] = {"fields": [column.resource() for column in job.schema]}
        elif done and not job.dry_run:
            statistics["query"]["numDmlAffectedRows"] = "0"
        return {**job.resource, "status": status, "statistics": statistics}

    # ------------------------------------------------------------ what statements do

    def _settle(self) -> None:
        """Apply the effects of every job that finished (successfully) since the last call."""
        for job in self._jobs.values():
            if not job.applied and self._done(job):
                job.applied = True
                if not job.record.error:
                    for effect in job.effects:
                        self._apply(effect)

    def _apply(self, effect: _Effect) -> None:
        if effect.kind == "drop":
            self._tables.pop(effect.reference, None)
        elif effect.kind == "add_columns":
            found = self._tables.get(effect.reference)
            if found is not None:
                found.columns.extend(effect.columns)
        elif effect.table is not None and (
            effect.kind == "create" or effect.reference not in self._tables
        ):
            self._tables[effect.reference] = replace(effect.table, columns=[*effect.table.columns])

    def _effects(self, statements: Sequence[exp.Expr], schema: MappingSchema) -> list[_Effect]:
        """What ``statements`` will do to the tables (columns typed from ``schema``)."""
        effects: list[_Effect] = []
        for statement in statements:
            if isinstance(statement, exp.Create) and str(statement.args.get("kind")).upper() in (
                "TABLE",
                "VIEW",
            ):
                target = statement.this
                declared: list[Column] = []
                if isinstance(target, exp.Schema):
                    declared = [
                        _column(definition.name, definition.args.get("kind"))
                        for definition in target.expressions
                        if isinstance(definition, exp.ColumnDef)
                    ]
                    target = target.this
                if not isinstance(target, exp.Table):
                    continue
                reference = self._qualified(target)
                query = statement.expression
                columns = declared or (
                    self._columns(query, schema) if isinstance(query, exp.Query) else []
                )
                partitioning, clustering = _layout(statement)
                table = Table(reference, columns, partitioning, clustering)
                kind = "create_if_missing" if statement.args.get("exists") else "create"
                effects.append(_Effect(kind, reference, table))
            elif isinstance(statement, exp.Alter) and isinstance(statement.this, exp.Table):
                added = tuple(
                    _column(action.name, action.args.get("kind"))
                    for action in statement.args.get("actions") or []
                    if isinstance(action, exp.ColumnDef)
                )
                effects.append(_Effect("add_columns", self._qualified(statement.this), None, added))
            elif isinstance(statement, exp.Drop) and isinstance(statement.this, exp.Table):
                effects.append(_Effect("drop", self._qualified(statement.this)))
        return effects

    def _qualified(self, table: exp.Table) -> str:
        return ".".join((table.catalog or self.project, table.db, table.name))

    def _tables_of(self, statements: Sequence[exp.Expr]) -> tuple[str | None, tuple[str, ...]]:
        """``(the table written last, the tables read)`` by ``statements``."""
        writes: str | None = None
        written: set[str] = set()
        read: dict[str, None] = {}
        for statement in statements:
            target = _written(statement)
            ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
            for table in statement.find_all(exp.Table):
                if table is target or not table.name or (not table.db and table.name in ctes):
                    continue
                if table.db:
                    read.setdefault(self._qualified(table))
            if target is not None and target.db:
                writes = self._qualified(target)
                written.add(writes)
        return writes, tuple(name for name in read if name not in written)

    def _columns(self, query: exp.Query, schema: MappingSchema) -> list[Column]:
        """The output columns of ``query``, typed from the tables of ``schema``."""
        try:
            typed = qualify(
                query,  # in place: the job's statements are only read for their kinds after this
                schema=schema,
                dialect="bigquery",
                catalog=self.project,
                validate_qualify_columns=False,
                quote_identifiers=False,
            )
            typed = annotate_types(typed, schema=schema, dialect="bigquery")
        except SqlglotError:
            return [Column(name, "STRING") for name in query.named_selects]
        assert isinstance(typed, exp.Query)
        return [
            _column(select.alias_or_name, select.type)
            for select in typed.selects
            if select.alias_or_name
        ]

    def _result_schema(self, statements: Sequence[exp.Expr], schema: MappingSchema) -> list[Column]:
        if _is_query(statements):
            last = statements[-1]
            assert isinstance(last, exp.Query)
            return self._columns(last, schema)
        return []

    # ------------------------------------------------------------ datasets and tables

    def _insert_dataset(
        self, project: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        dataset = str(body.get("datasetReference", {}).get("datasetId", ""))
        with self._lock:
            key = f"{project}.{dataset}"
            if key in self._datasets:
                return 409, _error(409, "duplicate", f"Already Exists: Dataset {project}:{dataset}")
            self._datasets.add(key)
        return 200, _dataset(project, dataset, self.location)

    def _get_dataset(
        self, project: str, dataset: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if f"{project}.{dataset}" not in self._datasets:
                return 404, _error(404, "notFound", f"Not found: Dataset {project}:{dataset}")
        return 200, _dataset(project, dataset, self.location)

    def _get_table(
        self, project: str, dataset: str, table: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._settle()
            found = self._tables.get(f"{project}.{dataset}.{table}")
            if found is None:
                return 404, _error(404, "notFound", f"Not found: Table {project}:{dataset}.{table}")
            resource: dict[str, Any] = {
                "kind": "bigquery#table",
                "id": f"{project}:{dataset}.{table}",
                "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
                "type": "TABLE",
                "schema": {"fields": [column.resource() for column in found.columns]},
                "numRows": "0",
                "numBytes": "0",
                "location": self.location,
            }
            if found.partitioning is not None:
                column, granularity = found.partitioning
                resource["timePartitioning"] = {"type": granularity}
                if column:
                    resource["timePartitioning"]["field"] = column
            if found.clustering:
                resource["clustering"] = {"fields": list(found.clustering)}
            return 200, resource

    def _delete_table(
        self, project: str, dataset: str, table: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._settle()
            if self._tables.pop(f"{project}.{dataset}.{table}", None) is None:
                return 404, _error(404, "notFound", f"Not found: Table {project}:{dataset}.{table}")
        return 204, {}


class _Answer(Exception):
    """An answer given before a handler's end (a 404 from a lookup)."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


class _Handler(BaseHTTPRequestHandler):
    """One HTTP request, answered by the stand-in (one thread per connection)."""

    server_state: BigQueryStandIn
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connections
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the headers (40 ms on Linux) on every response,
    # a stall of this server that BigQuery's front end does not have.
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, payload = self.server_state.handle(self.command, self.path, body)
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the timeline is the log."""


# ---------------------------------------------------------------- helpers


def _load_dialect() -> None:
    """Import sqlglot's BigQuery dialect here, before any handler thread needs it.

    sqlglot registers a dialect class at the start of its metaclass's ``__new__``: a
    thread that looks the dialect up while another thread's first use is importing it
    gets a half-built class, and parses ``CREATE … `a-b`.c.d`` as a ``Command``.
    """
    query = sqlglot.parse_one("SELECT 1 AS x", read="bigquery")
    annotate_types(query, dialect="bigquery").sql("bigquery")


def _written(statement: exp.Expr) -> exp.Table | None:
    writes = (exp.Create, exp.Merge, exp.Insert, exp.Delete, exp.Update, exp.Alter, exp.Drop)
    if not isinstance(statement, writes):
        return None
    table = statement.this
    if isinstance(table, exp.Schema):
        table = table.this
    return table if isinstance(table, exp.Table) else None


def _is_query(statements: Sequence[exp.Expr]) -> bool:
    return bool(statements) and isinstance(statements[-1], exp.Query)


def _statement_type(statements: Sequence[exp.Expr]) -> str:
    if len(statements) != 1:
        return "SCRIPT"
    statement = statements[0]
    if isinstance(statement, exp.Query):
        return "SELECT"
    if isinstance(statement, exp.Create):
        kind = str(statement.args.get("kind")).upper()
        if kind == "TABLE" and statement.expression is not None:
            return "CREATE_TABLE_AS_SELECT"
        return f"CREATE_{kind}"
    return type(statement).__name__.upper()


def _column(name: str, kind: object) -> Column:
    if not isinstance(kind, exp.DataType) or kind.is_type(exp.DataType.Type.UNKNOWN):
        return Column(name, "STRING")
    mode = "NULLABLE"
    if kind.is_type(exp.DataType.Type.ARRAY) and kind.expressions:
        mode = "REPEATED"
        inner = kind.expressions[0]
        kind = inner if isinstance(inner, exp.DataType) else kind
    base = re.split(r"[<(]", kind.sql("bigquery"), maxsplit=1)[0].upper()
    return Column(name, _LEGACY_TYPES.get(base, base), mode)


def _schema(tables: Mapping[str, Sequence[Column]]) -> MappingSchema:
    """A sqlglot schema of ``{project.dataset.table: columns}``."""
    nested: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for reference, columns in tables.items():
        project, dataset, name = reference.split(".", 2)
        nested.setdefault(project, {}).setdefault(dataset, {})[name] = {
            column.name: _sqlglot_type(column.type) for column in columns
        }
    mapping: dict[str, object] = dict(nested)
    return MappingSchema(mapping, dialect="bigquery")


def _sqlglot_type(rest_type: str) -> str:
    reverse = {legacy: standard for standard, legacy in _LEGACY_TYPES.items()}
    return reverse.get(rest_type, rest_type)


def _layout(statement: exp.Create) -> tuple[tuple[str, str] | None, tuple[str, ...]]:
    properties = statement.args.get("properties")
    partitioning: tuple[str, str] | None = None
    clustering: tuple[str, ...] = ()
    if properties is None:
        return None, ()
    for prop in properties.expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            partitioning = _partitioning(prop.this)
        elif isinstance(prop, exp.ClusterProperty | exp.ClusteredByProperty):
            clustering = tuple(column.name for column in prop.expressions)
    return partitioning, clustering


def _partitioning(expression: exp.Expression) -> tuple[str, str]:
    """``(column, granularity)`` of a ``PARTITION BY`` expression."""
    if isinstance(expression, exp.Column | exp.Identifier):
        return expression.name, "DAY"
    unit = expression.args.get("unit")
    column = expression.find(exp.Column)
    name = column.name if column is not None else ""
    if unit is not None:
        return name, unit.name.upper()
    return name, "DAY"  # DATE(ts)


def _dataset(project: str, dataset: str, location: str) -> dict[str, Any]:
    return {
        "kind": "bigquery#dataset",
        "id": f"{project}:{dataset}",
        "datasetReference": {"projectId": project, "datasetId": dataset},
        "location": location,
    }


def _message(reason: str) -> str:
    if reason == "stopped":
        return "Job execution was cancelled: User requested cancellation"
    return f"the stand-in failed this job: {reason}"


def _error(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"reason": reason, "message": message, "domain": "global"}],
        }
    }


# ---------------------------------------------------------------- a project on the stand-in


def target_toml(
    name: str = "standin", project: str = DEFAULT_PROJECT, max_concurrent_jobs: int = 20
) -> str:
    """A ``[tool.sqlassets.targets.NAME]`` table whose endpoint is read from ``ENDPOINT_ENV``."""
    return (
        f"[tool.sqlassets.targets.{name}]\n"
        'engine = "bigquery"\n'
        f'project = "{project}"\n'
        f'api_endpoint = "env:{ENDPOINT_ENV}"\n'
        f"max_concurrent_jobs = {max_concurrent_jobs}\n"
    )


@dataclass(frozen=True)
class StandInRun:
    """What one ``sqlassets run`` on the stand-in did."""

    timeline: Timeline
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    """The whole command, from process start to exit (imports and definitions included)."""


def sqlassets_command() -> list[str]:
    """The installed console script of the current environment."""
    return [str(Path(sys.executable).parent / "sqlassets")]


@contextlib.contextmanager
def standin(
    job_seconds: float = 2.0, plan: Callable[[str], JobPlan] | None = None
) -> Iterator[BigQueryStandIn]:
    """A started stand-in, stopped on exit."""
    with BigQueryStandIn(job_seconds=job_seconds, plan=plan) as server:
        yield server


def run_on_standin(
    project_dir: Path,
    job_seconds: float = 2.0,
    target: str = "standin",
    arguments: Sequence[str] = (),
    plan: Callable[[str], JobPlan] | None = None,
    timeout_s: float = 900.0,
) -> StandInRun:
    """Run the real CLI, ``sqlassets run --target TARGET``, on a fresh stand-in.

    The project's ``pyproject.toml`` must have the target with
    ``api_endpoint = "env:SQLASSETS_STANDIN_ENDPOINT"`` (:func:`target_toml` writes one);
    the stand-in's endpoint is passed in that variable.
    """
    with standin(job_seconds, plan) as server:
        environment = {**os.environ, ENDPOINT_ENV: server.endpoint, "DAGSTER_HOME": ""}
        started = time.perf_counter()
        completed = subprocess.run(
            [
                *sqlassets_command(),
                "run",
                "--target",
                target,
                "--project-dir",
                str(project_dir),
                *arguments,
            ],
            capture_output=True,
            text=True,
            env=environment,
            timeout=timeout_s,
            check=False,
        )
        wall = time.perf_counter() - started
        return StandInRun(
            server.timeline(), completed.returncode, completed.stdout, completed.stderr, wall
        )

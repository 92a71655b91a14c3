"""A fake HTTP transport for google-cloud-bigquery, for what no emulator can do.

It speaks just enough of the BigQuery REST API (jobs.insert, jobs.get,
jobs.getQueryResults, jobs.cancel) for the real client to run queries, and
lets a test inject faults: a lost insert response, 409s, 5xx errors, job
failures by reason, jobs that never finish, interruptions while waiting, 404s
from jobs.get right after a 409 (python-bigquery#2134). Tables a test puts in
``tables`` answer tables.get. Every request is recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

_JOBS = re.compile(r"/projects/(?P<project>[^/]+)/jobs$")
_JOB = re.compile(r"/projects/(?P<project>[^/]+)/jobs/(?P<job>[^/]+)$")
_CANCEL = re.compile(r"/projects/(?P<project>[^/]+)/jobs/(?P<job>[^/]+)/cancel$")
_DATASETS = re.compile(r"/projects/(?P<project>[^/]+)/datasets$")
_RESULTS = re.compile(r"/projects/(?P<project>[^/]+)/queries/(?P<job>[^/]+)$")
_TABLE = re.compile(
    r"/projects/(?P<project>[^/]+)/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/]+)$"
)


@dataclass
class FakeJob:
    """A job the fake server knows."""

    resource: dict[str, Any]
    state: str = "DONE"
    error: dict[str, Any] | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    """Records after ``error`` in ``status.errors``."""
    rows: list[list[Any]] = field(default_factory=list)
    schema: list[dict[str, str]] = field(default_factory=list)
    polls_left: int = 0
    """getQueryResults answers "not complete" this many times first."""


@dataclass
class Outcome:
    """What the server does with the next matching insert."""

    status: int = 200
    reason: str | None = None
    message: str = "injected"
    lose_response: bool = False
    """Create the job, then fail the HTTP call as if the response was lost."""
    job_error: str | None = None
    """The job is accepted but fails with this reason."""
    job_errors: list[dict[str, Any]] = field(default_factory=list)
    """Further records of the failed job's ``status.errors`` (a load's name the file)."""
    never_finishes: bool = False


class FakeBigQuery:
    """A ``requests.Session`` stand-in to pass as ``bigquery.Client(_http=...)``."""

    is_mtls = False

    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.executions: dict[str, int] = {}
        """How many times each job's statement actually ran."""
        self.cancelled: list[str] = []
        self.datasets: list[str] = []
        self.outcomes: list[Outcome] = []
        self.bytes_processed = 1_000_000
        self.rows_affected = 3
        self.on_poll: Callable[[str], None] | None = None
        self.result_rows: list[list[Any]] = []
        self.polls_to_finish = 0
        """Every new job answers "not complete" this many times before it is done."""
        self.timeline: list[tuple[str, str]] = []
        """(event, job id): ``start`` on insert, ``end`` when a poll first finds it done."""
        self.result_schema: list[dict[str, str]] = []
        self.tables: dict[str, dict[str, Any]] = {}
        """``dataset.table`` -> the table resource tables.get answers (else 404)."""
        self.jobs_get_not_found = 0
        """The next this many jobs.get calls answer 404, as BigQuery may right after a 409."""
        self.bytes_of: Callable[[str], int] | None = None
        """Given a job's query text, the bytes it processes (else ``bytes_processed``)."""
        self.answer: Callable[[str], tuple[list[dict[str, str]], list[list[Any]]] | None] | None
        self.answer = None
        """Given a job's query text, its (schema, rows); None falls back to the defaults."""

    # The client calls session.request(method=..., url=..., data=..., headers=..., timeout=...).
    def request(self, method: str, url: str, data: Any = None, **_: Any) -> requests.Response:
        path = urlparse(url).path.removeprefix("/bigquery/v2")
        body = json.loads(data) if data else None
        self.requests.append((method, path, body))
        if method == "POST" and (match := _JOBS.search(path)):
            return self._insert(match.group("project"), body or {})
        if method == "POST" and _DATASETS.search(path):
            self.datasets.append((body or {}).get("datasetReference", {}).get("datasetId", ""))
            return _response(200, body or {})
        if method == "POST" and (match := _CANCEL.search(path)):
            return self._cancel(match.group("job"))
        if method == "GET" and (match := _RESULTS.search(path)):
            return self._results(match.group("job"), parse_qs(urlparse(url).query))
        if method == "GET" and (match := _JOB.search(path)):
            return self._get(match.group("job"))
        if method == "GET" and (match := _TABLE.search(path)):
            return self._table(match.group("project"), match.group("dataset"), match.group("table"))
        return _response(404, _error(404, "notFound", f"no route {method} {path}"))

    # ------------------------------------------------------------ API

    def _insert(self, project: str, body: dict[str, Any]) -> requests.Response:
        reference = body.get("jobReference", {})
        job_id = reference.get("jobId", f"job_{len(self.jobs)}")
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome()
        if outcome.status >= 400 and not outcome.lose_response:
            return _response(
                outcome.status, _error(outcome.status, outcome.reason, outcome.message)
            )
        if job_id in self.jobs:
            return _response(
                409, _error(409, "duplicate", f"Already Exists: Job {project}:{job_id}")
            )
        dry_run = bool(body.get("configuration", {}).get("dryRun"))
        schema, rows = self.result_schema, self.result_rows
        if self.answer is not None:
            text = body.get("configuration", {}).get("query", {}).get("query", "")
            schema, rows = self.answer(text) or (schema, rows)
        text = body.get("configuration", {}).get("query", {}).get("query", "")
        processed = self.bytes_of(text) if self.bytes_of is not None else self.bytes_processed
        resource = {
            "kind": "bigquery#job",
            "id": f"{project}:{reference.get('location', 'US')}.{job_id}",
            "jobReference": {**reference, "jobId": job_id, "projectId": project},
            "configuration": body.get("configuration", {}),
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": "1700000000000",
                "startTime": "1700000000000",
                "endTime": "1700000001000",
                "totalBytesProcessed": str(processed),
                "query": {
                    "totalBytesProcessed": str(processed),
                    "totalBytesBilled": str(0 if dry_run else processed),
                    "totalSlotMs": "0" if dry_run else "42",
                    "numDmlAffectedRows": str(self.rows_affected),
                    "schema": {"fields": schema},
                },
            },
        }
        job = FakeJob(resource=resource, rows=list(rows), schema=schema)
        if outcome.job_error:
            job.error = {"reason": outcome.job_error, "message": outcome.message}
            job.details = list(outcome.job_errors)
        if outcome.never_finishes:
            job.state = "RUNNING"
            job.polls_left = 10**9
        elif self.polls_to_finish and not dry_run:
            job.state = "RUNNING"
            job.polls_left = self.polls_to_finish
        if not dry_run:
            self.jobs[job_id] = job
            self.executions[job_id] = self.executions.get(job_id, 0) + 1
            self.timeline.append(("start", job_id))
        if outcome.lose_response:
            raise requests.exceptions.ConnectionError("injected: the response was lost")
        return _response(200, self._resource(job))

    def _resource(self, job: FakeJob) -> dict[str, Any]:
        resource = dict(job.resource)
        status: dict[str, Any] = {"state": job.state}
        if job.error and job.state == "DONE":
            status["errorResult"] = job.error
            status["errors"] = [job.error, *job.details]
        resource["status"] = status
        return resource

    def _get(self, job_id: str) -> requests.Response:
        job = self.jobs.get(job_id)
        if self.jobs_get_not_found > 0:
            self.jobs_get_not_found -= 1
            job = None
        if job is None:
            return _response(404, _error(404, "notFound", f"Not found: Job {job_id}"))
        return _response(200, self._resource(job))

    def _table(self, project: str, dataset: str, table: str) -> requests.Response:
        found = self.tables.get(f"{dataset}.{table}")
        if found is None:
            return _response(
                404, _error(404, "notFound", f"Not found: Table {project}:{dataset}.{table}")
            )
        reference = {"projectId": project, "datasetId": dataset, "tableId": table}
        return _response(
            200, {"kind": "bigquery#table", "tableReference": reference, "type": "TABLE", **found}
        )

    def _results(self, job_id: str, query: dict[str, list[str]]) -> requests.Response:
        job = self.jobs.get(job_id)
        if job is None:
            return _response(404, _error(404, "notFound", f"Not found: Job {job_id}"))
        if self.on_poll is not None:
            self.on_poll(job_id)
        if job.polls_left > 0 and job.state == "RUNNING":
            job.polls_left -= 1
            if job.polls_left == 0:
                job.state = "DONE"
                self.timeline.append(("end", job_id))
            return _response(
                200,
                {
                    "kind": "bigquery#getQueryResultsResponse",
                    "jobReference": job.resource["jobReference"],
                    "jobComplete": False,
                },
            )
        if job.error:
            return _response(400, _error(400, job.error["reason"], job.error["message"]))
        return _response(
            200,
            {
                "kind": "bigquery#getQueryResultsResponse",
                "jobReference": job.resource["jobReference"],
                "jobComplete": True,
                "schema": {"fields": job.schema},
                "totalRows": str(len(job.rows)),
                "rows": [{"f": [{"v": value} for value in row]} for row in job.rows],
            },
        )

    def _cancel(self, job_id: str) -> requests.Response:
        self.cancelled.append(job_id)
        job = self.jobs.get(job_id)
        if job is not None:
            job.state = "DONE"
            job.error = {"reason": "stopped", "message": "Job execution was cancelled"}
            job.polls_left = 0
        return _response(
            200, {"kind": "bigquery#jobCancelResponse", "job": self._resource(job) if job else {}}
        )


def _error(code: int, reason: str | None, message: str) -> dict[str, Any]:
    errors = [{"reason": reason, "message": message}] if reason else []
    return {"error": {"code": code, "message": message, "errors": errors}}


def _response(status: int, payload: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload).encode()
    response.headers["content-type"] = "application/json"
    response.url = "https://bigquery.googleapis.com/"
    response.request = requests.Request("GET", response.url).prepare()
    return response

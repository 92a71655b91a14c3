"""Capability smoke test of the local-bigquery emulator through google-cloud-bigquery.

Run with any Python that has ``google-cloud-bigquery`` installed::

    python tests/emulator/smoke.py [--json results.json] [--keep-log]

It starts the emulator (building ``.emulator-venv`` if needed), runs each
check through the real client and prints a PASS / FAIL / UNSUPPORTED table:

* PASS: the call worked and the result or metadata matched real BigQuery.
* FAIL: the call was accepted but the behaviour or result differs from BigQuery.
* UNSUPPORTED: the emulator rejected the call, or only returns a placeholder.

Exit status: 0 when the table was produced (whatever it says), 2 when the
emulator could not be started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

try:
    from tests.emulator.harness import Emulator, EmulatorError, start_emulator
except ImportError:  # run as a script: tests/emulator is sys.path[0]
    from harness import Emulator, EmulatorError, start_emulator  # type: ignore[no-redef]

PASS, FAIL, UNSUPPORTED = "PASS", "FAIL", "UNSUPPORTED"
TIMEOUT = 60.0  # seconds, for every job wait
DS = "smoke"


@dataclass
class Result:
    """Outcome of one check."""

    name: str
    status: str
    detail: str
    millis: float


class Unsupported(Exception):
    """Raised by a check when the emulator only returns a placeholder."""


class Mismatch(AssertionError):
    """Raised by a check when the emulator behaves differently from BigQuery."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`Mismatch` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Mismatch(message)


def _short(exc: BaseException, limit: int = 160) -> str:
    """Return a one-line, truncated description of ``exc`` (API errors without URL)."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and getattr(exc, "code", None) is not None:
        message = re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", message)
        text = f"{type(exc).__name__} {exc.code}: {message}"  # type: ignore[attr-defined]
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Smoke:
    """Runs the checks in order against one emulator; later checks reuse state."""

    def __init__(self, emulator: Emulator) -> None:
        from google.cloud import bigquery

        self.bq = bigquery
        self.emulator = emulator
        self.client = emulator.client()
        self.project = emulator.project
        self.results: list[Result] = []
        self.latencies: list[float] = []

    # -- helpers -------------------------------------------------------------
    def query(self, sql: str, **config: Any) -> Any:
        """Run ``sql`` with a QueryJobConfig built from ``config``; wait; return the job."""
        job_id = config.pop("job_id", None)
        job_config = self.bq.QueryJobConfig(**config)
        started = time.perf_counter()
        job = self.client.query(sql, job_config=job_config, job_id=job_id, timeout=TIMEOUT)
        if not job_config.dry_run:
            job.result(timeout=TIMEOUT)
        self.latencies.append(time.perf_counter() - started)
        return job

    def rows(self, sql: str, **config: Any) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return its rows as tuples."""
        job = self.query(sql, **config)
        return [tuple(row.values()) for row in job.result(timeout=TIMEOUT)]

    def table_rows(self, table: str = "t") -> list[tuple[Any, ...]]:
        """Return (d, k, v) of ``DS.table`` ordered by d, k."""
        return self.rows(f"SELECT d, k, v FROM {DS}.{table} ORDER BY d, k")

    # -- runner --------------------------------------------------------------
    def run(self, checks: list[tuple[str, Callable[[Smoke], str]]]) -> list[Result]:
        """Run every check, recording PASS/FAIL/UNSUPPORTED and timing."""
        from google.api_core import exceptions as gexc

        for name, check in checks:
            started = time.perf_counter()
            try:
                detail = check(self)
                status = PASS
            except Mismatch as exc:
                status, detail = FAIL, str(exc)
            except Unsupported as exc:
                status, detail = UNSUPPORTED, str(exc)
            except (gexc.GoogleAPICallError, gexc.RetryError, NotImplementedError) as exc:
                status, detail = UNSUPPORTED, _short(exc)
            except Exception as exc:
                status, detail = FAIL, _short(exc)
            millis = (time.perf_counter() - started) * 1000
            self.results.append(Result(name, status, detail, millis))
            print(f"  {status:<11} {name} ({millis:.0f} ms)", flush=True)
        return self.results


# ----------------------------------------------------------------------------- checks
# Each check returns a short detail string on success, raises Mismatch for a
# behaviour difference and Unsupported (or lets an API error escape) otherwise.

CTAS = f"""
CREATE OR REPLACE TABLE {DS}.t
PARTITION BY d
CLUSTER BY k
AS
SELECT d, k, v, CAST(v AS NUMERIC) / 4 AS amount,
       TIMESTAMP(d) AS ts, v * 1.5 AS f, v > 1 AS flag
FROM UNNEST([
  STRUCT(DATE '2024-01-01' AS d, 'a' AS k, 1 AS v),
  STRUCT(DATE '2024-01-02' AS d, 'b' AS k, 2 AS v),
  STRUCT(DATE '2024-01-03' AS d, 'c' AS k, 3 AS v)
])
"""


def check_create_dataset(s: Smoke) -> str:
    dataset = s.client.create_dataset(DS, timeout=TIMEOUT)
    got = s.client.get_dataset(DS, timeout=TIMEOUT)
    expect(got.dataset_id == DS, f"get_dataset returned {got.dataset_id!r}")
    return f"{dataset.full_dataset_id} location={got.location}"


def check_create_dataset_conflict(s: Smoke) -> str:
    from google.api_core import exceptions as gexc

    try:
        s.client.create_dataset(DS, timeout=TIMEOUT)
    except gexc.Conflict as exc:
        s.client.create_dataset(DS, exists_ok=True, timeout=TIMEOUT)
        return f"409 Conflict, exists_ok=True ok ({_short(exc, 60)})"
    raise Mismatch("second create_dataset was accepted (expected 409)")


def check_ctas_partition_cluster(s: Smoke) -> str:
    job = s.query(CTAS)
    table = s.client.get_table(f"{DS}.t", timeout=TIMEOUT)
    tp = table.time_partitioning
    expect(tp is not None, "time_partitioning is None (PARTITION BY dropped)")
    expect(tp.type_ == "DAY" and tp.field == "d", f"time_partitioning={tp.type_}/{tp.field}")
    expect(table.clustering_fields == ["k"], f"clustering_fields={table.clustering_fields}")
    expect(table.num_rows == 3, f"num_rows={table.num_rows}")
    return (
        f"time_partitioning=DAY(d) clustering={table.clustering_fields} rows={table.num_rows} "
        f"statement_type={job.statement_type} ddl_op={job.ddl_operation_performed} "
        f"ddl_target={getattr(job.ddl_target_table, 'table_id', None)}"
    )


def check_get_table_schema(s: Smoke) -> str:
    table = s.client.get_table(f"{DS}.t", timeout=TIMEOUT)
    got = [(f.name, f.field_type, f.mode) for f in table.schema]
    want = [
        ("d", "DATE", "NULLABLE"),
        ("k", "STRING", "NULLABLE"),
        ("v", "INTEGER", "NULLABLE"),
        ("amount", "NUMERIC", "NULLABLE"),
        ("ts", "TIMESTAMP", "NULLABLE"),
        ("f", "FLOAT", "NULLABLE"),
        ("flag", "BOOLEAN", "NULLABLE"),
    ]
    expect(got == want, f"schema {got}")
    return ", ".join(f"{n}:{t}" for n, t, _ in got)


def check_view(s: Smoke) -> str:
    s.query(f"CREATE OR REPLACE VIEW {DS}.v AS SELECT k, SUM(v) AS total FROM {DS}.t GROUP BY k")
    view = s.client.get_table(f"{DS}.v", timeout=TIMEOUT)
    expect(view.table_type == "VIEW", f"table_type={view.table_type}")
    expect(bool(view.view_query), "view_query empty")
    rows = s.rows(f"SELECT k, total FROM {DS}.v ORDER BY k")
    expect(rows == [("a", 1), ("b", 2), ("c", 3)], f"view rows {rows}")
    s.query(f"CREATE OR REPLACE VIEW {DS}.v AS SELECT k FROM {DS}.t")
    rows = s.rows(f"SELECT * FROM {DS}.v ORDER BY k")
    expect(rows == [("a",), ("b",), ("c",)], f"replaced view rows {rows}")
    return "table_type=VIEW, view_query kept, OR REPLACE redefines"


def _reset_small(s: Smoke) -> None:
    """(Re)create DS.m with three rows for the MERGE checks."""
    s.query(
        f"CREATE OR REPLACE TABLE {DS}.m PARTITION BY d AS "
        "SELECT * FROM UNNEST([STRUCT(DATE '2024-01-01' AS d, 'a' AS k, 1 AS v), "
        "(DATE '2024-01-02', 'b', 2), (DATE '2024-01-03', 'c', 3)])"
    )


def _dml_stats(job: Any) -> str:
    stats = job.dml_stats
    if stats is None:
        return "dml_stats=None"
    return (
        f"dml_stats(ins={stats.inserted_row_count}, upd={stats.updated_row_count}, "
        f"del={stats.deleted_row_count})"
    )


def check_merge_insert_row(s: Smoke) -> str:
    _reset_small(s)
    job = s.query(
        f"""
        MERGE {DS}.m T
        USING (SELECT DATE '2024-01-02' AS d, 'b' AS k, 20 AS v
               UNION ALL SELECT DATE '2024-01-05', 'e', 5) S
        ON T.d = S.d AND T.k = S.k
        WHEN MATCHED THEN UPDATE SET v = S.v
        WHEN NOT MATCHED THEN INSERT ROW
        """
    )
    rows = s.table_rows("m")
    want = [
        (dt.date(2024, 1, 1), "a", 1),
        (dt.date(2024, 1, 2), "b", 20),
        (dt.date(2024, 1, 3), "c", 3),
        (dt.date(2024, 1, 5), "e", 5),
    ]
    expect(rows == want, f"rows {rows}")
    expect(job.num_dml_affected_rows == 2, f"num_dml_affected_rows={job.num_dml_affected_rows}")
    return f"affected={job.num_dml_affected_rows} {_dml_stats(job)}"


def check_merge_insert_values(s: Smoke) -> str:
    _reset_small(s)
    job = s.query(
        f"""
        MERGE {DS}.m AS T
        USING (SELECT DATE '2024-01-03' AS d, 'c' AS k, 30 AS v
               UNION ALL SELECT DATE '2024-01-06', 'f', 6) AS S
        ON T.d = S.d AND T.k = S.k
        WHEN MATCHED THEN UPDATE SET v = S.v
        WHEN NOT MATCHED THEN INSERT (d, k, v) VALUES (S.d, S.k, S.v)
        """
    )
    rows = s.table_rows("m")
    want = [
        (dt.date(2024, 1, 1), "a", 1),
        (dt.date(2024, 1, 2), "b", 2),
        (dt.date(2024, 1, 3), "c", 30),
        (dt.date(2024, 1, 6), "f", 6),
    ]
    expect(rows == want, f"rows {rows}")
    expect(job.num_dml_affected_rows == 2, f"num_dml_affected_rows={job.num_dml_affected_rows}")
    return f"affected={job.num_dml_affected_rows} {_dml_stats(job)}"


def check_merge_replace_window(s: Smoke) -> str:
    _reset_small(s)
    job = s.query(
        f"""
        MERGE {DS}.m T
        USING (SELECT DATE '2024-01-02' AS d, 'x' AS k, 100 AS v
               UNION ALL SELECT DATE '2024-01-03', 'y', 200) S
        ON FALSE
        WHEN NOT MATCHED BY SOURCE AND T.d >= @start AND T.d < @end THEN DELETE
        WHEN NOT MATCHED THEN INSERT ROW
        """,
        query_parameters=[
            s.bq.ScalarQueryParameter("start", "DATE", dt.date(2024, 1, 2)),
            s.bq.ScalarQueryParameter("end", "DATE", dt.date(2024, 1, 4)),
        ],
    )
    rows = s.table_rows("m")
    want = [
        (dt.date(2024, 1, 1), "a", 1),
        (dt.date(2024, 1, 2), "x", 100),
        (dt.date(2024, 1, 3), "y", 200),
    ]
    expect(rows == want, f"rows {rows}")
    expect(job.num_dml_affected_rows == 4, f"num_dml_affected_rows={job.num_dml_affected_rows}")
    return f"window [01-02,01-04) replaced; affected={job.num_dml_affected_rows} {_dml_stats(job)}"


def check_named_params(s: Smoke) -> str:
    ts = dt.datetime(2024, 3, 4, 5, 6, 7, 123456, tzinfo=dt.UTC)
    job = s.query(
        "SELECT @d AS d, @ts AS ts, @s AS s, DATE_ADD(@d, INTERVAL 1 DAY) AS d2, "
        "TIMESTAMP_ADD(@ts, INTERVAL 1 HOUR) AS ts2, CONCAT(@s, '!') AS s2",
        query_parameters=[
            s.bq.ScalarQueryParameter("d", "DATE", dt.date(2024, 2, 29)),
            s.bq.ScalarQueryParameter("ts", "TIMESTAMP", ts),
            s.bq.ScalarQueryParameter("s", "STRING", "héllo 'x'"),
        ],
    )
    result = job.result(timeout=TIMEOUT)
    types = [f.field_type for f in result.schema]
    (row,) = [tuple(r.values()) for r in result]
    want = (
        dt.date(2024, 2, 29),
        ts,
        "héllo 'x'",
        dt.date(2024, 3, 1),
        ts + dt.timedelta(hours=1),
        "héllo 'x'!",
    )
    expect(row == want, f"row {row}")
    expect(types == ["DATE", "TIMESTAMP", "STRING"] * 2, f"types {types}")
    return "DATE/TIMESTAMP(us, UTC)/STRING round-trip; types " + "/".join(types[:3])


def check_positional_params(s: Smoke) -> str:
    rows = s.rows(
        "SELECT ? + 1, ?",
        query_parameters=[
            s.bq.ScalarQueryParameter(None, "INT64", 41),
            s.bq.ScalarQueryParameter(None, "NUMERIC", Decimal("1.25")),
        ],
    )
    expect(rows == [(42, Decimal("1.25"))], f"rows {rows}")
    return "INT64/NUMERIC positional"


def check_labels(s: Smoke) -> str:
    labels = {"sqlassets_asset": "smoke_t", "team": "data"}
    job = s.query("SELECT 1", labels=labels)
    got = s.client.get_job(job.job_id, timeout=TIMEOUT).labels
    expect(got == labels, f"get_job labels={got}")
    return f"labels read back: {got}"


def check_duplicate_job_id(s: Smoke) -> str:
    from google.api_core import exceptions as gexc

    job_id = f"smoke_fixed_{uuid.uuid4().hex[:8]}"
    s.query("SELECT 1", job_id=job_id)
    try:
        s.query("SELECT 2", job_id=job_id)
    except gexc.Conflict as exc:
        return f"second insert -> 409 Conflict ({_short(exc, 70)})"
    raise Mismatch("second insert with the same job_id was accepted (expected 409)")


def check_dml_affected_rows(s: Smoke) -> str:
    _reset_small(s)
    job = s.query(f"UPDATE {DS}.m SET v = v + 1 WHERE v >= 2")
    expect(job.num_dml_affected_rows == 2, f"UPDATE affected={job.num_dml_affected_rows}")
    job2 = s.query(f"DELETE FROM {DS}.m WHERE k = 'a'")
    expect(job2.num_dml_affected_rows == 1, f"DELETE affected={job2.num_dml_affected_rows}")
    job3 = s.query(f"INSERT INTO {DS}.m (d, k, v) VALUES (DATE '2024-02-01', 'z', 9)")
    expect(job3.num_dml_affected_rows == 1, f"INSERT affected={job3.num_dml_affected_rows}")
    return f"UPDATE=2 DELETE=1 INSERT=1; statement_type={job.statement_type}"


def check_bytes_processed(s: Smoke) -> str:
    job = s.query(f"SELECT * FROM {DS}.t")
    got = (job.total_bytes_processed, job.total_bytes_billed)
    if not job.total_bytes_processed:
        raise Unsupported(f"total_bytes_processed/billed={got} (placeholder)")
    return f"total_bytes_processed/billed={got}"


def check_slot_millis(s: Smoke) -> str:
    job = s.query(f"SELECT COUNT(*) FROM {DS}.t")
    job = s.client.get_job(job.job_id, timeout=TIMEOUT)
    if not job.slot_millis:
        raise Unsupported(
            f"slot_millis={job.slot_millis}; started={job.started is not None} "
            f"ended={job.ended is not None}"
        )
    return f"slot_millis={job.slot_millis}"


def check_dry_run(s: Smoke) -> str:
    before = s.table_rows("t")
    job = s.query(f"DELETE FROM {DS}.t WHERE TRUE", dry_run=True, use_query_cache=False)
    after = s.table_rows("t")
    expect(before == after, "dry_run DELETE changed the table")
    select = s.query(f"SELECT d, k FROM {DS}.t", dry_run=True)
    schema = [f.name for f in select.schema or []]
    expect(schema == ["d", "k"], f"dry_run schema={schema}")
    return (
        f"no side effects, schema returned, state={select.state}, "
        f"job_id={select.job_id!r}, bytes={select.total_bytes_processed} "
        f"(DML dry-run state={job.state})"
    )


def check_dry_run_bytes(s: Smoke) -> str:
    job = s.query(f"SELECT * FROM {DS}.t", dry_run=True)
    if not job.total_bytes_processed:
        raise Unsupported(f"dry-run total_bytes_processed={job.total_bytes_processed}")
    return f"total_bytes_processed={job.total_bytes_processed}"


def check_dry_run_invalid(s: Smoke) -> str:
    from google.api_core import exceptions as gexc

    try:
        s.query(f"SELECT no_such_column FROM {DS}.t", dry_run=True)
    except gexc.BadRequest as exc:
        return f"400 BadRequest ({_short(exc, 80)})"
    raise Mismatch("dry_run of an invalid query succeeded")


def check_information_schema_columns(s: Smoke) -> str:
    sql = (
        "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
        "is_partitioning_column, clustering_ordinal_position "
        "FROM {ref}.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 't' "
        "ORDER BY ordinal_position"
    )
    rows = s.rows(sql.format(ref=DS))
    got = [(r[1], r[3]) for r in rows]
    want = [
        ("d", "DATE"),
        ("k", "STRING"),
        ("v", "INT64"),
        ("amount", "NUMERIC"),
        ("ts", "TIMESTAMP"),
        ("f", "FLOAT64"),
        ("flag", "BOOL"),
    ]
    expect(got == want, f"columns {got}")
    part = {r[1]: r[5] for r in rows}
    clus = {r[1]: r[6] for r in rows}
    expect(part.get("d") == "YES", f"is_partitioning_column={part}")
    expect(clus.get("k") == 1, f"clustering_ordinal_position={clus}")
    qualified = s.rows(sql.format(ref=f"`{s.project}.{DS}`"))
    expect(len(qualified) == len(rows), "project-qualified form differs")
    return "types INT64/FLOAT64/BOOL..., partitioning + clustering columns; `proj.ds` form ok"


def check_information_schema_tables(s: Smoke) -> str:
    rows = s.rows(
        f"SELECT table_name, table_type FROM {DS}.INFORMATION_SCHEMA.TABLES ORDER BY table_name"
    )
    got = dict(rows)
    expect(got.get("t") == "BASE TABLE" and got.get("v") == "VIEW", f"tables {got}")
    return f"{got}"


def check_information_schema_partitions(s: Smoke) -> str:
    rows = s.rows(
        f"SELECT partition_id, total_rows FROM {DS}.INFORMATION_SCHEMA.PARTITIONS "
        "WHERE table_name = 't' ORDER BY partition_id"
    )
    expect(rows == [("20240101", 1), ("20240102", 1), ("20240103", 1)], f"partitions {rows}")
    return f"{len(rows)} partitions 'YYYYMMDD' with total_rows"


def check_destination_table(s: Smoke) -> str:
    bq = s.bq
    dest = f"{s.project}.{DS}.dest"
    for _ in range(2):
        s.query(
            f"SELECT d, k, v FROM {DS}.t",
            destination=dest,
            write_disposition=bq.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bq.CreateDisposition.CREATE_IF_NEEDED,
            time_partitioning=bq.TimePartitioning(field="d"),
            clustering_fields=["k"],
        )
    table = s.client.get_table(dest, timeout=TIMEOUT)
    expect(table.num_rows == 3, f"WRITE_TRUNCATE twice -> num_rows={table.num_rows}")
    tp = table.time_partitioning
    expect(tp is not None and tp.field == "d", f"time_partitioning={tp}")
    expect(table.clustering_fields == ["k"], f"clustering={table.clustering_fields}")
    return "WRITE_TRUNCATE + time_partitioning + clustering honoured"


def check_partition_decorator(s: Smoke) -> str:
    bq = s.bq
    s.query(
        "SELECT DATE '2024-01-02' AS d, 'q' AS k, 7 AS v",
        destination=f"{s.project}.{DS}.dest$20240102",
        write_disposition=bq.WriteDisposition.WRITE_TRUNCATE,
    )
    rows = s.table_rows("dest")
    want = [
        (dt.date(2024, 1, 1), "a", 1),
        (dt.date(2024, 1, 2), "q", 7),
        (dt.date(2024, 1, 3), "c", 3),
    ]
    if rows != want:
        tables = sorted(t.table_id for t in s.client.list_tables(DS, timeout=TIMEOUT))
        stray = [t for t in tables if "$" in t]
        raise Mismatch(
            f"partition not replaced (dest rows={len(rows)}); "
            f"accepted silently, tables with '$': {stray}"
        )
    return "$YYYYMMDD WRITE_TRUNCATE replaced one partition"


def check_query_and_wait(s: Smoke) -> str:
    rows = s.client.query_and_wait(
        "SELECT COUNT(*) AS n FROM smoke.t", wait_timeout=TIMEOUT, api_timeout=TIMEOUT
    )
    got = [tuple(r.values()) for r in rows]
    expect(got == [(3,)], f"rows {got}")
    return f"jobs.query path ok; job_id={getattr(rows, 'job_id', None)!r}"


def check_script(s: Smoke) -> str:
    job = s.query(
        f"""
        DECLARE n INT64 DEFAULT 0;
        SET n = (SELECT COUNT(*) FROM {DS}.t);
        CREATE TEMP TABLE tmp AS SELECT n AS n;
        SELECT n * 10 AS x FROM tmp;
        """
    )
    rows = [tuple(r.values()) for r in job.result(timeout=TIMEOUT)]
    expect(rows == [(30,)], f"rows {rows}")
    children = list(s.client.list_jobs(parent_job=job.job_id, timeout=TIMEOUT))
    kind = job.statement_type
    return f"DECLARE/SET/TEMP TABLE ok; statement_type={kind}, {len(children)} child jobs"


def check_max_bytes_billed(s: Smoke) -> str:
    from google.api_core import exceptions as gexc

    try:
        s.query(f"SELECT * FROM {DS}.t", maximum_bytes_billed=1)
    except gexc.GoogleAPICallError as exc:
        return f"rejected: {_short(exc, 80)}"
    raise Unsupported("maximum_bytes_billed=1 not enforced")


def check_cancel_job(s: Smoke) -> str:
    from google.api_core import exceptions as gexc

    job = s.client.query(
        "SELECT SUM(a * b * c) FROM UNNEST(GENERATE_ARRAY(1, 4000)) a, "
        "UNNEST(GENERATE_ARRAY(1, 4000)) b, UNNEST(GENERATE_ARRAY(1, 4000)) c",
        timeout=TIMEOUT,
    )
    state_before = job.state
    cancelled = s.client.cancel_job(job.job_id, timeout=TIMEOUT)
    deadline = time.monotonic() + 30
    current = s.client.get_job(job.job_id, timeout=TIMEOUT)
    while current.state != "DONE" and time.monotonic() < deadline:
        time.sleep(0.2)
        current = s.client.get_job(job.job_id, timeout=TIMEOUT)
    expect(current.state == "DONE", f"still {current.state} 30 s after cancel")
    reason = (current.error_result or {}).get("reason")
    expect(
        reason == "stopped" or state_before == "DONE",
        f"after cancel error_result={current.error_result}",
    )
    try:
        job.result(timeout=TIMEOUT)
    except gexc.GoogleAPICallError as exc:
        raised = _short(exc, 80)
    else:
        raised = "nothing"
    return (
        f"state before={state_before}, cancel returned {cancelled.state}, "
        f"final reason={reason}, result() raised {raised}"
    )


CHECKS: list[tuple[str, Callable[[Smoke], str]]] = [
    ("create dataset", check_create_dataset),
    ("create dataset twice -> 409", check_create_dataset_conflict),
    ("CTAS PARTITION BY/CLUSTER BY + get_table metadata", check_ctas_partition_cluster),
    ("get_table().schema types", check_get_table_schema),
    ("CREATE OR REPLACE VIEW", check_view),
    ("MERGE UPDATE + INSERT ROW", check_merge_insert_row),
    ("MERGE UPDATE + INSERT (cols) VALUES", check_merge_insert_values),
    ("MERGE ON FALSE BY SOURCE window DELETE + INSERT ROW", check_merge_replace_window),
    ("named params DATE/TIMESTAMP/STRING", check_named_params),
    ("positional params", check_positional_params),
    ("job labels via get_job", check_labels),
    ("same explicit job_id twice -> 409", check_duplicate_job_id),
    ("num_dml_affected_rows", check_dml_affected_rows),
    ("total_bytes_processed", check_bytes_processed),
    ("slot_millis", check_slot_millis),
    ("dry_run", check_dry_run),
    ("dry_run bytes estimate", check_dry_run_bytes),
    ("dry_run invalid query -> 400", check_dry_run_invalid),
    ("INFORMATION_SCHEMA.COLUMNS", check_information_schema_columns),
    ("INFORMATION_SCHEMA.TABLES", check_information_schema_tables),
    ("INFORMATION_SCHEMA.PARTITIONS", check_information_schema_partitions),
    ("destination table WRITE_TRUNCATE + partitioning", check_destination_table),
    ("partition decorator dest$YYYYMMDD", check_partition_decorator),
    ("client.query_and_wait", check_query_and_wait),
    ("multi-statement script", check_script),
    ("maximum_bytes_billed enforced", check_max_bytes_billed),
    ("cancel_job", check_cancel_job),
]


def print_table(results: list[Result]) -> None:
    """Print the capability table (markdown, so README.md can reuse it)."""
    width = max(len(r.name) for r in results)
    print(f"\n| {'check':<{width}} | status      | ms    | detail")
    print(f"|{'-' * (width + 2)}|-------------|-------|-------")
    for r in results:
        print(f"| {r.name:<{width}} | {r.status:<11} | {r.millis:>5.0f} | {r.detail}")
    counts = {k: sum(r.status == k for r in results) for k in (PASS, FAIL, UNSUPPORTED)}
    print(
        f"\n{counts[PASS]} pass, {counts[FAIL]} fail, {counts[UNSUPPORTED]} unsupported "
        f"of {len(results)} checks"
    )


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, run all checks, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write results as JSON here")
    parser.add_argument("--venv", type=Path, default=None, help="emulator venv root")
    parser.add_argument("--keep-log", action="store_true", help="keep the emulator workdir")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        emulator = start_emulator(venv=args.venv, keep_workdir=args.keep_log)
    except EmulatorError as exc:
        print(f"emulator failed to start:\n{exc}", file=sys.stderr)
        return 2
    with emulator:
        total_start = time.perf_counter() - started
        print(
            f"local-bigquery pid={emulator.pid} at {emulator.endpoint} project={emulator.project}"
            f" ready in {emulator.startup_seconds:.2f}s (incl. venv check {total_start:.2f}s)",
            flush=True,
        )
        smoke = Smoke(emulator)
        results = smoke.run(CHECKS)
        latency = sorted(smoke.latencies)
        probe = []
        for _ in range(20):
            t0 = time.perf_counter()
            smoke.client.query("SELECT 1", timeout=TIMEOUT).result(timeout=TIMEOUT)
            probe.append(time.perf_counter() - t0)
        probe.sort()
        if args.keep_log:
            print(f"emulator log: {emulator.log_path}")
    print_table(results)
    print(
        f"startup {emulator.startup_seconds:.2f}s; SELECT 1 latency median "
        f"{probe[len(probe) // 2] * 1000:.0f} ms (min {probe[0] * 1000:.0f}, "
        f"max {probe[-1] * 1000:.0f}); all smoke jobs median "
        f"{latency[len(latency) // 2] * 1000:.0f} ms over {len(latency)} jobs"
    )
    if args.json:
        payload = {
            "startup_seconds": emulator.startup_seconds,
            "select1_median_ms": probe[len(probe) // 2] * 1000,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

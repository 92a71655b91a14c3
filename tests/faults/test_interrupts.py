"""SIGINT and SIGTERM stop `sqlassets run` on DuckDB within 5 s, in any phase: a long
statement is interrupted and rolled back, Dagster's bookkeeping of a huge window does
not hold the signal back; the exit is 130/143 with one line and no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.helpers import write_project

# Each test starts `sqlassets run` (Dagster, in a subprocess): seconds each. Linux: the
# tests read the process's CPU time from /proc to know it is at work.
pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "sqlassets"
DATABASE = ".sqlassets/warehouse.duckdb"
# Minutes on DuckDB (4e10 rows) unless interrupted.
SLOW = (
    "-- @materialized: table\n"
    "SELECT COUNT(*) AS n FROM UNNEST(GENERATE_ARRAY(1, 200000)) AS a\n"
    "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 200000)) AS b WHERE MOD(a * b, 7) = 3\n"
)
# A two-year hourly window in one run: 17,544 partitions of Dagster bookkeeping.
HOURLY = (
    "-- @materialized: insert_overwrite\n"
    "-- @partition_by: TIMESTAMP_TRUNC(hour, HOUR)\n"
    "-- @partitions: hourly\n"
    "-- @start: 2020-01-01 00:00\n"
    "SELECT @start_ts AS hour, 1 AS n\n"
)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
ANSWER_S = 5.0


class Run:
    """`sqlassets run` in a subprocess, its stderr collected as it comes."""

    def __init__(self, root: Path, *args: str):
        self.process = subprocess.Popen(
            [str(SCRIPT), "run", "--project-dir", str(root), *args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "DAGSTER_HOME": ""},
        )
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(4096), b""):  # type: ignore[union-attr]
            self.stderr += chunk

    def wait_for(self, condition: Callable[[], bool], what: str, limit_s: float = 60) -> None:
        deadline = time.monotonic() + limit_s
        while not condition():
            assert self.process.poll() is None, f"exited before {what}: {self.text()}"
            assert time.monotonic() < deadline, f"no {what} in {limit_s}s: {self.text()}"
            time.sleep(0.05)  # polling for the condition, not timing a result

    def signal_and_wait(self, signum: int) -> float:
        """Send ``signum``; the seconds until the process exited (killed after 30 s)."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        elapsed = time.monotonic() - sent
        self._reader.join(timeout=5)
        return elapsed

    def text(self) -> str:
        out = self.process.stdout.read() if self.process.poll() is not None else b""  # type: ignore[union-attr]
        return (out + self.stderr).decode(errors="replace")[-3000:]

    def cpu_s(self) -> float:
        """User and system CPU seconds the process used so far (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _project(root: Path, files: dict[str, str]) -> None:
    write_project(root, {"pyproject.toml": '[tool.sqlassets]\nsql_dir = "sql"\n', **files})
    # The table as an earlier run left it: an interrupted run must not touch it.
    (root / ".sqlassets").mkdir()
    with duckdb.connect(str(root / DATABASE)) as connection:
        connection.execute("CREATE SCHEMA marts; CREATE TABLE marts.slow AS SELECT 42 AS n")


def _slow_table(root: Path) -> list[tuple[object, ...]]:
    # Opening the file also proves the lock was released.
    with duckdb.connect(str(root / DATABASE)) as connection:
        return connection.execute("SELECT n FROM marts.slow").fetchall()


def _assert_answered(run: Run, signum: int, elapsed: float) -> None:
    output = run.text()
    assert elapsed < ANSWER_S, f"{signal.Signals(signum).name} answered in {elapsed:.1f}s"
    assert run.process.returncode == EXIT_CODES[signum], output
    assert "Traceback" not in output and "Stack Trace" not in output, output
    name = signal.Signals(signum).name
    assert output.strip().splitlines()[-1].startswith(f"sqlassets: interrupted by {name}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_interrupts_the_running_statement_and_rolls_it_back(
    tmp_path: Path, signum: int
) -> None:
    _project(tmp_path, {"sql/marts/slow.sql": SLOW})
    run = Run(tmp_path)
    run.wait_for(lambda: b"... marts.slow" in run.stderr, "model start")
    # The statement is running once the process burns CPU past the marker.
    started = run.cpu_s()
    run.wait_for(lambda: run.cpu_s() > started + 1.0, "statement using CPU")
    elapsed = run.signal_and_wait(signum)
    _assert_answered(run, signum, elapsed)
    assert _slow_table(tmp_path) == [(42,)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_is_answered_while_dagster_books_a_huge_window(
    tmp_path: Path, signum: int
) -> None:
    _project(
        tmp_path,
        {
            "sql/marts/hourly.sql": HOURLY,
            # Downstream and slow: the run is still going whatever the bookkeeping costs.
            "sql/marts/slow.sql": SLOW.replace(
                "WHERE MOD", "JOIN marts.hourly AS h ON TRUE WHERE MOD"
            ),
        },
    )
    run = Run(tmp_path, "--start", "2020-01-01", "--end", "2022-01-01")
    run.wait_for(lambda: b"Running 2 model(s)" in run.stderr, "the run starting")
    # Inside the Dagster run: its bookkeeping (or, where that is cheap, the statements)
    # keeps the process busy.
    started = run.cpu_s()
    run.wait_for(lambda: run.cpu_s() > started + 1.5, "Dagster at work")
    elapsed = run.signal_and_wait(signum)
    _assert_answered(run, signum, elapsed)
    assert _slow_table(tmp_path) == [(42,)]

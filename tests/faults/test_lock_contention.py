"""A DuckDB file another process holds: `run` and `plan` say who holds it before any
work (exit 2), or wait for it with --wait-for-lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.helpers import write_project

SCRIPT = Path(sys.executable).parent / "sqlassets"
DATABASE = ".sqlassets/warehouse.duckdb"


@pytest.fixture
def held(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A project whose DuckDB file this test process holds open (locks are per process)."""
    write_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.sqlassets]\nsql_dir = "sql"\n',
            "sql/marts/one.sql": "-- @materialized: table\nSELECT 1 AS n\n",
        },
    )
    (tmp_path / ".sqlassets").mkdir()
    connection = duckdb.connect(str(tmp_path / DATABASE))
    try:
        yield connection
    finally:
        connection.close()


def _start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(SCRIPT), *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DAGSTER_HOME": ""},
    )


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_held_file_is_refused_before_any_work(
    tmp_path: Path, held: duckdb.DuckDBPyConnection, command: str
) -> None:
    process = _start(tmp_path, command)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr.decode()
    assert stdout == b""
    assert stderr.decode().splitlines() == [
        f"error: another process holds {DATABASE} (pid {os.getpid()}): run again when it has "
        "finished, or wait for it with --wait-for-lock SECONDS"
    ]


def test_wait_for_lock_gives_up_after_the_timeout(
    tmp_path: Path, held: duckdb.DuckDBPyConnection
) -> None:
    process = _start(tmp_path, "run", "--wait-for-lock", "0.5")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.decode().splitlines()[-1] == (
        f"error: another process holds {DATABASE} (pid {os.getpid()}) after waiting 0.5s "
        "(--wait-for-lock)"
    )


@pytest.mark.slow
def test_wait_for_lock_runs_once_the_holder_lets_go(
    tmp_path: Path, held: duckdb.DuckDBPyConnection
) -> None:
    process = _start(tmp_path, "run", "--wait-for-lock", "60")
    assert process.stderr is not None
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + 60
    while not any(line.startswith(b"waiting up to 60s: another process holds") for line in lines):
        assert process.poll() is None and time.monotonic() < deadline, lines
        time.sleep(0.05)  # polling for the process to start waiting
    held.close()
    assert process.wait(timeout=60) == 0, b"".join(lines).decode()
    reader.join(timeout=5)
    assert b"1 of 1 model(s) materialized" in b"".join(lines)
    with duckdb.connect(str(tmp_path / DATABASE)) as connection:
        assert connection.execute("SELECT n FROM marts.one").fetchall() == [(1,)]

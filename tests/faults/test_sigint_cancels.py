"""SIGINT to `sqlassets run` cancels the BigQuery job it started (on the emulator)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.harness import Emulator, ensure_venv, start_emulator
from tests.helpers import write_project

# Starts the BigQuery emulator (its own venv): excluded from `make test-fast`.
pytestmark = pytest.mark.emulator

PROJECT_ID = "sigint-project"
# Long enough on the emulator to still be running when the signal arrives.
LONG = (
    "SELECT COUNT(*) AS n FROM UNNEST(GENERATE_ARRAY(1, 60000)) AS a\n"
    "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 60000)) AS b WHERE MOD(a * b, 7) = 3"
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    ensure_venv()
    with start_emulator(project=PROJECT_ID) as running:
        yield running


def test_sigint_cancels_the_running_job(emulator: Emulator, tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "sql/marts/slow.sql": f"-- @materialized: table\n{LONG}\n",
            "pyproject.toml": (
                '[tool.sqlassets.targets.emu]\nengine = "bigquery"\n'
                f'project = "{PROJECT_ID}"\napi_endpoint = "{emulator.endpoint}"\n'
            ),
        },
    )
    client = emulator.client()
    script = Path(sys.executable).parent / "sqlassets"
    process = subprocess.Popen(
        [str(script), "run", "--target", "emu", "--project-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DAGSTER_HOME": ""},
    )
    running = None
    deadline = time.monotonic() + 90
    while running is None and time.monotonic() < deadline and process.poll() is None:
        running = next(
            (
                job
                for job in client.list_jobs(state_filter="running")
                if job.job_id.startswith("sqlassets_marts_slow_replace")
            ),
            None,
        )
        time.sleep(0.2)  # polling for the job to appear, not timing a result
    assert running is not None, process.communicate(timeout=5)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    # jobs.cancel returns at once; the job stops shortly after.
    job = client.get_job(running.job_id)
    deadline = time.monotonic() + 20
    while job.state != "DONE" and time.monotonic() < deadline:
        time.sleep(0.2)  # polling for the cancellation to land
        job = client.get_job(running.job_id)
    assert job.state == "DONE", stderr.decode()[-3000:]
    assert job.error_result and job.error_result["reason"] == "stopped"

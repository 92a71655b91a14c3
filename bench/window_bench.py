"""A huge single-run window costs little more than its statement (reliability issue, item 7).

    uv run python bench/window_bench.py [--years 2]

An hourly ``insert_overwrite`` model under ``single_run`` is materialized over
a 2-year window (17,544 partitions) by ``sqlassets run`` in a fresh process,
timed from outside (interpreter start, imports, load, Dagster, DuckDB). Next
to it: the same model's jobs run by the runner alone (the statements' time)
and ``sqlassets run`` over one hour (the fixed cost of a run). The per-partition
figure is (huge window - one hour) / partitions. Target: end to end <= 10 s.

Each partition once cost ~12 ms of Dagster event-log writes in the CLI's
ephemeral instance (a 2-year window: 217 s), then ~0.4 ms building one asset
event per partition and listing and parsing every key of the range. Now the
ephemeral instance defers asset events and a range is one window
(``sqlassets.dagster.ranges``): what is left per partition is a few µs. On a
shared machine compare the CPU figures: wall time there is mostly waiting.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlassets.engines import open_engine
from sqlassets.engines.base import JobContext
from sqlassets.project import load_project
from sqlassets.runner import resolve_window, run_model

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
MODEL = """-- @materialized: insert_overwrite
-- @partition_by: TIMESTAMP_TRUNC(ts, HOUR)
-- @partitions: hourly
-- @start: 2020-01-01 00:00
SELECT ts, 1 AS n
FROM UNNEST(GENERATE_TIMESTAMP_ARRAY(@start_ts, TIMESTAMP_SUB(@end_ts, INTERVAL 1 HOUR),
  INTERVAL 1 HOUR)) AS ts
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cli(root: Path, start: str, end: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``sqlassets run`` (CPU: what a loaded machine hides)."""
    script = Path(sys.executable).parent / "sqlassets"
    cpu = _cpu()
    started = time.perf_counter()
    subprocess.run(
        [str(script), "run", "--project-dir", str(root), "--start", start, "--end", end],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": ""},
    )
    return time.perf_counter() - started, _cpu() - cpu


def main() -> int:
    """Run the benchmark; exit 1 when the huge window takes more than 10 s end to end."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=2)
    args = parser.parse_args()
    start, end = "2022-01-01 00:00", f"{2022 + args.years}-01-01 00:00"
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "pyproject.toml").write_text(PYPROJECT)
        (root / "sql" / "m").mkdir(parents=True)
        (root / "sql" / "m" / "hourly.sql").write_text(MODEL)
        one_hour, one_hour_cpu = _cli(root, "2021-06-01 00:00", "2021-06-01 01:00")
        huge, huge_cpu = _cli(root, start, end)
        project = load_project(root).raise_for_errors()
        model = project.models["m.hourly"]
        window = resolve_window(model, start=start, end=end)
        engine = open_engine(project.config)
        started = time.perf_counter()
        run_model(project, model, engine, window, JobContext("m.hourly", window=window.label()))
        statements = time.perf_counter() - started
        engine.close()
    partitions = len(window.keys)
    per_partition_ms = (huge - one_hour) / partitions * 1000
    per_partition_cpu_ms = (huge_cpu - one_hour_cpu) / partitions * 1000
    verdict = "PASS" if huge <= 10 else "FAIL"
    print(f"{args.years}-year hourly window: {partitions:,} partitions, one single-run job")
    print(f"sqlassets run, whole window     {huge:7.2f} s   target <= 10 s: {verdict}")
    print(f"  its CPU time                  {huge_cpu:7.2f} s   (less sensitive to load)")
    print(f"the runner's jobs alone         {statements:7.2f} s   (the statements' time)")
    print(f"sqlassets run, one hour         {one_hour:7.2f} s   (a run's fixed cost)")
    print(f"  its CPU time                  {one_hour_cpu:7.2f} s")
    print(f"per partition                   {per_partition_ms:7.3f} ms")
    print(f"  in CPU time                   {per_partition_cpu_ms:7.3f} ms")
    return 0 if huge <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())

"""`sqlassets run` of a layered DAG on a time-delayed BigQuery API stand-in: are jobs concurrent?

    uv run python bench/bigquery_dag_bench.py [--layers 4] [--width 15] [--job-seconds 2]

Generates LAYERS x WIDTH tiny `table` models (each model of layer k reads one
or two of layer k-1, `generate.py`), starts the stand-in of the BigQuery REST
API on 127.0.0.1 (`tests/fakes/bigquery_server.py`: every job runs for
JOB_SECONDS of wall-clock time from its insert, any number at once), and runs
the real CLI, `sqlassets run --target standin`, as a subprocess with
`max_concurrent_jobs` set on the target. From the stand-in's timeline it
prints:

- jobs' makespan: the first job's insert to the last job's end;
- critical path: the longest chain of jobs reading what an earlier one wrote
  (the jobs' own dependencies, in job seconds; LAYERS x JOB_SECONDS here), the
  least makespan any scheduler could reach;
- makespan / critical path, target <= 1.2x;
- the peak number of jobs in flight, target >= min(WIDTH, max_concurrent_jobs)
  (15 by default);
- the floor, measured in the same run on a fresh stand-in: the same
  statements sent by the official client from WIDTH threads, layer after
  layer (what a perfect layer-by-layer scheduler reaches: the instrument's
  own overhead; skip with --no-floor).

Exit codes: 0 both targets met, 1 a target failed, 2 the run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlglot
from sqlglot import expressions as exp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from generate import generate_layered_project  # noqa: E402
from tests.fakes.bigquery_server import (  # noqa: E402
    DEFAULT_PROJECT,
    Timeline,
    run_on_standin,
    standin,
    target_toml,
)

MAX_RATIO = 1.2


def layer_statements(folder: Path, layers: int) -> list[list[str]]:
    """``CREATE OR REPLACE TABLE`` of each generated model, by layer (what the run sends)."""
    statements: list[list[str]] = []
    for layer in range(layers):
        found = []
        for path in sorted((folder / "sql" / f"l{layer}").glob("*.sql")):
            query = sqlglot.parse_one(path.read_text(), read="bigquery")
            table = exp.to_table(f"{DEFAULT_PROJECT}.l{layer}.{path.stem}", dialect="bigquery")
            create = exp.Create(this=table, kind="TABLE", replace=True, expression=query)
            found.append(create.sql("bigquery"))
        statements.append(found)
    return statements


def floor_run(statements: list[list[str]], job_seconds: float) -> Timeline:
    """The statements sent from one thread each, layer after layer, with the official client."""
    with standin(job_seconds) as server:
        # One client per thread (one shared client's connection pool holds 10), made
        # before the first job so that making them is not counted.
        clients = [server.client() for _ in range(max(map(len, statements), default=0))]
        for layer, sqls in enumerate(statements):
            with ThreadPoolExecutor(max_workers=len(sqls)) as pool:
                waits = [
                    pool.submit(
                        lambda client, sql, job: client.query(
                            sql, job_id=job, job_retry=None
                        ).result(),
                        client,
                        sql,
                        f"floor_l{layer}_{index}",
                    )
                    for index, (client, sql) in enumerate(zip(clients, sqls, strict=False))
                ]
                for wait in waits:
                    wait.result()
        return server.timeline()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=15)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    parser.add_argument("--max-concurrent-jobs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor run")
    args = parser.parse_args()

    models = args.layers * args.width
    print(
        f"{models} table models ({args.layers} layers of {args.width}), "
        f"{args.job_seconds:g} s jobs, max_concurrent_jobs = {args.max_concurrent_jobs}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    folder = Path(tempfile.mkdtemp(prefix="bigquery-dag-bench-"))
    generate_layered_project(
        folder,
        args.layers,
        args.width,
        args.seed,
        pyproject=target_toml(max_concurrent_jobs=args.max_concurrent_jobs),
    )
    floor = (
        None
        if args.no_floor
        else floor_run(layer_statements(folder, args.layers), args.job_seconds)
    )
    started = time.perf_counter()
    run = run_on_standin(folder, job_seconds=args.job_seconds)
    print(f"sqlassets run: exit {run.returncode} after {time.perf_counter() - started:.1f} s")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"project kept in {folder}")
    timeline = run.timeline.writing()
    if run.returncode != 0 or len(timeline.jobs) != models or run.timeline.unhandled:
        print(run.stdout[-4000:])
        print(run.stderr[-4000:])
        print(f"table jobs: {len(timeline.jobs)} of {models}")
        print(f"requests the stand-in has no route for: {list(run.timeline.unhandled)}")
        return 2

    makespan = timeline.makespan()
    critical = timeline.critical_path()
    expected = args.layers * args.job_seconds
    ratio = makespan / critical
    peak = timeline.peak_in_flight()
    want_peak = min(args.width, args.max_concurrent_jobs)
    first = min(job.inserted_at for job in timeline.jobs)
    rows = [
        ("total wall time (process start to exit)", f"{run.wall_s:.1f} s"),
        ("  before the first job (imports, definitions)", f"{first:.1f} s"),
        ("table jobs", f"{len(timeline.jobs)} (all jobs: {len(run.timeline.jobs)})"),
        ("jobs' makespan (first insert to last end)", f"{makespan:.1f} s"),
        (
            "critical path (jobs' own dependencies)",
            f"{critical:.1f} s (layers x job: {expected:g} s)",
        ),
        ("sum of job durations", f"{sum(job.seconds for job in timeline.jobs):.1f} s"),
        ("makespan / critical path", f"{ratio:.2f}x"),
        ("peak jobs in flight", str(peak)),
        ("cancelled jobs", str(len(run.timeline.cancelled))),
    ]
    if floor is not None:
        floor_ratio = floor.makespan() / floor.critical_path()
        rows.append(
            (
                "floor: the same jobs from threads, layer by layer",
                f"{floor.makespan():.1f} s makespan = {floor_ratio:.2f}x its critical path "
                f"({floor.critical_path():.1f} s), peak {floor.peak_in_flight()}",
            )
        )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print()
    ratio_ok = ratio <= MAX_RATIO
    peak_ok = peak >= want_peak
    print(
        f"{'PASS' if ratio_ok else 'FAIL'}: jobs' makespan <= {MAX_RATIO}x the critical path: "
        f"{makespan:.1f} s / {critical:.1f} s = {ratio:.2f}x"
    )
    print(f"{'PASS' if peak_ok else 'FAIL'}: >= {want_peak} jobs in flight at the peak: {peak}")
    return 0 if ratio_ok and peak_ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""`sqlassets run` of a generated DAG on DuckDB against the bare Dagster floor and dbt-duckdb.

    uv run python bench/run_bench.py [--models 200] [--repeat 3] [--no-dbt]

All three execute the same DAG of tiny `table` models in one process each:
- sqlassets: `run_project` (definitions, Dagster in-process run, DuckDB jobs);
- floor: the same graph as no-op Dagster assets, `dagster.materialize` in process;
- dbt: `dbt run --threads 1` with dbt-duckdb, installed into its own venv
  (bench/.dbt-venv) when the registry can provide it.
Each measurement runs in a fresh interpreter and is timed from outside, so
interpreter start and imports count equally for all three.
Also: definitions of a generated 5,000-file project in a fresh process, cold and
warm, against their floors (``definitions_bench.py``, one round).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DBT_VENV = BENCH / ".dbt-venv"


def dag(n: int, seed: int = 0) -> list[list[int]]:
    """Upstream indices of each model: 1-2 earlier models (none for the first 10)."""
    rng = random.Random(seed)
    return [
        [] if i < 10 else sorted(set(rng.sample(range(i), rng.randint(1, 2)))) for i in range(n)
    ]


def _body(i: int, parents: list[int], ref: callable) -> str:
    if not parents:
        return f"SELECT n AS id, n * {i + 1} AS value FROM UNNEST(GENERATE_ARRAY(1, 20)) AS n"
    first, *rest = parents
    select = f"SELECT a.id, a.value + {i} AS value FROM {ref(first)} AS a"
    for k, other in enumerate(rest):
        select += f" JOIN {ref(other)} AS b{k} USING (id)"
    return select


def write_sqlassets(root: Path, parents: list[list[int]]) -> None:
    (root / "sql" / "bench").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
    )
    for i, ups in enumerate(parents):
        body = _body(i, ups, lambda j: f"bench.m{j:04d}")
        (root / "sql" / "bench" / f"m{i:04d}.sql").write_text(f"-- @materialized: table\n{body}\n")


def write_dbt(root: Path, parents: list[list[int]]) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0'\nprofile: bench\nmodel-paths: [models]\n"
        "models:\n  bench:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(
        f"bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'dbt.duckdb'}\n      threads: 1\n"
    )
    for i, ups in enumerate(parents):
        if ups:
            body = _body(i, ups, lambda j: "{{ ref('m" + f"{j:04d}" + "') }}")
        else:
            body = f"SELECT n AS id, n * {i + 1} AS value FROM range(1, 21) AS t(n)"
        (root / "models" / f"m{i:04d}.sql").write_text(body + "\n")


def time_sqlassets(parents: list[list[int]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_sqlassets(root, parents)
        started = time.perf_counter()
        from sqlassets.dagster.run import run_project
        from sqlassets.project import load_project

        project = load_project(root, lineage=True).raise_for_errors()
        outcomes = run_project(project, set(project.models))
        elapsed = time.perf_counter() - started
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise SystemExit(f"sqlassets run failed: {failed[0]}")
        return elapsed


def time_floor(parents: list[list[int]]) -> float:
    started = time.perf_counter()
    import dagster as dg

    assets = []
    for i, ups in enumerate(parents):

        def noop() -> None:
            return None

        assets.append(dg.asset(name=f"m{i:04d}", deps=[f"m{j:04d}" for j in ups])(noop))
    result = dg.materialize(
        assets,
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )
    assert result.success
    return time.perf_counter() - started


def ensure_dbt() -> Path | None:
    dbt = DBT_VENV / "bin" / "dbt"
    if dbt.exists():
        return dbt
    try:
        subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(DBT_VENV)], check=True)
        subprocess.run(
            # dbt-core 1.12 downloads a parser binary at install time: not possible offline.
            [
                "uv",
                "pip",
                "install",
                "-q",
                "--python",
                str(DBT_VENV / "bin" / "python"),
                "dbt-duckdb",
                "dbt-core>=1.11,<1.12",
            ],
            check=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as error:
        print(f"dbt-duckdb not installable here: {error}", file=sys.stderr)
        return None
    return dbt if dbt.exists() else None


def time_dbt(dbt: Path, parents: list[list[int]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dbt(root, parents)
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(dbt),
                "run",
                "--threads",
                "1",
                "--project-dir",
                str(root),
                "--profiles-dir",
                str(root),
            ],
            capture_output=True,
            text=True,
            cwd=root,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"dbt run failed:\n{done.stdout[-2000:]}")
        return elapsed


def definitions_load(n: int) -> bool:
    """Definitions of ``n`` generated files, cold and warm against their floors (one round)."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "definitions_bench.py"), "--models", str(n), "--repeat", "1"]
    )
    return done.returncode == 0


def _fresh(kind: str, models: int) -> float:
    """Run one measurement in a fresh interpreter: imports count the same for every tool."""
    script = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); import run_bench as b; "
        f"print(b.time_{kind}(b.dag({models})))"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dbt", action="store_true")
    parser.add_argument("--definitions", type=int, default=5000, help="0 to skip")
    args = parser.parse_args()
    parents = dag(args.models)
    rows = {}
    dbt = None if args.no_dbt else ensure_dbt()
    rows["sqlassets run"], rows["dagster no-op floor"] = [], []
    if dbt is not None:
        rows["dbt-duckdb run"] = []
    # Interleaved, so that a slow spell of a shared machine hits every tool alike.
    for _ in range(args.repeat):
        rows["sqlassets run"].append(_fresh("sqlassets", args.models))
        rows["dagster no-op floor"].append(_fresh("floor", args.models))
        if dbt is not None:
            rows["dbt-duckdb run"].append(time_dbt(dbt, parents))
    print(f"\n{args.models}-model DAG, median of {args.repeat}:")
    medians = {name: statistics.median(values) for name, values in rows.items()}
    for name, value in medians.items():
        print(f"  {name:<20} {value:6.2f} s   {value / args.models * 1000:6.1f} ms/model")
    ratios = [
        ours / floor
        for ours, floor in zip(rows["sqlassets run"], rows["dagster no-op floor"], strict=True)
    ]
    ratio = statistics.median(ratios)
    print(f"  run-by-run ratios    {', '.join(f'{r:.2f}' for r in ratios)}")
    print(
        f"  sqlassets / floor    {ratio:6.2f}x   "
        f"target <= 1.30x: {'PASS' if ratio <= 1.3 else 'FAIL'}"
    )
    if "dbt-duckdb run" in medians:
        faster = medians["sqlassets run"] < medians["dbt-duckdb run"]
        print(f"  faster than dbt run: {'PASS' if faster else 'FAIL'}")
    if args.definitions:
        print(f"\ndefinitions of {args.definitions} files (bench/definitions_bench.py):")
        definitions_load(args.definitions)
    print(json.dumps({name: [round(v, 3) for v in values] for name, values in rows.items()}))


if __name__ == "__main__":
    main()

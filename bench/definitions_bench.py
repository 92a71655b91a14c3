"""Definitions of a generated project in a fresh process, cold and warm, against their floors.

    uv run python bench/definitions_bench.py [--models 5000] [--repeat 3] [--keep DIR]

Each figure is the wall time of a fresh interpreter, started by this one, until
its definitions are ready (``os._exit`` then skips the teardown of thousands of
objects, which is not part of loading; every process below does the same):

- cold: ``sqlassets.build_definitions`` with an empty analysis cache (it fills it);
- warm: the same with the cache filled and the files unchanged;
- floor: Dagster's own cost for the same definitions' assets, built directly
  from a JSON manifest (no parsing): one ``multi_asset`` per model with the
  same key, deps, group, partitions definition, backfill policy and checks
  (no-op body, no metadata or schedules), plus the external sources' specs;
- parse: a bare sqlglot parse of the same files (``sqlglot.parse(text,
  read="bigquery")``, one process, trees dropped).

Targets: warm <= 1.3x floor; cold <= 1.3x (parse + floor). Runs alternate
(cold, warm, floor, parse) ``--repeat`` times after one untimed warm-up of each,
so a slow spell of a shared machine hits all alike; each ratio is taken within
one round and the median of the rounds is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from generate import generate_project

TARGET = 1.3

SQLASSETS = """\
import os, sys, time
started = time.perf_counter()
import sqlassets
definitions = sqlassets.build_definitions(sys.argv[1])
assets = len(definitions.get_repository_def().assets_defs_by_key)
print(assets, time.perf_counter() - started, flush=True)
os._exit(0)
"""

FLOOR = """\
import json, os, sys, time
started = time.perf_counter()
import dagster as dg
manifest = json.loads(open(sys.argv[1]).read())
partitions = {}
def partitions_def(described):
    if described is None:
        return None
    key = json.dumps(described, sort_keys=True)
    if key not in partitions:
        if "keys" in described:
            partitions[key] = dg.StaticPartitionsDefinition(described["keys"])
        else:
            partitions[key] = dg.TimeWindowPartitionsDefinition(**described)
    return partitions[key]
def noop(context):
    return None
assets = []
for model in manifest["models"]:
    key = dg.AssetKey(model["key"])
    spec = dg.AssetSpec(
        key=key,
        deps=[dg.AssetKey(dep) for dep in model["deps"]],
        group_name=model["group"],
        partitions_def=partitions_def(model["partitions"]),
    )
    checks = [
        dg.AssetCheckSpec(name=name, asset=key, blocking=blocking)
        for name, blocking in model["checks"]
    ]
    policy = model["backfill"]
    assets.append(
        dg.multi_asset(
            name="__".join(model["key"]),
            specs=[spec],
            check_specs=checks,
            partitions_def=spec.partitions_def,
            backfill_policy=(
                None if policy is None
                else dg.BackfillPolicy.single_run() if policy == 0
                else dg.BackfillPolicy.multi_run(max_partitions_per_run=policy)
            ),
            can_subset=False,
        )(noop)
    )
for source in manifest["sources"]:
    assets.append(dg.AssetSpec(key=dg.AssetKey(source), group_name="external_sources"))
count = len(dg.Definitions(assets=assets).get_repository_def().assets_defs_by_key)
print(count, time.perf_counter() - started, flush=True)
os._exit(0)
"""

PARSE = """\
import os, sys, time
started = time.perf_counter()
from pathlib import Path
import sqlglot
count = 0
for path in sorted(Path(sys.argv[1]).rglob("*.sql")):
    sqlglot.parse(path.read_text(), read="bigquery")
    count += 1
print(count, time.perf_counter() - started, flush=True)
os._exit(0)
"""


def manifest(root: Path) -> dict[str, Any]:
    """What the floor builds: each model's key, deps, group, partitions, backfill and checks."""
    from sqlassets.dagster.translator import SqlAssetsTranslator
    from sqlassets.project import load_project
    from sqlassets.spec import StaticPartitions, TimePartitions

    os.environ["SQLASSETS_NO_CACHE"] = "1"  # the timed cold runs start from an empty cache
    try:
        project = load_project(root).raise_for_errors()
    finally:
        del os.environ["SQLASSETS_NO_CACHE"]
    translator = SqlAssetsTranslator()
    keys = {name: translator.get_asset_key(model) for name, model in project.models.items()}
    models = []
    for name in project.graph.order:
        model = project.models[name]
        deps = [list(keys[parent].path) for parent in project.graph.upstream[name]]
        deps += [list(translator.get_source_key(ref).path) for ref in project.graph.external[name]]
        partitions: dict[str, Any] | None = None
        if isinstance(model.spec.partitions, StaticPartitions):
            partitions = {"keys": list(model.spec.partitions.keys)}
        elif isinstance(model.spec.partitions, TimePartitions):
            described = translator.get_partitions_def(model)
            partitions = {
                "cron_schedule": described.cron_schedule,
                "start": described.start.strftime(described.fmt),
                "end": described.end.strftime(described.fmt) if described.end else None,
                "fmt": described.fmt,
                "timezone": "UTC",
            }
        policy = translator.get_backfill_policy(model)
        models.append(
            {
                "key": list(keys[name].path),
                "deps": deps,
                "group": translator.get_group_name(model),
                "partitions": partitions,
                "backfill": None if policy is None else (policy.max_partitions_per_run or 0),
                "checks": [[check.name, check.blocking] for check in model.spec.checks],
            }
        )
    sources = [list(translator.get_source_key(ref).path) for ref in project.graph.sources]
    return {"models": models, "sources": sources}


def timed(script: str, argument: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds of a fresh interpreter running ``script``, and the count it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(argument)], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"a measured process failed:\n{done.stderr[-3000:]}")
    return wall, int(done.stdout.split()[0])


def verdict(ratio: float) -> str:
    return "PASS" if ratio <= TARGET else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate the project here and keep it")
    args = parser.parse_args()

    temporary = None if args.keep else tempfile.mkdtemp(prefix="sqlassets-definitions-")
    root = args.keep or Path(temporary or ".")
    try:
        if not (root / "sql").is_dir():
            generate_project(root, args.models)
        cache = root / ".sqlassets-bench-cache"
        env = {**os.environ, "SQLASSETS_CACHE_DIR": str(cache)}
        env.pop("SQLASSETS_NO_CACHE", None)
        manifest_path = root / "floor-manifest.json"
        manifest_path.write_text(json.dumps(manifest(root)))

        def cold() -> tuple[float, int]:
            shutil.rmtree(cache, ignore_errors=True)
            return timed(SQLASSETS, root, env)

        runs: dict[str, list[float]] = {"cold": [], "warm": [], "floor": [], "parse": []}
        measures = {
            "cold": cold,
            "warm": lambda: timed(SQLASSETS, root, env),
            "floor": lambda: timed(FLOOR, manifest_path, env),
            "parse": lambda: timed(PARSE, root / "sql", env),
        }
        counts = {name: measure()[1] for name, measure in measures.items()}  # warm-up
        print(
            f"{args.models} files; assets: sqlassets {counts['warm']}, floor {counts['floor']}; "
            f"load average {os.getloadavg()[0]:.2f}; PYTHONDONTWRITEBYTECODE="
            f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')}"
        )
        if counts["warm"] != counts["floor"]:
            print("the floor does not build the same number of assets", file=sys.stderr)
            return 2
        for round_ in range(args.repeat):
            for name, measure in measures.items():
                runs[name].append(measure()[0])
            print(
                f"  round {round_ + 1}: "
                + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in runs.items())
            )
        warm_ratios = [w / f for w, f in zip(runs["warm"], runs["floor"], strict=True)]
        cold_ratios = [
            c / (p + f) for c, p, f in zip(runs["cold"], runs["parse"], runs["floor"], strict=True)
        ]
        median = {name: statistics.median(values) for name, values in runs.items()}
        warm_ratio = statistics.median(warm_ratios)
        cold_ratio = statistics.median(cold_ratios)
        print(f"\nmedians of {args.repeat}:")
        print(
            f"  warm {median['warm']:6.2f} s   floor {median['floor']:6.2f} s   "
            f"warm / floor {warm_ratio:.2f}x (rounds: "
            f"{', '.join(f'{r:.2f}' for r in warm_ratios)})   target <= {TARGET}x: "
            f"{verdict(warm_ratio)}"
        )
        print(
            f"  cold {median['cold']:6.2f} s   parse + floor {median['parse'] + median['floor']:6.2f}"
            f" s (parse {median['parse']:.2f} s)   cold / (parse + floor) {cold_ratio:.2f}x "
            f"(rounds: {', '.join(f'{r:.2f}' for r in cold_ratios)})   target <= {TARGET}x: "
            f"{verdict(cold_ratio)}"
        )
        print(json.dumps({name: [round(v, 3) for v in values] for name, values in runs.items()}))
        return 0 if warm_ratio <= TARGET and cold_ratio <= TARGET else 1
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

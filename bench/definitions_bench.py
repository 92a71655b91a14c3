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

For information: the full floor (Dagster alone building the same definitions
whole: metadata, code versions, schedules, resources) and the sped-up floor
(the floor given the speed-ups sqlassets' definitions give Dagster's own
work: ``sqlassets.dagster.type_resolution`` installed, the building and
resolving inside ``sqlassets.bulk.bulk_gc``; what remains between it and warm
is sqlassets' own cost).

Targets: warm <= 1.3x floor; cold <= 1.3x (parse + floor). Runs alternate
(cold, warm, floor, parse, full floor, sped-up floor) ``--repeat`` times after
one untimed warm-up of each,
so a slow spell of a shared machine hits all alike; each ratio is taken within
one round and the median of the rounds is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

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

_FLOOR_HELPERS = """\
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
def policy(value):
    if value is None:
        return None
    if value == 0:
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=value)
"""
"""What both floors build their partitions and backfill policies with (from the manifest)."""

FLOOR = (
    """\
import json, os, sys, time
started = time.perf_counter()
import dagster as dg
manifest = json.loads(open(sys.argv[1]).read())
"""
    + _FLOOR_HELPERS
    + """def noop(context):
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
        for name, blocking, _ in model["checks"]
    ]
    assets.append(
        dg.multi_asset(
            name="__".join(model["key"]),
            specs=[spec],
            check_specs=checks,
            partitions_def=spec.partitions_def,
            backfill_policy=policy(model["backfill"]),
            can_subset=False,
        )(noop)
    )
for source in manifest["sources"]:
    assets.append(dg.AssetSpec(key=dg.AssetKey(source["key"]), group_name="external_sources"))
count = len(dg.Definitions(assets=assets).get_repository_def().assets_defs_by_key)
print(count, time.perf_counter() - started, flush=True)
os._exit(0)
"""
)

_LOAD_BY_PATH = """\
import importlib.util
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
load("type_resolution", sys.argv[2]).install()
block = load("bulk", sys.argv[3]).bulk_gc()
block.__enter__()
"""
SPED_UP_FLOOR = FLOOR.replace(
    "import dagster as dg\n", "import dagster as dg\n" + _LOAD_BY_PATH, 1
).replace("print(count,", "block.__exit__(None, None, None)\nprint(count,", 1)
"""The floor given sqlassets' speed-ups of Dagster's own work, each module loaded from its
file alone: ``type_resolution`` installed, and the building and resolving inside
``bulk_gc`` (information only: what is left of sqlassets' own cost)."""
SPEED_UPS = [
    Path(__file__).resolve().parents[1] / "src/sqlassets/dagster/type_resolution.py",
    Path(__file__).resolve().parents[1] / "src/sqlassets/bulk.py",
]

FULL_FLOOR = (
    """\
import json, os, sys, time
from datetime import UTC, datetime
started = time.perf_counter()
import dagster as dg
manifest = json.loads(open(sys.argv[1]).read())
class Warehouse(dg.ConfigurableResource):
    database: str
    gcs_root: str
"""
    + _FLOOR_HELPERS
    + """def body():
    def materialize(context: dg.AssetExecutionContext, duckdb: Warehouse):
        yield dg.MaterializeResult()
    return materialize
assets = []
partitions_of = {}
for model in manifest["models"]:
    key = dg.AssetKey(model["key"])
    metadata = dict(model["metadata"])
    metadata["sqlassets/path"] = dg.MetadataValue.path(model["path"])
    for name, text in model["markdown"].items():
        metadata[name] = dg.MetadataValue.md(text)
    if model["columns"]:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name=column, type="unknown") for column in model["columns"]]
        )
    if model["lineage"]:
        metadata["dagster/column_lineage"] = dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(asset_key=dg.AssetKey(dep), column_name=name)
                    for dep, name in deps
                ]
                for column, deps in model["lineage"].items()
            }
        )
    spec = dg.AssetSpec(
        key=key,
        deps=[dg.AssetKey(dep) for dep in model["deps"]],
        description=model["description"],
        metadata=metadata,
        group_name=model["group"],
        code_version=model["code_version"],
        owners=model["owners"],
        tags=model["tags"],
        kinds=set(model["kinds"]),
        partitions_def=partitions_def(model["partitions"]),
    )
    partitions_of[tuple(model["key"])] = spec.partitions_def
    checks = [
        dg.AssetCheckSpec(name=name, asset=key, blocking=blocking, description=description)
        for name, blocking, description in model["checks"]
    ]
    assets.append(
        dg.multi_asset(
            name="__".join(model["key"]),
            specs=[spec],
            check_specs=checks,
            partitions_def=spec.partitions_def,
            backfill_policy=policy(model["backfill"]),
            pool=model["pool"],
            can_subset=False,
        )(body())
    )
for source in manifest["sources"]:
    assets.append(
        dg.AssetSpec(
            key=dg.AssetKey(source["key"]),
            description=source["description"],
            group_name="external_sources",
            kinds={"duckdb"},
        )
    )
def latest(name, cron, job, partitions):
    @dg.schedule(name=name, cron_schedule=cron, job=job, execution_timezone="UTC")
    def latest_partition(context):
        keys = partitions.get_partition_keys(current_time=datetime.now(UTC))
        return dg.RunRequest(run_key=keys[-1], partition_key=keys[-1]) if keys else None
    return latest_partition
schedules = []
for schedule in manifest["schedules"]:
    name = schedule["name"].removesuffix("__schedule")
    job = dg.define_asset_job(
        f"{name}__job", selection=dg.AssetSelection.assets(dg.AssetKey(schedule["key"]))
    )
    if schedule["partitioned"]:
        partitions = partitions_of[tuple(schedule["key"])]
        schedules.append(latest(schedule["name"], schedule["cron"], job, partitions))
    else:
        schedules.append(
            dg.ScheduleDefinition(
                name=schedule["name"], cron_schedule=schedule["cron"], job=job,
                execution_timezone="UTC",
            )
        )
resources = {name: Warehouse(**values) for name, values in manifest["resources"].items()}
definitions = dg.Definitions(
    assets=assets, schedules=schedules, resources=resources, executor=dg.in_process_executor
)
count = len(definitions.get_repository_def().assets_defs_by_key)
print(count, time.perf_counter() - started, flush=True)
os._exit(0)
"""
)

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
    """What the floors build, read off sqlassets' own definitions of the project.

    Built once in this process (with the cache off, so that the timed cold
    runs start from an empty one); the floors then build the same with Dagster.
    """
    import dagster as dg

    import sqlassets

    os.environ["SQLASSETS_NO_CACHE"] = "1"
    try:
        definitions = sqlassets.build_definitions(root)
    finally:
        del os.environ["SQLASSETS_NO_CACHE"]
    repository = definitions.get_repository_def()
    models, sources = [], []
    for key, assets_def in repository.assets_defs_by_key.items():
        spec = assets_def.get_asset_spec(key)
        if not assets_def.is_executable:
            sources.append({"key": list(spec.key.path), "description": spec.description})
            continue
        metadata = dict(spec.metadata)
        schema = metadata.pop("dagster/column_schema", None)
        lineage = metadata.pop("dagster/column_lineage", None)
        path = metadata.pop("sqlassets/path")
        markdown = {
            name: metadata.pop(name).value
            for name, value in list(metadata.items())
            if isinstance(value, dg.MarkdownMetadataValue)
        }
        models.append(
            {
                "key": list(spec.key.path),
                "deps": [list(dep.asset_key.path) for dep in spec.deps],
                "group": spec.group_name,
                "description": spec.description,
                "code_version": spec.code_version,
                "owners": list(spec.owners),
                "tags": {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")},
                "kinds": sorted(spec.kinds),
                "metadata": metadata,
                "path": path.value,
                "markdown": markdown,
                "columns": [column.name for column in schema.columns] if schema else None,
                "lineage": {
                    column: [[list(dep.asset_key.path), dep.column_name] for dep in deps]
                    for column, deps in lineage.deps_by_column.items()
                }
                if lineage
                else None,
                "partitions": _described(assets_def.partitions_def),
                "backfill": None
                if assets_def.backfill_policy is None
                else (assets_def.backfill_policy.max_partitions_per_run or 0),
                "pool": assets_def.op.pool,
                "checks": [
                    [check.name, check.blocking, check.description]
                    for check in assets_def.check_specs
                ],
            }
        )
    schedules = []
    for schedule in definitions.schedules or ():
        assert isinstance(schedule, dg.ScheduleDefinition)
        selection = getattr(schedule.job, "selection", None)
        if selection is None:
            continue  # the observation job's: an op job, not a model's
        (key,) = selection.resolve(repository.asset_graph)
        schedules.append(
            {
                "name": schedule.name,
                "cron": schedule.cron_schedule,
                "key": list(key.path),
                "partitioned": repository.assets_defs_by_key[key].partitions_def is not None,
            }
        )
    given = definitions.resources or {}
    resources = {name: dict(value.model_dump()) for name, value in given.items()}
    return {"models": models, "sources": sources, "schedules": schedules, "resources": resources}


def _described(partitions: Any) -> dict[str, Any] | None:
    """A partitions definition as the floors rebuild it."""
    import dagster as dg

    if partitions is None:
        return None
    if isinstance(partitions, dg.StaticPartitionsDefinition):
        return {"keys": partitions.get_partition_keys()}
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition)
    return {
        "cron_schedule": partitions.cron_schedule,
        "start": partitions.start.strftime(partitions.fmt),
        "end": partitions.end.strftime(partitions.fmt) if partitions.end else None,
        "fmt": partitions.fmt,
        "timezone": partitions.timezone,
    }


def timed(
    script: str, argument: Path, env: dict[str, str], *more: Path
) -> tuple[float, float, int]:
    """Wall and CPU seconds of a fresh interpreter running ``script`` (its workers included),
    and the asset count it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(argument), *map(str, more)],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"a measured process failed:\n{done.stderr[-3000:]}")
    return wall, cpu, int(done.stdout.split()[0])


def verdict(ratio: float) -> str:
    return "PASS" if ratio <= TARGET else "FAIL"


def _rounds(ratios: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in ratios)


def report(runs: dict[str, list[tuple[float, float]]], repeat: int) -> bool:
    """Print the medians, ratios and verdicts; whether both targets hold."""
    wall = {name: [w for w, _ in values] for name, values in runs.items()}
    cpu = {name: [c for _, c in values] for name, values in runs.items()}
    median = {name: statistics.median(values) for name, values in wall.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}

    def ratios(figure: str, *floors: str, of: dict[str, list[float]] = wall) -> list[float]:
        return [
            ours / sum(parts)
            for ours, *parts in zip(of[figure], *(of[f] for f in floors), strict=True)
        ]

    warm = ratios("warm", "floor")
    cold = ratios("cold", "parse", "floor")
    warm_ratio, cold_ratio = statistics.median(warm), statistics.median(cold)
    print(f"\nmedians of {repeat} (wall seconds, interpreter start and imports included):")
    print(
        f"  warm {median['warm']:6.2f} s  floor {median['floor']:6.2f} s  warm / floor "
        f"{warm_ratio:.2f}x (rounds {_rounds(warm)})  target <= {TARGET}x: {verdict(warm_ratio)}"
    )
    print(
        f"  cold {median['cold']:6.2f} s  parse + floor {median['parse'] + median['floor']:6.2f} s"
        f" (parse {median['parse']:.2f} s)  cold / (parse + floor) {cold_ratio:.2f}x "
        f"(rounds {_rounds(cold)})  target <= {TARGET}x: {verdict(cold_ratio)}"
    )
    full = ratios("warm", "full floor")
    print(
        f"  information: full floor (the same definitions built by Dagster alone: metadata, "
        f"code versions, schedules, resources too) {median['full floor']:.2f} s, "
        f"{median['full floor'] / median['floor']:.2f}x the floor; warm / full floor "
        f"{statistics.median(full):.2f}x"
    )
    sped_up = ratios("warm", "sped-up floor")
    print(
        f"  information: sped-up floor (the floor given sqlassets' speed-ups of Dagster's own "
        f"work: type_resolution installed, building and resolving inside bulk_gc) "
        f"{median['sped-up floor']:.2f} s, {median['sped-up floor'] / median['floor']:.2f}x the "
        f"floor; warm / sped-up floor {statistics.median(sped_up):.2f}x"
    )
    print(
        "  information, CPU seconds (this process tree only, less sensitive to other load): "
        + ", ".join(f"{name} {value:.2f}" for name, value in median_cpu.items())
        + f"; warm / floor {statistics.median(ratios('warm', 'floor', of=cpu)):.2f}x, "
        f"cold / (parse + floor) {statistics.median(ratios('cold', 'parse', 'floor', of=cpu)):.2f}x"
    )
    print(json.dumps({name: [round(v, 3) for v in values] for name, values in wall.items()}))
    return warm_ratio <= TARGET and cold_ratio <= TARGET


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
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

        def cold() -> tuple[float, float, int]:
            shutil.rmtree(cache, ignore_errors=True)
            return timed(SQLASSETS, root, env)

        measures = {
            "cold": cold,
            "warm": lambda: timed(SQLASSETS, root, env),
            "floor": lambda: timed(FLOOR, manifest_path, env),
            "parse": lambda: timed(PARSE, root / "sql", env),
            "full floor": lambda: timed(FULL_FLOOR, manifest_path, env),
            "sped-up floor": lambda: timed(SPED_UP_FLOOR, manifest_path, env, *SPEED_UPS),
        }
        counts = {name: measure()[2] for name, measure in measures.items()}  # warm-up
        print(
            f"{args.models} files; assets: sqlassets {counts['warm']}, floor {counts['floor']}, "
            f"full floor {counts['full floor']}; load average {os.getloadavg()[0]:.2f}; "
            f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')}"
        )
        if len({counts[name] for name in ("warm", "floor", "full floor", "sped-up floor")}) > 1:
            print("a floor does not build as many assets as sqlassets", file=sys.stderr)
            return 2
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in measures}
        for round_ in range(args.repeat):
            for name, measure in measures.items():
                runs[name].append(measure()[:2])
            print(
                f"  round {round_ + 1}: "
                + ", ".join(f"{name} {values[-1][0]:.2f} s" for name, values in runs.items())
                + f" (load average {os.getloadavg()[0]:.2f})"
            )
        return 0 if report(runs, args.repeat) else 1
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

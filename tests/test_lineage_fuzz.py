"""Whatever column lineage cannot trace degrades; it never fails a load (issue 11, item 3).

Every file of the dependency corpus, and every lint-clean file of a seeded
generator of alias-heavy queries (UNNEST aliases named like their column or
table, CTEs named like sources, stars through subqueries, wildcard tables),
builds Dagster definitions. Deterministic and a few seconds: it runs in
``make test`` and ``make test-fast``.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import dagster as dg
import sqlglot

import sqlassets
from sqlassets.lineage import column_sources
from sqlassets.lint import lint_project
from sqlassets.project import load_project

CORPUS_DIR = Path(__file__).parent / "fixtures" / "corpus"
SEEDS = range(3)
FILES_PER_SEED = 20

_TABLES = ["`p.ds.events`", "raw.events", "raw.orders", "`ga.events_*`", "ds.items"]
_NAMES = ["events", "items", "e", "x", "orders"]


def _query(rng: random.Random) -> str:
    """One query mixing the constructs sqlglot's scopes trip on."""
    table, name, other = rng.choice(_TABLES), rng.choice(_NAMES), rng.choice(_NAMES)
    alias = rng.choice(["", f" AS {other}"])
    qualifier = other if alias else ""
    column = f"{qualifier}.{name}" if qualifier else name
    body = rng.choice(
        [
            f"SELECT {name}.id, {column} AS c FROM {table}{alias} "
            f"CROSS JOIN UNNEST({column}) AS {name}",
            f"SELECT {name} FROM {table}{alias} CROSS JOIN UNNEST({column}) AS {name}",
            f"SELECT id, n FROM {table} CROSS JOIN UNNEST({name}) AS {name}",
            f"SELECT * FROM {table}{alias}, UNNEST({column}) AS {name} WITH OFFSET AS {other}",
            f"SELECT {other}.* FROM {table} AS {other} JOIN {table} AS {name} USING (id)",
            f"SELECT (SELECT MAX(v) FROM UNNEST({column}) AS v) AS m, {name} FROM {table}{alias}",
            f"SELECT id, SUM(n) OVER (PARTITION BY {name}) AS s FROM {table}{alias}",
        ]
    )
    wrapper = rng.choice(
        [
            "{q}",
            "SELECT * FROM ({q})",
            "WITH " + name + " AS ({q}) SELECT * FROM " + name,
            "WITH t AS ({q}) SELECT t.*, 1 AS one FROM t",
            "SELECT * EXCEPT (" + name + ") FROM ({q})",
        ]
    )
    return "-- @materialized: table\n" + wrapper.replace("{q}", body) + "\n"


def _build(root: Path) -> dg.RepositoryDefinition:
    return sqlassets.build_definitions(root).get_repository_def()


def test_the_reported_query_degrades_to_no_lineage_for_that_column() -> None:
    query = sqlglot.parse_one(
        "SELECT x, 1 AS one FROM `p.ds.events` CROSS JOIN UNNEST(events) AS events",
        read="bigquery",
    )
    # sqlglot raises `OptimizeError: Alias already used: events` tracing `x`.
    assert column_sources(query) == {"one": ()}


def test_every_corpus_file_builds_definitions(tmp_path: Path) -> None:
    folder = tmp_path / "sql" / "corpus"
    folder.mkdir(parents=True)
    files = sorted(CORPUS_DIR.glob("*.sql"))
    for path in files:
        shutil.copy(path, folder / f"t_{path.name}")
    project = load_project(tmp_path)
    assert project.errors == ()
    repo = _build(tmp_path)
    models = {key for key in repo.assets_defs_by_key if key.path[0] == "corpus"}
    assert len(models) == len(files)


def test_every_lint_clean_generated_file_builds_definitions(tmp_path: Path) -> None:
    folder = tmp_path / "sql" / "fuzz"
    folder.mkdir(parents=True)
    for seed in SEEDS:
        rng = random.Random(seed)
        for index in range(FILES_PER_SEED):
            (folder / f"q{seed}_{index:02}.sql").write_text(_query(rng), encoding="utf-8")
    project = load_project(tmp_path)
    findings = [*lint_project(project), *project.errors]
    unclean = {Path(d.location.path).name for d in findings if d.is_error}
    for name in unclean:
        (folder / name).unlink()
    kept = sorted(path.stem for path in folder.glob("*.sql"))
    assert len(kept) >= FILES_PER_SEED  # the generator keeps producing lint-clean files
    repo = _build(tmp_path)
    assert {key.path[1] for key in repo.assets_defs_by_key if key.path[0] == "fuzz"} == set(kept)

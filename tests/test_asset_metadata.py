"""What the Dagster UI shows of a model before and after a run: SQL, column types."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from sqlassets.dagster import definitions_for
from sqlassets.dagster.run import run_project
from sqlassets.project import load_project
from sqlassets.schemas import KnownSchemas
from tests.helpers import write_project

PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
FILES = {
    "pyproject.toml": PYPROJECT,
    "sql/src/numbers.sql": (
        "-- @materialized: table\n"
        "SELECT CAST(1 AS INT64) AS n, 'a' AS label,\n  DATE '2024-01-01' AS day"
    ),
}


def _schema(root: Path) -> dict[str, str]:
    project = load_project(root, lineage=True).raise_for_errors()
    repo = definitions_for(project).get_repository_def()
    spec = repo.assets_defs_by_key[dg.AssetKey(["src", "numbers"])].specs_by_key
    metadata = next(iter(spec.values())).metadata
    schema = metadata["dagster/column_schema"]
    return {column.name: column.type for column in schema.columns}


def test_column_types_are_unknown_until_a_run_records_them(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    assert _schema(root) == {"n": "unknown", "label": "unknown", "day": "unknown"}
    project = load_project(root).raise_for_errors()
    outcomes = run_project(project, {"src.numbers"})
    assert [outcome.status for outcome in outcomes] == ["materialized"]
    # Definitions built afterwards (a new code location, the cache filled) know the types.
    assert _schema(root) == {"n": "BIGINT", "label": "VARCHAR", "day": "DATE"}


def test_a_corrupt_record_is_ignored(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    project = load_project(root).raise_for_errors()
    store = KnownSchemas.for_project(project.config, "duckdb")
    store.put("src.numbers", [("n", "BIGINT")])
    assert store.get("src.numbers") == {"n": "BIGINT"}
    assert store.directory is not None
    (store.directory / "src.numbers.json").write_text("{not json")
    assert store.get("src.numbers") == {}
    assert _schema(root)["n"] == "unknown"


def test_no_cache_means_no_records(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SQLASSETS_NO_CACHE", "1")
    root = write_project(tmp_path, FILES)
    project = load_project(root).raise_for_errors()
    run_project(project, {"src.numbers"})
    assert not (root / ".sqlassets").exists()
    assert _schema(root)["n"] == "unknown"


def test_the_model_sql_is_shown_as_a_code_block(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    project = load_project(root, lineage=True).raise_for_errors()
    repo = definitions_for(project).get_repository_def()
    spec = next(iter(repo.assets_defs_by_key[dg.AssetKey(["src", "numbers"])].specs))
    sql = spec.metadata["sqlassets/sql"]
    assert isinstance(sql, dg.MarkdownMetadataValue)
    assert sql.value.startswith("```sql\nSELECT CAST(1 AS INT64) AS n")
    assert sql.value.endswith("DATE '2024-01-01' AS day\n```")
    assert "\n  DATE" in sql.value  # as written, line breaks kept


def test_a_star_model_shows_the_recorded_columns(tmp_path: Path) -> None:
    files = {**FILES, "sql/src/star.sql": "-- @materialized: table\nSELECT * FROM src.numbers"}
    root = write_project(tmp_path, files)
    project = load_project(root, lineage=True).raise_for_errors()
    run_project(project, set(project.models))
    repo = definitions_for(load_project(root, lineage=True)).get_repository_def()
    spec = next(iter(repo.assets_defs_by_key[dg.AssetKey(["src", "star"])].specs))
    schema = spec.metadata["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [
        ("n", "BIGINT"),
        ("label", "VARCHAR"),
        ("day", "DATE"),
    ]

"""Fixtures shared by test modules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlassets.dagster.resources import DuckDBEngineResource

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PYPROJECT = '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Path]:
    """The repository's example project (sql/, gcs/) on a DuckDB file in ``tmp_path``."""
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    shutil.copytree(ROOT / "gcs", tmp_path / "gcs")
    (tmp_path / "pyproject.toml").write_text(LOCAL_PYPROJECT)
    yield tmp_path
    DuckDBEngineResource.close_all()

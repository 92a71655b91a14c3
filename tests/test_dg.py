"""The component through Dagster's own `dg` CLI: scaffold, then check, in a dg project layout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlassets.errors import MissingSqlDirError
from sqlassets.project import load_project

# Slow: each `dg` command starts Dagster in a new process (a few seconds).
pytestmark = pytest.mark.slow

DG = Path(sys.executable).parent / "dg"

PYPROJECT = """\
[project]
name = "shop"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["sqlassets"]

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "shop"
"""

DEFINITIONS = """\
from pathlib import Path

from dagster import definitions, load_from_defs_folder


@definitions
def defs():
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


def _dg_project(root: Path) -> Path:
    """What `dg scaffold project shop` lays out (without making a venv)."""
    package = root / "src" / "shop"
    (package / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(DEFINITIONS)
    return root


def _dg(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    home = root / ".dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environment = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "DAGSTER_HOME": str(home),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(DG), *arguments],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_scaffolded_component_checks_clean(tmp_path: Path) -> None:
    root = _dg_project(tmp_path)
    scaffolded = _dg(
        root, "scaffold", "defs", "sqlassets.SqlAssetsComponent", "warehouse", "--target", "local"
    )
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    defs_yaml = root / "src" / "shop" / "defs" / "warehouse" / "defs.yaml"
    written = defs_yaml.read_text()
    assert "type: sqlassets.SqlAssetsComponent" in written
    assert "target: local" in written
    assert "attributes: {}" not in written
    # The project had no SQL folder: the scaffolder made one, with a starter model.
    assert (root / "sql" / "example" / "hello.sql").is_file()
    checked = _dg(root, "check", "defs", "--use-active-venv")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All component YAML validated successfully." in checked.stdout
    assert "All definitions loaded successfully." in checked.stdout
    yaml = _dg(root, "check", "yaml")
    assert yaml.returncode == 0, yaml.stdout + yaml.stderr


def test_a_missing_sql_folder_has_its_own_code(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sqlassets]\nsql_dir = "models"\n')
    with pytest.raises(MissingSqlDirError) as raised:
        load_project(tmp_path)
    assert raised.value.code == "SA901"
    assert "models does not exist: create it" in raised.value.message

"""Configuration: targets, env: values, defaults, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlassets.config import BigQueryTarget, DuckDBTarget, find_project_dir, load_config
from sqlassets.errors import ConfigError
from tests.helpers import write_project

PYPROJECT = """\
[project]
name = "shop"

[tool.sqlassets]
sql_dir = "models"
target = "dev"

[tool.sqlassets.targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"

[tool.sqlassets.targets.prod]
engine = "bigquery"
project = "env:SHOP_PROJECT"
location = "EU"
dataset_suffix = "_prod"
maximum_bytes_billed = "200GB"
"""


def test_targets_defaults_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, {"pyproject.toml": PYPROJECT, "models/x/y.sql": "SELECT 1"})
    config = load_config(tmp_path, environ={})
    assert config.sql_dir == (tmp_path / "models").resolve()
    assert config.diagnostics == ()
    dev = config.target()
    assert isinstance(dev, DuckDBTarget) and dev.gcs_root == "gcs"
    assert config.resolve_path(dev.path) == tmp_path.resolve() / "warehouse.duckdb"
    with pytest.raises(ConfigError, match="SHOP_PROJECT, which is not set") as error:
        config.target("prod", environ={})
    assert str(error.value.location).endswith("pyproject.toml:14:1")
    prod = config.target("prod", environ={"SHOP_PROJECT": "shop-prod-1"})
    assert isinstance(prod, BigQueryTarget)
    assert (prod.project, prod.maximum_bytes_billed) == ("shop-prod-1", 200 * 10**9)
    monkeypatch.setenv("SQLASSETS_TARGET", "prod")
    assert config.target_name() == "prod"
    assert config.target_name("dev") == "dev"


def test_no_configuration_means_local_duckdb(tmp_path: Path) -> None:
    write_project(tmp_path, {"sql/a/b.sql": "SELECT 1"})
    config = load_config(tmp_path)
    assert config.target_name() == "local"
    target = config.target()
    assert isinstance(target, DuckDBTarget)
    assert target.path.startswith(".sqlassets/")


@pytest.mark.parametrize(
    ("table", "fragment", "line"),
    [
        ('[tool.sqlassets]\nsql_dri = "x"\n', "did you mean `sql_dir`", 2),
        ('[tool.sqlassets.targets.t]\nengine = "postgres"\n', "duckdb` or `bigquery", 2),
        (
            '[tool.sqlassets.targets.t]\nengine = "bigquery"\nproject = "Not A Project"\n',
            "not a Google Cloud project id",
            3,
        ),
        (
            '[tool.sqlassets.targets.t]\nengine = "bigquery"\nproject = "p-1"\n'
            "max_concurrent_jobs = 0\n",
            "max_concurrent_jobs",
            4,
        ),
        ("[tool.sqlassets\n", "not valid TOML", 1),
    ],
)
def test_bad_configuration_is_located(tmp_path: Path, table: str, fragment: str, line: int) -> None:
    write_project(tmp_path, {"pyproject.toml": table})
    try:
        config = load_config(tmp_path, display_base=tmp_path)
    except ConfigError as error:
        found = error.to_diagnostic()
    else:
        assert config.diagnostics, "expected a problem"
        found = config.diagnostics[0]
    assert fragment in found.message
    assert (found.location.path, found.location.line) == ("pyproject.toml", line)


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    write_project(tmp_path, {"pyproject.toml": PYPROJECT})
    with pytest.raises(ConfigError, match=r"unknown target `prd`.*did you mean `prod`"):
        load_config(tmp_path).target("prd")


def test_find_project_dir_walks_up(tmp_path: Path) -> None:
    write_project(tmp_path, {"pyproject.toml": PYPROJECT, "models/x/y.sql": "SELECT 1"})
    nested = tmp_path / "models" / "x"
    assert find_project_dir(nested) == tmp_path.resolve()
    with pytest.raises(ConfigError, match="no sqlassets project"):
        find_project_dir(Path("/"))

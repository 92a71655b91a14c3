"""Selectors from the command line: the same grammar on list, graph, plan, compile, show, run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import invoke_cli, write_project

PYPROJECT = (
    '[tool.sqlassets]\ntarget = "local"\n'
    '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
)
FILES = {
    "pyproject.toml": PYPROJECT,
    "sql/raw/numbers.sql": "-- @tags: layer=raw\n-- @materialized: table\nSELECT 1 AS x\n",
    "sql/staging/numbers.sql": "-- @tags: layer=staging, pii\nSELECT x FROM raw.numbers\n",
    "sql/marts/doubled.sql": (
        "-- @materialized: table\n-- @owners: team:finance\n-- @group: finance\n"
        "SELECT x * 2 AS y FROM staging.numbers\n"
    ),
    "sql/marts/tripled.sql": "-- @materialized: table\nSELECT y * 3 AS z FROM marts.doubled\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, FILES)


_run = invoke_cli


def _listed(root: Path, *args: str) -> list[str]:
    result = _run(root, "list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return [row["name"] for row in json.loads(result.stdout)]


def test_list_takes_every_form_and_several_after_one_flag(project: Path) -> None:
    assert _listed(project, "--select", "marts") == ["marts.doubled", "marts.tripled"]
    assert _listed(project, "--select", "1+marts.doubled") == ["staging.numbers", "marts.doubled"]
    assert _listed(project, "--select", "staging.numbers+1") == ["staging.numbers", "marts.doubled"]
    assert _listed(project, "--select", "tag:pii", "owner:finance") == [
        "staging.numbers",
        "marts.doubled",
    ]
    assert _listed(project, "-s", "group:finance", "--select", "path:sql/raw/") == [
        "raw.numbers",
        "marts.doubled",
    ]
    assert _listed(project, "--exclude", "tag:layer=*", "marts.tripled") == ["marts.doubled"]
    assert _listed(project, "--select", "+marts.tripled", "--exclude", "marts.doubled+") == [
        "raw.numbers",
        "staging.numbers",
    ]


def test_graph_prints_only_what_is_selected(project: Path) -> None:
    result = _run(project, "graph", "--select", "marts")
    assert result.exit_code == 0, result.output
    lines = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("marts.")]
    assert lines == ["marts.doubled", "marts.tripled"]
    assert "2 models" in result.stdout
    mermaid = _run(project, "graph", "--select", "marts.doubled+", "--format", "mermaid").stdout
    assert "raw.numbers" not in mermaid and "m0 --> m1" in mermaid


def test_plan_and_compile_take_selectors(project: Path) -> None:
    plan = _run(project, "plan", "--select", "tag:layer=staging+1", "--exclude", "marts.tripled")
    assert plan.exit_code == 0, plan.output
    planned = {line.split()[0] for line in plan.stdout.splitlines()[1:] if line.strip()}
    assert planned == {"staging.numbers", "marts.doubled"}
    compiled = _run(project, "compile", "marts")
    assert compiled.exit_code == 0, compiled.output
    headers = [line for line in compiled.stdout.splitlines() if line.startswith("-- marts.")]
    assert [header.split()[1] for header in headers] == ["marts.doubled", "marts.tripled"]


def test_show_takes_a_selector_that_names_one_model(project: Path) -> None:
    several = _run(project, "show", "marts")
    assert several.exit_code == 2
    assert "`marts` selects 2 models (marts.doubled, marts.tripled): name one" in several.stderr
    ran = _run(project, "run", "--select", "+group:finance")
    assert ran.exit_code == 0, ran.output
    shown = _run(project, "show", "group:finance", "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == [{"y": 2}]


def test_run_selects_by_tag_and_excludes(project: Path) -> None:
    result = _run(project, "run", "--select", "tag:layer", "marts", "--exclude", "marts.tripled")
    assert result.exit_code == 0, result.output
    assert "Running 3 model(s)" in result.stderr
    table = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert table == ["asset", "raw.numbers", "staging.numbers", "marts.doubled"]
    bad = _run(project, "run", "--select", "tagz:pii")
    assert bad.exit_code == 2
    assert "unknown selector kind `tagz:`; did you mean `tag:`?" in bad.stderr

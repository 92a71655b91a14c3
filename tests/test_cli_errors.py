"""Every command, with bad input: one located line, exit 2, never a traceback.

The cases come from the command line's own definition: each command gets the
inputs every command can get wrong (an unknown option, a missing or broken
project), and each of its parameters the wrong values it can be given. A new
command is covered as soon as it exists; a new parameter fails this test until
it has bad inputs of its own below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sqlassets.cli import main
from tests.helpers import write_project

PYPROJECT = (
    '[tool.sqlassets]\ntarget = "local"\n'
    '[tool.sqlassets.targets.local]\nengine = "duckdb"\npath = "warehouse.duckdb"\n'
)
FILES = {
    "pyproject.toml": PYPROJECT,
    "sql/marts/daily.sql": (
        "-- @materialized: insert_overwrite\n-- @partitions: daily\n-- @partition_by: d\n"
        "-- @start: 2024-01-01\n"
        "SELECT d, x FROM raw.src WHERE d >= @start_date AND d < @end_date\n"
    ),
    "sql/marts/monthly.sql": (
        "-- @materialized: insert_overwrite\n-- @partitions: monthly\n-- @partition_by: m\n"
        "-- @start: 2024-01-01\n"
        "SELECT DATE_TRUNC(d, MONTH) AS m, SUM(x) AS x FROM marts.daily\n"
        "WHERE d >= @start_date AND d < @end_date GROUP BY m\n"
    ),
}
MODEL = "marts.daily"

Case = list[str]
Recipe = Callable[[Path], list[Case]]

# What a parameter can be given wrong, by its name in the command's signature.
WINDOW = [
    ["--start", "2024-13-01", "--end", "2024-01-02"],
    ["--start", "2024-01-05", "--end", "2024-01-01"],
    ["--start", "2024-01-01"],
    ["--partition", "2024-01-02", "--start", "2024-01-01", "--end", "2024-01-03"],
]
RECIPES: dict[str, Recipe] = {
    "project_dir": lambda tmp: [
        ["--project-dir", str(tmp / "missing")],
        ["--project-dir", str(_broken_toml(tmp))],
        ["--project-dir", str(_unknown_target(tmp))],
    ],
    "selectors": lambda tmp: [
        ["--select", "marts.dialy"],
        ["--select", "tags:pii"],
        ["--select", "marts daily"],
        ["--select", ""],
    ],
    "excludes": lambda tmp: [["--exclude", "marts.nothing"], ["--exclude", "marts"]],
    "model_names": lambda tmp: [["marts.dialy"], ["colour:red"]],
    "model_name": lambda tmp: [["marts.dialy"], ["marts"]],  # no model; two models
    "target": lambda tmp: [["--target", "nope"]],
    "partition": lambda tmp: [["--partition", "2024-13-45"], ["--partition", "'; DROP TABLE x"]],
    "start": lambda tmp: WINDOW,
    "end": lambda tmp: [["--end", "2024-01-02"]],
    "wait_for_lock": lambda tmp: [["--wait-for-lock", "-1"], ["--wait-for-lock", "soon"]],
    "output_format": lambda tmp: [["--format", "yaml"]],
    "jobs": lambda tmp: [["--jobs", "0"]],
    "limit": lambda tmp: [["--limit", "0"], ["--limit", "many"]],
    # A wrong column needs a table to be wrong against: tests/test_show.py has it.
    "columns": lambda tmp: [],
    "where": lambda tmp: [["--where", "1; DROP TABLE x"], ["--where", "x >"]],
    "since": lambda tmp: [["--since", "last tuesday"], ["--since", "2024-02-30"]],
    "plot": lambda tmp: [["--plot", str(tmp)]],
    "paths": lambda tmp: [[str(tmp / "no" / "such.sql")]],
    "directory": lambda tmp: [[str(_a_file(tmp))], [str(_not_empty(tmp))]],
    # Flags: nothing to give wrong but their combinations, covered by the window cases.
    "full_refresh": lambda tmp: [],
    "fail_fast": lambda tmp: [],
    "verbose": lambda tmp: [],
    "from_query": lambda tmp: [],
    "force": lambda tmp: [],
}


def _broken_toml(tmp: Path) -> Path:
    root = write_project(tmp / "broken", {"pyproject.toml": "[tool.sqlassets\ntarget = 1\n"})
    return root


def _unknown_target(tmp: Path) -> Path:
    text = '[tool.sqlassets]\ntarget = "prod"\n'
    return write_project(tmp / "unknown_target", {**FILES, "pyproject.toml": text})


def _a_file(tmp: Path) -> Path:
    path = tmp / "a_file"
    path.write_text("x", encoding="utf-8")
    return path


def _not_empty(tmp: Path) -> Path:
    return write_project(tmp / "not_empty", {"README": "mine"})


def _required(command: click.Command) -> list[str]:
    """Valid values for a command's required arguments (compile MODEL, show MODEL)."""
    return [MODEL for param in command.params if param.required]


def _cases(name: str, command: click.Command, tmp: Path) -> list[Case]:
    required = _required(command)
    cases: list[Case] = [[name, "--no-such-option", *required]]
    for param in command.params:
        assert param.name in RECIPES, f"`{name}` has a parameter `{param.name}`: add bad inputs"
        for bad in RECIPES[param.name](tmp):
            given = bad if param.required else [*required, *bad]
            cases.append([name, *given])
    return cases


COMMANDS = sorted(main.commands)


def test_every_command_is_enumerated() -> None:
    # The list is read from the CLI itself; this only shows which commands it holds.
    assert {"lint", "compile", "run", "plan", "graph", "show", "list", "observe", "cost"} <= set(
        COMMANDS
    )
    assert "init" in COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_bad_input_exits_two_with_one_message_and_no_traceback(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "project", FILES)
    monkeypatch.chdir(project)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SQLASSETS_TARGET", raising=False)
    command = main.commands[name]
    failures = []
    for case in _cases(name, command, tmp_path):
        # catch_exceptions=False: an exception would end this test with its traceback.
        result = CliRunner().invoke(main, case, catch_exceptions=False)
        output = result.output
        problems = []
        # lint reports what is wrong in pyproject.toml as findings (exit 1), in every format.
        expected = 1 if name == "lint" and "unknown_target" in " ".join(case) else 2
        if result.exit_code != expected:
            problems.append(f"exit {result.exit_code}")
        if "Traceback" in output or "Stack Trace" in output:
            problems.append("a traceback")
        if not result.stderr.strip():
            problems.append("no message")
        if problems:
            failures.append(f"{' '.join(case)}: {', '.join(problems)}\n{output}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", [n for n in COMMANDS if n != "init"])
def test_outside_any_project_every_command_says_where_it_looked(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    command = main.commands[name]
    result = CliRunner().invoke(main, [name, *_required(command)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "no sqlassets project" in result.stderr

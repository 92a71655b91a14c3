"""The markers `make test-fast` relies on: a test that starts the emulator or the
webserver is marked so, and the default run (`make test`, `.ci/run`) deselects nothing."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
MODULES = sorted(path for path in TESTS.rglob("test_*.py") if path != Path(__file__))


def _module_marks(path: Path) -> set[str]:
    """Names of the marks in a module's ``pytestmark`` (one mark or a list of them)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return {
                mark.attr
                for mark in ast.walk(node.value)
                if isinstance(mark, ast.Attribute)
                and isinstance(mark.value, ast.Attribute)
                and mark.value.attr == "mark"
            }
    return set()


@pytest.mark.parametrize(
    ("needle", "mark"),
    [("start_emulator(", "emulator"), ('"dagster-webserver"', "webserver")],
    ids=["emulator", "webserver"],
)
def test_modules_that_start_a_server_carry_its_marker(needle: str, mark: str) -> None:
    starting = [path for path in MODULES if needle in path.read_text(encoding="utf-8")]
    assert starting, f"no module contains {needle}: update this test"
    unmarked = [str(path.relative_to(ROOT)) for path in starting if mark not in _module_marks(path)]
    assert not unmarked, f"add `pytestmark = pytest.mark.{mark}` to {unmarked}"


def test_every_mark_used_is_registered_and_the_default_run_deselects_nothing() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    settings = options["ini_options"]
    registered = {line.split(":")[0] for line in settings["markers"]}
    assert registered == {"emulator", "webserver", "slow"}
    used = set().union(*(_module_marks(path) for path in MODULES))
    assert used <= registered
    assert "--strict-markers" in settings["addopts"].split()
    # `make test` runs plain `pytest`: no -m, -k or --deselect in the defaults.
    assert not {"-m", "-k", "--deselect"} & set(settings["addopts"].split())

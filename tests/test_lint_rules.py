"""Pass and fail cases for every lint rule, from tests/fixtures/lint/<CODE>.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sqlassets.codes import RUNTIME_CODES, Code
from sqlassets.lint import lint_project
from sqlassets.lint.rules import RULES
from sqlassets.project import load_project
from tests.helpers import write_project

FIXTURES = Path(__file__).parent / "fixtures" / "lint"


def _cases() -> list[pytest.param]:
    params = []
    for fixture in sorted(FIXTURES.glob("*.toml")):
        for case in tomllib.loads(fixture.read_text(encoding="utf-8"))["case"]:
            params.append(pytest.param(fixture.stem, case, id=f"{fixture.stem}: {case['name']}"))
    return params


@pytest.mark.parametrize(("code", "case"), _cases())
def test_rule_case(code: str, case: dict, tmp_path: Path) -> None:
    root = write_project(tmp_path, case["files"])
    project = load_project(root, display_base=root)
    findings = lint_project(project)
    got = [f"{f.location}: {f.code}" for f in findings]
    assert got == case["expect"], "\n".join(str(f) for f in findings)
    if "message" in case:
        assert any(case["message"] in f.message for f in findings), [str(f) for f in findings]
    if case["expect"]:
        assert any(f.code == code for f in findings), f"the case never triggers {code}"


def test_every_code_has_one_rule_with_docs_and_fixtures() -> None:
    by_code = {rule.code: rule for rule in RULES}
    assert len(by_code) == len(RULES), "two rules share a code"
    assert set(by_code) == set(Code) - RUNTIME_CODES, "every lint code needs one rule module"
    for rule in RULES:
        assert "Anti-pattern" in rule.doc and "Fix" in rule.doc, rule.code
        cases = tomllib.loads((FIXTURES / f"{rule.code}.toml").read_text())["case"]
        assert any(case["expect"] for case in cases), f"{rule.code} has no failing case"
        assert any(not case["expect"] for case in cases), f"{rule.code} has no passing case"

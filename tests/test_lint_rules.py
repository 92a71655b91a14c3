"""Pass and fail cases for every lint rule, from tests/fixtures/lint/<CODE>.toml."""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from sqlassets.codes import RUNTIME_CODES, Code
from sqlassets.errors import Severity
from sqlassets.lint import lint_project
from sqlassets.lint.rules import RULES, load_errors
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
    if "absent" in case:
        assert not any(case["absent"] in f.message for f in findings), [str(f) for f in findings]
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


def _resolve(dotted: str) -> Callable[..., object]:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_rule_holds_its_logic_or_names_the_functions_that_find_it() -> None:
    for rule in RULES:
        rereports = "found_at_load" in rule.check.__qualname__
        assert rereports == bool(rule.implemented_by), rule.code
        sources = []
        for dotted in rule.implemented_by:
            function = _resolve(dotted)
            assert inspect.isfunction(function), dotted
            module, _, name = dotted.rpartition(".")
            assert module in rule.doc and name in rule.doc, f"{rule.code}: doc omits {dotted}"
            sources.append(inspect.getsource(function))
        if rule.implemented_by:
            assert any(f"Code.{rule.code.name}" in source for source in sources), rule.code


def test_load_errors_lists_every_code_it_documents() -> None:
    doc = load_errors.__doc__
    for rule in load_errors.RULES:
        line = re.search(rf"^- {rule.code} (.*(?:\n  .*)*)", doc, re.MULTILINE)
        assert line is not None, rule.code
        modules = {dotted.rpartition(".")[0] for dotted in rule.implemented_by}
        assert all(module in line.group(1) for module in modules), rule.code


def test_every_named_check_function_is_named_by_its_rule() -> None:
    """Each function whose docstring starts with its code (``SA104: …``) is a rule's."""
    named = {dotted for rule in RULES for dotted in rule.implemented_by}
    by_code = {rule.code: rule for rule in RULES}
    for module_name in ("sqlassets.spec.invariants", "sqlassets.graph"):
        module = importlib.import_module(module_name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            code = re.match(r"(SA\d{3}):", inspect.getdoc(function) or "")
            if code is None or function.__module__ != module_name:
                continue
            dotted = f"{module_name}.{name}"
            assert dotted in named, f"no rule names {dotted}"
            assert dotted in by_code[Code(code.group(1))].implemented_by, dotted


def test_rule_severity_applies_to_its_findings(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"sql/marts/a.sql": "SELECT * FROM raw.t"})
    (finding,) = lint_project(load_project(root, display_base=root))
    (rule,) = (rule for rule in RULES if rule.code == Code.SELECT_STAR)
    assert finding.code == rule.code
    assert finding.severity is rule.severity is Severity.WARNING

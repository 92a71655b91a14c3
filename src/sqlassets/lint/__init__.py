"""``sqlassets lint``: every rule over a loaded project, and the output formats."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sqlassets.errors import Diagnostic, Severity
from sqlassets.project import Project


def lint_project(project: Project, rules: Iterable[str] | None = None) -> list[Diagnostic]:
    """Run every rule (or only the codes in ``rules``); return the findings, sorted.

    Each finding has its rule's severity. A file in error also gets the
    findings the rules make on what can be salvaged of it
    (:mod:`sqlassets.lint.salvage`): its load error hides none of them.
    """
    from sqlassets.lint.rules import RULES
    from sqlassets.lint.salvage import salvaged_findings

    wanted = set(rules) if rules is not None else None
    chosen = [rule for rule in RULES if wanted is None or rule.code in wanted]
    severity: dict[str, Severity] = {rule.code: rule.severity for rule in chosen}
    findings = {
        _with_severity(diagnostic, rule.severity)
        for rule in chosen
        for diagnostic in rule.check(project)
    }
    findings.update(
        _with_severity(diagnostic, severity[diagnostic.code])
        for diagnostic in salvaged_findings(project, chosen)
    )
    return sorted(findings, key=lambda d: (d.location, d.code, d.message))


def _with_severity(diagnostic: Diagnostic, severity: Severity) -> Diagnostic:
    if diagnostic.severity is severity:
        return diagnostic
    return dataclasses.replace(diagnostic, severity=severity)


def select_paths(findings: Sequence[Diagnostic], paths: Sequence[Path]) -> list[Diagnostic]:
    """Findings in files under any of ``paths`` (as displayed)."""
    if not paths:
        return list(findings)
    prefixes = [path.as_posix().rstrip("/") for path in paths]
    return [
        finding
        for finding in findings
        if any(
            finding.location.path == prefix or finding.location.path.startswith(prefix + "/")
            for prefix in prefixes
        )
    ]


class OutputFormat(enum.StrEnum):
    """How findings are printed."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


def format_text(findings: Sequence[Diagnostic]) -> str:
    """``path:line:col: CODE message``, one per line; warnings say so."""
    return "".join(
        f"{finding}{' (warning)' if finding.severity is Severity.WARNING else ''}\n"
        for finding in findings
    )


def format_json(findings: Sequence[Diagnostic]) -> str:
    """A JSON array of findings, for tools."""
    return (
        json.dumps(
            [
                {
                    "path": f.location.path,
                    "line": f.location.line,
                    "col": f.location.col,
                    "code": f.code,
                    "severity": f.severity.value,
                    "message": f.message,
                }
                for f in findings
            ],
            indent=2,
        )
        + "\n"
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(findings: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: native annotations on the pull request."""
    return "".join(
        f"::{'error' if f.is_error else 'warning'} file={_escape_property(f.location.path)},"
        f"line={f.location.line},col={f.location.col},title={_escape_property(f.code)}::"
        f"{_escape_data(f.code + ' ' + f.message)}\n"
        for f in findings
    )


FORMATTERS: dict[OutputFormat, Callable[[Sequence[Diagnostic]], str]] = {
    OutputFormat.TEXT: format_text,
    OutputFormat.JSON: format_json,
    OutputFormat.GITHUB: format_github,
}

"""Issue 11, item 5: a load error hides no other finding of the same file.

A file in error has no model; lint salvages one (the spec without the
directives in error, the body when it parses) and runs the rules on it, except
a rule that could report the absence of a directive that was dropped."""

from __future__ import annotations

from pathlib import Path

from sqlassets.lint import lint_project
from sqlassets.lint.rules import RULES
from sqlassets.lint.salvage import SALVAGED_RULES
from sqlassets.project import load_project
from tests.helpers import write_project


def _lint(tmp_path: Path, sql: str) -> list[str]:
    root = write_project(tmp_path, {"sql/marts/a.sql": sql})
    return [str(f) for f in lint_project(load_project(root, display_base=root))]


def _codes(findings: list[str]) -> list[str]:
    return [finding.split(" ", 2)[1] + "@" + finding.split(":")[1] for finding in findings]


def test_a_header_error_hides_none_of_the_body_findings(tmp_path: Path) -> None:
    findings = _lint(
        tmp_path,
        "-- @materialised: table\n-- @unique_key: id\nSELECT *, @run_id AS r FROM raw.t\n",
    )
    assert _codes(findings) == ["SA101@1", "SA104@2", "SA304@3", "SA305@3"], findings
    assert "`@run_id` is never bound" in findings[3]


def test_a_dropped_directive_causes_no_finding_of_its_own(tmp_path: Path) -> None:
    """Without the invalid @partitions the model is unpartitioned: SA302 would call
    `@start_date` unbound and SA301 would not look; neither runs, the others do."""
    findings = _lint(
        tmp_path,
        "-- @materialized: insert_overwrite\n-- @partitions: daly\n-- @partition_by: d\n"
        "SELECT d, @strat_date AS s FROM raw.t WHERE d >= @start_date AND d < @end_date\n",
    )
    assert _codes(findings) == ["SA102@2", "SA305@4"], findings
    assert "did you mean `@start_date`?" in findings[1]


def test_misplaced_directives_and_body_shape_hide_nothing(tmp_path: Path) -> None:
    findings = _lint(
        tmp_path,
        "-- @materialized: merge\n-- @unique_key: order_id\n\n-- @cluster_by: id\n"
        "SELECT id FROM raw.t;\nDELETE FROM raw.t WHERE TRUE\n",
    )
    assert _codes(findings) == ["SA303@2", "SA105@4", "SA107@5"], findings


def test_a_body_that_does_not_parse_keeps_the_header_findings(tmp_path: Path) -> None:
    """The limits warning reads only the header; the rules reading the query cannot run."""
    findings = _lint(
        tmp_path,
        "-- @materialized: insert_overwrite\n-- @partitions: hourly\n-- @start: 2020-01-01\n"
        "-- @partition_by: TIMESTAMP_TRUNC(ts, HOUR)\nSELECT ts FROM raw.t WHERE\n",
    )
    assert _codes(findings) == ["SA204@4", "SA100@5"], findings


def test_every_rule_that_is_not_a_load_error_says_what_it_needs_of_a_salvaged_file() -> None:
    assert set(SALVAGED_RULES) == {rule.code for rule in RULES if not rule.implemented_by}

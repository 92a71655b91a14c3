"""Header and spec: golden files for valid headers, unit tests for the rest."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath

import pytest
from pydantic import ValidationError

from sqlassets.codes import Code
from sqlassets.header import parse_header
from sqlassets.spec import (
    InsertOverwriteMaterialization,
    ModelSpec,
    PartitionBy,
    TableRef,
    build_spec,
    parse_bytes,
)
from sqlassets.spec.checks import describe_check, expression_slug

HEADERS = Path(__file__).parent / "fixtures" / "headers"
UPDATE = os.environ.get("SQLASSETS_UPDATE_GOLDENS") == "1"


def _build(text: str, relative: str = "marts/model.sql"):
    header = parse_header(text, "sql/" + relative)
    return build_spec(header, "sql/" + relative, PurePosixPath(relative))


@pytest.mark.parametrize("fixture", sorted(HEADERS.glob("*.sql")), ids=lambda p: p.stem)
def test_header_golden(fixture: Path) -> None:
    spec, diagnostics = _build(fixture.read_text(), f"marts/{fixture.name}")
    assert diagnostics == [], [str(d) for d in diagnostics]
    assert spec is not None
    got = spec.model_dump(mode="json")
    golden = fixture.with_suffix(".json")
    if UPDATE:
        golden.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(golden.read_text())


def test_prose_and_positions() -> None:
    text = "\n-- First line.\n--\n--   indented @ mention\n--  @materialized:  view  \nSELECT 1"
    header = parse_header(text, "f.sql")
    assert header.description == "First line.\n\n  indented @ mention"
    (directive,) = header.directives
    assert (directive.key, directive.value) == ("materialized", "view")
    assert (directive.location.line, directive.location.col) == (5, 5)
    assert directive.value_location.col == 21
    assert header.body_line == 6 and header.body == "SELECT 1"


def test_every_location_is_recorded_for_lint() -> None:
    spec, _ = _build("-- x\n-- @cluster_by: a\nSELECT 1 AS a")
    assert spec is not None
    assert str(spec.location_of("cluster_by")) == "sql/marts/model.sql:2:4"
    assert str(spec.location_of("partition_by")) == "sql/marts/model.sql:1:1"


@pytest.mark.parametrize(
    ("line", "code", "col", "fragment"),
    [
        ("-- @materialized: tabel", Code.INVALID_VALUE, 19, "did you mean `table`"),
        ("-- @partition_by: DATE_TRUNC(d, HOUR)", Code.INVALID_VALUE, 33, "MONTH, YEAR"),
        ("-- @partition_by: a + b", Code.INVALID_VALUE, 19, "not a BigQuery partitioning"),
        ("-- @cluster_by: a, b, c, d, e", Code.INVALID_VALUE, 4, "at most 4"),
        ("-- @cluster_by: a, , b", Code.INVALID_VALUE, 19, "empty item"),
        ("-- @cluster_by: a, A", Code.INVALID_VALUE, 20, "listed twice"),
        ("-- @backfill: max_partitions=0", Code.INVALID_VALUE, 15, "max_partitions=N"),
        ("-- @schedule: 61 * * * *", Code.INVALID_VALUE, 15, "not a cron"),
        ("-- @schedule: 0 0 0 * * *", Code.INVALID_VALUE, 15, "five fields"),
        ("-- @depends_on: raw", Code.INVALID_VALUE, 17, "dataset.table"),
        ("-- @depends_on: a.b, Bad_Proj.c.d", Code.INVALID_VALUE, 22, "project id"),
        ("-- @maximum_bytes_billed: lots", Code.INVALID_VALUE, 27, "byte size"),
        ("-- @labels: sqlassets_asset=x", Code.INVALID_VALUE, 13, "set by sqlassets"),
        ("-- @labels: a=1, a=2", Code.INVALID_VALUE, 18, "twice"),
        ("-- @owners: ana", Code.INVALID_VALUE, 13, "email"),
        ("-- @tags: a b", Code.INVALID_VALUE, 11, "tag"),
        ("-- @group: my group", Code.INVALID_VALUE, 12, "group name"),
        ("-- @check: not_null()", Code.INVALID_VALUE, 21, "empty item"),
        ("-- @check: accepted_values(c)", Code.INVALID_VALUE, 28, "a column and a list"),
        ("-- @check: accepted_values(c, [x + 1])", Code.INVALID_VALUE, 31, "not a literal"),
        ("-- @check: row_count(min=5, max=1)", Code.INVALID_VALUE, 22, "greater than max"),
        ("-- @check: row_count(mni=5)", Code.INVALID_VALUE, 22, "min=N"),
        ("-- @check: expression(SELECT 1)", Code.INVALID_VALUE, 23, "not a statement"),
        ("-- @check: expression(a >)", Code.INVALID_VALUE, 23, "does not parse"),
        ("-- @check: expression(a; DROP TABLE x)", Code.INVALID_VALUE, 23, "one boolean"),
        ("-- @check: uniq(a)", Code.INVALID_VALUE, 12, "did you mean `unique`"),
        ("-- @check: not_null", Code.INVALID_VALUE, 12, "not a check"),
        ("-- @materialized:", Code.INVALID_VALUE, 18, "needs a value"),
        ("-- @sechdule: 0 3 * * *", Code.UNKNOWN_DIRECTIVE, 4, "did you mean `@schedule`"),
        ("-- @xyzzy: 1", Code.UNKNOWN_DIRECTIVE, 4, "header keys"),
        ("-- @partitions: values(a, a)", Code.INVALID_VALUE, 27, "listed twice"),
        ("-- @partitions: values(a'; DROP)", Code.INVALID_VALUE, 24, "may only hold"),
        ("-- @partitions: values", Code.INVALID_VALUE, 17, "values(a, b, c)"),
    ],
)
def test_invalid_values_are_located(line: str, code: Code, col: int, fragment: str) -> None:
    spec, diagnostics = _build(f"{line}\nSELECT 1 AS a")
    assert spec is None
    assert [(d.code, d.location.line, d.location.col) for d in diagnostics] == [(code, 1, col)]
    assert fragment in diagnostics[0].message


@pytest.mark.parametrize(
    ("uri", "col", "fragment"),
    [
        ("s3://bucket/a.parquet", 11, "gs://"),
        ("gs://bucket/{start_dat}.parquet", 23, "did you mean `start_date`"),
        ("gs://bucket/{start_date.__class__}.parquet", 23, "braces"),
        ("gs://bucket/{partition_key:%Y}.parquet", 23, "only `{start_date}`"),
        ("gs://bucket/a.parquet'; DROP TABLE x; --", 32, "may not appear in a URI"),
        ("gs://bucket/a, gs://B/x", 31, "`B` is not a Cloud Storage bucket name"),
    ],
)
def test_uris_are_validated(uri: str, col: int, fragment: str) -> None:
    _, diagnostics = _build(f"-- @materialized: load\n-- @uris: {uri}\n")
    assert [(d.location.line, d.location.col) for d in diagnostics] == [(2, col)], diagnostics
    assert fragment in diagnostics[0].message


def test_uri_templates_render_by_name_only() -> None:
    spec, _ = _build(
        "-- @materialized: load\n-- @uris: gs://bkt/{start_date:%Y%m%d}/{partition_key}/x.csv\n"
    )
    assert spec is not None
    (uri,) = spec.materialization.uris  # type: ignore[union-attr]
    from datetime import date

    rendered = uri.render({"start_date": date(2024, 2, 3), "partition_key": "2024-02-03"})
    assert rendered == "gs://bkt/20240203/2024-02-03/x.csv"
    assert uri.placeholders == ("start_date", "partition_key")


def test_invalid_date_with_time_partitions() -> None:
    _, diagnostics = _build(
        "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
        "-- @start: 2024-13-01\nSELECT d FROM raw.t WHERE d >= @start_date AND d < @end_date"
    )
    assert [(d.code, d.location.line, d.location.col) for d in diagnostics] == [
        (Code.INVALID_VALUE, 4, 12)
    ]
    assert "not a date" in diagnostics[0].message


def test_byte_sizes() -> None:
    assert parse_bytes("50GB") == 50 * 10**9
    assert parse_bytes("1TiB") == 2**40
    assert parse_bytes("1.5 gib") == int(1.5 * 2**30)
    assert parse_bytes("1000") == 1000


def test_check_names_are_unique_and_safe() -> None:
    spec, _ = _build(
        "-- @check: expression(a > 0)\n-- @check: expression(a < 9)\n"
        "-- @check: expression(a > 0)\n-- @check: not_null(A, b)\nSELECT 1 AS a, 2 AS b"
    )
    assert spec is not None
    assert [check.name for check in spec.checks] == [
        "expression_a_gt_0",
        "expression_a_lt_9",
        "expression_a_gt_0_2",
        "not_null_a_b",
    ]


@pytest.mark.parametrize(
    ("sql", "slug"),
    [
        ("amount >= 0", "amount_gte_0"),
        ("a + b <> c", "a_plus_b_ne_c"),
        ("status IN ('open', 'shipped')", "status_in_open_shipped"),
        ("é > 1", "gt_1"),  # Dagster names are ASCII
        ("> 1", "gt_1"),
    ],
)
def test_expression_checks_are_named_after_their_sql(sql: str, slug: str) -> None:
    assert expression_slug(sql) == slug


def test_long_expressions_keep_distinct_names() -> None:
    first = expression_slug("LENGTH(name) BETWEEN 1 AND 100 AND email LIKE '%@%' AND x = 1")
    second = expression_slug("LENGTH(name) BETWEEN 1 AND 100 AND email LIKE '%@%' AND x = 2")
    assert first != second
    assert len(first) <= 40 and len(second) <= 40
    assert first.startswith("length_name_between_1_and_100")
    assert re.fullmatch(r"[a-z0-9_]+", first)


def test_checks_describe_what_they_test() -> None:
    spec, _ = _build(
        "-- @check: not_null(a, b)\n-- @check: unique(a)\n"
        "-- @check: accepted_values(a, ['x', 1])\n-- @check: row_count(min=1, max=9)\n"
        "-- @check: row_count(min=2)\n-- @check: warn expression(a > 0)\nSELECT 1 AS a, 2 AS b"
    )
    assert spec is not None
    assert [describe_check(check) for check in spec.checks] == [
        "No NULL in `a`, `b`.",
        "No two rows share `a`.",
        "`a` is NULL or one of 'x', 1.",
        "Between 1 and 9 rows.",
        "At least 2 rows.",
        "`a > 0` holds on every row. A warning: failing it does not block downstream models.",
    ]


def test_specs_built_in_code_obey_the_same_invariants() -> None:
    name = TableRef(dataset="marts", table="t")
    with pytest.raises(ValidationError, match="insert_overwrite replaces one time window"):
        ModelSpec(name=name, path="x.sql", materialization=InsertOverwriteMaterialization())
    spec = ModelSpec(name=name, path="x.sql", partition_by=PartitionBy(column="d"))
    with pytest.raises(ValidationError):
        spec.name = name  # type: ignore[misc]  # frozen
    assert spec.group_name == "marts"

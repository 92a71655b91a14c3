"""Hostile header values, model names, labels and URIs: refused with a located
error, or rendered inert (a literal, never SQL)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import expressions as exp

from sqlassets.header import parse_header
from sqlassets.loader import load_model
from sqlassets.spec import LoadMaterialization, build_spec
from sqlassets.strategies import plan_jobs
from sqlassets.window import Window

NASTY = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "x'; DROP TABLE t; --",
            'a"b',
            "`proj`.ds.t",
            "a\\nb",
            "/* c */",
            "\u202e\u0000",
            "é" * 70,
            "{start_date.__globals__}",
            "${HOME}",
        ]
    ),
)
_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _spec(directives: str):
    text = f"{directives}\n"
    return build_spec(
        parse_header(text, "sql/raw/m.sql"), "sql/raw/m.sql", PurePosixPath("raw/m.sql")
    )


@_SETTINGS
@given(value=NASTY)
def test_labels_are_refused_or_valid(value: str) -> None:
    spec, diagnostics = _spec(f"-- @labels: team={value}".replace("\n", " "))
    if spec is None:
        assert diagnostics and all(d.location.line == 1 for d in diagnostics)
        return
    for key, label in spec.labels:
        assert key == "team"
        assert all(c.islower() or c.isdigit() or c in "_-" for c in label) and len(label) <= 63


@_SETTINGS
@given(value=NASTY)
def test_uris_are_refused_or_end_up_as_one_string_literal(value: str) -> None:
    uri = f"gs://bucket-a/{value}".replace("\n", " ")
    spec, diagnostics = _spec(f"-- @materialized: load\n-- @uris: {uri}")
    if spec is None:
        assert diagnostics
        return
    assert isinstance(spec.materialization, LoadMaterialization)
    (job,) = plan_jobs(spec, exp.to_table("raw.m"), Window())
    (tree,) = sqlglot.parse(job.sql(), read="bigquery")
    literals = [node.this for node in tree.find_all(exp.Literal) if node.is_string]
    assert spec.materialization.uris[0].template in literals


@_SETTINGS
@given(name=NASTY)
def test_model_names_from_paths_are_refused_or_identifiers(tmp_path: Path, name: str) -> None:
    safe = name.replace("/", "_").replace("\x00", "").strip() or "x"
    if safe in (".", "..") or len(safe.encode()) > 200:
        return
    path = tmp_path / "sql" / "raw" / f"{safe}.sql"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("SELECT 1 AS id", encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        return
    model, diagnostics = load_model(path, tmp_path / "sql", tmp_path)
    if model is None:
        assert any(d.code == "SA106" for d in diagnostics)
    else:
        assert model.spec.name.table.isidentifier()


@_SETTINGS
@given(value=NASTY)
def test_check_expressions_are_parsed_never_evaluated(value: str) -> None:
    spec, diagnostics = _spec(f"-- @check: expression({value})".replace("\n", " "))
    if spec is None:
        assert diagnostics
        return
    (check,) = spec.checks
    assert len(sqlglot.parse(check.sql, read="bigquery")) == 1

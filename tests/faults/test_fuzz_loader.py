"""Random and mutated files end in located diagnostics, never in a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlassets.loader import load_model
from sqlassets.spec import DIRECTIVES

# Slow: hundreds of random and mutated files per test (about 8 s).
pytestmark = pytest.mark.slow

SEED = """-- Revenue per day.
-- @materialized: insert_overwrite
-- @partition_by: order_date
-- @partitions: daily
-- @start: 2024-01-01
-- @check: accepted_values(status, ['a', 'b'])
-- @check: expression(amount >= 0)
-- @uris: gs://bucket/x/{start_date:%Y%m%d}.parquet
SELECT DATE(ts) AS order_date, status, amount FROM raw.orders
WHERE ts >= @start_ts AND ts < @end_ts
"""

_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "values(a, 'b''; DROP TABLE x; --')",
            "`proj.ds.t`",
            "{start_date:%Y}",
            "expression((SELECT 1))",
            "warn row_count(min=1, max=0)",
            "not_null(`a`)",
            "gs://b/{start_date.__class__}",
            "0 3 * * *",
            "2024-02-30",
            "accepted_values(c, [(SELECT 1)])",
            "x" * 5000,
        ]
    ),
)
_lines = st.one_of(
    st.builds(lambda k, v: f"-- @{k}: {v}", st.sampled_from(sorted(DIRECTIVES)), _values),
    st.text(max_size=60),
    st.sampled_from(["'unterminated", "/* open", "`tick", "SELECT", ";", "@@x", "--"]),
)


_FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "sql" / "marts" / "m.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    model, diagnostics = load_model(path, tmp_path / "sql", tmp_path)
    for diagnostic in diagnostics:
        assert diagnostic.location.path == "sql/marts/m.sql"
        assert diagnostic.location.line >= 1 and diagnostic.location.col >= 1
        assert diagnostic.code.startswith("SA") and diagnostic.message
    assert model is not None or any(d.is_error for d in diagnostics)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(_lines, max_size=12))
def test_random_files_end_in_located_diagnostics(tmp_path: Path, lines: list[str]) -> None:
    _check(tmp_path, "\n".join(line.replace("\x00", "") for line in lines))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.tuples(st.integers(0, len(SEED)), st.integers(0, 20), st.text(max_size=8))))
def test_mutated_files_end_in_located_diagnostics(
    tmp_path: Path, cuts: list[tuple[int, int, str]]
) -> None:
    text = SEED
    for at, length, insert in cuts:
        text = text[:at] + insert.replace("\x00", "") + text[at + length :]
    _check(tmp_path, text)

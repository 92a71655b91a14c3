"""The graph: inference against models, external sources, order, cycles."""

from __future__ import annotations

from pathlib import Path

from sqlassets.codes import Code
from sqlassets.project import load_project
from tests.helpers import write_project


def _project(tmp_path: Path, files: dict[str, str]):
    return load_project(write_project(tmp_path, files), display_base=tmp_path)


def test_models_external_sources_and_order(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "sql/staging/orders.sql": "SELECT id, cid FROM raw.orders",
            "sql/staging/customers.sql": (
                "-- @depends_on: raw.crm_export\nSELECT id FROM `my-proj.raw.customers`"
            ),
            "sql/marts/revenue.sql": (
                "WITH o AS (SELECT * FROM staging.orders)\n"
                "SELECT o.id FROM o JOIN `my-proj`.staging.customers AS c ON c.id = o.cid\n"
                "JOIN `analytics-prod.ga.events_*` AS e ON TRUE"
            ),
            "sql/marts/summary.sql": "SELECT COUNT(*) AS n FROM marts.revenue",
        },
    )
    graph = project.graph
    assert graph.order == (
        "staging.customers",
        "staging.orders",
        "marts.revenue",
        "marts.summary",
    )
    assert graph.upstream["marts.revenue"] == ("staging.customers", "staging.orders")
    assert [str(r) for r in graph.external["marts.revenue"]] == ["analytics-prod.ga.events_*"]
    assert [str(r) for r in graph.external["staging.customers"]] == [
        "my-proj.raw.customers",
        "raw.crm_export",
    ]
    assert graph.ancestors("marts.summary") == {
        "marts.revenue",
        "staging.customers",
        "staging.orders",
    }
    assert graph.descendants("staging.orders") == {"marts.revenue", "marts.summary"}
    assert project.errors == ()


def test_two_cycles_each_reported_with_its_path(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "sql/a/x.sql": "SELECT 1 AS id FROM a.y",
            "sql/a/y.sql": "SELECT 1 AS id FROM a.x",
            "sql/b/p.sql": "SELECT 1 AS id FROM b.q",
            "sql/b/q.sql": "SELECT 1 AS id FROM b.r",
            "sql/b/r.sql": "SELECT 1 AS id FROM b.p",
            "sql/c/blocked.sql": "SELECT 1 AS id FROM a.x",
            "sql/c/free.sql": "SELECT 1 AS id FROM raw.t",
        },
    )
    cycles = sorted({d.message for d in project.diagnostics if d.code == Code.CYCLE})
    assert len(cycles) == 2
    assert "a.x → a.y → a.x" in cycles[0]
    assert "b.p → b.q → b.r → b.p" in cycles[1]
    # Models on or below a cycle have no place in the run order; the rest keep theirs.
    assert project.graph.order == ("c.free",)


def test_a_long_chain_does_not_hit_the_recursion_limit(tmp_path: Path) -> None:
    files = {"sql/d/m0000.sql": "SELECT 1 AS id"}
    for index in range(1, 1500):
        files[f"sql/d/m{index:04d}.sql"] = f"SELECT id FROM d.m{index - 1:04d}"
    files["sql/d/m0000.sql"] = "SELECT id FROM d.m1499"
    project = _project(tmp_path, files)
    (message,) = {d.message for d in project.diagnostics if d.code == Code.CYCLE}
    assert message.count("→") == 1500

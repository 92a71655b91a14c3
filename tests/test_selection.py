"""Selectors, one form at a time, on a small parsed project (no warehouse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlassets.errors import SelectionError
from sqlassets.graph import Graph
from sqlassets.project import load_project
from sqlassets.selection import parse_selector, select, subgraph
from tests.helpers import write_project

# raw.events -> staging.events -> marts.daily -> marts.weekly -> reports.summary
#                              \-> marts.users
FILES = {
    "sql/raw/events.sql": "-- @tags: layer=raw\n-- @owners: team:ingest\nSELECT 1 AS id",
    "sql/staging/events.sql": "-- @tags: layer=staging, pii\nSELECT id FROM raw.events",
    "sql/marts/daily.sql": (
        "-- @tags: layer=mart, tier=gold\n-- @owners: finance@shop.example, team:analytics\n"
        "-- @group: finance\nSELECT id FROM staging.events"
    ),
    "sql/marts/weekly.sql": (
        "-- @tags: layer=mart\n-- @group: finance\nSELECT id FROM marts.daily"
    ),
    "sql/marts/users.sql": (
        "-- @tags: layer=mart, pii\n-- @owners: team:crm\nSELECT id FROM staging.events"
    ),
    "sql/reports/summary.sql": "SELECT id FROM marts.weekly",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Path]:
    root = write_project(tmp_path_factory.mktemp("selection"), FILES)
    loaded = load_project(root).raise_for_errors()
    assert set(loaded.models) == {
        "raw.events",
        "staging.events",
        "marts.daily",
        "marts.weekly",
        "marts.users",
        "reports.summary",
    }
    return loaded.graph, root


def _select(project: tuple[Graph, Path], *selectors: str, exclude: tuple[str, ...] = ()):
    graph, root = project
    return select(graph, selectors, exclude, root)


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ((), "all"),
        (("marts.daily",), {"marts.daily"}),
        (("marts.*",), {"marts.daily", "marts.weekly", "marts.users"}),
        (("*.events",), {"raw.events", "staging.events"}),
        (("marts",), {"marts.daily", "marts.weekly", "marts.users"}),  # a bare dataset
        (("dataset:rep*",), {"reports.summary"}),
        (("+marts.weekly",), {"marts.weekly", "marts.daily", "staging.events", "raw.events"}),
        (("1+marts.weekly",), {"marts.weekly", "marts.daily"}),
        (("2+marts.weekly",), {"marts.weekly", "marts.daily", "staging.events"}),
        (
            ("staging.events+",),
            {"staging.events", "marts.daily", "marts.weekly", "marts.users", "reports.summary"},
        ),
        (("staging.events+1",), {"staging.events", "marts.daily", "marts.users"}),
        (("1+marts.daily+1",), {"staging.events", "marts.daily", "marts.weekly"}),
        (("tag:pii",), {"staging.events", "marts.users"}),  # a key: any value
        (("tag:layer=mart",), {"marts.daily", "marts.weekly", "marts.users"}),
        (("tag:layer=s*",), {"staging.events"}),
        (("tag:tier=gold+1",), {"marts.daily", "marts.weekly"}),
        (("owner:team:crm",), {"marts.users"}),
        (("owner:analytics",), {"marts.daily"}),  # a team by its name
        (("owner:*@shop.example",), {"marts.daily"}),
        (("group:finance",), {"marts.daily", "marts.weekly"}),
        (("group:reports",), {"reports.summary"}),  # no @group: the dataset's
        (("path:sql/marts/daily.sql",), {"marts.daily"}),
        (("path:sql/staging",), {"staging.events"}),
        (("path:sql/marts/",), {"marts.daily", "marts.weekly", "marts.users"}),
        (("path:sql/*/events.sql",), {"raw.events", "staging.events"}),
        (("marts.daily", "reports.summary"), {"marts.daily", "reports.summary"}),  # a union
    ],
)
def test_each_selector_form(project: tuple[Graph, Path], selectors: tuple[str, ...], expected):
    everything = set(project[0].models)
    assert _select(project, *selectors) == (everything if expected == "all" else expected)


def test_exclude_takes_the_same_grammar(project: tuple[Graph, Path]) -> None:
    assert _select(project, "marts", exclude=("tag:pii",)) == {"marts.daily", "marts.weekly"}
    assert _select(project, exclude=("marts.weekly+",)) == {
        "raw.events",
        "staging.events",
        "marts.daily",
        "marts.users",
    }
    assert _select(project, "+reports.summary", exclude=("2+marts.daily",)) == {
        "marts.weekly",
        "reports.summary",
    }


@pytest.mark.parametrize(
    ("selectors", "exclude", "message"),
    [
        (("marts.dialy",), (), "`marts.dialy` selects no model; did you mean `marts.daily`?"),
        (("mart",), (), "`mart` selects no model; did you mean `marts`?"),
        (("tags:pii",), (), "unknown selector kind `tags:`; did you mean `tag:`?"),
        (("ownr:team:crm",), (), "unknown selector kind `ownr:`; did you mean `owner:`?"),
        (("color:red",), (), "unknown selector kind `color:`; the kinds are `tag:`, `owner:`"),
        (("tag:pi",), (), "`tag:pi` selects no model; did you mean `tag:pii`?"),
        (("tag:layer=marts",), (), "did you mean `tag:layer=mart`?"),
        (("owner:team:cmr",), (), "did you mean `owner:team:crm`?"),
        (("group:finace",), (), "did you mean `group:finance`?"),
        (("path:sql/mart",), (), "`path:sql/mart` selects no model"),
        (("tag:",), (), "`tag:` needs a value, as in `tag:pii`"),
        (("+",), (), "a selector is a model name or glob"),
        (("++marts.daily",), (), "a selector is a model name or glob"),
        (("marts daily",), (), "contains a space"),
        (("marts.daily\n",), (), "contains `\\n`"),
        ((), ("marts.weeky",), "`marts.weeky` selects no model; did you mean `marts.weekly`?"),
        (("marts.daily",), ("marts",), "leaves no model to work on"),
    ],
)
def test_bad_selectors_say_what_to_do(
    project: tuple[Graph, Path], selectors: tuple[str, ...], exclude: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SelectionError) as raised:
        _select(project, *selectors, exclude=exclude)
    assert message in raised.value.message


def test_parse_selector_reads_depths_and_kinds() -> None:
    parsed = parse_selector("3+tag:tier=gold+")
    assert (parsed.kind, parsed.value, parsed.upstream, parsed.downstream) == (
        "tag",
        "tier=gold",
        3,
        None,
    )
    owner = parse_selector("owner:team:crm")
    assert (owner.kind, owner.value, owner.upstream, owner.downstream) == (
        "owner",
        "team:crm",
        0,
        0,
    )


def test_subgraph_keeps_order_and_edges_among_the_chosen(project: tuple[Graph, Path]) -> None:
    graph = subgraph(project[0], {"marts.daily", "marts.weekly", "reports.summary"})
    assert graph.order == ("marts.daily", "marts.weekly", "reports.summary")
    assert graph.upstream["marts.daily"] == ()  # staging.events is not in it
    assert graph.upstream["marts.weekly"] == ("marts.daily",)

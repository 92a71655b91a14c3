"""Issue 15, items 2, 3 and the load-time half of 8: hostile files end in located errors.

Each test drives ``sqlassets lint`` (or ``plan``/``run``) through click with
``catch_exceptions=False``, so a traceback fails the test rather than being
swallowed by the runner.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import expressions as exp

from sqlassets import loader
from sqlassets.cli import main
from sqlassets.errors import SqlSyntaxError
from sqlassets.loader import analyze_sql
from sqlassets.spec.checks import MAX_NESTING
from sqlassets.spec.directives import check_gcs_uri
from sqlassets.values import MAX_BYTES, InvalidValue, parse_bytes
from tests.helpers import write_project


def _cli(root: Path, *args: str) -> Result:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _lint(tmp_path: Path, files: dict[str, str]) -> tuple[int, list[str]]:
    result = _cli(write_project(tmp_path, files), "lint")
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout.splitlines()


def _load(uri: str) -> dict[str, str]:
    return {"sql/raw/a.sql": f"-- @materialized: load\n-- @uris: {uri}\n"}


# ------------------------------------------------------------------ item 2: @uris


@pytest.mark.parametrize(
    ("uri", "col", "fragment"),
    [
        ("gs://bucket/../../x.parquet", 23, "leaves the bucket `bucket`"),
        ("gs://bucket/a/../../x.parquet", 28, "leaves the bucket"),
        ("gs://bucket/..", 23, "leaves the bucket"),
        ("gs://bucket/%2e%2e/%2e%2e/x.parquet", 23, "leaves the bucket"),
        ("gs://bucket/%252E%252E/x.parquet", 23, "leaves the bucket"),
        ("gs://bucket/a/.%2E/../x", 30, "leaves the bucket"),
        ("gs://bucket/a%2f..%2f..%2fx", 23, "percent-encoded `/`"),
        ("gs://bucket/..%5c..%5cx", 23, "percent-encoded `/` or `\\`"),
        ("gs://bucket/..\\..\\x.parquet", 25, "`\\` may not appear"),
        ("gs://../x.parquet", 16, "`..` is not a Cloud Storage bucket name"),
        ("gs://./x.parquet", 16, "not a Cloud Storage bucket name"),
        ("gs:///x.parquet", 16, "no bucket"),
        ("gs://bucket", 22, "names no object"),
        ("gs://bucket/", 23, "names no object"),
        ("gs://Bucket/x", 16, "not a Cloud Storage bucket name"),
        ("gs://a..b/x", 16, "not a Cloud Storage bucket name"),
        ("gs://192.168.0.1/x", 16, "IP address"),
        ("gs://google-data/x", 16, "`google`"),
        ("gs://" + "a" * 64 + "/x", 16, "not a Cloud Storage bucket name"),
        ("gs://bucket/./x.parquet", 23, "as in `gs://bucket/x.parquet`"),
        ("gs://bucket/a/../b.parquet", 25, "as in `gs://bucket/b.parquet`"),
        ("gs://bucket/{partition_key}/../../x", 42, "leaves the bucket"),
    ],
)
def test_lint_refuses_uris_that_leave_their_bucket(
    tmp_path: Path, uri: str, col: int, fragment: str
) -> None:
    files = _load(uri)
    if "partition_key" in uri:
        files["sql/raw/a.sql"] = (
            "-- @materialized: load\n-- @partitions: values(a, b)\n-- @partition_by: k\n"
            f"-- @uris: {uri}\n"
        )
    exit_code, lines = _lint(tmp_path, files)
    line = 4 if "partition_key" in uri else 2
    assert exit_code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"sql/raw/a.sql:{line}:{col}: SA102 "), lines
    assert fragment in lines[0]


def test_a_strftime_format_cannot_build_a_dot_segment(tmp_path: Path) -> None:
    header = (
        "-- @materialized: load\n-- @partitions: daily\n-- @start: 2024-01-01\n"
        "-- @partition_by: d\n"
    )
    for uri, col in (("gs://b-1/{start_date:../%Y}/x", 20), ("gs://b-1/.{start_date:.%Z}/x", 21)):
        exit_code, lines = _lint(tmp_path, {"sql/raw/a.sql": f"{header}-- @uris: {uri}\n"})
        assert exit_code == 1
        assert [line.split(" ", 2)[:2] for line in lines] == [[f"sql/raw/a.sql:5:{col}:", "SA102"]]


@pytest.mark.parametrize(
    "uri",
    [
        "gs://landing/orders/{start_date}/*.parquet",
        "gs://my.bucket-1/dt={start_date:%Y/%m/%d}/part-*.csv",
        "gs://b_1/a..b/.hidden/x...y/%20.csv",
        "gs://abc/" + "a/" * 50 + "x.json",
    ],
)
def test_uris_that_stay_in_their_bucket_lint_clean(tmp_path: Path, uri: str) -> None:
    header = "-- @materialized: load\n"
    if "{" in uri:
        header += "-- @partitions: daily\n-- @start: 2024-01-01\n-- @partition_by: d\n"
    files = {"sql/raw/a.sql": f"{header}-- @uris: {uri}\n"}
    assert _lint(tmp_path, files) == (0, [])


@pytest.mark.parametrize("command", ["plan", "run"])
def test_an_escaping_uri_stops_plan_and_run_before_any_work(tmp_path: Path, command: str) -> None:
    root = write_project(tmp_path / "project", _load("gs://landing/../../../secret.csv"))
    outside = tmp_path / "secret.csv"
    outside.write_text("id\n1\n", encoding="utf-8")
    result = _cli(root, command)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "sql/raw/a.sql:2:24: SA102 the path leaves the bucket `landing`" in result.output
    assert not (root / ".sqlassets").exists() or not any((root / ".sqlassets").rglob("*.db*"))


_SEGMENTS = st.sampled_from(["a", "b.c", ".", "..", "%2e", "%2E%2e", "...", "", ".x", "x."])


@given(segments=st.lists(_SEGMENTS, min_size=1, max_size=6))
def test_an_accepted_uri_resolves_inside_its_bucket(segments: list[str]) -> None:
    uri = "gs://bucket/" + "/".join(segments)
    try:
        check_gcs_uri(uri)
    except InvalidValue as error:
        assert 0 <= error.offset <= len(uri)
        return
    decoded = [urllib.parse.unquote(segment) for segment in segments]
    assert not {".", ".."} & set(decoded)
    resolved = posixpath.normpath(posixpath.join("/root/bucket", *decoded))
    assert resolved == "/root/bucket" or resolved.startswith("/root/bucket/")


# ------------------------------------------------------------------ item 3: names


def test_names_that_differ_only_in_case_collide(tmp_path: Path) -> None:
    exit_code, lines = _lint(
        tmp_path,
        {"sql/raw/Customers.sql": "SELECT 1 AS id", "sql/raw/customers.sql": "SELECT 2 AS id"},
    )
    assert exit_code == 1
    assert lines == [
        "sql/raw/Customers.sql:1:1: SA402 `raw.Customers` and `raw.customers` "
        "(sql/raw/customers.sql) are one table on DuckDB, which ignores case in names: "
        "rename one file or set a different `@name`",
        "sql/raw/customers.sql:1:1: SA402 `raw.customers` and `raw.Customers` "
        "(sql/raw/Customers.sql) are one table on DuckDB, which ignores case in names: "
        "rename one file or set a different `@name`",
    ]


def test_an_at_name_override_collides_ignoring_case(tmp_path: Path) -> None:
    exit_code, lines = _lint(
        tmp_path,
        {
            "sql/raw/orders.sql": "SELECT 1 AS id",
            "sql/staging/orders_v2.sql": "-- @name: Raw.Orders\nSELECT 2 AS id",
        },
    )
    assert exit_code == 1
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["sql/raw/orders.sql:1:1:", "SA402"],
        ["sql/staging/orders_v2.sql:1:4:", "SA402"],
    ]
    assert "(sql/staging/orders_v2.sql)" in lines[0] and "(sql/raw/orders.sql)" in lines[1]


def test_a_dataset_spelled_in_two_cases_is_refused(tmp_path: Path) -> None:
    exit_code, lines = _lint(
        tmp_path,
        {
            "sql/RAW/orders2.sql": "SELECT 1 AS id",
            "sql/raw/orders.sql": "SELECT 2 AS id",
            "sql/raw/customers.sql": "SELECT 3 AS id",
        },
    )
    assert exit_code == 1
    assert lines == [
        "sql/RAW/orders2.sql:1:1: SA402 dataset `RAW` is spelled `raw` by "
        "sql/raw/customers.sql: DuckDB ignores case in names (one schema there, two datasets "
        "on BigQuery); spell it `raw` everywhere (rename the folder or fix `@name`)"
    ]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("..sql", "`..sql` is a hidden file name"),
        (".sql", "`.sql` is a hidden file name"),
        (".orders.sql", "hidden file name"),
        ("my orders.sql", "the file name `my orders` is not a valid name"),
        ("a.b.sql", "the file name `a.b` holds a `.`"),
        ("orders.sql.sql", "the file name `orders.sql` holds a `.`"),
        ("a-b.sql", "the file name `a-b` is not a valid name"),
        ("1st.sql", "the file name `1st` is not a valid name"),
        ("`x`.sql", "is not a valid name"),
        ("é.sql", "the file name `é` is not a valid name"),
    ],
)
def test_file_names_that_are_no_table_name_are_refused(
    tmp_path: Path, name: str, fragment: str
) -> None:
    exit_code, lines = _lint(tmp_path, {f"sql/raw/{name}": "SELECT 1 AS id"})
    assert exit_code == 1
    assert len(lines) == 1 and lines[0].startswith(f"sql/raw/{name}:1:1: SA106 "), lines
    assert fragment in lines[0]


def test_a_dataset_folder_with_a_dot_is_refused(tmp_path: Path) -> None:
    exit_code, lines = _lint(tmp_path, {"sql/raw.v2/orders.sql": "SELECT 1 AS id"})
    assert exit_code == 1
    assert lines == [
        "sql/raw.v2/orders.sql:1:1: SA106 the path gives the model name `raw.v2.orders`, which "
        "is invalid: the folder `raw.v2` holds a `.`, which would split the name; rename the "
        "file or set `@name: dataset.table`"
    ]


# ------------------------------------------------------------------ item 8: no traceback


def _deep(kind: str, depth: int) -> str:
    if kind == "parentheses":
        return "SELECT " + "(" * depth + "1" + ")" * depth + " AS a"
    if kind == "case":
        return "SELECT " + "CASE WHEN TRUE THEN " * depth + "1" + " END" * depth + " AS a"
    if kind == "subqueries":
        return "SELECT a FROM " + "(SELECT a FROM " * depth + "raw.t" + ")" * depth
    if kind == "arrays":
        return "SELECT " + "[" * depth + "1" + "]" * depth + " AS a"
    assert kind == "functions"
    return "SELECT " + "ABS(" * depth + "1" + ")" * depth + " AS a"


@pytest.mark.parametrize("kind", ["parentheses", "case", "subqueries", "arrays", "functions"])
def test_sql_nested_1000_deep_is_a_located_sa100(tmp_path: Path, kind: str) -> None:
    exit_code, lines = _lint(tmp_path, {"sql/marts/a.sql": _deep(kind, 1000)})
    assert exit_code == 1
    assert len(lines) == 1, lines
    location, code, message = lines[0].split(" ", 2)
    assert code == "SA100" and location.startswith("sql/marts/a.sql:1:")
    assert message.startswith("the query is nested too deeply: more than 100 levels")


@pytest.mark.parametrize("kind", ["parentheses", "case", "arrays", "functions"])
def test_sql_nested_to_the_limit_lints_clean(tmp_path: Path, kind: str) -> None:
    assert _lint(tmp_path, {"sql/marts/a.sql": _deep(kind, MAX_NESTING)}) == (0, [])


def test_the_parser_s_recursion_error_is_still_located(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the nesting guard miss a shape, the parser's RecursionError is still SA100."""
    monkeypatch.setattr("sqlassets.loader.too_deep", lambda stream: None)
    with pytest.raises(SqlSyntaxError) as raised:
        analyze_sql(_deep("parentheses", 5000), "sql/marts/a.sql", 3)
    assert str(raised.value.to_diagnostic()).startswith(
        "sql/marts/a.sql:3:1: SA100 the query is nested too deeply"
    )


@pytest.mark.parametrize(
    ("check", "fragment"),
    [
        ("expression(" + "(" * 1000 + "a > 0" + ")" * 1000 + ")", "nested too deeply"),
        ("accepted_values(a, " + "[" * 1000 + "1" + "]" * 1000 + ")", "list of literals"),
    ],
)
def test_checks_nested_1000_deep_are_a_located_sa102(
    tmp_path: Path, check: str, fragment: str
) -> None:
    exit_code, lines = _lint(tmp_path, {"sql/marts/a.sql": f"-- @check: {check}\nSELECT 1 AS a"})
    assert exit_code == 1
    assert len(lines) == 1 and lines[0].split(" ")[1] == "SA102", lines
    assert fragment in lines[0]


def test_a_400_digit_byte_limit_is_a_located_sa102(tmp_path: Path) -> None:
    exit_code, lines = _lint(
        tmp_path, {"sql/marts/a.sql": f"-- @maximum_bytes_billed: {'9' * 400}\nSELECT 1 AS a"}
    )
    assert exit_code == 1
    assert lines == [
        "sql/marts/a.sql:1:27: SA102 `99999999999999999999…` is larger than BigQuery's largest "
        "byte limit (about 9.2 EB, 9223372036854775807 bytes): write a size such as `50GB` "
        "or `1TiB`"
    ]


def test_a_400_digit_byte_limit_in_the_configuration_is_sa900(tmp_path: Path) -> None:
    pyproject = (
        "[tool.sqlassets.targets.bq]\nengine = 'bigquery'\nproject = 'p-1'\n"
        f"maximum_bytes_billed = '{'9' * 400}PB'\n"
    )
    root = write_project(tmp_path, {"pyproject.toml": pyproject, "sql/raw/a.sql": "SELECT 1 AS a"})
    result = _cli(root, "lint")
    assert result.exit_code == 1
    assert "pyproject.toml:4:1: SA900" in result.output and "largest byte limit" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50GB", 50 * 10**9),
        ("1.5 gib", 3 * 2**29),
        ("0.1GB", 10**8),
        ("8PiB", 8 * 2**50),
        (str(MAX_BYTES), MAX_BYTES),
        ("0" * 400 + "1", 1),
    ],
)
def test_byte_sizes_are_exact(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", [str(MAX_BYTES + 1), "9" * 400, "9" * 400 + "PB", "8193PiB"])
def test_byte_sizes_beyond_int64_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue, match="largest byte limit"):
        parse_bytes(text)


@pytest.mark.parametrize(
    "body",
    [
        "SELECT '" + "x" * 1_000_000 + "' AS a",
        "SELECT 1 AS a /*" + "x" * 1_000_000 + "*/",
        "SELECT a FROM raw.t WHERE a IN (" + ",".join(str(i) for i in range(150_000)) + ")",
    ],
    ids=["string", "comment", "in-list"],
)
def test_a_1mb_single_line_file_lints_without_a_traceback(tmp_path: Path, body: str) -> None:
    assert len(body) >= 900_000 and "\n" not in body
    assert _lint(tmp_path, {"sql/marts/a.sql": body}) == (0, [])


def test_thousands_of_joins_list_each_select_s_aliases_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each SELECT's aliases are listed once, not once per table (220 s for 10,000 joins)."""
    calls: list[object] = []
    original = loader._select_aliases

    def counting(select: exp.Select) -> set[str]:
        calls.append(select)
        return original(select)

    monkeypatch.setattr(loader, "_select_aliases", counting)
    joins = " ".join(f"JOIN raw.t AS t{i} ON t{i}.a = t0.a" for i in range(1, 3000))
    analysis = analyze_sql(f"SELECT t0.a FROM raw.t AS t0 {joins}")
    assert analysis.dependencies == ("raw.t",)
    assert len(calls) == 1

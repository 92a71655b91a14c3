"""Load model files: header, spec and a one-pass sqlglot analysis of the body.

Each body is parsed once; what later layers need (tables read, parameters
used, output columns) is extracted and the syntax tree is dropped, so memory
stays flat however many files a project holds.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import sqlglot
from sqlglot import expressions as exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.tokenizer_core import Token, TokenType

from sqlassets.codes import Code
from sqlassets.dialect import (
    DIALECT,
    SIDE_EFFECT_NODES,
    SIDE_EFFECT_TOKENS,
    side_effect_keyword,
    statement_kind,
)
from sqlassets.errors import (
    Diagnostic,
    Location,
    Severity,
    SqlSyntaxError,
    display_path,
)
from sqlassets.header import Header, parse_header
from sqlassets.lineage import ColumnSources, column_sources
from sqlassets.spec import ModelSpec, TableRef, build_spec
from sqlassets.spec.checks import NESTED_TOO_DEEPLY, too_deep


@dataclass(frozen=True, slots=True)
class TableRead:
    """A table the query reads, where it is first named."""

    ref: TableRef
    location: Location


@dataclass(frozen=True, slots=True)
class SqlAnalysis:
    """What sqlassets needs to know of a query, extracted in one pass."""

    reads: tuple[TableRead, ...]
    parameters: frozenset[str]
    output_columns: tuple[str, ...] | None
    """Names of the final projection; None when a star hides them."""
    has_star: bool
    statement_kinds: tuple[str, ...]
    side_effect: tuple[int, str] | None = None
    """``(statement index, keyword)`` of a writing statement inside the body."""
    temp_functions: tuple[str, ...] = ()
    column_sources: ColumnSources | None = None
    """Output column -> source ``(table, column)`` pairs; computed on request."""
    token_hash: str | None = None
    """A hash of the SQL's tokens (comments and spacing ignored); computed on request."""
    parameter_uses: tuple[tuple[str, Location], ...] = ()
    """Each parameter's first ``@name`` in the file, in order (findings point at it)."""
    star_location: Location | None = None
    """Where the final SELECT's first star is, when it has one."""
    typed_column: tuple[str, str] | None = None
    """``(column, BigQuery type)`` of the output column asked for, when the file shows it."""

    @property
    def dependencies(self) -> tuple[str, ...]:
        """Sorted, distinct names of every table read (``[project.]dataset.table``)."""
        return tuple(sorted({str(read.ref) for read in self.reads}))


_WALKED = (*SIDE_EFFECT_NODES, exp.Table, exp.Parameter, exp.UserDefinedFunction)
"""The nodes :func:`_analyze` looks at."""

# Where a Table node is read: FROM, JOIN, a parenthesized join `(a JOIN b)`, GAP_FILL(TABLE t).
_READ_PARENTS = (exp.From, exp.Join, exp.Subquery, exp.GapFill)


def analyze_sql(
    sql: str,
    path: str = "<sql>",
    first_line: int = 1,
    lineage: bool = False,
    typed_column: str | None = None,
) -> SqlAnalysis:
    """Parse BigQuery ``sql`` and extract tables read, parameters and output columns.

    ``first_line`` is the line of the file on which ``sql`` starts, so that
    locations point into the file. Raises :class:`SqlSyntaxError` if it does
    not parse. ``lineage`` also traces each output column to its source columns
    and hashes the tokens (what Dagster needs, and lint does not).
    ``typed_column`` (the partition column) gets its type when the file shows it
    (through its CTEs and subqueries: SA306), from the same parse.
    """
    dialect = sqlglot.Dialect.get_or_raise(DIALECT)
    token_hash: str | None = None
    try:
        # Tokenize once: the parser takes the tokens, and Dagster's code version hashes them.
        stream = dialect.tokenize(sql)
        deep = too_deep(stream)
        if deep is not None:
            raise SqlSyntaxError(
                f"the query is {NESTED_TOO_DEEPLY}", token_location(deep, path, first_line)
            )
        if lineage:
            token_hash = hashlib.sha256(
                "\x1f".join(token.text for token in stream).encode()
            ).hexdigest()
        # A lone `;` (a trailing `; -- comment`) parses as a Semicolon node: no statement.
        statements = [
            tree
            for tree in dialect.parser().parse(stream, sql)
            if tree is not None and not isinstance(tree, exp.Semicolon)
        ]
    except ParseError as error:
        raise _syntax_error(error, sql, path, first_line) from None
    except TokenError:
        raise _token_error(sql, path, first_line) from None
    except SqlglotError as error:  # pragma: no cover - any other parser failure, still located
        raise SqlSyntaxError(str(error), Location(path, first_line, 1)) from None
    except RecursionError:  # too_deep refuses what would recurse this far; a safety net
        raise SqlSyntaxError(
            f"the query is {NESTED_TOO_DEEPLY}", Location(path, first_line, 1)
        ) from None
    try:
        analysis = _analyze(statements, path, first_line, lineage, token_hash, typed_column)
    except RecursionError:  # pragma: no cover - as above, for the tree walks
        raise SqlSyntaxError(
            f"the query is {NESTED_TOO_DEEPLY}", Location(path, first_line, 1)
        ) from None
    if not analysis.parameters:
        return analysis
    # Located from the tokens already made: the tree does not locate parameters.
    uses = _parameter_uses(stream, analysis.parameters, path, first_line)
    return replace(analysis, parameter_uses=uses)


def _parameter_uses(
    stream: list[Token], names: frozenset[str], path: str, first_line: int
) -> tuple[tuple[str, Location], ...]:
    """The first ``@name`` of each of ``names`` in ``stream``, in order, with its location."""
    uses: dict[str, Location] = {}
    for index, token in enumerate(stream[:-1]):
        if token.text != "@":
            continue
        following = stream[index + 1]
        if following.text == "@" or following.text not in names or following.text in uses:
            continue
        previous = stream[index - 1] if index else None
        if previous is not None and previous.text == "@" and previous.end + 1 == token.start:
            continue  # the second @ of @@system_variable
        uses[following.text] = token_location(token, path, first_line)
    return tuple(uses.items())


def _analyze(
    statements: list[exp.Expr],
    path: str,
    first_line: int,
    lineage: bool,
    token_hash: str | None,
    typed_column: str | None = None,
) -> SqlAnalysis:
    """What :func:`analyze_sql` extracts from the parsed ``statements``."""
    functions: list[str] = []
    tables: list[exp.Table] = []
    parameters: set[str] = set()
    found_effect: tuple[int, exp.Expr] | None = None
    # One walk of each tree for everything: a second one (side_effect) was a tenth of lint.
    for index, tree in enumerate(statements):
        preamble = statement_kind(tree) == "TempFunction"
        for node in tree.walk():
            if not isinstance(node, _WALKED):
                continue
            if isinstance(node, SIDE_EFFECT_NODES):
                # The root of a `CREATE TEMP FUNCTION` preamble is allowed, nothing inside it.
                if found_effect is None and not (preamble and node is tree):
                    found_effect = index, node
            elif isinstance(node, exp.Table):
                tables.append(node)
            elif isinstance(node, exp.Parameter):
                inner = node.this
                # @@system_variable parses as a parameter of a parameter.
                if not isinstance(inner, exp.Parameter) and not isinstance(
                    node.parent, exp.Parameter
                ):
                    parameters.add(inner.name)
            elif isinstance(node, exp.UserDefinedFunction):
                functions.append(node.this.name if isinstance(node.this, exp.Table) else node.name)

    reads: dict[TableRef, TableRead] = {}
    aliases: dict[int, set[str]] = {}
    for table in tables:
        ref = _table_ref(table, aliases)
        if ref is not None and ref not in reads:
            first = table.args.get("catalog") or table.args.get("db") or table.this
            meta = first.meta
            location = Location(path, meta.get("line", 1) + first_line - 1, _start_col(meta))
            reads[ref] = TableRead(ref, location)

    query = next((tree for tree in reversed(statements) if isinstance(tree, exp.Query)), None)
    output_columns: tuple[str, ...] | None = None
    star_location: Location | None = None
    typed: tuple[str, str] | None = None
    root: Scope | None = None  # the query's scopes, built once for the type and the lineage
    if query is not None:
        projection = _leftmost_select(query)
        if typed_column is not None:
            # Imported here: only files with a partition column pay for the type annotator.
            from sqlassets.column_types import query_column_type

            root = build_scope(query)
            kind = query_column_type(query, typed_column, root)
            typed = (typed_column, kind) if kind is not None else None
        # `*`, `t.*`, `a.b.* REPLACE (…)` and `(expr).*` (a Dot over a Star).
        star = next((item for item in projection.expressions if item.is_star), None)
        if star is None:
            output_columns = tuple(projection.named_selects)
        else:
            token = star if isinstance(star, exp.Star) else star.find(exp.Star)
            meta = token.meta if token is not None else {}
            star_location = Location(path, meta.get("line", 1) + first_line - 1, meta.get("col", 1))
    return SqlAnalysis(
        reads=tuple(reads.values()),
        parameters=frozenset(parameters),
        output_columns=output_columns,
        has_star=star_location is not None,
        statement_kinds=tuple(statement_kind(tree) for tree in statements),
        side_effect=(
            None
            if found_effect is None
            else (found_effect[0], side_effect_keyword(found_effect[1]))
        ),
        temp_functions=tuple(functions),
        column_sources=column_sources(query, root) if lineage and query is not None else None,
        token_hash=token_hash,
        star_location=star_location,
        typed_column=typed,
    )


def _table_ref(table: exp.Table, aliases: dict[int, set[str]]) -> TableRef | None:
    """The dependency a Table node stands for, or None if it is not a table read.

    ``aliases`` caches the aliases each SELECT defines (by node id), so that a
    query of thousands of joins is not walked once per table.
    """
    parent = table.parent
    is_read = isinstance(parent, _READ_PARENTS) or (
        isinstance(parent, exp.Merge) and table.arg_key == "using"
    )
    if not is_read or not isinstance(table.this, exp.Identifier):
        return None
    name, dataset, project = table.name, table.db, table.catalog
    if not dataset:
        # Unqualified: a CTE or an unnest alias; BigQuery tables need a dataset.
        return None
    if "information_schema" in (dataset.lower(), name.split(".", 1)[0].lower()):
        return None
    if not project and _alias_in_scope(dataset, table, aliases):
        # `FROM t AS o JOIN o.items AS i` walks an array column of `o`.
        return None
    return TableRef(dataset=dataset, table=name, project=project or None)


def _alias_in_scope(name: str, table: exp.Table, cache: dict[int, set[str]]) -> bool:
    """Whether ``name`` is an alias a FROM in scope of ``table`` defines."""
    select = table.find_ancestor(exp.Select)
    while select is not None:
        key = id(select)
        if key not in cache:
            cache[key] = _select_aliases(select)
        if name in cache[key]:
            return True
        # Correlated subqueries see the enclosing FROM; a CTE body does not.
        parent = select.find_ancestor(exp.Select, exp.CTE)
        select = parent if isinstance(parent, exp.Select) else None
    return False


def _select_aliases(select: exp.Select) -> set[str]:
    """The aliases (and unnest columns) one SELECT's FROM and joins define."""
    aliases: set[str] = set()
    sources: list[exp.Expression] = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None:
        sources.append(from_.this)
    sources.extend(join.this for join in select.args.get("joins") or ())
    for source in sources:
        alias = source.alias_or_name if isinstance(source, exp.Table) else source.alias
        if alias:
            aliases.add(alias)
        if isinstance(source, exp.Unnest):
            aliases.update(
                column.name for column in source.args.get("alias", exp.TableAlias()).columns
            )
    return aliases


def _leftmost_select(query: exp.Query) -> exp.Query:
    node: exp.Expr = query
    while isinstance(node, exp.SetOperation):
        node = node.this
    while isinstance(node, exp.Subquery):
        node = node.this
    return node if isinstance(node, exp.Select) else query


def _start_col(meta: dict[str, int]) -> int:
    # Identifier metadata carries the column of the token's *last* character.
    if "col" not in meta:
        return 1
    width = meta.get("end", 0) - meta.get("start", 0) + 1
    return max(1, meta["col"] - width + 1)


_CLASS = re.compile(r"<class '(?:[\w]+\.)*(\w+)'>")


def _syntax_error(error: ParseError, sql: str, path: str, first_line: int) -> SqlSyntaxError:
    detail = error.errors[0] if error.errors else {}
    line = int(detail.get("line") or 1)
    col = int(detail.get("col") or 1)
    highlight = str(detail.get("highlight") or "")
    description = _CLASS.sub(r"\1", str(detail.get("description") or error)).rstrip(".")
    if highlight:
        col = max(1, col - len(highlight) + 1)
        message = f"syntax error at `{highlight}`: {description}"
    else:
        message = f"syntax error: {description}"
    return SqlSyntaxError(message, Location(path, line + first_line - 1, col))


_OPENERS = (("'''", "'''"), ('"""', '"""'), ("/*", "*/"), ("'", "'"), ('"', '"'), ("`", "`"))


def _token_error(sql: str, path: str, first_line: int) -> SqlSyntaxError:
    """Locate the unterminated string, identifier or comment that stopped the tokenizer."""
    index = 0
    while index < len(sql):
        if sql.startswith("--", index) or sql.startswith("#", index):
            newline = sql.find("\n", index)
            index = len(sql) if newline < 0 else newline + 1
            continue
        for opener, closer in _OPENERS:
            if sql.startswith(opener, index):
                end = index + len(opener)
                while True:
                    found = sql.find(closer, end)
                    if found < 0:
                        kind = {"/*": "comment", "`": "quoted name"}.get(opener, "string")
                        return SqlSyntaxError(
                            f"unterminated {kind}: `{opener}` is never closed with `{closer}`",
                            _offset_location(sql, index, path, first_line),
                        )
                    if len(closer) == 1 and closer != "`" and sql[found - 1] == "\\":
                        end = found + 1
                        continue
                    index = found + len(closer)
                    break
                break
        else:
            index += 1
    return SqlSyntaxError("the SQL cannot be tokenized", Location(path, first_line, 1))


def _offset_location(sql: str, offset: int, path: str, first_line: int) -> Location:
    line = sql.count("\n", 0, offset)
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return Location(path, first_line + line, col)


def tokens(sql: str) -> list[Token]:
    """The BigQuery tokens of ``sql`` (empty if it cannot be tokenized).

    Used on the reporting path only, to point a finding at a token the syntax
    tree does not locate (parameters, stars, statement starts).
    """
    try:
        return sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except SqlglotError:
        return []


def token_location(token: Token, path: str, first_line: int) -> Location:
    """Where ``token`` starts in the file (sqlglot reports the column of its last character)."""
    return Location(path, token.line + first_line - 1, max(1, token.col - len(token.text) + 1))


# ---------------------------------------------------------------- model files


@dataclass(frozen=True, slots=True)
class Model:
    """One model file, loaded: its spec, its SQL body and the body's analysis."""

    spec: ModelSpec
    sql: str
    body_line: int
    analysis: SqlAnalysis | None
    """None for ``load`` models, which have no query."""
    source_path: Path = field(compare=False)

    @property
    def name(self) -> str:
        """``dataset.table``."""
        return self.spec.name.name

    @property
    def path(self) -> str:
        """The file as displayed in findings."""
        return self.spec.path

    @property
    def reads(self) -> tuple[TableRead, ...]:
        """Tables the query reads."""
        return self.analysis.reads if self.analysis else ()


def first_parameter_uses(
    model: Model, names: frozenset[str] | set[str]
) -> Iterator[tuple[str, Location]]:
    """The first ``@name`` of each of ``names`` in the body, in order, with its location."""
    uses = model.analysis.parameter_uses if model.analysis else ()
    return ((name, location) for name, location in uses if name in names)


LoadResult = tuple[Model | None, list[Diagnostic]]
"""What loading one file gives: the model (None if it has errors) and every diagnostic."""


def load_model(
    source: Path,
    sql_dir: Path,
    display_base: Path | None = None,
    lineage: bool = False,
    data: bytes | None = None,
) -> LoadResult:
    """Load one file. Returns the model (None if it has errors) and every diagnostic.

    ``data`` is the file's bytes when already read. The result depends only on
    them, on the file's path (as displayed, and relative to ``sql_dir``) and
    on ``lineage``: what the analysis cache keys its entries by.
    """
    path = display_path(source, display_base)
    if data is None:
        data = source.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [
            Diagnostic(
                Code.SYNTAX,
                f"the file is not UTF-8 (byte {error.start}); save it as UTF-8",
                Location(path, 1, 1),
            )
        ]
    if "\r" in text:  # universal newlines, as reading in text mode translates them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        before = text[: text.index("\x00")]
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return None, [
            Diagnostic(
                Code.SYNTAX,
                "a NUL byte (U+0000) in the file: a SQL file is text; remove it",
                Location(path, line, column),
            )
        ]
    header = parse_header(text, path)
    spec, diagnostics = build_spec(header, path, relative_path(source, sql_dir))
    diagnostics = [*header.diagnostics, *diagnostics]
    analysis: SqlAnalysis | None = None
    # A load model whose header has an error still has no query to check.
    is_load = spec.materialized == "load" if spec is not None else _declares_load(header)
    if not is_load:
        try:
            partition_by = spec.partition_by if spec is not None else None
            analysis = analyze_sql(
                header.body,
                path,
                header.body_line,
                lineage,
                partition_by.column if partition_by is not None else None,
            )
        except SqlSyntaxError as error:
            diagnostics.append(error.to_diagnostic())
        else:
            diagnostics.extend(_body_shape(analysis, header.body, path, header.body_line))
    if spec is None or any(d.severity is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    return Model(spec, header.body, header.body_line, analysis, source), diagnostics


def relative_path(source: Path, sql_dir: Path) -> PurePosixPath:
    """``source`` relative to the SQL folder: what a model's default name comes from."""
    return PurePosixPath(source.relative_to(sql_dir).as_posix())


def _declares_load(header: Header) -> bool:
    """Whether the header says ``@materialized: load`` (read when the spec is invalid)."""
    return any(
        directive.key.lower() == "materialized" and directive.value.strip().lower() == "load"
        for directive in header.directives
    )


_QUERY_KINDS = frozenset({"Select", "Union", "Intersect", "Except"})


def _body_shape(analysis: SqlAnalysis, sql: str, path: str, first_line: int) -> list[Diagnostic]:
    kinds = analysis.statement_kinds
    if not kinds:
        return [
            Diagnostic(
                Code.BODY_SHAPE,
                "the file has no query: write one SELECT below the header",
                Location(path, first_line, 1),
            )
        ]
    last = len(kinds) - 1
    wrong = next(
        (
            index
            for index, kind in enumerate(kinds)
            if (index < last and kind != "TempFunction")
            or (index == last and kind not in _QUERY_KINDS)
        ),
        None,
    )
    if wrong is None and analysis.side_effect is not None:
        index, keyword = analysis.side_effect
        location = _keyword_location(sql, path, first_line, index)
        return [
            Diagnostic(
                Code.BODY_SHAPE,
                f"`{keyword}` inside the query: a model body must be a pure query, with no "
                "statement that writes or changes anything; sqlassets writes the table itself",
                location,
            )
        ]
    if wrong is None:
        return []
    # Tokenized again only to locate the finding: most files have none.
    starts = _statement_starts(sql, path, first_line)
    location = starts[wrong] if wrong < len(starts) else Location(path, first_line, 1)
    return [
        Diagnostic(
            Code.BODY_SHAPE,
            "the body must be one query (`SELECT …` or `WITH … SELECT …`), optionally after "
            "`CREATE TEMP FUNCTION` statements; sqlassets writes the table itself",
            location,
        )
    ]


def _keyword_location(sql: str, path: str, first_line: int, statement: int) -> Location:
    """Where the offending keyword stands in statement number ``statement``."""
    index = 0
    first: Location | None = None
    skip_first = True  # a preamble's own CREATE, or the statement's first token
    empty = True  # a lone `;` starts no statement (analyze_sql drops it too)
    for token in tokens(sql):
        if token.token_type == TokenType.SEMICOLON:
            index += 0 if empty else 1
            skip_first = empty = True
            continue
        empty = False
        if index != statement:
            continue
        if first is None:
            first = token_location(token, path, first_line)
        if skip_first:
            skip_first = False
            if token.token_type == TokenType.CREATE:
                continue
        if token.token_type in SIDE_EFFECT_TOKENS:
            return token_location(token, path, first_line)
    return first or Location(path, first_line, 1)


def _statement_starts(sql: str, path: str, first_line: int) -> list[Location]:
    starts: list[Location] = []
    expect = True
    for token in tokens(sql):
        if token.token_type == TokenType.SEMICOLON:
            expect = True  # a lone `;` starts no statement (analyze_sql drops it too)
            continue
        if expect:
            starts.append(token_location(token, path, first_line))
            expect = False
    return starts


def iter_model_files(sql_dir: Path) -> list[Path]:
    """Every ``.sql`` file under ``sql_dir``, sorted, hidden folders skipped.

    A hidden *file* (``.sql``, ``..sql``, ``.orders.sql``) is listed: it is no
    valid model name, and loading it says so rather than skipping it silently.
    Symbolic links to files are listed; linked folders are not entered (as
    ``Path.rglob`` does). Sorted by path components, as paths compare.
    """
    found: list[tuple[tuple[str, ...], Path]] = []
    # os.walk rather than rglob: one listing per folder, no relative_to per file.
    for folder, folders, names in os.walk(sql_dir):
        folders[:] = [name for name in folders if not name.startswith(".")]
        here = Path(folder)
        parts = here.relative_to(sql_dir).parts
        for name in names:
            path = here / name
            if name.endswith(".sql") and path.is_file():
                found.append(((*parts, name), path))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]

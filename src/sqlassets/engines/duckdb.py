"""The embedded engine: BigQuery SQL transpiled by sqlglot and run in DuckDB.

Datasets become schemas of one database file; ``gs://bucket/key`` resolves
to ``<gcs_root>/bucket/key``. The rewrites below fix what a plain transpile
gets wrong (``../shared/notes/local-engines.md``). Each job runs in one
transaction, so a failed statement leaves every table as it was.
"""

from __future__ import annotations

import csv
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb
from sqlglot import expressions as exp
from sqlglot.dialects.dialect import Dialect

from sqlassets.config import DuckDBTarget
from sqlassets.engines.base import (
    LOCKED,
    Capabilities,
    ConstructError,
    DryRunResult,
    Engine,
    JobContext,
    JobResult,
    Preview,
    TableStats,
)
from sqlassets.errors import EngineError, SchemaChangeError, display_path
from sqlassets.job import Job, Naming, inline_parameters
from sqlassets.window import QueryParameter

if TYPE_CHECKING:
    from sqlassets.config import Config, Target

DIALECT = "duckdb"
Dialect.get_or_raise(DIALECT)  # loaded under the import lock, see sqlassets.dialect

# DuckDB releases that return wrong results on the write paths this engine takes:
# 2.0.0 reads a table filled from a temp table of one row group or more
# (122,880 rows) in one transaction as if its rows were NULL, on the same
# connection (tests/test_duckdb_row_groups.py holds the ten-line reproduction).
BROKEN_VERSIONS = frozenset({"2.0.0"})

# "Could not set lock on file "<path>": Conflicting lock is held in <program> (PID 123)."
_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")
_LOCK_POLL_S = 0.1

_READERS = {
    "PARQUET": ("read_parquet", ()),
    # BigQuery's CSV dialect, fixed rather than sniffed: a row with one value too many
    # (or too few), or a quote left open, fails as BigQuery's load fails, where
    # DuckDB's sniffer would otherwise read each line as one column, or skip the
    # leading lines that do not fit the last ones.
    "CSV": (
        "read_csv",
        (
            ("header", exp.true()),
            ("skip", exp.Literal.number(0)),
            ("delim", exp.Literal.string(",")),
            ("quote", exp.Literal.string('"')),
            ("escape", exp.Literal.string('"')),
            ("strict_mode", exp.true()),
            ("null_padding", exp.false()),
        ),
    ),
    "JSON": ("read_json", (("format", exp.Literal.string("newline_delimited")),)),
}


class DuckDBEngine(Engine):
    """DuckDB in process: one connection shared by every job of a run."""

    name = "duckdb"
    dialect = DIALECT
    resource_key = "duckdb"
    capabilities = Capabilities(
        query_parameters=False,
        dry_run_bytes=False,
        partitioning=False,
        # One DuckDB file takes one writer process.
        single_writer_process=True,
    )

    _live: ClassVar[weakref.WeakSet[DuckDBEngine]] = weakref.WeakSet()
    """Every engine of this process, for :meth:`interrupt_all`."""
    _interrupted: ClassVar[threading.Event] = threading.Event()
    """Set by :meth:`interrupt_all`: no new statement starts."""

    def __init__(self, database: str | Path = ":memory:", gcs_root: str | Path = "gcs"):
        self.database = str(database)
        self.gcs_root = Path(gcs_root)
        self.naming = Naming()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.RLock()
        self._schemas: set[str] = set()
        self._live.add(self)

    @classmethod
    def from_target(
        cls, target: Target, config: Config | None = None, client: Any = None
    ) -> DuckDBEngine:
        """The engine of a DuckDB target, its paths relative to the project (``config``)."""
        assert isinstance(target, DuckDBTarget)
        if config is None:
            return cls(target.path, target.gcs_root)
        database = target.path if target.path == ":memory:" else config.resolve_path(target.path)
        return cls(database, config.resolve_path(target.gcs_root))

    # ------------------------------------------------------------ connection

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The shared connection, opened on first use (BigQuery's time zone: UTC)."""
        return self._open(wait_s=0.0)

    def open(self, wait_s: float = 0.0) -> None:
        """Open the file now, waiting up to ``wait_s`` seconds while another process holds it.

        The connection stays open: the file is this process's until :meth:`close`.
        """
        self._open(wait_s)

    def _open(self, wait_s: float) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                if duckdb.__version__ in BROKEN_VERSIONS:
                    raise EngineError(
                        f"DuckDB {duckdb.__version__} returns wrong results after large "
                        "writes; install duckdb>=2.0.1 (`uv sync --locked` does)"
                    )
                if self.database != ":memory:":
                    Path(self.database).parent.mkdir(parents=True, exist_ok=True)
                connection = self._connect(wait_s)
                connection.execute("SET TimeZone = 'UTC'")
                self._connection = connection
            return self._connection

    def _connect(self, wait_s: float) -> duckdb.DuckDBPyConnection:
        """``duckdb.connect``; a file another process holds is an :class:`EngineError`."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return duckdb.connect(self.database)
            except duckdb.IOException as error:
                text = str(error)
                if "Could not set lock" not in text:
                    raise EngineError(
                        f"cannot open {display_path(self.database)}: {_first_line(error)}"
                    ) from None
                if time.monotonic() >= deadline or self._interrupted.is_set():
                    raise EngineError(_held(self.database, text), reason=LOCKED) from None
            # Polling the lock: DuckDB offers no way to wait for it.
            time.sleep(min(_LOCK_POLL_S, max(0.0, deadline - time.monotonic())))

    @classmethod
    def interrupt_all(cls) -> None:
        """Interrupt the running statement of every open connection; refuse new ones.

        Safe from any thread: ``interrupt()`` does not wait for the connection,
        and the interrupted job rolls back its transaction (``execute``).
        """
        cls._interrupted.set()
        for engine in list(cls._live):
            connection = engine._connection
            if connection is not None:
                connection.interrupt()

    @classmethod
    def resume_all(cls) -> None:
        """Accept statements again after :meth:`interrupt_all`."""
        cls._interrupted.clear()

    def _refuse_if_interrupted(self, context: JobContext, sql: str) -> None:
        if self._interrupted.is_set():
            raise EngineError(f"{context.asset}: not started, the run was interrupted", sql=sql)

    def close(self) -> None:
        """Close the connection (a later job reopens it)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._schemas.clear()

    # ------------------------------------------------------------ rendering

    def translate(
        self, statement: exp.Expression, parameters: dict[str, QueryParameter] | None = None
    ) -> exp.Expression:
        """A BigQuery statement rewritten into a tree that DuckDB runs with the same meaning."""
        tree = inline_parameters(statement, parameters or {})
        if isinstance(tree, exp.LoadData):
            return self._load(tree)
        return _rewrite(tree)

    def _runnable(
        self, statement: exp.Expression, parameters: dict[str, QueryParameter]
    ) -> exp.Expression:
        """``translate``, then each wildcard table as the union of the tables it matches now."""
        tree = self.translate(statement, parameters)
        wildcards = [table for table in tree.find_all(exp.Table) if table.name.endswith("*")]
        for table in wildcards:
            table.replace(self._wildcard_union(table))
        return tree

    def _wildcard_union(self, table: exp.Table) -> exp.Expression:
        """A wildcard table as the union of the tables it matches, like BigQuery's.

        ``ds.events_*`` is ``(SELECT *, '<suffix>' AS _TABLE_SUFFIX FROM
        ds.events_<suffix> UNION ALL BY NAME …) AS <alias>``.
        """
        prefix = table.name[:-1]
        schema = table.db or "main"
        with self._lock:
            rows = self.connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [schema],
            ).fetchall()
        names = sorted(str(row[0]) for row in rows if str(row[0]).startswith(prefix))
        if not names:
            raise EngineError(
                f"the wildcard table `{schema}.{table.name}` matches no table on DuckDB: "
                f"create at least one `{schema}.{prefix}<suffix>` table first"
            )
        union: exp.Query | None = None
        for name in names:
            suffix = exp.alias_(exp.Literal.string(name[len(prefix) :]), "_TABLE_SUFFIX")
            select = exp.Select(
                expressions=[exp.Star(), suffix],
                from_=exp.From(this=exp.table_(name, db=schema, quoted=True)),
            )
            union = (
                select
                if union is None
                else exp.Union(this=union, expression=select, distinct=False, by_name=True)
            )
        alias = table.alias or table.name
        return exp.Subquery(
            this=union, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
        )

    def render(self, job: Job) -> str:
        """The DuckDB SQL of every statement of ``job``."""
        parameters = {parameter.name: parameter for parameter in job.parameters}
        return ";\n".join(
            self.translate(statement, parameters).sql(DIALECT, pretty=True)
            for statement in _own_statements(job)
        )

    def _local_uri(self, uri: str) -> str:
        if not uri.startswith("gs://"):
            raise EngineError(f"`{uri}` is not a gs:// URI")
        local = self.gcs_root / uri.removeprefix("gs://")
        bucket = self.gcs_root / uri.removeprefix("gs://").split("/", 1)[0]
        # Lint refuses such URIs; this holds again for whatever reaches the engine.
        if not os.path.normpath(local).startswith(os.path.normpath(bucket) + os.sep):
            raise EngineError(f"`{uri}` leaves its bucket; name the object from the bucket down")
        return local.as_posix()

    def _describe(self, error: duckdb.Error, job: Job) -> str:
        """DuckDB's first line; for a load, also the file (URI and local path), line and cause."""
        message = _first_line(error)
        if not job.uris:
            return message
        text = str(error)
        found = _FILE_IN_ERROR.search(text)
        numbered = _LINE_IN_ERROR.search(text)
        line = numbered.group("line") if numbered is not None else None
        if line is not None:
            message = _csv_cause(text) or message
        elif found is not None and "Error when sniffing file" in text:
            # A bad row among the sniffed ones: DuckDB names no line, so find it.
            bad = _first_bad_row(Path(found.group("path")))
            if bad is not None:
                line, message = str(bad[0]), bad[1]
        where = "the files of " + ", ".join(job.uris[:3]) + (" …" if len(job.uris) > 3 else "")
        if found is not None:
            local = found.group("path")
            root = self.gcs_root.as_posix().rstrip("/") + "/"
            uri = "gs://" + local.removeprefix(root) if local.startswith(root) else local
            where = f"{uri} ({local})"
        at = f", line {line}" if line is not None else ""
        return (
            f"cannot load {where}{at}: {message}; fix the file (or the model's @format and "
            "columns) and run again: nothing was written"
        )

    def _load(self, load: exp.LoadData) -> exp.Expression:
        """``LOAD DATA … FROM FILES`` as ``CREATE [TEMP] TABLE … AS SELECT * FROM read_*(…)``."""
        options = {
            (prop.name if not isinstance(prop, exp.FileFormatProperty) else "format"): prop
            for prop in load.args["files"].expressions
        }
        fmt_prop = options["format"]
        fmt = fmt_prop.this.name.upper()
        if fmt not in _READERS:
            raise EngineError(f"{fmt} files cannot be loaded on DuckDB; use parquet, csv or json")
        reader, extra = _READERS[fmt]
        uris = options["uris"].args["value"].expressions
        local = exp.Array(
            expressions=[exp.Literal.string(self._local_uri(uri.name)) for uri in uris]
        )
        arguments: list[exp.Expression] = [local]
        arguments += [exp.EQ(this=exp.var(name), expression=value) for name, value in extra]
        arguments.append(exp.EQ(this=exp.var("union_by_name"), expression=exp.true()))
        select = exp.select(exp.Star()).from_(exp.Anonymous(this=reader, expressions=arguments))
        table = load.this.copy()
        table.set("catalog", None)
        properties = (
            exp.Properties(expressions=[exp.TemporaryProperty()]) if load.args.get("temp") else None
        )
        return exp.Create(
            this=table, kind="TABLE", replace=True, expression=select, properties=properties
        )

    # ------------------------------------------------------------ running

    def execute(self, job: Job, context: JobContext) -> JobResult:
        """Run every statement of ``job`` in one transaction."""
        parameters = {parameter.name: parameter for parameter in job.parameters}
        statements = [self._runnable(statement, parameters) for statement in _own_statements(job)]
        texts = [statement.sql(DIALECT) for statement in statements]
        sql = ";\n".join(texts)
        schemas = {schema for statement in statements for schema in _schemas(statement)}
        created = schemas - self._schemas
        started = time.perf_counter()
        rows: int | None = None
        inserted: int | None = None
        deleted: int | None = None
        # One statement is atomic on its own; several share one transaction.
        explicit = len(statements) > 1 or bool(created)
        with self._lock:
            self._refuse_if_interrupted(context, sql)
            connection = self.connection
            if explicit:
                connection.execute("BEGIN TRANSACTION")
            try:
                for schema in sorted(created):
                    create = exp.Create(this=exp.Table(this=schema), kind="SCHEMA", exists=True)
                    connection.execute(create.sql(DIALECT))
                for statement, text in zip(statements, texts, strict=True):
                    if job.uris and isinstance(statement, exp.Insert):
                        _refuse_retyped_load(connection, statement, context.asset, job.uris)
                    count = _count(connection.execute(text))
                    if count is not None and not _is_temp(statement):
                        rows = count
                        if isinstance(statement, exp.Insert | exp.Create):
                            inserted = (inserted or 0) + count
                        elif isinstance(statement, exp.Delete):
                            deleted = (deleted or 0) + count
                if explicit:
                    connection.execute("COMMIT")
            except SchemaChangeError:
                if explicit:
                    connection.execute("ROLLBACK")
                raise
            except duckdb.Error as error:
                if explicit:
                    connection.execute("ROLLBACK")
                raise EngineError(
                    f"{context.asset}: {self._describe(error, job)}", job_id=None, sql=sql
                ) from None
            except BaseException:
                if explicit:
                    connection.execute("ROLLBACK")
                raise
            # Only now: a rolled-back transaction took its CREATE SCHEMA with it.
            self._schemas |= created
        return JobResult(
            job_id=f"duckdb-{uuid.uuid4().hex[:12]}",
            action=job.action,
            sql=sql,
            duration_s=time.perf_counter() - started,
            rows_affected=rows,
            rows_inserted=inserted,
            rows_deleted=deleted,
        )

    def dry_run(self, job: Job) -> list[DryRunResult]:
        """``EXPLAIN`` each statement (DuckDB reports no bytes)."""
        parameters = {parameter.name: parameter for parameter in job.parameters}
        results = []
        for statement in job.statements:
            try:
                tree = self._runnable(statement, parameters)
            except EngineError:
                tree = self.translate(statement, parameters)
            sql = tree.sql(DIALECT)
            plan = None
            if isinstance(tree, exp.Query) or isinstance(tree.expression, exp.Query):
                query = tree if isinstance(tree, exp.Query) else tree.expression
                try:
                    rows = self.connection.execute(f"EXPLAIN {query.sql(DIALECT)}").fetchall()
                    plan = "\n".join(str(row[-1]) for row in rows)
                except duckdb.Error as error:
                    plan = f"cannot explain yet: {_first_line(error)}"
            results.append(DryRunResult(sql=sql, plan=plan))
        return results

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]] | None:
        """Columns of ``table``: its schema from ``LIMIT 0`` (no rows are read)."""
        # Built from constructors: the builder helpers parse and copy (3x slower),
        # and this probe runs after every materialization.
        probe = exp.Select(
            expressions=[exp.Star()],
            from_=exp.From(this=table.copy()),
            limit=exp.Limit(expression=exp.Literal.number(0)),
        )
        with self._lock:
            try:
                cursor = self.connection.execute(probe.sql(DIALECT))
            except duckdb.CatalogException:
                return None
            description = cursor.description or []
        return [(str(column[0]), str(column[1])) for column in description]

    def query_schema(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> list[tuple[str, str]]:
        """``(name, type)`` of the translated query's columns, from ``DESCRIBE``.

        The ``preamble``'s macros exist only for the probe: it runs in a
        transaction that is rolled back.
        """
        bound = {parameter.name: parameter for parameter in parameters}
        head = [self.translate(statement, bound).sql(DIALECT) for statement in preamble]
        tree = self._runnable(query, bound)
        with self._lock:
            connection = self.connection
            if head:
                connection.execute("BEGIN TRANSACTION")
            try:
                for text in head:
                    connection.execute(text)
                rows = connection.execute(f"DESCRIBE {tree.sql(DIALECT)}").fetchall()
            except duckdb.Error as error:
                raise EngineError(_first_line(error), sql=tree.sql(DIALECT)) from None
            finally:
                if head:
                    connection.execute("ROLLBACK")
        return [(str(row[0]), str(row[1])) for row in rows]

    def table_stats(self, tables: Sequence[exp.Table]) -> dict[str, TableStats]:
        """One catalog query per schema (``duckdb_tables()``, ``duckdb_views()``).

        The catalog holds each table's row count (``estimated_size``, exact
        for committed writes) but no byte size, partitions or modification
        time: those stay None.
        """
        by_schema: dict[str, list[str]] = {}
        for table in tables:
            names = by_schema.setdefault(table.db, [])
            if table.name not in names:
                names.append(table.name)
        found: dict[str, TableStats] = {}
        for schema, names in sorted(by_schema.items()):
            query = catalog_query(schema, names)
            with self._lock:
                try:
                    rows = self.connection.execute(query.sql(DIALECT)).fetchall()
                except duckdb.Error as error:
                    raise EngineError(f"observe: {_first_line(error)}") from None
            for name, kind, row_count in rows:
                key = f"{schema}.{name}"
                count = None if row_count is None else int(row_count)
                found[key] = TableStats(table=key, kind=str(kind), row_count=count)
        return found

    def fetch_row(
        self, query: exp.Expression, parameters: Sequence[QueryParameter], context: JobContext
    ) -> dict[str, Any]:
        """Run a single-row query; more or fewer rows is an error."""
        tree = self._runnable(query, {parameter.name: parameter for parameter in parameters})
        with self._lock:
            self._refuse_if_interrupted(context, tree.sql(DIALECT))
            try:
                cursor = self.connection.execute(tree.sql(DIALECT))
                rows = cursor.fetchmany(2)
            except duckdb.Error as error:
                raise EngineError(f"{context.asset}: {_first_line(error)}") from None
            names = [column[0] for column in cursor.description or ()]
        if len(rows) != 1:
            raise EngineError(f"{context.asset}: a check query returned {len(rows)} rows, not 1")
        return dict(zip(names, rows[0], strict=True))

    def preview_rows(
        self,
        table: exp.Table,
        columns: Sequence[str],
        condition: exp.Expression | None,
        limit: int,
    ) -> Preview:
        """``SELECT columns FROM table WHERE condition LIMIT limit``, translated to DuckDB."""
        query = preview_query(table, columns, condition, limit)
        sql = self.translate(query).sql(DIALECT)
        with self._lock:
            try:
                cursor = self.connection.execute(sql)
                rows = cursor.fetchmany(limit)
            except duckdb.CatalogException as error:
                raise EngineError(f"{table.sql(DIALECT)}: {_first_line(error)}", sql=sql) from None
            except duckdb.Error as error:
                raise EngineError(_first_line(error), sql=sql) from None
            names = tuple(str(column[0]) for column in cursor.description or ())
        return Preview(columns=names, rows=tuple(tuple(row) for row in rows), source="query")

    def query_rows(self, job: Job, context: JobContext, limit: int) -> Preview:
        """The job's statements in one transaction-free pass; the last one's rows."""
        parameters = {parameter.name: parameter for parameter in job.parameters}
        statements = [
            self.translate(statement, parameters).sql(DIALECT) for statement in job.statements
        ]
        with self._lock:
            self._refuse_if_interrupted(context, statements[-1])
            try:
                for sql in statements[:-1]:
                    self.connection.execute(sql)
                cursor = self.connection.execute(statements[-1])
                rows = cursor.fetchmany(limit)
            except duckdb.Error as error:
                raise EngineError(
                    f"{context.asset}: {_first_line(error)}", sql=statements[-1]
                ) from None
            names = tuple(str(column[0]) for column in cursor.description or ())
        return Preview(columns=names, rows=tuple(tuple(row) for row in rows), source="query")


def preview_query(
    table: exp.Table, columns: Sequence[str], condition: exp.Expression | None, limit: int
) -> exp.Select:
    """The BigQuery ``SELECT`` a preview of ``table`` reads (before translation)."""
    selected: list[exp.Expr] = [exp.column(name, quoted=True) for name in columns]
    selected = selected or [exp.Star()]
    query = exp.Select(expressions=selected, from_=exp.From(this=table.copy()))
    if condition is not None:
        query = query.where(condition.copy(), copy=False)
    return query.limit(exp.Literal.number(limit), copy=False)


def catalog_query(schema: str, names: Sequence[str]) -> exp.Expression:
    """Tables and views of one schema named ``names``, from DuckDB's catalog functions only."""

    def part(function: str, name: str, kind: str, rows: exp.Expression) -> exp.Select:
        column = exp.column(name)
        return (
            exp.select(
                exp.alias_(column, "name"),
                exp.alias_(exp.Literal.string(kind), "kind"),
                exp.alias_(rows, "row_count"),
            )
            .from_(exp.Table(this=exp.Anonymous(this=function)))
            .where(
                exp.and_(
                    exp.column("schema_name").eq(exp.Literal.string(schema)),
                    column.copy().isin(*(exp.Literal.string(n) for n in names)),
                )
            )
        )

    tables = part("duckdb_tables", "table_name", "table", exp.column("estimated_size"))
    views = part("duckdb_views", "view_name", "view", exp.cast(exp.Null(), "BIGINT"))
    return exp.union(tables, views, distinct=False)


def _held(database: str, message: str) -> str:
    """Who holds ``database``, from DuckDB's lock error."""
    match = _LOCK_HOLDER.search(message)
    holder = f" (pid {match.group(1)})" if match else ""
    return f"another process holds {display_path(database)}{holder}"


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _count(cursor: duckdb.DuckDBPyConnection) -> int | None:
    description = cursor.description or []
    if len(description) == 1 and description[0][0] == "Count":
        row = cursor.fetchone()
        return int(row[0]) if row else None
    return None


# DuckDB types by the BigQuery type a load would give them: a change within one
# family (INTEGER -> BIGINT) loads on BigQuery too, a change across families fails.
_TYPE_FAMILIES = {
    "TINYINT": "INT64",
    "SMALLINT": "INT64",
    "INTEGER": "INT64",
    "BIGINT": "INT64",
    "HUGEINT": "INT64",
    "UTINYINT": "INT64",
    "USMALLINT": "INT64",
    "UINTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "DOUBLE": "FLOAT64",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMP": "DATETIME",
    "TIMESTAMP_NS": "DATETIME",
    "TIMESTAMP_MS": "DATETIME",
}


def _family(type_: str) -> str:
    base = type_.split("(")[0].strip().upper()
    return _TYPE_FAMILIES.get(base, base)


def _refuse_retyped_load(
    connection: duckdb.DuckDBPyConnection, insert: exp.Insert, asset: str, uris: Sequence[str]
) -> None:
    """Refuse a load whose files give an existing column another type, as BigQuery's LOAD does.

    DuckDB would cast the staged values into the table's column silently, so a
    project that loads locally would fail in production.
    """
    target = insert.this.this if isinstance(insert.this, exp.Schema) else insert.this
    # An append reads one staged table per partition.
    staged = list(insert.expression.find_all(exp.Table)) if insert.expression is not None else []
    if not isinstance(target, exp.Table) or not staged:
        return
    columns = {
        str(row[0]).lower(): str(row[1])
        for row in connection.execute(f"DESCRIBE {target.sql(DIALECT)}").fetchall()
    }
    changed = list(
        dict.fromkeys(
            f"{name} ({columns[name.lower()]} -> {type_})"
            for table in staged
            for name, type_ in (
                (str(row[0]), str(row[1]))
                for row in connection.execute(f"DESCRIBE {table.sql(DIALECT)}").fetchall()
            )
            if name.lower() in columns and _family(columns[name.lower()]) != _family(type_)
        )
    )
    if changed:
        raise SchemaChangeError(
            f"{asset}: the files give retyped {', '.join(changed)} (reading "
            f"{', '.join(uris[:3])}{' …' if len(uris) > 3 else ''}); BigQuery's load refuses "
            "this too: fix the files, or rebuild the table with --full-refresh"
        )


def _is_temp(statement: exp.Expression) -> bool:
    properties = statement.args.get("properties")
    return isinstance(statement, exp.Create) and bool(
        properties and properties.find(exp.TemporaryProperty)
    )


def _schemas(statement: exp.Expression) -> list[str]:
    """Schemas a statement writes to, created first (BigQuery datasets exist beforehand)."""
    target = statement.this if isinstance(statement, exp.Create | exp.Merge) else None
    if isinstance(target, exp.Table) and target.db and not _is_temp(statement):
        return [target.db]
    return []


_FILE_IN_ERROR = re.compile(r'(?:file = |file "|Current file: )(?P<path>[^"\n]+?)"?\.?(?:\n|$)')
_LINE_IN_ERROR = re.compile(r"Line: (?P<line>\d+)")
_COLUMN_COUNT = re.compile(r"Expected Number of Columns: (?P<expected>\d+) Found: (?P<found>\d+)")
_UNCLOSED_QUOTE = "a quoted value is not closed, or text follows its closing quote"


def _values_for_columns(found: int, expected: int) -> str:
    return f"{found} values in a row of a file whose header has {expected} columns"


def _csv_cause(text: str) -> str | None:
    """The cause of a DuckDB CSV error, in BigQuery's terms where they differ."""
    for line in text.splitlines():
        if "Could not convert" in line:
            return line.strip()
    count = _COLUMN_COUNT.search(text)
    if count is not None:
        return _values_for_columns(int(count.group("found")), int(count.group("expected")))
    if "unterminated quote" in text:
        return _UNCLOSED_QUOTE
    return None


def _first_bad_row(path: Path) -> tuple[int, str] | None:
    """``(line, cause)`` of the first row of a CSV file that BigQuery's reader would refuse.

    Only on the failure path, when DuckDB's sniffer refused the file without a line.
    """
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=",", quotechar='"', strict=True)
            width: int | None = None
            start = 1
            try:
                for row in reader:
                    if row and width is None:
                        width = len(row)
                    elif row and len(row) != width:
                        return start, _values_for_columns(len(row), width or 0)
                    start = reader.line_num + 1
            except csv.Error:
                return start, _UNCLOSED_QUOTE
    except OSError:
        return None
    return None


def _struct_star(struct: exp.Expression, star: exp.Star, before: str) -> exp.Expression:
    """A struct's fields as columns: ``UNNEST(struct)``, REPLACE as ``struct_update``.

    ``before`` is the token before ``.*`` in BigQuery's text, to locate a refusal.
    """
    if star.args.get("except_") or star.args.get("rename"):
        word = "EXCEPT" if star.args.get("except_") else "RENAME"
        raise ConstructError(
            f"`{'(expr)' if before == ')' else 'a.b'}.* {word} (…)` cannot run on DuckDB, "
            "which cannot drop a field from a struct it has not typed: select the struct's "
            "fields by name",
            (before.upper(), ".", "*", word),
        )
    replaced = star.args.get("replace") or []
    if replaced:
        # struct_update keeps each field's position, as REPLACE keeps the column's.
        struct = exp.Anonymous(
            this="struct_update",
            expressions=[
                struct,
                *(
                    exp.PropertyEQ(this=alias.args["alias"].copy(), expression=alias.this)
                    for alias in replaced
                ),
            ],
        )
    return exp.Anonymous(this="UNNEST", expressions=[struct])


def _own_statements(job: Job) -> list[exp.Expression]:
    """The job's statements without BigQuery's ``BEGIN``/``COMMIT TRANSACTION``.

    Every DuckDB job already runs in one transaction of its own (``execute``).
    """
    return [
        statement
        for statement in job.statements
        if not isinstance(statement, exp.Transaction | exp.Commit)
    ]


def _rewrite(tree: exp.Expression) -> exp.Expression:
    """BigQuery-to-DuckDB fixes on top of sqlglot's transpile (notes/local-engines.md)."""
    tree = tree.transform(_fix_in_place, copy=False)
    # Wrapping fixes change a node's parent; collect first, then wrap each where it stands.
    wrapped = [
        node
        for node in tree.find_all(exp.Extract, exp.DateAdd, exp.DateSub, exp.DateTrunc)
        if not isinstance(node, exp.Extract) or node.this.name.upper() == "DAYOFWEEK"
    ]
    for node in wrapped:
        parent, key, index = node.parent, node.arg_key, node.index
        if isinstance(node, exp.Extract):
            # BigQuery counts Sunday as 1, DuckDB as 0.
            replacement: exp.Expression = exp.Paren(
                this=exp.Add(this=node, expression=exp.Literal.number(1))
            )
        elif isinstance(parent, exp.Cast):
            continue
        else:
            # BigQuery's DATE_ADD/DATE_SUB/DATE_TRUNC return DATE; DuckDB's return TIMESTAMP.
            replacement = exp.Cast(this=node, to=exp.DataType.build("DATE"))
        if parent is not None and key is not None:
            parent.set(key, replacement, index)
    return tree


def _fix_in_place(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
        # No projects on DuckDB: `proj.ds.t` is schema `ds`, table `t`.
        node.set("catalog", None)
    elif (
        isinstance(node, exp.DataType)
        and node.this == exp.DataType.Type.DECIMAL
        and not node.expressions
    ):
        # BigQuery NUMERIC is DECIMAL(38, 9); DuckDB's default would be (18, 3).
        node.set(
            "expressions",
            [
                exp.DataTypeParam(this=exp.Literal.number(38)),
                exp.DataTypeParam(this=exp.Literal.number(9)),
            ],
        )
    elif isinstance(node, exp.Properties):
        node.set(
            "expressions",
            [
                prop
                for prop in node.expressions
                if not isinstance(prop, exp.PartitionedByProperty | exp.ClusterProperty)
            ],
        )
    elif isinstance(node, exp.Create) and node.kind == "FUNCTION":
        # A BigQuery temp function lives for one job; a DuckDB macro for the whole
        # connection, so the next job that declares it again must replace it.
        node.set("replace", True)
    elif isinstance(node, exp.SafeFunc):
        # SAFE.fn(…) is NULL where fn would raise; DuckDB's TRY(…) is the same.
        return exp.Anonymous(this="TRY", expressions=[node.this])
    elif isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Limit):
        # ARRAY_AGG(x ORDER BY t LIMIT n): DuckDB has no LIMIT there; keep the first n.
        limit = node.this
        node.set("this", limit.this)
        return exp.Anonymous(
            this="LIST_SLICE", expressions=[node, exp.Literal.number(1), limit.expression]
        )
    elif isinstance(node, exp.Dot) and isinstance(node.expression, exp.Star):
        # (expr).* spreads a struct's fields: DuckDB's UNNEST of a struct does that.
        return _struct_star(node.this, node.expression, ")")
    elif isinstance(node, exp.Column) and isinstance(node.this, exp.Star) and node.db:
        # `a.b.*`, a nested struct's fields (DuckDB takes one name before a star).
        catalog = node.args.get("catalog")
        struct = exp.Column(
            this=node.args["table"].copy(),
            table=node.args["db"].copy(),
            db=catalog.copy() if catalog is not None else None,
        )
        return _struct_star(struct, node.this, struct.name)
    elif isinstance(node, exp.Table) and node.args.get("version") is not None:
        raise ConstructError(
            f"`FOR SYSTEM_TIME AS OF` on `{node.db}.{node.name}` cannot run on DuckDB, whose "
            "tables keep no history: read the table as it is, or run on BigQuery",
            ("FOR", "SYSTEM_TIME"),
        )
    elif (
        isinstance(node, exp.ColumnDef)
        and isinstance(node.parent, exp.UserDefinedFunction)
        and isinstance(node.args.get("kind"), exp.DataType)
        and node.args["kind"].this == exp.DataType.Type.VARIANT
    ):
        # `x ANY TYPE`: a DuckDB macro's parameters are untyped, which is the same.
        node.set("kind", None)
    elif isinstance(node, exp.Insert) and isinstance(node.this, exp.Table):
        # An insert without a column list is positional on BigQuery (the staged
        # files have the table's layout); DuckDB can match by name instead.
        node.set("by_name", True)
    return node

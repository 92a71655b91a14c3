"""The source dialect and what sqlassets asks of the SQL written in it.

One definition of the dialect model files are written in, and of a *pure*
query: one that reads and never writes, shared by the loader (lint), the spec
(check expressions, merge filters) and the strategies (again before any job is
built).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import expressions as exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import TokenType

DIALECT = "bigquery"
"""The dialect model files are written in."""

# Loaded now, under the import lock: sqlglot registers a dialect class before it is
# complete, so a thread looking it up while another's first use still imports it gets
# a half-built dialect (and parses DDL as an opaque Command).
Dialect.get_or_raise(DIALECT)


def _load_data_sql(generator: Any, load: exp.LoadData) -> str:
    """``LOAD DATA … [PARTITION BY …] [CLUSTER BY …] FROM FILES(…)``.

    sqlglot's BigQuery generator drops a load's layout: sqlassets keeps it as
    :class:`~sqlglot.expressions.Properties` in the ``partition`` argument.
    """
    text = str(_BIGQUERY.loaddata_sql(generator, load))
    layout = load.args.get("partition")
    if not isinstance(layout, exp.Properties):
        return text
    head, files, tail = text.partition(" FROM FILES")
    clauses = " ".join(generator.sql(clause) for clause in layout.expressions)
    return f"{head} {clauses}{files}{tail}"


_BIGQUERY: Any = BigQuery.Generator
_BIGQUERY.TRANSFORMS = {**_BIGQUERY.TRANSFORMS, exp.LoadData: _load_data_sql}

# Statements that write, change or run something. A model body is a pure query:
# none of these may stand anywhere in its tree (BigQuery runs `WITH d AS
# (DELETE …) SELECT …`-shaped scripts, and DuckDB runs DML inside a CTE).
SIDE_EFFECT_NODES: tuple[type[exp.Expr], ...] = (
    exp.DML,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.LoadData,
    exp.Export,
    exp.Set,
    exp.Use,
    exp.Grant,
    exp.Revoke,
    exp.Pragma,
    exp.Declare,
    exp.Analyze,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.Execute,
    exp.Attach,
    exp.Detach,
    exp.Install,
    exp.Kill,
)
SIDE_EFFECT_TOKENS = frozenset(
    {
        TokenType.DELETE,
        TokenType.UPDATE,
        TokenType.INSERT,
        TokenType.MERGE,
        TokenType.CREATE,
        TokenType.DROP,
        TokenType.ALTER,
        TokenType.TRUNCATE,
        TokenType.COMMAND,
        TokenType.SET,
        TokenType.USE,
        TokenType.GRANT,
        TokenType.PRAGMA,
        TokenType.COPY,
        TokenType.EXECUTE,
    }
)


def side_effect(statements: Sequence[exp.Expr]) -> tuple[int, exp.Expr] | None:
    """The first statement inside a model body that is not part of a pure query.

    Returns ``(statement index, node)``; the root of a ``CREATE TEMP FUNCTION``
    preamble statement is allowed, anything inside it is not.
    """
    for index, tree in enumerate(statements):
        for node in tree.walk():
            if node is tree and statement_kind(tree) == "TempFunction":
                continue
            if isinstance(node, SIDE_EFFECT_NODES):
                return index, node
    return None


def side_effect_keyword(node: exp.Expr) -> str:
    """``DELETE``, ``MERGE``, … for a node :func:`side_effect` found."""
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return {"TruncateTable": "TRUNCATE", "LoadData": "LOAD DATA"}.get(
        type(node).__name__, type(node).__name__.upper()
    )


def statement_kind(tree: exp.Expr) -> str:
    """The statement's class name, or ``TempFunction`` for ``CREATE TEMP FUNCTION``."""
    if (
        isinstance(tree, exp.Create)
        and str(tree.args.get("kind", "")).upper() == "FUNCTION"
        and tree.find(exp.TemporaryProperty) is not None
    ):
        return "TempFunction"
    return type(tree).__name__

"""Shared test helpers: small projects on disk, SQL fixture files, the text engines send."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``; ensure a sql/ folder exists."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "sql").mkdir(exist_ok=True)
    return root


# ---------------------------------------------------------------- SQL fixture files
#
# sqlglot keeps a case's input and its expected output in one fixture file
# (tests/fixtures/optimizer/*.sql, ``# title:`` lines). Ours read:
#
#     -- title: what the case shows
#     -- window: 2024-01-01..2024-01-03
#
#     -- >>> model
#     <the input>
#
#     -- >>> sent
#     <the expected output, regenerated with SQLASSETS_UPDATE_GOLDENS=1>
#
# ``-- key: value`` lines before the first ``-- >>>`` marker are the case's
# settings; each marker opens a section that runs to the next marker.

UPDATE_GOLDENS = os.environ.get("SQLASSETS_UPDATE_GOLDENS") == "1"
SECTION = "-- >>> "


@dataclass
class SqlFixture:
    """One fixture file: its settings and its sections, in file order."""

    path: Path
    settings: dict[str, str]
    sections: dict[str, str]

    @property
    def title(self) -> str:
        return self.settings["title"]

    def text(self) -> str:
        """The file as it would be written (reading then writing is the identity)."""
        head = "".join(f"-- {key}: {value}\n" for key, value in self.settings.items())
        body = "".join(f"\n{SECTION}{name}\n{text}" for name, text in self.sections.items())
        return head + body

    def assert_section(self, name: str, got: str) -> None:
        """``got`` is the section ``name``; rewrite it instead with SQLASSETS_UPDATE_GOLDENS=1."""
        if not got.endswith("\n"):
            got += "\n"
        if UPDATE_GOLDENS:
            self.sections[name] = got
            self.path.write_text(self.text(), encoding="utf-8")
        assert name in self.sections, f"{self.path.name} has no `{SECTION}{name}` section"
        assert got == self.sections[name], f"{self.path.name}: {self.title}"


def read_sql_fixture(path: Path) -> SqlFixture:
    """Parse a fixture file (see above)."""
    settings: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith(SECTION):
            current = sections.setdefault(line.removeprefix(SECTION).strip(), [])
        elif current is not None:
            current.append(line)
        elif line.strip():
            key, separator, value = line.removeprefix("-- ").partition(":")
            assert line.startswith("-- ") and separator, f"{path.name}: not a setting: {line!r}"
            settings[key.strip()] = value.strip()
    assert "title" in settings, f"{path.name} has no `-- title:` line"
    # Blank lines between a section and the next marker are layout, not content.
    texts = {name: "".join(lines).rstrip("\n") + "\n" for name, lines in sections.items()}
    return SqlFixture(path, settings, texts)


def sql_fixtures(folder: Path) -> list[SqlFixture]:
    """Every ``*.sql`` fixture of ``folder``, by file name."""
    return [read_sql_fixture(path) for path in sorted(folder.glob("*.sql"))]


# ---------------------------------------------------------------- the text engines send
#
# Each helper mirrors one engine code path, so a golden of its output is the
# exact text the engine sends (not the pretty ``render`` of `sqlassets compile`).


def bigquery_sent_sql(job: Any) -> str:
    """The query text ``BigQueryEngine.execute`` sends for ``job``.

    Mirrors ``BigQueryEngine.execute`` -> ``self._run(job.sql(DIALECT), ...)``
    (``Job.sql``: the statements in the BigQuery dialect, not pretty, joined by
    ``";\\n"``); the window's values travel as query parameters, not in the text.
    """
    return ";\n".join(statement.sql(dialect="bigquery") for statement in job.statements)


def bigquery_sent_check_sql(query: Any) -> str:
    """The query text ``BigQueryEngine.fetch_row`` sends: ``query.sql(DIALECT)``."""
    return query.sql(dialect="bigquery")


def duckdb_sent_sql(engine: Any, statement: Any, parameters: Mapping[str, Any]) -> str:
    """The text ``DuckDBEngine.execute`` sends for one statement of a job.

    Mirrors ``DuckDBEngine.execute``: ``self.translate(statement, parameters)``
    then ``.sql(DIALECT)`` (not pretty), one ``connection.execute`` per statement.
    """
    return engine.translate(statement, dict(parameters)).sql("duckdb")


def invoke_cli(root: Path, *args: str) -> Any:
    """``sqlassets ARGS`` in ``root`` through click's runner; DuckDB files released after."""
    import pytest
    from click.testing import CliRunner

    from sqlassets.cli import main
    from sqlassets.dagster.resources import DuckDBEngineResource

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        try:
            return CliRunner().invoke(main, list(args), catch_exceptions=False)
        finally:
            DuckDBEngineResource.close_all()

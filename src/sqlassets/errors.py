"""The exception tree and the located diagnostics every layer reports.

Every user-facing problem carries a source location and renders as
``path:line:col: CODE message``, the format editors, CI annotations and grep
all understand.
"""

from __future__ import annotations

import difflib
import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlassets.codes import Code


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A position in a source file; ``line`` and ``col`` are 1-based."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def shifted(self, lines: int = 0, cols: int = 0) -> Location:
        """The same file, moved by ``lines`` and ``cols``."""
        return Location(self.path, self.line + lines, self.col + cols)


class Severity(enum.StrEnum):
    """How bad a diagnostic is: errors fail ``lint`` and stop a load."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One located finding: a problem in a file, with a stable code."""

    code: str
    message: str
    location: Location
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.location}: {self.code} {self.message}"

    @property
    def is_error(self) -> bool:
        """Whether this finding fails a lint run."""
        return self.severity is Severity.ERROR


class SqlAssetsError(Exception):
    """Base of every error sqlassets raises on purpose."""

    code: str = Code.INTERNAL

    def __init__(self, message: str, location: Location | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        if self.location is None:
            return f"{self.code} {self.message}"
        return f"{self.location}: {self.code} {self.message}"

    def to_diagnostic(self) -> Diagnostic:
        """The error as a located diagnostic (location defaults to nowhere)."""
        return Diagnostic(self.code, self.message, self.location or Location("<unknown>"))


class ConfigError(SqlAssetsError):
    """The project configuration (``[tool.sqlassets]``) is invalid."""

    code = Code.CONFIG


class MissingSqlDirError(ConfigError):
    """The project's SQL folder (``sql_dir``) does not exist."""

    code = Code.NO_SQL_DIR


class ProjectError(SqlAssetsError):
    """The project cannot be used: it holds one or more error diagnostics."""

    code = Code.INTERNAL

    def __init__(self, diagnostics: list[Diagnostic]):
        errors = [d for d in diagnostics if d.is_error]
        self.diagnostics = errors
        lines = "\n".join(str(d) for d in errors[:20])
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"the project has {len(errors)} error(s); run `sqlassets lint` for all of them:\n"
            f"{lines}{more}",
            errors[0].location if errors else None,
            errors[0].code if errors else None,
        )

    def __str__(self) -> str:
        return self.message


class SqlSyntaxError(SqlAssetsError):
    """The SQL does not parse; located at the token the parser stopped on."""

    code = Code.SYNTAX


class WindowError(SqlAssetsError):
    """A requested partition or window does not exist for the model."""

    code = Code.WINDOW


class StrategyError(SqlAssetsError):
    """A model cannot be turned into statements (for example: columns unknown)."""

    code = Code.STRATEGY


class SelectionError(SqlAssetsError):
    """A selector that matches no model."""

    code = Code.SELECTION


class EngineError(SqlAssetsError):
    """A statement failed on the warehouse; the message is the warehouse's own."""

    code = Code.ENGINE

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        sql: str | None = None,
        reason: str | None = None,
        retryable: bool = False,
    ):
        super().__init__(message)
        self.job_id = job_id
        self.sql = sql
        self.reason = reason
        self.retryable = retryable
        self.same_attempt = False
        """Retry under the same job id (the insert failed; the job may exist)."""


class SchemaChangeError(EngineError):
    """The query's columns, or the table's layout, no longer match the existing table.

    An :class:`EngineError` because it is found by asking the warehouse and ends
    the model's run the way a failed statement does.
    """

    code = Code.SCHEMA_CHANGE


def did_you_mean(
    word: str, options: Iterable[str], *, cutoff: float = 0.6, prefix: str = ""
) -> str:
    """``; did you mean `x`?`` for the closest of ``options``, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f"; did you mean `{prefix}{close[0]}`?" if close else ""


def display_path(path: Path | str, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the working directory) when inside it."""
    # os.path rather than Path.resolve(): this runs once per file and must not stat.
    resolved = os.path.abspath(path)  # noqa: PTH100
    root = os.path.abspath(base if base is not None else os.curdir)  # noqa: PTH100
    if resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(resolved, root)).as_posix()
    return Path(path).as_posix()

"""The exception tree and the located diagnostics every layer reports.

Every user-facing problem carries a source location and renders as
``path:line:col: CODE message``, the format editors, CI annotations and grep
all understand.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path


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

    code = "SA000"

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

    code = "SA900"


class ProjectError(SqlAssetsError):
    """The project cannot be used: it holds one or more error diagnostics."""

    code = "SA000"

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


def display_path(path: Path | str, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the working directory) when inside it."""
    # os.path rather than Path.resolve(): this runs once per file and must not stat.
    resolved = os.path.abspath(path)  # noqa: PTH100
    root = os.path.abspath(base if base is not None else os.curdir)  # noqa: PTH100
    if resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(resolved, root)).as_posix()
    return Path(path).as_posix()

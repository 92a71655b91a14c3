"""Split a model file into its comment header and its SQL body.

The header is the leading block of ``--`` comment lines. ``-- @key: value``
lines are directives; every other header line is prose and becomes the
description. This module only finds directives and their positions; what a
value means is :mod:`sqlassets.spec`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Location

_COMMENT = re.compile(r"^(\s*)--")
_DIRECTIVE = re.compile(r"@(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<value>.*?)\s*$")
_STRAY_DIRECTIVE = re.compile(r"^\s*--\s*@[A-Za-z_][A-Za-z0-9_]*\s*:")


@dataclass(frozen=True, slots=True)
class Directive:
    """One ``-- @key: value`` line: the key at ``location``, the value at ``value_location``."""

    key: str
    value: str
    location: Location
    value_location: Location


@dataclass(frozen=True, slots=True)
class Header:
    """The parsed header of one file and where its SQL body starts."""

    directives: tuple[Directive, ...]
    description: str
    body: str
    body_line: int
    """1-based line of the file on which the body starts."""
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def parse_header(text: str, path: str) -> Header:
    """Split ``text`` (a whole model file) into directives, description and body.

    Never raises: malformed directive lines and directives outside the header
    come back as diagnostics (code ``SA105``).
    """
    lines = text.splitlines()
    directives: list[Directive] = []
    prose: list[str] = []
    diagnostics: list[Diagnostic] = []
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines):
        line = lines[index]
        match = _COMMENT.match(line)
        if match is None:
            break
        start = match.end()
        content = line[start:]
        if content.startswith(" "):
            start += 1
            content = content[1:]
        stripped = content.lstrip()
        offset = start + len(content) - len(stripped)
        if stripped.startswith("@"):
            directive = _DIRECTIVE.fullmatch(stripped)
            if directive is None:
                diagnostics.append(
                    Diagnostic(
                        Code.MISPLACED_DIRECTIVE,
                        "malformed directive: write it as `-- @key: value`",
                        Location(path, index + 1, offset + 1),
                    )
                )
            else:
                directives.append(
                    Directive(
                        key=directive.group("key"),
                        value=directive.group("value"),
                        location=Location(path, index + 1, offset + 1),
                        value_location=Location(
                            path, index + 1, offset + directive.start("value") + 1
                        ),
                    )
                )
        else:
            prose.append(content.rstrip())
        index += 1
    body_line = index + 1
    for number in range(index, len(lines)):
        if _STRAY_DIRECTIVE.match(lines[number]):
            col = lines[number].index("@") + 1
            diagnostics.append(
                Diagnostic(
                    Code.MISPLACED_DIRECTIVE,
                    "directive outside the header is ignored: the header is the leading block "
                    "of `--` lines, with no blank or SQL line before it ends; move it up",
                    Location(path, number + 1, col),
                )
            )
    body = "\n".join(lines[index:])
    return Header(
        directives=tuple(directives),
        description="\n".join(prose).strip("\n"),
        body=body,
        body_line=body_line,
        diagnostics=tuple(diagnostics),
    )

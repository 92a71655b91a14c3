"""Split a model file into its comment header and its SQL body.

The header is the leading block of ``--`` comment lines. ``-- @key: value``
lines are directives; every other header line is prose and becomes the
description. This module only finds directives and their positions; what a
value means is :mod:`sqlassets.spec`'s business.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
        match = _COMMENT.match(lines[index])
        if match is None:
            break
        content, offset = _comment_text(lines[index], match.end())
        if content.lstrip().startswith("@"):
            found = _directive(content.lstrip(), Location(path, index + 1, offset + 1))
            if isinstance(found, Directive):
                directives.append(found)
            else:
                diagnostics.append(found)
        else:
            prose.append(content.rstrip())
        index += 1
    diagnostics.extend(_stray_directives(lines, index, path))
    return Header(
        directives=tuple(directives),
        description="\n".join(prose).strip("\n"),
        body="\n".join(lines[index:]),
        body_line=index + 1,
        diagnostics=tuple(diagnostics),
    )


def _comment_text(line: str, start: int) -> tuple[str, int]:
    """A comment's text after ``--`` and one optional space; and where its text begins."""
    content = line[start:]
    if content.startswith(" "):
        start += 1
        content = content[1:]
    return content, start + len(content) - len(content.lstrip())


def _directive(text: str, location: Location) -> Directive | Diagnostic:
    """The directive ``text`` (``@key: value``) written at ``location``, or why it is malformed."""
    directive = _DIRECTIVE.fullmatch(text)
    if directive is None:
        return Diagnostic(
            Code.MISPLACED_DIRECTIVE, "malformed directive: write it as `-- @key: value`", location
        )
    return Directive(
        key=directive.group("key"),
        value=directive.group("value"),
        location=location,
        value_location=location.shifted(cols=directive.start("value")),
    )


def _stray_directives(lines: list[str], body_start: int, path: str) -> Iterator[Diagnostic]:
    """SA105 for each directive-like comment in the body, which would be ignored."""
    for number in range(body_start, len(lines)):
        if _STRAY_DIRECTIVE.match(lines[number]):
            yield Diagnostic(
                Code.MISPLACED_DIRECTIVE,
                "directive outside the header is ignored: the header is the leading block "
                "of `--` lines, with no blank or SQL line before it ends; move it up",
                Location(path, number + 1, lines[number].index("@") + 1),
            )

"""The findings of a file in error: a load error does not hide the file's other problems.

A file with an error has no model (:func:`sqlassets.loader.load_model`), so
no rule would look at it, and each fix would reveal the next finding. Lint
rebuilds what it can of each such file, only for the rules: the spec without
the directives in error (again, until it builds), and the body's analysis
when it parses. Every rule runs on these salvaged models as on valid ones,
and their findings are reported next to the load errors, as sqlfluff
reports rule violations next to a parse error.

A dropped directive must not cause a finding of its own: a rule that may
report what a header lacks (the window parameters of an unpartitioned
model, once an invalid ``@partitions`` is dropped) is not run on a file
whose directives it reads were dropped (:data:`SALVAGED_RULES`). Rules
across models see only the salvaged models: they find less, never more.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, SqlSyntaxError, display_path
from sqlassets.graph import build_graph
from sqlassets.header import parse_header
from sqlassets.lint.rule import Rule
from sqlassets.loader import Model, analyze_sql, relative_path
from sqlassets.project import Project
from sqlassets.spec import LoadMaterialization, build_spec

_ROUNDS = 4
"""At most this many rebuilds of a spec, each without the directives the last one refused."""


@dataclass(frozen=True)
class Needs:
    """What a rule needs of a salvaged file to run on it without a false finding."""

    body: bool
    """It reads the query: a file whose body does not parse is skipped."""
    directives: frozenset[str] = frozenset()
    """Keys it may report the absence of (directly or through a default): none may be dropped."""


_SPEC = frozenset({"materialized", "partitions", "start", "end"})
SALVAGED_RULES: dict[Code, Needs] = {
    Code.LANDING_URIS_SHARED: Needs(False, _SPEC | {"uris", "sensor", "retention_days"}),
    Code.BIGQUERY_LIMITS: Needs(False, _SPEC | {"partition_by", "uris"}),
    Code.WINDOW_NOT_READ: Needs(True, _SPEC | {"backfill", "uris"}),
    Code.WINDOW_PARAMETER_UNPARTITIONED: Needs(True, _SPEC),
    # These look for what the header or the body names: a dropped directive
    # only leaves them less to look for.
    Code.COLUMN_NOT_IN_OUTPUT: Needs(True),
    Code.SELECT_STAR: Needs(True),
    Code.UNKNOWN_PARAMETER: Needs(True),
    Code.PARTITION_COLUMN_TYPE: Needs(True),
}
"""Each rule that runs on salvaged files, and what it needs of them; the others do not run."""


@dataclass(frozen=True)
class Salvaged:
    """What a file in error still holds: a model for the rules, and the directives dropped."""

    model: Model
    dropped: frozenset[str]
    """Keys (lower case) of the directives left out so that the spec builds."""

    @property
    def has_query(self) -> bool:
        """Whether the rules reading the query can run (a load has none to read)."""
        return self.model.analysis is not None or isinstance(
            self.model.spec.materialization, LoadMaterialization
        )


def salvage(source: Path, sql_dir: Path, display_base: Path | None) -> Salvaged | None:
    """The model of a file in error as far as it can be built; None when nothing can."""
    try:
        text = source.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if "\x00" in text:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    path = display_path(source, display_base)
    header = parse_header(text, path)
    directives = header.directives
    dropped: set[str] = set()
    for _ in range(_ROUNDS):
        spec, diagnostics = build_spec(
            dataclasses.replace(header, directives=directives), path, relative_path(source, sql_dir)
        )
        if spec is not None:
            break
        refused = {d.location.line for d in diagnostics if d.is_error}
        kept = tuple(d for d in directives if d.location.line not in refused)
        if len(kept) == len(directives):
            return None  # an error no directive carries: the file's name
        dropped |= {d.key.lower() for d in directives if d.location.line in refused}
        directives = kept
    else:
        return None
    analysis = None
    if not isinstance(spec.materialization, LoadMaterialization):
        with contextlib.suppress(SqlSyntaxError):  # the load reported it
            analysis = analyze_sql(header.body, path, header.body_line)
    model = Model(spec, header.body, header.body_line, analysis, source)
    return Salvaged(model, frozenset(dropped))


def salvaged_findings(project: Project, rules: Iterable[Rule]) -> Iterator[Diagnostic]:
    """The findings of ``rules`` in the project's files in error (see the module's doc)."""
    broken = {file.path for file in project.broken_files()}
    if not broken:
        return
    config = project.config
    salvaged = [
        found
        for source in project.files
        if display_path(source, config.display_base) in broken
        and (found := salvage(source, config.sql_dir, config.display_base)) is not None
    ]
    for rule in rules:
        needs = SALVAGED_RULES.get(rule.code)
        if needs is None:
            continue
        models = [
            found.model
            for found in salvaged
            if not found.dropped & needs.directives and (found.has_query or not needs.body)
        ]
        if not models:
            continue
        view = dataclasses.replace(project, graph=build_graph(models), diagnostics=(), files=())
        for finding in rule.check(view):
            if finding.location.path in broken:
                yield finding

"""Build a :class:`~sqlassets.spec.ModelSpec` from a file's header directives.

:func:`build_spec` parses each directive with its parser
(:mod:`sqlassets.spec.directives`, :mod:`sqlassets.spec.checks`), resolves the
model name, assembles the materialization and partitions, applies the rules of
:mod:`sqlassets.spec.invariants`, and reports every problem as a diagnostic
located at its directive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Location, did_you_mean
from sqlassets.header import Header
from sqlassets.spec.checks import parse_check
from sqlassets.spec.directives import DIRECTIVES, PARSERS, REPEATABLE
from sqlassets.spec.invariants import (
    Problem,
    directive_not_for_materialization,
    invariant_problems,
    load_without_uris,
    merge_without_unique_key,
    time_partitions_without_start,
    window_bounds_without_time_partitions,
)
from sqlassets.spec.model import ModelSpec
from sqlassets.spec.types import (
    MAX_CLUSTER_COLUMNS,
    Backfill,
    CheckSpec,
    FileFormat,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    LoadMode,
    Materialization,
    Materialized,
    MergeMaterialization,
    OnSchemaChange,
    Partitions,
    StaticPartitions,
    TableMaterialization,
    TableRef,
    TimePartitions,
    ViewMaterialization,
)
from sqlassets.values import IDENTIFIER, InvalidValue


@dataclass
class GivenDirectives:
    """What a file's directives gave: parsed values, where each key stands, the diagnostics."""

    path: str
    values: dict[str, Any] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    """Where each key was first written, valid or not."""
    checks: list[CheckSpec] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def at(self, key: str) -> Location:
        """Where ``key`` was written, else the top of the file."""
        return self.locations.get(key) or Location(self.path, 1, 1)

    def report(self, code: Code, message: str, location: Location) -> None:
        """Record a diagnostic."""
        self.diagnostics.append(Diagnostic(code, message, location))

    def report_problems(self, problems: Iterable[Problem]) -> None:
        """Record each problem at the directive it names."""
        for problem in problems:
            self.report(problem.code, problem.message, self.at(problem.key))


def name_from_path(relative: PurePosixPath) -> TableRef | None:
    """``<dataset>/…/<table>.sql`` to ``dataset.table``, or None if the path has no dataset."""
    if len(relative.parts) < 2:
        return None
    dataset, table = relative.parts[0], relative.stem
    for part, what in ((dataset, "folder"), (table, "file name")):
        if "." in part:
            raise InvalidValue(f"the {what} `{part}` holds a `.`, which would split the name")
        if not IDENTIFIER.fullmatch(part):
            raise InvalidValue(
                f"the {what} `{part}` is not a valid name: use letters, digits and "
                "underscores, starting with a letter or underscore"
            )
    return TableRef(dataset=dataset, table=table)


def build_spec(
    header: Header, path: str, relative: PurePosixPath
) -> tuple[ModelSpec | None, list[Diagnostic]]:
    """Validate ``header``'s directives into a :class:`ModelSpec`.

    ``path`` is the file as shown to the user; ``relative`` its path under the
    SQL folder, which gives the default name. Returns the spec (None if any
    error) and every problem found, each pointing at its directive.
    """
    given = parse_directives(header, path)
    name = _resolve_name(given, path, relative)
    materialized: Materialized = given.values.get("materialized", Materialized.TABLE)
    given.report_problems(directive_not_for_materialization(materialized, given.locations))
    materialization = _materialization(given, materialized)
    partitions = _partitions(given)
    _limit_cluster_columns(given)
    fields: dict[str, Any] = {
        "materialization": materialization,
        "partitions": partitions,
        "partition_by": given.values.get("partition_by"),
        "cluster_by": given.values.get("cluster_by", ()),
        "backfill": given.values.get("backfill", Backfill()),
        "schedule": given.values.get("schedule"),
    }
    # A partitions value that did not parse says nothing about the other rules.
    if materialization is not None and (
        "partitions" not in given.locations or partitions is not None
    ):
        given.report_problems(invariant_problems(fields))
    if materialized is Materialized.LOAD and header.body.strip() and _has_sql(header.body):
        given.report(
            Code.BODY_SHAPE,
            "a load model has no query: remove the SQL below the header",
            Location(path, header.body_line, 1),
        )
    if any(d.is_error for d in given.diagnostics) or name is None or materialization is None:
        return None, given.diagnostics
    return _spec(given, header, path, name, fields), given.diagnostics


def parse_directives(header: Header, path: str) -> GivenDirectives:
    """Parse each directive's value; report unknown keys, repeats, empty and invalid values."""
    given = GivenDirectives(path)
    check_names: dict[str, int] = {}
    for directive in header.directives:
        key = directive.key.lower()
        if key not in DIRECTIVES:
            hint = did_you_mean(key, sorted(DIRECTIVES), prefix="@")
            given.report(
                Code.UNKNOWN_DIRECTIVE,
                f"unknown directive `@{directive.key}`"
                f"{hint or '; see the header keys in the README'}",
                directive.location,
            )
            continue
        if key in given.locations and key not in REPEATABLE:
            given.report(
                Code.REPEATED_DIRECTIVE,
                f"@{key} is already set on line {given.locations[key].line}; give it once",
                directive.location,
            )
            continue
        given.locations.setdefault(key, directive.location)
        if not directive.value:
            given.report(Code.INVALID_VALUE, f"@{key} needs a value", directive.value_location)
            continue
        try:
            if key == "check":
                given.checks.append(parse_check(directive.value, directive.location, check_names))
            else:
                given.values[key] = PARSERS[key](directive.value)
        except InvalidValue as error:
            code = _VALUE_CODES.get(key, Code.INVALID_VALUE)
            given.report(code, error.message, directive.value_location.shifted(cols=error.offset))
    return given


_VALUE_CODES = {"name": Code.INVALID_NAME, "freshness": Code.FRESHNESS}
"""Directives whose invalid values have a code of their own (else SA102)."""


def _resolve_name(given: GivenDirectives, path: str, relative: PurePosixPath) -> TableRef | None:
    """``@name``, else the name the path gives; SA106 when neither is valid."""
    top = Location(path, 1, 1)
    hidden = file_name_problem(relative)
    if hidden is not None:
        given.report(Code.INVALID_NAME, hidden, top)
        return None
    if "name" in given.locations:
        return given.values.get("name")
    try:
        name = name_from_path(relative)
    except InvalidValue as error:
        given.report(
            Code.INVALID_NAME,
            f"the path gives the model name `{relative.parts[0]}.{relative.stem}`, which is "
            f"invalid: {error.message}; rename the file or set `@name: dataset.table`",
            top,
        )
        return None
    if name is None:
        given.report(
            Code.INVALID_NAME,
            "a file directly in the SQL folder has no dataset: move it to "
            "`<dataset>/<table>.sql` or set `@name: dataset.table`",
            top,
        )
    return name


def file_name_problem(relative: PurePosixPath) -> str | None:
    """Why a model file's own name is refused even with ``@name`` (a hidden file), or None.

    ``.sql``, ``..sql`` and ``.orders.sql`` are hidden from most tools, and
    ``..sql`` reads like a path; such a file was once skipped without a word.
    """
    if not relative.name.startswith("."):
        return None
    return (
        f"`{relative.name}` is a hidden file name, not a model: name the file "
        "`<table>.sql` with letters, digits and `_`, or move it out of the SQL folder"
    )


def _materialization(given: GivenDirectives, materialized: Materialized) -> Materialization | None:
    """The materialization ``@materialized`` and its directives describe, None if incomplete."""
    values, declared = given.values, given.locations
    on_schema_change = values.get("on_schema_change", OnSchemaChange.FAIL)
    if materialized is Materialized.MERGE:
        given.report_problems(merge_without_unique_key(materialized, declared))
        if "unique_key" not in values:
            return None
        return MergeMaterialization(
            unique_key=values["unique_key"],
            on_schema_change=on_schema_change,
            merge_filter=values.get("merge_filter"),
        )
    if materialized is Materialized.LOAD:
        given.report_problems(load_without_uris(materialized, declared))
        if "uris" not in values:
            return None
        return LoadMaterialization(
            uris=values["uris"],
            format=values.get("format", FileFormat.PARQUET),
            sensor=values.get("sensor"),
            ready_marker=values.get("ready_marker"),
            retention_days=values.get("retention_days"),
            load_mode=values.get("load_mode", LoadMode.OVERWRITE),
        )
    if materialized is Materialized.INSERT_OVERWRITE:
        return InsertOverwriteMaterialization(on_schema_change=on_schema_change)
    if materialized is Materialized.VIEW:
        return ViewMaterialization()
    return TableMaterialization()


def _partitions(given: GivenDirectives) -> Partitions | None:
    """The partitions ``@partitions``, ``@start`` and ``@end`` describe, None if none or invalid."""
    values, declared = given.values, given.locations
    if "partitions" not in values:
        if "partitions" not in declared:
            given.report_problems(window_bounds_without_time_partitions(None, declared))
        return None
    kind, value = values["partitions"]
    if kind == "static":
        given.report_problems(window_bounds_without_time_partitions("static", declared))
        return StaticPartitions(keys=value)
    if "start" not in values:
        given.report_problems(time_partitions_without_start(value, declared))
        return None
    return TimePartitions(cadence=value, start=values["start"], end=values.get("end"))


def _limit_cluster_columns(given: GivenDirectives) -> None:
    """SA102 for more cluster columns than BigQuery takes (then dropped, to check the rest)."""
    columns = given.values.get("cluster_by")
    if columns is not None and len(columns) > MAX_CLUSTER_COLUMNS:
        given.report(
            Code.INVALID_VALUE,
            f"BigQuery clusters by at most {MAX_CLUSTER_COLUMNS} columns",
            given.locations["cluster_by"],
        )
        given.values.pop("cluster_by")


def _spec(
    given: GivenDirectives, header: Header, path: str, name: TableRef, fields: dict[str, Any]
) -> ModelSpec:
    values = given.values
    return ModelSpec(
        name=name,
        path=path,
        description=header.description,
        depends_on=values.get("depends_on", ()),
        checks=tuple(given.checks),
        maximum_bytes_billed=values.get("maximum_bytes_billed"),
        labels=values.get("labels", ()),
        owners=values.get("owners", ()),
        tags=values.get("tags", ()),
        group=values.get("group"),
        freshness=values.get("freshness"),
        locations=given.locations,
        **fields,
    )


def _has_sql(body: str) -> bool:
    """Whether ``body`` holds anything but comments and blank lines."""
    for line in body.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return True
    return False

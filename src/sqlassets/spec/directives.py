"""Directive values: one parser per header key, and the :data:`DIRECTIVES` registry.

Each parser takes the text after ``@key:`` and returns the typed value, or
raises :class:`~sqlassets.values.InvalidValue` with the offset of the problem
inside the value. ``@check`` has its own small language
(:mod:`sqlassets.spec.checks`); ``@merge_filter`` is boolean SQL
(:mod:`sqlassets.spec.conditions`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlassets.errors import did_you_mean
from sqlassets.parameters import PARTITION_KEY, START_DATE
from sqlassets.spec.conditions import parse_merge_filter
from sqlassets.spec.types import (
    PLACEHOLDER,
    Backfill,
    Cadence,
    FileFormat,
    FileSensor,
    Granularity,
    LoadMode,
    Materialized,
    OnSchemaChange,
    PartitionBy,
    TableRef,
    UriTemplate,
)
from sqlassets.values import (
    IDENTIFIER,
    PROJECT_ID,
    InvalidValue,
    parse_bytes,
    parse_freshness,
    valid_cron,
)

_LABEL = re.compile(r"[a-z0-9_\-]{0,63}")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_\-]{0,62}")
_TAG_KEY = re.compile(r"[A-Za-z0-9_.\-/]{1,63}")
_TAG_VALUE = re.compile(r"[A-Za-z0-9_.\-]{0,63}")
_STATIC_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")
_TEAM = re.compile(r"team:[A-Za-z0-9_\-]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._\-]*[a-z0-9]")
_BUCKET_COMPONENT_MAX = 63
_BUCKET_MAX = 222
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_URI_FORBIDDEN = re.compile(r"[\s'\"`\\;\x00-\x1f\x7f]")
_STRFTIME_CODE = re.compile(r"%.")
_STRFTIME = re.compile(r"(?:%[YmdHjUuVGgWa-zA-Z%]|[^%{}])*")

RESERVED_LABELS = frozenset({"sqlassets_asset", "dagster_run_id", "sqlassets_window"})
"""Job labels sqlassets sets itself; a model may not set them."""


def parse_table_name(value: str, allow_project: bool = False) -> TableRef:
    """Parse ``dataset.table`` (or ``project.dataset.table``), backticks allowed."""
    text = value.strip()
    if text.startswith("`") and text.endswith("`") and len(text) > 1:
        text = text[1:-1]
    parts = [part.strip("`") for part in text.split(".")]
    if allow_project and len(parts) == 3:
        project, dataset, table = parts
        if not PROJECT_ID.fullmatch(project):
            raise InvalidValue(f"`{project}` is not a Google Cloud project id")
    elif len(parts) == 2:
        project = None
        dataset, table = parts
    else:
        form = "[project.]dataset.table" if allow_project else "dataset.table"
        raise InvalidValue(f"`{value}` is not a table name of the form `{form}`")
    for part in (dataset, table):
        if not IDENTIFIER.fullmatch(part):
            raise InvalidValue(
                f"`{part}` is not a valid name: use letters, digits and underscores, "
                "starting with a letter or underscore"
            )
    return TableRef(dataset=dataset, table=table, project=project)


def split_list(value: str) -> list[tuple[str, int]]:
    """Split a comma list, respecting brackets and quotes; items with their offsets."""
    items: list[tuple[str, int]] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(value):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append((value[start:index], start))
            start = index + 1
    items.append((value[start:], start))
    result = []
    for text, offset in items:
        stripped = text.strip()
        if not stripped:
            raise InvalidValue("empty item in list", offset)
        result.append((stripped, offset + len(text) - len(text.lstrip())))
    return result


def parse_columns(value: str, what: str = "column") -> tuple[str, ...]:
    """A comma list of distinct column names (compared case-insensitively)."""
    columns = []
    seen: set[str] = set()
    for item, offset in split_list(value):
        name = item.strip("`")
        if not IDENTIFIER.fullmatch(name):
            raise InvalidValue(f"`{item}` is not a {what} name", offset)
        if name.lower() in seen:
            raise InvalidValue(f"{what} `{name}` is listed twice", offset)
        seen.add(name.lower())
        columns.append(name)
    return tuple(columns)


def _parse_choice(value: str, enum: type[StrEnum]) -> Any:
    try:
        return enum(value.strip().lower())
    except ValueError:
        options = [member.value for member in enum]
        message = f"`{value}` is not one of {', '.join(options)}{_suggest(value, options)}"
        raise InvalidValue(message) from None


def _suggest(word: str, options: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    return did_you_mean(word.lower(), options)


_PARTITION_BY = re.compile(
    r"(?:(?P<date>DATE)\s*\(\s*(?P<date_col>\w+)\s*\)"
    r"|(?P<fn>DATE_TRUNC|TIMESTAMP_TRUNC|DATETIME_TRUNC)\s*\(\s*(?P<fn_col>\w+)\s*,\s*"
    r"(?P<unit>\w+)\s*\)"
    r"|(?P<col>\w+))",
    re.IGNORECASE,
)
_TRUNC_UNITS = {
    "DATE_TRUNC": {"MONTH", "YEAR"},
    "TIMESTAMP_TRUNC": {"HOUR", "DAY", "MONTH", "YEAR"},
    "DATETIME_TRUNC": {"HOUR", "DAY", "MONTH", "YEAR"},
}


def _parse_partition_by(value: str) -> PartitionBy:
    match = _PARTITION_BY.fullmatch(value.strip())
    if match is None:
        raise InvalidValue(
            f"`{value}` is not a BigQuery partitioning: use `col`, `DATE(ts)`, "
            "`TIMESTAMP_TRUNC(ts, HOUR)` or `DATE_TRUNC(d, MONTH)`"
        )
    if match.group("date"):
        return PartitionBy(column=parse_identifier(match.group("date_col")), function="DATE")
    if match.group("fn"):
        function = match.group("fn").upper()
        unit = match.group("unit").upper()
        if unit not in _TRUNC_UNITS[function]:
            allowed = ", ".join(sorted(_TRUNC_UNITS[function]))
            raise InvalidValue(
                f"{function} partitioning takes one of {allowed}, not `{unit}`",
                match.start("unit"),
            )
        return PartitionBy(
            column=parse_identifier(match.group("fn_col")),
            function=function,
            granularity=Granularity(unit),
        )
    return PartitionBy(column=parse_identifier(match.group("col")))


def parse_identifier(name: str) -> str:
    """``name`` if it is a valid column name."""
    if not IDENTIFIER.fullmatch(name):
        raise InvalidValue(f"`{name}` is not a column name")
    return name


def _parse_datetime(value: str) -> datetime:
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise InvalidValue(f"`{value}` is not a date: write `YYYY-MM-DD` or `YYYY-MM-DD HH:MM`")


_VALUES = re.compile(r"values\s*\((?P<items>.*)\)", re.IGNORECASE | re.DOTALL)


def _parse_partitions(value: str) -> tuple[str, Any]:
    text = value.strip()
    match = _VALUES.fullmatch(text)
    if match is None:
        if text.lower().startswith("values"):
            raise InvalidValue("static partitions are written `values(a, b, c)`")
        return ("time", _parse_choice(text, Cadence))
    keys: list[str] = []
    for item, offset in split_list(match.group("items")):
        key = item
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
            key = key[1:-1]
        at = match.start("items") + offset
        if not _STATIC_KEY.fullmatch(key):
            raise InvalidValue(
                f"partition key `{item}` may only hold letters, digits, `_`, `-` and `.` "
                "(at most 64)",
                at,
            )
        if key in keys:
            raise InvalidValue(f"partition key `{key}` is listed twice", at)
        keys.append(key)
    return ("static", tuple(keys))


def _parse_backfill(value: str) -> Backfill:
    text = value.strip().lower().replace(" ", "")
    if text == "single_run":
        return Backfill()
    match = re.fullmatch(r"max_partitions=(\d+)", text)
    if match is None or int(match.group(1)) < 1:
        raise InvalidValue(f"`{value}` is not `single_run` or `max_partitions=N` (N >= 1)")
    return Backfill(max_partitions=int(match.group(1)))


def _parse_schedule(value: str) -> str:
    text = " ".join(value.split())
    if not valid_cron(text):
        raise InvalidValue(
            f"`{value}` is not a cron expression: five fields `minute hour day month weekday`, "
            "for example `0 3 * * *`"
        )
    return text


def _parse_table_list(value: str) -> tuple[TableRef, ...]:
    refs = []
    for item, offset in split_list(value):
        try:
            refs.append(parse_table_name(item, allow_project=True))
        except InvalidValue as error:
            raise InvalidValue(error.message, offset) from None
    return tuple(refs)


def _parse_labels(value: str) -> tuple[tuple[str, str], ...]:
    labels: list[tuple[str, str]] = []
    for item, offset in split_list(value):
        key, equals, label = item.partition("=")
        key, label = key.strip(), label.strip()
        if not equals or not _LABEL_KEY.fullmatch(key) or not _LABEL.fullmatch(label):
            raise InvalidValue(
                f"`{item}` is not a BigQuery label `key=value`: lowercase letters, digits, `_` "
                "and `-`, at most 63 characters, keys starting with a letter",
                offset,
            )
        if key in RESERVED_LABELS:
            raise InvalidValue(f"label `{key}` is set by sqlassets itself", offset)
        if any(existing == key for existing, _ in labels):
            raise InvalidValue(f"label `{key}` is given twice", offset)
        labels.append((key, label))
    return tuple(labels)


def _parse_owners(value: str) -> tuple[str, ...]:
    owners = []
    for item, offset in split_list(value):
        if not (_EMAIL.fullmatch(item) or _TEAM.fullmatch(item)):
            raise InvalidValue(f"`{item}` is not an email address or `team:name`", offset)
        owners.append(item)
    return tuple(owners)


def _parse_tags(value: str) -> tuple[tuple[str, str], ...]:
    tags = []
    for item, offset in split_list(value):
        key, _, tag_value = item.partition("=")
        key, tag_value = key.strip(), tag_value.strip()
        if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(tag_value):
            raise InvalidValue(
                f"`{item}` is not a tag `key` or `key=value` (letters, digits, `_`, `-`, `.`; "
                "at most 63 characters)",
                offset,
            )
        tags.append((key, tag_value))
    return tuple(tags)


def _parse_group(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_]+", text):
        raise InvalidValue(f"`{value}` is not a group name (letters, digits and `_`)")
    return text


def check_gcs_uri(uri: str) -> None:
    """Refuse a ``gs://bucket/path`` URI that is malformed or does not stay in its bucket.

    The bucket must follow Cloud Storage's naming rules, and no segment of the
    path may be ``.`` or ``..``, written plainly or percent-encoded: Cloud
    Storage reads such a segment as part of an object name while a local folder
    (DuckDB's ``gcs_root``) resolves it, so the two engines would read different
    files, and ``..`` would leave the bucket. Raises
    :class:`~sqlassets.values.InvalidValue` located inside ``uri``. Also usable
    on a rendered URI, as a guard before a file is read.
    """
    _check_gcs_uri(uri, uri)


def _check_gcs_uri(uri: str, shown: str) -> None:
    """:func:`check_gcs_uri`; messages quote ``shown``, ``uri`` with its placeholders unmasked."""
    if not uri.startswith("gs://"):
        raise InvalidValue(f"`{shown}` is not a `gs://bucket/path` URI")
    forbidden = _URI_FORBIDDEN.search(uri)
    if forbidden is not None:
        char = forbidden.group()
        text = char if char in "'\"`\\;" else repr(char)[1:-1]
        raise InvalidValue(
            f"`{text}` may not appear in a URI: write `gs://bucket/path` with `/` between "
            "folders and no spaces, quotes, `\\` or `;`",
            forbidden.start(),
        )
    bucket, slash, path = uri[len("gs://") :].partition("/")
    _check_bucket(bucket)
    if not slash or not path:
        raise InvalidValue(
            f"`{shown}` names no object: write `gs://{bucket}/path/to/file`", len(uri)
        )
    _check_object_path(uri, shown, len("gs://") + len(bucket) + 1)


def _check_bucket(bucket: str) -> None:
    """Cloud Storage bucket naming rules, located at the bucket (offset 5 in the URI)."""
    at = len("gs://")
    rules = (
        "bucket names are 3-63 lowercase letters, digits, `-`, `_` and `.` (up to 222 with "
        "dots, at most 63 between two dots), starting and ending with a letter or digit"
    )
    if not bucket:
        raise InvalidValue(f"the URI has no bucket: write `gs://bucket/path`; {rules}", at)
    components = bucket.split(".")
    if (
        not _BUCKET.fullmatch(bucket)
        or len(bucket) > (_BUCKET_MAX if len(components) > 1 else _BUCKET_COMPONENT_MAX)
        or any(not part or len(part) > _BUCKET_COMPONENT_MAX for part in components)
        or any(part.startswith(("-", "_")) or part.endswith(("-", "_")) for part in components)
    ):
        raise InvalidValue(f"`{bucket}` is not a Cloud Storage bucket name: {rules}", at)
    if _IPV4.fullmatch(bucket):
        raise InvalidValue(f"`{bucket}` is not a bucket name: it is an IP address", at)
    if bucket.startswith("goog") or "google" in bucket:
        raise InvalidValue(
            f"`{bucket}` is not a bucket name: Cloud Storage refuses names starting with "
            "`goog` or containing `google`",
            at,
        )


def _check_object_path(uri: str, shown: str, start: int) -> None:
    """No ``.``/``..`` segment, plain or percent-encoded, in the path from offset ``start``."""
    bucket = uri[len("gs://") : start - 1]
    depth = 0
    kept: list[tuple[int, int]] = []
    first_dot: int | None = None
    offset = start
    for segment in uri[start:].split("/"):
        decoded = _unquote_fully(segment)
        if decoded != segment and ("/" in decoded or "\\" in decoded):
            raise InvalidValue(
                f"`{segment}` is a percent-encoded `/` or `\\`: write folders with a plain `/`",
                offset,
            )
        if decoded == "..":
            depth -= 1
            if depth < 0:
                raise InvalidValue(
                    f"the path leaves the bucket `{bucket}`: `{segment}` climbs above it, and "
                    "locally it would read outside `gcs_root`; name the object from the "
                    "bucket down, with no `..`",
                    offset,
                )
            kept.pop()
        elif decoded != ".":
            depth += 1
            kept.append((offset, offset + len(segment)))
        if decoded in (".", "..") and first_dot is None:
            first_dot = offset
        offset += len(segment) + 1
    if first_dot is not None:
        normalized = "/".join(shown[begin:end] for begin, end in kept)
        raise InvalidValue(
            f"`{shown[first_dot:].split('/', 1)[0]}` in the path names another object on Cloud "
            "Storage than in the local `gcs_root` folder: remove the `.` and `..` segments, "
            f"as in `gs://{bucket}/{normalized}`",
            first_dot,
        )


def _unquote_fully(text: str) -> str:
    """Percent-decode until nothing changes (``%252e`` is ``.`` decoded twice)."""
    for _ in range(8):
        decoded = urllib.parse.unquote(text)
        if decoded == text:
            return decoded
        text = decoded
    return text


def _sample_renderings(uri: str) -> list[str]:
    """``uri`` with every placeholder filled as widely as its values may be.

    A strftime code is filled with a digit and also with nothing (``%Z`` of a
    naive date is empty), so that a format's literal dots cannot form a ``..``
    segment with the template around it whatever the date.
    """

    def fill(code_value: str) -> Callable[[re.Match[str]], str]:
        def substitute(match: re.Match[str]) -> str:
            fmt = match.group("format")
            if fmt is None:
                return "k"
            return _STRFTIME_CODE.sub(lambda code: "%" if code.group() == "%%" else code_value, fmt)

        return substitute

    return [PLACEHOLDER.sub(fill(value), uri) for value in ("0", "")]


def _parse_uris(value: str) -> tuple[UriTemplate, ...]:
    uris = []
    for item, offset in split_list(value):
        uri = item
        if len(uri) >= 2 and uri[0] == uri[-1] and uri[0] in "'\"":
            uri, offset = uri[1:-1], offset + 1
        rest = PLACEHOLDER.sub("", uri)
        if "{" in rest or "}" in rest:
            raise InvalidValue(
                "braces in a URI must be `{partition_key}`, `{start_date}` or "
                "`{start_date:%Y%m%d}`",
                offset + uri.find("{"),
            )
        for match in PLACEHOLDER.finditer(uri):
            name, fmt = match.group("name"), match.group("format")
            if name not in (PARTITION_KEY, START_DATE):
                raise InvalidValue(
                    f"unknown placeholder `{{{name}}}`: use `{{partition_key}}` or "
                    f"`{{start_date}}`{_suggest(name, ('partition_key', 'start_date'))}",
                    offset + match.start(),
                )
            if fmt is not None and (name != START_DATE or not _STRFTIME.fullmatch(fmt)):
                raise InvalidValue(
                    "only `{start_date}` takes a format, written with strftime codes such as "
                    "`{start_date:%Y%m%d}`",
                    offset + match.start(),
                )
        _check_template(uri, offset)
        uris.append(UriTemplate(template=uri))
    return tuple(uris)


def _check_template(uri: str, offset: int) -> None:
    """:func:`check_gcs_uri` on a template: its literal text, then its widest renderings."""
    masked = PLACEHOLDER.sub(lambda match: "x" * len(match.group()), uri)
    try:
        _check_gcs_uri(masked, uri)
    except InvalidValue as error:
        raise InvalidValue(error.message, offset + min(error.offset, len(uri))) from None
    for rendered in _sample_renderings(uri):
        try:
            check_gcs_uri(rendered)
        except InvalidValue as error:
            first = next(PLACEHOLDER.finditer(uri))
            raise InvalidValue(error.message, offset + first.start()) from None


_MARKER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_MIN_FILES = re.compile(r"min_files\s*=\s*(?P<n>\S*)")


def _parse_sensor(value: str) -> FileSensor:
    text = value.strip()
    kind, _, rest = text.partition(" ")
    if kind.lower() != "files":
        raise InvalidValue(
            f"`{kind}` is not a sensor: write `files` or `files min_files=N`"
            f"{_suggest(kind, ('files',))}"
        )
    rest_at = len(value) - len(value.lstrip()) + len(kind) + 1
    options = rest.strip()
    if not options:
        return FileSensor()
    at = rest_at + len(rest) - len(rest.lstrip())
    match = _MIN_FILES.fullmatch(options)
    if match is None:
        raise InvalidValue(f"`{options}` is not an option of `files`: write `min_files=N`", at)
    number = match.group("n")
    if not number.isdigit() or int(number) < 1:
        raise InvalidValue(
            f"min_files takes a whole number of at least 1, not `{number}`", at + match.start("n")
        )
    return FileSensor(min_files=int(number))


def _parse_ready_marker(value: str) -> str:
    text = value.strip()
    if not _MARKER.fullmatch(text) or set(text) == {"."}:
        raise InvalidValue(
            f"`{text}` is not a marker file name: write a name such as `_SUCCESS` (letters, "
            "digits, `_`, `-` and `.`, no `/` or wildcard); it is looked for next to each "
            "URI's files"
        )
    return text


def _parse_retention_days(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or int(text) < 1 or int(text) > 36500:
        raise InvalidValue(f"`{text}` is not a number of days from 1 to 36500")
    return int(text)


PARSERS: dict[str, Callable[[str], Any]] = {
    "name": parse_table_name,
    "materialized": lambda v: _parse_choice(v, Materialized),
    "unique_key": parse_columns,
    "partition_by": _parse_partition_by,
    "cluster_by": parse_columns,
    "partitions": _parse_partitions,
    "start": _parse_datetime,
    "end": _parse_datetime,
    "backfill": _parse_backfill,
    "schedule": _parse_schedule,
    "depends_on": _parse_table_list,
    "uris": _parse_uris,
    "format": lambda v: _parse_choice(v, FileFormat),
    "maximum_bytes_billed": parse_bytes,
    "labels": _parse_labels,
    "owners": _parse_owners,
    "tags": _parse_tags,
    "group": _parse_group,
    "on_schema_change": lambda v: _parse_choice(v, OnSchemaChange),
    "merge_filter": parse_merge_filter,
    "freshness": parse_freshness,
    "sensor": _parse_sensor,
    "ready_marker": _parse_ready_marker,
    "retention_days": _parse_retention_days,
    "load_mode": lambda v: _parse_choice(v, LoadMode),
}
"""The parser of each directive given at most once."""
REPEATABLE = frozenset({"check"})
"""Directives that may be given several times (parsed by :mod:`sqlassets.spec.checks`)."""
DIRECTIVES = frozenset(PARSERS) | REPEATABLE
"""Every header key a model file may use."""

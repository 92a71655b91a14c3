"""Value parsers shared by the model header (:mod:`sqlassets.spec`) and the configuration.

A parser raises :class:`InvalidValue`, whose ``offset`` says where in the
value the problem starts, so the header can point at the exact character.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A BigQuery dataset, table or column name as sqlassets accepts it."""
PROJECT_ID = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]")
"""A Google Cloud project id."""

_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?", re.IGNORECASE)
_BYTE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "PB": 10**15,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "PIB": 2**50,
}


class InvalidValue(ValueError):
    """A value that does not parse; ``offset`` is where in the value the problem starts."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


MAX_BYTES = 2**63 - 1
"""The largest byte limit BigQuery takes (``maximumBytesBilled`` is an int64)."""


def parse_bytes(value: str) -> int:
    """``50GB`` (decimal units), ``1TiB`` (binary units) or a plain byte count.

    Computed exactly (no float), and refused above :data:`MAX_BYTES`.
    """
    match = _BYTES.fullmatch(value.strip())
    if match is None:
        raise InvalidValue(f"`{value}` is not a byte size such as `50GB`, `1TiB` or `1000000`")
    number = match.group(1)
    unit = _BYTE_UNITS[(match.group(2) or "B").upper()]
    whole, _, fraction = number.partition(".")
    if len(whole.lstrip("0")) > _MAX_DIGITS:
        raise InvalidValue(_too_large(value))
    amount = int(Decimal(f"{whole}.{fraction[:_MAX_DIGITS] or 0}") * unit)
    if amount < 1:
        raise InvalidValue("the byte limit must be at least 1 byte")
    if amount > MAX_BYTES:
        raise InvalidValue(_too_large(value))
    return amount


_MAX_DIGITS = 40
"""Longer numbers are refused before any arithmetic (a 400-digit value is no byte limit)."""


def _too_large(value: str) -> str:
    shown = value.strip() if len(value.strip()) <= 24 else f"{value.strip()[:20]}…"
    return (
        f"`{shown}` is larger than BigQuery's largest byte limit (about 9.2 EB, "
        f"{MAX_BYTES} bytes): write a size such as `50GB` or `1TiB`"
    )


_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)", re.IGNORECASE)
_DURATION_UNITS = {
    "s": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
}
MAX_FRESHNESS_S = 366 * 86400
"""The longest ``max_lag`` accepted: a year (a longer one is a typo, not a freshness rule)."""


def parse_duration(value: str) -> timedelta:
    """``26h``, ``90m``, ``1d12h``, ``2w``: a positive duration of whole seconds or more."""
    text = value.strip()
    position, seconds = 0, 0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _DURATION_UNITS:
            raise InvalidValue(
                f"`{value.strip()}` is not a duration such as `26h`, `90m`, `1d12h` or `2w` "
                "(units s, m, h, d, w)",
                position,
            )
        if len(match.group(1)) > 9:
            raise InvalidValue(f"`{match.group(0)}` is too long a duration", position)
        seconds += int(match.group(1)) * _DURATION_UNITS[unit]
        position = match.end()
        while position < len(text) and text[position] == " ":
            position += 1
    if not text:
        raise InvalidValue("a duration such as `26h` is needed")
    if seconds <= 0:
        raise InvalidValue(f"`{text}` is not a positive duration")
    if seconds > MAX_FRESHNESS_S:
        raise InvalidValue(f"`{text}` is longer than a year; give at most `366d`")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Freshness:
    """How stale a table may get: updated within ``max_lag`` (of ``deadline``, a cron, if set)."""

    max_lag: timedelta
    deadline: str | None = None
    """A cron expression (UTC): from each tick on, an update within ``max_lag`` before it."""

    def describe(self) -> str:
        """``max_lag=26h`` or ``max_lag=1h, deadline=0 9 * * *``, as written in a header."""
        text = f"max_lag={format_duration(self.max_lag)}"
        return f"{text}, deadline={self.deadline}" if self.deadline else text


def format_duration(duration: timedelta) -> str:
    """``1d2h``: the shortest form :func:`parse_duration` reads back."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def parse_freshness(value: str) -> Freshness:
    """``26h``, or ``max_lag=26h[, deadline=<cron>]``."""
    text = value.strip()
    if "=" not in text:
        return Freshness(parse_duration(text))
    max_lag: timedelta | None = None
    deadline: str | None = None
    offset = len(value) - len(value.lstrip())
    for item in text.split(","):
        key, equals, part = item.partition("=")
        start = offset + len(key) + len(equals) + (len(part) - len(part.lstrip()))
        name = key.strip().lower()
        if not equals or name not in ("max_lag", "deadline"):
            raise InvalidValue(
                f"`{item.strip()}` is not `max_lag=<duration>` or `deadline=<cron>`", offset
            )
        if name == "max_lag":
            try:
                max_lag = parse_duration(part)
            except InvalidValue as error:
                raise InvalidValue(error.message, start + error.offset) from None
        else:
            deadline = " ".join(part.split())
            if not valid_cron(deadline):
                raise InvalidValue(
                    f"`{deadline}` is not a cron deadline: five fields `minute hour day month "
                    "weekday`, for example `0 9 * * *`",
                    start,
                )
        offset += len(item) + 1
    if max_lag is None:
        raise InvalidValue("give `max_lag=<duration>`, for example `max_lag=26h`")
    return Freshness(max_lag, deadline)


@functools.lru_cache(maxsize=1024)
def valid_cron(text: str) -> bool:
    """Whether ``text`` is a five-field cron expression (or an ``@daily``-style alias)."""
    fields = text.split(" ")
    if not (len(fields) == 5 or (len(fields) == 1 and text.startswith("@"))):
        return False
    # Imported on first use: most runs and lint passes see no schedule (~30 ms).
    from croniter import croniter

    return bool(croniter.is_valid(text))

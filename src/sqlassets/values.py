"""Value parsers shared by the model header (:mod:`sqlassets.spec`) and the configuration.

A parser raises :class:`InvalidValue`, whose ``offset`` says where in the
value the problem starts, so the header can point at the exact character.
"""

from __future__ import annotations

import re
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

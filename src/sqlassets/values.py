"""Value parsers shared by the model header (:mod:`sqlassets.spec`) and the configuration.

A parser raises :class:`InvalidValue`, whose ``offset`` says where in the
value the problem starts, so the header can point at the exact character.
"""

from __future__ import annotations

import re

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


def parse_bytes(value: str) -> int:
    """``50GB`` (decimal units), ``1TiB`` (binary units) or a plain byte count."""
    match = _BYTES.fullmatch(value.strip())
    if match is None:
        raise InvalidValue(f"`{value}` is not a byte size such as `50GB`, `1TiB` or `1000000`")
    amount = float(match.group(1)) * _BYTE_UNITS[(match.group(2) or "B").upper()]
    if amount < 1:
        raise InvalidValue("the byte limit must be at least 1 byte")
    return int(amount)

"""A stacked daily bar chart as a PNG, written with the standard library (zlib).

No plotting library is in the lock file, and the chart is simple enough not
to need one: one bar per day, one colour per model, stacked; grid lines at
quarters of the tallest day. The legend (colour to model, scale) is printed
by the caller, since the image holds no text.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (127, 127, 127),
)
"""Colours of the series, in order (matplotlib's ``tab10``)."""
HEX = tuple(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in PALETTE)

_BACKGROUND = (255, 255, 255)
_GRID = (225, 225, 225)
_AXIS = (60, 60, 60)
_HEIGHT = 240
_MARGIN = 20
_BAR = 16
_GAP = 6


def bar_chart(series: Mapping[str, Sequence[int]], path: Path) -> dict[str, str]:
    """Write ``series`` (name -> one value per day) stacked per day to ``path``.

    Returns each series' colour (``#rrggbb``). At most ten series: name the
    rest ``other`` before calling.
    """
    names = list(series)[: len(PALETTE)]
    count = max((len(values) for values in series.values()), default=0)
    width = 2 * _MARGIN + max(count, 1) * (_BAR + _GAP)
    pixels = [[_BACKGROUND] * width for _ in range(_HEIGHT)]
    tallest = max((sum(series[n][d] for n in names) for d in range(count)), default=0)
    plot = _HEIGHT - 2 * _MARGIN
    for quarter in range(1, 5):
        row = _HEIGHT - _MARGIN - quarter * plot // 4
        pixels[row] = [
            _GRID if _MARGIN <= x < width - _MARGIN else _BACKGROUND for x in range(width)
        ]
    for day in range(count):
        left = _MARGIN + day * (_BAR + _GAP) + _GAP // 2
        base = _HEIGHT - _MARGIN
        for index, name in enumerate(names):
            value = series[name][day]
            if not value or not tallest:
                continue
            height = max(1, round(value * plot / tallest))
            for y in range(max(base - height, _MARGIN), base):
                pixels[y][left : left + _BAR] = [PALETTE[index]] * _BAR
            base -= height
    for x in range(_MARGIN, width - _MARGIN):
        pixels[_HEIGHT - _MARGIN][x] = _AXIS
    for y in range(_MARGIN, _HEIGHT - _MARGIN + 1):
        pixels[y][_MARGIN] = _AXIS
    path.write_bytes(encode(pixels))
    return {name: HEX[index] for index, name in enumerate(names)}


def encode(pixels: Sequence[Sequence[tuple[int, int, int]]]) -> bytes:
    """An RGB image (rows of pixels) as PNG bytes: 8-bit truecolour, no filtering."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\0" + bytes(c for pixel in row for c in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )

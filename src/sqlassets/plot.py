"""The daily cost chart of ``sqlassets cost --plot``, drawn with matplotlib.

matplotlib is the optional ``plot`` extra (``pip install 'sqlassets[plot]'``):
it is the only code that needs it, and the heaviest package we would pull. The
chart is stacked bars of bytes billed per day, one colour per model, with a
title, dated x axis, byte-unit y axis and a legend. The figure is built with
matplotlib's object API on the Agg canvas, never ``pyplot``, so no global state
or display is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlassets.costs import format_bytes
from sqlassets.errors import SqlAssetsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = (
    "--plot needs matplotlib: pip install 'sqlassets[plot]' (or uv add 'sqlassets[plot]')"
)


class PlotUnavailableError(SqlAssetsError):
    """matplotlib is not installed."""


def ensure_available() -> None:
    """Raise :class:`PlotUnavailableError` unless matplotlib can be imported."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailableError(INSTALL_HINT)


def cost_chart(
    series: Mapping[str, Sequence[int]], span: Sequence[date], title: str, path: Path
) -> None:
    """Write ``series`` (model -> bytes billed per day of ``span``) stacked to ``path`` (PNG)."""
    cost_figure(series, span, title).savefig(path, format="png")


def cost_figure(series: Mapping[str, Sequence[int]], span: Sequence[date], title: str) -> Figure:
    """The chart of :func:`cost_chart` as a matplotlib figure (one bar container per model)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator
    except ImportError as error:
        raise PlotUnavailableError(INSTALL_HINT) from error

    figure = Figure(figsize=(max(8.0, 0.35 * len(span) + 5.0), 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(span)))
    base = [0] * len(span)
    for name, values in series.items():
        axes.bar(positions, values, bottom=base, label=name, width=0.8)
        base = [b + v for b, v in zip(base, values, strict=True)]
    axes.set_title(title)
    axes.set_ylabel("bytes billed")
    axes.yaxis.set_major_formatter(FuncFormatter(_bytes_tick))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes.set_ylim(bottom=0, top=max(max(base, default=0) * 1.1, 1))
    step = max(1, len(span) // 12)
    axes.set_xticks(positions[::step], [day.isoformat() for day in span[::step]])
    axes.tick_params(axis="x", labelrotation=45)
    axes.grid(axis="y", color="#e1e1e1")
    axes.set_axisbelow(True)
    if series:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    else:
        axes.text(0.5, 0.5, "nothing billed", ha="center", va="center", transform=axes.transAxes)
    return figure


def _bytes_tick(value: float, _position: Any) -> str:
    return format_bytes(int(value))

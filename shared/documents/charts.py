"""Charts as SVG, drawn by matplotlib from a ``Chart``'s data (no pyplot: no global state)."""

from __future__ import annotations

import hashlib
import io
import re
import textwrap
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from shared.documents.model import Chart

_PALETTE = ("#2f5d8a", "#d9822b", "#3c8d5a", "#a23b3b", "#7a5ea8", "#6b6b6b")
_RC: Any = {  # matplotlib types rcParams keys as literals; these are checked at run time
    "svg.fonttype": "none",  # text stays text: selectable in the PDF, read by pdftotext
    "svg.hashsalt": "baton",  # stable ids, so the same data gives the same bytes
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def chart_svg(chart: Chart, *, width: float = 7.0, height: float = 2.6) -> str:
    """The chart as an ``<svg>`` element (no XML prolog), sized in points for print."""
    with rc_context(_RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.subplots()
        fig.suptitle(chart.title, x=0.01, ha="left", fontsize=9, fontweight="bold")
        if chart.labels:
            _plot(ax, chart)
        else:
            ax.text(0.5, 0.5, "no data this period", ha="center", va="center")
            ax.set_axis_off()
        value_axis = ax.xaxis if chart.kind == "barh" else ax.yaxis
        if chart.percent:
            value_axis.set_major_formatter(PercentFormatter(1.0))
        elif chart.unit == "incidents":  # counts: no half incidents on the axis
            value_axis.set_major_locator(MaxNLocator(integer=True))
        if chart.unit:
            (ax.set_xlabel if chart.kind == "barh" else ax.set_ylabel)(chart.unit)
        if chart.labels and len(chart.series) > 1:
            ax.legend(frameon=False, fontsize=7)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return _scoped(text[text.index("<svg") :], chart.title)


def _plot(ax: Axes, chart: Chart) -> None:
    labels = [textwrap.fill(textwrap.shorten(label, 70), 30) for label in chart.labels]
    positions = list(range(len(chart.labels)))
    if chart.kind == "line":
        for i, series in enumerate(chart.series):
            ax.plot(positions, series.values, marker="o", color=_PALETTE[i % 6], label=series.name)
        ax.set_xticks(positions, labels)
        return
    band = 0.8 / max(len(chart.series), 1)
    for i, series in enumerate(chart.series):
        offsets = [p - 0.4 + band * (i + 0.5) for p in positions]
        draw = ax.barh if chart.kind == "barh" else ax.bar
        draw(offsets, series.values, band, color=_PALETTE[i % 6], label=series.name)
    if chart.kind == "barh":
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(positions, labels)


_ID_REFS = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _scoped(svg: str, title: str) -> str:
    """Give every id in the SVG a prefix of its own: several charts share one page, and
    matplotlib names the parts of each figure alike (``ytick_2``, ``line2d_9``)."""
    prefix = "c" + hashlib.sha1(title.encode(), usedforsecurity=False).hexdigest()[:8] + "-"
    return _ID_REFS.sub(lambda m: m.group(1) + prefix + m.group(2), svg)

"""Charts as SVG text, drawn on the server with matplotlib (no JavaScript, no CDN).

Text stays text in the SVG (``svg.fonttype: none``: small and sharp); every chart is an image labelled
with its title, and the page shows its numbers in a table beside it (the accessible form). Splink's own
waterfall needs Altair and Vega from a CDN, which neither the hub nor an offline agency has: the waterfall
here draws the same thing (the prior, then each comparison's weight, then the total).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: draw into memory only
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

plt.rcParams.update({"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 10,
                     "svg.hashsalt": "family-hub"})  # a fixed salt: the same chart gives the same bytes
_GOOD, _BAD, _NEUTRAL, _TARGET = "#1b6e3a", "#a1262b", "#34495e", "#b35c00"


def _svg(fig: Figure, title: str) -> str:
    """An ``<img>`` whose source is the SVG itself (a data URI), labelled with the chart's title.

    Not inline ``<svg>``: matplotlib styles its SVG with inline style attributes, which the pages' strict
    Content-Security-Policy (no inline styles) would switch off; an image document keeps its own styles and
    never runs a script.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Title": title})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="chart" alt="{_attr(title)}" src="data:image/svg+xml;base64,{data}">'


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def waterfall(prior: float | None, comparisons: dict[str, float], title: str) -> str:
    """Bars from 0: the prior weight, then each comparison's weight stacked on it, the total last."""
    steps = ([("априорный вес", prior)] if prior is not None else []) + sorted(
        comparisons.items(), key=lambda kv: -abs(kv[1]))
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * (len(steps) + 2) + 0.8))
    level = 0.0
    for i, (_name, weight) in enumerate(steps):
        ax.barh(i, weight, left=level, color=_GOOD if weight >= 0 else _BAD)
        ax.text(level + weight, i, f" {weight:+.2f}", va="center", ha="left" if weight >= 0 else "right")
        level += weight
    ax.barh(len(steps), level, color=_NEUTRAL)
    ax.text(level, len(steps), f" {level:.2f}", va="center", ha="left" if level >= 0 else "right")
    ax.set_yticks(range(len(steps) + 1), [n for n, _ in steps] + ["итого (вес совпадения)"])
    ax.invert_yaxis()
    ax.margins(x=0.18)  # room for the weight written at each bar's end
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("вес совпадения (log2 отношения правдоподобия)")
    ax.set_title(title)
    return _svg(fig, title)


def bars(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str = "",
         target: float | None = None) -> str:
    """Horizontal bars, one per label; ``target`` draws a vertical line (a programme target)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(labels) + 1.2))
    ax.barh(range(len(labels)), values, color=_NEUTRAL)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:g}", va="center")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    if target is not None:
        ax.axvline(target, color=_TARGET, linestyle="--", label=f"цель {target:g}")
        ax.legend(loc="lower right")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _svg(fig, title)


def lines(x: Sequence[str], series: dict[str, Sequence[float]], title: str, ylabel: str = "") -> str:
    """One line per series over the same x labels (months, nights)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for name, ys in series.items():
        ax.plot(range(len(x)), ys, marker="o", label=name)
    step = max(1, math.ceil(len(x) / 12))
    ax.set_xticks(range(0, len(x), step), [x[i] for i in range(0, len(x), step)], rotation=30, ha="right")
    if all(v >= 0 for ys in series.values() for v in ys):
        ax.set_ylim(bottom=0)  # a count or a rate: no negative axis below it
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return _svg(fig, title)


def grouped(labels: Sequence[str], series: dict[str, Sequence[float]], title: str, xlabel: str = "") -> str:
    """Horizontal bars, one group per label and one bar per series in it (m and u of each level)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(labels) * max(1, len(series)) / 2 + 1.2))
    height = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        ax.barh([i + k * height for i in range(len(labels))], values, height=height, label=name)
    ax.set_yticks([i + height * (len(series) - 1) / 2 for i in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return _svg(fig, title)

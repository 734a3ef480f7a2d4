"""Charts drawn on the server: the geometry of bar charts, rendered as inline SVG by a template.

No script and no style attribute (the CSP allows neither inline): shapes carry classes that
static/css colours, and every number is also in the table beside the chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The drawing's own units (the SVG scales to its box through viewBox).
WIDTH = 480
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 32


@dataclass(frozen=True)
class Rect:
    """One bar: position, size, its series' class, and what it says (the SVG <title>)."""

    x: float
    y: float
    width: float
    height: float
    series: str
    label: str


@dataclass(frozen=True)
class Chart:
    """A chart's drawing: bars, axis labels, gridlines and the legend."""

    width: int
    height: int
    bars: list[Rect]
    x_labels: list[tuple[float, float, str]]  # x, y, text
    y_ticks: list[tuple[float, str]]  # y, text
    legend: list[tuple[str, str]] = field(default_factory=list)  # series class, label
    plot_left: float = LEFT
    plot_right: float = WIDTH - RIGHT


def nice_top(value: float) -> tuple[float, float]:
    """A round top for the axis at or above value, and its step (1, 2 or 5 times a power of 10)."""
    if value <= 0:
        return 1.0, 1.0
    for step in sorted(m * 10.0**e for e in range(-2, 10) for m in (1, 2, 5)):
        if math.ceil(value / step) <= 5:
            return math.ceil(value / step) * step, step
    return value, value


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def columns(
    categories: list[str],
    series: list[tuple[str, str, list[float]]],
    stacked: bool,
    unit: str = "",
) -> Chart:
    """Vertical bars per category: series (class, label, values) stacked or side by side."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    totals = [
        sum(values[i] for _, _, values in series)
        if stacked
        else max((values[i] for _, _, values in series), default=0)
        for i in range(len(categories))
    ]
    top, step = nice_top(max(totals, default=0))
    slot = plot_width / max(len(categories), 1)
    bar_width = slot * 0.7 / (1 if stacked else max(len(series), 1))
    bars = []
    for i, category in enumerate(categories):
        base = float(TOP + plot_height)
        for s, (css, label, values) in enumerate(series):
            value = values[i]
            height = plot_height * value / top
            x = LEFT + slot * i + slot * 0.15 + (0 if stacked else s * bar_width)
            y = base - height
            text = f"{category}: {label} {_number(value)}{unit}"
            if height > 0:
                bars.append(
                    Rect(round(x, 1), round(y, 1), round(bar_width, 1), round(height, 1), css, text)
                )
            if stacked:
                base = y
    ticks = []
    tick = 0.0
    while tick <= top + 1e-9:
        ticks.append((round(TOP + plot_height - plot_height * tick / top, 1), _number(tick) + unit))
        tick += step
    # Every other category is labelled, counted from the last (this week): twelve labels do
    # not fit side by side at this size, and the table beside the chart names each one.
    last = len(categories) - 1
    x_labels = [
        (round(LEFT + slot * i + slot / 2, 1), float(HEIGHT - BOTTOM + 18), category)
        for i, category in enumerate(categories)
        if (last - i) % 2 == 0
    ]
    return Chart(WIDTH, HEIGHT, bars, x_labels, ticks, [(css, label) for css, label, _ in series])


def horizontal(rows: list[tuple[str, int]], series: str = "bar") -> Chart:
    """One horizontal bar per row (label, count), the label above its bar."""
    line = 36
    height = TOP + line * max(len(rows), 1) + 8
    plot_width = WIDTH - 8 - 56
    top = max((n for _, n in rows), default=0) or 1
    bars = []
    labels = []
    for i, (label, n) in enumerate(rows):
        y = TOP + line * i
        width = plot_width * n / top
        labels.append((8.0, float(y + 12), f"{label}: {n}"))
        if width > 0:
            bars.append(Rect(8, y + 17, round(width, 1), 14, series, f"{label}: {n}"))
    return Chart(WIDTH, height, bars, labels, [], [], plot_left=8, plot_right=WIDTH - 56)

"""The metric chart: one or more series of ``(step, value)`` as lines on shared axes.

One function serves a run's page (a series per metric, or one metric) and the compare page
(the same metric from several runs, a series each). Values that are NaN or infinite cannot
be placed, so they are left out and the chart says how many, per series.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping

from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.svg import attr, document, num, shorten, text

TICKS = 5  # about this many intervals per axis (up to two more once rounded)
POINTS_UP_TO = 40  # series with at most this many points also get a dot per point
LEGEND_CHARS = 48
CHAR_WIDTH = 6.6  # 11px sans-serif, a generous average
MARGIN = 12.0
TITLE_HEIGHT = 36.0
AXIS_BELOW = 38.0  # tick labels and the axis name under the plot
LINE_HEIGHT = 18.0


def line_chart_svg(
    series: Mapping[str, Iterable[tuple[float, float]]],
    *,
    title: str,
    x_label: str = "step",
    width: float = 640.0,
    height: float = 320.0,
) -> str:
    """Draw series of ``(step, value)`` as lines on shared, nicely ticked axes, with a legend.

    Each series is one polyline in its own colour (dots too when it has few points; a single
    point is a dot). NaN and infinite values are skipped and a note under the chart counts
    them per series. ``width`` and ``height`` size the plot area and axes; the legend and
    note add rows below.

    >>> svg = line_chart_svg({"loss": [(0, 1.0), (1, 0.5), (2, float("nan"))]}, title="loss")
    >>> "1 point skipped" in svg
    True
    """
    lines: dict[str, list[tuple[float, float]]] = {}
    skipped: dict[str, int] = {}
    for name, points in series.items():
        kept = []
        for step, value in points:
            x, y = float(step), float(value)
            if math.isfinite(x) and math.isfinite(y):
                kept.append((x, y))
            else:
                skipped[name] = skipped.get(name, 0) + 1
        kept.sort(key=lambda point: point[0])
        lines[name] = kept

    everything = [point for kept in lines.values() for point in kept]
    body = [
        f'<g font-family="{attr(palette.FONT)}" font-size="11" fill="{palette.INK}">',
        f'<text class="dw-chart-title" x="{num(MARGIN)}" y="18" font-size="13"'
        f' font-weight="600">{text(title)}</text>',
    ]
    if everything:
        xs, ys = [x for x, _ in everything], [y for _, y in everything]
        integral = all(x.is_integer() for x in xs)
        x_ticks = nice_ticks(min(xs), max(xs), integral=integral)
        y_ticks = nice_ticks(min(ys), max(ys))
        y_labels = [format_tick(t, y_ticks) for t in y_ticks]
        left = MARGIN + max(len(label) for label in y_labels) * CHAR_WIDTH + 6
        plot = _Plot(left, TITLE_HEIGHT, width - left - MARGIN, height - TITLE_HEIGHT - AXIS_BELOW)
        plot.x_domain = (x_ticks[0], x_ticks[-1])
        plot.y_domain = (y_ticks[0], y_ticks[-1])
        body += _axes(plot, x_ticks, y_ticks, y_labels, x_label)
        for i, (name, kept) in enumerate(lines.items()):
            body.append(_series(plot, i, name, kept))
    else:
        body.append(
            f'<text x="{num(width / 2)}" y="{num(height / 2)}" text-anchor="middle"'
            f' fill="{palette.MUTED}">No data</text>'
        )
    legend, legend_height = _legend(list(lines), width, top=height)
    body.append(legend)
    bottom = height + legend_height
    if skipped:
        total = sum(skipped.values())
        per = ", ".join(f"{shorten(name, LEGEND_CHARS)} ({n})" for name, n in skipped.items())
        note = f"{total} point{'s' if total > 1 else ''} skipped (NaN or infinite): {per}"
        body.append(
            f'<text class="dw-note" x="{num(MARGIN)}" y="{num(bottom + 12)}"'
            f' fill="{palette.MUTED}">{text(note)}</text>'
        )
        bottom += LINE_HEIGHT
    body.append("</g>")
    return document(width, bottom + MARGIN / 2, body, css_class="dw-picture dw-chart", label=title)


def nice_ticks(low: float, high: float, *, integral: bool = False) -> list[float]:
    """Round tick values covering ``low``..``high``: steps of 1, 2 or 5 times a power of ten,
    about :data:`TICKS` intervals; whole steps only when ``integral``. A zero-width range
    is widened around its value.

    >>> nice_ticks(0.13, 0.91)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(-0.04, 1.0)
    [-0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(5, 5, integral=True)
    [4.0, 5.0, 6.0]
    """
    if low == high:
        # Values too small to widen by a tenth (zero, subnormals) are widened by one.
        pad = 1.0 if integral or abs(low) < 1e-300 else abs(low) * 0.1
        low, high = max(low - pad, -sys.float_info.max), min(high + pad, sys.float_info.max)
    # A step finer than about 1e-12 of the values cannot be told apart in a float: a range
    # that narrow is shown wider, so that neighbouring ticks stay distinct numbers.
    # Steps stay normal floats too: a subnormal one has too few digits to count with.
    rough = max((high - low) / (TICKS + 2), max(abs(low), abs(high)) * 1e-12, sys.float_info.min)
    if not math.isfinite(rough):  # a range as wide as the floats go
        return [low, high]
    magnitude = 10.0 ** math.floor(math.log10(rough))
    # The finest step that needs at most TICKS + 2 intervals once rounded outwards.
    for m in (1, 2, 5, 10, 20, 50, 100):
        step = max(m * magnitude, 1.0) if integral else m * magnitude
        # Rounded to the step's own precision, so that 3 * 0.2 is 0.6, not 0.6000000000000001.
        decimals = max(0, 1 - math.floor(math.log10(step)))
        first, last = math.floor(low / step), math.ceil(high / step)
        # Both the division and the rounding may land a hair inside the range; step out.
        while round(first * step, decimals) > low:
            first -= 1
        while round(last * step, decimals) < high:
            last += 1
        if last - first <= TICKS + 2:
            break
    if first == last:  # a value so large that widening it by one changed nothing
        first, last = first - 1, last + 1
    ticks = [round(k * step, decimals) for k in range(first, last + 1)]
    return ticks if math.isfinite(ticks[0]) and math.isfinite(ticks[-1]) else [low, high]


def format_tick(value: float, ticks: list[float]) -> str:
    """A tick label with as many decimals as the tick step needs (no ``-0``, no ``0.30000004``).

    >>> [format_tick(t, [0.0, 0.25, 0.5]) for t in (0.0, 0.25, 0.5)]
    ['0', '0.25', '0.5']
    """
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    largest = max(abs(t) for t in ticks)
    if not (0 < step < math.inf):  # ticks at the float limits, or one repeated value
        return f"{value:g}"
    if largest >= 1e6 or step < 1e-4:
        # Enough significant digits that neighbouring ticks read differently.
        digits = min(17, max(1, math.ceil(math.log10(largest / step)) + 1))
        return f"{value:.{digits}g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    # Steps like 0.25 or 2.5 need one decimal more than their power of ten.
    while decimals < 8 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    out = f"{value:.{decimals}f}"
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out


class _Plot:
    """The plot area in picture coordinates, and the data domain it shows."""

    def __init__(self, left: float, top: float, width: float, height: float) -> None:
        self.left, self.top, self.width, self.height = left, top, width, height
        self.x_domain = (0.0, 1.0)
        self.y_domain = (0.0, 1.0)

    def x(self, value: float) -> float:
        return self.left + _fraction(value, self.x_domain) * self.width

    def y(self, value: float) -> float:
        return self.top + self.height - _fraction(value, self.y_domain) * self.height


def _fraction(value: float, domain: tuple[float, float]) -> float:
    """Where ``value`` lies in ``domain``, 0 at its low end and 1 at its high end. Halved
    first so that a domain spanning the whole float range does not overflow; a domain of one
    value puts everything in the middle."""
    low, high = domain[0] / 2, domain[1] / 2
    return (value / 2 - low) / (high - low) if high > low else 0.5


def _axes(
    plot: _Plot, x_ticks: list[float], y_ticks: list[float], y_labels: list[str], x_label: str
) -> list[str]:
    bottom, right = plot.top + plot.height, plot.left + plot.width
    out = [f'<g class="dw-axes" fill="{palette.MUTED}">']
    for tick, label in zip(y_ticks, y_labels, strict=True):
        y = plot.y(tick)
        out.append(
            f'<line x1="{num(plot.left)}" y1="{num(y)}" x2="{num(right)}" y2="{num(y)}"'
            f' stroke="{palette.GRID}"/>'
            f'<text x="{num(plot.left - 6)}" y="{num(y)}" text-anchor="end"'
            f' dominant-baseline="central">{text(label)}</text>'
        )
    for tick in x_ticks:
        x = plot.x(tick)
        out.append(
            f'<line x1="{num(x)}" y1="{num(bottom)}" x2="{num(x)}" y2="{num(bottom + 4)}"'
            f' stroke="{palette.MUTED}"/>'
            f'<text x="{num(x)}" y="{num(bottom + 16)}" text-anchor="middle">'
            f"{text(format_tick(tick, x_ticks))}</text>"
        )
    out.append(
        f'<line x1="{num(plot.left)}" y1="{num(bottom)}" x2="{num(right)}" y2="{num(bottom)}"'
        f' stroke="{palette.MUTED}"/>'
        f'<text x="{num(plot.left + plot.width / 2)}" y="{num(bottom + 32)}"'
        f' text-anchor="middle">{text(x_label)}</text></g>'
    )
    return out


def _series(plot: _Plot, index: int, name: str, points: list[tuple[float, float]]) -> str:
    colour = palette.series_colour(index)
    # Past the palette, the same colours come back dashed.
    dash = ' stroke-dasharray="6 3"' if index >= len(palette.SERIES) else ""
    out = [f'<g class="dw-series" data-series="{attr(name)}">']
    if len(points) > 1:
        coords = " ".join(f"{num(plot.x(x))},{num(plot.y(y))}" for x, y in _thin(plot, points))
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.8"'
            f' stroke-linejoin="round"{dash}><title>{text(name)}</title></polyline>'
        )
    if len(points) <= POINTS_UP_TO:
        for x, y in points:
            tip = f"{name}: {x:g} -> {y:.6g}"
            out.append(
                f'<circle cx="{num(plot.x(x))}" cy="{num(plot.y(y))}" r="3" fill="{colour}">'
                f"<title>{text(tip)}</title></circle>"
            )
    out.append("</g>")
    return "".join(out)


def _thin(plot: _Plot, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most four points per pixel column (first, lowest, highest, last, in step order),
    so a series of a million steps draws as fast as one of a thousand and looks the same."""
    if len(points) <= 4 * plot.width:
        return points
    out: list[tuple[float, float]] = []
    column: list[tuple[float, float]] = []
    current = None
    for point in points:
        pixel = int(plot.x(point[0]))
        if pixel != current and column:
            out += _extremes(column)
            column = []
        current = pixel
        column.append(point)
    return out + _extremes(column)


def _extremes(column: list[tuple[float, float]]) -> list[tuple[float, float]]:
    low = min(range(len(column)), key=lambda i: column[i][1])
    high = max(range(len(column)), key=lambda i: column[i][1])
    return [column[i] for i in sorted({0, low, high, len(column) - 1})]


def _legend(names: list[str], width: float, *, top: float) -> tuple[str, float]:
    """Legend entries flowing left to right into as many rows as they need."""
    if not names:
        return "", 0.0
    out = ['<g class="dw-legend">']
    x, y = MARGIN, top + 6
    for i, name in enumerate(names):
        label = shorten(name, LEGEND_CHARS)
        entry = 22 + len(label) * CHAR_WIDTH + 16
        if x > MARGIN and x + entry > width - MARGIN:
            x, y = MARGIN, y + LINE_HEIGHT
        dash = ' stroke-dasharray="6 3"' if i >= len(palette.SERIES) else ""
        out.append(
            f'<line x1="{num(x)}" y1="{num(y)}" x2="{num(x + 16)}" y2="{num(y)}"'
            f' stroke="{palette.series_colour(i)}" stroke-width="2.5"{dash}/>'
            f'<text x="{num(x + 22)}" y="{num(y)}" dominant-baseline="central">'
            f"<title>{text(name)}</title>{text(label)}</text>"
        )
        x += entry
    out.append("</g>")
    return "".join(out), y - top + LINE_HEIGHT

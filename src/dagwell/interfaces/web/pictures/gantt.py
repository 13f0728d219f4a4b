"""The gantt picture: a run's attempts as bars on a shared time axis, one row per node.

Rows come in the order nodes first started, so the picture reads as a waterfall; a node's
retries sit side by side on its row, each coloured by how that attempt ended. Attempts
still running reach to ``now``, so a page polling a run shows them growing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime

from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.svg import attr, document, num, shorten, text

Moment = datetime | float
"""A point in time: a datetime, or seconds since the epoch (any fixed origin will do)."""

Bar = tuple[str, int, str, Moment, "Moment | None"]
"""One attempt: ``(node, attempt number, state, started, ended or None while running)``."""

ROW_HEIGHT = 24.0
BAR_HEIGHT = 14.0
AXIS_HEIGHT = 30.0
LABEL_CHARS = 28
CHAR_WIDTH = 7.3
MARGIN = 12.0
MIN_LABEL_WIDTH = 104.0  # room for the start time above the names
MIN_BAR = 2.0  # an attempt of a millisecond still shows
TICKS = 8  # at most this many tick labels

# Tick steps in seconds, from 10 ms to a week: 1-2-5 below a minute, then clock-like.
_STEPS = (
    *(m * 10.0**e for e in (-2, -1, 0) for m in (1, 2, 5)),
    10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
)  # fmt: skip


def gantt_svg(
    bars: Iterable[Bar],
    now: Moment,
    *,
    link: Callable[[str], str] | None = None,
    width: float = 960.0,
) -> str:
    """Draw attempts as a gantt chart: a row per node, a bar per attempt, a time axis.

    ``bars`` are ``(node, attempt, state, started, ended)`` with ``ended`` None while the
    attempt runs; such a bar reaches to ``now``. Times are datetimes or epoch seconds (not
    mixed). The axis counts from the first start (``0s``, ``30s``, ``1m``...). Each bar has
    a ``<title>`` with node, attempt, state and duration; with ``link``, node names are
    links that load ``link(node)`` into ``#node-detail``.

    >>> svg = gantt_svg([("fit", 1, "running", 0.0, None)], now=90.0)
    >>> "1m 30s" in svg
    True
    """
    rows: dict[str, list[tuple[int, str, float, float, bool]]] = {}
    now_s = _seconds(now)
    for node, attempt, state, started, ended in bars:
        start = _seconds(started)
        running = ended is None
        end = max(start, now_s if ended is None else _seconds(ended))
        rows.setdefault(node, []).append((attempt, state, start, end, running))
    if not rows:
        return _empty(width)

    t0 = min(start for attempts in rows.values() for _, _, start, _, _ in attempts)
    t1 = max(end for attempts in rows.values() for _, _, _, end, _ in attempts)
    order = sorted(rows, key=lambda node: min(a[2] for a in rows[node]))
    label_chars = min(LABEL_CHARS, max(len(node) for node in rows))
    label_width = max(label_chars * CHAR_WIDTH + 2 * MARGIN, MIN_LABEL_WIDTH)
    plot_left = label_width
    plot_width = max(width - plot_left - MARGIN, 120.0)
    step = next((s for s in _STEPS if (t1 - t0) / s <= TICKS), _days_step(t1 - t0))
    span = max(math.ceil((t1 - t0) / step - 1e-9), 1) * step
    scale = plot_width / span
    height = AXIS_HEIGHT + ROW_HEIGHT * len(order) + MARGIN

    def x_of(moment: float) -> float:
        return plot_left + (moment - t0) * scale

    caption = f"Attempts of {len(order)} nodes over time"
    body = [f'<g class="dw-axis" font-family="{attr(palette.FONT)}" font-size="11">']
    if isinstance(now, datetime):
        # Offsets on the axis, the wall-clock start once, in the time zone of ``now``.
        first = datetime.fromtimestamp(t0, tz=now.tzinfo)
        caption += f", from {first.isoformat(sep=' ', timespec='seconds')}"
        body.append(
            f"<g><title>{text(first.isoformat(sep=' '))}</title>"
            f'<text x="{num(MARGIN)}" y="{num(AXIS_HEIGHT - 10)}" fill="{palette.MUTED}">'
            f"start {text(first.strftime('%H:%M:%S'))}</text></g>"
        )
    ticks = round(span / step)
    for i in range(ticks + 1):
        x = x_of(t0 + i * step)
        anchor = "end" if i == ticks and i else "middle"  # the last one stays inside
        body.append(
            f'<line x1="{num(x)}" y1="{num(AXIS_HEIGHT - 4)}" x2="{num(x)}"'
            f' y2="{num(height - MARGIN)}" stroke="{palette.GRID}"/>'
            f'<text x="{num(x)}" y="{num(AXIS_HEIGHT - 10)}" text-anchor="{anchor}"'
            f' fill="{palette.MUTED}">{text(format_offset(i * step, step))}</text>'
        )
    body.append("</g>")

    body.append(f'<g class="dw-rows" font-family="{attr(palette.MONO)}" font-size="12">')
    for row, node in enumerate(order):
        top = AXIS_HEIGHT + row * ROW_HEIGHT
        if row % 2:
            body.append(
                f'<rect x="0" y="{num(top)}" width="{num(plot_left + plot_width + MARGIN)}"'
                f' height="{num(ROW_HEIGHT)}" fill="#f9fafb"/>'
            )
        body.append(_label(node, top, link))
        attempts = rows[node]
        for attempt, state, start, end, running in attempts:
            body.append(
                _bar(
                    node,
                    attempt,
                    state,
                    x_of(start),
                    x_of(end),
                    top,
                    end - start,
                    running,
                    numbered=len(attempts) > 1,
                )
            )
    body.append("</g>")

    if any(running for attempts in rows.values() for *_, running in attempts):
        x = x_of(now_s)
        body.append(
            f'<line class="dw-now" x1="{num(x)}" y1="{num(AXIS_HEIGHT - 4)}" x2="{num(x)}"'
            f' y2="{num(height - MARGIN)}" stroke="{palette.INK}" stroke-dasharray="3 3"/>'
        )
    return document(
        plot_left + plot_width + MARGIN,
        height,
        body,
        css_class="dw-picture dw-gantt",
        label=caption,
    )


def format_offset(seconds: float, step: float) -> str:
    """A tick label: ``seconds`` since the start, as precise as the tick ``step`` needs.

    >>> [format_offset(s, 30) for s in (0, 30, 90, 3600)]
    ['0s', '30s', '1m 30s', '1h']
    >>> format_offset(0.25, 0.05), format_offset(0.1, 0.05)
    ('0.25s', '0.1s')
    """
    if step < 1:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        return f"{seconds:.{decimals}f}".rstrip("0").rstrip(".") + "s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value]
    return " ".join(shown[:2]) or "0s"


def format_duration(seconds: float) -> str:
    """A duration for people: ``0.42s``, ``12.3s``, ``1m 23s``, ``2h 05m``.

    >>> format_duration(83), format_duration(0.421), format_duration(7500)
    ('1m 23s', '0.42s', '2h 05m')
    """
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s".replace("m 00s", "m")
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _seconds(moment: Moment) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def _days_step(span: float) -> float:
    return math.ceil(span / TICKS / 86400) * 86400.0


def _label(node: str, top: float, link: Callable[[str], str] | None) -> str:
    label = (
        f'<text x="{num(MARGIN)}" y="{num(top + ROW_HEIGHT / 2)}" dominant-baseline="central"'
        f' fill="{palette.INK}"><title>{text(node)}</title>'
        f"{text(shorten(node, LABEL_CHARS))}</text>"
    )
    if link is None:
        return f'<g class="dw-row-label" data-node="{attr(node)}">{label}</g>'
    url = attr(link(node))
    return (
        f'<a class="dw-row-label" data-node="{attr(node)}" href="{url}" hx-get="{url}"'
        f' hx-target="#node-detail">{label}</a>'
    )


def _bar(
    node: str,
    attempt: int,
    state: str,
    left: float,
    right: float,
    top: float,
    seconds: float,
    running: bool,
    *,
    numbered: bool,
) -> str:
    swatch = palette.state_swatch(state)
    width = max(right - left, MIN_BAR)
    y = top + (ROW_HEIGHT - BAR_HEIGHT) / 2
    took = format_duration(seconds) + (" so far" if running else "")
    title = f"{node}, attempt {attempt}: {swatch.label}, {took}"
    classes = f"dw-bar {palette.state_class(state)}" + (" dw-running" if running else "")
    dash = ' stroke-dasharray="3 2"' if swatch.dashed else ""
    out = (
        f'<g class="{classes}" data-node="{attr(node)}" data-attempt="{attempt}">'
        f"<title>{text(title)}</title>"
        f'<rect x="{num(left)}" y="{num(y)}" width="{num(width)}" height="{num(BAR_HEIGHT)}"'
        f' rx="3" fill="{swatch.fill}" stroke="{swatch.stroke}"{dash}/>'
    )
    if numbered and width >= 20:
        out += (
            f'<text x="{num(left + width / 2)}" y="{num(y + BAR_HEIGHT / 2)}" font-size="10"'
            f' text-anchor="middle" dominant-baseline="central" fill="{swatch.text}">'
            f"{attempt}</text>"
        )
    return out + "</g>"


def _empty(width: float) -> str:
    return document(
        width,
        48,
        [
            f'<text x="{num(MARGIN)}" y="28" font-family="{attr(palette.FONT)}" font-size="13"'
            f' fill="{palette.MUTED}">No attempts yet</text>'
        ],
        css_class="dw-picture dw-gantt",
        label="No attempts yet",
    )

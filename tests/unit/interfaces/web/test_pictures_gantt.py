"""The gantt picture: attempts as bars on a shared time axis, one row per node."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.gantt import (
    MIN_BAR,
    format_duration,
    format_offset,
    gantt_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def bars_of(svg: str) -> list[ET.Element]:
    return [el for el in ET.fromstring(svg).iter() if "dw-bar" in el.get("class", "").split()]


def rect_of(bar: ET.Element) -> tuple[float, float]:
    """Left and right edge of a bar's rectangle."""
    rect = bar.find(f"{SVG}rect")
    assert rect is not None
    left = float(rect.attrib["x"])
    return left, left + float(rect.attrib["width"])


def title_of(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None and title.text is not None
    return title.text


def test_one_row_per_node_in_the_order_they_first_started() -> None:
    svg = gantt_svg(
        [
            ("fit", 1, "failed", at(10), at(20)),
            ("load", 1, "succeeded", at(0), at(10)),
            ("fit", 2, "succeeded", at(25), at(40)),
        ],
        now=at(60),
    )
    root = ET.fromstring(svg)
    rows = [el.attrib["data-node"] for el in root.iter() if el.get("class") == "dw-row-label"]
    assert rows == ["load", "fit"]
    bars = bars_of(svg)
    assert [(b.attrib["data-node"], b.attrib["data-attempt"]) for b in bars] == [
        ("load", "1"),
        ("fit", "1"),
        ("fit", "2"),
    ]
    first, second = rect_of(bars[1]), rect_of(bars[2])
    assert first[1] < second[0], "a retry sits after the failed attempt, on the same row"


def test_bars_are_coloured_like_the_dag() -> None:
    svg = gantt_svg(
        [("a", 1, "failed", 0.0, 5.0), ("b", 1, "cancelled", 0.0, 2.0), ("c", 1, "odd", 1, 2)],
        now=10.0,
    )
    fills = {}
    for bar in bars_of(svg):
        rect = bar.find(f"{SVG}rect")
        assert rect is not None
        fills[bar.attrib["data-node"]] = rect.attrib["fill"]
    assert fills == {
        "a": palette.STATES["failed"].fill,
        "b": palette.STATES["cancelled"].fill,
        "c": palette.UNKNOWN.fill,
    }


def test_a_running_attempt_reaches_now_and_says_so() -> None:
    svg = gantt_svg(
        [("load", 1, "succeeded", at(0), at(30)), ("fit", 1, "running", at(30), None)],
        now=at(90),
    )
    done, running = bars_of(svg)
    assert "dw-running" in running.attrib["class"].split()
    assert "dw-running" not in done.attrib["class"].split()
    assert title_of(running) == "fit, attempt 1: running, 1m so far"
    root = ET.fromstring(svg)
    now_line = next(el for el in root.iter(f"{SVG}line") if el.get("class") == "dw-now")
    assert rect_of(running)[1] == pytest.approx(float(now_line.attrib["x1"]), abs=0.01)
    assert rect_of(done)[1] == pytest.approx(rect_of(running)[0], abs=0.01)


def test_no_now_line_when_nothing_runs() -> None:
    svg = gantt_svg([("a", 1, "succeeded", 0.0, 5.0)], now=100.0)
    assert 'class="dw-now"' not in svg


def test_each_bar_has_a_title_with_node_attempt_state_and_duration() -> None:
    (bar,) = bars_of(gantt_svg([("fit[3]", 2, "failed", at(0), at(83))], now=at(100)))
    assert title_of(bar) == "fit[3], attempt 2: failed, 1m 23s"


def test_ticks_count_seconds_then_minutes_from_the_first_start() -> None:
    svg = gantt_svg([("a", 1, "succeeded", at(0), at(90))], now=at(90))
    axis = next(el for el in ET.fromstring(svg).iter() if el.get("class") == "dw-axis")
    labels = [el.text for el in axis.iter(f"{SVG}text")]
    assert labels == ["start 09:30:00", "0s", "15s", "30s", "45s", "1m", "1m 15s", "1m 30s"]
    svg = gantt_svg([("a", 1, "succeeded", at(0), at(3000))], now=at(3000))
    assert ">10m<" in svg and ">50m<" in svg and ">15s<" not in svg


def test_short_attempts_get_sub_second_ticks_and_a_visible_bar() -> None:
    svg = gantt_svg([("a", 1, "succeeded", 0.0, 0.4), ("b", 1, "succeeded", 0.4, 0.4)], now=1.0)
    assert ">0.1s<" in svg and ">0.4s<" in svg
    assert rect_of(bars_of(svg)[1])[1] - rect_of(bars_of(svg)[1])[0] == MIN_BAR


def test_times_may_be_epoch_seconds_and_clock_skew_does_not_break_it() -> None:
    svg = gantt_svg([("a", 1, "running", 100.0, None), ("b", 1, "failed", 50.0, 40.0)], now=90.0)
    assert all(r - left >= MIN_BAR for left, r in map(rect_of, bars_of(svg)))
    assert "start" not in svg, "no wall-clock start without datetimes"


def test_names_are_escaped_and_rows_can_link_to_the_node_panel() -> None:
    evil = "<script>alert(1)</script>"
    svg = gantt_svg([(evil, 1, "running", 0.0, None)], now=5.0, link=lambda n: f"/n?name={n}&x")
    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    label = next(el for el in root.iter() if el.get("class") == "dw-row-label")
    assert label.tag == f"{SVG}a"
    assert label.attrib["hx-get"] == f"/n?name={evil}&x"
    assert label.attrib["hx-target"] == "#node-detail"
    assert title_of(bars_of(svg)[0]).startswith(evil)


def test_no_attempts_yet() -> None:
    svg = gantt_svg([], now=0.0)
    assert "No attempts yet" in svg
    ET.fromstring(svg)


def test_formats() -> None:
    assert [format_offset(s, 60) for s in (0, 60, 3600, 3660, 90000)] == [
        "0s",
        "1m",
        "1h",
        "1h 1m",
        "1d 1h",
    ]
    assert format_offset(0.05, 0.01) == "0.05s"
    assert [format_duration(s) for s in (0.004, 12.34, 60, 61, 3600)] == [
        "0.00s",
        "12.3s",
        "1m",
        "1m 01s",
        "1h 00m",
    ]

"""The metric chart: series of (step, value) as lines with nice axes and a legend."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from itertools import pairwise

from hypothesis import example, given
from hypothesis import strategies as st

from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.charts import (
    POINTS_UP_TO,
    TICKS,
    format_tick,
    line_chart_svg,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"


def series_of(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {el.attrib["data-series"]: el for el in root.iter() if "data-series" in el.attrib}


def note_of(svg: str) -> str | None:
    root = ET.fromstring(svg)
    return next((el.text for el in root.iter() if el.get("class") == "dw-note"), None)


def test_one_polyline_per_series_in_palette_colours_with_a_legend() -> None:
    svg = line_chart_svg(
        {
            "run-a/loss": [(s, 1 / (s + 1)) for s in range(100)],
            "run-b/loss": [(s, 2 / (s + 2)) for s in range(100)],
        },
        title="loss",
    )
    drawn = series_of(svg)
    assert list(drawn) == ["run-a/loss", "run-b/loss"]
    colours = []
    for element in drawn.values():
        (line,) = element.iter(f"{SVG}polyline")
        assert len(line.attrib["points"].split()) == 100
        assert not list(element.iter(f"{SVG}circle")), "no dots on a long series"
        colours.append(line.attrib["stroke"])
    assert colours == [palette.series_colour(0), palette.series_colour(1)]
    legend = next(el for el in ET.fromstring(svg).iter() if el.get("class") == "dw-legend")
    assert "".join(legend.itertext()).count("run-") == 4, "each name and its title"
    assert note_of(svg) is None


def test_a_few_points_get_dots_with_their_values() -> None:
    svg = line_chart_svg({"acc": [(1, 0.5), (2, 0.75)]}, title="acc")
    dots = list(series_of(svg)["acc"].iter(f"{SVG}circle"))
    assert len(dots) == 2 <= POINTS_UP_TO
    assert [d.findtext(f"{SVG}title") for d in dots] == ["acc: 1 -> 0.5", "acc: 2 -> 0.75"]


def test_a_single_point_is_a_dot_on_a_widened_axis() -> None:
    svg = line_chart_svg({"acc": [(3, 0.9)]}, title="acc")
    element = series_of(svg)["acc"]
    assert not list(element.iter(f"{SVG}polyline"))
    assert len(list(element.iter(f"{SVG}circle"))) == 1
    assert ">2<" in svg and ">4<" in svg, "steps around 3"


def test_nan_and_infinite_values_are_skipped_and_the_chart_says_so() -> None:
    nan, inf = float("nan"), float("inf")
    svg = line_chart_svg(
        {
            "loss": [(0, 1.0), (1, nan), (2, 0.5), (3, inf)],
            "val": [(0, 2.0), (math.nan, 1.0)],
            "ok": [(0, 1.0)],
        },
        title="loss",
    )
    (line,) = series_of(svg)["loss"].iter(f"{SVG}polyline")
    assert len(line.attrib["points"].split()) == 2
    assert note_of(svg) == "3 points skipped (NaN or infinite): loss (2), val (1)"
    for element in ET.fromstring(svg).iter():
        for name in ("x", "y", "cx", "cy", "x1", "y1", "x2", "y2"):
            if name in element.attrib:
                assert math.isfinite(float(element.attrib[name]))


def test_only_nan_means_no_data() -> None:
    svg = line_chart_svg({"loss": [(0, float("nan"))]}, title="loss")
    assert "No data" in svg
    assert note_of(svg) == "1 point skipped (NaN or infinite): loss (1)"
    assert "No data" in line_chart_svg({}, title="nothing logged")


def test_points_are_drawn_in_step_order_inside_the_plot() -> None:
    svg = line_chart_svg({"m": [(3, 3.0), (1, 1.0), (2, 2.0)]}, title="m")
    (line,) = series_of(svg)["m"].iter(f"{SVG}polyline")
    xs = [float(p.split(",")[0]) for p in line.attrib["points"].split()]
    ys = [float(p.split(",")[1]) for p in line.attrib["points"].split()]
    assert xs == sorted(xs)
    assert ys == sorted(ys, reverse=True), "higher values are further up"
    _, _, width, height = map(float, ET.fromstring(svg).attrib["viewBox"].split())
    assert all(0 < x < width for x in xs) and all(0 < y < height for y in ys)


def test_a_long_series_is_thinned_to_the_pixels_it_covers() -> None:
    svg = line_chart_svg({"m": [(s, math.sin(s / 50)) for s in range(200_000)]}, title="m")
    (line,) = series_of(svg)["m"].iter(f"{SVG}polyline")
    assert len(line.attrib["points"].split()) <= 4 * 640


def test_many_series_cycle_the_colours_and_then_dash() -> None:
    count = len(palette.SERIES) + 1
    svg = line_chart_svg({f"run {i}": [(0, i), (1, i + 1)] for i in range(count)}, title="x")
    lines = [next(el.iter(f"{SVG}polyline")) for el in series_of(svg).values()]
    assert "stroke-dasharray" not in lines[0].attrib
    assert "stroke-dasharray" in lines[-1].attrib
    assert lines[-1].attrib["stroke"] == lines[0].attrib["stroke"]


def test_names_and_title_are_escaped() -> None:
    evil = "<script>alert('x')</script>&"
    svg = line_chart_svg({evil: [(0, 1.0), (1, float("nan"))]}, title=evil, x_label=evil)
    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    assert list(series_of(svg)) == [evil]
    assert root.attrib["aria-label"] == evil
    assert evil in (note_of(svg) or "")


@given(
    st.floats(-1e9, 1e9, allow_nan=False),
    st.floats(0, 1e9, allow_nan=False),
    st.booleans(),
)
# Ranges narrower than the float spacing at their values (found by CI): the ticks must not
# collapse into repeated numbers.
@example(low=134217728.0, width=1.192092896e-07, whole=False)
@example(low=180143986.0, width=1.192092896e-07, whole=False)
def test_nice_ticks_cover_the_range_evenly_and_read_apart(
    low: float, width: float, whole: bool
) -> None:
    if whole:
        low, width = float(round(low)), float(round(width))
    high = low + width
    ticks = nice_ticks(low, high, integral=whole)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= TICKS + 3
    steps = [b - a for a, b in pairwise(ticks)]
    assert max(steps) - min(steps) <= 1e-9 * max(1.0, abs(high), abs(low))
    if whole:
        assert all(t.is_integer() for t in ticks)
    labels = [format_tick(t, ticks) for t in ticks]
    assert len(set(labels)) == len(labels), "no two ticks read the same"


def test_tick_labels_are_short() -> None:
    ticks = [-0.2, 0.0, 0.2, 0.4]
    assert [format_tick(t, ticks) for t in ticks] == ["-0.2", "0", "0.2", "0.4"]
    assert format_tick(2.5, [0.0, 2.5, 5.0]) == "2.5"
    assert format_tick(2e6, [0.0, 1e6, 2e6]) == "2e+06"
    assert format_tick(-0.0, [-1.0, 0.0]) == "0"


@given(
    st.lists(
        st.tuples(st.floats(allow_nan=False, allow_infinity=False), st.floats()),
        min_size=1,
        max_size=5,
    )
)
@example([(1.797693134862e308, 0.0)])
@example([(0.0, 0.0), (0.0, 1.5e308)])
@example([(0.0, -1e308), (1.0, 1e308)])
@example([(5e-324, 5e-324)])
@example([(0.0, -1.634266486238469e308)])
@example([(0.0, -1.0613018006097e-311), (1.0, -1.061301800609e-311)])
def test_any_logged_values_draw_a_chart_with_every_point_inside_it(
    points: list[tuple[float, float]],
) -> None:
    """A metric may hold any float: extremes and subnormals still draw, never a 500."""
    svg = line_chart_svg({"m": points}, title="m", x_label="step")
    root = ET.fromstring(svg)
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    for el in root.iter(f"{SVG}circle"):
        assert 0 <= float(el.attrib["cx"]) <= width
        assert 0 <= float(el.attrib["cy"]) <= height

"""The DAG picture: its layout (geometry only) and the SVG drawn from it."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagwell.core.states import TaskState
from dagwell.errors import CycleError
from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.dag import Layout, dag_svg, layout

SVG = "{http://www.w3.org/2000/svg}"


def node_elements(svg: str) -> dict[str, ET.Element]:
    """The element of each node, by its data-node, from an SVG that must parse."""
    root = ET.fromstring(svg)
    return {el.attrib["data-node"]: el for el in root.iter() if "data-node" in el.attrib}


def child(element: ET.Element, tag: str) -> ET.Element:
    """The first SVG child ``tag`` of ``element``, which must exist."""
    found = element.find(f"{SVG}{tag}")
    assert found is not None, tag
    return found


def text_of(element: ET.Element, tag: str) -> str:
    """The text of the first SVG child ``tag`` of ``element``."""
    return child(element, tag).text or ""


def assert_well_placed(placed: Layout, edges: list[tuple[str, str]]) -> None:
    """Every edge points right, and no two boxes overlap."""
    boxes = placed.boxes
    for source, target in edges:
        assert boxes[source].x + boxes[source].width < boxes[target].x, (source, target)
    by_column: dict[int, list[tuple[float, float]]] = {}
    for box in boxes.values():
        by_column.setdefault(box.layer, []).append((box.y, box.y + box.height))
    for spans in by_column.values():
        spans.sort()
        for (_, bottom), (top, _) in pairwise(spans):
            assert bottom <= top
    columns = sorted({(b.layer, b.x, b.x + b.width) for b in boxes.values()})
    for (_, _, right), (_, left, _) in pairwise(columns):
        assert right < left
    for box in boxes.values():
        assert box.x >= 0 and box.x + box.width <= placed.width
        assert box.y >= 0 and box.y + box.height <= placed.height


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """Random DAGs: edges only go from an earlier node to a later one."""
    count = draw(st.integers(min_value=0, max_value=25))
    names = [f"n{i}" for i in range(count)]
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=50)) if pairs else []
    order = draw(st.permutations(names))
    return list(order), [(names[i], names[j]) for i, j in chosen]


@given(dags())
@settings(max_examples=150, deadline=None)
def test_any_dag_is_laid_out_left_to_right_without_overlaps(
    dag: tuple[list[str], list[tuple[str, str]]],
) -> None:
    nodes, edges = dag
    placed = layout(nodes, edges)
    assert set(placed.boxes) == set(nodes)
    assert_well_placed(placed, edges)
    assert {(r.source, r.target) for r in placed.routes} == set(edges)
    for route in placed.routes:
        xs = [x for x, _ in route.points]
        assert xs == sorted(xs), "routes only ever go right"
    ET.fromstring(dag_svg(placed, {}))


def test_layers_follow_the_longest_path_and_sources_sit_before_their_first_consumer() -> None:
    edges = [("load", "clean"), ("clean", "fit"), ("fit", "report"), ("config", "fit")]
    placed = layout(["load", "clean", "config", "fit", "report"], edges)
    layers = {name: box.layer for name, box in placed.boxes.items()}
    assert layers == {"load": 0, "clean": 1, "config": 1, "fit": 2, "report": 3}


def test_a_chain_and_a_fan_out_need_no_crossings() -> None:
    fits = [f"fit[{i}]" for i in range(20)]
    edges = [("load", "split")] + [("split", f) for f in fits] + [(f, "pick") for f in fits]
    placed = layout(["load", "split", *fits, "pick"], edges)
    assert placed.crossings == 0
    assert placed.layers[2] == tuple(fits), "siblings keep the order they were given in"


def test_barycenter_sweeps_untangle_a_crossed_pair() -> None:
    edges = [("a", "y"), ("b", "x")]
    assert layout(["a", "b", "x", "y"], edges).crossings == 0


def test_long_edges_route_between_boxes_and_arrive_at_their_target() -> None:
    nodes = [f"s{i}" for i in range(6)]
    edges = [*pairwise(nodes), ("s0", "s5")]
    placed = layout(nodes, edges)
    route = next(r for r in placed.routes if (r.source, r.target) == ("s0", "s5"))
    assert len(route.points) == 2 + 2 * 4, "a waypoint (in, out) per column crossed"
    target = placed.boxes["s5"]
    assert route.points[-1] == (target.x, target.center_y)
    for x, y in route.points[1:-1]:
        column = [b for b in placed.boxes.values() if b.x <= x <= b.x + b.width]
        assert all(not (b.y <= y <= b.y + b.height) for b in column), "not through a box"


def test_long_edges_sharing_a_source_share_one_trunk() -> None:
    """A params node feeding every step of a long chain costs one waypoint per column."""
    nodes = [f"step_{i}" for i in range(300)]
    edges = [*pairwise(nodes), *(("params", n) for n in nodes[1:])]
    placed = layout(["params", *nodes], edges)
    assert_well_placed(placed, edges)
    assert sum(len(r.points) for r in placed.routes) < 8 * len(edges)
    assert all(r.arrow for r in placed.routes if r.source == "params")


def test_long_edges_sharing_a_target_join_one_trunk_and_it_carries_the_arrow() -> None:
    nodes = [f"step_{i}" for i in range(10)]
    edges = [*pairwise(nodes), *((n, "report") for n in nodes[:-2])]
    placed = layout([*nodes, "report"], edges)
    joining = [r for r in placed.routes if r.target == "report"]
    assert sum(r.arrow for r in joining) == 2, "the trunk and the one short edge"
    report = placed.boxes["report"]
    for route in joining:
        if route.arrow:
            assert route.points[-1] == (report.x, report.center_y)


def test_one_thousand_nodes_with_a_wide_fan_out() -> None:
    fits = [f"fit[{i}]" for i in range(500)]
    scores = [f"score[{i}]" for i in range(497)]
    edges = [("load", "split"), *(("split", f) for f in fits)]
    edges += [*zip(fits, scores, strict=False), *((s, "pick") for s in scores)]
    placed = layout(["load", "split", *fits, *scores, "pick"], edges)
    assert len(placed.boxes) == 1000
    assert placed.crossings == 0
    assert_well_placed(placed, edges)


def test_one_thousand_random_nodes() -> None:
    rng = random.Random(6)
    nodes = [f"task_{i}" for i in range(1000)]
    edges = [
        (nodes[j], nodes[i])
        for i in range(1, 1000)
        for j in rng.sample(range(max(0, i - 50), i), min(i, rng.randint(1, 3)))
    ]
    placed = layout(nodes, edges)
    assert_well_placed(placed, edges)
    assert len(node_elements(dag_svg(placed, {}))) == 1000


def test_a_cycle_or_an_unknown_node_is_refused() -> None:
    with pytest.raises(CycleError):
        layout(["a", "b"], [("a", "b"), ("b", "a")])
    with pytest.raises(CycleError):
        layout(["a"], [("a", "a")])
    with pytest.raises(ValueError, match="unknown node 'c'"):
        layout(["a", "b"], [("a", "c")])


def test_an_empty_graph_draws_a_placeholder() -> None:
    svg = dag_svg(layout([], []), {})
    assert "No tasks" in svg
    ET.fromstring(svg)


def test_each_node_is_filled_with_the_colour_of_its_state() -> None:
    nodes = ["a", "b", "c", "d", "e"]
    states = {
        "a": TaskState.SUCCEEDED,
        "b": "failed",
        "c": "upstream_failed",
        "d": "no-such-state",
    }
    elements = node_elements(dag_svg(layout(nodes, []), states))
    expected = {
        "a": palette.STATES["succeeded"],
        "b": palette.STATES["failed"],
        "c": palette.STATES["upstream_failed"],
        "d": palette.UNKNOWN,
        "e": palette.STATES["pending"],  # not in states: not started
    }
    for node, swatch in expected.items():
        rect = child(elements[node], "rect")
        assert (rect.attrib["fill"], rect.attrib["stroke"]) == (swatch.fill, swatch.stroke)
    assert elements["a"].attrib["data-state"] == "succeeded"
    assert "state-failed" in elements["b"].attrib["class"].split()
    assert "stroke-dasharray" in child(elements["c"], "rect").attrib


def test_the_legend_names_the_states_shown() -> None:
    svg = dag_svg(layout(["a", "b"], []), {"a": "running", "b": "upstream_failed"})
    legend = next(el for el in ET.fromstring(svg).iter() if el.get("class") == "dw-legend")
    labels = [el.text for el in legend.iter(f"{SVG}text")]
    assert labels == ["running", "upstream failed"]


def test_user_supplied_names_stay_text() -> None:
    evil = '<script>alert("x")</script>'
    odd = "a&b \"quoted\" 'single' \x00\x1b"
    placed = layout([evil, odd], [(evil, odd)])
    svg = dag_svg(placed, {evil: "running"}, link=lambda n: f"/runs/1/nodes/{n}?x=1&y=2")
    assert "<script" not in svg
    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    elements = node_elements(svg)
    assert text_of(elements[evil], "title").startswith(evil)
    assert text_of(elements[evil], "text") == evil
    assert elements[evil].attrib["hx-get"] == f"/runs/1/nodes/{evil}?x=1&y=2"
    assert "\ufffd" in next(k for k in elements if k.startswith("a&b"))


def test_a_link_makes_each_node_load_its_panel() -> None:
    placed = layout(["a", "b"], [("a", "b")])
    elements = node_elements(dag_svg(placed, {}, link=lambda n: f"/runs/7/nodes/{n}"))
    for node, el in elements.items():
        assert el.tag == f"{SVG}a"
        assert el.attrib["hx-get"] == el.attrib["href"] == f"/runs/7/nodes/{node}"
        assert el.attrib["hx-target"] == "#node-detail"
    plain = node_elements(dag_svg(placed, {}))
    assert all(el.tag == f"{SVG}g" and "hx-get" not in el.attrib for el in plain.values())


def test_long_names_are_shortened_in_the_box_and_whole_in_the_title() -> None:
    name = "train_a_gradient_boosted_model_with_early_stopping[12]"
    el = node_elements(dag_svg(layout([name], []), {}))[name]
    label = text_of(el, "text")
    assert len(label) < len(name) and "\u2026" in label
    assert label.endswith("[12]")
    assert name in text_of(el, "title")


def test_the_view_box_fits_the_layout_and_the_selected_node_stands_out() -> None:
    placed = layout(["a", "b"], [("a", "b")])
    svg = dag_svg(placed, {}, selected="b")
    root = ET.fromstring(svg)
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width >= placed.width and height >= placed.height
    assert "dw-selected" in node_elements(svg)["b"].attrib["class"]
    edges = [el for el in root.iter(f"{SVG}path") if el.get("class") == "dw-edge"]
    assert [(e.attrib["data-from"], e.attrib["data-to"]) for e in edges] == [("a", "b")]
    assert edges[0].attrib["marker-end"] == "url(#dw-dag-arrow)"


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=30))
@settings(max_examples=100, deadline=None)
def test_the_crossings_reported_are_the_crossings_drawn(pairs: list[tuple[int, int]]) -> None:
    """Two stages, every edge between them: crossings counted by brute force agree."""
    edges = sorted({(f"a{i}", f"b{j}") for i, j in pairs})
    nodes = sorted({n for edge in edges for n in edge})
    placed = layout(nodes, edges)
    top = {name: box.y for name, box in placed.boxes.items()}
    brute = sum(
        (top[a1] - top[a2]) * (top[b1] - top[b2]) < 0
        for (a1, b1), (a2, b2) in itertools.combinations(edges, 2)
    )
    assert placed.crossings == brute

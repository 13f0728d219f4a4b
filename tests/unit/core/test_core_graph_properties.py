"""Property tests for dagwell.core.graph: random DAGs built by tracing a pipeline."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dagwell as dw
from dagwell.core.graph import Graph
from dagwell.errors import CycleError


@dw.task
def noop(*args, **kwargs):
    return None


@dw.task
def first():
    return None


@dw.task
def second(x):
    return None


@dw.task
def third(x):
    return None


@dw.task
def fourth(x):
    return None


@dataclass
class Shape:
    """Node i reads the refs of ``data[i]`` (some nested in kwargs) and waits for ``order[i]``.

    Every index in ``data[i]``, ``nested[i]`` and ``order[i]`` is below ``i``.
    """

    data: list[list[int]]
    nested: list[list[int]]
    order: list[list[int]]

    @property
    def size(self) -> int:
        return len(self.data)

    def upstream(self, i: int) -> set[int]:
        return set(self.data[i]) | set(self.nested[i]) | set(self.order[i])


def node_id(i: int) -> str:
    return "noop" if i == 0 else f"noop-{i}"


@st.composite
def shapes(draw, max_nodes: int = 12) -> Shape:
    size = draw(st.integers(min_value=1, max_value=max_nodes))
    data, nested, order = [], [], []
    for i in range(size):
        earlier = st.lists(st.integers(0, i - 1), unique=True) if i else st.just([])
        data.append(draw(earlier))
        nested.append(draw(earlier))
        order.append(draw(earlier))
    return Shape(data, nested, order)


def trace(shape: Shape, back_edge: tuple[int, int] | None = None) -> Graph:
    """Trace a pipeline of ``noop`` calls shaped like ``shape``; ``back_edge`` (j, i) adds
    ``refs[j] >> refs[i]`` once every node exists."""

    def body():
        refs = []
        for i in range(shape.size):
            args = [refs[j] for j in shape.data[i]]
            wrapped = {"deep": [{"ref": refs[j]} for j in shape.nested[i]], "const": i}
            refs.append(noop(*args, nested=(wrapped,)))
            for j in shape.order[i]:
                refs[j] >> refs[i]
        if back_edge is not None:
            later, earlier = back_edge
            refs[later] >> refs[earlier]

    return dw.pipeline(body).build()


def closure(shape: Shape, i: int) -> set[int]:
    """Indices of every node that depends on node ``i``, computed from the drawn shape."""
    below = {
        j: {k for k in range(shape.size) if j in shape.upstream(k)} for j in range(i, shape.size)
    }
    seen: set[int] = set()
    stack = list(below[i])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(below[current])
    return seen


@settings(deadline=None)
@given(shapes())
def test_upstream_is_exactly_the_refs_and_orderings_used(shape):
    graph = trace(shape)
    assert list(graph.nodes) == [node_id(i) for i in range(shape.size)]
    for i in range(shape.size):
        assert set(graph.nodes[node_id(i)].upstream) == {node_id(j) for j in shape.upstream(i)}


@settings(deadline=None)
@given(shapes())
def test_order_is_a_topological_order_of_every_node(shape):
    graph = trace(shape)
    order = graph.order()
    assert sorted(order) == sorted(graph.nodes)
    position = {node: index for index, node in enumerate(order)}
    for node in graph.nodes.values():
        for up in node.upstream:
            assert position[up] < position[node.id]


@settings(deadline=None)
@given(shapes())
def test_downstream_is_the_inverse_of_upstream(shape):
    graph = trace(shape)
    assert set(graph.downstream) == set(graph.nodes)
    edges_down = {(up, down) for up, downs in graph.downstream.items() for down in downs}
    edges_up = {(up, node.id) for node in graph.nodes.values() for up in node.upstream}
    assert edges_down == edges_up
    for downs in graph.downstream.values():
        assert len(downs) == len(set(downs))


@settings(deadline=None)
@given(shapes())
def test_descendants_is_the_transitive_closure_of_downstream(shape):
    graph = trace(shape)
    for i in range(shape.size):
        assert graph.descendants(node_id(i)) == {node_id(k) for k in closure(shape, i)}


@settings(deadline=None)
@given(shapes(), st.data())
def test_an_edge_back_along_a_path_closes_a_cycle(shape, data):
    if shape.size == 1:
        pair = (0, 0)  # a node ordered after itself
    else:
        # Make sure at least one path exists, then pick any pair joined by a path.
        start = data.draw(st.integers(0, shape.size - 2), label="start")
        end = data.draw(st.integers(start + 1, shape.size - 1), label="end")
        order = [list(o) for o in shape.order]
        order[end] = sorted(set(order[end]) | {start})
        shape = Shape(shape.data, shape.nested, order)
        pairs = [(i, k) for i in range(shape.size) for k in closure(shape, i)]
        pair = data.draw(st.sampled_from(pairs), label="path")
    earlier, later = pair
    with pytest.raises(CycleError) as info:
        trace(shape, back_edge=(later, earlier))
    cycle = re.search(r"has a cycle: (.+?)\. ", str(info.value))
    assert cycle is not None
    assert {node_id(earlier), node_id(later)} <= set(cycle.group(1).split(" -> "))


def test_order_follows_trace_order_where_dependencies_allow():
    def body():
        a = first()
        b = second(None)
        third(b)
        fourth(a)

    # ['first', 'second', 'third', 'fourth'] is itself a valid topological order.
    assert dw.pipeline(body).build().order() == ["first", "second", "third", "fourth"]

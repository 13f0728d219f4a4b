"""The DAG picture: a layered left-to-right layout of a run's nodes, and its SVG.

:func:`layout` only places things (pure geometry, no states); :func:`dag_svg` draws a
layout with the states of one moment, so a page polling a running run re-draws without
re-laying out when it keeps the layout.

The layout is the classic layered (Sugiyama) scheme, kept linear so that 1,000 nodes take
milliseconds:

1. layers: each node one column right of its furthest upstream node (longest path), and
   each source pulled right to just before its first consumer;
2. an edge spanning several columns gets a thin waypoint in each column it crosses, so it
   is routed between boxes rather than through them (up to a budget; past it, the longest
   edges are drawn straight);
3. order in each column: a few barycenter sweeps (down, then up), keeping the order with
   the fewest crossings;
4. heights: each node pulled towards the mean height of its neighbours while keeping order
   and spacing (an isotonic regression per column, linear time).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise

from dagwell.errors import CycleError
from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.svg import attr, document, num, shorten, text

BOX_HEIGHT = 28.0
CHAR_WIDTH = 7.3  # 12px monospace is 0.6em a character; a little more for safety
LABEL_CHARS = 28  # longer names are shortened in the box; <title> keeps the full name
PAD_X = 10.0
MIN_BOX_WIDTH = 64.0
COLUMN_GAP = 56.0
ROW_GAP = 10.0
WAYPOINT_GAP = 6.0  # half the room a waypoint takes between two neighbours
MARGIN = 12.0
LEGEND_HEIGHT = 30.0
MAX_WAYPOINTS = 20_000


@dataclass(frozen=True)
class Box:
    """Where one node sits: its column (``layer``), top-left corner and size, and the
    ``label`` drawn in it (the name, shortened to fit)."""

    node: str
    label: str
    layer: int
    x: float
    y: float
    width: float
    height: float

    @property
    def center_y(self) -> float:
        """The height at which edges leave and enter the box."""
        return self.y + self.height / 2


@dataclass(frozen=True)
class Route:
    """The way one edge is drawn: from the right side of ``source``'s box, through a pair of
    points per column it crosses (in, out), to the left side of ``target``'s box.

    Long edges sharing a source or a target share a trunk, drawn once by the longest of
    them: the others start where they branch off it, or end where they join it (and then
    have no ``arrow`` of their own).
    """

    source: str
    target: str
    points: tuple[tuple[float, float], ...]
    arrow: bool = True


@dataclass(frozen=True)
class Layout:
    """A placed DAG: a :class:`Box` per node, a :class:`Route` per edge, the columns in
    order (top to bottom), the size it needs, and the edge crossings left.

    >>> placed = layout(["load", "fit", "score"], [("load", "fit"), ("fit", "score")])
    >>> [placed.boxes[n].layer for n in ("load", "fit", "score")]
    [0, 1, 2]
    """

    boxes: Mapping[str, Box]
    routes: tuple[Route, ...]
    layers: tuple[tuple[str, ...], ...]
    width: float
    height: float
    crossings: int


def layout(nodes: Iterable[str], edges: Iterable[tuple[str, str]], *, sweeps: int = 4) -> Layout:
    """Lay out a DAG left to right: every edge points right, no two boxes overlap.

    ``nodes`` are node ids, in the order to prefer where nothing else decides (give them in
    definition or topological order); ``edges`` are ``(upstream, downstream)`` pairs;
    ``sweeps`` caps the down-and-up passes spent on reducing crossings (they stop at the
    first that gains nothing). Raises :class:`~dagwell.errors.CycleError` on a cycle and
    ``ValueError`` on an edge naming an unknown node.

    >>> placed = layout(["a", "b", "c"], [("a", "b"), ("a", "c")])
    >>> placed.boxes["b"].x > placed.boxes["a"].x + placed.boxes["a"].width
    True
    """
    names = list(dict.fromkeys(nodes))
    index = {name: i for i, name in enumerate(names)}
    pairs = _edge_indices(names, index, edges)
    layer_of = _layers(len(names), pairs)
    graph = _Proper.build(names, layer_of, pairs)
    order, crossings = _order(graph, sweeps)
    return _place(names, graph, order, crossings)


def _edge_indices(
    names: list[str], index: dict[str, int], edges: Iterable[tuple[str, str]]
) -> list[tuple[int, int]]:
    """Edges as index pairs, without repeats, checked to name known nodes."""
    pairs: dict[tuple[int, int], None] = {}
    for source, target in edges:
        for end in (source, target):
            if end not in index:
                raise ValueError(f"edge {source!r} -> {target!r} names unknown node {end!r}")
        if source == target:
            raise CycleError(f"node {source!r} depends on itself")
        pairs[(index[source], index[target])] = None
    return list(pairs)


def _layers(count: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Longest-path layers, then sources moved right to just before their first consumer."""
    succ: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for source, target in pairs:
        succ[source].append(target)
        indegree[target] += 1
    layer = [0] * count
    ready = deque(i for i in range(count) if indegree[i] == 0)
    seen = 0
    while ready:
        node = ready.popleft()
        seen += 1
        for nxt in succ[node]:
            layer[nxt] = max(layer[nxt], layer[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if seen < count:
        raise CycleError("the graph has a cycle; it cannot be drawn left to right")
    has_pred = [False] * count
    for _, target in pairs:
        has_pred[target] = True
    for node in range(count):
        if not has_pred[node] and succ[node]:
            layer[node] = min(layer[s] for s in succ[node]) - 1
    return layer


@dataclass
class _Proper:
    """The layered graph with waypoints: every edge joins adjacent columns.

    Vertices ``0..real-1`` are the nodes; the rest are waypoints. ``routes`` lists, per
    original edge, the vertices its drawn line passes through and whether it ends in an
    arrowhead (see :class:`Route`).
    """

    real: int
    layer: list[int]
    up: list[list[int]]
    down: list[list[int]]
    routes: list[tuple[list[int], bool]]  # per edge of ``pairs``, in order
    pairs: list[tuple[int, int]]
    depth: int

    @classmethod
    def build(cls, names: list[str], layer: list[int], pairs: list[tuple[int, int]]) -> _Proper:
        real = len(names)
        layer = list(layer)
        up: list[list[int]] = [[] for _ in range(real)]
        down: list[list[int]] = [[] for _ in range(real)]

        def join(a: int, b: int) -> None:
            down[a].append(b)
            up[b].append(a)

        long_out, long_in = [0] * real, [0] * real
        for source, target in pairs:
            if layer[target] - layer[source] > 1:
                long_out[source] += 1
                long_in[target] += 1
        # Long edges sharing a source (a dataset or params node feeding many stages) share
        # one trunk of waypoints, as do long edges sharing a target (a report reading every
        # stage): a bus instead of a curve per edge, and waypoints that grow with the
        # columns spanned rather than with the edges times the columns. A trunk runs away
        # from its owner, one waypoint per column, and grows as longer edges need it.
        trunks: dict[tuple[bool, int], list[int]] = {}
        members: dict[tuple[bool, int], list[int]] = {}
        budget = MAX_WAYPOINTS
        routes: list[tuple[list[int], bool]] = [([s, t], True) for s, t in pairs]
        # Short edges first, so that when the budget runs out it is the long ones that are
        # drawn straight (the fewest, and the least readable routed anyway).
        spans = [layer[t] - layer[s] for s, t in pairs]
        for e in sorted(range(len(pairs)), key=spans.__getitem__):
            source, target = pairs[e]
            if spans[e] == 1:
                join(source, target)
                continue
            outward = long_out[source] >= long_in[target]
            key = (outward, source if outward else target)
            trunk = trunks.setdefault(key, [])
            if spans[e] - 1 - len(trunk) > budget:
                continue  # drawn straight, and left out of the ordering
            while len(trunk) < spans[e] - 1:
                budget -= 1
                rank = layer[source] + 1 + len(trunk) if outward else layer[target] - 1 - len(trunk)
                waypoint = len(layer)
                layer.append(rank)
                up.append([])
                down.append([])
                if outward:
                    join(trunk[-1] if trunk else source, waypoint)
                else:
                    join(waypoint, trunk[-1] if trunk else target)
                trunk.append(waypoint)
            # The edge leaves the trunk at the column before its target (or joins it at the
            # column after its source).
            if outward:
                join(trunk[spans[e] - 2], target)
                routes[e] = ([trunk[spans[e] - 2], target], True)
            else:
                join(source, trunk[spans[e] - 2])
                routes[e] = ([source, trunk[spans[e] - 2]], False)
            members.setdefault(key, []).append(e)
        # The longest edge of a trunk draws all of it; the others only branch off or join.
        for (outward, owner), bundle in members.items():
            e = bundle[-1]  # the last to join is the longest: edges came shortest first
            source, target = pairs[e]
            trunk = trunks[(outward, owner)][: spans[e] - 1]
            path = trunk if outward else trunk[::-1]
            routes[e] = ([source, *path, target], True)
        depth = max(layer, default=-1) + 1
        return cls(real, layer, up, down, routes, pairs, depth)


def _order(graph: _Proper, sweeps: int) -> tuple[list[list[int]], int]:
    """Columns ordered top to bottom by barycenter sweeps; the best order seen, and its
    crossings."""
    order: list[list[int]] = [[] for _ in range(graph.depth)]
    # Nodes start in the given order, waypoints below them; the first sweep sorts them out.
    for v in range(len(graph.layer)):
        order[graph.layer[v]].append(v)
    pos = [0] * len(graph.layer)
    for column in order:
        for i, v in enumerate(column):
            pos[v] = i
    best = [list(c) for c in order]
    best_crossings = _crossings(order, graph.down, pos)
    for _ in range(sweeps):
        if best_crossings == 0:
            break
        for rank in range(1, graph.depth):
            _sort_by_barycenter(order[rank], graph.up, pos)
        for rank in range(graph.depth - 2, -1, -1):
            _sort_by_barycenter(order[rank], graph.down, pos)
        crossings = _crossings(order, graph.down, pos)
        if crossings >= best_crossings:
            break  # barycenter sweeps settle fast; one without gain means they have
        best, best_crossings = [list(c) for c in order], crossings
    return best, best_crossings


def _sort_by_barycenter(column: list[int], neighbours: list[list[int]], pos: list[int]) -> None:
    """Sort one column by the mean position of each vertex's neighbours in the column just
    swept; a vertex with none keeps its own position."""
    at = pos.__getitem__
    key: dict[int, tuple[float, int]] = {}
    for v in column:
        near = neighbours[v]
        key[v] = (sum(map(at, near)) / len(near) if near else float(pos[v]), pos[v])
    column.sort(key=key.__getitem__)
    for i, v in enumerate(column):
        pos[v] = i


def _crossings(order: list[list[int]], down: list[list[int]], pos: list[int]) -> int:
    """Edge crossings between all adjacent columns (inversions, counted with a Fenwick tree)."""
    total = 0
    for rank in range(len(order) - 1):
        size = len(order[rank + 1])
        ends = sorted((pos[a], pos[b]) for a in order[rank] for b in down[a])
        tree = [0] * (size + 1)
        for seen, (_, b) in enumerate(ends):
            # The edges seen so far start higher on the left; those that do not end higher
            # on the right too (or level) cross this one.
            i, level_or_higher = b + 1, 0
            while i > 0:
                level_or_higher += tree[i]
                i -= i & -i
            total += seen - level_or_higher
            i = b + 1
            while i <= size:
                tree[i] += 1
                i += i & -i
    return total


def _place(names: list[str], graph: _Proper, order: list[list[int]], crossings: int) -> Layout:
    labels = [shorten(name, LABEL_CHARS) for name in names]
    widths = [0.0] * graph.depth
    for v in range(graph.real):
        width = max(MIN_BOX_WIDTH, len(labels[v]) * CHAR_WIDTH + 2 * PAD_X)
        widths[graph.layer[v]] = max(widths[graph.layer[v]], width)
    left = [MARGIN] * graph.depth
    for rank in range(1, graph.depth):
        left[rank] = left[rank - 1] + widths[rank - 1] + COLUMN_GAP
    height = [BOX_HEIGHT if v < graph.real else 0.0 for v in range(len(graph.layer))]
    centers = _heights(graph, order, height)

    top = min((centers[v] - height[v] / 2 for v in range(len(centers))), default=0.0)
    shift = MARGIN - top
    boxes = {
        names[v]: Box(
            names[v],
            labels[v],
            graph.layer[v],
            left[graph.layer[v]],
            centers[v] - BOX_HEIGHT / 2 + shift,
            widths[graph.layer[v]],
            BOX_HEIGHT,
        )
        for v in range(graph.real)
    }

    def point(vertex: int, side: int) -> tuple[float, float]:
        """Where an edge meets a vertex: a box's side, or a waypoint's way in or out."""
        if vertex < graph.real:
            box = boxes[names[vertex]]
            return (box.x + box.width if side else box.x, box.center_y)
        rank = graph.layer[vertex]
        return (left[rank] + widths[rank] * side, centers[vertex] + shift)

    routes = []
    for (source, target), (chain, arrow) in zip(graph.pairs, graph.routes, strict=True):
        points = [point(chain[0], 1)]
        for waypoint in chain[1:-1]:
            points += [point(waypoint, 0), point(waypoint, 1)]
        points.append(point(chain[-1], 0))
        routes.append(Route(names[source], names[target], tuple(points), arrow))
    bottom = max((centers[v] + height[v] / 2 for v in range(len(centers))), default=0.0)
    width = left[-1] + widths[-1] + MARGIN if graph.depth else 2 * MARGIN
    return Layout(
        boxes=boxes,
        routes=tuple(routes),
        layers=tuple(tuple(names[v] for v in column if v < graph.real) for column in order),
        width=width,
        height=bottom + shift + MARGIN if graph.depth else 2 * MARGIN,
        crossings=crossings,
    )


def _heights(graph: _Proper, order: list[list[int]], height: list[float]) -> list[float]:
    """The vertical center of every vertex: stacked first, then a few passes pulling each
    towards its neighbours' mean, keeping each column's order and spacing."""
    center = [0.0] * len(graph.layer)
    for column in order:
        y = 0.0
        for i, v in enumerate(column):
            if i:
                y += _gap(height, column[i - 1], v)
            center[v] = y
        mid = y / 2
        for v in column:
            center[v] -= mid
    at = center.__getitem__
    ranks = list(range(graph.depth))
    for neighbours, sweep in [
        (graph.up, ranks[1:]),
        (graph.down, ranks[-2::-1]),
        (graph.up, ranks[1:]),
        (graph.down, ranks[-2::-1]),
    ]:
        for rank in sweep:
            column = order[rank]
            wanted = []
            for v in column:
                near = neighbours[v]
                wanted.append(sum(map(at, near)) / len(near) if near else center[v])
            gaps = [_gap(height, a, b) for a, b in pairwise(column)]
            for v, y in zip(column, _spaced_fit(wanted, gaps), strict=True):
                center[v] = y
    return center


def _gap(height: list[float], a: int, b: int) -> float:
    """The distance between the centers of two neighbours in a column."""
    room = ROW_GAP if height[a] and height[b] else WAYPOINT_GAP
    return (height[a] + height[b]) / 2 + room


def _spaced_fit(wanted: list[float], gaps: list[float]) -> list[float]:
    """The positions closest to ``wanted`` (least squares) such that each is at least the
    matching gap below the previous one: pool-adjacent-violators on the gap-free values."""
    offset = [0.0]
    for gap in gaps:
        offset.append(offset[-1] + gap)
    blocks: list[list[float]] = []  # [sum, count] per pooled run of equal values
    for want, off in zip(wanted, offset, strict=True):
        blocks.append([want - off, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    out: list[float] = []
    for total, count in blocks:
        out += [total / count] * int(count)
    return [value + off for value, off in zip(out, offset, strict=True)]


def dag_svg(
    placed: Layout,
    states: Mapping[str, str],
    *,
    link: Callable[[str], str] | None = None,
    selected: str | None = None,
) -> str:
    """Draw a layout as SVG: a box per node filled by its state, arrows, and a legend.

    ``states`` maps node ids to task states (``TaskState`` or its value; a node missing
    from it is pending). With ``link``, each node is an ``<a>`` whose ``href`` and
    ``hx-get`` are ``link(node)`` and whose ``hx-target`` is ``#node-detail``, so a click
    loads the node panel (with or without JavaScript); ``selected`` outlines one node.
    Every node carries ``data-node`` and ``data-state``; all text is escaped.

    >>> svg = dag_svg(layout(["a", "b"], [("a", "b")]), {"a": "succeeded"})
    >>> 'data-node="a"' in svg
    True
    """
    legend, legend_width = _legend(placed, states)
    width = max(placed.width, legend_width)
    body = [
        f"<title>{text(f'DAG of {len(placed.boxes)} nodes')}</title>",
        "<defs>"
        '<marker id="dw-dag-arrow" viewBox="0 0 10 10" refX="10" refY="5"'
        ' markerWidth="7" markerHeight="7" orient="auto">'
        f'<path d="M0,1 L10,5 L0,9 z" fill="{palette.EDGE}"/></marker></defs>',
        legend,
        f'<g transform="translate(0,{num(LEGEND_HEIGHT)})">',
        f'<g class="dw-edges" fill="none" stroke="{palette.EDGE}" stroke-width="1.3">',
    ]
    body += [_edge(route) for route in placed.routes]
    body.append(f'</g><g class="dw-nodes" font-family="{attr(palette.MONO)}" font-size="12">')
    body += [
        _node(box, states.get(box.node, "pending"), link, box.node == selected)
        for box in placed.boxes.values()
    ]
    body.append("</g>")
    if not placed.boxes:
        body.append(
            f'<text x="{num(MARGIN)}" y="{num(MARGIN + 14)}" font-family="{attr(palette.FONT)}"'
            f' font-size="13" fill="{palette.MUTED}">No tasks</text>'
        )
    body.append("</g>")
    return document(
        width,
        placed.height + LEGEND_HEIGHT,
        body,
        css_class="dw-picture dw-dag",
        label=f"DAG of {len(placed.boxes)} nodes",
    )


def _edge(route: Route) -> str:
    (x, y), *rest = route.points
    path = [f"M{num(x)},{num(y)}"]
    for i, (nx, ny) in enumerate(rest):
        if i % 2:  # through a column, along its waypoint
            path.append(f"L{num(nx)},{num(ny)}")
        else:  # across a gap between columns, leaving and entering horizontally
            mid = (x + nx) / 2
            path.append(f"C{num(mid)},{num(y)} {num(mid)},{num(ny)} {num(nx)},{num(ny)}")
        x, y = nx, ny
    arrow = ' marker-end="url(#dw-dag-arrow)"' if route.arrow else ""
    return (
        f'<path class="dw-edge" data-from="{attr(route.source)}" data-to="{attr(route.target)}"'
        f' d="{" ".join(path)}"{arrow}/>'
    )


def _node(box: Box, state: str, link: Callable[[str], str] | None, selected: bool) -> str:
    swatch = palette.state_swatch(state)
    key = palette.state_key(state)
    classes = f"dw-node {palette.state_class(state)}" + (" dw-selected" if selected else "")
    common = f'class="{classes}" data-node="{attr(box.node)}" data-state="{attr(key)}"'
    if link is None:
        open_tag, close_tag = f"<g {common}>", "</g>"
    else:
        url = attr(link(box.node))
        open_tag = f'<a {common} href="{url}" hx-get="{url}" hx-target="#node-detail">'
        close_tag = "</a>"
    dash = ' stroke-dasharray="4 3"' if swatch.dashed else ""
    stroke_width = "3" if selected else "1.5"
    return (
        f"{open_tag}<title>{text(box.node)} ({text(swatch.label)})</title>"
        f'<rect x="{num(box.x)}" y="{num(box.y)}" width="{num(box.width)}"'
        f' height="{num(box.height)}" rx="6" fill="{swatch.fill}" stroke="{swatch.stroke}"'
        f' stroke-width="{stroke_width}"{dash}/>'
        f'<text x="{num(box.x + PAD_X)}" y="{num(box.center_y)}" dominant-baseline="central"'
        f' fill="{swatch.text}">{text(box.label)}</text>{close_tag}'
    )


def _legend(placed: Layout, states: Mapping[str, str]) -> tuple[str, float]:
    """A row of the states in this picture (pending if none), in palette order."""
    present = {palette.state_key(states.get(node, "pending")) for node in placed.boxes}
    keys = [key for key in palette.STATES if key in present] or ["pending"]
    if present - set(palette.STATES):
        keys.append("unknown")
    parts = [f'<g class="dw-legend" font-family="{attr(palette.FONT)}" font-size="11">']
    x = MARGIN
    for key in keys:
        swatch = palette.STATES.get(key, palette.UNKNOWN)
        dash = ' stroke-dasharray="3 2"' if swatch.dashed else ""
        parts.append(
            f'<rect x="{num(x)}" y="10" width="12" height="12" rx="3" fill="{swatch.fill}"'
            f' stroke="{swatch.stroke}"{dash}/>'
            f'<text x="{num(x + 16)}" y="16" dominant-baseline="central"'
            f' fill="{palette.INK}">{text(swatch.label)}</text>'
        )
        x += 16 + len(swatch.label) * 6.5 + 14
    parts.append("</g>")
    return "".join(parts), x + MARGIN

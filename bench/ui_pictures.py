"""How long the web UI's pictures take to draw: the DAG layout, its SVG, a gantt and a chart.

    .venv/bin/python bench/ui_pictures.py [--repeat 5]   # one line per shape, best and median

Shapes of about 1,000 nodes, each the kind a pipeline really has:

- ``fan-out``: load -> split -> fit[0]..fit[499] -> score[0]..score[497] -> pick (1,001 nodes);
- ``chain``: a chain of 1,000 nodes, each also fed by the first (999 long edges);
- ``random``: 1,000 nodes, each with up to 3 inputs among the 50 before it (fixed seed);
- ``grid``: 20 stages of 50 nodes, each node fed by 2 of the previous stage.

The SVG is timed apart from the layout because a page polling a running run can keep the
layout and only redraw.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from dagwell.interfaces.web.pictures.charts import line_chart_svg
from dagwell.interfaces.web.pictures.dag import dag_svg, layout
from dagwell.interfaces.web.pictures.gantt import gantt_svg

Graph = tuple[list[str], list[tuple[str, str]]]


def fan_out() -> Graph:
    fits = [f"fit[{i}]" for i in range(500)]
    scores = [f"score[{i}]" for i in range(498)]
    edges = [("load", "split")] + [("split", f) for f in fits]
    edges += [(fits[i], scores[i]) for i in range(498)]
    edges += [(s, "pick") for s in scores] + [(fits[498], "pick"), (fits[499], "pick")]
    return ["load", "split", *fits, *scores, "pick"], edges


def chain() -> Graph:
    nodes = [f"step_{i}" for i in range(1000)]
    edges = list(pairwise(nodes))
    edges += [(nodes[0], b) for b in nodes[2:]]
    return nodes, edges


def random_dag() -> Graph:
    rng = random.Random(6)
    nodes = [f"task_{i}" for i in range(1000)]
    edges = [
        (nodes[j], nodes[i])
        for i in range(1, 1000)
        for j in rng.sample(range(max(0, i - 50), i), min(i, rng.randint(1, 3)))
    ]
    return nodes, edges


def grid() -> Graph:
    rng = random.Random(6)
    stages = [[f"s{s}_n{i}" for i in range(50)] for s in range(20)]
    edges = [(p, n) for a, b in pairwise(stages) for n in b for p in rng.sample(a, 2)]
    return [n for stage in stages for n in stage], edges


SHAPES: dict[str, Callable[[], Graph]] = {
    "fan-out": fan_out,
    "chain": chain,
    "random": random_dag,
    "grid": grid,
}


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best and median wall time of ``call``, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{'shape':<10}{'nodes':>7}{'edges':>7}{'crossings':>11}  layout ms (best/median)  svg ms"
    )
    for name, make in SHAPES.items():
        nodes, edges = make()
        placed = layout(nodes, edges)
        states = {n: ("succeeded" if i % 3 else "running") for i, n in enumerate(nodes)}
        best, median = timed(lambda: layout(nodes, edges), args.repeat)  # noqa: B023
        svg_best, _ = timed(
            lambda: dag_svg(placed, states, link=lambda n: f"/n/{n}"),  # noqa: B023
            args.repeat,
        )
        print(
            f"{name:<10}{len(nodes):>7}{len(edges):>7}{placed.crossings:>11}"
            f"  {best:8.1f} / {median:8.1f}      {svg_best:6.1f}"
        )

    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    bars = [
        (f"fit[{i}]", 1, "succeeded", t0 + timedelta(seconds=i), t0 + timedelta(seconds=i + 30))
        for i in range(1000)
    ]
    best, _ = timed(lambda: gantt_svg(bars, t0 + timedelta(seconds=1100)), args.repeat)
    print(f"gantt, 1,000 bars: {best:.1f} ms")
    series = {
        f"run{r}/loss": [(s, math.exp(-s / 300) + r / 10) for s in range(2000)] for r in range(5)
    }
    best, _ = timed(lambda: line_chart_svg(series, title="loss"), args.repeat)
    print(f"chart, 5 series x 2,000 points: {best:.1f} ms")


if __name__ == "__main__":
    main()

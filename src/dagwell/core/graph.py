"""The DAG of one traced pipeline: nodes, their dependencies, validation and order.

A :class:`Graph` is a frozen value built by tracing (see ``tracing.py``). It knows nothing
about running; the runner reads it to decide what is ready.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dagwell.core.refs import Ref, find_refs
from dagwell.errors import CycleError

if TYPE_CHECKING:
    from dagwell.core.task import Task


@dataclass(frozen=True)
class MapSpec:
    """A dynamic fan-out: call the task once per item of ``over``'s value at run time.

    Each item is passed as the first positional argument, before the node's own args.
    """

    over: Ref


@dataclass(frozen=True)
class Node:
    """One call of a task inside a pipeline.

    ``args`` and ``kwargs`` may hold refs at any depth; ``after`` holds order-only
    dependencies added with ``>>``; ``map_spec`` is set for a dynamic fan-out parent.
    """

    id: str
    task: Task
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    after: frozenset[str] = frozenset()
    map_spec: MapSpec | None = None

    @cached_property
    def input_refs(self) -> list[Ref]:
        """Refs this node reads values from (its arguments and the mapped list)."""
        refs = find_refs((self.args, dict(self.kwargs)))
        if self.map_spec is not None:
            refs.append(self.map_spec.over)
        return refs

    @cached_property
    def upstream(self) -> tuple[str, ...]:
        """Ids of the nodes that must finish first, without repeats, in first-seen order."""
        ids = dict.fromkeys(ref.node for ref in self.input_refs)
        ids.update(dict.fromkeys(sorted(self.after)))
        return tuple(ids)


@dataclass(frozen=True)
class Graph:
    """A validated DAG of nodes, with the pipeline's output (a value that may hold refs).

    >>> graph = churn.build({"C": 0.5})
    >>> graph.order()[:2]
    ['ingest', 'split']
    """

    pipeline: str
    nodes: Mapping[str, Node]
    output: Any = None

    def __post_init__(self) -> None:
        self.order()  # validates: raises CycleError before anything can run

    @cached_property
    def downstream(self) -> Mapping[str, tuple[str, ...]]:
        """For each node id, the ids of the nodes that depend on it directly."""
        result: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                result[up].append(node.id)
        return {k: tuple(v) for k, v in result.items()}

    def order(self) -> list[str]:
        """Node ids in a topological order (trace order where there is a choice)."""
        return self._order

    @cached_property
    def _order(self) -> list[str]:
        rank = {node_id: i for i, node_id in enumerate(self.nodes)}
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for node in self.nodes.values():
            sorter.add(node.id, *node.upstream)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            raise CycleError(
                f"pipeline {self.pipeline!r} has a cycle: {' -> '.join(reversed(cycle))}. "
                "A task cannot depend on its own output; check the `>>` orderings "
                "between these nodes."
            ) from None
        # Among the nodes ready at each step, take the one traced first.
        ready = [(rank[n], n) for n in sorter.get_ready()]
        heapq.heapify(ready)
        result = []
        while ready:
            _, node_id = heapq.heappop(ready)
            result.append(node_id)
            sorter.done(node_id)
            for n in sorter.get_ready():
                heapq.heappush(ready, (rank[n], n))
        return result

    def descendants(self, node_id: str) -> set[str]:
        """Every node that depends on ``node_id``, directly or not."""
        seen: set[str] = set()
        stack = list(self.downstream[node_id])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.downstream[current])
        return seen

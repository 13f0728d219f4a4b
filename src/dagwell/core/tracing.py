"""Tracing: running a pipeline body once to record its task calls as graph nodes.

While a :class:`Trace` is active (a context variable), calling a task adds a node and
returns refs instead of running the function.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dagwell.core.graph import Graph, MapSpec, Node
from dagwell.core.refs import Ref, find_refs
from dagwell.core.values import DEFAULT_OUTPUT
from dagwell.errors import DefinitionError

if TYPE_CHECKING:
    from dagwell.core.task import Task

_active: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "dagwell_trace", default=None
)
_trace_ids = itertools.count(1)


def active_trace() -> Trace | None:
    """The trace being recorded in this context, if any."""
    return _active.get()


class Trace:
    """Collects the nodes of one pipeline call. Used only through :func:`tracing`."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.id = next(_trace_ids)
        self.nodes: dict[str, Node] = {}
        self._tasks_by_name: dict[str, Task] = {}
        self._counts: dict[str, int] = {}

    def add_call(self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record one call of ``task`` and return its ref (or a tuple of named refs)."""
        self._check_refs((args, kwargs), task.name)
        node_id = self._new_id(task)
        self.nodes[node_id] = Node(id=node_id, task=task, args=args, kwargs=kwargs)
        return self._refs_for(task, node_id)

    def add_map(self, task: Task, items: Any, kwargs: dict[str, Any]) -> Any:
        """Record ``task.map(items, **kwargs)``: static when ``items`` is a list, else dynamic."""
        self._check_refs((items, kwargs), task.name)
        base = self._new_id(task)
        if isinstance(items, Ref):
            self.nodes[base] = Node(id=base, task=task, kwargs=kwargs, map_spec=MapSpec(items))
            return Ref(base, DEFAULT_OUTPUT, self.id, self.add_order)
        if not isinstance(items, (list, tuple)):
            raise DefinitionError(
                f"{task.name}.map() needs a list or a task output to map over, "
                f"got {type(items).__name__}"
            )
        refs = []
        for index, item in enumerate(items):
            node_id = f"{base}[{index}]"
            self.nodes[node_id] = Node(id=node_id, task=task, args=(item,), kwargs=kwargs)
            refs.append(self._refs_for(task, node_id))
        return refs

    def add_order(self, before: list[Ref], after: list[Ref]) -> None:
        """Make every node in ``after`` wait for every node in ``before`` (``a >> b``)."""
        self._check_refs((before, after), "`>>`")
        for ref in after:
            node = self.nodes[ref.node]
            extra = frozenset(r.node for r in before)
            self.nodes[ref.node] = Node(
                id=node.id,
                task=node.task,
                args=node.args,
                kwargs=node.kwargs,
                after=node.after | extra,
                map_spec=node.map_spec,
            )

    def finish(self, output: Any) -> Graph:
        """The validated graph of everything recorded, with the pipeline's return value."""
        self._check_refs(output, "the pipeline's return value")
        return Graph(pipeline=self.pipeline, nodes=dict(self.nodes), output=output)

    def _new_id(self, task: Task) -> str:
        known = self._tasks_by_name.get(task.name)
        if known is not None and not known.same_definition(task):
            raise DefinitionError(
                f"pipeline {self.pipeline!r} uses two different tasks named {task.name!r}; "
                f"give one of them another name with @dw.task(name=...)"
            )
        self._tasks_by_name[task.name] = task
        count = self._counts.get(task.name, 0)
        self._counts[task.name] = count + 1
        return task.name if count == 0 else f"{task.name}-{count}"

    def _refs_for(self, task: Task, node_id: str) -> Any:
        if task.outputs:
            return tuple(Ref(node_id, name, self.id, self.add_order) for name in task.outputs)
        return Ref(node_id, DEFAULT_OUTPUT, self.id, self.add_order)

    def _check_refs(self, value: Any, where: str) -> None:
        for ref in find_refs(value):
            if ref.trace_id != self.id or ref.node not in self.nodes:
                raise DefinitionError(
                    f"{where} in pipeline {self.pipeline!r} got the output of node "
                    f"{ref.node!r} from another pipeline call. A task output only exists "
                    "inside the pipeline that made it; pass data between pipelines through "
                    "params or dw.dataset() instead."
                )


@contextmanager
def tracing(pipeline: str) -> Iterator[Trace]:
    """Make task calls in this block record nodes into a new trace."""
    trace = Trace(pipeline)
    token = _active.set(trace)
    try:
        yield trace
    finally:
        _active.reset(token)

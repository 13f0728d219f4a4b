"""Refs: what a task call returns while a pipeline is being traced.

A :class:`Ref` stands for one output of one node. It can be passed to other task calls
(anywhere inside their arguments) and ordered with ``>>``; anything else a plain value
supports (``if ref``, ``len(ref)``, ``ref + 1``, iteration) raises an error that explains why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from dagwell.core.values import DEFAULT_OUTPUT
from dagwell.errors import DefinitionError

OrderHook = Callable[[list["Ref"], list["Ref"]], None]


@dataclass(frozen=True, eq=False)
class Ref:
    """A placeholder for output ``output`` of node ``node`` in the trace ``trace_id``."""

    node: str
    output: str
    trace_id: int
    order_hook: OrderHook

    def __rshift__(self, other: Any) -> Any:
        self.order_hook([self], _as_refs(other, "right"))
        return other

    def __rrshift__(self, other: Any) -> Ref:
        self.order_hook(_as_refs(other, "left"), [self])
        return self

    def __repr__(self) -> str:
        suffix = "" if self.output == DEFAULT_OUTPUT else f".{self.output}"
        return f"<ref {self.node}{suffix}>"

    def _misuse(self, what: str) -> NoReturn:
        raise DefinitionError(
            f"{what} on the output of node {self.node!r}: while a pipeline is traced, a task "
            "call returns a placeholder, not its value. Do this work inside a task and pass "
            "the output to it, e.g. `@dw.task def step(x): ...` then `step(out)`."
        )

    def __bool__(self) -> bool:
        self._misuse("`if`/`bool()`")

    def __iter__(self) -> Iterator[Any]:
        self._misuse(
            "iteration or tuple unpacking (declare named outputs with "
            "@dw.task(outputs=('a', 'b')) to unpack, or use task.map() to fan out)"
        )

    def __len__(self) -> int:
        self._misuse("`len()`")

    def __getitem__(self, key: Any) -> Any:
        self._misuse("indexing")

    def __add__(self, other: Any) -> Any:
        self._misuse("arithmetic")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__
    __lt__ = __le__ = __gt__ = __ge__ = __add__

    def __format__(self, spec: str) -> str:
        self._misuse("string formatting")

    def __str__(self) -> str:
        self._misuse("`str()`")

    def __hash__(self) -> int:
        return hash((self.node, self.output, self.trace_id))


def _as_refs(value: Any, side: str) -> list[Ref]:
    refs = find_refs(value)
    if not refs:
        raise DefinitionError(
            f"`>>` needs task outputs on both sides; the {side} side is {type(value).__name__}"
        )
    return refs


def find_refs(value: Any) -> list[Ref]:
    """Every ref inside ``value``, searching lists, tuples, sets and dict values."""
    found: list[Ref] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[Ref]) -> None:
    if isinstance(value, Ref):
        found.append(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def replace_refs(value: Any, replace: Callable[[Ref], Any]) -> Any:
    """A copy of ``value`` with each ref swapped for ``replace(ref)``; containers rebuilt."""
    if isinstance(value, Ref):
        return replace(value)
    if isinstance(value, list):
        return [replace_refs(v, replace) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(replace_refs(v, replace) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(replace_refs(v, replace) for v in value)
    if isinstance(value, dict):
        return {k: replace_refs(v, replace) for k, v in value.items()}
    return value

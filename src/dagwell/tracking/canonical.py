"""Canonical values: the JSON form of a value that equal values share, and its digest.

Equal values give the same JSON in every process and under every hash seed, so a digest
of it can be compared across runs. Callables are named by the function behind their
wrappers. Shared by :mod:`dagwell.tracking.fingerprints` and
:mod:`dagwell.tracking.cache_keys`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

import cloudpickle
from blake3 import blake3

from dagwell.core.datasets import Dataset
from dagwell.core.task import Task
from dagwell.core.values import ItemOf, StoredValue
from dagwell.types import JSONValue

LITERAL_LIMIT = 10_000  # elements; a bigger global constant is hashed as its module file


def canonical(value: Any, callable_id: Callable[[Any], str]) -> JSONValue:
    """A JSON form of ``value`` that equal values share across processes and hash seeds."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is list:
        return [canonical(item, callable_id) for item in value]
    if kind is tuple:
        return {"__tuple__": [canonical(item, callable_id) for item in value]}
    if kind is dict:
        if all(type(key) is str and not key.startswith("__") for key in value):
            return {key: canonical(item, callable_id) for key, item in value.items()}
        pairs = [[canonical(k, callable_id), canonical(v, callable_id)] for k, v in value.items()]
        return {"__dict__": sorted(pairs, key=dumps)}
    if kind in (set, frozenset):
        return {"__set__": sorted((canonical(item, callable_id) for item in value), key=dumps)}
    if isinstance(value, StoredValue):
        return {"__artifact__": value.hash}
    if isinstance(value, ItemOf):
        return {"__item__": [value.value.hash, value.index]}
    if isinstance(value, Dataset):
        return {"__dataset__": value.uri}
    if isinstance(value, (FunctionType, type, functools.partial, Task, MethodType)):
        return {"__callable__": callable_id(value)}
    return {"__pickle__": blake3(cloudpickle.dumps(value)).hexdigest()}


def callable_name(value: Any) -> str:
    """``module.qualname`` of the function or class behind a task, partial or wrapper."""
    target = innermost(value)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', type(target).__qualname__)}"


def wrapped(value: Any) -> Any:
    """What functools.wraps says ``value`` wraps, if anything. Only a real attribute counts:
    a Mock makes up a new ``__wrapped__`` each time it is asked."""
    namespace = getattr(value, "__dict__", None)
    return namespace.get("__wrapped__") if isinstance(namespace, dict) else None


def innermost(target: Any) -> Any:
    """The user's function behind a task, partial, bound method or decorator wrappers."""
    seen: set[int] = set()
    while id(target) not in seen:
        seen.add(id(target))
        if isinstance(target, Task):
            target = target.fn
        elif isinstance(target, functools.partial):
            target = target.func
        elif isinstance(target, MethodType):
            target = target.__func__
        elif wrapped(target) is not None:
            target = wrapped(target)
        else:
            break
    return target


def is_literal(value: Any, budget: list[int]) -> bool:
    """Whether ``value`` is plain data (numbers, strings, bytes and containers of them) of
    at most ``budget[0]`` values, containers included; each one counted spends the budget."""
    budget[0] -= 1
    if budget[0] < 0:
        return False
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return True
    if kind in (list, tuple, set, frozenset):
        return all(is_literal(item, budget) for item in value)
    if kind is dict:
        return all(is_literal(k, budget) and is_literal(v, budget) for k, v in value.items())
    return False


def dumps(value: JSONValue) -> str:
    """``value``'s JSON with sorted keys and no spaces: the text that is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_json(value: JSONValue) -> str:
    """The digest of ``value``'s JSON with sorted keys and no spaces."""
    return hash_text(dumps(value))


def hash_text(text: str) -> str:
    """The BLAKE3 hex digest of ``text`` in UTF-8 (lone surrogates kept as they are)."""
    digest: str = blake3(text.encode("utf-8", "surrogatepass")).hexdigest()
    return digest

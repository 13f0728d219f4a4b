"""Cache keys: what decides whether an earlier result of a task may be reused, and why not.

A :class:`CacheKey` combines the task's code, its ``version``, the content hashes of its
input artifacts, the versions of the datasets it reads and the values of its plain
arguments. Every component is kept beside the digest, so :func:`explain_miss` can name
what changed. Nothing here touches a store; the only I/O is reading the user's source files.

The code is a :class:`~dagwell.tracking.fingerprints.CodeFingerprint`: the task function's
own source plus that of every project helper it reaches (see
:mod:`dagwell.tracking.fingerprints`, which finds and hashes them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagwell.core.datasets import Dataset
from dagwell.core.task import Task
from dagwell.core.values import ItemOf, StoredValue
from dagwell.errors import DefinitionError
from dagwell.tracking.canonical import callable_name, canonical, hash_json

# The fingerprint names are also re-exported from here, where they were defined first.
from dagwell.tracking.fingerprints import MAX_DEPTH as MAX_DEPTH
from dagwell.tracking.fingerprints import TASK_PART as TASK_PART
from dagwell.tracking.fingerprints import CodeFingerprint as CodeFingerprint
from dagwell.tracking.fingerprints import callable_code
from dagwell.tracking.fingerprints import code_fingerprint as code_fingerprint

_FORMAT = 1  # mixed into every key digest: bump it when what a key covers changes


@dataclass(frozen=True)
class CacheKey:
    """Everything a cached result depends on, hashed into ``digest``.

    ``inputs`` maps an argument path (``args[0]``, ``kwargs.models[2]``) to the hash of the
    input artifact found there (``hash[i]`` for item ``i`` of one); ``datasets`` maps a
    dataset URI to its version; ``values`` maps the path of every other argument to the
    hash of its canonical JSON (or of its pickle). ``outputs`` is the task's declared output
    names, since a cache hit hands the earlier outputs on under those names.

    >>> key = cache_key(fit, (train_value,), {"C": 0.5}, {})
    >>> sorted(key.inputs), sorted(key.values)
    (['args[0]'], ['kwargs.C'])
    """

    digest: str = field(init=False)
    code: CodeFingerprint
    version: str | None = None
    outputs: tuple[str, ...] | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    datasets: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outputs is not None:
            object.__setattr__(self, "outputs", tuple(self.outputs))
        for name in ("inputs", "datasets", "values"):
            object.__setattr__(self, name, dict(sorted(getattr(self, name).items())))
        body = [
            _FORMAT,
            self.code.digest,
            self.version,
            self.outputs,
            self.inputs,
            self.datasets,
            self.values,
        ]
        object.__setattr__(self, "digest", hash_json(body))

    def __hash__(self) -> int:
        return hash(self.digest)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the digest and every component, for the metadata store."""
        return {
            "format": _FORMAT,
            "digest": self.digest,
            "code": self.code.to_json(),
            "version": self.version,
            "outputs": list(self.outputs) if self.outputs is not None else None,
            "inputs": dict(self.inputs),
            "datasets": dict(self.datasets),
            "values": dict(self.values),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CacheKey:
        """Inverse of :meth:`to_json`. The digest is recomputed, so a key stored by an
        older format reads back with a digest that no current key matches."""
        outputs = data.get("outputs")
        return cls(
            code=CodeFingerprint.from_json(data["code"]),
            version=data.get("version"),
            outputs=tuple(outputs) if outputs is not None else None,
            inputs=dict(data.get("inputs") or {}),
            datasets=dict(data.get("datasets") or {}),
            values=dict(data.get("values") or {}),
        )


def cache_key(
    task: Task,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    dataset_versions: Mapping[str, str],
) -> CacheKey:
    """The cache key of calling ``task`` with resolved arguments.

    ``args`` and ``kwargs`` are in the form the runner hands to workers: their leaves are
    :class:`StoredValue`, :class:`ItemOf`, :class:`Dataset` or plain values, possibly inside
    lists, tuples, sets and dicts. ``dataset_versions`` maps each dataset URI to its version.

    >>> key = cache_key(fit, (StoredValue("3fa2…", "pickle", 10, "ndarray"),), {"C": 1.0}, {})
    >>> key.inputs, list(key.values)
    ({'args[0]': '3fa2…'}, ['kwargs.C'])
    """
    walk = _Arguments(task.name, dataset_versions)
    for index, value in enumerate(args):
        walk.visit(f"args[{index}]", value)
    for name in sorted(kwargs):
        walk.visit(f"kwargs.{name}", kwargs[name])
    return CacheKey(
        code=code_fingerprint(task),
        version=task.version,
        outputs=task.outputs,
        inputs=walk.inputs,
        datasets=walk.datasets,
        values=walk.values,
    )


def explain_miss(previous: CacheKey, current: CacheKey) -> list[str]:
    """Sentences naming what differs between two keys of a node; empty when they match.

    Code comes first (the task's own source, then each helper), then the version, the
    declared outputs, input artifacts, datasets and argument values.

    >>> explain_miss(last_key, key)
    ["helper 'features.clean' changed", 'input kwargs.train changed (artifact 3fa2c1… -> 9bd0e2…)']
    """
    if previous.digest == current.digest:
        return []
    lines = _explain_code(previous.code, current.code)
    if previous.version != current.version:
        lines.append(f"version changed from {previous.version!r} to {current.version!r}")
    if previous.outputs != current.outputs:
        lines.append(f"outputs changed from {previous.outputs!r} to {current.outputs!r}")
    for path, (old, new) in _changes(previous.inputs, current.inputs):
        if old is None:
            lines.append(f"input {path} is new (artifact {_short(new)})")
        elif new is None:
            if path not in current.values:  # else "argument ... is new" says it
                lines.append(f"input {path} was removed")
        else:
            lines.append(f"input {path} changed (artifact {_short(old)} -> {_short(new)})")
    for uri, (old, new) in _changes(previous.datasets, current.datasets):
        if old is None:
            lines.append(f"dataset {uri} is new (version {_short(new)})")
        elif new is None:
            lines.append(f"dataset {uri} is no longer read")
        else:
            lines.append(f"dataset {uri} changed (version {_short(old)} -> {_short(new)})")
    for path, (old, new) in _changes(previous.values, current.values):
        if old is None:
            lines.append(f"argument {path} is new")
        elif new is None:
            if path not in current.inputs:
                lines.append(f"argument {path} was removed")
        else:
            lines.append(f"argument {path} changed")
    return lines or ["the cache key format changed"]


# -- explaining --------------------------------------------------------------------------


def _explain_code(previous: CodeFingerprint, current: CodeFingerprint) -> list[str]:
    if previous.digest == current.digest:
        return []
    lines = []
    changed, added, removed = [], [], []
    for part, (old, new) in _changes(previous.parts, current.parts):
        if part == TASK_PART:
            lines.append(f"code of task {current.name!r} changed")
        elif old is None:
            added.append(f"{_describe_part(part, current.name)} is new")
        elif new is None:
            removed.append(f"{_describe_part(part, current.name)} is no longer used")
        else:
            changed.append(f"{_describe_part(part, current.name)} changed")
    return lines + changed + added + removed


def _describe_part(part: str, task_name: str) -> str:
    owner, colon, variable = part.rpartition(":")
    if not colon:
        return f"helper {part!r}"
    where = f"task {task_name!r}" if owner == TASK_PART else repr(owner)
    return f"closure variable {variable!r} of {where}"


def _changes(
    old: Mapping[str, str], new: Mapping[str, str]
) -> Iterator[tuple[str, tuple[str | None, str | None]]]:
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            yield name, (old.get(name), new.get(name))


def _short(value: str | None) -> str:
    text = value or ""
    base, bracket, index = text.partition("[")
    return f"{base[:6]}…{bracket}{index}" if len(base) > 6 else text


# -- arguments ---------------------------------------------------------------------------


class _Arguments:
    """Sorts the leaves of a call's arguments into inputs, datasets and values by path."""

    def __init__(self, task_name: str, dataset_versions: Mapping[str, str]) -> None:
        self.task_name = task_name
        self.dataset_versions = dataset_versions
        self.inputs: dict[str, str] = {}
        self.datasets: dict[str, str] = {}
        self.values: dict[str, str] = {}

    def visit(self, path: str, value: Any) -> None:
        if isinstance(value, StoredValue):
            self.inputs[path] = value.hash
        elif isinstance(value, ItemOf):
            self.inputs[path] = f"{value.value.hash}[{value.index}]"
        elif isinstance(value, Dataset):
            if value.uri not in self.dataset_versions:
                raise ValueError(
                    f"task {self.task_name!r}: no version was given for dataset {value.uri!r} "
                    f"at {path}"
                )
            self.datasets[value.uri] = self.dataset_versions[value.uri]
            # The task receives the path: which argument holds which dataset is a value.
            self.values[path] = self._digest(path, value)
        elif not _holds_descriptor(value):
            self.values[path] = self._digest(path, value)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                self.visit(f"{path}[{index}]", item)
        elif isinstance(value, (set, frozenset)):
            for index, item in enumerate(sorted(value, key=_sort_key)):
                self.visit(f"{path}[{index}]", item)
        else:
            for key in sorted(value, key=_sort_key):
                suffix = f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{key!r}]"
                self.visit(path + suffix, value[key])

    def _digest(self, path: str, value: Any) -> str:
        try:
            return hash_json(canonical(value, callable_code))
        except Exception as exc:  # any failure to pickle means: no key for this call
            raise DefinitionError(
                f"task {self.task_name!r}: argument {path} ({type(value).__name__}) cannot be "
                f"hashed for its cache key: {exc}; pass a picklable value or use cache=False"
            ) from exc


def _holds_descriptor(value: Any) -> bool:
    if isinstance(value, (StoredValue, ItemOf, Dataset)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_descriptor(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_descriptor(item) for item in value.values())
    return False


def _sort_key(value: Any) -> str:
    return hash_json(canonical(value, callable_name))

"""Code fingerprints: a task's code and the project helpers it reaches, hashed piece by piece.

A :class:`CodeFingerprint` holds the task function's own source, plus the source of
every project function, class and module it reaches, transitively, through global names
(``clean``, ``features.clean``), imports inside its body, closures, default values and
decorators. *Project* means defined in a file outside the standard library, site-packages,
the Python prefixes and dagwell (but for the task's own file: the demo's helpers count).
Plain constants of project modules (``THRESHOLD = 0.5``) are hashed by value. A global
holding an instance of a project class brings in the whole files of the module binding it
and of its class, since either may build it. Instances of library classes (a logger, a
numpy array) are not followed, nor is code reached only through arguments (``model.fit()``
on an input): bump the task's ``version=`` for those.

Helpers are found in bytecode (the global names, attribute chains and imports a code object
uses), not by running anything. This module walks from the task to its helpers; the pieces
it uses live apart: :mod:`~dagwell.tracking.bytecode_refs` reads the references,
:mod:`~dagwell.tracking.project_files` says which files are the project's,
:mod:`~dagwell.tracking.code_digests` hashes each piece, and
:mod:`~dagwell.tracking.canonical` gives values the JSON form they are hashed in (shared
with :mod:`dagwell.tracking.cache_keys`). The only I/O is reading source files.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FunctionType, MethodType, ModuleType
from typing import Any

from dagwell.core.task import Task
from dagwell.errors import DefinitionError
from dagwell.tracking.bytecode_refs import module_file, references
from dagwell.tracking.canonical import (
    LITERAL_LIMIT,
    callable_name,
    canonical,
    hash_json,
    hash_text,
    innermost,
    is_literal,
    wrapped,
)
from dagwell.tracking.code_digests import class_digest, file_digest, function_digest
from dagwell.tracking.project_files import is_project_file
from dagwell.types import JSONValue

TASK_PART = "<task>"
"""The key of the task function's own source in :attr:`CodeFingerprint.parts`."""

MAX_DEPTH = 12
"""How many calls deep helpers are followed; deeper ones are hashed but not walked further."""


@dataclass(frozen=True)
class CodeFingerprint:
    """The hash of a task's code, with one digest per piece so a change can be located.

    ``parts`` maps :data:`TASK_PART` to the task function's source digest and each project
    helper (``module.qualname``; a whole module by its name; a closure value as
    ``owner:variable``) to its own. ``name`` only labels messages; it is not hashed.

    >>> fp = code_fingerprint(fit)
    >>> sorted(fp.parts)
    ['<task>', 'features.clean', 'features.scale']
    """

    digest: str = field(init=False)
    name: str
    parts: Mapping[str, str]

    def __post_init__(self) -> None:
        parts = dict(sorted(self.parts.items()))
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "digest", hash_json(parts))

    def __hash__(self) -> int:
        return hash(self.digest)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_json` reads it back."""
        return {"name": self.name, "digest": self.digest, "parts": dict(self.parts)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CodeFingerprint:
        """Inverse of :meth:`to_json`; the digest is recomputed from the parts."""
        return cls(name=str(data["name"]), parts=dict(data["parts"]))


def code_fingerprint(fn: Callable[..., Any]) -> CodeFingerprint:
    """Fingerprint the code of ``fn`` (a :class:`Task` or any callable) and its helpers.

    Reading and hashing a source is done once per code object, class or file version and
    remembered for the process; names are resolved again on every call, so a helper
    rebound in a notebook or a reloaded module is seen at once.

    >>> before = code_fingerprint(fit)
    >>> explain_miss(CacheKey(before), CacheKey(code_fingerprint(fit_v2)))
    ["helper 'features.clean' changed"]
    """
    if isinstance(fn, Task):
        name, target = fn.name, fn.fn
    else:
        name, target = getattr(fn, "__name__", type(fn).__name__), fn
    walk = _Walk(_file_of(innermost(target)))
    walk.root(target)
    return CodeFingerprint(name=str(name), parts=walk.parts)


def _instance_state(value: Any) -> JSONValue:
    """The state of an object whose method is a task: it is part of that task's code."""
    try:
        return canonical(value, callable_name)
    except Exception as exc:  # any failure to pickle means: no fingerprint
        raise DefinitionError(
            f"{type(value).__name__} object {value!r} cannot be hashed for a cache key, so a "
            f"method of it cannot be a cached task: {exc}"
        ) from exc


def callable_code(value: Any) -> str:
    """A callable passed as an argument: its name, and its code when it is the project's."""
    name = callable_name(value)
    target = innermost(value)
    if isinstance(target, (FunctionType, type)) and _Walk(None).is_project(target):
        return f"{name}:{code_fingerprint(value).digest}"
    return name


# -- walking the code --------------------------------------------------------------------


class _Walk:
    """One fingerprint's walk from the task function through the helpers it reaches."""

    def __init__(self, anchor: str | None) -> None:
        self.anchor = anchor  # the task's own file: its neighbours count as project code
        self.parts: dict[str, str] = {}
        # Keeping the objects (not only their ids) stops an id being reused mid-walk.
        self.seen: dict[int, object] = {}

    def root(self, target: Any) -> None:
        extras: list[JSONValue] = []
        outer: list[Any] = []  # wrappers and the instances of bound methods: helpers
        while True:
            if isinstance(target, functools.partial):
                extras.append(canonical((target.args, target.keywords), callable_name))
                outer.extend((*target.args, *target.keywords.values()))
                target = target.func
            elif isinstance(target, MethodType):
                outer.append(type(target.__self__))
                extras.append(_instance_state(target.__self__))
                target = target.__func__
            elif isinstance(target, FunctionType) and wrapped(target) is not None:
                outer.append(target)  # a project decorator's wrapper is a helper
                target = wrapped(target)
            else:
                break
        # Seen first, so neither recursion nor a wrapper's closure adds it as a helper.
        self.seen[id(target)] = target
        for value in outer:
            self.value("", value, 1)
        if isinstance(target, FunctionType):
            digest = function_digest(target, strip_decorators=True)
            self.follow_function(target, TASK_PART, 1)
        elif isinstance(target, type):
            digest = class_digest(target)
            self.follow_class(target, 1)
        elif callable(target) and not isinstance(target, type(len)):
            digest = class_digest(type(target))  # an instance with __call__
            extras.append(_instance_state(target))
            self.follow_class(type(target), 1)
        else:
            digest = hash_text(callable_name(target))
        if extras:
            digest = hash_json([digest, extras])
        self.parts[TASK_PART] = digest

    def visit(self, obj: Any, depth: int) -> None:
        """Add ``obj`` (a function, class or module) if it is the project's, and follow it."""
        obj = _unwrap_one(obj)
        if id(obj) in self.seen:
            return
        self.seen[id(obj)] = obj
        follow = depth < MAX_DEPTH
        if isinstance(obj, functools.partial):
            for value in (obj.func, *obj.args, *obj.keywords.values()):
                self.value("", value, depth)
        elif isinstance(obj, FunctionType):
            if self.is_project(obj):
                name = _qualified(obj)
                self.parts[name] = function_digest(obj, strip_decorators=False)
                if follow:
                    self.follow_function(obj, name, depth + 1)
        elif isinstance(obj, type):
            if self.is_project(obj):
                self.parts[_qualified(obj)] = class_digest(obj)
                if follow:
                    self.follow_class(obj, depth + 1)
        elif isinstance(obj, ModuleType):
            file = getattr(obj, "__file__", None)
            if isinstance(file, str) and self.is_project_path(file):
                self.parts[obj.__name__] = file_digest(file)
        elif wrapped(obj) is not None:  # functools.lru_cache and other wrapper objects
            self.visit(wrapped(obj), depth)

    def value(self, name: str, value: Any, depth: int, module: str | None = None) -> None:
        """A value reached by name: code is visited, a project constant hashed as ``name``."""
        if not name or not self.module_is_project(module, unknown=True):
            if _is_code_like(value):
                self.visit(value, depth)
            return
        if isinstance(value, functools.partial):  # its bound arguments are in our source
            self.parts[name] = hash_json(canonical((value.args, value.keywords), callable_name))
        if _is_code_like(value):
            self.visit(value, depth)
            return
        owner = sys.modules.get(module or "")
        if is_literal(value, [LITERAL_LIMIT]):
            self.parts[name] = hash_json(canonical(value, callable_name))
        elif self.is_project(type(value)):
            # Built where it is bound or where its class is: either file may change it.
            self.visit(type(value), depth)
            for where in (owner, sys.modules.get(type(value).__module__)):
                if where is not None:
                    self.visit(where, depth)
        elif type(value) in (list, tuple, dict, set, frozenset) and owner is not None:
            self.visit(owner, depth)  # too big to hash by value, or holding objects

    def follow_function(self, fn: FunctionType, name: str, depth: int) -> None:
        namespace = fn.__globals__
        module = namespace.get("__name__")
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False))
        for ref in references(fn.__code__):
            if ref[0] == "global":
                self.resolve(ref[1], namespace, module, depth)
            else:
                self.resolve_import(ref[1], int(ref[2]), ref[3], namespace, depth)
        # Values captured by a factory (thresholds, helpers, a module) are code too.
        for var, cell in cells.items():
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            self.value(f"{name}:{var}", content, depth, module)
        for default in (*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()):
            if _is_code_like(default):
                self.visit(default, depth)
        if wrapped(fn) is not None:
            self.visit(wrapped(fn), depth)

    def follow_class(self, cls: type, depth: int) -> None:
        for base in cls.__bases__:
            self.visit(base, depth)
        for attribute in vars(cls).values():
            functions = [attribute]
            if isinstance(attribute, (staticmethod, classmethod)):
                functions = [attribute.__func__]
            elif isinstance(attribute, property):
                functions = [attribute.fget, attribute.fset, attribute.fdel]
            for fn in functions:
                if not isinstance(fn, FunctionType) or id(fn) in self.seen:
                    continue
                if fn.__qualname__.startswith(cls.__qualname__ + "."):
                    # Its source is part of the class's; only what it calls is new.
                    self.seen[id(fn)] = fn
                    self.follow_function(fn, _qualified(fn), depth)
                else:
                    self.visit(fn, depth)

    def resolve(
        self, names: tuple[str, ...], namespace: Mapping[str, Any], module: Any, depth: int
    ) -> None:
        if names[0] not in namespace:  # a builtin, or a name not bound yet
            return
        obj, owner, name = namespace[names[0]], module, names[0]
        for attribute in names[1:]:
            if not isinstance(obj, ModuleType) or self.is_library(obj):
                break  # nothing in a library is ours; getattr could even import (scipy)
            try:
                following = getattr(obj, attribute)
            except AttributeError:  # set later at run time: keep the whole module
                break
            obj, owner, name = following, obj.__name__, attribute
        self.value(f"{owner}.{name}", obj, depth, owner if isinstance(owner, str) else None)

    def resolve_import(
        self,
        name: str,
        level: int,
        names: tuple[str, ...],
        namespace: Mapping[str, Any],
        depth: int,
    ) -> None:
        if level:
            try:
                name = importlib.util.resolve_name("." * level + name, namespace.get("__package__"))
            except (ImportError, ValueError):
                return
        module = sys.modules.get(name)
        if module is not None and self.is_library(module):
            return
        if not names:
            self.module(name, module, depth)
            return
        for attribute in names:
            if module is not None and hasattr(module, attribute):
                self.value(f"{name}.{attribute}", getattr(module, attribute), depth, name)
            elif not self.module(f"{name}.{attribute}", None, depth):
                self.module(name, module, depth)

    def module(self, name: str, module: ModuleType | None, depth: int) -> bool:
        """Visit module ``name``, loaded or not (an import inside a task body that has not
        run yet in this process); True if it was found."""
        if module is not None:
            self.visit(module, depth)
            return True
        file = module_file(name)
        if file is None:
            return False
        if self.is_project_path(file):
            self.parts[name] = file_digest(file)
        return True

    def is_project(self, obj: Any) -> bool:
        if isinstance(obj, FunctionType):
            file = obj.__code__.co_filename
            if not file.startswith("<"):
                return self.is_project_path(file)
            # Made by exec. In a module with a file, it is generated (a dataclass's
            # __init__) from source hashed elsewhere; else it was typed into a REPL.
            module = sys.modules.get(obj.__globals__.get("__name__") or "")
            return module is None or getattr(module, "__file__", None) is None
        return self.module_is_project(getattr(obj, "__module__", None), unknown=False)

    def module_is_project(self, name: str | None, *, unknown: bool) -> bool:
        """Whether module ``name`` is the project's; ``unknown`` when it is not loaded
        (code exec'd into a namespace of its own is the user's)."""
        module = sys.modules.get(name or "")
        if module is None:
            return unknown
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            return self.is_project_path(file)
        return name == "__main__"

    def is_library(self, module: ModuleType) -> bool:
        """Whether ``module`` has a file and it is not the project's (a namespace package
        has none: it may be the project's)."""
        file = getattr(module, "__file__", None)
        return isinstance(file, str) and not self.is_project_path(file)

    def is_project_path(self, file: str) -> bool:
        return is_project_file(file, self.anchor)


def _is_code_like(value: Any) -> bool:
    kinds = (FunctionType, type, ModuleType, functools.partial, Task)
    return isinstance(value, kinds) or wrapped(value) is not None


def _unwrap_one(obj: Any) -> Any:
    if isinstance(obj, Task):
        return obj.fn
    if isinstance(obj, MethodType):
        return obj.__func__
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    return obj


def _file_of(obj: Any) -> str | None:
    if isinstance(obj, FunctionType):
        return obj.__code__.co_filename
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    file = getattr(module, "__file__", None)
    return file if isinstance(file, str) else None


def _qualified(obj: FunctionType | type) -> str:
    if isinstance(obj, FunctionType):
        # Where the code is, not the names functools.wraps copied onto a wrapper.
        module = obj.__globals__.get("__name__")
        name = getattr(obj.__code__, "co_qualname", obj.__qualname__)  # Python 3.11+
        return f"{module or '?'}.{name}"
    return f"{obj.__module__ or '?'}.{obj.__qualname__}"

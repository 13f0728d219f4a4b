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
uses), not by running anything. The canonical JSON form of values, shared with
:mod:`dagwell.tracking.cache_keys`, lives here too. The only I/O is reading source files.
"""

from __future__ import annotations

import ast
import dis
import functools
import importlib.util
import inspect
import json
import linecache
import math
import os
import sys
import sysconfig
import textwrap
import tokenize
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any

import cloudpickle
from blake3 import blake3

from dagwell.core.datasets import Dataset
from dagwell.core.task import Task
from dagwell.core.values import ItemOf, StoredValue
from dagwell.errors import DefinitionError
from dagwell.types import JSONValue

TASK_PART = "<task>"
"""The key of the task function's own source in :attr:`CodeFingerprint.parts`."""

MAX_DEPTH = 12
"""How many calls deep helpers are followed; deeper ones are hashed but not walked further."""

_LITERAL_LIMIT = 10_000  # elements; a bigger global constant is hashed as its module file
_DAGWELL_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


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
    walk = _Walk(_file_of(_innermost(target)))
    walk.root(target)
    return CodeFingerprint(name=str(name), parts=walk.parts)


# -- canonical values --------------------------------------------------------------------


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
        return {"__dict__": sorted(pairs, key=_dumps)}
    if kind in (set, frozenset):
        return {"__set__": sorted((canonical(item, callable_id) for item in value), key=_dumps)}
    if isinstance(value, StoredValue):
        return {"__artifact__": value.hash}
    if isinstance(value, ItemOf):
        return {"__item__": [value.value.hash, value.index]}
    if isinstance(value, Dataset):
        return {"__dataset__": value.uri}
    if isinstance(value, (FunctionType, type, functools.partial, Task, MethodType)):
        return {"__callable__": callable_id(value)}
    return {"__pickle__": blake3(cloudpickle.dumps(value)).hexdigest()}


def _instance_state(value: Any) -> JSONValue:
    """The state of an object whose method is a task: it is part of that task's code."""
    try:
        return canonical(value, callable_name)
    except Exception as exc:  # any failure to pickle means: no fingerprint
        raise DefinitionError(
            f"{type(value).__name__} object {value!r} cannot be hashed for a cache key, so a "
            f"method of it cannot be a cached task: {exc}"
        ) from exc


def callable_name(value: Any) -> str:
    """``module.qualname`` of the function or class behind a task, partial or wrapper."""
    target = _innermost(value)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', type(target).__qualname__)}"


def callable_code(value: Any) -> str:
    """A callable passed as an argument: its name, and its code when it is the project's."""
    name = callable_name(value)
    target = _innermost(value)
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
            elif isinstance(target, FunctionType) and _wrapped(target) is not None:
                outer.append(target)  # a project decorator's wrapper is a helper
                target = _wrapped(target)
            else:
                break
        # Seen first, so neither recursion nor a wrapper's closure adds it as a helper.
        self.seen[id(target)] = target
        for value in outer:
            self.value("", value, 1)
        if isinstance(target, FunctionType):
            digest = _function_digest(target, strip_decorators=True)
            self.follow_function(target, TASK_PART, 1)
        elif isinstance(target, type):
            digest = _class_digest(target)
            self.follow_class(target, 1)
        elif callable(target) and not isinstance(target, type(len)):
            digest = _class_digest(type(target))  # an instance with __call__
            extras.append(_instance_state(target))
            self.follow_class(type(target), 1)
        else:
            digest = _hash_text(callable_name(target))
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
                self.parts[name] = _function_digest(obj, strip_decorators=False)
                if follow:
                    self.follow_function(obj, name, depth + 1)
        elif isinstance(obj, type):
            if self.is_project(obj):
                self.parts[_qualified(obj)] = _class_digest(obj)
                if follow:
                    self.follow_class(obj, depth + 1)
        elif isinstance(obj, ModuleType):
            file = getattr(obj, "__file__", None)
            if isinstance(file, str) and self.is_project_path(file):
                self.parts[obj.__name__] = _file_digest(file)
        elif _wrapped(obj) is not None:  # functools.lru_cache and other wrapper objects
            self.visit(_wrapped(obj), depth)

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
        if _is_literal(value, [_LITERAL_LIMIT]):
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
        for ref in _references(fn.__code__):
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
        if _wrapped(fn) is not None:
            self.visit(_wrapped(fn), depth)

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
        file = _module_file(name)
        if file is None:
            return False
        if self.is_project_path(file):
            self.parts[name] = _file_digest(file)
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
        return _is_project_file(file, self.anchor)


def _is_code_like(value: Any) -> bool:
    kinds = (FunctionType, type, ModuleType, functools.partial, Task)
    return isinstance(value, kinds) or _wrapped(value) is not None


def _wrapped(value: Any) -> Any:
    """What functools.wraps says ``value`` wraps, if anything. Only a real attribute counts:
    a Mock makes up a new ``__wrapped__`` each time it is asked."""
    namespace = getattr(value, "__dict__", None)
    return namespace.get("__wrapped__") if isinstance(namespace, dict) else None


def _unwrap_one(obj: Any) -> Any:
    if isinstance(obj, Task):
        return obj.fn
    if isinstance(obj, MethodType):
        return obj.__func__
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    return obj


def _innermost(target: Any) -> Any:
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
        elif _wrapped(target) is not None:
            target = _wrapped(target)
        else:
            break
    return target


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


def _is_literal(value: Any, budget: list[int]) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        return False
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return True
    if kind in (list, tuple, set, frozenset):
        return all(_is_literal(item, budget) for item in value)
    if kind is dict:
        return all(_is_literal(k, budget) and _is_literal(v, budget) for k, v in value.items())
    return False


# -- references in bytecode --------------------------------------------------------------

# ("global", names) | ("import", module, level, from-names)
_Ref = tuple[Any, ...]
_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_ATTRIBUTE_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_REFERENCES: weakref.WeakKeyDictionary[CodeType, tuple[_Ref, ...]] = weakref.WeakKeyDictionary()


def _references(code: CodeType) -> tuple[_Ref, ...]:
    """The global names, attribute chains on them and imports used by ``code`` and the
    code nested in it (lambdas, comprehensions, inner functions), in order, once each."""
    known = _REFERENCES.get(code)
    if known is None:
        found: dict[_Ref, None] = {}
        _collect(code, found)
        known = _REFERENCES[code] = tuple(found)
    return known


def _collect(code: CodeType, found: dict[_Ref, None]) -> None:
    chain: list[str] = []
    constants: list[Any] = [None, None]  # the last two, for an import's level
    imported: list[Any] | None = None  # [module, level, from-names] while binding them

    def close() -> None:
        nonlocal chain, imported
        if chain:
            found[("global", tuple(chain))] = None
        if imported is not None:
            found[("import", imported[0], imported[1], tuple(imported[2]))] = None
        chain, imported = [], None

    for instruction in dis.get_instructions(code):
        op = instruction.opname
        if op in _ATTRIBUTE_LOADS and chain:
            chain.append(str(instruction.argval))
            continue
        if imported is not None and (op == "IMPORT_FROM" or op.startswith("STORE_")):
            if op == "IMPORT_FROM":
                imported[2].append(str(instruction.argval))
            continue
        close()
        if op in _GLOBAL_LOADS:
            chain = [str(instruction.argval)]
        elif op == "IMPORT_NAME":
            level = constants[0] if isinstance(constants[0], int) else 0
            imported = [str(instruction.argval), level, []]
        elif op in ("LOAD_CONST", "LOAD_SMALL_INT"):
            constants = [constants[1], instruction.argval]
    close()
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            _collect(constant, found)


def _module_file(name: str) -> str | None:
    """The source file of module ``name`` without importing it (nor, for a submodule,
    its package, which must be loaded already)."""
    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return origin if isinstance(origin, str) and origin.endswith(".py") else None


# -- what is the project's ---------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _installed_folders() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(folders that are never the project's, Python prefixes), each ending in a separator.

    Read on first use, not at import, so a test or a tool may change ``sys.prefix`` first.
    """
    always = {os.path.dirname(os.__file__)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            always.add(path)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return _folder_forms(always), _folder_forms(prefixes)


def _folder_forms(paths: set[str]) -> tuple[str, ...]:
    forms = set()
    for path in paths:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            forms.add(form.rstrip(os.sep) + os.sep)
    return tuple(sorted(forms))


@functools.lru_cache(maxsize=4096)
def _is_project_file(file: str, anchor: str | None) -> bool:
    """Whether ``file`` is the user's own source, not installed code nor dagwell's.

    ``anchor`` is the task's own file. When it is one of dagwell's (the demo), that file
    counts. A Python prefix holding it (Python in ``/usr``, the project in ``/usr/src/app``)
    does not exclude it; the standard library and site-packages still do.
    """
    if not file.endswith(".py") or file.startswith("<"):
        return False
    always, prefixes = _installed_folders()
    forms = {os.path.abspath(file), os.path.realpath(file)}
    for form in forms:
        if {"site-packages", "dist-packages"} & set(form.split(os.sep)):
            return False
        if any(form.startswith(folder) for folder in always):
            return False
        if form.startswith(_DAGWELL_FOLDER):
            return file == anchor
        for prefix in prefixes:
            if form.startswith(prefix) and not (anchor or "").startswith(prefix):
                return False
    return True


# -- digests -----------------------------------------------------------------------------

# (digest, whether it is of the source) by code object: a reload or a redefinition makes a
# new code object, while the same code keeps the digest of the source it was first read from.
_DIGESTS: weakref.WeakKeyDictionary[CodeType, tuple[str, bool]] = weakref.WeakKeyDictionary()
_TASK_DIGESTS: weakref.WeakKeyDictionary[CodeType, tuple[str, bool]] = weakref.WeakKeyDictionary()
_CLASSES: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()
_FILES: dict[str, tuple[int, int, str]] = {}


def _function_digest(fn: FunctionType, *, strip_decorators: bool) -> str:
    """The digest of ``fn``'s source, or of its bytecode and defaults without a source."""
    memo = _TASK_DIGESTS if strip_decorators else _DIGESTS
    code = fn.__code__
    known = memo.get(code)
    if known is None:
        known = memo[code] = _code_digest(code, fn.__globals__, strip_decorators)
    digest, of_source = known
    if of_source or not (fn.__defaults__ or fn.__kwdefaults__):
        return digest
    # Without a source, default values are not in the digest yet.
    return hash_json([digest, canonical([fn.__defaults__, fn.__kwdefaults__], callable_name)])


def _code_digest(
    code: CodeType, namespace: dict[str, Any], strip_decorators: bool
) -> tuple[str, bool]:
    source = _source_of(code, namespace)
    if source is None:  # defined in a REPL, by exec, or the file is gone
        return _bytecode_digest(code), False
    if strip_decorators:
        # ``@dw.task(retries=3)`` is options, not code: ``version`` and ``outputs`` are
        # components of the key on their own, and retries or timeouts change no result.
        source = _without_decorators(source)
    return _hash_text("source\0" + source.replace("\r\n", "\n")), True


def _source_of(code: CodeType, namespace: dict[str, Any]) -> str | None:
    """The lines defining ``code``, read as ``inspect.getsource`` does, minus its first
    call's scan of every loaded module (``inspect.getmodule``), some ten milliseconds."""
    file = code.co_filename
    linecache.checkcache(file)
    # The namespace lets linecache ask the module's loader (a zip import, a notebook).
    lines = linecache.getlines(file, namespace)
    start = code.co_firstlineno - 1
    if not 0 <= start < len(lines):
        return None
    try:
        return "".join(inspect.getblock(lines[start:]))
    except (SyntaxError, tokenize.TokenError):
        return None


def _without_decorators(source: str) -> str:
    text = textwrap.dedent(source)
    try:
        tree = ast.parse(text)
    except SyntaxError:  # a lambda cut out of a longer expression
        return source
    if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "".join(text.splitlines(keepends=True)[tree.body[0].lineno - 1 :])
    return source


def _bytecode_digest(code: CodeType) -> str:
    """A digest of what ``code`` does, for functions whose source cannot be read."""
    hasher = blake3(b"bytecode\0")
    hasher.update(code.co_code)
    shape = (
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
    )
    hasher.update(repr(shape).encode())
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            hasher.update(_bytecode_digest(constant).encode())
        else:
            hasher.update(_dumps(canonical(constant, callable_name)).encode())
    digest: str = hasher.hexdigest()
    return digest


def _class_digest(cls: type) -> str:
    digest = _CLASSES.get(cls)
    if digest is None:
        try:
            digest = _hash_text("source\0" + inspect.getsource(cls).replace("\r\n", "\n"))
        except (OSError, TypeError):  # defined in a REPL: its methods' code instead
            members = []
            for name, value in sorted(vars(cls).items()):
                value = getattr(value, "__func__", value)
                if isinstance(value, FunctionType):
                    members.append([name, _function_digest(value, strip_decorators=False)])
                elif _is_literal(value, [_LITERAL_LIMIT]):
                    members.append([name, canonical(value, callable_name)])
            bases = [callable_name(base) for base in cls.__bases__]
            digest = hash_json([cls.__qualname__, bases, members])
        _CLASSES[cls] = digest
    return digest


def _file_digest(path: str) -> str:
    """The digest of a whole source file, read again only when its size or mtime change."""
    try:
        stat = os.stat(path)
    except OSError:
        return _hash_text(f"missing\0{path}")
    known = _FILES.get(path)
    if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
        return known[2]
    with open(path, "rb") as source:
        digest: str = blake3(b"file\0" + source.read().replace(b"\r\n", b"\n")).hexdigest()
    _FILES[path] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


def _dumps(value: JSONValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_json(value: JSONValue) -> str:
    """The digest of ``value``'s JSON with sorted keys and no spaces."""
    return _hash_text(_dumps(value))


def _hash_text(text: str) -> str:
    digest: str = blake3(text.encode("utf-8", "surrogatepass")).hexdigest()
    return digest

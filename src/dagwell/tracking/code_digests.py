"""Code digests: the digest of one function, class or source file, by its source text.

A function or class without a readable source (a REPL, ``exec``) is hashed by its
bytecode, defaults and members instead. Digests are remembered per code object, class or
file version, so each source is read and hashed once per process.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import textwrap
import tokenize
import weakref
from types import CodeType, FunctionType
from typing import Any

from blake3 import blake3

from dagwell.tracking.canonical import (
    LITERAL_LIMIT,
    callable_name,
    canonical,
    dumps,
    hash_json,
    hash_text,
    is_literal,
)


class _ByIdentity:
    """Values remembered per code object itself, for as long as it lives. Not a
    WeakKeyDictionary: code objects compare equal by content (bytecode, names, line), so two
    functions of other files, or with other decorator arguments, would share one entry."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[CodeType], tuple[str, bool]]] = {}

    def get(self, code: CodeType) -> tuple[str, bool] | None:
        entry = self._entries.get(id(code))
        return entry[1] if entry is not None and entry[0]() is code else None

    def put(self, code: CodeType, value: tuple[str, bool]) -> None:
        # The entry leaves with its code object, before another object can get its id.
        key, entries = id(code), self._entries
        entries[key] = (weakref.ref(code, lambda _: entries.pop(key, None)), value)


# (digest, whether it is of the source) by code object: a reload or a redefinition makes a
# new code object, while the same code keeps the digest of the source it was first read from.
_DIGESTS = _ByIdentity()
_TASK_DIGESTS = _ByIdentity()
_CLASSES: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()
_FILES: dict[str, tuple[int, int, str]] = {}


def function_digest(fn: FunctionType, *, strip_decorators: bool) -> str:
    """The digest of ``fn``'s source, or of its bytecode and defaults without a source."""
    memo = _TASK_DIGESTS if strip_decorators else _DIGESTS
    code = fn.__code__
    known = memo.get(code)
    if known is None:
        known = _code_digest(code, fn.__globals__, strip_decorators)
        memo.put(code, known)
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
    return hash_text("source\0" + source.replace("\r\n", "\n")), True


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
            hasher.update(dumps(canonical(constant, callable_name)).encode())
    digest: str = hasher.hexdigest()
    return digest


def class_digest(cls: type) -> str:
    """The digest of ``cls``'s source, or of its bases and members without a source."""
    digest = _CLASSES.get(cls)
    if digest is None:
        try:
            digest = hash_text("source\0" + inspect.getsource(cls).replace("\r\n", "\n"))
        except (OSError, TypeError):  # defined in a REPL: its methods' code instead
            members = []
            for name, value in sorted(vars(cls).items()):
                value = getattr(value, "__func__", value)
                if isinstance(value, FunctionType):
                    members.append([name, function_digest(value, strip_decorators=False)])
                elif is_literal(value, [LITERAL_LIMIT]):
                    members.append([name, canonical(value, callable_name)])
            bases = [callable_name(base) for base in cls.__bases__]
            digest = hash_json([cls.__qualname__, bases, members])
        _CLASSES[cls] = digest
    return digest


def file_digest(path: str) -> str:
    """The digest of a whole source file, read again only when its size or mtime change."""
    try:
        stat = os.stat(path)
    except OSError:
        return hash_text(f"missing\0{path}")
    known = _FILES.get(path)
    if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
        return known[2]
    with open(path, "rb") as source:
        digest: str = blake3(b"file\0" + source.read().replace(b"\r\n", b"\n")).hexdigest()
    _FILES[path] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest

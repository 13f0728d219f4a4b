"""Bytecode references: the global names, attribute chains and imports a code object uses.

They are read from the bytecode with :mod:`dis`, without running anything, and remembered
per code object. :func:`module_file` finds the source file an import names without
importing it.
"""

from __future__ import annotations

import dis
import importlib.util
import sys
import weakref
from types import CodeType
from typing import Any

# ("global", names) | ("import", module, level, from-names)
_Ref = tuple[Any, ...]
_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_ATTRIBUTE_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_REFERENCES: weakref.WeakKeyDictionary[CodeType, tuple[_Ref, ...]] = weakref.WeakKeyDictionary()


def references(code: CodeType) -> tuple[_Ref, ...]:
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


def module_file(name: str) -> str | None:
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

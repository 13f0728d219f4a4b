"""Bytecode references: globals, attribute chains and imports, read without running the code."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import CodeType

import pytest

from dagwell.tracking.bytecode_refs import module_file, references


def code_of(source: str) -> CodeType:
    """The code of function ``f`` defined by ``source``; nothing in its body runs."""
    scope: dict[str, object] = {"__name__": "refs_example"}
    exec(compile(textwrap.dedent(source), "<refs>", "exec"), scope)
    code = scope["f"].__code__  # type: ignore[attr-defined]
    assert isinstance(code, CodeType)
    return code


def globals_of(code: CodeType) -> set[tuple[str, ...]]:
    return {ref[1] for ref in references(code) if ref[0] == "global"}


def imports_of(code: CodeType) -> set[tuple[object, ...]]:
    return {ref[1:] for ref in references(code) if ref[0] == "import"}


# -- references --------------------------------------------------------------------------


def test_global_names_and_their_attribute_chains_are_found() -> None:
    code = code_of(
        """
        def f(x):
            y = features.clean(x)
            return os.path.join(y, x.name), len(y)
        """
    )
    assert globals_of(code) == {("features", "clean"), ("os", "path", "join"), ("len",)}


def test_a_chain_stops_at_a_call_and_locals_are_not_globals() -> None:
    code = code_of(
        """
        def f(x):
            local = x
            return json.dumps(local).upper(), local.attribute
        """
    )
    assert globals_of(code) == {("json", "dumps")}


def test_imports_name_the_module_its_level_and_the_names_taken() -> None:
    code = code_of(
        """
        def f():
            import json as j
            from os.path import join, dirname
            from . import sibling
            from .helpers import clean
            return j, join, dirname, sibling, clean
        """
    )
    assert imports_of(code) == {
        ("json", 0, ()),
        ("os.path", 0, ("join", "dirname")),
        ("", 1, ("sibling",)),
        ("helpers", 1, ("clean",)),
    }


def test_names_used_in_lambdas_inner_functions_and_comprehensions_are_found() -> None:
    code = code_of(
        """
        def f(xs):
            key = lambda x: by_lambda(x)

            def inner():
                from features import scale
                return by_inner.attribute, scale

            return [by_comprehension(x) for x in xs], key, inner
        """
    )
    assert {("by_lambda",), ("by_inner", "attribute"), ("by_comprehension",)} <= globals_of(code)
    assert ("features", 0, ("scale",)) in imports_of(code)


def test_each_reference_is_listed_once() -> None:
    code = code_of(
        """
        def f(x):
            return helper(x) + helper(x) + helper.twice(x) + helper.twice(x)
        """
    )
    assert references(code) == (("global", ("helper",)), ("global", ("helper", "twice")))


# -- module files ------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path; modules imported from it are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def test_module_file_finds_a_module_source_without_importing_it(folder: Path) -> None:
    name = f"helpers_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text("VALUE = 1\n")

    assert module_file(name) == str(folder / f"{name}.py")
    assert name not in sys.modules


def test_a_submodule_is_found_only_once_its_package_is_loaded(folder: Path) -> None:
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    (folder / package).mkdir()
    (folder / package / "__init__.py").write_text("")
    (folder / package / "sub.py").write_text("VALUE = 1\n")

    assert module_file(f"{package}.sub") is None
    assert package not in sys.modules

    __import__(package)
    assert module_file(f"{package}.sub") == str(folder / package / "sub.py")
    assert f"{package}.sub" not in sys.modules


def test_a_module_without_a_python_source_or_that_does_not_exist_has_no_file() -> None:
    assert module_file("sys") is None
    assert module_file(f"no_such_module_{uuid.uuid4().hex}") is None
    assert module_file(".relative") is None

"""Code digests: one function, class or source file hashed by its text (or, without a
source, by its bytecode and members)."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dagwell.tracking.code_digests import class_digest, file_digest, function_digest

HEADER = textwrap.dedent(
    """
    def task(**options):
        return lambda fn: fn
    """
)


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write ``source`` to a new file and import it as a module of its own."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def loader(source: str) -> ModuleType:
        name = f"digests_{uuid.uuid4().hex[:12]}"
        path = tmp_path / f"{name}.py"
        path.write_text(HEADER + textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)  # inspect finds a class's file here
        spec.loader.exec_module(module)
        return module

    return loader


def typed_in_a_repl(source: str) -> dict[str, Any]:
    """What ``source`` defines when run as in a REPL, with no readable source file."""
    scope: dict[str, Any] = {"__name__": "notebook"}
    exec(compile(textwrap.dedent(source), "<stdin>", "exec"), scope)
    return scope


FIT = """
def fit(x):
    return x + 1
"""


def digest(module: ModuleType, name: str = "fit", *, strip: bool = False) -> str:
    return function_digest(getattr(module, name), strip_decorators=strip)


# -- functions ---------------------------------------------------------------------------


def test_a_function_digest_changes_when_its_source_changes(load: Any) -> None:
    before = digest(load(FIT))
    assert len(before) == 64
    assert digest(load(FIT.replace("x + 1", "x + 2"))) != before


def test_the_source_text_is_hashed_so_spacing_and_comments_inside_count(load: Any) -> None:
    before = digest(load(FIT))
    assert digest(load(FIT.replace("x + 1", "x+1"))) != before
    assert digest(load(FIT.replace("    return", "    # add one\n    return"))) != before


def test_a_function_digest_ignores_edits_around_the_function(load: Any) -> None:
    """Moving it, commenting above it or changing a neighbour leaves its digest alone."""
    before = digest(load(FIT))
    assert digest(load("\n\n# the model\n" + FIT)) == before
    assert digest(load(FIT + "\ndef other(x):\n    return x * 3\n")) == before


def test_a_tasks_digest_leaves_out_its_decorators_and_a_helpers_keeps_them(
    load: Any,
) -> None:
    """``@task(retries=3)`` is options, not code; a helper's decorator is part of it."""
    plain = load(FIT)
    decorated = load(FIT.replace("def fit", "@task(retries=3)\ndef fit"))

    assert digest(decorated, strip=True) == digest(plain, strip=True)
    assert digest(decorated) != digest(plain)


def test_functions_alike_in_bytecode_but_not_in_source_get_their_own_digests(
    load: Any,
) -> None:
    """Code objects compare equal by bytecode and line: a decorator argument or a trailing
    comment, invisible there, must still tell two functions apart, whichever came first."""
    helper = "@functools.lru_cache(maxsize={})\ndef fit(x):\n    return x + 1{}\n"
    first = load("import functools\n" + helper.format(1, ""))
    second = load("import functools\n" + helper.format("None", ""))
    third = load("import functools\n" + helper.format(1, "  # plus one"))
    fits = [m.fit.__wrapped__ for m in (first, second, third)]
    assert fits[0].__code__ == fits[1].__code__ == fits[2].__code__  # what made them collide

    digests = [function_digest(fn, strip_decorators=False) for fn in fits]

    assert len(set(digests)) == 3


def test_a_function_without_source_is_hashed_by_bytecode_and_defaults() -> None:
    first = typed_in_a_repl("def fit(x, k=2):\n    return x * k\n")["fit"]
    again = typed_in_a_repl("def fit(x, k=2):\n    return x * k\n")["fit"]
    other_code = typed_in_a_repl("def fit(x, k=2):\n    return x + k\n")["fit"]
    other_default = typed_in_a_repl("def fit(x, k=3):\n    return x * k\n")["fit"]

    before = function_digest(first, strip_decorators=False)
    assert function_digest(again, strip_decorators=False) == before
    assert function_digest(other_code, strip_decorators=False) != before
    assert function_digest(other_default, strip_decorators=False) != before


# -- classes -----------------------------------------------------------------------------

MODEL = """
class Model:
    factor = 2

    def apply(self, x):
        return x * self.factor
"""


def test_a_class_digest_changes_with_its_source_and_not_with_code_around_it(
    load: Any,
) -> None:
    before = class_digest(load(MODEL).Model)
    assert len(before) == 64
    assert class_digest(load(MODEL.replace("factor = 2", "factor = 3")).Model) != before
    assert class_digest(load(MODEL.replace("x * self", "x + self")).Model) != before
    assert class_digest(load(FIT + MODEL).Model) == before


def test_a_class_without_source_is_hashed_by_its_members() -> None:
    """Its methods' bytecode and its plain attributes (``__module__`` among them)."""

    def model(factor: int, body: str) -> type:
        source = f"class Model:\n    factor = {factor}\n\n    def apply(self, x):\n{body}"
        cls = typed_in_a_repl(source)["Model"]
        assert isinstance(cls, type)
        return cls

    before = class_digest(model(2, "        return x * self.factor\n"))
    assert class_digest(model(2, "        return x * self.factor\n")) == before
    assert class_digest(model(3, "        return x * self.factor\n")) != before
    assert class_digest(model(2, "        return x + self.factor\n")) != before


# -- files -------------------------------------------------------------------------------


def test_a_file_digest_changes_with_any_byte_and_follows_edits(tmp_path: Path) -> None:
    path = tmp_path / "features.py"
    path.write_text("THRESHOLD = 0.5\n")
    before = file_digest(str(path))
    assert len(before) == 64

    path.write_text("THRESHOLD = 0.5\n# a comment counts too\n")
    assert file_digest(str(path)) != before

    path.write_text("THRESHOLD = 0.5\n")
    assert file_digest(str(path)) == before


def test_a_file_digest_is_the_same_with_windows_line_endings(tmp_path: Path) -> None:
    unix, windows = tmp_path / "unix.py", tmp_path / "windows.py"
    unix.write_bytes(b"def f():\n    return 1\n")
    windows.write_bytes(b"def f():\r\n    return 1\r\n")
    assert file_digest(str(windows)) == file_digest(str(unix))


def test_a_missing_file_has_a_digest_of_its_own_instead_of_an_error(tmp_path: Path) -> None:
    gone, other = str(tmp_path / "gone.py"), str(tmp_path / "other.py")
    assert file_digest(gone) == file_digest(gone)
    assert file_digest(gone) != file_digest(other)
    (tmp_path / "gone.py").write_text("")
    assert file_digest(gone) != file_digest(other)

"""Code fingerprints: the task's source and the project helpers it reaches, and misses in them."""

from __future__ import annotations

import functools
import importlib
import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import dagwell as dw
from dagwell.core.task import Task
from dagwell.tracking.cache_keys import CacheKey, cache_key, explain_miss
from dagwell.tracking.fingerprints import MAX_DEPTH, TASK_PART, CodeFingerprint, code_fingerprint


class Project:
    """Modules written into a folder, imported under unique names, and reloaded after edits."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tag = uuid.uuid4().hex[:8]
        self.names: list[str] = []

    def name(self, stem: str) -> str:
        return f"{stem}_{self.tag}"

    def write(self, stem: str, source: str) -> None:
        text = textwrap.dedent(source).replace("{tag}", self.tag)
        (self.folder / f"{self.name(stem)}.py").write_text(text)

    def load(self, stem: str) -> ModuleType:
        """Import the module, or reload it when it is loaded already."""
        name = self.name(stem)
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        self.names.append(name)
        return importlib.import_module(name)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.syspath_prepend(str(tmp_path))
    # No .pyc: a reload right after an edit must compile the new source, whatever the mtime.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    made = Project(tmp_path)
    yield made
    for name in made.names:
        sys.modules.pop(name, None)


FEATURES = textwrap.dedent("""
    THRESHOLD = 0.5

    def _strip(x):
        return x

    def clean(x):
        return _strip(x) + 1

    def scale(x):
        return x * 2

    def unused(x):
        return x
""")

PIPELINE = textwrap.dedent("""
    import json

    import numpy as np

    import dagwell as dw
    import features_{tag} as features
    from features_{tag} import scale

    def _prep(x):
        return x

    @dw.task(retries=2)
    def fit(x):
        return json.dumps(float(np.mean([features.clean(_prep(x)), scale(x)])))
""")


def edit(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced, failing loudly if ``old`` is not there."""
    assert old in text
    return text.replace(old, new)


def fingerprint(module: ModuleType, attribute: str = "fit") -> CodeFingerprint:
    return code_fingerprint(getattr(module, attribute))


def miss(before: CodeFingerprint, after: CodeFingerprint) -> list[str]:
    return explain_miss(CacheKey(before), CacheKey(after))


def load_pipeline(project: Project, features: str = FEATURES) -> ModuleType:
    project.write("features", features)
    project.write("pipeline", PIPELINE)
    project.load("features")
    return project.load("pipeline")


# -- code fingerprints -------------------------------------------------------------------


def test_the_same_function_has_the_same_fingerprint(project: Project) -> None:
    pipeline = load_pipeline(project)
    first = fingerprint(pipeline)
    assert fingerprint(pipeline) == first
    assert code_fingerprint(pipeline.fit.fn).digest == first.digest
    assert first.name == "fit"


def test_parts_name_the_task_and_each_project_helper_it_reaches(project: Project) -> None:
    """Helpers through ``module.attr``, ``from`` imports, the task's own module and calls
    between helpers; never library functions such as numpy.mean or json.dumps."""
    pipeline = load_pipeline(project)
    features, own = project.name("features"), project.name("pipeline")
    assert set(fingerprint(pipeline).parts) == {
        TASK_PART,
        f"{features}.clean",
        f"{features}._strip",
        f"{features}.scale",
        f"{own}._prep",
    }


def test_library_functions_are_not_parts() -> None:
    def summary(values: list[float]) -> str:
        return json.dumps({"mean": float(np.mean(values)), "n": len(values)})

    assert list(code_fingerprint(summary).parts) == [TASK_PART]


def test_editing_the_task_source_changes_the_fingerprint(project: Project) -> None:
    pipeline = load_pipeline(project)
    before = fingerprint(pipeline)
    project.write("pipeline", edit(PIPELINE, "scale(x)]", "scale(x) * 10]"))
    after = fingerprint(project.load("pipeline"))

    assert after.digest != before.digest
    assert miss(before, after) == ["code of task 'fit' changed"]


def test_editing_a_helper_in_another_module_names_that_helper(project: Project) -> None:
    pipeline = load_pipeline(project)
    before = fingerprint(pipeline)
    project.write("features", edit(FEATURES, "_strip(x) + 1", "_strip(x) + 100"))
    project.load("features")
    after = fingerprint(project.load("pipeline"))

    assert after.digest != before.digest
    assert miss(before, after) == [f"helper '{project.name('features')}.clean' changed"]


def test_a_helper_changed_two_calls_away_is_named(project: Project) -> None:
    pipeline = load_pipeline(project)
    before = fingerprint(pipeline)
    project.write("features", edit(FEATURES, "return x\n\ndef clean", "return -x\n\ndef clean"))
    project.load("features")

    assert miss(before, fingerprint(pipeline)) == [
        f"helper '{project.name('features')}._strip' changed"
    ]


def test_editing_an_unused_function_of_a_helper_module_changes_nothing(
    project: Project,
) -> None:
    pipeline = load_pipeline(project)
    before = fingerprint(pipeline)
    project.write(
        "features",
        edit(FEATURES, "def unused(x):\n    return x", "def unused(x):\n    return 2 * x"),
    )
    project.load("features")
    assert fingerprint(project.load("pipeline")) == before


def test_a_newly_used_helper_is_named_new_and_a_dropped_one_gone(project: Project) -> None:
    pipeline = load_pipeline(project)
    before = fingerprint(pipeline)
    project.write("pipeline", edit(PIPELINE, "scale(x)]", "features.unused(x)]"))
    after = fingerprint(project.load("pipeline"))
    features = project.name("features")

    assert miss(before, after) == [
        "code of task 'fit' changed",
        f"helper '{features}.unused' is new",
        f"helper '{features}.scale' is no longer used",
    ]


def test_a_module_constant_is_hashed_by_value(project: Project) -> None:
    project.write("features", FEATURES)
    project.write(
        "pipeline",
        """
        import features_{tag} as features

        def fit(x):
            return x > features.THRESHOLD
        """,
    )
    project.load("features")
    before = fingerprint(project.load("pipeline"))
    project.write("features", edit(FEATURES, "0.5", "0.75"))
    project.load("features")

    assert miss(before, fingerprint(project.load("pipeline"))) == [
        f"helper '{project.name('features')}.THRESHOLD' changed"
    ]


def test_a_helper_imported_inside_the_task_body_counts(project: Project) -> None:
    project.write("features", FEATURES)
    project.write(
        "pipeline",
        """
        def fit(x):
            from features_{tag} import clean
            return clean(x)
        """,
    )
    project.load("features")
    pipeline = project.load("pipeline")
    assert f"{project.name('features')}.clean" in fingerprint(pipeline).parts


def test_a_module_used_as_a_whole_is_hashed_as_its_file(project: Project) -> None:
    project.write("features", FEATURES)
    project.write(
        "pipeline",
        """
        import features_{tag} as features

        def fit(x):
            return getattr(features, x)
        """,
    )
    project.load("features")
    pipeline = project.load("pipeline")
    before = fingerprint(pipeline)
    assert project.name("features") in before.parts

    project.write("features", FEATURES + "\nEXTRA = 1\n")
    project.load("features")
    assert miss(before, fingerprint(pipeline)) == [f"helper '{project.name('features')}' changed"]


def test_recursion_between_helpers_terminates(project: Project) -> None:
    project.write(
        "pipeline",
        """
        def even(n):
            return n == 0 or odd(n - 1)

        def odd(n):
            return n != 0 and even(n - 1)

        def fit(n):
            return even(n) and fit(n - 1)
        """,
    )
    parts = fingerprint(project.load("pipeline")).parts
    own = project.name("pipeline")
    assert set(parts) == {TASK_PART, f"{own}.even", f"{own}.odd"}


PARTIAL_PIPELINE = textwrap.dedent(
    """
    import functools

    import dagwell as dw

    @dw.task
    def load(x):
        return x

    def multiply(a, b):
        return a * b

    double = functools.partial(multiply, 2)

    @dw.task
    def fit(x):
        return double(load(x))
    """
)


def test_a_task_calling_another_task_includes_that_task_function(project: Project) -> None:
    """Another task counts by its function; a partial by its function and bound arguments."""
    project.write("pipeline", PARTIAL_PIPELINE)
    before = fingerprint(project.load("pipeline"))
    own = project.name("pipeline")
    assert set(before.parts) == {TASK_PART, f"{own}.load", f"{own}.double", f"{own}.multiply"}

    project.write("pipeline", edit(PARTIAL_PIPELINE, "(multiply, 2)", "(multiply, 30)"))
    assert miss(before, fingerprint(project.load("pipeline"))) == [f"helper '{own}.double' changed"]


MODELS = textwrap.dedent(
    """
    import functools

    def _norm(x):
        return x

    def timed(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            return fn(*args)
        return wrapper

    class Scaler:
        factor = 2

        def apply(self, x):
            return _norm(x) * self.factor

    DEFAULT = Scaler()
    """
)


def test_classes_decorators_and_global_instances_are_followed(project: Project) -> None:
    project.write("models", MODELS)
    project.write(
        "pipeline",
        """
        from models_{tag} import DEFAULT, Scaler, timed

        @timed
        def fit(x):
            return Scaler().apply(x) + DEFAULT.apply(x)
        """,
    )
    project.load("models")
    before = fingerprint(project.load("pipeline"))
    models = project.name("models")
    # DEFAULT is an instance: the files of the module binding it and of its class count.
    assert set(before.parts) == {
        TASK_PART,
        models,
        project.name("pipeline"),
        f"{models}.Scaler",
        f"{models}._norm",
        f"{models}.timed.<locals>.wrapper",
    }

    project.write("models", edit(MODELS, "return _norm(x) *", "return _norm(x) + 1 *"))
    project.load("models")
    after = fingerprint(project.load("pipeline"))
    assert miss(before, after) == [
        f"helper '{models}' changed",
        f"helper '{models}.Scaler' changed",
    ]


def test_generated_methods_of_a_dataclass_are_not_parts(project: Project) -> None:
    """Methods a dataclass writes with exec come from the class source, hashed already."""
    project.write(
        "pipeline",
        """
        import dataclasses

        @dataclasses.dataclass
        class Config:
            alpha: float = 0.1

        def fit(x):
            return repr(Config(alpha=x))
        """,
    )
    own = project.name("pipeline")
    assert set(fingerprint(project.load("pipeline")).parts) == {TASK_PART, f"{own}.Config"}


class Scorer:
    def __init__(self, weight: float) -> None:
        self.weight = weight

    def score(self, x: float) -> float:
        return x * self.weight


def test_a_method_task_counts_the_state_of_its_object() -> None:
    light, heavy = code_fingerprint(Scorer(1.0).score), code_fingerprint(Scorer(2.0).score)
    assert code_fingerprint(Scorer(1.0).score) == light
    assert miss(light, heavy) == ["code of task 'score' changed"]
    assert f"{__name__}.Scorer" in light.parts


def test_helpers_deeper_than_the_limit_are_hashed_but_not_followed(project: Project) -> None:
    chain = [f"def f{i}(x):\n    return f{i + 1}(x)\n" for i in range(MAX_DEPTH + 5)]
    project.write("pipeline", "\n".join([*chain, "def fit(x):\n    return f0(x)\n"]))
    parts = fingerprint(project.load("pipeline")).parts
    own = project.name("pipeline")
    assert set(parts) == {TASK_PART} | {f"{own}.f{i}" for i in range(MAX_DEPTH)}


def test_task_options_are_not_code_but_the_version_is_a_component() -> None:
    def body(x: int) -> int:
        return x

    plain = dw.task(body)
    tuned = dw.task(retries=3, timeout=5)(body)
    bumped = dw.task(version="2")(body)

    assert code_fingerprint(tuned) == code_fingerprint(plain)
    assert explain_miss(cache_key(plain, (1,), {}, {}), cache_key(bumped, (1,), {}, {})) == [
        "version changed from None to '2'"
    ]


def test_a_lambda_task_has_a_fingerprint() -> None:
    inc = dw.task(lambda x: x + 1, name="inc")
    dec = dw.task(lambda x: x - 1, name="dec")
    assert code_fingerprint(inc) == code_fingerprint(inc)
    assert code_fingerprint(inc).digest != code_fingerprint(dec).digest


def define(source: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``source`` as a REPL would: its functions have no readable source file."""
    scope: dict[str, Any] = namespace if namespace is not None else {"__name__": "__main__"}
    exec(compile(textwrap.dedent(source), "<stdin>", "exec"), scope)
    return scope


def test_a_function_without_source_is_fingerprinted_by_its_bytecode() -> None:
    first = define("def fit(x, k=2):\n    return x * k\n")["fit"]
    again = define("def fit(x, k=2):\n    return x * k\n")["fit"]
    other = define("def fit(x, k=2):\n    return x + k\n")["fit"]
    default = define("def fit(x, k=3):\n    return x * k\n")["fit"]

    assert code_fingerprint(first) == code_fingerprint(again)
    assert code_fingerprint(other).digest != code_fingerprint(first).digest
    assert code_fingerprint(default).digest != code_fingerprint(first).digest


def test_redefining_a_helper_in_a_repl_is_seen_by_the_same_task_function() -> None:
    """Names are resolved on every call: the memo holds digests, not the walk's result."""
    scope = define(
        """
        def helper(x):
            return x + 1

        def fit(x):
            return helper(x)
        """,
        {"__name__": "notebook"},
    )
    before = code_fingerprint(scope["fit"])
    define("def helper(x):\n    return x + 2\n", scope)
    after = code_fingerprint(scope["fit"])

    assert miss(before, after) == ["helper 'notebook.helper' changed"]


def test_closure_values_of_a_task_factory_are_part_of_the_code() -> None:
    def make(threshold: float) -> Task:
        def above(x: float) -> bool:
            return x > threshold

        return dw.task(above)

    low, high = code_fingerprint(make(0.1)), code_fingerprint(make(0.9))
    assert miss(low, high) == ["closure variable 'threshold' of task 'above' changed"]


def test_a_partial_task_hashes_its_bound_arguments() -> None:
    def scale(x: float, factor: float) -> float:
        return x * factor

    double = code_fingerprint(functools.partial(scale, factor=2.0))
    triple = code_fingerprint(functools.partial(scale, factor=3.0))
    assert double.digest != triple.digest
    assert code_fingerprint(dw.shell("a", "echo a")).digest != (
        code_fingerprint(dw.shell("a", "echo b")).digest
    )

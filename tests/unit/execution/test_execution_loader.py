"""Tests for dagwell.execution.loader: finding pipelines in Python files."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.errors import PipelineLoadError
from dagwell.execution.loader import load_module, load_pipeline, split_spec

ONE_PIPELINE = """\
import dagwell as dw

@dw.task
def double(x):
    return 2 * x

@dw.pipeline
def churn(x: int = 2):
    return double(x)
"""

TWO_PIPELINES = """\
import dagwell as dw

@dw.task
def double(x):
    return 2 * x

@dw.pipeline
def churn(x: int = 2):
    return double(x)

@dw.pipeline(name="nightly")
def build_nightly():
    double(1)
"""


@pytest.fixture
def write(tmp_path, request, monkeypatch):
    """Write a pipeline file with a stem unique to this test; forget its module afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    stem = "dwtest_" + re.sub(r"\W", "_", request.node.name)

    def write_file(source: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"{stem}.py")
        path.write_text(textwrap.dedent(source))
        return path

    yield write_file
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "")).startswith(str(tmp_path)):
            del sys.modules[name]


# --- split_spec ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("pipelines/churn.py", (Path("pipelines/churn.py"), None)),
        ("pipelines/churn.py:churn", (Path("pipelines/churn.py"), "churn")),
        ("churn.py:nightly_v2", (Path("churn.py"), "nightly_v2")),
        ("churn.py:", (Path("churn.py:"), None)),
        ("churn.py:not-a-name", (Path("churn.py:not-a-name"), None)),
        ("C:/work/churn.py", (Path("C:/work/churn.py"), None)),
        ("/abs/a:b/churn.py:churn", (Path("/abs/a:b/churn.py"), "churn")),
    ],
)
def test_split_spec_separates_the_file_from_an_optional_name(spec, expected):
    assert split_spec(spec) == expected


# --- load_pipeline ------------------------------------------------------------------------


def test_load_a_file_with_one_pipeline(write):
    path = write(ONE_PIPELINE)
    churn = load_pipeline(str(path))
    assert isinstance(churn, dw.Pipeline)
    assert churn.name == "churn"
    assert list(churn.build({"x": 3}).nodes) == ["double"]


def test_loading_the_same_file_twice_gives_the_same_pipeline(write):
    path = write(ONE_PIPELINE)
    assert load_pipeline(str(path)) is load_pipeline(str(path))


def test_the_file_folder_is_importable_from_the_pipeline_file(write, tmp_path):
    helper = write("FACTOR = 3\n", name="dwtest_helper_for_neighbour_import.py")
    path = write(
        f"""\
        import dagwell as dw
        from {helper.stem} import FACTOR

        @dw.pipeline
        def scaled(x: int = FACTOR):
            pass
        """
    )
    assert load_pipeline(str(path)).params[0].default == 3
    assert str(tmp_path.resolve()) in sys.path


def test_file_colon_name_picks_a_pipeline_by_pipeline_name(write):
    path = write(TWO_PIPELINES)
    assert load_pipeline(f"{path}:nightly").name == "nightly"
    assert load_pipeline(f"{path}:churn").name == "churn"


def test_file_colon_name_picks_a_pipeline_by_variable_name(write):
    path = write(TWO_PIPELINES)
    assert load_pipeline(f"{path}:build_nightly").name == "nightly"


def test_file_colon_unknown_name_lists_the_pipelines(write):
    path = write(TWO_PIPELINES)
    with pytest.raises(
        PipelineLoadError, match="no pipeline named 'weekly'; it has: churn, nightly"
    ):
        load_pipeline(f"{path}:weekly")


def test_file_colon_name_of_a_task_is_not_a_pipeline(write):
    path = write(ONE_PIPELINE)
    with pytest.raises(PipelineLoadError, match="no pipeline named 'double'"):
        load_pipeline(f"{path}:double")


def test_file_without_pipelines_raises(write):
    path = write("import dagwell as dw\n\n@dw.task\ndef lonely():\n    pass\n")
    with pytest.raises(PipelineLoadError, match="defines no pipeline; decorate a function"):
        load_pipeline(str(path))


def test_file_with_several_pipelines_and_no_name_lists_them(write):
    path = write(TWO_PIPELINES)
    with pytest.raises(PipelineLoadError) as info:
        load_pipeline(str(path))
    message = str(info.value)
    assert "several pipelines (churn, nightly)" in message
    assert f"choose one as {path}:churn" in message


def test_a_pipeline_imported_twice_under_two_names_counts_once(write):
    path = write(ONE_PIPELINE + "\nalias = churn\n")
    assert load_pipeline(str(path)).name == "churn"


def test_missing_file_raises(tmp_path):
    missing = tmp_path / "nope.py"
    with pytest.raises(PipelineLoadError, match="does not exist"):
        load_pipeline(str(missing))
    with pytest.raises(PipelineLoadError, match="does not exist"):
        load_pipeline(f"{missing}:churn")


def test_syntax_error_names_the_line(write):
    path = write("import dagwell as dw\n\ndef broken(:\n    pass\n")
    with pytest.raises(PipelineLoadError) as info:
        load_pipeline(str(path))
    assert str(info.value).startswith(f"{path}: syntax error on line 3:")


def test_import_error_names_the_module_and_line(write):
    path = write("import dagwell as dw\nimport dwtest_no_such_module_anywhere\n")
    with pytest.raises(PipelineLoadError) as info:
        load_pipeline(str(path))
    message = str(info.value)
    assert f"{path} (line 2)" in message
    assert "ModuleNotFoundError" in message
    assert "dwtest_no_such_module_anywhere" in message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_exception_while_importing_keeps_the_cause(write):
    path = write("x = 1\n\n\ndef f():\n    raise RuntimeError('boom')\n\n\nf()\n")
    with pytest.raises(PipelineLoadError) as info:
        load_pipeline(str(path))
    assert "(line 5): importing the file raised RuntimeError: boom" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_sys_exit_while_importing_raises_instead_of_exiting(write):
    path = write("import sys\nsys.exit(3)\n")
    with pytest.raises(
        PipelineLoadError, match=re.escape("called sys.exit(3) while being imported")
    ):
        load_pipeline(str(path))


def test_a_file_that_failed_to_import_loads_once_fixed(write):
    path = write("import dagwell as dw\nraise RuntimeError('not yet')\n")
    with pytest.raises(PipelineLoadError):
        load_pipeline(str(path))
    assert path.stem not in sys.modules
    write(ONE_PIPELINE)
    assert load_pipeline(str(path)).name == "churn"


def test_file_whose_name_is_not_an_identifier_loads(write):
    path = write(ONE_PIPELINE, name="my-churn-pipeline.py")
    assert load_pipeline(str(path)).name == "churn"


def test_file_named_like_an_imported_module_does_not_replace_it(write):
    path = write(ONE_PIPELINE, name="json.py")
    module = load_module(path)
    assert module.__file__ == str(path.resolve())
    assert sys.modules["json"] is json
    assert load_pipeline(str(path)).name == "churn"

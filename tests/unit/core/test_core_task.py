"""Tests for dagwell.core.task: the @task decorator, plain calls, retries and shell tasks."""

from __future__ import annotations

import inspect

import pytest

import dagwell as dw
from dagwell.errors import DefinitionError, TaskError


@dw.task
def add(x, y=1):
    return x + y


@dw.task(
    name="split_data",
    retries=3,
    retry_delay=1.5,
    retry_backoff=3.0,
    timeout=60,
    cache=True,
    version="2",
    outputs=["train", "test"],
    tags={"team": "ml"},
)
def split(rows, test_size: float = 0.2):
    cut = int(len(rows) * (1 - test_size))
    return rows[:cut], rows[cut:]


@dw.task
def explode(message):
    raise ValueError(message)


def noop():
    return None


# --- @task ------------------------------------------------------------------------------


def test_bare_task_takes_the_function_name_and_default_options():
    assert isinstance(add, dw.Task)
    assert add.name == "add"
    assert add.fn(2, 3) == 5
    assert (add.retries, add.retry_delay, add.timeout, add.cache) == (0, 0.0, None, False)
    assert add.outputs is None
    assert add.tags == {}


def test_task_with_options_keeps_every_option():
    assert split.name == "split_data"
    assert split.retries == 3
    assert split.retry_delay == 1.5
    assert split.retry_backoff == 3.0
    assert split.timeout == 60
    assert split.cache is True
    assert split.version == "2"
    assert split.outputs == ("train", "test")  # a list of names is stored as a tuple
    assert split.tags == {"team": "ml"}


def test_task_signature_is_the_function_signature():
    assert list(split.signature.parameters) == ["rows", "test_size"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"retries": -1}, "retries must be an int >= 0"),
        ({"retries": 1.5}, "retries must be an int >= 0"),
        ({"retry_delay": -1.0}, "retry_delay must be >= 0"),
        ({"retry_backoff": 0.5}, "retry_backoff >= 1"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": -5}, "timeout must be a positive number"),
        ({"outputs": ()}, "outputs must be a tuple of names"),
        ({"outputs": ("a", "a")}, "outputs must be distinct Python identifiers"),
        ({"outputs": ("class",)}, "outputs must be distinct Python identifiers"),
        ({"outputs": ("not valid",)}, "outputs must be distinct Python identifiers"),
        ({"name": "my task"}, "a task name may use letters"),
        ({"name": "fit-1"}, "a task name may use letters"),  # '-' is kept for fan-out ids
        ({"name": "fit[0]"}, "a task name may use letters"),
        ({"retry": 3}, "retry"),  # an option that does not exist
    ],
)
def test_invalid_task_options_raise_definition_error_naming_the_problem(options, problem):
    with pytest.raises(DefinitionError) as info:
        dw.task(**options)(noop)
    assert problem in str(info.value)


def test_option_errors_name_the_task():
    with pytest.raises(DefinitionError, match="task 'noop'"):
        dw.task(retries=-1)(noop)


def test_task_decorator_rejects_a_non_function():
    with pytest.raises(DefinitionError, match="needs a function, got str"):
        dw.task("split")  # a common slip for @dw.task(name="split")


def test_outputs_given_as_one_string_is_rejected():
    with pytest.raises(DefinitionError, match="outputs must be a tuple of names"):
        dw.task(outputs="train")(noop)


def test_outputs_that_are_not_strings_are_rejected():
    with pytest.raises(DefinitionError, match="outputs"):
        dw.task(outputs=(1, 2))(noop)


# --- calling a task outside a pipeline ----------------------------------------------------


def test_task_called_outside_a_pipeline_is_a_plain_call():
    assert add(2, y=3) == 5
    assert split([1, 2, 3, 4, 5], test_size=0.4) == ([1, 2, 3], [4, 5])


def test_task_exceptions_propagate_unchanged_outside_a_pipeline():
    with pytest.raises(ValueError, match="boom"):
        explode("boom")


def test_task_map_outside_a_pipeline_calls_the_function_per_item():
    assert add.map([1, 2, 3], y=10) == [11, 12, 13]


def test_task_called_outside_a_pipeline_with_a_task_output_raises():
    leaked = []

    @dw.pipeline
    def leaky():
        leaked.append(add(1))

    leaky.build()
    with pytest.raises(DefinitionError, match="outside a pipeline"):
        add(leaked[0])
    with pytest.raises(DefinitionError, match="outside a pipeline"):
        add(1, y={"nested": [leaked[0]]})


# --- retries ------------------------------------------------------------------------------


def test_retry_delay_grows_exponentially_with_the_attempt_number():
    assert [split.retry_delay_for(n) for n in (1, 2, 3, 4)] == [1.5, 4.5, 13.5, 40.5]


def test_retry_delay_uses_a_default_backoff_of_two():
    task = dw.task(retry_delay=1.0)(noop)
    assert [task.retry_delay_for(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_retry_delay_is_zero_by_default():
    assert add.retry_delay_for(3) == 0.0


# --- shell tasks --------------------------------------------------------------------------


def test_shell_placeholders_become_keyword_only_parameters():
    copy = dw.shell("copy", "cp {src} {dst} && echo {src}")
    params = copy.signature.parameters
    assert list(params) == ["src", "dst"]  # in order of first appearance, without repeats
    assert {p.kind for p in params.values()} == {inspect.Parameter.KEYWORD_ONLY}
    assert copy.name == "copy"
    assert copy.command == "cp {src} {dst} && echo {src}"


def test_shell_task_in_a_pipeline_must_be_called_with_keywords():
    echo = dw.shell("echo_it", "echo {value}")

    @dw.pipeline
    def positional():
        echo("hello")

    @dw.pipeline
    def by_keyword():
        echo(value="hello")

    with pytest.raises(DefinitionError, match="do not fit its signature"):
        positional.build()
    assert list(by_keyword.build().nodes) == ["echo_it"]


def test_shell_task_value_is_stdout_without_its_trailing_newline():
    assert dw.shell("hi", "echo hi")() == "hi"
    assert dw.shell("two_lines", "printf 'a\\nb\\n'")() == "a\nb"
    assert dw.shell("blank_line", "printf 'x\\n\\n'")() == "x\n"  # only one newline removed
    assert dw.shell("no_newline", "printf 'x'")() == "x"


def test_shell_values_are_quoted_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    echo = dw.shell("print_value", "printf %s {value}")
    value = f"hello world; touch {marker}; echo $(whoami) `id` 'quoted'"
    assert echo(value=value) == value
    assert not marker.exists()


def test_shell_list_values_become_separate_quoted_words():
    count = dw.shell("count_words", "set -- {items}; echo $#")
    assert count(items=["a b", "c;d", "e"]) == "3"


def test_shell_literal_braces_are_written_doubled():
    awk = dw.shell("first_field", "echo {line} | awk '{{print $1}}'")
    assert list(awk.signature.parameters) == ["line"]
    assert awk(line="alpha beta") == "alpha"


def test_shell_non_zero_exit_raises_a_task_error():
    fail = dw.shell("fail", "echo partial; exit 3")
    with pytest.raises(TaskError, match="exited with status 3"):
        fail()


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("echo {", "not a valid template"),
        ("echo }", "not a valid template"),
        ("echo {a.b}", "must be a plain name"),
        ("echo {0}", "must be a plain name"),
        ("echo {}", "must be a plain name"),
    ],
)
def test_invalid_shell_template_raises_definition_error(command, problem):
    with pytest.raises(DefinitionError, match=problem):
        dw.shell("bad", command)


def test_shell_task_has_one_output():
    with pytest.raises(DefinitionError, match="one output"):
        dw.shell("two", "echo a", outputs=("a", "b"))


def test_shell_task_options_are_checked_like_task_options():
    with pytest.raises(DefinitionError, match="retries"):
        dw.shell("sh", "echo a", retries=-1)
    with pytest.raises(DefinitionError, match="a task name may use"):
        dw.shell("bad name", "echo a")


def test_shell_unknown_option_raises_definition_error():
    with pytest.raises(DefinitionError, match="retry"):
        dw.shell("sh", "echo a", retry=1)


def test_placeholder_conversion_cannot_bypass_quoting(tmp_path):
    marker = tmp_path / "pwned"
    try:
        show = dw.shell("show", "printf %s {value!r}")
    except DefinitionError:
        return  # refusing the conversion up front is a correct fix too
    show(value=f"$(touch {marker})")
    assert not marker.exists()

"""Tests for dagwell.core.pipeline and tracing: params, binding, and building graphs."""

from __future__ import annotations

import datetime
import enum
import re
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.core.graph import Graph
from dagwell.core.refs import Ref
from dagwell.core.values import DEFAULT_OUTPUT
from dagwell.errors import CycleError, DefinitionError, ParamError


@dw.task
def load():
    return [1, 2, 3]


@dw.task
def fit(data, C: float = 1.0, seed: int = 0):
    return (data, C, seed)


@dw.task(outputs=("train", "test"))
def split(data):
    return data[:1], data[1:]


@dw.task
def score(model, test=None):
    return 0.5


@dw.task
def pick(scores):
    return max(scores)


@dw.task
def combine(*parts, **named):
    return parts, named


@dw.task
def report(value):
    return str(value)


@dw.task
def notify():
    return None


@dw.task(name="step")
def step_one():
    return 1


@dw.task(name="step")
def step_two():
    return 2


@dw.pipeline
def churn(
    data: str,
    C: float = 1.0,
    folds: int = 3,
    verbose: bool = False,
    layers: list = [8],  # noqa: B006 - a default is never mutated by bind
    limit: int | None = None,
):
    """Train and score churn models."""


@dw.pipeline
def loose(value, seed=7):
    pass


def build(body, params=None) -> Graph:
    return dw.pipeline(body).build(params)


def cycle_nodes(message: str) -> set[str]:
    match = re.search(r"has a cycle: (.+?)\. ", message)
    assert match, message
    return set(match.group(1).split(" -> "))


# --- params -------------------------------------------------------------------------------


def test_params_come_from_the_signature_with_annotations_and_defaults():
    shapes = [(p.name, p.annotation, p.required) for p in churn.params]
    assert shapes == [
        ("data", str, True),
        ("C", float, False),
        ("folds", int, False),
        ("verbose", bool, False),
        ("layers", list, False),
        ("limit", int | None, False),
    ]
    assert [p.default for p in churn.params[1:]] == [1.0, 3, False, [8], None]


def test_pipeline_takes_its_name_and_description_from_the_function():
    assert churn.name == "churn"
    assert churn.description == "Train and score churn models."
    named = dw.pipeline(
        name="nightly", schedule="0 3 * * *", params={"value": 1}, tags={"team": "ml"}
    )(loose.fn)
    assert named.schedule is not None
    assert (named.name, named.schedule.text, named.tags) == ("nightly", "0 3 * * *", {"team": "ml"})
    assert named.schedule.params == {"value": 1}


def test_a_scheduled_pipeline_needs_values_for_its_required_params():
    with pytest.raises(ParamError, match=r"needs a value for param 'value'.*params=\{"):
        dw.pipeline(schedule="@daily")(loose.fn)


def test_unannotated_param_is_checked_against_its_default_type():
    seed = loose.params[1]
    assert seed.annotation is None
    assert seed.kind is int
    with pytest.raises(ParamError, match="expects int"):
        loose.bind({"value": 1, "seed": "x"})


def test_bind_fills_in_defaults():
    assert churn.bind({"data": "a.csv"}) == {
        "data": "a.csv",
        "C": 1.0,
        "folds": 3,
        "verbose": False,
        "layers": [8],
        "limit": None,
    }


def test_bind_unknown_param_suggests_the_close_name_and_lists_params():
    with pytest.raises(ParamError) as info:
        churn.bind({"data": "a.csv", "fold": 2})
    message = str(info.value)
    assert "no param 'fold'" in message
    assert "Did you mean 'folds'?" in message
    assert "data, C, folds, verbose, layers, limit" in message


def test_bind_unknown_param_without_a_close_name_gives_no_suggestion():
    with pytest.raises(ParamError) as info:
        churn.bind({"data": "a.csv", "zzzz": 2})
    assert "Did you mean" not in str(info.value)


def test_bind_missing_required_param_raises():
    with pytest.raises(ParamError, match="needs a value for param 'data'"):
        churn.bind({"folds": 2})


def test_bind_wrong_type_raises_naming_param_and_types():
    with pytest.raises(ParamError, match="param 'folds' of pipeline 'churn' expects int, got str"):
        churn.bind({"data": "a.csv", "folds": "x"})


def test_bind_float_param_accepts_an_int_as_float():
    bound = churn.bind({"data": "a.csv", "C": 2})
    assert bound["C"] == 2.0
    assert isinstance(bound["C"], float)


def test_bind_int_param_rejects_a_bool():
    with pytest.raises(ParamError, match="expects int, got bool"):
        churn.bind({"data": "a.csv", "folds": True})


def test_bind_optional_param_accepts_none_and_its_type():
    assert churn.bind({"data": "a", "limit": None})["limit"] is None
    assert churn.bind({"data": "a", "limit": 5})["limit"] == 5
    with pytest.raises(ParamError, match="'limit'"):
        churn.bind({"data": "a", "limit": "5"})


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("folds", "4", 4),
        ("C", "0.25", 0.25),
        ("C", "2", 2.0),
        ("verbose", "yes", True),
        ("verbose", "True", True),
        ("verbose", "1", True),
        ("verbose", "false", False),
        ("verbose", "off", False),
        ("layers", "[16, 32]", [16, 32]),
        ("data", "my file.csv", "my file.csv"),
        ("data", "42", "42"),
        ("limit", "10", 10),
    ],
)
def test_bind_from_text_converts_to_the_annotated_type(name, text, expected):
    value = churn.bind({"data": "a.csv", name: text}, from_text=True)[name]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("[1, 2]", [1, 2]), ('{"a": 1}', {"a": 1}), ("abc", "abc"), ("true", True)],
)
def test_bind_from_text_reads_json_for_unannotated_params_else_keeps_the_text(text, expected):
    assert loose.bind({"value": text}, from_text=True)["value"] == expected


def test_bind_from_text_unannotated_param_uses_its_default_type():
    assert loose.bind({"value": 1, "seed": "8"}, from_text=True)["seed"] == 8


@pytest.mark.parametrize(
    ("name", "text"),
    [("folds", "three"), ("folds", "1.5"), ("C", "abc"), ("verbose", "maybe"), ("layers", "1,2")],
)
def test_bind_from_text_rejects_text_that_does_not_convert(name, text):
    with pytest.raises(ParamError, match=f"param '{name}' of pipeline 'churn' expects"):
        churn.bind({"data": "a.csv", name: text}, from_text=True)


def test_bind_from_text_leaves_non_string_values_alone():
    assert churn.bind({"data": "a.csv", "folds": 4}, from_text=True)["folds"] == 4


def test_pipeline_with_star_args_raises():
    def bad(*parts):
        pass

    with pytest.raises(DefinitionError, match=r"no \*args or \*\*kwargs"):
        dw.pipeline(bad)


def test_pipeline_with_star_kwargs_raises():
    def bad(**options):
        pass

    with pytest.raises(DefinitionError, match=r"no \*args or \*\*kwargs"):
        dw.pipeline(bad)


def test_calling_a_pipeline_directly_raises():
    with pytest.raises(DefinitionError, match=r"not called directly; run it with dw\.run"):
        churn(data="a.csv")


def test_calling_a_pipeline_inside_another_pipeline_raises():
    def outer():
        loose(1)

    with pytest.raises(DefinitionError, match="called inside another pipeline"):
        build(outer)


# --- building graphs ----------------------------------------------------------------------


def test_build_binds_params_and_checks_them_first():
    with pytest.raises(ParamError, match="needs a value for param 'data'"):
        churn.build({})


def test_params_shape_the_graph_and_repeated_calls_get_numbered_ids():
    def body(folds: int = 3):
        data = load()
        for seed in range(folds):
            fit(data, seed=seed)

    assert list(build(body).nodes) == ["load", "fit", "fit-1", "fit-2"]
    assert list(build(body, {"folds": 1}).nodes) == ["load", "fit"]
    graph = build(body)
    assert [graph.nodes[n].kwargs["seed"] for n in ("fit", "fit-1", "fit-2")] == [0, 1, 2]
    assert all(graph.nodes[n].upstream == ("load",) for n in ("fit", "fit-1", "fit-2"))


def test_graph_output_is_the_pipeline_return_value():
    refs = {}

    def body():
        refs["best"] = pick([load()])
        return {"best": refs["best"], "note": "ok"}

    graph = build(body)
    assert graph.output == {"best": refs["best"], "note": "ok"}
    assert graph.pipeline == "body"


def test_named_outputs_unpack_into_refs_with_the_output_names():
    seen = {}

    def body():
        train, test = split(load())
        seen["train"], seen["test"] = train, test
        score(fit(train), test=test)

    graph = build(body)
    assert (seen["train"].node, seen["train"].output) == ("split", "train")
    assert (seen["test"].node, seen["test"].output) == ("split", "test")
    assert [r.output for r in graph.nodes["fit"].input_refs] == ["train"]
    assert [(r.node, r.output) for r in graph.nodes["score"].input_refs] == [
        ("fit", DEFAULT_OUTPUT),
        ("split", "test"),
    ]
    assert graph.nodes["score"].upstream == ("fit", "split")


def test_single_output_ref_cannot_be_unpacked():
    def body():
        _train, _test = load()

    with pytest.raises(DefinitionError, match="tuple unpacking"):
        build(body)


def test_map_over_a_list_makes_one_node_per_item():
    seen = {}

    def body():
        test = load()
        scores = score.map(["m0", "m1"], test=test)
        seen["scores"] = scores
        pick(scores)

    graph = build(body)
    assert list(graph.nodes) == ["load", "score[0]", "score[1]", "pick"]
    assert [r.node for r in seen["scores"]] == ["score[0]", "score[1]"]
    assert graph.nodes["score[1]"].args == ("m1",)
    assert graph.nodes["score[1]"].upstream == ("load",)
    assert graph.nodes["pick"].upstream == ("score[0]", "score[1]")


def test_map_over_a_list_of_refs_depends_on_each_item():
    def body():
        models = [fit(load(), seed=s) for s in range(2)]
        score.map(models)

    graph = build(body)
    assert graph.nodes["score[0]"].upstream == ("fit",)
    assert graph.nodes["score[1]"].upstream == ("fit-1",)


def test_map_over_a_ref_makes_one_node_with_a_map_spec():
    seen = {}

    def body():
        models = load()
        seen["models"] = models
        seen["scores"] = score.map(models, test=3)

    graph = build(body)
    node = graph.nodes["score"]
    assert node.map_spec is not None
    assert node.map_spec.over is seen["models"]
    assert node.args == ()
    assert node.kwargs == {"test": 3}
    assert node.upstream == ("load",)
    assert seen["scores"].node == "score"


@pytest.mark.parametrize("items", [5, range(3), "abc", {"a": 1}])
def test_map_over_something_that_is_not_a_list_raises(items):
    def body():
        score.map(items)

    with pytest.raises(DefinitionError, match=r"score\.map\(\) needs a list"):
        build(body)


def test_map_with_keywords_the_task_does_not_take_raises():
    def body():
        score.map([1], unknown=2)

    with pytest.raises(DefinitionError, match="do not fit its signature"):
        build(body)


def test_refs_nested_in_lists_dicts_and_tuples_are_dependencies():
    def body():
        a, b, c = load(), notify(), report(1)
        combine([a, {"k": (b, 1)}], 2, opt={"x": [c, "y"]})

    graph = build(body)
    assert graph.nodes["combine"].upstream == ("load", "notify", "report")
    assert graph.nodes["report"].upstream == ()


def test_rshift_adds_an_order_only_dependency():
    def body():
        load() >> notify()

    graph = build(body)
    node = graph.nodes["notify"]
    assert node.after == frozenset({"load"})
    assert node.args == ()
    assert node.upstream == ("load",)
    assert graph.order() == ["load", "notify"]


def test_rshift_chains_left_to_right():
    def body():
        load() >> report(1) >> notify()

    graph = build(body)
    assert graph.nodes["report"].upstream == ("load",)
    assert graph.nodes["notify"].upstream == ("report",)


def test_a_list_of_refs_can_be_ordered_before_a_ref():
    def body():
        [load(), report(1)] >> notify()

    assert build(body).nodes["notify"].upstream == ("load", "report")


def test_a_ref_can_be_ordered_before_a_list_of_refs():
    def body():
        load() >> [report(1), notify()]

    graph = build(body)
    assert graph.nodes["report"].upstream == ("load",)
    assert graph.nodes["notify"].upstream == ("load",)


def test_rshift_with_a_plain_value_raises():
    def body():
        load() >> 3

    with pytest.raises(DefinitionError, match="the right side is int"):
        build(body)


def test_cycle_through_rshift_raises_cycle_error_naming_the_nodes():
    def body():
        data = load()
        text = report(data)
        text >> data

    with pytest.raises(CycleError) as info:
        build(body)
    assert cycle_nodes(str(info.value)) == {"load", "report"}


def test_ordering_a_ref_after_itself_is_a_cycle():
    def body():
        data = load()
        data >> data

    with pytest.raises(CycleError) as info:
        build(body)
    assert cycle_nodes(str(info.value)) == {"load"}


def test_two_different_tasks_with_the_same_name_raise():
    def body():
        step_one()
        step_two()

    with pytest.raises(DefinitionError, match="two different tasks named 'step'"):
        build(body)


def test_the_same_task_called_twice_is_not_a_name_clash():
    def body():
        step_one()
        step_one()

    assert list(build(body).nodes) == ["step", "step-1"]


def test_ref_from_another_pipeline_raises():
    leaked = []

    def first():
        leaked.append(load())

    def second():
        report(leaked[0])

    build(first)
    with pytest.raises(DefinitionError, match="from another pipeline call"):
        build(second)


def test_ref_from_an_earlier_build_of_the_same_pipeline_raises():
    leaked = []

    def body():
        if leaked:
            report(leaked[0])
        leaked.append(load())

    build_once = dw.pipeline(body)
    build_once.build()
    with pytest.raises(DefinitionError, match="from another pipeline call"):
        build_once.build()


def test_returning_a_ref_from_another_pipeline_raises():
    leaked = []
    build(lambda: leaked.append(load()))

    with pytest.raises(DefinitionError, match="return value"):
        build(lambda: {"x": leaked[0]})


def test_ordering_against_a_ref_from_another_pipeline_raises():
    leaked = []
    build(lambda: leaked.append(load()))

    def body():
        notify() >> leaked[0]

    with pytest.raises(DefinitionError, match="from another pipeline call"):
        build(body)


def misuse_if(ref):
    if ref:
        pass


def misuse_unpack(ref):
    _first, *_ = ref


@pytest.mark.parametrize(
    ("misuse", "what"),
    [
        (misuse_if, "`if`/`bool()`"),
        (bool, "`if`/`bool()`"),
        (len, "`len()`"),
        (lambda r: r + 1, "arithmetic"),
        (lambda r: 1 + r, "arithmetic"),
        (lambda r: r * 2, "arithmetic"),
        (lambda r: r < 3, "arithmetic"),
        (lambda r: r[0], "indexing"),
        (list, "iteration"),
        (misuse_unpack, "iteration"),
        (lambda r: f"{r}.csv", "string formatting"),
        (lambda r: format(r, ">10"), "string formatting"),
    ],
)
def test_misusing_a_ref_while_tracing_raises_and_explains(misuse, what):
    def body():
        misuse(load())

    with pytest.raises(DefinitionError) as info:
        build(body)
    message = str(info.value)
    assert message.startswith(f"{what}")
    assert "node 'load'" in message
    assert "returns a placeholder, not its value" in message


def test_ref_repr_names_its_node_and_output():
    seen = []

    def body():
        seen.extend([load(), *split(1)])

    build(body)
    assert [repr(r) for r in seen] == ["<ref load>", "<ref split.train>", "<ref split.test>"]
    assert all(isinstance(r, Ref) for r in seen)


@pytest.mark.parametrize(
    "call",
    [lambda: fit(), lambda: report(1, 2), lambda: load(extra=1), lambda: fit(1, unknown=2)],
)
def test_calling_a_task_with_arguments_that_do_not_fit_raises(call):
    with pytest.raises(DefinitionError, match="called with arguments that do not fit"):
        build(lambda: call())


def test_an_exception_in_the_pipeline_body_names_the_pipeline_and_the_line() -> None:
    @dw.pipeline
    def broken_body() -> None:
        raise KeyError("missing column")

    with pytest.raises(dw.DefinitionError, match=r"broken_body.*KeyError.*test_core_pipeline"):
        broken_body.build()


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dw.pipeline
def typed_params(
    when: datetime.date = datetime.date(2020, 1, 1),
    folder: Path = Path("/tmp"),
    colour: Colour = Colour.RED,
    limit: int | None = None,
) -> None:
    pass


def test_text_params_convert_to_dates_paths_enums_and_none() -> None:
    bound = typed_params.bind(
        {"when": "2021-02-03", "folder": "/data", "colour": "BLUE", "limit": "none"},
        from_text=True,
    )

    assert bound == {
        "when": datetime.date(2021, 2, 3),
        "folder": Path("/data"),
        "colour": Colour.BLUE,
        "limit": None,
    }
    assert typed_params.bind({"colour": "red"}, from_text=True)["colour"] is Colour.RED
    with pytest.raises(ParamError, match="colour"):
        typed_params.bind({"colour": "green"}, from_text=True)


def test_recorded_params_read_back_as_the_same_values() -> None:
    import json

    from dagwell.core.pipeline import to_text

    values = {"when": datetime.date(2021, 2, 3), "folder": Path("/data"), "colour": Colour.BLUE}
    recorded = json.loads(json.dumps(values, default=to_text))

    assert typed_params.bind(recorded, from_text=True) == {**values, "limit": None}

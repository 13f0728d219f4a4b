"""Comparing runs: rows per param, metric, code and environment fact, and run-to-run diffs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from dagwell.core.records import CodeSnapshot, Metric, Run, TaskRun
from dagwell.core.states import RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import DefinitionError
from dagwell.tracking.compare import MISSING, Row, compare_runs, diff_runs, file_changes

NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)
ENV = {
    "python": "3.11.7",
    "implementation": "CPython",
    "platform": "Linux-6.1-x86_64",
    "packages": {"numpy": "2.0.0", "sqlalchemy": "2.0.25"},
}
SNAPSHOTS = {
    "h1": {"entry": "flow.py", "files": {"flow.py": "a\nb\n", "lib.py": "x\n"}, "git": None},
    "h2": {"entry": "flow.py", "files": {"flow.py": "a\nc\n", "new.py": "n\n"}, "git": None},
}


class Loader:
    """Loads snapshots from SNAPSHOTS and counts the loads."""

    def __init__(self) -> None:
        self.loads: list[str] = []

    def __call__(self, stored: StoredValue) -> Any:
        self.loads.append(stored.hash)
        return json.loads(json.dumps(SNAPSHOTS[stored.hash]))


def make_run(
    run_id: str,
    params: dict[str, Any],
    *,
    task_params: dict[str, Any] | None = None,
    metrics: tuple[tuple[str, float], ...] = (),
    code_hash: str | None = "h1",
    environment: dict[str, Any] | None = None,
    loader: Loader | None = None,
) -> Run:
    fit = TaskRun("fit", "fit", TaskState.SUCCEEDED, params=task_params or {})
    points = tuple(Metric("fit", name, value, None, NOW) for name, value in metrics)
    return Run(
        id=run_id,
        pipeline="churn",
        status=RunState.SUCCEEDED,
        params=params,
        started_at=NOW,
        ended_at=NOW,
        tasks={"fit": fit},
        metric_points=points,
        code_hash=code_hash,
        environment=ENV if environment is None else environment,
        loader=loader or Loader(),
    )


def rows_by_name(rows: list[Row]) -> dict[str, tuple[Any, ...]]:
    return {row.name: row.values for row in rows}


def test_params_and_metrics_are_compared_side_by_side() -> None:
    a = make_run("a", {"C": 0.5, "folds": 3}, task_params={"lr": 0.1}, metrics=(("acc", 0.8),))
    b = make_run(
        "b", {"C": 1.0, "folds": 3}, task_params={"lr": 0.1}, metrics=(("acc", 0.7), ("acc", 0.9))
    )

    comparison = compare_runs([a, b])

    assert rows_by_name(comparison.section("params")) == {"C": (0.5, 1.0), "folds": (3, 3)}
    assert rows_by_name(comparison.section("task params")) == {"fit/lr": (0.1, 0.1)}
    assert rows_by_name(comparison.section("metrics")) == {"fit/acc": (0.8, 0.9)}
    assert [row.name for row in comparison.differences()] == ["C", "fit/acc"]


def test_a_param_one_run_lacks_is_missing_and_counts_as_a_difference() -> None:
    comparison = compare_runs([make_run("a", {"C": 1}), make_run("b", {"C": 1, "seed": None})])

    seed = comparison.section("params")[1]
    assert seed.values == (MISSING, None)
    assert seed.differs
    assert seed.to_dict(comparison.run_ids) == {
        "name": "seed",
        "values": {"b": None},
        "differs": True,
    }


def test_values_of_different_types_differ() -> None:
    assert Row("params", "x", (1, 1.0)).differs
    assert Row("params", "x", (1, True)).differs
    assert not Row("params", "x", ({"a": 1, "b": 2}, {"b": 2, "a": 1})).differs


def test_equal_code_is_loaded_once_and_shows_no_changed_files() -> None:
    loader = Loader()
    a, b = make_run("a", {}, loader=loader), make_run("b", {}, loader=loader)

    code = rows_by_name(compare_runs([a, b]).section("code"))

    assert code["snapshot"] == ("h1", "h1")
    assert code["changed files"] == ((), ())
    assert loader.loads == ["h1"]


def test_different_code_names_the_files_changed_from_the_first_run() -> None:
    a, b = make_run("a", {}), make_run("b", {}, code_hash="h2")

    comparison = compare_runs([a, b])

    code = rows_by_name(comparison.section("code"))
    assert code["changed files"] == ((), ("flow.py", "lib.py", "new.py"))
    assert [row.name for row in comparison.differences()] == ["snapshot", "changed files"]


def test_a_run_without_a_snapshot_has_missing_code_rows() -> None:
    code = rows_by_name(
        compare_runs([make_run("a", {}), make_run("b", {}, code_hash=None)]).section("code")
    )

    assert code["snapshot"] == ("h1", MISSING)
    assert code["changed files"] == ((), MISSING)


def test_only_packages_whose_versions_differ_are_listed() -> None:
    newer = {**ENV, "python": "3.12.1", "packages": {"numpy": "2.1.0", "sqlalchemy": "2.0.25"}}
    newer["packages"]["rich"] = "13.7.0"

    comparison = compare_runs([make_run("a", {}), make_run("b", {}, environment=newer)])

    env = rows_by_name(comparison.section("environment"))
    assert env == {
        "python": ("3.11.7", "3.12.1"),
        "implementation": ("CPython", "CPython"),
        "platform": ("Linux-6.1-x86_64", "Linux-6.1-x86_64"),
        "packages/numpy": ("2.0.0", "2.1.0"),
        "packages/rich": (MISSING, "13.7.0"),
    }


def test_more_than_two_runs_compare_in_the_order_given() -> None:
    runs = [make_run(name, {"C": c}) for name, c in (("a", 1), ("b", 2), ("c", 3))]

    comparison = compare_runs(runs)

    assert comparison.run_ids == ("a", "b", "c")
    assert comparison.section("params")[0].values == (1, 2, 3)


def test_comparing_fewer_than_two_or_the_same_run_twice_is_an_error() -> None:
    a = make_run("a", {})

    with pytest.raises(DefinitionError, match="at least two"):
        compare_runs([a])
    with pytest.raises(DefinitionError, match="given twice"):
        compare_runs([a, a])


def test_the_json_form_has_one_list_per_section() -> None:
    data = compare_runs([make_run("a", {"C": 1}), make_run("b", {"C": 2})]).to_dict()

    assert list(data) == ["runs", "params", "task_params", "metrics", "code", "environment"]
    assert data["params"] == [{"name": "C", "values": {"a": 1, "b": 2}, "differs": True}]
    json.dumps(data)  # JSON-able as it is


def test_diff_runs_gives_changed_params_and_unified_diffs_of_changed_files() -> None:
    a = make_run("run1", {"C": 1, "folds": 3}, task_params={"lr": 0.1})
    b = make_run("run2", {"C": 2, "folds": 3}, task_params={"lr": 0.2}, code_hash="h2")

    changes = diff_runs(a, b)

    assert [(row.name, row.values) for row in changes.params] == [
        ("C", (1, 2)),
        ("fit/lr", (0.1, 0.2)),
    ]
    assert [(c.path, c.change) for c in changes.files] == [
        ("flow.py", "modified"),
        ("lib.py", "removed"),
        ("new.py", "added"),
    ]
    assert changes.files[0].diff == (
        "--- run1/flow.py\n+++ run2/flow.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    )
    assert changes.files[1].diff.startswith("--- run1/lib.py\n+++ /dev/null\n")
    assert not changes.same_code


def test_diff_runs_of_equal_code_loads_nothing() -> None:
    loader = Loader()
    changes = diff_runs(make_run("a", {}, loader=loader), make_run("b", {}, loader=loader))

    assert (changes.same_code, changes.files, changes.params) == (True, (), ())
    assert loader.loads == []


def test_a_file_without_a_final_newline_diffs_line_by_line() -> None:
    old = CodeSnapshot(files={"f.py": "a\nb"})
    new = CodeSnapshot(files={"f.py": "a\nb\nc"})

    (change,) = file_changes(old, new)

    assert change.diff.splitlines()[-2:] == [" b", "+c"]

"""Caching: an identical call of a cached task takes the earlier outputs; why explains."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pipelines_for_tests as p
import pytest

import dagwell as dw


def calls(counter: Path) -> int:
    return int(counter.read_text()) if counter.exists() else 0


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_an_identical_call_is_cached_and_a_changed_param_runs_again(
    tmp_path: Path, settings: dw.Settings, executor: str
) -> None:
    counter = tmp_path / "calls"
    params = {"x": 1, "counter": str(counter)}
    first = dw.run(p.cached_pipeline, params, executor=executor, settings=settings)
    second = dw.run(p.cached_pipeline, params, executor=executor, settings=settings)

    assert (first.tasks["expensive"].status, second.tasks["expensive"].status) == (
        "succeeded",
        "cached",
    )
    assert second.result() == 100 and calls(counter) == 1
    assert dw.why(second.id, "expensive", settings=settings)[0].startswith("cache hit")
    assert first.id in dw.why(second.id, "expensive", settings=settings)[0]

    third = dw.run(p.cached_pipeline, {**params, "x": 2}, executor=executor, settings=settings)
    assert third.tasks["expensive"].status == "succeeded" and calls(counter) == 2
    (reason,) = dw.why(third.id, "expensive", settings=settings)
    assert "cache miss" in reason and "args[0]" in reason


def test_cache_off_and_cache_clear_force_a_real_call(tmp_path: Path, settings: dw.Settings) -> None:
    counter = tmp_path / "calls"
    params = {"x": 1, "counter": str(counter)}
    dw.run(p.cached_pipeline, params, executor="inline", settings=settings)

    forced = dw.run(p.cached_pipeline, params, executor="inline", settings=settings, cache=False)
    assert forced.tasks["expensive"].status == "succeeded" and calls(counter) == 2

    assert dw.clear_cache("expensive", settings=settings) >= 1
    again = dw.run(p.cached_pipeline, params, executor="inline", settings=settings)
    assert again.tasks["expensive"].status == "succeeded" and calls(counter) == 3


HELPERS = "def scale(value):\n    return value * {factor}\n"
PIPELINE = textwrap.dedent(
    """
    import dagwell as dw
    import helpers


    @dw.task(cache=True)
    def features(x: int) -> int:
        return helpers.scale(x)


    @dw.pipeline
    def project(x: int = 3) -> int:
        return features(x)
    """
)


def test_editing_a_helper_module_invalidates_the_cache_and_why_names_it(
    tmp_path: Path, run_cli: object
) -> None:
    (tmp_path / "helpers.py").write_text(HELPERS.format(factor=2))
    (tmp_path / "project.py").write_text(PIPELINE)

    def run_and_show() -> dict[str, object]:
        done = run_cli("run", "project.py", "-q")  # type: ignore[operator]
        assert done.returncode == 0, done.stdout + done.stderr
        listed = run_cli("runs", "--json", "--limit", "1")  # type: ignore[operator]
        import json

        run_id = json.loads(listed.stdout)[0]["id"]
        shown = json.loads(run_cli("show", run_id, "--json").stdout)  # type: ignore[operator]
        return {"id": run_id, "status": shown["tasks"][0]["status"]}

    assert run_and_show()["status"] == "succeeded"
    assert run_and_show()["status"] == "cached"
    (tmp_path / "helpers.py").write_text(HELPERS.format(factor=5))
    edited = run_and_show()

    assert edited["status"] == "succeeded"
    why = run_cli("why", str(edited["id"]), "features")  # type: ignore[operator]
    assert why.returncode == 0, why.stderr
    assert "helpers.scale" in why.stdout and "miss" in why.stdout


def test_a_changed_dataset_is_a_cache_miss_named_by_why(
    tmp_path: Path, settings: dw.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rows.csv").write_text("a\n")
    first = dw.run(p.cached_dataset, {"path": "rows.csv"}, executor="inline", settings=settings)
    same = dw.run(p.cached_dataset, {"path": "rows.csv"}, executor="inline", settings=settings)
    Path("rows.csv").write_text("a\nb\n")
    changed = dw.run(p.cached_dataset, {"path": "rows.csv"}, executor="inline", settings=settings)

    assert [r.tasks["cached_count"].status for r in (first, same, changed)] == [
        "succeeded",
        "cached",
        "succeeded",
    ]
    assert changed.result() == 2
    (reason,) = dw.why(changed.id, "cached_count", settings=settings)
    assert "dataset" in reason and "rows.csv" in reason

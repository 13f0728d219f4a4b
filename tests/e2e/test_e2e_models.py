"""``dagwell models list|show|alias`` and the demo's registration, run as a user would.

Each ``run_cli`` call is a real ``dagwell`` subprocess in the test's own folder, with its
own DAGWELL_HOME (see ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RunCli = Callable[..., subprocess.CompletedProcess[str]]
RUN_ID = re.compile(r"^run ([0-9a-f]{12}) succeeded", re.MULTILINE)

PIPELINE = """
import dagwell as dw


@dw.task
def train(C: float):
    model = {"kind": "linear", "weights": [C, 2 * C]}   # any value dagwell can store
    dw.log_model(model, "iris", metadata={"C": C})
    return C


@dw.pipeline
def iris():
    return [train(0.5), train(2.0)]   # nodes train and train-1: versions 1 and 2
"""


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@pytest.fixture
def two_versions(run_cli: RunCli, tmp_path: Path) -> str:
    """One run of a pipeline that registers versions 1 and 2 of model 'iris': its id."""
    (tmp_path / "iris_pipeline.py").write_text(PIPELINE)
    out = ok(run_cli("run", "iris_pipeline.py", "--executor", "inline", "--workers", "1", "-q"))
    return str(RUN_ID.findall(out)[0])


def test_models_list_shows_each_model_with_its_latest_version_and_aliases(
    run_cli: RunCli, two_versions: str
) -> None:
    ok(run_cli("models", "alias", "iris", "1", "production"))

    table = ok(run_cli("models", "list"))
    listed = json.loads(ok(run_cli("models", "list", "--json")))

    assert re.search(r"iris\s+2\s+2\s+production→1", table), table
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in listed] == [
        ("iris", 2, {"production": 1})
    ]


def test_models_show_lists_versions_with_runs_and_shows_one_by_version_or_alias(
    run_cli: RunCli, two_versions: str
) -> None:
    run_id = two_versions
    assert "iris@staging -> version 2" in ok(run_cli("models", "alias", "iris", "2", "staging"))

    table = ok(run_cli("models", "show", "iris"))
    data = json.loads(ok(run_cli("models", "show", "iris", "--json")))
    one = json.loads(ok(run_cli("models", "show", "iris@staging", "--json")))
    text = ok(run_cli("models", "show", "iris@1"))

    assert run_id in table and "staging" in table and "C=0.5" in table
    assert [(v["version"], v["run_id"], v["node"], v["aliases"]) for v in data["versions"]] == [
        (1, run_id, "train", []),
        (2, run_id, "train-1", ["staging"]),
    ]
    assert (one["version"], one["metadata"], one["type"]) == (2, {"C": 2.0}, "dict")
    assert "model iris version 1" in text and "train" in text


def test_an_alias_moves_and_bad_requests_exit_with_clear_errors(
    run_cli: RunCli, two_versions: str
) -> None:
    ok(run_cli("models", "alias", "iris", "1", "production"))
    ok(run_cli("models", "alias", "iris", "2", "production"))
    moved = json.loads(ok(run_cli("models", "show", "iris@production", "--json")))

    unknown = run_cli("models", "show", "nope")
    numeric = run_cli("models", "alias", "iris", "1", "7")
    missing = run_cli("models", "show", "iris@9")

    assert moved["version"] == 2
    assert (unknown.returncode, "no model named 'nope'; registered models: iris") == (
        3,
        unknown.stderr.strip().removeprefix("error: "),
    )
    assert numeric.returncode == 2 and "cannot be a number" in numeric.stderr
    assert missing.returncode == 3 and "its versions are 1, 2" in missing.stderr


def test_models_list_before_any_model_says_how_to_register_one(run_cli: RunCli) -> None:
    out = ok(run_cli("models", "list"))

    assert "dw.log_model(obj, name)" in out
    assert json.loads(ok(run_cli("models", "list", "--json"))) == []


@pytest.mark.slow
def test_the_demo_registers_its_best_model_as_production(run_cli: RunCli) -> None:
    out = ok(run_cli("demo", "--executor", "process", "--workers", "2"))
    best = json.loads(
        ok(run_cli("models", "show", "breast_cancer_classifier@production", "--json"))
    )

    assert "model breast_cancer_classifier@1 registered, alias production" in out
    assert (best["version"], best["node"], best["aliases"]) == (1, "pick_best", ["production"])
    assert best["metadata"]["selected_by"] == "roc_auc"
    assert set(best["metadata"]) >= {"config", "accuracy", "f1", "roc_auc"}

"""JSON answers and Prometheus text: NaN becomes null, label values are escaped."""

from __future__ import annotations

import json
import math

from dagwell.interfaces.web.metrics import render
from dagwell.interfaces.web.responses import JsonResponse, finite


def test_nan_and_infinity_become_null() -> None:
    content = {"a": [1.0, math.nan, {"b": math.inf}], "c": -math.inf, "d": "x"}
    assert json.loads(JsonResponse(content).body) == {
        "a": [1.0, None, {"b": None}],
        "c": None,
        "d": "x",
    }
    assert finite((1.5, math.nan)) == [1.5, None]


def test_finite_json_is_rendered_compactly() -> None:
    assert JsonResponse({"a": [1, 2.5], "é": True}).body == '{"a":[1,2.5],"é":true}'.encode()


def test_metrics_render_counts_and_summaries() -> None:
    text = render(
        {("churn", "failed"): 2, ("churn", "succeeded"): 5},
        {"succeeded": 40, "failed": 2},
        {("churn", "succeeded"): (5, 12.5)},
    )
    lines = text.splitlines()
    assert 'dagwell_runs{pipeline="churn",state="failed"} 2' in lines
    assert 'dagwell_task_runs{state="failed"} 2' in lines
    assert 'dagwell_run_duration_seconds_sum{pipeline="churn",state="succeeded"} 12.5' in lines
    assert 'dagwell_run_duration_seconds_count{pipeline="churn",state="succeeded"} 5' in lines
    assert "# TYPE dagwell_runs gauge" in lines
    assert text.endswith("\n")


def test_metrics_label_values_are_escaped() -> None:
    text = render({('we"ird\\name\n', "failed"): 2}, {}, {})
    assert 'dagwell_runs{pipeline="we\\"ird\\\\name\\n",state="failed"} 2' in text

"""Tasks and pipelines that log models, at module level so process workers can import them."""

from __future__ import annotations

import threading
from typing import Any

from pipelines_for_tests import bump

import dagwell as dw


def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def fit_logistic(C: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    return LogisticRegression(C=C, max_iter=1000).fit(x, y)


@dw.task
def train(C: float) -> float:
    model = fit_logistic(C)
    dw.log_model(model, "iris", metadata={"C": C, "attempt": dw.current().attempt})
    return float(model.score(*iris()))


@dw.pipeline
def register(C: float = 1.0) -> Any:
    return train(C)


@dw.task(retries=1)
def flaky_train(counter: str) -> str:
    """Logs a model on every attempt, and fails the first one after logging."""
    attempt = bump(counter)
    dw.log_model({"weights": [attempt]}, "flaky", metadata={"attempt": attempt})
    if attempt == 1:
        raise RuntimeError("first attempt fails after logging its model")
    return "ok"


@dw.pipeline
def retried(counter: str = "") -> Any:
    return flaky_train(counter)


@dw.task
def log_then_fail() -> None:
    dw.log_model([1, 2, 3], "doomed")
    raise RuntimeError("fails after logging")


@dw.pipeline
def failing() -> Any:
    return log_then_fail()


@dw.task
def log_several() -> int:
    dw.log_model({"step": 1}, "multi", metadata={"order": 1})
    dw.log_model({"step": 2}, "multi", metadata={"order": 2})
    dw.log_model("tiny", "other")
    return 0


@dw.pipeline
def several() -> Any:
    return log_several()


@dw.task
def log_badly(how: str) -> None:
    if how == "name":
        dw.log_model(1, "has space")
    elif how == "metadata":
        dw.log_model(1, "fine", metadata={"when": object()})
    else:
        dw.log_model(threading.Lock(), "locked")


@dw.pipeline
def bad_log(how: str = "name") -> Any:
    return log_badly(how)

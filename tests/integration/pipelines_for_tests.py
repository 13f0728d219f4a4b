"""Tasks and pipelines for the integration tests, at module level so workers can import them.

Process-executor workers receive the caller's ``sys.path`` (``tests/conftest.py`` puts this
folder on it) and look tasks up by module and name. Tasks that must behave differently from
one attempt to the next count their calls in a file whose path is an argument.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import dagwell as dw

log = logging.getLogger("pipelines_for_tests")


def bump(counter: str) -> int:
    """Add one to the number in file ``counter`` and return the new number (1 on first call)."""
    path = Path(counter)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


def meet(mine: str, theirs: str, patience: float = 30.0) -> bool:
    """Leave my marker file, then wait for the other's: True only if both ran at once."""
    Path(mine).touch()
    give_up_at = time.monotonic() + patience
    while time.monotonic() < give_up_at:
        if Path(theirs).exists():
            return True
        time.sleep(0.01)
    return False


# -- a plain pipeline: params, named outputs, a result ------------------------------------


@dw.task
def numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@dw.task(outputs=("evens", "odds"))
def split(values: list[int]) -> tuple[list[int], list[int]]:
    return [v for v in values if v % 2 == 0], [v for v in values if v % 2]


@dw.task
def total(values: list[int]) -> int:
    return sum(values)


@dw.task
def scale(value: float, factor: float) -> float:
    return value * factor


@dw.pipeline
def basic(n: int = 4, factor: float = 2.0) -> dict[str, Any]:
    nums = numbers(n)
    evens, odds = split(nums)
    return {"evens": total(evens), "odds": total(odds), "scaled": scale(total(nums), factor)}


# -- fan-out ------------------------------------------------------------------------------


@dw.task
def square(x: int) -> int:
    return x * x


@dw.task
def collect(values: list[Any]) -> list[Any]:
    return list(values)


@dw.task
def just(value: Any) -> Any:
    return value


@dw.pipeline
def static_fanout() -> list[int]:
    calls = [square(i) for i in (2, 3, 4)]
    return collect(calls)


@dw.pipeline
def dynamic_fanout(n: int = 3) -> list[int]:
    return collect(square.map(numbers(n)))


@dw.pipeline
def map_over_scalar(value: int = 7) -> list[int]:
    return collect(square.map(just(value)))


# -- failures, retries --------------------------------------------------------------------


@dw.task
def fail_loudly(x: int) -> int:
    print(f"about to fail on {x}")
    raise ValueError(f"boom on {x}")


@dw.task
def after_failure(x: int) -> int:
    return x


@dw.pipeline
def one_branch_fails() -> None:
    data = numbers(3)
    after_failure(fail_loudly(total(data)))
    collect(data)


@dw.task(retries=2)
def fails_twice(counter: str) -> int:
    count = bump(counter)
    if count <= 2:
        raise RuntimeError(f"failure number {count}")
    return count


@dw.pipeline
def flaky_then_fine(counter: str = "") -> int:
    return fails_twice(counter)


@dw.task(retries=2, retry_delay=0.3, retry_backoff=2.0)
def always_fails() -> None:
    raise RuntimeError("never works")


@dw.pipeline
def delayed_retries() -> None:
    always_fails()


# -- process executor: timeouts, dying workers, parallelism -------------------------------


@dw.task(timeout=1.0)
def oversleeps() -> None:
    time.sleep(60)


@dw.task
def pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@dw.task
def meet_task(mine: str, theirs: str, go: Any = None) -> bool:
    if not meet(mine, theirs):
        raise RuntimeError(f"{theirs} never appeared: the tasks did not run at the same time")
    return True


@dw.pipeline
def times_out(folder: str = "") -> None:
    oversleeps()
    # Both meetings need two live workers after the timeout killed one of them.
    go = pause(1.5)
    a, b = f"{folder}/a", f"{folder}/b"
    meet_task(a, b, go)
    meet_task(b, a, go)


@dw.task(retries=1)
def dies_first_time(counter: str) -> str:
    if bump(counter) == 1:
        os._exit(1)
    return "survived"


@dw.pipeline
def worker_dies(counter: str = "") -> str:
    return dies_first_time(counter)


@dw.pipeline
def parallel_meeting(folder: str = "") -> None:
    a, b = f"{folder}/a", f"{folder}/b"
    meet_task(a, b)
    meet_task(b, a)


# -- logs ---------------------------------------------------------------------------------


@dw.task
def chatty() -> int:
    print("to stdout")
    print("to stderr", file=sys.stderr)
    log.info("through logging")
    return 1


shout = dw.shell("shout", "echo shell says {word}; echo shell complains {word} >&2")


@dw.pipeline
def noisy() -> None:
    chatty()
    shout(word="hi")


# -- artifacts ----------------------------------------------------------------------------


@dw.task
def make_array(n: int) -> Any:
    import numpy

    return numpy.arange(n, dtype="float64").reshape(-1, 2)


@dw.task
def make_frame(n: int) -> Any:
    import pandas

    return pandas.DataFrame({"x": range(n), "y": [float(i) / 2 for i in range(n)]})


@dw.task
def fit_model(frame: Any) -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit(frame[["x"]], frame["y"])


@dw.pipeline
def artifacts(n: int = 6) -> None:
    make_array(n)
    fit_model(make_frame(n))


@dw.task
def make_generator() -> Any:
    return (i for i in range(3))


@dw.pipeline
def unserializable() -> None:
    make_generator()


# -- validation ---------------------------------------------------------------------------


@dw.pipeline
def cyclic() -> None:
    first = numbers(2)
    second = total(first)
    second >> first


# -- ordering and context -----------------------------------------------------------------


@dw.task
def tell() -> dict[str, Any]:
    ctx = dw.current()
    return {
        "run_id": ctx.run_id,
        "pipeline": ctx.pipeline,
        "node": ctx.node,
        "attempt": ctx.attempt,
        "attempt_key": ctx.attempt_key,
        "params": dict(ctx.params),
    }


@dw.pipeline
def ordered(seconds: float = 0.3) -> None:
    pause(seconds) >> tell()


@dw.pipeline
def two_pauses(seconds: float = 0.5) -> list[float]:
    """Two independent sleeps: on one worker, the second waits for the first."""
    return [pause(seconds), pause(seconds)]


@dw.task
def learn(epochs: int) -> float:
    """Logs a param and a loss curve, then an accuracy."""
    dw.log_params({"optimizer": "sgd", "epochs": epochs})
    for epoch in range(epochs):
        dw.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    dw.log_metrics({"accuracy": 0.9, "f1": 0.8})
    return 0.9


@dw.task
def learn_then_crash() -> None:
    """Logs a metric, then fails: the metric must still be recorded."""
    dw.log_metric("progress", 0.5)
    raise RuntimeError("diverged")


@dw.pipeline
def tracked(epochs: int = 3) -> float:
    """One task that logs params and metrics."""
    learn_then_crash()
    return learn(epochs)


@dw.task
def count_rows(path: str) -> int:
    """Lines in the file at ``path`` (a dataset arrives as its path)."""
    with open(path) as f:
        return sum(1 for _ in f)


@dw.pipeline
def reads_dataset(path: str = "", snapshot: bool = False) -> int:
    """One task reading a dataset."""
    return count_rows(dw.dataset(path, snapshot=snapshot))


@dw.task
def fails_until_fixed(x: int, flag: str) -> int:
    """Fails for x == 2 until the file ``flag`` exists."""
    if x == 2 and not os.path.exists(flag):
        raise ValueError("item 2 is broken")
    return x * 10


@dw.pipeline
def mapped_until_fixed(flag: str = "") -> list[int]:
    """A dynamic fan-out whose item 2 fails until a flag file appears."""
    return fails_until_fixed.map(numbers(4), flag=flag)


@dw.task(cache=True)
def expensive(x: int, counter: str) -> int:
    """Counts its real calls in the file ``counter``."""
    bump(counter)
    return x * 100


@dw.pipeline
def cached_pipeline(x: int = 1, counter: str = "") -> int:
    """One cached task."""
    return expensive(x, counter)


@dw.task(cache=True)
def cached_count(path: str) -> int:
    """Lines in a dataset file, cached."""
    with open(path) as f:
        return sum(1 for _ in f)


@dw.pipeline
def cached_dataset(path: str = "") -> int:
    """A cached task reading a dataset given by a (possibly relative) path."""
    return cached_count(dw.dataset(path))


@dw.task
def summarize(counts: int) -> dict[str, int]:
    """Registers a tiny 'model' made from its input."""
    dw.log_model({"rows": counts, "weights": list(range(counts))}, "row_model")
    return {"rows": counts}


@dw.pipeline
def dataset_to_model(path: str = "") -> dict[str, int]:
    """dataset -> count_rows -> summarize (registers a model)."""
    return summarize(count_rows(dw.dataset(path)))

"""Pipelines for the S3 tests, at module level so that process workers can import them.

Their outputs cover every serializer (JSON, small and big npy, Parquet, pickle); the big
array is past the size from which a local store maps arrays instead of reading them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pipelines_for_tests import bump

import dagwell as dw

BIG = 3_000_000
"""float64 items of the big array: 24 MB, past the 16 MiB from which local stores map."""

log = logging.getLogger("pipelines_for_s3")


@dataclass
class Centroids:
    """A stand-in for a fitted model: stored with cloudpickle."""

    centers: list[float]

    def predict(self, x: float) -> int:
        return min(range(len(self.centers)), key=lambda i: abs(self.centers[i] - x))


@dw.task(outputs=("config", "small", "big", "frame"))
def make(n: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray, pd.DataFrame]:
    frame = pd.DataFrame({"x": np.arange(n, dtype=np.int64), "y": np.linspace(0, 1, n)})
    return {"n": n, "where": "s3"}, np.arange(n), np.arange(BIG, dtype=np.float64), frame


@dw.task
def fit(frame: pd.DataFrame) -> Centroids:
    return Centroids([float(frame["y"].min()), float(frame["y"].max())])


@dw.task
def summarize(
    config: dict[str, Any], small: np.ndarray, big: np.ndarray, model: Centroids
) -> dict[str, Any]:
    print(f"summing {big.nbytes} bytes")
    return {"n": config["n"], "small": int(small.sum()), "big": float(big.sum()), "k": 2}


@dw.pipeline
def outputs(n: int = 10) -> Any:
    config, small, big, frame = make(n)
    return summarize(config, small, big, fit(frame))


@dw.task
def heavy(counter: str) -> np.ndarray:
    """The big array; counts its real calls in the file ``counter``."""
    bump(counter)
    return np.arange(BIG, dtype=np.float64)


@dw.task(retries=1)
def checked(array: np.ndarray, flag: str) -> float:
    """Prints and logs, then fails (every attempt) until the file ``flag`` exists."""
    print(f"checking attempt {dw.current().attempt}: {array.size} items")
    log.warning("a logged line from attempt %d", dw.current().attempt)
    if not os.path.exists(flag):
        raise ValueError("the flag file is not there yet")
    return float(array.sum())


@dw.pipeline
def until_fixed(flag: str = "", counter: str = "") -> Any:
    return checked(heavy(counter), flag)


@dw.task(cache=True)
def cached_big(seed: int, counter: str) -> np.ndarray:
    bump(counter)
    return np.full(BIG, float(seed))


@dw.task
def mean(array: np.ndarray) -> float:
    return float(array.mean())


@dw.pipeline
def cached(seed: int = 3, counter: str = "") -> Any:
    return mean(cached_big(seed, counter))


@dw.task
def count_files(path: str) -> int:
    return sum(1 for p in Path(path).rglob("*") if p.is_file())


@dw.pipeline
def snapshotted(path: str = "") -> Any:
    return count_files(dw.dataset(path, snapshot=True))


@dw.task
def train(c: float) -> float:
    model = Centroids([0.0, c])
    dw.log_model(model, "s3-centroids", metadata={"c": c})
    return c


@dw.pipeline
def registered(c: float = 2.0) -> Any:
    return train(c)

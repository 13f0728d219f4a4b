"""W3-S3 baseline: the 200 MB array ``np.save``-d to S3 with s3fs, ``np.load``-ed back, summed.

It writes where dagwell's side does: ``DAGWELL_ARTIFACTS`` (an ``s3://`` prefix) on the
server at ``DAGWELL_S3_ENDPOINT``, with the ``AWS_*`` credentials that ``bench/run.py``
sets for both sides.
"""

from __future__ import annotations

import os

import numpy as np
import s3fs

SIZE = 25_000_000  # float64: 200 MB


def make() -> np.ndarray:
    """``0.0, 1.0, ... SIZE - 1``."""
    return np.arange(SIZE, dtype=np.float64)


def add_up(array: np.ndarray) -> float:
    """The sum of ``array``."""
    return float(array.sum())


if __name__ == "__main__":
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": os.environ["DAGWELL_S3_ENDPOINT"]})
    path = os.environ["DAGWELL_ARTIFACTS"].rstrip("/") + "/array.npy"
    array = make()
    with fs.open(path, "wb") as f:
        np.save(f, array)
    del array  # the hand-off: the consumer sees only what is in the bucket
    with fs.open(path, "rb") as f:
        add_up(np.load(f))

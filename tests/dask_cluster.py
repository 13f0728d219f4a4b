"""A real Dask LocalCluster for the tests that join a running cluster by address.

Registered as a pytest plugin from ``tests/conftest.py``. :func:`local_cluster` starts one
of 2 one-thread worker processes, set up as dagwell advises (and as the cluster
:class:`~dagwell.execution.executors.dask.DaskExecutor` starts itself is): ``allowed-failures``
0, so a dead worker fails its call instead of Dask running it again unseen, and
``worker-saturation`` 1.0. A test module that needs its workers set up otherwise (resources,
environment) makes its own fixture with it; the module fixture ``dask_cluster`` is a plain
one. Without Dask installed, the tests that use either are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ADVISED_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
}
"""The scheduler settings dagwell advises for a cluster it joins."""


@contextmanager
def local_cluster(**options: Any) -> Iterator[Any]:
    """A LocalCluster of 2 one-thread worker processes, closed afterwards; ``options`` go to
    ``LocalCluster`` (``resources={"GPU": 1}``, ``env={...}``).

    >>> with local_cluster(resources={"GPU": 1}) as cluster:
    ...     address = cluster.scheduler_address
    """
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with dask.config.set(ADVISED_CONFIG):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",  # any free port: never 8787, maybe taken
            silence_logs=logging.WARNING,
            **options,
        )
    with cluster:
        yield cluster


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """One real LocalCluster for the module (see :func:`local_cluster`)."""
    with local_cluster() as cluster:
        yield cluster

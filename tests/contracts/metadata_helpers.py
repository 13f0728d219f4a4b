"""Records and shortcuts the metadata-store contract suites share: times, values, runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import sqlalchemy as sa

from dagwell.core.records import AttemptEnd, AttemptStart
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun

T = TypeVar("T")

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
INLINE = StoredValue("h-inline", "json", 2, "int", is_inline=True, inline=42)
MODEL = StoredValue("h-model", "cloudpickle", 1234, "sklearn.LogisticRegression")


def at(seconds: float) -> datetime:
    """``seconds`` after :data:`T0`."""
    return T0 + timedelta(seconds=seconds)


def create(
    store: MetadataStore,
    run_id: str = "run-0001",
    nodes: Sequence[str] = ("ingest", "split", "fit"),
    *,
    pipeline: str = "churn",
    status: RunState = RunState.RUNNING,
    params: dict[str, Any] | None = None,
) -> None:
    """Record a run of ``nodes`` in a chain (each node's upstream is the one before)."""
    task_runs = [
        NewTaskRun(node, node.split("-")[0], upstream=tuple(nodes[:i][-1:]))
        for i, node in enumerate(nodes)
    ]
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id=run_id,
            pipeline=pipeline,
            params={"C": 0.5, "folds": 3} if params is None else params,
            started_at=T0,
            executor="process",
            task_runs=task_runs,
            status=status,
        )


def succeed(store: MetadataStore, run_id: str, node: str, **outputs: StoredValue) -> bool:
    """Start attempt 1 of ``node`` and end it successfully; whether the end was recorded."""
    start = AttemptStart(node, 1, at(1), f"logs/{node}.1.log")
    end = AttemptEnd(node, 1, AttemptState.SUCCEEDED, at(2), TaskState.SUCCEEDED, outputs=outputs)
    with store.transaction() as tx:
        return store.record_attempts(tx, run_id, starts=[start], ends=[end]) == [True]


def select_rows(store: MetadataStore, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``query``, as plain tuples."""
    with store.reading() as conn:
        return [tuple(row) for row in conn.execute(query)]


def all_at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` in threads that start together; their results, in order."""
    import threading

    barrier = threading.Barrier(len(calls), timeout=30)

    def together(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(together, call) for call in calls]
        return [future.result(timeout=60) for future in futures]


def overlapping(
    first: MetadataStore,
    write_first: Callable[[sa.Connection], object],
    second: MetadataStore,
    write_second: Callable[[sa.Connection], object],
) -> None:
    """Write with ``second`` while ``first``'s transaction, already written, is still open.

    The second writer cannot see the first one's rows yet: on PostgreSQL it runs until it
    touches the same key, then waits for the first to commit; on SQLite it waits for the
    write lock. Both transactions must then commit (raises what either raised).
    """

    def write(store: MetadataStore, how: Callable[[sa.Connection], object]) -> None:
        with store.transaction() as tx:
            how(tx)

    with ThreadPoolExecutor(1) as pool, first.transaction() as tx:
        write_first(tx)
        later = pool.submit(write, second, write_second)
        time.sleep(0.3)  # long enough for the second to reach the key it waits on
    later.result(timeout=30)

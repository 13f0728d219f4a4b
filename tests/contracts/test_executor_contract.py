"""The Executor contract: one suite, run against every executor that make_executor builds."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

import pytest

from dagwell.errors import DefinitionError, SerializationError, TaskTimeoutError
from dagwell.execution.executors import Executor, InlineExecutor, ProcessExecutor, make_executor

# Calls are module-level functions, as the runner's are: the process workers import this
# module by name through the sys.path pytest set up.


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str) -> None:
    raise ValueError(message)


class CustomError(Exception):
    """An exception type defined by user code."""


def fail_custom(code: int) -> None:
    raise CustomError(f"custom failure {code}")


def sleep_and_return(seconds: float, value: object) -> object:
    time.sleep(seconds)
    return value


class ExecutorContract:
    """The behaviour every executor promises. Subclasses name the executor to build."""

    executor_name: str
    workers = 2

    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        executor = make_executor(self.executor_name, self.workers)
        yield executor
        executor.shutdown()

    def test_has_its_name_and_at_least_one_worker(self, executor: Executor) -> None:
        assert executor.name == self.executor_name
        assert executor.workers >= 1

    def test_the_future_resolves_to_the_return_value(self, executor: Executor) -> None:
        future = executor.submit(functools.partial(add, 2, 3))
        assert isinstance(future, Future)
        assert future.result(timeout=30) == 5

    def test_an_exception_arrives_with_its_type_and_message(self, executor: Executor) -> None:
        future = executor.submit(functools.partial(fail, "bad input 7"))
        with pytest.raises(ValueError, match=r"^bad input 7$"):
            future.result(timeout=30)
        assert isinstance(future.exception(), ValueError)

    def test_a_user_defined_exception_type_arrives_as_itself(self, executor: Executor) -> None:
        future = executor.submit(functools.partial(fail_custom, 3))
        with pytest.raises(CustomError, match=r"^custom failure 3$"):
            future.result(timeout=30)

    def test_more_calls_than_workers_all_complete(self, executor: Executor) -> None:
        futures = [executor.submit(functools.partial(add, i, 1)) for i in range(200)]
        assert [future.result(timeout=60) for future in futures] == list(range(1, 201))

    def test_the_runners_wait_loop_sees_every_call_finish(self, executor: Executor) -> None:
        """Keep `workers` calls in flight and block on FIRST_COMPLETED, as the runner does."""
        results: list[int] = []
        pending = {executor.submit(functools.partial(add, i, 0)) for i in range(executor.workers)}
        submitted = len(pending)
        while pending:
            done, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
            assert done, "no call finished within 30 s"
            for future in done:
                results.append(future.result())
                if submitted < 50:
                    pending.add(executor.submit(functools.partial(add, submitted, 0)))
                    submitted += 1
        assert sorted(results) == list(range(50))

    def test_submit_is_safe_from_many_threads(self, executor: Executor) -> None:
        futures: list[Future[int]] = []
        lock = threading.Lock()

        def submit_some(start: int) -> None:
            for i in range(start, start + 25):
                future = executor.submit(functools.partial(add, i, 0))
                with lock:
                    futures.append(future)

        threads = [threading.Thread(target=submit_some, args=(n * 25,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(future.result(timeout=60) for future in futures) == list(range(100))

    def test_shutdown_waits_for_submitted_calls(self, executor: Executor) -> None:
        future = executor.submit(functools.partial(sleep_and_return, 0.2, "finished"))
        executor.shutdown()
        assert future.done()
        assert future.result() == "finished"

    def test_shutdown_cancelling_does_not_wait_for_a_running_call(self, executor: Executor) -> None:
        """What Ctrl-C and dw.cancel rely on: the call's future is settled at once."""
        if executor.name == "inline":
            pytest.skip("an inline call has ended before submit() returns")
        future = executor.submit(functools.partial(sleep_and_return, 10, "late"))
        time.sleep(0.5)  # most likely running by now; queued is fine too
        # In a thread: an executor that waits for its cancelled futures would hang the test.
        stopping = threading.Thread(
            target=functools.partial(executor.shutdown, cancel_pending=True)
        )
        stopping.start()
        stopping.join(timeout=8)
        assert not stopping.is_alive(), "shutdown(cancel_pending=True) waited for the call"
        assert future.done()

    def test_shutdown_is_idempotent(self, executor: Executor) -> None:
        assert executor.submit(functools.partial(add, 1, 1)).result(timeout=30) == 2
        executor.shutdown()
        executor.shutdown()
        executor.shutdown(cancel_pending=True)

    def test_submit_after_shutdown_raises(self, executor: Executor) -> None:
        executor.shutdown()
        with pytest.raises(RuntimeError, match="after shutdown"):
            executor.submit(functools.partial(add, 1, 1))


class TestInlineExecutor(ExecutorContract):
    executor_name = "inline"

    def test_workers_is_always_one(self) -> None:
        assert make_executor("inline", 8).workers == 1

    def test_runs_the_call_in_the_callers_thread_before_submit_returns(self) -> None:
        executor = InlineExecutor()
        future = executor.submit(threading.get_ident)
        assert future.done()
        assert future.result() == threading.get_ident()

    def test_timeout_is_not_enforced(self) -> None:
        executor = InlineExecutor()
        future = executor.submit(functools.partial(sleep_and_return, 0.05, "late"), timeout=0.001)
        assert future.result() == "late"


class TestProcessExecutor(ExecutorContract):
    executor_name = "process"

    def test_make_executor_builds_a_process_pool_of_the_given_size(self) -> None:
        executor = make_executor("process", 3)
        try:
            assert isinstance(executor, ProcessExecutor)
            assert executor.workers == 3
        finally:
            executor.shutdown()


class TestDaskExecutor(ExecutorContract):
    """The contract on a LocalCluster the executor joins by address; a few own clusters."""

    executor_name = "dask"

    @pytest.fixture
    def executor(self, dask_cluster: Any) -> Iterator[Executor]:
        from dagwell.execution.executors.dask import DaskExecutor

        executor = DaskExecutor(self.workers, address=dask_cluster.scheduler_address)
        yield executor
        executor.shutdown()

    def test_workers_is_the_joined_clusters_thread_count(self, executor: Executor) -> None:
        assert executor.workers == 2

    def test_a_timeout_fails_the_call_and_the_executor_carries_on(self, executor: Executor) -> None:
        started = time.monotonic()
        future = executor.submit(functools.partial(sleep_and_return, 60, "late"), timeout=0.5)
        with pytest.raises(TaskTimeoutError, match=r"sleep_and_return exceeded its timeout"):
            future.result(timeout=50)  # it fails once its worker has restarted, in seconds
        assert time.monotonic() - started < 50  # not the 60 s the call sleeps
        assert executor.submit(functools.partial(add, 1, 2)).result(timeout=60) == 3

    def test_a_call_submitted_right_after_a_timeout_does_not_die_with_the_restarted_worker(
        self,
    ) -> None:
        """The timed-out call fails only once its worker is back: a retry sent at once must
        not land on the worker being restarted (the other one is busy), and die with it."""
        executor = make_executor("dask", 2)
        try:
            for _ in range(2):
                busy = executor.submit(functools.partial(sleep_and_return, 6, "meanwhile"))
                timed_out = executor.submit(
                    functools.partial(sleep_and_return, 60, "late"), timeout=0.5
                )
                with pytest.raises(TaskTimeoutError, match=r"exceeded its timeout"):
                    timed_out.result(timeout=60)
                retry = executor.submit(functools.partial(add, 1, 2), timeout=30)
                assert retry.result(timeout=60) == 3
                assert busy.result(timeout=60) == "meanwhile"
        finally:
            executor.shutdown()

    def test_a_call_that_cannot_be_pickled_fails_with_a_serialization_error(
        self, executor: Executor
    ) -> None:
        lock = threading.Lock()
        future = executor.submit(functools.partial(sleep_and_return, 0, lock))
        with pytest.raises(SerializationError, match=r"cannot be pickled.*_thread.lock"):
            future.result(timeout=30)

    def test_a_cancelled_future_stays_cancelled(self, executor: Executor) -> None:
        future = executor.submit(functools.partial(sleep_and_return, 60, "never"))
        assert future.cancel()
        assert future.cancelled()
        assert executor.submit(functools.partial(add, 2, 2)).result(timeout=60) == 4

    def test_make_executor_starts_a_local_cluster_and_closes_it(self) -> None:
        """Without an address: its own cluster of `workers` processes, gone after shutdown."""
        distributed = pytest.importorskip("distributed")
        executor = make_executor("dask", 2)
        address = executor.address  # type: ignore[attr-defined]
        try:
            assert executor.workers == 2
            assert executor.submit(functools.partial(add, 20, 22)).result(timeout=60) == 42
            # A local cluster has no resources: such a call fails at once, not forever.
            future = executor.submit(functools.partial(add, 1, 1), resources={"GPU": 1})
            with pytest.raises(DefinitionError, match=r"needs resources \{'GPU': 1\}"):
                future.result(timeout=30)
        finally:
            executor.shutdown()
        with pytest.raises(OSError):
            distributed.Client(address, timeout="1s", set_as_default=False)


def test_an_unknown_executor_name_lists_the_valid_ones() -> None:
    with pytest.raises(DefinitionError, match=r"unknown executor 'threads'.*'inline', 'process'"):
        make_executor("threads", 2)

"""ProcessExecutor against real worker processes: parallelism, imports, timeouts, crashes."""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dagwell.errors import (
    DefinitionError,
    SerializationError,
    TaskError,
    TaskTimeoutError,
    WorkerDiedError,
)
from dagwell.execution.executors import ProcessExecutor

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="inspects processes through /proc"
)

WORKER_MODULE = "dagwell.execution.executors.worker"

# -- calls, at module level so the workers import them by name ----------------------------


def add(a: int, b: int) -> int:
    return a + b


def sleep_and_return(seconds: float, value: object) -> object:
    time.sleep(seconds)
    return value


def meet(mine: str, theirs: str, patience: float) -> bool:
    """Leave my mark, then wait for the other call's: True only if both ran at once."""
    Path(mine).touch()
    give_up_at = time.monotonic() + patience
    while time.monotonic() < give_up_at:
        if Path(theirs).exists():
            return True
        time.sleep(0.01)
    return False


def meet_and_tell_pid(mine: str, theirs: str) -> int:
    assert meet(mine, theirs, 30), "the other call never ran alongside this one"
    return os.getpid()


def exit_with(code: int) -> None:
    os._exit(code)


def kill_myself(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(30)


def exit_via_system_exit(code: int) -> None:
    sys.exit(code)


def return_a_lock() -> object:
    return threading.Lock()


def raise_unpicklable() -> None:
    error = ValueError("holds a lock")
    error.lock = threading.Lock()  # type: ignore[attr-defined]
    raise error


class NeedsTwoArguments(Exception):
    """Pickles fine but cannot be rebuilt: pickle calls __init__ with args=(first,)."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(first)
        self.second = second


def raise_unrebuildable() -> None:
    raise NeedsTwoArguments("first", "second")


def fail_deep_inside(message: str) -> None:
    def innermost_helper() -> None:
        raise ValueError(message)

    innermost_helper()


def touch(path: str) -> None:
    Path(path).touch()


def tell_pid_then_sleep(path: str, seconds: float) -> str:
    Path(f"{path}.tmp").write_text(str(os.getpid()))
    os.replace(f"{path}.tmp", path)  # the test reads the file as soon as it exists
    time.sleep(seconds)
    return "survived"


def touch_at_exit(path: str) -> None:
    atexit.register(touch, path)


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def pool() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(2)
    yield executor
    executor.shutdown(cancel_pending=True)


@pytest.fixture
def single() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(1)
    yield executor
    executor.shutdown(cancel_pending=True)


def gone_or_zombie(pid: int) -> bool:
    """True once the process has exited (a zombie has exited; it waits for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until(condition: Callable[[], object], seconds: float = 10.0) -> bool:
    give_up_at = time.monotonic() + seconds
    while time.monotonic() < give_up_at:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def worker_children() -> list[int]:
    """PIDs of live worker processes whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and WORKER_MODULE in cmdline:
            found.append(int(entry.name))
    return found


def run_script(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- parallelism and reuse -----------------------------------------------------------------


def test_two_workers_run_two_calls_at_the_same_time(pool: ProcessExecutor, tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    first = pool.submit(functools.partial(meet, a, b, 30))
    second = pool.submit(functools.partial(meet, b, a, 30))
    assert first.result(timeout=60) is True
    assert second.result(timeout=60) is True


def test_calls_run_in_other_processes_and_workers_are_reused(pool: ProcessExecutor) -> None:
    pids = [pool.submit(os.getpid).result(timeout=30) for _ in range(20)]
    assert os.getpid() not in pids
    assert len(set(pids)) <= 2, "more processes than workers: workers are not reused"


def test_a_worker_is_started_once_and_serves_every_call(single: ProcessExecutor) -> None:
    pids = {single.submit(os.getpid).result(timeout=30) for _ in range(10)}
    assert len(pids) == 1


def test_all_workers_start_at_construction() -> None:
    with ProcessExecutor(2):
        assert wait_until(lambda: len(worker_children()) == 2)


def test_workers_cannot_be_fewer_than_one() -> None:
    with pytest.raises(DefinitionError, match="at least 1 worker"):
        ProcessExecutor(0)


# -- what workers can import ---------------------------------------------------------------


def test_a_module_on_a_relative_sys_path_entry_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative entries mean the caller's cwd, and workers start in that cwd too."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "dagwell_test_helper_mod.py").write_text(
        "import os\ndef where():\n    return __file__, os.getcwd()\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("mods")
    monkeypatch.delitem(sys.modules, "dagwell_test_helper_mod", raising=False)
    helper = importlib.import_module("dagwell_test_helper_mod")

    with ProcessExecutor(1) as executor:
        file, cwd = executor.submit(helper.where).result(timeout=30)
    assert Path(file) == tmp_path / "mods" / "dagwell_test_helper_mod.py"
    assert Path(cwd) == tmp_path


def test_functions_and_classes_defined_in_main_work(tmp_path: Path) -> None:
    """No `if __name__ == "__main__"` guard needed: workers never re-import the script."""
    result = run_script(
        tmp_path,
        """
        import functools, json, os
        from dagwell.execution.executors import ProcessExecutor

        class Point:
            def __init__(self, x, pid):
                self.x, self.pid = x, pid

        def make_point(x):
            return Point(x * 2, os.getpid())

        with ProcessExecutor(2) as executor:
            point = executor.submit(functools.partial(make_point, 21)).result(timeout=30)
            square = executor.submit(lambda: 7 * 7).result(timeout=30)
        print(json.dumps({"x": point.x, "is_point": isinstance(point, Point),
                          "other_pid": point.pid != os.getpid(), "square": square}))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "x": 42,
        "is_point": True,
        "other_pid": True,
        "square": 49,
    }


# -- timeouts ------------------------------------------------------------------------------


def test_a_timeout_kills_the_call_and_replaces_the_worker(single: ProcessExecutor) -> None:
    old_pid = single.submit(os.getpid).result(timeout=30)
    future = single.submit(functools.partial(sleep_and_return, 60, "never"), timeout=0.5)
    with pytest.raises(TaskTimeoutError, match=r"sleep_and_return exceeded its timeout of 0\.5 s"):
        future.result(timeout=30)
    new_pid = single.submit(os.getpid).result(timeout=30)
    assert new_pid != old_pid
    assert wait_until(lambda: gone_or_zombie(old_pid))
    assert single.submit(functools.partial(add, 2, 2)).result(timeout=30) == 4


def test_a_timeout_leaves_other_workers_and_their_calls_alone(pool: ProcessExecutor) -> None:
    slow = pool.submit(functools.partial(sleep_and_return, 1.5, "slow but fine"))
    hung = pool.submit(functools.partial(sleep_and_return, 60, "never"), timeout=0.3)
    with pytest.raises(TaskTimeoutError):
        hung.result(timeout=30)
    assert slow.result(timeout=30) == "slow but fine"


def test_a_timeout_counts_from_the_start_of_the_call_not_from_submit(
    single: ProcessExecutor,
) -> None:
    single.submit(os.getpid).result(timeout=30)
    blocker = single.submit(functools.partial(sleep_and_return, 1.0, "first"))
    queued = single.submit(functools.partial(sleep_and_return, 0.05, "second"), timeout=0.5)
    assert blocker.result(timeout=30) == "first"
    assert queued.result(timeout=30) == "second"


def test_a_generous_timeout_does_not_fire(single: ProcessExecutor) -> None:
    future = single.submit(functools.partial(sleep_and_return, 0.1, "in time"), timeout=30)
    assert future.result(timeout=30) == "in time"


# -- dying workers -------------------------------------------------------------------------


def test_a_worker_that_exits_fails_its_call_with_the_exit_code(single: ProcessExecutor) -> None:
    old_pid = single.submit(os.getpid).result(timeout=30)
    with pytest.raises(WorkerDiedError, match=rf"pid {old_pid}.*exit_with.*exit code 3"):
        single.submit(functools.partial(exit_with, 3)).result(timeout=30)
    assert single.submit(os.getpid).result(timeout=30) != old_pid
    assert gone_or_zombie(old_pid)


def test_a_worker_killed_by_a_signal_names_the_signal(single: ProcessExecutor) -> None:
    with pytest.raises(WorkerDiedError, match="killed by signal SIGTERM"):
        single.submit(functools.partial(kill_myself, signal.SIGTERM)).result(timeout=30)
    assert single.submit(functools.partial(add, 1, 2)).result(timeout=30) == 3


def test_a_worker_killed_from_outside_while_idle_is_replaced(single: ProcessExecutor) -> None:
    old_pid = single.submit(os.getpid).result(timeout=30)
    os.kill(old_pid, signal.SIGKILL)
    assert wait_until(lambda: gone_or_zombie(old_pid))
    new_pid = single.submit(os.getpid).result(timeout=30)
    assert new_pid != old_pid


def test_system_exit_in_a_call_fails_only_that_call(single: ProcessExecutor) -> None:
    pid = single.submit(os.getpid).result(timeout=30)
    with pytest.raises(TaskError, match=r"exit_via_system_exit raised SystemExit\(5\)"):
        single.submit(functools.partial(exit_via_system_exit, 5)).result(timeout=30)
    assert single.submit(os.getpid).result(timeout=30) == pid


def test_ctrl_c_in_the_terminal_does_not_interrupt_a_running_call(
    single: ProcessExecutor, tmp_path: Path
) -> None:
    """SIGINT reaches the whole process group; only the caller decides what stops."""
    pid_file = tmp_path / "pid"
    future = single.submit(functools.partial(tell_pid_then_sleep, str(pid_file), 0.5))
    assert wait_until(pid_file.exists)
    os.kill(int(pid_file.read_text()), signal.SIGINT)
    assert future.result(timeout=30) == "survived"


def test_a_worker_that_cannot_start_breaks_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(sys, "executable", false)
    with ProcessExecutor(1) as executor:
        with pytest.raises(WorkerDiedError, match=r"exited while starting \(exit code 1\)"):
            executor.submit(os.getpid).result(timeout=30)
        later = executor.submit(os.getpid)
        assert later.done()
        with pytest.raises(WorkerDiedError, match="exited while starting"):
            later.result()


# -- what cannot travel --------------------------------------------------------------------


def test_an_unpicklable_call_fails_its_future_at_submit(pool: ProcessExecutor) -> None:
    future = pool.submit(functools.partial(add, threading.Lock(), 1))  # type: ignore[arg-type]
    assert future.done()
    with pytest.raises(SerializationError, match=r"cannot send .*test_process_executor\.add"):
        future.result()


def test_an_unpicklable_return_value_gives_a_clear_error(single: ProcessExecutor) -> None:
    pid = single.submit(os.getpid).result(timeout=30)
    with pytest.raises(
        SerializationError, match=r"return value of .*return_a_lock \(a lock\) could not be pickled"
    ):
        single.submit(return_a_lock).result(timeout=30)
    assert single.submit(os.getpid).result(timeout=30) == pid, "the worker should survive"


@pytest.mark.parametrize(
    ("call", "original"),
    [(raise_unpicklable, "ValueError('holds a lock')"), (raise_unrebuildable, "NeedsTwoArguments")],
)
def test_an_exception_that_cannot_travel_becomes_a_task_error(
    single: ProcessExecutor, call: Callable[[], None], original: str
) -> None:
    with pytest.raises(TaskError, match="could not be pickled") as caught:
        single.submit(call).result(timeout=30)
    assert original in str(caught.value)
    assert "Traceback" in str(caught.value)


def test_the_worker_side_traceback_is_kept_as_the_cause(single: ProcessExecutor) -> None:
    future = single.submit(functools.partial(fail_deep_inside, "deep"))
    error = future.exception(timeout=30)
    assert isinstance(error, ValueError)
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "in innermost_helper" in text


# -- shutdown ------------------------------------------------------------------------------


def test_shutdown_leaves_no_child_processes() -> None:
    executor = ProcessExecutor(2)
    pids = {executor.submit(os.getpid).result(timeout=30) for _ in range(5)}
    with pytest.raises(TaskTimeoutError):  # replace a worker too
        executor.submit(functools.partial(sleep_and_return, 60, None), timeout=0.2).result(30)
    pids |= {executor.submit(os.getpid).result(timeout=30) for _ in range(5)}
    executor.shutdown()
    assert worker_children() == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} was not reaped"


def test_workers_run_their_atexit_handlers_on_shutdown(tmp_path: Path) -> None:
    with ProcessExecutor(1) as executor:
        executor.submit(functools.partial(touch_at_exit, str(tmp_path / "bye"))).result(30)
    assert (tmp_path / "bye").exists()


def test_shutdown_with_cancel_pending_cancels_queued_and_kills_running(
    single: ProcessExecutor, tmp_path: Path
) -> None:
    pid = single.submit(os.getpid).result(timeout=30)
    running = single.submit(functools.partial(sleep_and_return, 60, "never"))
    queued = [single.submit(functools.partial(touch, str(tmp_path / f"q{i}"))) for i in range(3)]
    assert wait_until(running.running)
    started = time.monotonic()
    single.shutdown(cancel_pending=True)
    assert time.monotonic() - started < 30
    with pytest.raises(WorkerDiedError, match="cancel_pending=True"):
        running.result(timeout=0)
    assert all(future.cancelled() for future in queued)
    assert list(tmp_path.iterdir()) == []
    assert not Path(f"/proc/{pid}").exists()


def test_a_queued_call_cancelled_by_the_caller_never_runs(
    single: ProcessExecutor, tmp_path: Path
) -> None:
    single.submit(os.getpid).result(timeout=30)
    blocker = single.submit(functools.partial(sleep_and_return, 0.3, "done"))
    victim = single.submit(functools.partial(touch, str(tmp_path / "victim")))
    assert victim.cancel()
    assert blocker.result(timeout=30) == "done"
    assert single.submit(functools.partial(add, 1, 1)).result(timeout=30) == 2
    assert not (tmp_path / "victim").exists()


def test_a_context_manager_shuts_the_pool_down() -> None:
    with ProcessExecutor(1) as executor:
        pid = executor.submit(os.getpid).result(timeout=30)
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(os.getpid)


def test_workers_do_not_outlive_a_caller_that_is_killed(tmp_path: Path) -> None:
    """An idle worker sees EOF; a busy one gets SIGKILL from its parent-death signal."""
    result = run_script(
        tmp_path,
        f"""
        import functools, json, os, signal, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_process_executor import meet_and_tell_pid, sleep_and_return
        from dagwell.execution.executors import ProcessExecutor

        executor = ProcessExecutor(2)
        a, b = {str(tmp_path / "a")!r}, {str(tmp_path / "b")!r}
        first = executor.submit(functools.partial(meet_and_tell_pid, a, b))
        second = executor.submit(functools.partial(meet_and_tell_pid, b, a))
        pids = [first.result(timeout=30), second.result(timeout=30)]
        busy = executor.submit(functools.partial(sleep_and_return, 60, None))
        while not busy.running():
            time.sleep(0.01)
        time.sleep(0.2)  # let the worker pick the call up
        print(json.dumps(pids), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    pids = json.loads(result.stdout)
    assert len(set(pids)) == 2
    for pid in pids:
        exited = wait_until(functools.partial(gone_or_zombie, pid))
        assert exited, f"worker {pid} outlived its parent"

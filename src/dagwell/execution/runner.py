"""The run loop: ready nodes -> executor -> outcomes -> recorded state, until all finish.

The runner is the only writer of a run's state. It blocks on futures (never busy-polls),
records each batch of changes in one transaction, and applies the transition table in
``core/states.py``. A node whose task is in a pool starts only with a slot of it
(``execution/pool_slots.py``). A heartbeat thread records that the runner lives and reads
back whether someone asked to cancel the run (``dw.cancel``); the runner then cancels it
as on Ctrl-C.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import json
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import blake3

from dagwell.core.graph import Graph, Node
from dagwell.core.records import AttemptEnd, AttemptStart
from dagwell.core.refs import Ref, replace_refs
from dagwell.core.states import (
    AttemptState,
    RunState,
    TaskState,
    check_task_transition,
    run_state_for,
)
from dagwell.core.values import GATHER, REF_MARKER, ItemOf, StoredValue
from dagwell.errors import DagwellError, DefinitionError
from dagwell.execution.attempt import AttemptOutcome, AttemptSpec, execute_attempt, now
from dagwell.execution.hooks import Hooks
from dagwell.execution.pool_slots import PoolSlots

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from dagwell.execution.executors.base import Executor
    from dagwell.storage.metadata.cache import CacheEntry
    from dagwell.storage.metadata.store import MetadataStore

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
"""How often the runner records that it lives, and so how soon it sees a cancel request."""
MAX_WAIT_SECONDS = 5.0
"""The longest the loop blocks on futures before it looks at the run again."""
START_RECORD_DELAY = 0.02
"""Seconds an attempt may run before its start must be committed (see _record_outcomes)."""


@dataclass
class _Flight:
    node: str
    attempt: int


@dataclass
class _MapParent:
    children: list[str] = field(default_factory=list)
    remaining: int = 0
    failed: int = 0


class RunTakenOver(DagwellError):
    """Another process settled one of this run's attempts: this runner must stop."""


class Runner:
    """Drives one run of ``graph`` to completion.

    >>> runner = Runner(graph, run_id="ab12", store=store, executor=executor, ...)
    >>> runner.execute()
    <RunState.SUCCEEDED: 'succeeded'>
    """

    def __init__(
        self,
        graph: Graph,
        *,
        run_id: str,
        params: Mapping[str, Any],
        store: MetadataStore,
        executor: Executor,
        artifacts_url: str,
        logs_dir: str,
        s3_endpoint: str | None = None,
        hooks: Hooks | None = None,
        clock: Callable[[], float] = time.monotonic,
        reuse: Mapping[str, Mapping[str, StoredValue]] | None = None,
        use_cache: bool = True,
        dataset_versions: Mapping[str, Mapping[str, str]] | None = None,
        scheduled_for: datetime | None = None,
        attempts_used: Mapping[str, int] | None = None,
    ) -> None:
        self.graph = graph
        self.scheduled_for = scheduled_for
        self.run_id = run_id
        self.reuse = dict(reuse or {})
        self.use_cache = use_cache
        self.dataset_versions = dict(dataset_versions or {})
        self.params = dict(params)
        self.store = store
        self.executor = executor
        self.artifacts_url = artifacts_url
        self.s3_endpoint = s3_endpoint  # sent with each attempt: workers may not have it
        self.logs_dir = logs_dir
        self.hooks = hooks or Hooks()
        self.clock = clock
        self.nodes: dict[str, Node] = dict(graph.nodes)
        self.status: dict[str, TaskState] = {n: TaskState.PENDING for n in self.nodes}
        # Attempts lost with a dead runner count against a node's retries when it resumes.
        self.attempts: dict[str, int] = dict.fromkeys(self.nodes, 0)
        self.attempts.update({n: k for n, k in (attempts_used or {}).items() if n in self.nodes})
        self.outputs: dict[str, dict[str, StoredValue]] = {}
        self.waiting_on: dict[str, int] = {n: len(node.upstream) for n, node in self.nodes.items()}
        self.downstream: dict[str, list[str]] = {n: list(d) for n, d in graph.downstream.items()}
        self.map_parent_of: dict[str, str] = {}
        self.map_parents: dict[str, _MapParent] = {}
        self.ready: deque[str] = deque(n for n in graph.order() if self.waiting_on[n] == 0)
        self.retry_heap: list[tuple[float, str]] = []
        self.in_flight: dict[cf.Future[AttemptOutcome], _Flight] = {}
        self.unfinished = len(self.nodes)
        # One queued attempt per worker keeps workers busy while the runner records results,
        # and lets several results share one transaction.
        self.capacity = executor.workers * (1 if executor.name == "inline" else 2)
        # Starts of short attempts are written with their ends (see _record_outcomes);
        # inline, an attempt has ended before the next commit, so starts go first.
        self.group_commit = executor.name != "inline"
        self.unrecorded: dict[str, AttemptStart] = {}
        self.submitted_at: dict[str, float] = {}
        used = any(node.task.pool is not None for node in self.nodes.values())
        self.slots = PoolSlots(run_id, clock=clock, used=used)
        # Set by the heartbeat thread when someone asked to cancel the run; the future
        # wakes the loop from its wait on the attempts' futures.
        self.cancel_requested_by: str | None = None
        self._cancel_wake: cf.Future[None] = cf.Future()

    # -- the loop ------------------------------------------------------------------------

    def execute(self) -> RunState:
        """Run every node, record everything, and return the run's final state."""
        self.hooks.run_started(
            run_id=self.run_id, pipeline=self.graph.pipeline, nodes=list(self.nodes)
        )
        beating = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(beating,), name="dagwell-heartbeat", daemon=True
        )
        beat.start()
        try:
            while self.unfinished:
                done = self._wait()
                cancelled_by = self.cancel_requested_by
                # Attempts that ended are recorded as they ended; nothing new starts.
                self._tick(done, start=cancelled_by is None)
                if cancelled_by is not None and self.unfinished:
                    self._cancel(f"cancelled by {cancelled_by}")
                    return RunState.CANCELLED
        except KeyboardInterrupt:
            self._cancel()
            raise
        except RunTakenOver:
            self.executor.shutdown(cancel_pending=True)
            raise
        except BaseException as exc:
            self._crash(exc)
            raise
        finally:
            beating.set()
            beat.join()
        return self._finish()

    def _heartbeat(self, stop: threading.Event) -> None:
        """Record every few seconds that this runner lives, even while a long task runs,
        and wake the loop when someone asked to cancel the run."""
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.store.transaction() as tx:
                    by = self.store.heartbeat(tx, self.run_id, now())
            except Exception as exc:  # a missed beat is retried; it never stops the run
                log.warning("could not record the heartbeat of run %s: %s", self.run_id, exc)
                continue
            if by is not None and self.cancel_requested_by is None:
                log.info("run %s: %s asked to cancel it", self.run_id, by)
                self.cancel_requested_by = by
                self._cancel_wake.set_result(None)

    def _wait(self) -> set[cf.Future[AttemptOutcome]]:
        if self.ready and len(self.in_flight) < self.capacity:
            return set()
        if not self.in_flight and not self.retry_heap and not self.slots.waiting:
            raise RuntimeError("runner stalled: nothing ready, running or waiting to retry")
        timeout = MAX_WAIT_SECONDS
        if self.retry_heap:
            timeout = min(timeout, max(self.retry_heap[0][0] - self.clock(), 0.0))
        if self.slots.waiting:  # another run may free a slot: ask again soon
            timeout = min(timeout, max(self.slots.retry_at - self.clock(), 0.0))
        if self.unrecorded:
            oldest = min(self.submitted_at[n] for n in self.unrecorded)
            timeout = min(timeout, max(oldest + START_RECORD_DELAY - self.clock(), 0.0))
        # The cancel future ends the wait early, also when nothing is in flight.
        waiting: list[cf.Future[Any]] = [*self.in_flight, self._cancel_wake]
        done, _ = cf.wait(waiting, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return {future for future in done if future is not self._cancel_wake}

    def _tick(self, done: set[cf.Future[AttemptOutcome]], *, start: bool = True) -> None:
        """Record finished attempts, queue due retries, and start what is now ready
        (unless not ``start``: the run is being cancelled)."""
        to_submit: list[AttemptSpec] = []
        with self.store.transaction() as tx:
            self._record_outcomes(tx, [(self.in_flight.pop(f), _outcome_of(f)) for f in done])
            if not start:
                return
            self._queue_due_retries()
            if self.slots.waiting:  # first in line, ahead of nodes that became ready later
                self.ready.extendleft(reversed(self.slots.due()))
            while self.ready and len(self.in_flight) + len(to_submit) < self.capacity:
                spec = self._start(tx, self.ready.popleft())
                if spec is not None:
                    to_submit.append(spec)
            if not self.group_commit:  # inline: the call runs in submit(); record it first
                starts = [AttemptStart(s.node, s.attempt, now(), s.log_path) for s in to_submit]
                self.store.record_attempts(tx, self.run_id, starts=starts)
        for spec in to_submit:
            timeout = spec.task.timeout
            call = partial(execute_attempt, spec)
            call.label = f"node {spec.node!r} (attempt {spec.attempt})"  # type: ignore[attr-defined]
            future = self.executor.submit(call, timeout=timeout, resources=spec.task.resources)
            self.in_flight[future] = _Flight(spec.node, spec.attempt)
            if self.group_commit:
                self.unrecorded[spec.node] = AttemptStart(
                    spec.node, spec.attempt, started_at=now(), log_path=spec.log_path
                )
                self.submitted_at[spec.node] = self.clock()

    # -- starting ------------------------------------------------------------------------

    def _start(self, tx: Connection, node_id: str) -> AttemptSpec | None:
        node = self.nodes[node_id]
        reused = self.reuse.get(node_id)
        if reused is not None:
            self._reuse(tx, node_id, reused)
            return None
        if node.map_spec is not None:
            self._expand(tx, node)
            return None
        args = replace_refs(node.args, self._stored)
        kwargs = replace_refs(dict(node.kwargs), self._stored)
        attempt = self.attempts[node_id] + 1
        if attempt > node.task.retries + 1:
            self._fail_unstarted(
                tx,
                node_id,
                f"its last allowed attempt ({attempt - 1}) was lost when its runner died",
            )
            return None
        if attempt == 1 and node.task.cache and self.use_cache:
            hit = self._look_up_cache(tx, node, args, kwargs)
            if hit is not None:
                self._take_cached(tx, node_id, hit)
                return None
        pool = node.task.pool
        if pool is not None and not self.slots.take(tx, node_id, pool):
            return None  # no free slot: it waits, still pending, and asks again later
        self.attempts[node_id] = attempt
        log_path = f"{self.logs_dir}/{self.run_id}/{node_id}.{attempt}.log"
        self._set(node_id, TaskState.RUNNING, attempt)
        return AttemptSpec(
            run_id=self.run_id,
            pipeline=self.graph.pipeline,
            node=node_id,
            attempt=attempt,
            task=node.task,
            args=args,
            kwargs=kwargs,
            artifacts_url=self.artifacts_url,
            s3_endpoint=self.s3_endpoint,
            log_path=log_path,
            params=self.params,
            fd_capture=self.executor.name != "inline",
            scheduled_for=self.scheduled_for,
        )

    def _fail_unstarted(self, tx: Connection, node_id: str, error: str) -> None:
        """Fail a node without starting an attempt (an expansion error, no retries left)."""
        self.store.set_task_status(
            tx, self.run_id, [node_id], TaskState.FAILED, at=now(), error=error
        )
        self._set(node_id, TaskState.FAILED, self.attempts[node_id], error)
        self._node_finished(tx, node_id, ok=False)

    def _look_up_cache(
        self, tx: Connection, node: Node, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CacheEntry | None:
        """An earlier identical call's record, or None after recording this call's key."""
        from dagwell.tracking.cache_keys import cache_key

        datasets = self.dataset_versions.get(node.id, {})
        try:
            key = cache_key(node.task, args, kwargs, datasets)
        except (ValueError, DefinitionError) as exc:  # e.g. an argument that will not pickle
            log.warning("node %r is not cached: %s", node.id, exc)
            return None
        hit = self.store.find_cache_hit(tx, node.task.name, key.digest)
        if hit is None:
            self.store.set_cache_key(tx, self.run_id, node.id, key.digest, key.to_json())
        return hit

    def _take_cached(self, tx: Connection, node_id: str, hit: CacheEntry) -> None:
        self.store.mark_cache_hit(tx, self.run_id, node_id, hit)
        self.store.set_task_status(tx, self.run_id, [node_id], TaskState.CACHED, at=now())
        self._set(node_id, TaskState.CACHED, 0)
        self.outputs[node_id] = dict(hit.outputs)
        self._node_finished(tx, node_id, ok=True)

    def _reuse(self, tx: Connection, node_id: str, outputs: Mapping[str, StoredValue]) -> None:
        """Take a node's outputs from the run being resumed instead of running it."""
        self.store.record_outputs(tx, self.run_id, node_id, outputs)
        self.store.set_task_status(tx, self.run_id, [node_id], TaskState.REUSED, at=now())
        self._set(node_id, TaskState.REUSED, 0)
        self.outputs[node_id] = dict(outputs)
        self._node_finished(tx, node_id, ok=True)

    def _stored(self, ref: Ref) -> StoredValue:
        return self.outputs[ref.node][ref.output]

    def _expand(self, tx: Connection, parent: Node) -> None:
        """Turn a dynamic fan-out into one child node per item of the mapped list."""
        assert parent.map_spec is not None
        source = self._stored(parent.map_spec.over)
        length = len(source.inline or []) if source.serializer == GATHER else source.length
        self._set(parent.id, TaskState.RUNNING, 0)
        if length is None:
            error = (
                f"{parent.task.name}.map() needs a list to map over, but node "
                f"{parent.map_spec.over.node!r} returned {source.type_name}"
            )
            self._fail_unstarted(tx, parent.id, error)
            return
        from dagwell.storage.metadata.store import NewTaskRun

        children = [f"{parent.id}[{i}]" for i in range(length)]
        self.map_parents[parent.id] = _MapParent(children=children, remaining=length)
        new_rows = []
        for index, child_id in enumerate(children):
            self.nodes[child_id] = Node(
                id=child_id,
                task=parent.task,
                args=(ItemOf(source, index),),
                kwargs=parent.kwargs,
            )
            self.status[child_id] = TaskState.PENDING
            self.attempts[child_id] = 0
            self.map_parent_of[child_id] = parent.id
            self.downstream[child_id] = []
            self.unfinished += 1
            self.ready.append(child_id)
            new_rows.append(
                NewTaskRun(
                    node=child_id,
                    task=parent.task.name,
                    upstream=parent.upstream,
                    map_parent=parent.id,
                    map_index=index,
                )
            )
        self.store.add_task_runs(tx, self.run_id, new_rows)
        self.store.set_task_status(tx, self.run_id, [parent.id], TaskState.RUNNING)
        self.hooks.nodes_added(run_id=self.run_id, nodes=children)
        if length == 0:
            self._finish_map_parent(tx, parent.id)

    # -- recording outcomes --------------------------------------------------------------

    def _record_outcomes(
        self, tx: Connection, finished: list[tuple[_Flight, AttemptOutcome]]
    ) -> None:
        """Record ended attempts, and the starts of attempts still running, in one go.

        An attempt's start is written at the first commit after it was submitted; one that
        ended by then is written once, already finished (a group commit that halves the
        writes for short tasks). ``START_RECORD_DELAY`` bounds how late a start is written.
        """
        ends = []
        statuses = []
        for flight, outcome in finished:
            task = self.nodes[flight.node].task
            if outcome.ok:
                status = TaskState.SUCCEEDED
            elif flight.attempt <= task.retries:
                status = TaskState.RETRYING
            else:
                status = TaskState.FAILED
            start = self.unrecorded.pop(flight.node, None)
            self.submitted_at.pop(flight.node, None)
            if start is not None and outcome.started_at is not None:
                start = replace(start, started_at=outcome.started_at)
            statuses.append(status)
            ends.append(
                AttemptEnd(
                    flight.node,
                    flight.attempt,
                    AttemptState.SUCCEEDED if outcome.ok else AttemptState.FAILED,
                    outcome.ended_at,
                    status,
                    error=outcome.error,
                    traceback=outcome.traceback,
                    outputs=outcome.outputs if outcome.ok else None,
                    start=start,
                    started_at=outcome.started_at,
                    params=outcome.params,
                    metrics=outcome.metrics,
                    models=outcome.models,
                )
            )
        due = self.clock() - START_RECORD_DELAY
        starts = [s for n, s in self.unrecorded.items() if self.submitted_at[n] <= due]
        for start in starts:
            del self.unrecorded[start.node]
            del self.submitted_at[start.node]
        recorded = self.store.record_attempts(tx, self.run_id, starts=starts, ends=ends)
        if self.slots.held:  # ended attempts give their slots back, retried ones too
            self.slots.release(tx, [flight.node for flight, _ in finished])
        for (flight, _), ok in zip(finished, recorded, strict=True):
            if not ok:
                # Another process settled this attempt: the run was taken over (resumed
                # elsewhere as dead). Stop before any outcome reaches the hooks: this
                # transaction is rolled back, and its alerts must not go out.
                raise RunTakenOver(
                    f"run {self.run_id} was taken over by another process (it recorded "
                    f"attempt {flight.attempt} of {flight.node!r}); this runner stops"
                )
        for (flight, outcome), status in zip(finished, statuses, strict=True):
            self._apply_outcome(tx, flight, outcome, status)

    def _apply_outcome(
        self, tx: Connection, flight: _Flight, outcome: AttemptOutcome, status: TaskState
    ) -> None:
        node_id, attempt = flight.node, flight.attempt
        self._set(node_id, status, attempt, outcome.error)
        if status is TaskState.RETRYING:
            due = self.clock() + self.nodes[node_id].task.retry_delay_for(attempt)
            heapq.heappush(self.retry_heap, (due, node_id))
            return
        if outcome.ok:
            self.outputs[node_id] = dict(outcome.outputs)
        self._node_finished(tx, node_id, ok=outcome.ok)

    def _node_finished(self, tx: Connection, node_id: str, *, ok: bool) -> None:
        self.unfinished -= 1
        parent = self.map_parent_of.get(node_id)
        if parent is not None:
            state = self.map_parents[parent]
            state.remaining -= 1
            state.failed += 0 if ok else 1
            if state.remaining == 0:
                self._finish_map_parent(tx, parent)
            return
        if not ok:
            self._fail_downstream(tx, node_id)
            return
        for child in self.downstream[node_id]:
            self.waiting_on[child] -= 1
            if self.waiting_on[child] == 0 and self.status[child] is TaskState.PENDING:
                self.ready.append(child)

    def _finish_map_parent(self, tx: Connection, parent_id: str) -> None:
        state = self.map_parents[parent_id]
        if state.failed:
            error = f"{state.failed} of {len(state.children)} mapped calls failed"
            self.store.set_task_status(
                tx, self.run_id, [parent_id], TaskState.FAILED, at=now(), error=error
            )
            self._set(parent_id, TaskState.FAILED, 0, error)
            self._node_finished(tx, parent_id, ok=False)
            return
        gathered = gather([self.outputs[c] for c in state.children])
        self.outputs[parent_id] = {"return": gathered}
        self.store.record_outputs(tx, self.run_id, parent_id, self.outputs[parent_id])
        self.store.set_task_status(tx, self.run_id, [parent_id], TaskState.SUCCEEDED, at=now())
        self._set(parent_id, TaskState.SUCCEEDED, 0)
        self._node_finished(tx, parent_id, ok=True)

    def _fail_downstream(self, tx: Connection, node_id: str) -> None:
        blocked = [
            n
            for n in sorted(self.graph.descendants(node_id))
            if self.status[n] is TaskState.PENDING
        ]
        if not blocked:
            return
        error = f"upstream node {node_id!r} failed"
        self.store.set_task_status(
            tx, self.run_id, blocked, TaskState.UPSTREAM_FAILED, at=now(), error=error
        )
        for n in blocked:
            self._set(n, TaskState.UPSTREAM_FAILED, 0, error)
            self.unfinished -= 1

    def _queue_due_retries(self) -> None:
        moment = self.clock()
        while self.retry_heap and self.retry_heap[0][0] <= moment:
            _, node_id = heapq.heappop(self.retry_heap)
            self.ready.append(node_id)

    def _set(self, node_id: str, status: TaskState, attempt: int, error: str | None = None) -> None:
        current = self.status[node_id]
        if current is not status:
            check_task_transition(current, status)
        self.status[node_id] = status
        self.hooks.task_changed(
            run_id=self.run_id, node=node_id, status=status, attempt=attempt, error=error
        )

    # -- ending --------------------------------------------------------------------------

    def _finish(self) -> RunState:
        state = run_state_for(list(self.status.values()))
        failed = [n for n, s in self.status.items() if s is TaskState.FAILED]
        error = f"failed nodes: {', '.join(failed)}" if failed else None
        result = result_spec(self.graph.output) if state is RunState.SUCCEEDED else None
        with self.store.transaction() as tx:
            self.slots.release_all(tx)
            self.store.finish_run(
                tx, self.run_id, status=state, ended_at=now(), result=result, error=error
            )
        self.hooks.run_finished(run_id=self.run_id, status=state, error=error)
        return state

    def _cancel(self, reason: str = "cancelled by the user") -> None:
        """Ctrl-C or a cancel request: stop running attempts and record the run and its
        open nodes cancelled, with ``reason`` as their error."""
        self.executor.shutdown(cancel_pending=True)
        at = now()
        ends = [
            AttemptEnd(
                flight.node,
                flight.attempt,
                AttemptState.CANCELLED,
                at,
                TaskState.CANCELLED,
                error=reason,
                start=self.unrecorded.pop(flight.node, None),
            )
            for flight in self.in_flight.values()
        ]
        with self.store.transaction() as tx:
            self.store.record_attempts(tx, self.run_id, ends=ends)
            self.slots.release_all(tx)
            attempted = {flight.node for flight in self.in_flight.values()}
            # Also fan-out parents: running, but with no attempt of their own.
            open_nodes = [
                n for n, s in self.status.items() if not s.is_finished and n not in attempted
            ]
            self.store.set_task_status(tx, self.run_id, open_nodes, TaskState.CANCELLED, at=at)
            self.store.finish_run(
                tx,
                self.run_id,
                status=RunState.CANCELLED,
                ended_at=at,
                error=reason,
            )
        self.hooks.run_finished(run_id=self.run_id, status=RunState.CANCELLED, error=reason)

    def _crash(self, exc: BaseException) -> None:
        """A bug in dagwell itself: record the run failed rather than leave it running."""
        self.executor.shutdown(cancel_pending=True)
        error = f"dagwell internal error: {type(exc).__name__}: {exc}"
        with self.store.transaction() as tx:
            self.slots.release_all(tx)
            self.store.finish_run(
                tx, self.run_id, status=RunState.FAILED, ended_at=now(), error=error
            )
        self.hooks.run_finished(run_id=self.run_id, status=RunState.FAILED, error=error)


def _outcome_of(future: cf.Future[AttemptOutcome]) -> AttemptOutcome:
    """The attempt's outcome; an executor-level failure (timeout, dead worker) becomes one."""
    try:
        return future.result()
    except BaseException as exc:  # timeouts, dead workers, unpicklable inputs
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        moment = now()
        return AttemptOutcome(
            ok=False,
            started_at=None,  # unknown: the recorded start stands
            ended_at=moment,
            error=f"{type(exc).__name__}: {exc}",
            traceback=text,
        )


def gather(parts: list[Mapping[str, StoredValue]]) -> StoredValue:
    """The stored value of a dynamic fan-out: the list of its children's outputs."""
    items = [p["return"].to_json() for p in parts]
    digest = blake3.blake3(json.dumps([i["hash"] for i in items]).encode()).hexdigest()
    return StoredValue(
        hash=digest,
        serializer=GATHER,
        size=sum(i["size"] for i in items),
        type_name="list",
        is_inline=True,
        inline=items,
        length=len(items),
    )


def result_spec(output: Any) -> Any:
    """The JSON form of a pipeline's return value, refs written as ``{REF_MARKER: [...]}``."""
    marked = replace_refs(output, lambda ref: {REF_MARKER: [ref.node, ref.output]})
    try:
        return json.loads(json.dumps(marked, default=repr))
    except (TypeError, ValueError):
        return repr(output)

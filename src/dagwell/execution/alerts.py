"""Alerts of a run: the hooks that turn failures, retries, successes and missed SLAs into alerts.

:class:`AlertHooks` follows one run's events in the runner's process, raises an alert when
a task or the pipeline asked for one (an ``on_*`` hook, or an ``sla``), watches SLAs from
one thread and hands alerts to their notifiers from another, so the run loop never waits
on the network. :func:`list_alerts` reads back what was recorded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from dagwell.core.alerts import HOOK_OPTIONS, Alert, AlertHook, AlertKind
from dagwell.core.states import RunState, TaskState
from dagwell.errors import DefinitionError
from dagwell.execution.attempt import now
from dagwell.execution.hooks import Hooks
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store

if TYPE_CHECKING:
    from dagwell.core.graph import Graph
    from dagwell.core.pipeline import Pipeline
    from dagwell.core.task import Task
    from dagwell.storage.metadata.alerts import AlertRecord, Delivery
    from dagwell.storage.metadata.store import MetadataStore

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.5)
"""Seconds to wait before the second and third try of a notifier that failed."""

DRAIN_SECONDS = 30.0
"""How long the end of a run waits for alerts still being delivered."""


def alert_hooks(
    pipeline: Pipeline,
    graph: Graph,
    store: MetadataStore,
    *,
    scheduled_for: datetime | None = None,
) -> AlertHooks | None:
    """The hooks that raise ``pipeline``'s alerts, or None when it and its tasks ask for none.

    >>> hooks = alert_hooks(churn, churn.build({}), store)
    """
    owners: list[Pipeline | Task] = [pipeline, *(node.task for node in graph.nodes.values())]
    if not any(_asks_for_alerts(owner) for owner in owners):
        return None
    return AlertHooks(pipeline, graph, store, scheduled_for=scheduled_for)


def _asks_for_alerts(owner: Pipeline | Task) -> bool:
    return owner.sla is not None or any(getattr(owner, option) for option in HOOK_OPTIONS)


@dataclass
class _Watch:
    """An SLA being watched: of a node, or of the run when ``node`` is None."""

    node: str | None
    started: float
    limit: float

    @property
    def deadline(self) -> float:
        return self.started + self.limit


class AlertHooks(Hooks):
    """Raises the alerts of one run and delivers them in the background.

    Task hooks fire for their own nodes (fan-out children included, not the fan-out's
    parent); the pipeline's ``on_retry`` and ``on_sla_miss`` also fire for every task's
    retry and missed SLA, its ``on_failure`` and ``on_success`` once when the run ends. A
    task's SLA runs from its first start to its end, retries included; the pipeline's from
    ``scheduled_for`` when given, else from the run's start. Each node and the run miss an
    SLA at most once, and a miss never stops anything. ``run_finished`` waits up to
    ``drain_timeout`` seconds for deliveries, so alerts are recorded when ``dw.run`` returns.

    >>> hooks = AlertHooks(churn, graph, store, clock=fake_clock, retry_delays=(0, 0))
    """

    def __init__(
        self,
        pipeline: Pipeline,
        graph: Graph,
        store: MetadataStore,
        *,
        scheduled_for: datetime | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        drain_timeout: float = DRAIN_SECONDS,
    ) -> None:
        self.pipeline = pipeline
        self.pipeline_name = graph.pipeline
        self.scheduled_for = scheduled_for
        self.clock = clock
        self.drain_timeout = drain_timeout
        self.tasks: dict[str, Task] = {n: node.task for n, node in graph.nodes.items()}
        self.map_parents = {n for n, node in graph.nodes.items() if node.map_spec is not None}
        self.run_id = ""
        self.started = 0.0
        self.failed: dict[str, str | None] = {}
        self.watches: dict[str | None, _Watch] = {}
        self.watched: set[str | None] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = False
        self.watcher = threading.Thread(target=self._watch, name="dagwell-sla", daemon=True)
        self.outbox = _Outbox(store, tuple(retry_delays))

    # -- run events ----------------------------------------------------------------------

    def run_started(self, *, run_id: str, pipeline: str, nodes: Sequence[str]) -> None:
        self.run_id = run_id
        self.started = self.clock()
        if self.pipeline.sla is not None:
            began = self.started
            if self.scheduled_for is not None:
                began -= (now() - self.scheduled_for).total_seconds()
            self._watch_sla(None, began, self.pipeline.sla)
        self.outbox.start()
        if self.pipeline.sla is not None or any(t.sla for t in self.tasks.values()):
            self.watcher.start()

    def nodes_added(self, *, run_id: str, nodes: Sequence[str]) -> None:
        for child in nodes:  # fan-out children, named "parent[i]", call the parent's task
            parent = child.rpartition("[")[0]
            if parent in self.tasks:
                self.tasks[child] = self.tasks[parent]

    def task_changed(
        self,
        *,
        run_id: str,
        node: str,
        status: TaskState,
        attempt: int,
        error: str | None = None,
    ) -> None:
        task = self.tasks.get(node)
        if task is None:
            return
        if status is TaskState.FAILED:
            self.failed[node] = error
        if node in self.map_parents:  # its children raise the alerts
            return
        if status is TaskState.RUNNING:
            if task.sla is not None:
                self._watch_sla(node, self.clock(), task.sla)
            return
        if status.is_finished:
            self._end_sla(node)
        where = f"pipeline {self.pipeline_name!r}: task {node!r}"
        on_attempt = f" on attempt {attempt}" if attempt else ""
        if status is TaskState.RETRYING:
            self._raise(
                AlertKind.RETRY,
                f"{where} failed{on_attempt} and will be retried: {_short(error)}",
                [*task.on_retry, *self.pipeline.on_retry],
                node=node,
                attempt=attempt,
                error=error,
            )
        elif status is TaskState.FAILED:
            self._raise(
                AlertKind.FAILURE,
                f"{where} failed{on_attempt}: {_short(error)}",
                task.on_failure,
                node=node,
                attempt=attempt,
                error=error,
            )
        elif status is TaskState.SUCCEEDED:
            self._raise(
                AlertKind.SUCCESS,
                f"{where} succeeded{on_attempt}",
                task.on_success,
                node=node,
                attempt=attempt,
            )

    def run_finished(self, *, run_id: str, status: RunState, error: str | None = None) -> None:
        with self.lock:
            self.stopping = True
            open_slas = list(self.watches)
        self.wake.set()
        if self.watcher.is_alive():
            self.watcher.join()
        for key in open_slas:  # nodes left running by a cancel end with the run
            self._end_sla(key)
        took = _duration(self.clock() - self.started)
        if status is RunState.SUCCEEDED:
            self._raise(
                AlertKind.SUCCESS,
                f"pipeline {self.pipeline_name!r} succeeded in {took}",
                self.pipeline.on_success,
            )
        elif status is RunState.FAILED:
            self._raise(
                AlertKind.FAILURE,
                f"pipeline {self.pipeline_name!r} failed after {took}: {self._why_failed(error)}",
                self.pipeline.on_failure,
                error="\n".join(f"{n}: {e}" for n, e in self.failed.items()) or error,
            )
        self.outbox.close(self.drain_timeout)

    def abandon(self) -> None:
        """This process stops following the run (another took it over): stop watching
        SLAs, deliver the alerts already raised, and raise no more. Its new runner raises
        the run's end."""
        with self.lock:
            self.stopping = True
            self.watches.clear()
        self.wake.set()
        if self.watcher.is_alive():
            self.watcher.join()
        self.outbox.close(self.drain_timeout)

    def _why_failed(self, error: str | None) -> str:
        if len(self.failed) == 1:
            [(node, cause)] = self.failed.items()
            return f"task {node!r} failed: {_short(cause)}"
        if self.failed:
            return f"{len(self.failed)} tasks failed: {', '.join(self.failed)}"
        return _short(error)

    # -- SLAs ----------------------------------------------------------------------------

    def raise_sla_misses(self) -> int:
        """Raise an ``sla_miss`` for every SLA past its deadline now; return how many.

        The watcher thread calls this; a test with a fake clock may call it directly.
        """
        moment = self.clock()
        with self.lock:
            if self.stopping:  # the run ended: run_finished settles what is left
                return 0
            due = [w for w in self.watches.values() if w.deadline <= moment]
            for watch in due:
                del self.watches[watch.node]
        for watch in due:
            self._raise_miss(watch, moment, still_running=True)
        return len(due)

    def _watch_sla(self, key: str | None, started: float, limit: float) -> None:
        with self.lock:
            if key in self.watched or self.stopping:
                return  # a retry: the SLA runs from the first start
            self.watched.add(key)
            self.watches[key] = _Watch(key, started, limit)
        self.wake.set()

    def _end_sla(self, key: str | None) -> None:
        """The node (or run) ``key`` ended: raise its miss if it ended past its deadline."""
        moment = self.clock()
        with self.lock:
            watch = self.watches.pop(key, None)
        if watch is not None and watch.deadline < moment:
            self._raise_miss(watch, moment, still_running=False)

    def _raise_miss(self, watch: _Watch, moment: float, *, still_running: bool) -> None:
        limit, took = _duration(watch.limit), _duration(moment - watch.started)
        if watch.node is None:
            since = "it was scheduled" if self.scheduled_for is not None else "it started"
            state = "still running" if still_running else "finished"
            name = self.pipeline_name
            self._raise(
                AlertKind.SLA_MISS,
                f"pipeline {name!r} missed its {limit} SLA: {state} {took} after {since}",
                self.pipeline.on_sla_miss,
                always=True,
            )
            return
        task = self.tasks[watch.node]
        state = f"still running after {took}" if still_running else f"took {took}"
        self._raise(
            AlertKind.SLA_MISS,
            f"pipeline {self.pipeline_name!r}: task {watch.node!r} missed its {limit} SLA: {state}",
            [*task.on_sla_miss, *self.pipeline.on_sla_miss],
            node=watch.node,
            always=True,
        )

    def _watch(self) -> None:
        """The watcher thread: sleep until the next SLA deadline (or a change), raise misses."""
        while True:
            self.wake.clear()
            self.raise_sla_misses()
            with self.lock:
                if self.stopping:
                    return
                deadlines = [w.deadline for w in self.watches.values()]
            # Woken early by a new SLA to watch, or by the end of the run.
            timeout = max(min(deadlines) - self.clock(), 0.0) if deadlines else None
            self.wake.wait(timeout)

    # -- raising -------------------------------------------------------------------------

    def _raise(
        self,
        kind: AlertKind,
        summary: str,
        hooks: Sequence[AlertHook],
        *,
        node: str | None = None,
        attempt: int | None = None,
        error: str | None = None,
        always: bool = False,
    ) -> None:
        """Queue an alert for ``hooks``; with none, record it only if ``always`` (a miss)."""
        unique: list[AlertHook] = []
        for hook in hooks:  # the same notifier on a task and its pipeline sends once
            if hook not in unique:
                unique.append(hook)
        if not unique and not always:
            return
        alert = Alert(
            id=uuid.uuid4().hex[:10],
            kind=kind,
            pipeline=self.pipeline_name,
            run_id=self.run_id,
            node=node,
            attempt=attempt,
            summary=summary,
            created_at=now(),
            error=error,
            scheduled_for=self.scheduled_for,
        )
        self.outbox.put(alert, unique)


class _Outbox:
    """Delivers alerts. Each is recorded first (its deliveries pending); then each notifier
    gets it in a lane of its own: one notifier's alerts arrive in order, and a receiver
    that hangs holds up only its own lane. Results are recorded as they come."""

    def __init__(self, store: MetadataStore, delays: tuple[float, ...]) -> None:
        self.store = store
        self.delays = delays
        self.queue: queue.Queue[tuple[Alert, list[AlertHook]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._record, name="dagwell-alerts", daemon=True)
        self.lanes: dict[str, _Lane] = {}
        self.results: dict[str, list[Delivery]] = {}
        self.lock = threading.Lock()

    def start(self) -> None:
        self.thread.start()

    def put(self, alert: Alert, hooks: list[AlertHook]) -> None:
        # Never written here: hooks are called inside the runner's write transaction.
        self.queue.put((alert, hooks))

    def close(self, timeout: float) -> None:
        """Deliver what is queued (waiting up to ``timeout`` seconds), then stop."""
        if not self.thread.is_alive():
            return
        deadline = time.monotonic() + timeout
        self.queue.put(None)
        self.thread.join(timeout)
        for lane in self.lanes.values():
            lane.queue.put(None)
        for lane in self.lanes.values():
            lane.thread.join(max(deadline - time.monotonic(), 0.0))
        late = [name for name, lane in self.lanes.items() if lane.thread.is_alive()]
        if late or self.thread.is_alive():
            log.warning(
                "alerts of this run are still being delivered after %.0fs (to %s); they stay "
                "recorded as pending",
                timeout,
                ", ".join(late) or "the database",
            )

    def _record(self) -> None:
        from dagwell.storage.metadata.alerts import Delivery

        while (item := self.queue.get()) is not None:
            alert, hooks = item
            names = [notifier_name(h) for h in hooks]
            pending = [Delivery(name, ok=False, tries=0, error="pending") for name in names]
            with self.lock:
                self.results[alert.id] = list(pending)
            self._write(alert, partial(_record_pending, alert=alert, pending=pending))
            for index, (name, hook) in enumerate(zip(names, hooks, strict=True)):
                self._lane(name).queue.put((alert, index, hook))

    def _lane(self, name: str) -> _Lane:
        lane = self.lanes.get(name)
        if lane is None:
            lane = self.lanes[name] = _Lane(self._deliver)
        return lane

    def _deliver(self, alert: Alert, index: int, hook: AlertHook) -> None:
        from dagwell.storage.metadata.alerts import set_deliveries

        delivery = deliver(alert, hook, self.delays)
        with self.lock:  # held while writing, so an older picture never overwrites a newer
            self.results[alert.id][index] = delivery
            now_known = list(self.results[alert.id])
            self._write(alert, lambda tx: set_deliveries(tx, alert.id, now_known))

    def _write(self, alert: Alert, write: Callable[[Any], None]) -> None:
        try:
            with self.store.transaction() as tx:
                write(tx)
        except Exception as exc:  # a lost record must not lose the other alerts
            log.warning("could not record alert %s (%s): %s", alert.id, alert.summary, exc)


def _record_pending(tx: Any, *, alert: Alert, pending: list[Delivery]) -> None:
    from dagwell.storage.metadata.alerts import record_alert

    record_alert(tx, alert, pending)


class _Lane:
    """One notifier's queue of alerts and the thread that hands them over, in order."""

    def __init__(self, deliver_one: Callable[[Alert, int, AlertHook], None]) -> None:
        self.queue: queue.Queue[tuple[Alert, int, AlertHook] | None] = queue.Queue()
        self.deliver_one = deliver_one
        self.thread = threading.Thread(target=self._work, name="dagwell-alerts", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            self.deliver_one(*item)


def deliver(
    alert: Alert,
    hook: AlertHook,
    delays: Sequence[float] = RETRY_DELAYS,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Call ``hook`` with ``alert``, retrying after each of ``delays``; never raises.

    >>> deliver(alert, dw.notify.webhook("http://127.0.0.1:9/"), delays=(0, 0)).tries
    3
    """
    from dagwell.storage.metadata.alerts import Delivery

    name = notifier_name(hook)
    tries, error = 0, ""
    for delay in (*delays, None):
        tries += 1
        try:
            hook(alert)
            return Delivery(name, ok=True, tries=tries)
        except Exception as exc:  # a notifier's failure is reported, never raised
            error = f"{type(exc).__name__}: {exc}"
        if delay is not None:
            sleep(delay)
    log.warning(
        "alert %s (%s) was not delivered by %s after %d tries: %s",
        alert.id,
        alert.summary,
        name,
        tries,
        error,
    )
    return Delivery(name, ok=False, tries=tries, error=error)


def notifier_name(hook: AlertHook) -> str:
    """A readable name for ``hook``: a notifier's ``name``, else the function's path."""
    name = getattr(hook, "name", None)
    if isinstance(name, str) and name:
        return name
    qualname = getattr(hook, "__qualname__", None)
    if isinstance(qualname, str):
        module = getattr(hook, "__module__", None)
        return f"{module}.{qualname}" if module else qualname
    return type(hook).__name__


def list_alerts(
    *,
    run_id: str | None = None,
    pipeline: str | None = None,
    kind: str | AlertKind | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
    settings: Settings | None = None,
) -> list[AlertRecord]:
    """Recorded alerts, newest first, by run (id or id prefix), pipeline, kind and time.

    ``kind`` is ``failure``, ``retry``, ``success`` or ``sla_miss``; a naive ``since`` is
    local time. Each record lists its deliveries: notifier, ok, tries and last error.

    >>> for alert in dw.list_alerts(kind="failure", limit=5):
    ...     print(alert.created_at, alert.summary, alert.delivered)
    """
    from dagwell.storage.metadata import alerts as queries

    settings = settings or Settings.from_env()
    wanted = None
    if kind is not None:
        try:
            wanted = AlertKind(str(kind).lower())
        except ValueError:
            valid = ", ".join(k.value for k in AlertKind)
            raise DefinitionError(f"unknown alert kind {kind!r}; use one of: {valid}") from None
    if limit is not None and limit < 1:
        raise DefinitionError(f"limit must be at least 1, got {limit}")
    if since is not None and since.tzinfo is None:
        since = since.astimezone()
    with metadata_store(settings.db_url).reading() as conn:
        return queries.list_alerts(
            conn, run_id=run_id, pipeline=pipeline, kind=wanted, since=since, limit=limit
        )


def _short(error: str | None, width: int = 200) -> str:
    """The first line of an error, cut to ``width`` characters."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    line = lines[0] if lines else "no error message"
    return line if len(line) <= width else line[: width - 1] + "…"


def _duration(seconds: float) -> str:
    """``0.8s``, ``12s``, ``1m``, ``3m 05s``, ``2h 10m``: short enough for a chat line."""
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"

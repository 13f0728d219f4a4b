"""What a run left behind: Run, TaskRun and Attempt, as read back from the metadata store.

These are frozen values. Loading an output needs the artifact store, so a :class:`Run` is
given a ``loader`` callable by whoever read it; the core itself does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from dagwell.core.models import LoggedModel
from dagwell.core.moments import iso, seconds_between
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import DEFAULT_OUTPUT, REF_MARKER, StoredValue
from dagwell.errors import NotFoundError


@dataclass(frozen=True)
class Attempt:
    """One try of a node. ``error`` is a one-line summary; ``traceback`` the full text."""

    number: int
    status: AttemptState
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None = None
    traceback: str | None = None
    log_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the shape ``dagwell show --json`` prints)."""
        return {
            "number": self.number,
            "status": self.status.value,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "error": self.error,
            "traceback": self.traceback,
            "log_path": self.log_path,
        }


@dataclass(frozen=True)
class Metric:
    """One metric point a task logged: ``value`` of ``name`` at ``step`` (None: no step)."""

    node: str
    name: str
    value: float
    step: int | None
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "node": self.node,
            "name": self.name,
            "value": self.value,
            "step": self.step,
            "time": iso(self.time),
        }


@dataclass(frozen=True)
class TaskRun:
    """One node inside a run, with its attempts and stored outputs."""

    node: str
    task: str
    status: TaskState
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: tuple[Attempt, ...] = ()
    outputs: Mapping[str, StoredValue] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()
    error: str | None = None
    map_parent: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while unknown."""
        return seconds_between(self.started_at, self.ended_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (one entry of ``tasks`` in ``dagwell show --json``)."""
        return {
            "node": self.node,
            "task": self.task,
            "status": self.status.value,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration": self.duration,
            "upstream": list(self.upstream),
            "map_parent": self.map_parent,
            "error": self.error,
            "attempts": [a.to_dict() for a in self.attempts],
            "outputs": {name: value.to_json() for name, value in self.outputs.items()},
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class AttemptStart:
    """An attempt that began: what :meth:`MetadataStore.record_attempts` writes as running."""

    node: str
    number: int
    started_at: datetime
    log_path: str | None = None


@dataclass(frozen=True)
class AttemptEnd:
    """An attempt that ended, with its node's new state and outputs.

    ``start`` is set when the attempt's start was never recorded (it ended before the
    runner's next commit): the attempt row is then written once, already finished.
    ``started_at`` is when the worker really began, if known (the recorded start may be
    when the attempt was queued). ``models`` are the models it logged with
    ``dw.log_model``; they become versions only if the attempt succeeded.
    """

    node: str
    number: int
    status: AttemptState
    ended_at: datetime
    task_status: TaskState
    error: str | None = None
    traceback: str | None = None
    outputs: Mapping[str, StoredValue] | None = None
    start: AttemptStart | None = None
    started_at: datetime | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    models: tuple[LoggedModel, ...] = ()


@dataclass(frozen=True)
class CodeSnapshot:
    """The code a run started from: project source files and, inside git, the repo's state.

    ``files`` maps each path (relative to the project root, with ``/``) to its text;
    ``entry`` is the path of the file defining the pipeline. ``git`` is None outside a git
    repository, else a dict with ``commit`` (None before the first commit), ``dirty``
    (tracked files differ from the commit), ``diff`` (``git diff HEAD``) and
    ``diff_truncated``. ``hash`` is the snapshot's artifact hash; ``root`` the absolute
    project folder the paths are relative to.

    >>> code = dw.get_run("3f2a").code
    >>> print(code.files[code.entry]); code.git["commit"] if code.git else None
    """

    files: Mapping[str, str]
    git: Mapping[str, Any] | None = None
    entry: str | None = None
    hash: str | None = None
    root: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, hash: str | None = None) -> CodeSnapshot:
        """The snapshot stored as ``data`` (the shape :meth:`to_dict` returns)."""
        return cls(
            files=dict(data.get("files") or {}),
            git=data.get("git"),
            entry=data.get("entry"),
            hash=hash,
            root=data.get("root"),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, with files sorted by path: equal snapshots give equal dicts."""
        return {
            "entry": self.entry,
            "root": self.root,
            "files": {path: self.files[path] for path in sorted(self.files)},
            "git": dict(self.git) if self.git is not None else None,
        }

    @property
    def entry_path(self) -> str | None:
        """The absolute path of the pipeline's file when the run started, if known."""
        if self.root is None or self.entry is None:
            return None
        return f"{self.root.rstrip('/')}/{self.entry}"


Loader = Callable[[StoredValue], Any]


@dataclass(frozen=True)
class Run:
    """One execution of a pipeline, as recorded.

    ``cancel_requested_by`` and ``cancel_requested_at`` say who asked to cancel the run
    with ``dw.cancel`` (or ``dagwell cancel``, the web UI) and when; None if nobody did.

    >>> run = dw.run(churn, params={"C": 0.5})
    >>> run.status == "succeeded", run.tasks["fit-1"].attempts[-1].log_path
    >>> run.output("split", "train")
    """

    id: str
    pipeline: str
    status: RunState
    params: Mapping[str, Any]
    started_at: datetime | None
    ended_at: datetime | None
    tasks: Mapping[str, TaskRun]
    error: str | None = None
    result_spec: Any = None
    loader: Loader | None = field(default=None, compare=False, repr=False)
    metric_points: tuple[Metric, ...] = ()
    code_hash: str | None = None
    environment: Mapping[str, Any] | None = None
    runner: str | None = None
    parent_run_id: str | None = None
    trigger: str = "manual"
    heartbeat_at: datetime | None = None
    scheduled_for: datetime | None = None
    source: str | None = None
    cancel_requested_at: datetime | None = None
    cancel_requested_by: str | None = None

    @cached_property
    def code(self) -> CodeSnapshot | None:
        """The run's :class:`CodeSnapshot`, loaded from the artifact store on first access.

        None for a run recorded without one.

        >>> sorted(run.code.files), run.code.git
        """
        if self.code_hash is None:
            return None
        stored = StoredValue(hash=self.code_hash, serializer="json", size=0, type_name="dict")
        return CodeSnapshot.from_dict(self._load(stored), hash=self.code_hash)

    def metrics(self, name: str | None = None) -> list[Metric]:
        """Every metric point the run's tasks logged (only ``name``'s, if given), in order.

        >>> [(m.step, m.value) for m in run.metrics("loss")]
        """
        return [m for m in self.metric_points if name is None or m.name == name]

    def metric(self, name: str) -> float:
        """The last value logged for metric ``name``.

        >>> run.metric("accuracy")
        0.93
        """
        points = self.metrics(name)
        if not points:
            known = ", ".join(sorted({m.name for m in self.metric_points})) or "none"
            raise NotFoundError(f"run {self.id} logged no metric {name!r}; it logged: {known}")
        return points[-1].value

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while running."""
        return seconds_between(self.started_at, self.ended_at)

    def to_dict(self, *, with_tasks: bool = True) -> dict[str, Any]:
        """A JSON-able dict: the shape of ``dagwell show --json`` and the web API."""
        data: dict[str, Any] = {
            "id": self.id,
            "pipeline": self.pipeline,
            "status": self.status.value,
            "params": dict(self.params),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration": self.duration,
            "error": self.error,
            "code_hash": self.code_hash,
            "trigger": self.trigger,
            "scheduled_for": iso(self.scheduled_for),
            "parent_run_id": self.parent_run_id,
            "cancel_requested_by": self.cancel_requested_by,
            "cancel_requested_at": iso(self.cancel_requested_at),
        }
        if with_tasks:
            env = self.environment
            data["environment"] = dict(env) if env is not None else None
            data["tasks"] = [task.to_dict() for task in self.tasks.values()]
            data["metrics"] = [m.to_dict() for m in self.metric_points]
        return data

    def output(self, node: str, name: str | None = None) -> Any:
        """Load output ``name`` of ``node`` from the artifact store.

        ``name`` may be left out when the node has one output.
        """
        value = self._stored_output(node, name)
        return self._load(value)

    def result(self) -> Any:
        """The pipeline's return value, with every ref replaced by its loaded value."""
        return self._resolve(self.result_spec)

    def result_is_inline(self) -> bool:
        """Whether :meth:`result` can be read from the database alone, loading no artifact.

        True when every output the result refers to is held inline (small plain JSON), so a
        caller can show a small result without loading a large one just to find out.
        False when an output it refers to was not recorded.

        >>> if run.result_is_inline():
        ...     print(run.result())
        """
        for node, name in _refs_in(self.result_spec):
            try:
                stored = self._stored_output(node, name)
            except NotFoundError:
                return False
            if not stored.is_fully_inline:
                return False
        return True

    def _stored_output(self, node: str, name: str | None) -> StoredValue:
        task = self.tasks.get(node)
        if task is None:
            raise NotFoundError(
                f"run {self.id} has no node {node!r}; its nodes are: {', '.join(self.tasks)}"
            )
        if not task.outputs:
            raise NotFoundError(
                f"node {node!r} of run {self.id} has no stored outputs (status {task.status})"
            )
        if name is None:
            if len(task.outputs) == 1:
                return next(iter(task.outputs.values()))
            if DEFAULT_OUTPUT in task.outputs:
                return task.outputs[DEFAULT_OUTPUT]
            raise NotFoundError(
                f"node {node!r} has several outputs ({', '.join(task.outputs)}); "
                f"name one: run.output({node!r}, {next(iter(task.outputs))!r})"
            )
        if name not in task.outputs:
            raise NotFoundError(
                f"node {node!r} has no output {name!r}; its outputs are: {', '.join(task.outputs)}"
            )
        return task.outputs[name]

    def _load(self, value: StoredValue) -> Any:
        if self.loader is not None:
            return self.loader(value)
        if value.is_inline:
            return value.inline
        raise NotFoundError("this Run was read without an artifact store to load from")

    def _resolve(self, spec: Any) -> Any:
        if isinstance(spec, dict):
            if REF_MARKER in spec:
                node, name = spec[REF_MARKER]
                return self.output(node, name)
            return {k: self._resolve(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [self._resolve(v) for v in spec]
        return spec


def _refs_in(spec: Any) -> list[tuple[str, str | None]]:
    """The ``(node, output)`` pairs of the refs inside a result spec, in order."""
    if isinstance(spec, dict):
        if REF_MARKER in spec:
            node, name = spec[REF_MARKER]
            return [(node, name)]
        return [ref for value in spec.values() for ref in _refs_in(value)]
    if isinstance(spec, list):
        return [ref for value in spec for ref in _refs_in(value)]
    return []

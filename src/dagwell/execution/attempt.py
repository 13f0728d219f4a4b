"""One attempt of one node, as it runs inside a worker: load inputs, call, store outputs.

:func:`execute_attempt` is what executors run. It never raises for a task failure: it
returns an :class:`AttemptOutcome` that the runner (the one writer) records.

An attempt's log is captured into a local file (under ``Settings.logs_dir``). When the
artifact store is not on local disk (S3), the worker then copies the log into the store at
:func:`log_name`, so that any machine can read it: :func:`read_log` looks in both places.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dagwell.core.context import TaskContext, task_context
from dagwell.core.datasets import Dataset
from dagwell.core.models import LoggedModel
from dagwell.core.records import Metric
from dagwell.core.values import DEFAULT_OUTPUT, GATHER, ItemOf, StoredValue
from dagwell.errors import NotFoundError, SerializationError, StorageError, TaskError
from dagwell.execution.capture import captured_output, live_log_target
from dagwell.storage.shared import artifact_store as artifact_store  # one per URL
from dagwell.storage.shared import worker_artifact_store
from dagwell.tracking.datasets import resolve_uri

if TYPE_CHECKING:
    from pathlib import Path

    from dagwell.core.records import Attempt
    from dagwell.core.task import Task
    from dagwell.settings import Settings
    from dagwell.storage.artifacts import ArtifactStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptSpec:
    """Everything a worker needs to run one attempt; args hold stored-value descriptors."""

    run_id: str
    pipeline: str
    node: str
    attempt: int
    task: Task
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    artifacts_url: str
    log_path: str | None
    params: Mapping[str, Any] = field(default_factory=dict)
    fd_capture: bool = True
    scheduled_for: datetime | None = None
    s3_endpoint: str | None = None
    """The run's ``Settings.s3_endpoint``; None: the worker's own ``DAGWELL_S3_ENDPOINT``."""


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt reports back: stored outputs, or an error summary and traceback.

    Params and metrics come back also from a failed attempt; ``models`` (stored by the
    worker, registered by the runner) only from one that succeeded.
    """

    ok: bool
    started_at: datetime | None
    ended_at: datetime
    outputs: Mapping[str, StoredValue] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    models: tuple[LoggedModel, ...] = ()


def now() -> datetime:
    """The current UTC time, timezone-aware."""
    return datetime.now(timezone.utc)


def execute_attempt(spec: AttemptSpec) -> AttemptOutcome:
    """Run one attempt and describe how it went; task errors are caught and reported.

    When the artifact store is not on this machine's disk, the attempt's log is copied
    into it before the outcome is returned (see :func:`log_name`).
    """
    store = worker_artifact_store(spec.artifacts_url, spec.s3_endpoint)
    outcome = _execute(spec, store)
    _keep_log(store, spec)
    return outcome


def _execute(spec: AttemptSpec, store: ArtifactStore) -> AttemptOutcome:
    started = now()
    context = TaskContext(
        run_id=spec.run_id,
        pipeline=spec.pipeline,
        node=spec.node,
        attempt=spec.attempt,
        params=spec.params,
        scheduled_for=spec.scheduled_for,
        artifacts_url=spec.artifacts_url,
        s3_endpoint=spec.s3_endpoint,
    )
    with captured_output(spec.log_path, fd_level=spec.fd_capture), task_context(context):
        in_task = False
        try:
            args = resolve(store, spec.args)
            kwargs = resolve(store, dict(spec.kwargs))
            in_task = True
            value = spec.task.fn(*args, **kwargs)
            in_task = False
            outputs = _store_outputs(store, spec, value)
        except BaseException as exc:  # the attempt fails; the runner decides on retries
            if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not spec.fd_capture:
                raise
            frames = exc.__traceback__
            if in_task and frames is not None and frames.tb_next is not None:
                frames = frames.tb_next  # the task's own traceback, without this frame
            text = "".join(traceback.format_exception(type(exc), exc, frames))
            print(text, end="", file=sys.stderr)
            return AttemptOutcome(
                ok=False,
                started_at=started,
                ended_at=now(),
                error=f"{type(exc).__name__}: {exc}",
                traceback=text,
                params=context.log.params,
                metrics=tuple(context.log.metrics),
            )
    return AttemptOutcome(
        ok=True,
        started_at=started,
        ended_at=now(),
        outputs=outputs,
        params=context.log.params,
        metrics=tuple(context.log.metrics),
        models=tuple(context.log.models),
    )


def log_name(run_id: str, node: str, attempt: int) -> str:
    """Where an attempt's log is kept in a store that is not local, relative to its root.

    >>> log_name("3f2a", "train", 2)
    'logs/3f2a/train.2.log'
    """
    return f"logs/{run_id}/{node}.{attempt}.log"


def _keep_log(store: ArtifactStore, spec: AttemptSpec) -> None:
    """Copy the attempt's local log into a store that is not on local disk."""
    if spec.log_path is None or store.is_local:
        return
    try:
        with open(spec.log_path, "rb") as fileobj:
            data = fileobj.read()
    except OSError:
        return  # the attempt printed nothing (no log), or its log could not be written here
    try:
        store.put_file(log_name(spec.run_id, spec.node, spec.attempt), data)
    except StorageError as exc:  # the attempt's result stands; its log stays local
        log.warning("the log of %s attempt %d was not copied: %s", spec.node, spec.attempt, exc)


def read_log(
    run_id: str, node: str, attempt: Attempt, settings: Settings, *, guarded: bool = False
) -> str | None:
    """What one attempt of ``node`` printed and logged, or None if nothing was captured.

    Read from the local file the attempt's row records when this machine has it, else
    from the artifact store's copy (kept when the store is S3 or another non-local store).
    ``guarded`` (the web app) reads a local file only inside the logs folder.

    >>> run = dw.get_run("3f2a")
    >>> print(read_log(run.id, "train", run.tasks["train"].attempts[-1], settings))
    """
    data = read_log_bytes(run_id, node, attempt, settings, guarded=guarded)
    return data.decode(errors="replace") if data is not None else None


def read_log_bytes(
    run_id: str,
    node: str,
    attempt: Attempt,
    settings: Settings,
    *,
    offset: int = 0,
    guarded: bool = False,
) -> bytes | None:
    """The bytes of :func:`read_log` from ``offset`` on (a local file is read only from
    there: following a long log reads only what is new)."""
    path = attempt.log_path
    if path is not None and guarded and not _inside(path, settings.logs_dir):
        path = None
    if path is not None:
        # The log once the attempt has ended; while it runs, its worker's scratch file.
        for candidate in (path, live_log_target(path), path):
            try:
                if candidate is not None and os.path.isfile(candidate):
                    with open(candidate, "rb") as fileobj:
                        fileobj.seek(offset)
                        return fileobj.read()
            except OSError:  # the attempt ended while we looked: its log is there now
                continue
    store = artifact_store(settings.artifacts_url, settings)
    if store.is_local:
        return None
    try:
        return store.read_file(log_name(run_id, node, attempt.number))[offset:]
    except NotFoundError:
        return None


def _inside(path: str, folder: Path) -> bool:
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def _store_outputs(store: ArtifactStore, spec: AttemptSpec, value: Any) -> dict[str, StoredValue]:
    names = spec.task.outputs
    if not names:
        return {DEFAULT_OUTPUT: _put(store, spec, DEFAULT_OUTPUT, value)}
    if isinstance(value, Mapping) and set(value) == set(names):
        parts = [value[name] for name in names]
    elif isinstance(value, (tuple, list)) and len(value) == len(names):
        parts = list(value)
    else:
        raise TaskError(
            f"task {spec.task.name!r} declares outputs {names!r} but returned "
            f"{type(value).__name__}; return a tuple of {len(names)} values or a dict "
            "with those keys"
        )
    return {name: _put(store, spec, name, part) for name, part in zip(names, parts, strict=True)}


def _put(store: ArtifactStore, spec: AttemptSpec, name: str, value: Any) -> StoredValue:
    try:
        return store.put(value)
    except SerializationError as exc:
        raise SerializationError(
            f"node {spec.node!r}: output {name!r} of type {type(value).__name__} cannot be "
            f"stored: {exc}"
        ) from exc


_last_item_source: dict[str, Any] = {}


def load_value(store: ArtifactStore, stored: StoredValue) -> Any:
    """Load a stored value, including the list a dynamic fan-out gathered."""
    if stored.serializer == GATHER:
        return [load_value(store, StoredValue.from_json(item)) for item in stored.inline or []]
    return store.get(stored)


def resolve(store: ArtifactStore, value: Any) -> Any:
    """``value`` with every stored-value descriptor inside it replaced by the loaded value."""
    if isinstance(value, StoredValue):
        return load_value(store, value)
    if isinstance(value, ItemOf):
        return _item(store, value)
    if isinstance(value, Dataset):
        return resolve_uri(value.uri)
    if isinstance(value, list):
        return [resolve(store, v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(resolve(store, v) for v in value)
    if isinstance(value, dict):
        return {k: resolve(store, v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return type(value)(resolve(store, v) for v in value)
    return value


def _item(store: ArtifactStore, item: ItemOf) -> Any:
    source = item.value
    if source.serializer == GATHER:
        return load_value(store, StoredValue.from_json((source.inline or [])[item.index]))
    # Children of one fan-out often land on the same worker: keep the last list loaded.
    cached = _last_item_source.get(source.hash)
    if cached is None:
        cached = load_value(store, source)
        _last_item_source.clear()
        _last_item_source[source.hash] = cached
    return cached[item.index]

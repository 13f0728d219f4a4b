"""Starting and reading runs: ``dw.run``, ``dw.get_run``, ``dw.list_runs``.

This is where settings meet the stores: each function takes optional :class:`Settings`
(read from the environment when left out) and opens the stores they point at.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagwell.core.datasets import Dataset, DatasetVersion, find_datasets
from dagwell.core.pipeline import Pipeline
from dagwell.core.records import Run
from dagwell.core.refs import Ref
from dagwell.core.states import RunState, TaskState
from dagwell.errors import DefinitionError, SerializationError
from dagwell.execution.alerts import alert_hooks
from dagwell.execution.attempt import artifact_store, load_value, now
from dagwell.execution.executors import make_executor
from dagwell.execution.hooks import HookList, Hooks
from dagwell.execution.pools import check_pools
from dagwell.execution.runner import Runner, RunTakenOver
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store
from dagwell.tracking.datasets import resolve_uri

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from dagwell.core.graph import Graph
    from dagwell.core.values import StoredValue
    from dagwell.storage.metadata.datasets import DatasetVersionRecord
    from dagwell.storage.metadata.store import MetadataStore


def new_run_id() -> str:
    """A fresh 12-character run id."""
    return uuid.uuid4().hex[:12]


def run(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    executor: str = "process",
    workers: int | None = None,
    settings: Settings | None = None,
    hooks: Hooks | None = None,
    params_from_text: bool = False,
    cache: bool = True,
) -> Run:
    """Run ``pipeline`` with ``params`` to the end, record everything, return the :class:`Run`.

    Bad params or a bad graph raise :class:`~dagwell.errors.DefinitionError` before
    anything is recorded; task failures do not raise, they end in ``run.status == "failed"``.
    ``cache=False`` runs every ``@dw.task(cache=True)`` node even when an identical call
    succeeded before.

    >>> run = dw.run(churn, params={"C": 0.5}, executor="process", workers=2)
    >>> run.status, run.result()
    """
    if not isinstance(pipeline, Pipeline):
        raise DefinitionError(
            f"dw.run() needs a pipeline made with @dw.pipeline, got {type(pipeline).__name__}"
        )
    settings = settings or Settings.from_env()
    bound = pipeline.bind(params, from_text=params_from_text)
    return execute_pipeline(pipeline, bound, executor, workers, settings, hooks, cache=cache)


def execute_pipeline(
    pipeline: Pipeline,
    bound: Mapping[str, Any],
    executor: str,
    workers: int | None,
    settings: Settings,
    hooks: Hooks | None,
    *,
    resumed: Run | None = None,
    cache: bool = True,
    rerun_of: Run | None = None,
    dataset_paths: Callable[[Graph], Graph] | None = None,
    claimed: Run | None = None,
    attempts_used: Mapping[str, int] | None = None,
) -> Run:
    """Build, record and drive one run.

    ``resumed`` is the run whose successes it reuses; ``rerun_of`` the run it repeats, and
    ``dataset_paths`` rewrites the graph's datasets to the versions that run read.
    ``claimed`` is a queued run a scheduler claimed: this run takes its id and logical
    time. ``attempts_used`` counts, per node, attempts lost with a dead runner.
    """
    scheduled_for = claimed.scheduled_for if claimed is not None else None
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise DefinitionError(f"workers must be at least 1, got {workers}")
    graph = pipeline.build(bound)
    if dataset_paths is not None:
        graph = dataset_paths(graph)
    if executor != "inline":
        check_constants(graph)
    datasets = dataset_versions(graph, settings)  # a missing dataset fails before recording
    if not any(node.map_spec for node in graph.nodes.values()):
        workers = max(1, min(workers, len(graph.nodes)))  # idle workers only cost start-up
    lineage = None
    if settings.openlineage:
        from dagwell.execution.openlineage import OpenLineageHooks

        lineage = OpenLineageHooks(
            settings.openlineage,
            datasets={node: [v.uri for n, v in datasets if n == node] for node, _ in datasets},
            artifacts_url=settings.artifacts_url,
        )
        hooks = HookList([hooks, lineage]) if hooks is not None else lineage
    store = metadata_store(settings.db_url)
    check_pools(graph, store)
    alerting = alert_hooks(pipeline, graph, store, scheduled_for=scheduled_for)
    if alerting is not None:
        hooks = HookList([hooks, alerting]) if hooks is not None else alerting
    code = code_and_environment(pipeline, settings)  # in a thread, joined before recording
    pool = make_executor(executor, workers, address=settings.dask_address)
    try:
        run_id = claimed.id if claimed is not None else new_run_id()
        _record_start(
            store, graph, run_id, bound, pool.name, datasets, code(), resumed, rerun_of, claimed
        )
        Runner(
            graph,
            run_id=run_id,
            params=bound,
            store=store,
            executor=pool,
            artifacts_url=settings.artifacts_url,
            s3_endpoint=settings.s3_endpoint,
            logs_dir=str(settings.logs_dir),
            hooks=hooks,
            reuse=reusable_outputs(resumed) if resumed is not None else None,
            use_cache=cache,
            dataset_versions=_versions_by_node(graph, datasets),
            scheduled_for=scheduled_for,
            attempts_used=attempts_used,
        ).execute()
    except RunTakenOver:
        # Else their SLA watcher and senders live on in this process.
        for follower in (alerting, lineage):
            if follower is not None:
                follower.abandon()
        raise
    finally:
        pool.shutdown()
    return get_run(run_id, settings=settings)


def dataset_versions(graph: Graph, settings: Settings) -> list[tuple[str, DatasetVersion]]:
    """Hash every dataset the graph's nodes read (once each); snapshot those that ask."""
    from dagwell.tracking.datasets import snapshot, version_of

    versions: dict[Dataset, DatasetVersion] = {}
    uses = []
    for node in graph.nodes.values():
        for found in find_datasets((node.args, dict(node.kwargs))):
            if found not in versions:
                version = version_of(found)
                if found.snapshot:
                    digest = snapshot(version, artifact_store(settings.artifacts_url, settings))
                    version = replace(version, snapshot_hash=digest)
                versions[found] = version
            uses.append((node.id, versions[found]))
    return uses


def code_and_environment(
    pipeline: Pipeline, settings: Settings
) -> Callable[[], tuple[str, dict[str, Any]]]:
    """Start storing the code snapshot and reading the environment, in a thread.

    Returns a function that waits for them and gives the snapshot's hash and the
    environment. The work (6-15 ms measured in ``dagwell run``, most of it waiting on
    ``git diff`` and on fsync) overlaps with the worker pool's start and the database's
    opening; about 1 ms of it stays on the run's critical path.

    >>> wait = code_and_environment(churn, settings)
    >>> code_hash, environment = wait()
    """
    import threading

    from dagwell.tracking.code import save_code, snapshot_code
    from dagwell.tracking.environment import capture_environment

    done: list[tuple[str, dict[str, Any]]] = []
    failed: list[BaseException] = []

    def capture() -> None:
        try:
            snapshot = snapshot_code(pipeline.fn)
            code_hash = save_code(artifact_store(settings.artifacts_url, settings), snapshot)
            done.append((code_hash, capture_environment()))
        except BaseException as exc:  # raised again in the caller's thread by wait()
            failed.append(exc)

    thread = threading.Thread(target=capture, name="dagwell-code-snapshot", daemon=True)
    thread.start()

    def wait() -> tuple[str, dict[str, Any]]:
        thread.join()
        if failed:
            raise failed[0]
        return done[0]

    return wait


def _record_start(
    store: MetadataStore,
    graph: Graph,
    run_id: str,
    params: Mapping[str, Any],
    executor: str,
    datasets: Sequence[tuple[str, DatasetVersion]] = (),
    code: tuple[str | None, Mapping[str, Any] | None] = (None, None),
    resumed: Run | None = None,
    rerun_of: Run | None = None,
    claimed: Run | None = None,
) -> None:
    from dagwell.storage.metadata.store import NewTaskRun

    parent = resumed or rerun_of
    trigger = "resume" if resumed is not None else "rerun" if rerun_of is not None else "manual"
    runner = f"{socket.gethostname()}:{os.getpid()}"
    rows = [
        NewTaskRun(node=node.id, task=node.task.name, upstream=node.upstream)
        for node in (graph.nodes[n] for n in graph.order())
    ]
    with store.transaction() as tx:
        if claimed is not None:
            _start_claimed(store, tx, claimed, rows, executor, code, runner)
        else:
            store.create_run(
                tx,
                run_id=run_id,
                pipeline=graph.pipeline,
                params=jsonable_params(params),
                started_at=now(),
                executor=executor,
                task_runs=rows,
                code_hash=code[0],
                environment=code[1],
                runner=runner,
                parent_run_id=parent.id if parent is not None else None,
                trigger=trigger,
            )
        if datasets:
            store.record_dataset_uses(tx, run_id, datasets, now())
        if resumed is not None and resumed.status in (RunState.RUNNING, RunState.QUEUED):
            _settle_dead_run(store, tx, resumed, run_id)


def _start_claimed(
    store: MetadataStore,
    tx: Connection,
    claimed: Run,
    rows: Sequence[Any],
    executor: str,
    code: tuple[str | None, Mapping[str, Any] | None],
    runner: str,
) -> None:
    from dagwell.errors import DagwellError
    from dagwell.storage.metadata.queue import start_claimed

    started = start_claimed(
        tx,
        claimed.id,
        executor=executor,
        started_at=now(),
        runner=runner,
        code_hash=code[0],
        environment=code[1],
    )
    if not started:
        raise DagwellError(f"run {claimed.id} is no longer claimed (cancelled or taken over)")
    store.add_task_runs(tx, claimed.id, rows)


def _settle_dead_run(store: MetadataStore, tx: Connection, dead: Run, successor: str) -> None:
    """Record a run whose runner died as failed, with its running attempts."""
    from dagwell.core.records import AttemptEnd
    from dagwell.core.states import AttemptState
    from dagwell.storage.metadata.pools import release_run

    at = now()
    error = f"its runner ({dead.runner or 'unknown process'}) died; resumed as run {successor}"
    ends = [
        AttemptEnd(task.node, a.number, AttemptState.FAILED, at, TaskState.FAILED, error=error)
        for task in dead.tasks.values()
        for a in task.attempts
        if a.status == AttemptState.RUNNING
    ]
    store.record_attempts(tx, dead.id, ends=ends)
    release_run(tx, dead.id)  # its pool slots
    store.finish_run(tx, dead.id, status=RunState.FAILED, ended_at=at, error=error)


def _versions_by_node(
    graph: Graph, uses: Sequence[tuple[str, DatasetVersion]]
) -> dict[str, dict[str, str]]:
    """Per node, each dataset's version keyed by the URI as written in the pipeline."""
    resolved = {(node, version.uri): version.version for node, version in uses}
    by_node: dict[str, dict[str, str]] = {}
    for node in graph.nodes.values():
        for found in find_datasets((node.args, dict(node.kwargs))):
            version = resolved.get((node.id, resolve_uri(found.uri)))
            if version is not None:
                by_node.setdefault(node.id, {})[found.uri] = version
    return by_node


def reusable_outputs(previous: Run) -> dict[str, dict[str, StoredValue]]:
    """The outputs of every node of ``previous`` that succeeded (or was cached or reused)."""
    return {
        node: dict(task.outputs)
        for node, task in previous.tasks.items()
        if task.status.is_success and task.outputs
    }


def resume(
    run_id: str,
    *,
    pipeline: Pipeline | None = None,
    executor: str = "process",
    workers: int | None = None,
    settings: Settings | None = None,
    hooks: Hooks | None = None,
) -> Run:
    """Start a new run that reuses what run ``run_id`` finished and runs the rest.

    Nodes that succeeded are recorded ``reused`` with their earlier outputs (fan-outs item
    by item); the others run again, with the run's params and today's code. A run whose
    runner process died (killed, crashed machine) can be resumed; it is recorded failed.
    ``pipeline`` defaults to the one in the file the run started from.

    >>> retry = dw.resume("3f2a9c")
    >>> retry.tasks["ingest"].status
    <TaskState.REUSED: 'reused'>
    """
    settings = settings or Settings.from_env()
    previous = get_run(run_id, settings=settings)
    if previous.status == RunState.SUCCEEDED:
        raise DefinitionError(
            f"run {previous.id} succeeded, so there is nothing to resume; start a new run, "
            f"or re-run it to check it reproduces"
        )
    if previous.status in (RunState.RUNNING, RunState.QUEUED) and runner_alive(previous):
        raise DefinitionError(
            f"run {previous.id} is still running (in process {previous.runner}); wait for "
            "it to end or stop it first"
        )
    pipeline = pipeline or _pipeline_of(previous)
    bound = pipeline.bind(previous.params, from_text=True)
    return execute_pipeline(pipeline, bound, executor, workers, settings, hooks, resumed=previous)


def runner_alive(found: Run, *, stale_after: float = 60.0) -> bool:
    """Whether the process running ``found`` still lives: its heartbeat is fresh and, on
    this host, its pid exists (a pid alone can be reused after a reboot or in a container)."""
    beat = found.heartbeat_at or found.started_at
    fresh = beat is not None and (now() - beat).total_seconds() < stale_after
    host, _, pid = (found.runner or "").rpartition(":")
    if fresh and host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return fresh


def _pipeline_of(found: Run) -> Pipeline:
    from dagwell.execution.loader import load_module, pipelines_in

    code = found.code
    path = code.entry_path if code is not None else None
    if path is None or not os.path.isfile(path):
        raise DefinitionError(
            f"cannot find the file of pipeline {found.pipeline!r} that run {found.id} started "
            f"from ({path or 'not recorded'}); pass it: dagwell resume {found.id} --pipeline FILE"
        )
    pipelines = pipelines_in(load_module(Path(path)))
    if found.pipeline not in pipelines:
        raise DefinitionError(
            f"{path} no longer defines pipeline {found.pipeline!r} (it has: "
            f"{', '.join(pipelines) or 'none'}); pass it: dagwell resume {found.id} --pipeline FILE"
        )
    return pipelines[found.pipeline]


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as JSON, non-JSON values as text that ``Pipeline.bind(from_text=True)`` reads."""
    import json

    from dagwell.core.pipeline import to_text

    return dict(json.loads(json.dumps(dict(params), default=to_text)))


def check_constants(graph: Graph) -> None:
    """Fail before running when a node's constant argument cannot be sent to a worker."""
    import cloudpickle

    for node in graph.nodes.values():
        for name, value in _constants(node.args, dict(node.kwargs)):
            try:
                cloudpickle.dumps(value)
            except Exception as exc:
                raise SerializationError(
                    f"node {node.id!r}: argument {name} is a {type(value).__name__}, which "
                    f"cannot be sent to a worker process ({exc}); create it inside the task, "
                    "or run with executor='inline'"
                ) from None


def _constants(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
    plain = [(f"#{i}", v) for i, v in enumerate(args)] + list(kwargs.items())
    return [(name, value) for name, value in plain if not _is_plain(value)]


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, bytes, Ref)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(v) for v in value.values())
    return False


def get_run(run_id: str, *, settings: Settings | None = None) -> Run:
    """The recorded :class:`Run` with id ``run_id`` (or a unique prefix of it).

    >>> dw.get_run("3f2a9c").tasks["train"].status
    """
    settings = settings or Settings.from_env()
    found = metadata_store(settings.db_url).get_run(run_id)
    return _with_loader(found, settings)


def list_runs(
    *,
    pipeline: str | None = None,
    status: str | RunState | None = None,
    limit: int | None = 20,
    since: datetime | None = None,
    until: datetime | None = None,
    trigger: str | None = None,
    settings: Settings | None = None,
) -> list[Run]:
    """Recorded runs, newest first, filtered by pipeline, status, creation time and trigger.

    ``since`` and ``until`` keep runs created in ``[since, until)``; ``trigger`` is how
    runs started: manual, schedule, backfill, resume or rerun.

    >>> [r.id for r in dw.list_runs(pipeline="churn", status="failed", limit=5)]
    """
    settings = settings or Settings.from_env()
    if status is not None:
        try:
            status = RunState(str(status).lower())
        except ValueError:
            valid = ", ".join(s.value for s in RunState)
            raise DefinitionError(f"unknown run status {status!r}; use one of: {valid}") from None
    found = metadata_store(settings.db_url).list_runs(
        pipeline=pipeline,
        status=status,
        limit=limit,
        since=since,
        until=until,
        trigger=trigger,
        with_tasks=True,
    )
    return [_with_loader(r, settings) for r in found]


def _with_loader(found: Run, settings: Settings) -> Run:
    store = artifact_store(settings.artifacts_url, settings)
    return replace(found, loader=partial(load_value, store))


def list_datasets(
    uri: str | None = None, *, settings: Settings | None = None
) -> list[DatasetVersionRecord]:
    """Every recorded version of every dataset (or of ``uri``), with the runs that read it.

    >>> for v in dw.list_datasets("data/churn.csv"):
    ...     print(v.version[:12], [run for run, node in v.runs])
    """
    settings = settings or Settings.from_env()
    wanted = resolve_uri(uri) if uri is not None else None
    return metadata_store(settings.db_url).list_dataset_versions(wanted)

"""Queuing runs for the daemon: ``dw.trigger`` (one run now), ``dw.backfill`` (past times),
and the triggers and resumes the web UI asks for (:func:`trigger_registered`,
:func:`queue_resume`).

A queued run records the pipeline's source (``FILE:NAME``), its params as JSON and, for a
backfill, its logical time; the scheduler daemon claims it and runs it. Params are checked
here, so a mistake fails at once, not later in the daemon.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagwell.core.pipeline import Pipeline
from dagwell.core.records import Run
from dagwell.core.schedules import Schedule
from dagwell.errors import DefinitionError, NotFoundError
from dagwell.execution.attempt import now
from dagwell.execution.runs import get_run, jsonable_params, new_run_id
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store

if TYPE_CHECKING:
    from dagwell.storage.metadata.registered import RegisteredPipeline

MAX_BACKFILL = 10_000
"""The most runs one backfill may queue."""


@dataclass(frozen=True)
class Target:
    """A pipeline to queue runs of, with the ``FILE:NAME`` the daemon loads it from."""

    pipeline: Pipeline
    source: str


def resolve(ref: Pipeline | str, settings: Settings) -> Target:
    """The pipeline ``ref`` names: a Pipeline, ``FILE[:NAME]``, or a registered name.

    >>> resolve("churn", settings).source
    '/srv/pipelines/churn.py:churn'
    """
    from dagwell.execution.loader import load_pipeline, split_spec

    if isinstance(ref, Pipeline):
        file = inspect.getsourcefile(ref.fn)
        if file is None or not Path(file).is_file():
            raise DefinitionError(
                f"pipeline {ref.name!r} is not defined in a file, so a scheduler cannot load "
                "it; define it in a .py file"
            )
        return Target(ref, f"{Path(file).resolve()}:{ref.name}")
    path, _ = split_spec(ref)
    if path.suffix == ".py" or path.is_file():  # a folder may share a pipeline's name
        pipeline = load_pipeline(ref)
        return Target(pipeline, f"{path.resolve()}:{pipeline.name}")
    from dagwell.storage.metadata.registered import get_pipeline, list_pipelines

    store = metadata_store(settings.db_url)
    with store.reading() as conn:
        found = get_pipeline(conn, ref)
        known = [p.name for p in list_pipelines(conn)] if found is None else []
    if found is None:
        listed = ", ".join(known) or "none yet"
        raise NotFoundError(
            f"no pipeline named {ref!r} is registered (registered: {listed}); pass FILE:NAME, "
            "or start `dagwell scheduler PATH` so it registers the pipelines in PATH"
        )
    return Target(load_pipeline(found.source), found.source)


def trigger(
    pipeline: Pipeline | str,
    params: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    params_from_text: bool = False,
) -> Run:
    """Queue one run of ``pipeline`` for the scheduler daemon; return the queued :class:`Run`.

    ``pipeline`` is a Pipeline, ``"FILE[:NAME]"`` or the name of a registered pipeline.

    >>> queued = dw.trigger("churn", params={"C": 0.5})
    >>> queued.status
    <RunState.QUEUED: 'queued'>
    """
    from dagwell.storage.metadata.queue import queue_run

    settings = settings or Settings.from_env()
    target = resolve(pipeline, settings)
    bound = target.pipeline.bind(params, from_text=params_from_text)
    run_id = new_run_id()
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        remember(tx, target)
        queue_run(
            tx,
            run_id=run_id,
            pipeline=target.pipeline.name,
            params=jsonable_params(bound),
            source=target.source,
            trigger="manual",
            created_at=now(),
        )
    return get_run(run_id, settings=settings)


PARAM_TYPES: dict[str, type] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "list": list,
    "dict": dict,
    "tuple": tuple,
}
"""Param types a registration names that are checked without the pipeline's code; params
of other types are checked when the run starts."""


def trigger_registered(
    name: str, params: Mapping[str, Any] | None = None, *, settings: Settings | None = None
) -> Run:
    """Queue one run of the pipeline a scheduler registered as ``name``; return it.

    Unlike :func:`trigger`, this imports no user code: params are checked against what the
    scheduler recorded of them (names, defaults, and the types of :data:`PARAM_TYPES`;
    text is converted as ``dagwell trigger -p`` converts it). The web server uses it, so
    a pipeline file is never run inside it and an edited file is seen once rescanned.

    >>> queued = trigger_registered("churn", {"C": "0.5"})
    """
    from typing import Any as AnyType

    from dagwell.core.pipeline import Param, bind_params
    from dagwell.storage.metadata.queue import queue_run
    from dagwell.storage.metadata.registered import get_pipeline

    settings = settings or Settings.from_env()
    store = metadata_store(settings.db_url)
    with store.reading() as conn:
        found = get_pipeline(conn, name)
    if found is None:
        raise NotFoundError(
            f"no pipeline named {name!r} is registered; start `dagwell ui PATH` or "
            "`dagwell scheduler PATH` with the file that defines it"
        )
    declared = []
    for described in found.params:
        kind = PARAM_TYPES.get(described.get("type") or "", AnyType)
        if described.get("required", described.get("default") is None):
            declared.append(Param(described["name"], kind))
        else:
            declared.append(Param(described["name"], kind, described.get("default")))
    bound = bind_params(found.name, declared, params, from_text=True)
    run_id = new_run_id()
    with store.transaction() as tx:
        queue_run(
            tx,
            run_id=run_id,
            pipeline=found.name,
            params=jsonable_params(bound),
            source=found.source,
            trigger="manual",
            created_at=now(),
        )
    return get_run(run_id, settings=settings)


def queue_resume(run_id: str, *, settings: Settings | None = None) -> Run:
    """Queue a resume of run ``run_id`` for the scheduler daemon; return the queued :class:`Run`.

    The daemon executes it as ``dw.resume`` would: nodes that succeeded are reused, the
    others run again with the run's params. A run whose runner died is resumed the way
    crash recovery resumes it (lost attempts count against retries, and it is resumed
    once). Raises :class:`~dagwell.errors.RunStateError` when the run succeeded, has not
    started, still runs, or is being resumed already.

    >>> queued = queue_resume("3f2a9c")
    >>> queued.trigger, queued.parent_run_id
    ('resume', '3f2a9c1d0e7b')
    """
    from dagwell.core.states import RunState
    from dagwell.errors import RunStateError
    from dagwell.execution.runs import runner_alive
    from dagwell.storage.metadata.queue import pending_resume, queue_run, recovery_key

    settings = settings or Settings.from_env()
    previous = get_run(run_id, settings=settings)
    if previous.status is RunState.SUCCEEDED:
        raise RunStateError(
            f"run {previous.id} succeeded, so there is nothing to resume; start a new run"
        )
    if previous.status is RunState.QUEUED:
        raise RunStateError(f"run {previous.id} is queued and has not started; nothing to resume")
    dead = previous.status is RunState.RUNNING
    if dead and runner_alive(previous):
        raise RunStateError(
            f"run {previous.id} is still running (in process {previous.runner}); wait for "
            "it to end or cancel it first"
        )
    store = metadata_store(settings.db_url)
    source = _source_of(previous, settings)
    new_id = new_run_id()
    with store.transaction() as tx:
        pending = pending_resume(tx, previous.id)
        queued = pending is None and queue_run(
            tx,
            run_id=new_id,
            pipeline=previous.pipeline,
            params=dict(previous.params),
            source=source,
            trigger="resume",
            created_at=now(),
            scheduled_for=previous.scheduled_for,
            key=recovery_key(previous.id) if dead else None,
            parent_run_id=previous.id,
        )
    if not queued:
        already = f" as run {pending}" if pending else ""
        raise RunStateError(f"run {previous.id} is being resumed already{already}")
    return get_run(new_id, settings=settings)


def _source_of(found: Run, settings: Settings) -> str:
    """``FILE:NAME`` of the pipeline ``found`` ran: recorded with it, registered by a
    daemon, or the file its code snapshot started from."""
    import os

    from dagwell.storage.metadata.registered import get_pipeline

    if found.source is not None:
        return found.source
    with metadata_store(settings.db_url).reading() as conn:
        registered = get_pipeline(conn, found.pipeline)
    if registered is not None:
        return registered.source
    code = found.code
    path = code.entry_path if code is not None else None
    if path is not None and os.path.isfile(path):
        return f"{path}:{found.pipeline}"
    raise DefinitionError(
        f"cannot find the file of pipeline {found.pipeline!r} that run {found.id} started "
        f"from ({path or 'not recorded'}); resume it with: dagwell resume {found.id} "
        "--pipeline FILE"
    )


@dataclass(frozen=True)
class Backfill:
    """What a backfill did: ``(run id, logical time)`` of each run it queued, oldest first,
    and the logical times it skipped because they had a run already."""

    queued: list[tuple[str, datetime]]
    skipped: list[datetime]


def backfill(
    pipeline: Pipeline | str,
    start: date | datetime,
    end: date | datetime,
    *,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    params_from_text: bool = False,
) -> Backfill:
    """Queue one run per scheduled time from ``start`` to ``end`` (both included).

    Dates and naive datetimes are read in the schedule's time zone; a date as ``end``
    includes its whole day. Times that already have a run are skipped. ``params`` override
    the schedule's params.

    >>> done = dw.backfill("nightly", date(2026, 1, 1), date(2026, 1, 7))
    >>> len(done.queued), done.skipped
    """
    from dagwell.storage.metadata.queue import claim_key, queue_run, scheduled_times

    settings = settings or Settings.from_env()
    target = resolve(pipeline, settings)
    schedule = target.pipeline.schedule
    if schedule is None:
        raise DefinitionError(
            f"pipeline {target.pipeline.name!r} has no schedule, so it has no times to "
            "backfill; give it one with @dw.pipeline(schedule=...), or use dagwell trigger"
        )
    first, last = _moment(start, schedule, end=False), _moment(end, schedule, end=True)
    if last < first:
        raise DefinitionError(
            f"the backfill range is reversed: --start {start} is after --end {end}"
        )
    times = schedule.times(first - timedelta(microseconds=1), last, limit=MAX_BACKFILL)
    if not times:
        raise DefinitionError(
            f"schedule {schedule.text!r} of pipeline {target.pipeline.name!r} has no time "
            f"between {first.isoformat()} and {last.isoformat()}; nothing to backfill"
        )
    given = {**schedule.params, **(params or {})}
    bound = jsonable_params(target.pipeline.bind(given, from_text=params_from_text))
    name = target.pipeline.name
    keys = {claim_key(name, t): t for t in times}
    store = metadata_store(settings.db_url)
    queued: list[tuple[str, datetime]] = []
    with store.transaction() as tx:
        remember(tx, target)
        taken = scheduled_times(tx, name, list(keys))
        for key, moment in keys.items():
            run_id = new_run_id()
            if key not in taken and queue_run(
                tx,
                run_id=run_id,
                pipeline=name,
                params=bound,
                source=target.source,
                trigger="backfill",
                created_at=now(),
                scheduled_for=moment,
                key=key,
            ):
                queued.append((run_id, moment))
    return Backfill(queued, [keys[k] for k in keys if k in taken])


def remember(tx: Any, target: Target) -> None:
    """Register a pipeline queued from a file no daemon reads, inactive: the daemon then
    knows its ``max_active_runs`` (and ``dagwell trigger NAME`` finds it) but schedules
    nothing of it. A pipeline registered already is left as it is."""
    from dataclasses import replace

    from dagwell.scheduling.daemon import registration
    from dagwell.scheduling.discovery import describe_pipeline
    from dagwell.storage.metadata.registered import get_pipeline, save_pipeline

    if get_pipeline(tx, target.pipeline.name) is not None:
        return
    file = target.source.rpartition(":")[0]
    described = describe_pipeline(file, target.pipeline)
    save_pipeline(tx, replace(registration(described, None, now()), active=False, next_due_at=None))


def _moment(value: date | datetime, schedule: Schedule, *, end: bool) -> datetime:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(schedule.timezone)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.max if end else time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def registered_pipelines(*, settings: Settings | None = None) -> list[RegisteredPipeline]:
    """The pipelines a scheduler daemon registered (still in its files), by name.

    >>> [(p.name, p.schedule) for p in dw.registered_pipelines()]
    [('churn', '0 3 * * *')]
    """
    from dagwell.storage.metadata.registered import list_pipelines

    settings = settings or Settings.from_env()
    with metadata_store(settings.db_url).reading() as conn:
        return list_pipelines(conn)

"""The changes both the JSON API and the pages make for a user: trigger a run, resume it,
cancel it, move a model's alias. Each calls one library function inside
:func:`~dagwell.interfaces.web.audit.audited`, so an action is recorded the same way
whichever interface was asked.

``source`` is what the audit log records (``ui`` or ``api``); by default, how the
principal signed in says which. The functions block: an ``async`` page calls them
through ``run_in_threadpool``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagwell.interfaces.web.access import Principal
from dagwell.interfaces.web.audit import audited
from dagwell.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dagwell.core.models import ModelVersion
    from dagwell.core.records import Run


def trigger(
    who: Principal,
    name: str,
    params: Mapping[str, Any] | None,
    settings: Settings,
    *,
    source: str | None = None,
) -> Run:
    """Queue a run of the registered pipeline ``name`` with ``params``; return it.

    By its registration only: no user code runs in the server, and a path in ``name``
    never loads a file.

    >>> trigger(who, "churn", {"C": "0.5"}, settings).status.value
    'queued'
    """
    from dagwell.scheduling.triggers import trigger_registered

    with audited(who, "trigger", name, settings, source=source) as detail:
        queued = trigger_registered(name, params, settings=settings)
        detail.update(run_id=queued.id, params=dict(queued.params))
    return queued


def resume(who: Principal, run_id: str, settings: Settings, *, source: str | None = None) -> Run:
    """Queue a resume of run ``run_id`` for the scheduler; return the queued run.

    >>> resume(who, "3f2a9c", settings).parent_run_id
    '3f2a9c1d0e7b'
    """
    from dagwell.scheduling.triggers import queue_resume

    with audited(who, "resume", run_id, settings, source=source) as detail:
        queued = queue_resume(run_id, settings=settings)
        detail["run_id"] = queued.id
    return queued


def cancel(who: Principal, run_id: str, settings: Settings, *, source: str | None = None) -> Run:
    """Ask run ``run_id`` to stop on behalf of ``who``; return it (``cancelled``, or still
    ``running`` with the request recorded).

    >>> cancel(who, "3f2a9c", settings).status.value
    'cancelled'
    """
    from dagwell.execution.cancel import request_cancel

    with audited(who, "cancel", run_id, settings, source=source) as detail:
        found = request_cancel(run_id, by=who.name, settings=settings)
        detail["status"] = found.status.value
    return found


def set_alias(
    who: Principal,
    name: str,
    version: int,
    alias: str,
    settings: Settings,
    *,
    source: str | None = None,
) -> ModelVersion:
    """Point ``alias`` of model ``name`` at ``version`` (moving it if set); return that
    version.

    >>> set_alias(who, "churn", 3, "production", settings).aliases
    ('production',)
    """
    from dagwell.tracking.registry import models

    with audited(who, "set_alias", f"{name}:{alias}", settings, source=source) as detail:
        moved = models.set_alias(name, version, alias, settings=settings)
        detail["version"] = moved.version
    return moved

"""A node of a run, as the run page's side panel shows it (``/runs/{id}/node``), the tail
of its log (``/runs/{id}/log``, polled with a byte offset while the attempt runs), and a
preview of one of its outputs (``/runs/{id}/preview``).

Each answers a fragment to htmx and the whole run page, with the node's panel open, to a
plain request. Nodes are named in the query (``?node=``): a node name may hold any
character, ``/`` included.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from dagwell.core.states import AttemptState
from dagwell.errors import NotFoundError
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, render, wants_fragment
from dagwell.interfaces.web.pages.run import run_page
from dagwell.interfaces.web.pages.run_context import node_context, node_url
from dagwell.interfaces.web.run_views import attempt_log, task_of
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(include_in_schema=False)


@router.get("/runs/{run_id}/node", response_class=HTMLResponse)
def node_panel(
    run_id: str,
    node: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> HTMLResponse:
    """A node's attempts with their errors, its log, inputs, outputs, params, metrics."""
    if not wants_fragment(request):
        return run_page(request, run_id, settings, who, node)
    from dagwell.execution.runs import get_run

    found = get_run(run_id, settings=settings)
    context = node_context(found, node, settings)
    return render(request, "_node.html", {"n": context, "who": acting(request, who), "oob": True})


@router.get("/runs/{run_id}/log", response_class=HTMLResponse)
def log_tail(
    run_id: str,
    node: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    attempt: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    follow: bool = False,
) -> HTMLResponse:
    """What an attempt logged after byte ``offset``, and a poller for what comes next
    while it runs; once a followed attempt (``follow``) has ended, the panel reloads
    to show how."""
    if not wants_fragment(request):
        return run_page(request, run_id, settings, who, node)
    from dagwell.execution.runs import get_run

    found = get_run(run_id, settings=settings)
    read = attempt_log(found, node, attempt, settings)
    data = read.text.encode()
    running = read.attempt.status is AttemptState.RUNNING and not found.status.is_finished
    context = {
        "run": found,
        "node": node,
        "attempt": read.attempt.number,
        "text": data[offset:].decode(errors="replace"),
        "offset": len(data),
        "running": running,
        "follow": follow,
        "node_url": node_url,
    }
    return render(request, "_log_tail.html", context)


@router.get("/runs/{run_id}/preview", response_class=HTMLResponse)
def output_preview(
    run_id: str,
    node: str,
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> HTMLResponse:
    """A look at output ``name`` of ``node``: a table's first rows, an array's shape and
    stats, a small value; a pickled value only by type and size (never unpickled)."""
    if not wants_fragment(request):
        return run_page(request, run_id, settings, who, node)
    from dagwell.execution.runs import get_run
    from dagwell.storage.previews import preview
    from dagwell.storage.shared import artifact_store

    found = get_run(run_id, settings=settings)
    stored = task_of(found, node).outputs.get(name)
    if stored is None:
        raise NotFoundError(f"node {node!r} of run {found.id} has no output {name!r}")
    shown = preview(artifact_store(settings.artifacts_url, settings), stored)
    return render(request, "_preview.html", {"preview": shown})

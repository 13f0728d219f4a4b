"""The run page (``/runs/{id}``) and its live parts: the header, the DAG, the Gantt, the
metrics, artifacts and alerts, redrawn every couple of seconds while the run is not
finished (``/runs/{id}/live``); a file of the code snapshot (``/runs/{id}/code``); and the
resume and cancel buttons (``POST /runs/{id}/resume`` and ``/cancel``).

A fragment URL opened without htmx (a reload, a link) renders the whole page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dagwell.errors import NotFoundError
from dagwell.interfaces.web import actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, render, wants_fragment
from dagwell.interfaces.web.pages.run_context import code_of, run_context
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings

router = APIRouter(include_in_schema=False)


def run_page(
    request: Request, run_id: str, settings: Settings, who: Principal, node: str | None = None
) -> HTMLResponse:
    """The whole run page, with ``node``'s panel open when given."""
    from dagwell.execution.runs import get_run

    found = get_run(run_id, settings=settings)
    if node is not None and node not in found.tasks:
        node = None
    context = run_context(found, settings, node)
    return render(request, "run.html", {**context, "who": acting(request, who)})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_view(
    run_id: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    node: str | None = None,
) -> HTMLResponse:
    """One run: header, DAG and node panel, Gantt, metrics, artifacts, code, alerts."""
    return run_page(request, run_id, settings, who, node)


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def run_live(
    run_id: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    node: str | None = None,
) -> HTMLResponse:
    """The parts of the run page that change while it runs, each swapped in by its id
    (htmx out-of-band); the poller itself stops once the run has finished."""
    if not wants_fragment(request):
        return run_page(request, run_id, settings, who, node)
    from dagwell.execution.runs import get_run

    found = get_run(run_id, settings=settings)
    selected = node if node in found.tasks else None
    context = run_context(found, settings, selected, with_panel=False, with_code=False)
    context.update(who=acting(request, who), oob=True)
    return render(request, "_run_live.html", context)


@router.get("/runs/{run_id}/code", response_class=HTMLResponse)
def code_file(
    run_id: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    path: str = "",
    git_diff: bool = False,
) -> HTMLResponse:
    """One file of the run's code snapshot as it was when the run started, or (with
    ``git_diff``) the snapshot's ``git diff HEAD``."""
    if not wants_fragment(request):
        return run_page(request, run_id, settings, who)
    from dagwell.execution.runs import get_run

    found = get_run(run_id, settings=settings)
    code, error = code_of(found)
    if code is None:
        raise NotFoundError(error or f"run {found.id} was recorded without a code snapshot")
    if git_diff:
        diff = (code.git or {}).get("diff") or ""
        return render(request, "_diff.html", {"diff": diff})
    if path not in code.files:
        raise NotFoundError(f"the code snapshot of run {found.id} has no file {path!r}")
    return render(request, "_code_file.html", {"path": path, "text": code.files[path]})


@router.post("/runs/{run_id}/resume", response_class=HTMLResponse)
async def resume(
    run_id: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("resume"))],
) -> Response:
    """Queue a resume of the run, then show the new run (303)."""
    principal = acting(request, who)
    queued = await run_in_threadpool(actions.resume, principal, run_id, settings, source="ui")
    return RedirectResponse(f"/runs/{queued.id}", status_code=303)


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse)
async def cancel(
    run_id: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("cancel"))],
) -> Response:
    """Ask the run to stop, then show it again (303): it says cancelled within seconds."""
    principal = acting(request, who)
    found = await run_in_threadpool(actions.cancel, principal, run_id, settings, source="ui")
    return RedirectResponse(f"/runs/{found.id}", status_code=303)

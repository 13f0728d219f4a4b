"""The record pages: datasets and their versions (``/datasets``), models with their
versions and aliases (``/models``, ``/models/{name}``, and the set-alias form), and the
alerts runs raised (``/alerts``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dagwell.errors import DefinitionError
from dagwell.interfaces.web import actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, render
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings

router = APIRouter(include_in_schema=False)

ALERTS_SHOWN = 200
"""The most alerts the alerts page lists."""


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    uri: str = "",
) -> HTMLResponse:
    """Every dataset (or ``uri``) with its versions, newest first, and the runs that read
    each."""
    from dagwell.execution.runs import list_datasets

    grouped: dict[str, list[Any]] = {}
    for version in list_datasets(uri or None, settings=settings):
        grouped.setdefault(version.uri, []).append(version)
    datasets = [
        (name, sorted(versions, key=lambda v: v.first_seen, reverse=True))
        for name, versions in sorted(grouped.items())
    ]
    context = {"section": "datasets", "who": acting(request, who), "datasets": datasets, "uri": uri}
    return render(request, "datasets.html", context)


@router.get("/models", response_class=HTMLResponse)
def models_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> HTMLResponse:
    """Every registered model: newest version, how many versions, aliases."""
    from dagwell.tracking.registry import models

    found = models.list(settings=settings)
    return render(
        request, "models.html", {"section": "models", "who": acting(request, who), "models": found}
    )


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> HTMLResponse:
    """One model: its versions (newest first) with the run and node that made each, their
    metadata and aliases, and a form to move an alias for those allowed."""
    return _model(request, name, settings, acting(request, who), error=None, typed=None)


@router.post("/models/{name}/aliases", response_class=HTMLResponse)
async def set_alias(
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("set_alias"))],
) -> Response:
    """Point an alias at a version (the form's ``alias`` and ``version``), then show the
    model again (303); the form with the error when the alias or version is wrong."""
    form = await request.form()
    alias = str(form.get("alias", "")).strip()
    version_text = str(form.get("version", "")).strip()
    principal = acting(request, who)
    try:
        version = int(version_text)
    except ValueError:
        return _model(
            request,
            name,
            settings,
            principal,
            error=f"not a version number: {version_text!r}",
            typed=alias,
        )
    try:
        await run_in_threadpool(
            actions.set_alias, principal, name, version, alias, settings, source="ui"
        )
    except DefinitionError as exc:
        return _model(request, name, settings, principal, error=str(exc), typed=alias)
    return RedirectResponse(f"/models/{name}", status_code=303)


def _model(
    request: Request,
    name: str,
    settings: Settings,
    who: Principal,
    *,
    error: str | None,
    typed: str | None,
) -> HTMLResponse:
    from dagwell.tracking.registry import models

    versions = models.versions(name, settings=settings)  # NotFoundError: 404
    summary = next(m for m in models.list(settings=settings) if m.name == name)
    context = {
        "section": "models",
        "who": who,
        "model": summary,
        "versions": list(reversed(versions)),
        "error": error,
        "typed": typed or "",
    }
    return render(request, "model.html", context, status=422 if error else 200)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    kind: Literal["", "failure", "retry", "success", "sla_miss"] = "",
    pipeline: str = "",
    run: str = "",
) -> HTMLResponse:
    """Alerts, newest first, by kind, pipeline and run, with how each was delivered."""
    from dagwell.execution.alerts import list_alerts

    found = list_alerts(
        run_id=run or None,
        pipeline=pipeline or None,
        kind=kind or None,
        limit=ALERTS_SHOWN,
        settings=settings,
    )
    context = {
        "section": "alerts",
        "who": acting(request, who),
        "alerts": found,
        "filters": {"kind": kind, "pipeline": pipeline, "run": run},
        "kinds": ("failure", "retry", "success", "sla_miss"),
        "shown": ALERTS_SHOWN,
        "now": datetime.now().astimezone(),
    }
    return render(request, "alerts.html", context)

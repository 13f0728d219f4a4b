"""The pipelines page (``/``) and the trigger form (``/pipelines/{name}/trigger``).

The list shows each pipeline's schedule, next due time, newest runs as state dots and
success rate. The trigger form is generated from the params a scheduler registered (name,
type, default): no user code is imported in the web server, as for the API's trigger.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dagwell.errors import ParamError
from dagwell.interfaces.web import actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, render
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings

router = APIRouter(include_in_schema=False)

DOTS = 12
"""How many of a pipeline's newest runs the list shows as dots."""

JSON_TYPES = frozenset({"dict", "list", "tuple", None})
"""Param types entered as JSON text (None: not annotated, read as JSON if it parses)."""


@router.get("/", response_class=HTMLResponse)
def pipelines_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> HTMLResponse:
    """Every pipeline: schedule, next due time, newest runs, success rate, trigger."""
    from dagwell.execution.reports import pipeline_summaries

    summaries = pipeline_summaries(settings=settings)
    return render(
        request,
        "pipelines.html",
        {"section": "pipelines", "who": acting(request, who), "pipelines": summaries, "dots": DOTS},
    )


@router.get("/pipelines/{name}/trigger", response_class=HTMLResponse)
def trigger_form(
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("trigger"))],
) -> HTMLResponse:
    """A form with a field per registered param, filled with its default."""
    return _form(request, name, settings, acting(request, who), values=None, error=None)


@router.post("/pipelines/{name}/trigger", response_class=HTMLResponse)
async def trigger_submit(
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("trigger"))],
) -> Response:
    """Queue a run with the params typed in the form, then show its page (303); the form
    again with the error when a param is wrong (422)."""
    form = await request.form()
    params = await run_in_threadpool(_registered_params, name, settings)
    values = {p["name"]: str(form.get(p["name"], "")) for p in params}
    given = {
        p["name"]: values[p["name"]]
        for p in params
        if values[p["name"]] != "" or p.get("type") == "str"
    }
    principal = acting(request, who)
    try:
        queued = await run_in_threadpool(
            actions.trigger, principal, name, given, settings, source="ui"
        )
    except ParamError as exc:
        return _form(request, name, settings, principal, values=values, error=str(exc))
    return RedirectResponse(f"/runs/{queued.id}", status_code=303)


def _registered_params(name: str, settings: Settings) -> list[dict[str, Any]]:
    from dagwell.execution.reports import pipeline_summaries

    (found,) = pipeline_summaries(name, settings=settings)  # NotFoundError: 404
    if found.registered is None:
        from dagwell.errors import NotFoundError

        raise NotFoundError(
            f"pipeline {name!r} is known only from its runs; start `dagwell ui PATH` or "
            "`dagwell scheduler PATH` with the file that defines it to trigger it here"
        )
    return list(found.registered.params)


def _form(
    request: Request,
    name: str,
    settings: Settings,
    who: Principal,
    *,
    values: dict[str, str] | None,
    error: str | None,
) -> HTMLResponse:
    from dagwell.execution.reports import pipeline_summaries

    params = _registered_params(name, settings)
    (summary,) = pipeline_summaries(name, settings=settings)
    fields = [_field(p, values) for p in params]
    return render(
        request,
        "trigger.html",
        {
            "section": "pipelines",
            "who": who,
            "pipeline": summary,
            "fields": fields,
            "error": error,
        },
        status=422 if error else 200,
    )


def _field(param: dict[str, Any], values: dict[str, str] | None) -> dict[str, Any]:
    """How one param is asked for: an input of the right kind, holding the value typed
    before (after an error) or the default."""
    kind = param.get("type")
    required = bool(param.get("required", param.get("default") is None))
    default = param.get("default")
    if values is not None:
        value = values.get(param["name"], "")
    elif default is None:
        value = ""
    elif kind in JSON_TYPES or not isinstance(default, str):
        value = _json_text(default)
    else:
        value = default
    widget = {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(
        kind or "", "json" if kind in JSON_TYPES else "text"
    )
    if widget == "bool" and value not in ("true", "false", ""):
        value = "true" if value.lower() in ("1", "yes", "on", "true") else "false"
    return {
        "name": param["name"],
        "type": kind or "any",
        "widget": widget,
        "required": required,
        "value": value,
        "default": default,
    }


def _json_text(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)

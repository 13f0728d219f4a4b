"""``/api/v1/pipelines``: the pipelines with their schedules and recent runs, and
triggering a run of one (queued for the scheduler, as ``dagwell trigger`` does)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from dagwell.interfaces.web import actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.api_runs import queued
from dagwell.interfaces.web.schemas import PipelineDetailOut, PipelineOut, QueuedOut, TriggerIn
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["pipelines"])


@router.get("/pipelines", response_model=list[PipelineOut])
def list_pipelines(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> list[dict[str, Any]]:
    """Every pipeline a scheduler registered or a run recorded, by name, with its
    schedule, runs per state, success rate and newest runs."""
    from dagwell.execution.reports import pipeline_summaries

    return [p.to_dict() for p in pipeline_summaries(settings=settings)]


@router.get("/pipelines/{name}", response_model=PipelineDetailOut)
def get_pipeline(
    name: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> dict[str, Any]:
    """One pipeline, with its params (name, type, default) for a trigger form; a pipeline
    known only from its runs has no params listed (a scheduler has not read its file)."""
    from dagwell.execution.reports import pipeline_summaries

    (found,) = pipeline_summaries(name, settings=settings)
    reg = found.registered
    return {
        **found.to_dict(last=20),
        "params": [_param(p) for p in reg.params] if reg else [],
        "schedule_params": dict(reg.schedule_params) if reg else {},
    }


def _param(described: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": described["name"],
        "type": described.get("type"),
        "default": described.get("default"),
        "required": bool(described.get("required", described.get("default") is None)),
    }


@router.post("/pipelines/{name}/runs", response_model=QueuedOut, status_code=202)
def trigger_run(
    name: str,
    body: TriggerIn,
    response: Response,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("trigger"))],
) -> dict[str, Any]:
    """Queue a run of the registered pipeline ``name`` with ``params``; the scheduler
    starts it. 422 when a param is unknown, missing or of the wrong type."""
    run = actions.trigger(who, name, body.params, settings)
    response.headers["Location"] = f"/api/v1/runs/{run.id}"
    return queued(run)

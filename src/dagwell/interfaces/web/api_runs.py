"""``/api/v1/runs``: list runs, read one (its graph, attempts, metrics, logs), cancel and
resume it.

Each route parses its input, calls one library function and shapes the answer; the
shapes are in :mod:`dagwell.interfaces.web.schemas`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.schemas import RunDetailOut, RunPageOut
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["runs"])

MAX_PAGE = 500
"""The most runs one page of ``GET /runs`` holds."""

Trigger = Literal["manual", "schedule", "backfill", "resume", "rerun"]


@router.get("/runs", response_model=RunPageOut)
def list_runs(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    pipeline: str | None = None,
    status: Annotated[str | None, Query(description="queued, running, succeeded, …")] = None,
    since: Annotated[datetime | None, Query(description="created at or after (ISO)")] = None,
    until: Annotated[datetime | None, Query(description="created before (ISO)")] = None,
    trigger: Trigger | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
    offset: Annotated[int, Query(ge=0, description="runs to skip; cursor is faster")] = 0,
) -> dict[str, Any]:
    """Runs, newest first, filtered; each with how many of its nodes are in each state."""
    from dagwell.execution.reports import run_page

    page = run_page(
        pipeline=pipeline,
        status=status,
        since=_utc(since),
        until=_utc(until),
        trigger=trigger,
        limit=limit,
        cursor=cursor,
        offset=offset,
        settings=settings,
    )
    return {
        "runs": [
            {**r.to_dict(with_tasks=False), "task_counts": page.task_counts.get(r.id, {})}
            for r in page.runs
        ],
        "next": page.next,
    }


def _utc(moment: datetime | None) -> datetime | None:
    """A time from a query: naive ones are taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


@router.get("/runs/{run_id}", response_model=RunDetailOut, response_model_exclude_unset=True)
def get_run(
    run_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> dict[str, Any]:
    """One run with its nodes, attempts, outputs, metrics and alerts: the JSON of
    ``dagwell show RUN --json``. ``run_id`` may be a unique prefix."""
    from dagwell.execution.reports import run_report

    return run_report(run_id, settings=settings).to_dict()

"""The runs page (``/runs``): runs newest first, filtered by pipeline, status, time and
trigger, a page at a time (by cursor, so page 200 is as fast as page 1).

An htmx request gets only the table (the filter form and the pager swap it in place);
while a run on the page is queued or running, the table asks for itself again every
couple of seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from dagwell.core.states import RunState
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, render, wants_fragment
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Runs per page."""

TRIGGERS = ("manual", "schedule", "backfill", "resume", "rerun")
"""How a run can start, for the trigger filter."""

LIVE = frozenset({RunState.QUEUED, RunState.RUNNING})


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    pipeline: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    trigger: str = "",
    cursor: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
) -> HTMLResponse:
    """A page of runs; with ``HX-Request``, only its table."""
    from dagwell.errors import DefinitionError
    from dagwell.execution.reports import run_page

    filters = {
        "pipeline": pipeline,
        "status": status,
        "since": since,
        "until": until,
        "trigger": trigger,
    }
    error = None
    page = None
    try:
        page = run_page(
            pipeline=pipeline or None,
            status=status or None,
            since=_moment("since", since),
            until=_moment("until", until),
            trigger=trigger or None,
            limit=limit,
            cursor=cursor or None,
            settings=settings,
        )
    except DefinitionError as exc:
        error = str(exc)
    query = {k: v for k, v in filters.items() if v}
    if limit != PAGE_SIZE:
        query["limit"] = str(limit)
    context: dict[str, Any] = {
        "section": "runs",
        "who": acting(request, who),
        "filters": filters,
        "error": error,
        "runs": page.runs if page else [],
        "counts": page.task_counts if page else {},
        "live": bool(page and any(r.status in LIVE for r in page.runs)),
        "self_url": _url(query, cursor),
        "older_url": _url(query, page.next) if page and page.next else None,
        "newest_url": _url(query, "") if cursor else None,
        "statuses": [s.value for s in RunState],
        "triggers": TRIGGERS,
    }
    status_code = 422 if error else 200
    if wants_fragment(request):
        return render(request, "_runs_table.html", context, status=status_code)
    context["pipelines"] = _pipeline_names(settings)
    return render(request, "runs.html", context, status=status_code)


def _moment(name: str, text: str) -> datetime | None:
    """A time typed in the filter form (ISO, as a datetime-local input sends it); naive
    times are this server's local time, as the page shows times."""
    from dagwell.errors import DefinitionError

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DefinitionError(
            f"{name}: not a date or time: {text!r} (use 2026-11-01 or 2026-11-01T08:30)"
        ) from None
    return moment.astimezone() if moment.tzinfo is None else moment


def _url(query: dict[str, str], cursor: str | None) -> str:
    wanted = {**query, "cursor": cursor} if cursor else query
    return "/runs" + (f"?{urlencode(wanted)}" if wanted else "")


def _pipeline_names(settings: Settings) -> list[str]:
    """Every pipeline with runs or a registration, for the filter's choices."""
    from dagwell.storage.metadata.registered import list_pipelines
    from dagwell.storage.metadata.run_stats import run_pipelines
    from dagwell.storage.shared import metadata_store

    with metadata_store(settings.db_url).reading() as conn:
        names = set(run_pipelines(conn))
        names.update(p.name for p in list_pipelines(conn, active_only=False))
    return sorted(names)

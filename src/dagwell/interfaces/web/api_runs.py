"""``/api/v1/runs``: list runs, read one (its graph, attempts, metrics, logs), cancel and
resume it.

Each route parses its input, calls one library function and shapes the answer; the
shapes are in :mod:`dagwell.interfaces.web.schemas`. Answers that grow with a run's nodes
are sent as built, not validated again against their schema (a 1,000-node run is about
0.8 MB of JSON, and validating it would cost more than reading it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from dagwell.core.moments import iso, seconds_between
from dagwell.core.records import Run
from dagwell.errors import NotFoundError
from dagwell.interfaces.web import actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.problems import ApiError
from dagwell.interfaces.web.responses import JsonResponse
from dagwell.interfaces.web.run_views import attempt_log, attempt_numbered, run_edges, task_of
from dagwell.interfaces.web.schemas import (
    AttemptsOut,
    CancelOut,
    GraphOut,
    QueuedOut,
    RunDetailOut,
    RunMetricsOut,
    RunPageOut,
)
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings

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
    offset: Annotated[int, Query(ge=0, le=2**31, description="runs to skip; cursor is faster")] = 0,
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
) -> JsonResponse:
    """One run with its nodes, attempts, outputs, metrics and alerts: the JSON of
    ``dagwell show RUN --json``. ``run_id`` may be a unique prefix."""
    from dagwell.execution.reports import run_report

    return JsonResponse(run_report(run_id, settings=settings).to_dict())


def _run(run_id: str, settings: Settings) -> Run:
    from dagwell.execution.runs import get_run as read_run

    return read_run(run_id, settings=settings)


@router.get("/runs/{run_id}/graph", response_model=GraphOut)
def run_graph(
    run_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> JsonResponse:
    """The run's DAG: each node with its state, and an edge from each upstream node
    (``kind`` ``data``) and from a dynamic fan-out to each of its items (``map``)."""
    found = _run(run_id, settings)
    nodes = [
        {
            "id": t.node,
            "task": t.task,
            "status": t.status.value,
            "map_parent": t.map_parent,
            "attempts": len(t.attempts),
            "duration": t.duration,
            "error": t.error,
        }
        for t in found.tasks.values()
    ]
    edges = [
        {"source": source, "target": target, "kind": kind}
        for source, target, kind in run_edges(found)
    ]
    return JsonResponse(
        {"run_id": found.id, "status": found.status.value, "nodes": nodes, "edges": edges}
    )


@router.get("/runs/{run_id}/attempts", response_model=AttemptsOut)
def run_attempts(
    run_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> JsonResponse:
    """Every attempt of every node, in start order: the bars of a timeline."""
    found = _run(run_id, settings)
    bars = [
        {
            "node": t.node,
            "number": a.number,
            "status": a.status.value,
            "started_at": iso(a.started_at),
            "ended_at": iso(a.ended_at),
            "duration": seconds_between(a.started_at, a.ended_at),
            "error": a.error,
        }
        for t in found.tasks.values()
        for a in t.attempts
    ]
    bars.sort(key=lambda bar: bar["started_at"] or "~")  # not started yet: last
    return JsonResponse(
        {
            "run_id": found.id,
            "started_at": iso(found.started_at),
            "ended_at": iso(found.ended_at),
            "attempts": bars,
        }
    )


@router.get("/runs/{run_id}/metrics", response_model=RunMetricsOut)
def run_metrics(
    run_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> JsonResponse:
    """Every metric the run's tasks logged, as one series of points per node and name."""
    found = _run(run_id, settings)
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for point in found.metrics():
        series.setdefault((point.node, point.name), []).append(
            {"step": point.step, "value": point.value, "time": iso(point.time)}
        )
    return JsonResponse(
        {
            "run_id": found.id,
            "series": [
                {"node": node, "name": name, "points": points}
                for (node, name), points in series.items()
            ],
        }
    )


@router.get(
    "/runs/{run_id}/logs/{node}",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "The attempt's output"}},
)
def run_log(
    run_id: str,
    node: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    attempt: Annotated[int | None, Query(ge=1, description="default: the last")] = None,
    offset: Annotated[int, Query(ge=0, description="bytes to skip (to follow a log)")] = 0,
    follow: Annotated[
        bool, Query(description="stream the output as it is written, until the node ends")
    ] = False,
) -> Response:
    """What one attempt of ``node`` printed and logged, as text (empty while nothing is).

    The ``X-Log-Size`` header gives the log's whole size in bytes: pass it back as
    ``offset`` to read only what was added since. With ``follow=true`` the answer is a
    stream instead: the output of each attempt (retries included; only ``attempt`` when
    given) as it is written, each between lines ``== attempt N ==`` and
    ``== attempt N STATUS ==``, ending when the node does (``curl -N``).
    """
    found = _run(run_id, settings)
    if follow:
        if offset:
            raise ApiError(422, "offset and follow=true do not go together", "drop offset")
        task = task_of(found, node)  # 404 now, not inside the stream
        if attempt is not None and (found.status.is_finished or task.status.is_finished):
            attempt_numbered(task.attempts, attempt, node)  # 404 for one it never had
        return StreamingResponse(
            _followed(found.id, node, attempt, settings), media_type="text/plain; charset=utf-8"
        )
    data = attempt_log(found, node, attempt, settings).text.encode()
    return PlainTextResponse(data[offset:], headers={"X-Log-Size": str(len(data))})


def _followed(run_id: str, node: str, attempt: int | None, settings: Settings) -> Iterator[str]:
    """The text of a followed log, with a line where each attempt starts and ends."""
    from dagwell.execution.log_follow import follow_log, marked

    chunks = follow_log(run_id, node, settings=settings, attempt=attempt)
    try:
        for text, _ in marked(chunks):
            yield text
    except NotFoundError as exc:  # the node ended without the attempt asked for
        yield f"== {exc} ==\n"


@router.post("/runs/{run_id}/resume", response_model=QueuedOut, status_code=202)
def resume_run(
    run_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("resume"))],
) -> dict[str, Any]:
    """Queue a resume of the run for the scheduler: nodes that succeeded are reused, the
    others run again. 409 when the run succeeded, still runs or is being resumed."""
    return queued(actions.resume(who, run_id, settings))


def queued(run: Run) -> dict[str, Any]:
    """The answer to a request that queued ``run`` (:class:`~.schemas.QueuedOut`)."""
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "status": run.status.value,
        "trigger": run.trigger,
        "parent_run_id": run.parent_run_id,
    }


@router.post("/runs/{run_id}/cancel", response_model=CancelOut, status_code=202)
def cancel_run(
    run_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("cancel"))],
) -> dict[str, Any]:
    """Ask the run to stop: a queued run is cancelled at once, a running one when its
    runner next beats (its running attempts are stopped). 409 when it has ended."""
    found = actions.cancel(who, run_id, settings)
    return {"id": found.id, "status": found.status.value}

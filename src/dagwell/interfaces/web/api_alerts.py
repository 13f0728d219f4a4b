"""``/api/v1/alerts``: the alerts runs raised (failures, retries, successes, missed SLAs)
and how each notifier took them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.schemas import AlertOut
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    run_id: Annotated[str | None, Query(description="a run id or id prefix")] = None,
    pipeline: str | None = None,
    kind: Literal["failure", "retry", "success", "sla_miss"] | None = None,
    since: Annotated[datetime | None, Query(description="raised at or after (ISO)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Recorded alerts, newest first, as ``dagwell alerts --json`` prints them."""
    from dagwell.execution.alerts import list_alerts as alerts

    found = alerts(
        run_id=run_id, pipeline=pipeline, kind=kind, since=since, limit=limit, settings=settings
    )
    return [a.to_dict() for a in found]

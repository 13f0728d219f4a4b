"""``/api/v1/lineage`` and ``/api/v1/datasets``: where a model or an artifact came from,
what was made from a dataset, and every recorded dataset version."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.schemas import DatasetVersionOut, LineageNodeOut
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["lineage"])


@router.get("/lineage", response_model=LineageNodeOut)
def get_lineage(
    ref: Annotated[
        str,
        Query(
            min_length=1,
            description="model:NAME@VERSION (or @ALIAS), RUN:NODE, a dataset path or URL, "
            "or an artifact hash prefix",
        ),
    ],
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    direction: Literal["upstream", "downstream"] = "upstream",
    depth: Annotated[int, Query(ge=1, le=100)] = 30,
) -> dict[str, Any]:
    """The lineage tree of ``ref``: its sources (``upstream``) or what was made from it
    (``downstream``), as ``dagwell lineage REF --json`` prints it."""
    from dagwell.tracking.lineage import lineage

    return lineage(ref, direction, settings=settings, depth=depth).to_dict()


@router.get("/datasets", response_model=list[DatasetVersionOut])
def list_datasets(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    uri: Annotated[str | None, Query(description="only this dataset's versions")] = None,
) -> list[dict[str, Any]]:
    """Every recorded version of every dataset (or of ``uri``), with the runs that read it."""
    from dagwell.execution.runs import list_datasets as versions

    return [v.to_dict() for v in versions(uri, settings=settings)]

"""``/api/v1/models``: registered models, their versions and aliases, and moving an alias."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from dagwell.interfaces.web import actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.schemas import AliasIn, ModelDetailOut, ModelOut, ModelVersionOut
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["models"])


@router.get("/models", response_model=list[ModelOut])
def list_models(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> list[dict[str, Any]]:
    """Every registered model, by name, with its newest version and its aliases."""
    from dagwell.tracking.registry import models

    return [m.to_dict() for m in models.list(settings=settings)]


@router.get("/models/{name}", response_model=ModelDetailOut)
def get_model(
    name: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> dict[str, Any]:
    """One model with all its versions (oldest first), the run that made each, and aliases."""
    from dagwell.tracking.registry import models

    versions = models.versions(name, settings=settings)  # NotFoundError: 404
    summary = next(m for m in models.list(settings=settings) if m.name == name)
    return {**summary.to_dict(), "versions": [v.to_dict() for v in versions]}


@router.put("/models/{name}/aliases/{alias}", response_model=ModelVersionOut)
def set_alias(
    name: str,
    alias: str,
    body: AliasIn,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("set_alias"))],
) -> dict[str, Any]:
    """Point ``alias`` of model ``name`` at ``version`` (moving it if set); answers that
    version. 404 for an unknown model or version, 422 for a name an alias cannot have."""
    return actions.set_alias(who, name, body.version, alias, settings).to_dict()

"""The JSON API's answers that belong to no one topic: errors and the health check."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Every error answer: what went wrong and, when known, how to fix it."""

    error: str
    hint: str | None = None


class HealthOut(BaseModel):
    """``GET /api/v1/health``."""

    status: str = Field(description="'ok' when the metadata database answers")
    version: str
    open: bool = Field(description="true when the UI runs open: no users, loopback only")
    scheduler: bool = Field(description="true when this server also runs the scheduler")

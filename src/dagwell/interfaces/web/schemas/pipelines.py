"""The JSON API's answers about pipelines: what the scheduler registered, their params and
recent runs, and the body that triggers a run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RunBriefOut(BaseModel):
    id: str
    status: str
    trigger: str
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    duration: float | None


class ParamOut(BaseModel):
    name: str
    type: str | None
    default: Any = Field(description="the default as JSON (or text); null when required")
    required: bool


class PipelineOut(BaseModel):
    """A pipeline the scheduler registered, or one known only from its runs."""

    name: str
    registered: bool
    active: bool
    source: str | None
    description: str
    schedule: str | None
    timezone: str | None
    next_due_at: str | None
    max_active_runs: int | None
    run_counts: dict[str, int] = Field(description="runs in each state")
    success_rate: float | None = Field(
        description="succeeded / finished over the recent finished runs; null when none"
    )
    last_runs: list[RunBriefOut]


class PipelineDetailOut(PipelineOut):
    params: list[ParamOut]
    schedule_params: dict[str, Any]


class TriggerIn(BaseModel):
    """The body of ``POST /pipelines/{name}/runs``.

    Values are checked against the pipeline's params; text is converted to a param's
    annotated type (as ``dagwell trigger -p`` does), so form fields may be sent as text.
    """

    params: dict[str, Any] = Field(default_factory=dict)

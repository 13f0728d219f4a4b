"""The JSON API's answers about runs: one run with its nodes, attempts, outputs, metrics and
alerts; pages of runs; a run's graph, timeline and metric series; queued and cancelled runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AttemptOut(BaseModel):
    number: int
    status: str
    started_at: str | None
    ended_at: str | None
    error: str | None
    traceback: str | None
    log_path: str | None


class StoredValueOut(BaseModel):
    """Where a node output lives: an artifact hash, or the value itself when small."""

    hash: str
    serializer: str
    size: int
    type: str
    inline: Any = Field(default=None, description="the value, when held in the database")
    length: int | None = None


class TaskRunOut(BaseModel):
    node: str
    task: str
    status: str
    started_at: str | None
    ended_at: str | None
    duration: float | None
    upstream: list[str]
    map_parent: str | None
    error: str | None
    attempts: list[AttemptOut]
    outputs: dict[str, StoredValueOut]
    params: dict[str, Any]


class MetricPointOut(BaseModel):
    node: str
    name: str
    value: float | None = Field(description="null for NaN and infinite values")
    step: int | None
    time: str | None


class DeliveryOut(BaseModel):
    notifier: str
    ok: bool
    tries: int
    error: str | None


class AlertOut(BaseModel):
    id: str
    kind: str
    pipeline: str
    run_id: str
    node: str | None
    attempt: int | None
    summary: str
    created_at: str
    deliveries: list[DeliveryOut]


class _RunFields(BaseModel):
    """What every answer about one run holds first (a base, not an answer itself)."""

    id: str
    pipeline: str
    status: str
    params: dict[str, Any]
    started_at: str | None
    ended_at: str | None
    duration: float | None
    error: str | None
    code_hash: str | None
    trigger: str
    scheduled_for: str | None
    parent_run_id: str | None
    cancel_requested_by: str | None = None
    cancel_requested_at: str | None = None


class RunOut(_RunFields):
    """One run without its nodes: a line of the runs listing."""

    task_counts: dict[str, int] = Field(
        default_factory=dict, description="how many nodes are in each state"
    )


class RunDetailOut(_RunFields):
    """One run with everything recorded: the shape of ``dagwell show RUN --json``."""

    environment: dict[str, Any] | None
    tasks: list[TaskRunOut]
    metrics: list[MetricPointOut]
    alerts: list[AlertOut]


class RunPageOut(BaseModel):
    """A page of runs, newest first; pass ``next`` as ``cursor`` for the following page."""

    runs: list[RunOut]
    next: str | None = Field(description="cursor of the next page; null on the last page")


class GraphNodeOut(BaseModel):
    id: str
    task: str
    status: str
    map_parent: str | None
    attempts: int
    duration: float | None
    error: str | None


class GraphEdgeOut(BaseModel):
    source: str
    target: str
    kind: str = Field(description="'data' from an upstream node, 'map' to a fan-out item")


class GraphOut(BaseModel):
    """A run's DAG: nodes with their state, and edges from each upstream node."""

    run_id: str
    status: str
    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]


class AttemptBarOut(BaseModel):
    """One attempt of one node on the run's timeline."""

    node: str
    number: int
    status: str
    started_at: str | None
    ended_at: str | None
    duration: float | None
    error: str | None


class AttemptsOut(BaseModel):
    run_id: str
    started_at: str | None
    ended_at: str | None
    attempts: list[AttemptBarOut]


class MetricStepOut(BaseModel):
    step: int | None
    value: float | None
    time: str | None


class MetricSeriesOut(BaseModel):
    node: str
    name: str
    points: list[MetricStepOut]


class RunMetricsOut(BaseModel):
    run_id: str
    series: list[MetricSeriesOut]


class QueuedOut(BaseModel):
    """A run queued for the scheduler (a trigger or a resume)."""

    id: str
    pipeline: str
    status: str
    trigger: str
    parent_run_id: str | None = None


class CancelOut(BaseModel):
    id: str
    status: str

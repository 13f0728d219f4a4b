"""The shapes the JSON API answers with, as pydantic models, so OpenAPI documents them.

Routes build plain dicts (mostly the ``to_dict()`` of library records, the same JSON the
CLI prints with ``--json``) and declare one of these as ``response_model``. Times are ISO
8601 text in UTC; durations are seconds.
"""

from __future__ import annotations

from typing import Any

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


# -- runs -------------------------------------------------------------------------------------


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


# -- pipelines --------------------------------------------------------------------------------


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


# -- models, datasets, lineage ----------------------------------------------------------------


class ModelOut(BaseModel):
    name: str
    latest_version: int
    version_count: int
    aliases: dict[str, int]
    updated_at: str | None


class ModelVersionOut(BaseModel):
    name: str
    version: int
    run_id: str | None
    node: str | None
    aliases: list[str]
    metadata: dict[str, Any]
    created_at: str | None
    artifact_hash: str
    type: str
    size: int


class ModelDetailOut(ModelOut):
    versions: list[ModelVersionOut]


class AliasIn(BaseModel):
    """The body of ``PUT /models/{name}/aliases/{alias}``."""

    version: int = Field(ge=1)


class DatasetReadOut(BaseModel):
    run: str
    node: str


class DatasetVersionOut(BaseModel):
    uri: str
    version: str
    size: int
    files: int
    snapshot: str | None
    first_seen: str
    runs: list[DatasetReadOut]


class LineageNodeOut(BaseModel):
    """A node of a lineage tree; ``ref`` is what ``/lineage?ref=`` takes to start there."""

    kind: str
    label: str
    ref: str
    children: list[LineageNodeOut]


class TriggerIn(BaseModel):
    """The body of ``POST /pipelines/{name}/runs``.

    Values are checked against the pipeline's params; text is converted to a param's
    annotated type (as ``dagwell trigger -p`` does), so form fields may be sent as text.
    """

    params: dict[str, Any] = Field(default_factory=dict)


# -- artifacts --------------------------------------------------------------------------------


class PreviewOut(BaseModel):
    """A small, safe look at a stored value (never unpickled).

    ``kind`` is ``table`` (``columns``, ``dtypes``, ``rows``: the head, ``shape``),
    ``array`` (``shape``, ``dtype``, ``stats``, ``head``), ``value`` (small JSON in
    ``value``, or ``text``), or ``metadata`` when the value is not previewed (pickled, too
    big): then only ``serializer``, ``type`` and ``size`` say what it is.
    """

    kind: str
    serializer: str
    type: str
    size: int
    hash: str | None = None
    truncated: bool = False
    reason: str | None = None
    value: Any = None
    text: str | None = None
    columns: list[str] | None = None
    dtypes: dict[str, str] | None = None
    rows: list[list[Any]] | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    stats: dict[str, float | None] | None = None
    head: list[Any] | None = None


# -- accounts ---------------------------------------------------------------------------------


class MeOut(BaseModel):
    """``GET /api/v1/me``: who is asking, and what they may do (pages hide the rest)."""

    name: str
    role: str | None
    anonymous: bool
    via: str = Field(description="'session', 'token', or 'open' (no users: everyone admin)")
    open: bool
    actions: list[str] = Field(description="the actions this role may take, sorted")


class UserOut(BaseModel):
    name: str
    role: str
    has_password: bool
    created_at: str
    updated_at: str


class UserIn(BaseModel):
    """The body of ``POST /users``; without a password the user signs in with tokens only."""

    name: str
    role: str = Field(description="viewer, operator or admin")
    password: str | None = Field(default=None, description="at least 8 characters")


class RoleIn(BaseModel):
    """The body of ``PUT /users/{name}/role``."""

    role: str = Field(description="viewer, operator or admin")


class UserRemovedOut(BaseModel):
    name: str
    tokens_revoked: int


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    revoked: bool


class TokenIn(BaseModel):
    """The body of ``POST /tokens``: whose token (they act with that user's role)."""

    user: str
    label: str = ""


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the secret, shown this once: 'Authorization: Bearer ...'")


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str = Field(description="ok, denied or failed")
    source: str = Field(description="ui, api or cli")
    detail: dict[str, Any]

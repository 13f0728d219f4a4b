"""The JSON API's answers about tracked records: models and their versions and aliases,
dataset versions, lineage trees, and previews of stored artifacts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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

"""Artifact downloads and previews: ``/api/v1/artifacts/{hash}`` (the stored bytes) and
``/api/v1/runs/{id}/outputs/{node}/{name}/preview`` (a safe look at a node output).

Nothing outside the artifact store is ever read: a hash must be 64 lowercase hex digits
(anything else is refused before a path is built), and the store maps it to
``objects/ab/cdef…`` under its root. Nothing is unpickled: see
:mod:`dagwell.storage.previews`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from dagwell.errors import NotFoundError
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.problems import ApiError
from dagwell.interfaces.web.schemas import PreviewOut
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["artifacts"])

HASH = re.compile(r"[0-9a-f]{64}")
"""What an artifact's content address looks like (a BLAKE3 hex digest)."""

CONTENT_TYPES = {
    "json": ("application/json", "json"),
    "npy": ("application/x-npy", "npy"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "arrow-parquet": ("application/vnd.apache.parquet", "parquet"),
    "pickle": ("application/octet-stream", "pkl"),
}
"""Content type and file extension of a download, by the artifact's serializer."""

CHUNK = 1024 * 1024


@router.get(
    "/artifacts/{hash}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The bytes"},
        400: {"description": "Not an artifact hash"},
    },
)
def download(
    hash: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> StreamingResponse:
    """The stored bytes of artifact ``hash``, as an attachment. The UI never loads them:
    a pickled artifact (``.pkl``) runs code when unpickled, so open it only if you trust
    the run that made it."""
    from dagwell.storage.metadata.output_rows import find_artifact
    from dagwell.storage.shared import artifact_store, metadata_store

    if HASH.fullmatch(hash) is None:
        hint = "an artifact hash is 64 lowercase hex digits"
        raise ApiError(400, f"not an artifact hash: {hash[:80]!r}", hint)
    with metadata_store(settings.db_url).reading() as conn:
        recorded = find_artifact(conn, hash)
    store = artifact_store(settings.artifacts_url, settings)
    fileobj = store.open(hash)  # NotFoundError (404) when it is not stored
    kind, extension = CONTENT_TYPES.get(
        recorded.serializer if recorded else "", ("application/octet-stream", "bin")
    )
    headers = {
        "Content-Disposition": f'attachment; filename="{hash[:16]}.{extension}"',
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(_chunks(fileobj), media_type=kind, headers=headers)


def _chunks(fileobj: IO[bytes]) -> Iterator[bytes]:
    with fileobj:
        while chunk := fileobj.read(CHUNK):
            yield chunk


@router.get(
    "/runs/{run_id}/outputs/{node}/{name}/preview",
    response_model=PreviewOut,
    response_model_exclude_unset=True,
)
def preview_output(
    run_id: str,
    node: str,
    name: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> dict[str, Any]:
    """A preview of output ``name`` of ``node``: a table's first rows, an array's shape and
    stats, a small value; for a pickled value only its type and size (never unpickled)."""
    from dagwell.execution.runs import get_run
    from dagwell.storage.previews import preview
    from dagwell.storage.shared import artifact_store

    found = get_run(run_id, settings=settings)
    task = found.tasks.get(node)
    if task is None:
        raise NotFoundError(f"run {found.id} has no node {node!r}")
    stored = task.outputs.get(name)
    if stored is None:
        listed = ", ".join(task.outputs) or "none recorded"
        raise NotFoundError(f"node {node!r} of run {found.id} has no output {name!r} ({listed})")
    return preview(artifact_store(settings.artifacts_url, settings), stored)

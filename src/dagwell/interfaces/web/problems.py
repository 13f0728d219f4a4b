"""Errors as JSON: ``{"error": ..., "hint": ...}`` with the status code that fits.

Library errors map by class (not found 404, a state that forbids the action 409, a bad
definition or param 422, storage down 503); routes raise :class:`ApiError` for anything
else. Outside ``/api`` (the pages), errors are rendered by the ``error_page`` the app was
built with, if any (else library errors as JSON, HTTP errors as Starlette renders them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from dagwell.errors import (
    DagwellError,
    DefinitionError,
    NotFoundError,
    RunStateError,
    StorageError,
)

STATUS_BY_ERROR: list[tuple[type[DagwellError], int, str | None]] = [
    (NotFoundError, 404, "check the name or id: GET /api/v1/runs, /pipelines or /models"),
    (RunStateError, 409, None),
    (DefinitionError, 422, None),
    (StorageError, 503, "the metadata database or the artifact store is unavailable"),
    (DagwellError, 500, None),
]
"""Status code and default hint per library error class, most specific first."""


class ApiError(Exception):
    """An error a route answers with: an HTTP ``status``, a message and a hint to fix it.

    >>> raise ApiError(400, "not an artifact hash: 'x'", hint="64 lowercase hex digits")
    """

    def __init__(self, status: int, error: str, hint: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.hint = hint


def problem(status: int, error: str, hint: str | None = None, **headers: str) -> JSONResponse:
    """The JSON response for an error."""
    return JSONResponse({"error": error, "hint": hint}, status_code=status, headers=headers)


ErrorPage = Callable[[Request, int, str, "str | None"], Response]
"""Renders an error on a page (not under ``/api``): request, status, message, hint."""


def install(app: FastAPI, *, error_page: ErrorPage | None = None) -> None:
    """Register the handlers that render errors on ``app``: JSON under ``/api`` and for
    ``/metrics``; elsewhere (the pages) with ``error_page`` when given."""
    app.state.error_page = error_page
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DagwellError, _dagwell_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


def render(request: Request, status: int, error: str, hint: str | None) -> Response:
    """The error answer for ``request``: the app's error page outside ``/api``, if it has
    one; JSON otherwise."""
    page: ErrorPage | None = request.app.state.error_page
    if page is not None and not is_api_path(request.url.path):
        return page(request, status, error, hint)
    return problem(status, error, hint)


def is_api_path(path: str) -> bool:
    """True for the paths answered in JSON (and plain text), never as a page: ``/api/...``
    and ``/metrics``."""
    return path.startswith("/api/") or path == "/metrics"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render(request, exc.status, exc.error, exc.hint)


async def _dagwell_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DagwellError)
    status, hint = next((s, h) for kind, s, h in STATUS_BY_ERROR if isinstance(exc, kind))
    return render(request, status, str(exc), hint)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = [_describe(error) for error in exc.errors()]
    return render(request, 422, "; ".join(parts) or "invalid request", "see /api/v1/openapi.json")


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not is_api_path(request.url.path):
        if request.app.state.error_page is None:
            return await http_exception_handler(request, exc)
        return render(request, exc.status_code, str(exc.detail), None)
    hint = "see /api/v1/openapi.json for the routes" if exc.status_code in (404, 405) else None
    return problem(exc.status_code, str(exc.detail), hint, **(exc.headers or {}))

"""The FastAPI app: the JSON API under ``/api/v1``, ``/metrics``, sign-in, and room for the
pages.

:func:`create_app` builds it from settings passed in; ``dagwell ui`` serves it with
uvicorn. Pages and static files plug in through its arguments::

    app = create_app(
        settings, open_mode=True, routers=[pages.router], static_dir=STATIC, error_page=page
    )

Routers are included after the API, so a pages router may own ``/`` and anything outside
``/api``; ``static_dir`` is served at ``/static``; ``error_page(request, status, error,
hint)`` renders errors raised outside ``/api`` (the API's are JSON). Every route declares
what it needs with ``Depends(require(action))`` from :mod:`dagwell.interfaces.web.access`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, FastAPI

from dagwell import __version__
from dagwell.interfaces.web import (
    access,
    api_accounts,
    api_alerts,
    api_artifacts,
    api_lineage,
    api_models,
    api_pipelines,
    api_runs,
    auth_routes,
    metrics,
    problems,
)
from dagwell.interfaces.web.responses import JsonResponse
from dagwell.interfaces.web.schemas import ErrorOut, HealthOut
from dagwell.interfaces.web.sessions import SessionCookies
from dagwell.interfaces.web.state import WebState, web_state
from dagwell.settings import Settings

API_PREFIX = "/api/v1"

API_MODULES = (
    api_runs,
    api_pipelines,
    api_models,
    api_lineage,
    api_alerts,
    api_artifacts,
    api_accounts,
)
"""The modules whose ``router`` is served under :data:`API_PREFIX`."""


class Service(Protocol):
    """Something that runs beside the app while it serves (the scheduler): started before
    the first request, stopped after the last."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    settings: Settings,
    *,
    open_mode: bool,
    routers: Sequence[APIRouter] = (),
    static_dir: str | Path | None = None,
    services: Sequence[Service] = (),
    error_page: problems.ErrorPage | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The web app over the records ``settings`` point at.

    ``open_mode`` lets everyone in as an anonymous admin (loopback, no users); ``routers``
    (the pages) are included after the API; ``static_dir`` is mounted at ``/static``;
    ``services`` start and stop with the app; ``error_page`` renders errors outside
    ``/api`` (a page's 404), which are JSON otherwise. Without ``open_mode``, people sign
    in at ``/login`` (a session cookie, ``Secure`` on https, or always with
    ``secure_cookies``) and scripts send API tokens: see
    :mod:`dagwell.interfaces.web.access`.

    >>> app = create_app(Settings.from_env(), open_mode=True)
    >>> TestClient(app).get("/api/v1/health").json()["status"]
    'ok'
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Service] = []
        try:
            for service in services:
                service.start()
                started.append(service)
            yield
        finally:
            for service in reversed(started):
                service.stop()

    app = FastAPI(
        title="dagwell",
        version=__version__,
        description="Runs, pipelines, models, lineage and artifacts recorded by dagwell.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI loads its script from a CDN; the UI vendors its own
        redoc_url=None,
        default_response_class=JsonResponse,
        lifespan=lifespan,
        responses={
            401: {"model": ErrorOut, "description": "Sign-in required"},
            403: {"model": ErrorOut, "description": "Not allowed for this role"},
            404: {"model": ErrorOut, "description": "Not found"},
            422: {"model": ErrorOut, "description": "Invalid input"},
        },
    )
    app.state.dagwell = WebState(settings, open_mode=open_mode)
    app.state.services = list(services)
    app.state.sessions = SessionCookies(settings, secure=secure_cookies)
    app.state.login_throttle = auth_routes.LoginThrottle()
    problems.install(app, error_page=error_page)
    app.add_exception_handler(access.SignInRequired, access.sign_in_required)
    app.add_middleware(
        access.AccessMiddleware,
        settings=settings,
        open_mode=open_mode,
        cookies=app.state.sessions,
    )
    app.include_router(_health_router(scheduler=bool(services)), prefix=API_PREFIX)
    for api in API_MODULES:
        app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    app.include_router(auth_routes.router)
    for router in routers:
        app.include_router(router)
    if static_dir is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    return app


def _health_router(*, scheduler: bool) -> APIRouter:
    router = APIRouter(tags=["system"])

    @router.get("/health", response_model=HealthOut)
    def health(
        state: Annotated[WebState, Depends(web_state)],
        who: Annotated[access.Principal, Depends(access.require("health"))],
    ) -> dict[str, object]:
        """Whether the server and its metadata database answer."""
        from sqlalchemy import text

        from dagwell.storage.shared import metadata_store

        with metadata_store(state.settings.db_url).reading() as conn:
            conn.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "version": __version__,
            "open": state.open_mode,
            "scheduler": scheduler,
        }

    return router

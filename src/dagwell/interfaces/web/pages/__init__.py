"""The web UI's HTML pages: server-rendered with Jinja2, live parts refreshed with htmx.

One module per page family, each with its own ``router``; :data:`router` holds them all,
for :func:`~dagwell.interfaces.web.app.create_app` together with :data:`STATIC_DIR` and
:func:`error_page`::

    create_app(settings, open_mode=True, routers=[pages.router],
               static_dir=pages.STATIC_DIR, error_page=pages.error_page)

- :mod:`.pipelines`: ``/`` and the trigger form ``/pipelines/{name}/trigger``;
- :mod:`.runs`: ``/runs``, filtered and paged;
- :mod:`.run` and :mod:`.nodes`: ``/runs/{id}`` and its live fragments, node panel, log,
  previews, code files, resume and cancel;
- :mod:`.compare`: ``/compare?run=A&run=B``;
- :mod:`.lineage`: ``/lineage?ref=...``;
- :mod:`.catalog`: ``/datasets``, ``/models``, ``/models/{name}``, ``/alerts``;
- :mod:`.admin`: ``/audit`` and ``/users`` (users and API tokens), for admins.

Every route declares one ``Depends(require(action))``; buttons a user may not press are
not drawn (:func:`~dagwell.interfaces.web.pages.rendering.can`).
"""

from __future__ import annotations

from fastapi import APIRouter

from dagwell.interfaces.web.pages import (
    admin,
    catalog,
    compare,
    lineage,
    nodes,
    pipelines,
    run,
    runs,
)
from dagwell.interfaces.web.pages.errors import error_page
from dagwell.interfaces.web.pages.rendering import STATIC_DIR

ROUTERS = (
    pipelines.router,
    runs.router,
    run.router,
    nodes.router,
    compare.router,
    lineage.router,
    catalog.router,
    admin.router,
)
"""Every page family's router, in the order they are included."""

router = APIRouter(include_in_schema=False)
"""All the pages (left out of the API's OpenAPI document)."""
for _family in ROUTERS:
    router.include_router(_family)

__all__ = ["ROUTERS", "STATIC_DIR", "error_page", "router"]

"""How pages are rendered: the Jinja environment (autoescape on), the filters and helpers
templates use, who is acting, and whether a request wants a fragment or the whole page.

Templates live in ``interfaces/web/templates``; every page extends ``base.html``. Nothing
a user typed is ever marked safe: only the SVG of :mod:`~dagwell.interfaces.web.pictures`
is (it escapes every name itself), through :func:`picture`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from dagwell.core.roles import allows
from dagwell.interfaces.web.access import Principal
from dagwell.interfaces.web.pictures import palette
from dagwell.interfaces.web.pictures.gantt import format_duration

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
"""The pages' Jinja templates."""

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""The stylesheet and htmx, served at ``/static``."""

POLL_SECONDS = 2
"""How often a page showing something live asks for news."""


def acting(request: Request, who: Principal) -> Principal:
    """Who is acting on this request: the principal the sign-in middleware put on
    ``request.state``, else the one the route's access dependency let in."""
    found: Principal | None = getattr(request.state, "principal", None)
    return found if found is not None else who


def can(who: Principal | None, action: str) -> bool:
    """Whether ``who`` may take ``action``: decides which buttons and forms a page shows
    (the route behind each checks again)."""
    role = getattr(who, "role", None)
    return role is not None and allows(role, action)


def wants_fragment(request: Request) -> bool:
    """True for an htmx request that will swap the answer into the page; a plain request
    (a reload, a bookmarked fragment URL) and htmx's history restore want the whole page."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != (
        "true"
    )


def picture(svg: str) -> Markup:
    """SVG text from :mod:`~dagwell.interfaces.web.pictures`, marked safe to embed: those
    functions escape every name and label they draw."""
    return Markup(svg)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render template ``name`` with ``context`` plus ``request`` and ``csrf_token``."""
    values = {"csrf_token": str(getattr(request.state, "csrf_token", "") or ""), **context}
    response: HTMLResponse = templates.TemplateResponse(
        request, name, values, status_code=status, headers=dict(headers or {})
    )
    return response


# -- filters ------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    """A time as this server's local time, to the second; an em dash when unknown."""
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime | None) -> str:
    """A time in ISO 8601, for ``<time datetime=...>``."""
    return moment.isoformat() if moment is not None else ""


def duration(seconds: float | None) -> str:
    """Seconds as ``850ms``, ``12.3s``, ``4m 05s``; an em dash when unknown."""
    return "—" if seconds is None else format_duration(seconds)


def size(count: int | None) -> str:
    """Bytes as ``812 B``, ``4.2 kB``, ``1.3 MB``."""
    if count is None:
        return "—"
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns


def show(value: Any) -> str:
    """A param or metadata value as compact JSON text (strings as they are)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)


def number(value: Any) -> str:
    """A metric value with up to 6 significant digits."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.6g}"
    return show(value)


def percent(value: float | None) -> str:
    """A rate in 0..1 as a whole percentage; an em dash when unknown."""
    return "—" if value is None else f"{round(value * 100)}%"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        iso=iso,
        duration=duration,
        size=size,
        show=show,
        number=number,
        percent=percent,
        state_class=palette.state_class,
    )
    env.globals.update(can=can, poll_seconds=POLL_SECONDS)
    return env


templates = Jinja2Templates(env=_environment())
"""The pages' templates: autoescaped, with the filters above."""

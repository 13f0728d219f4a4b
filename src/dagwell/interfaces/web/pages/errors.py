"""The error page: a 404 (or any error a page raises) as HTML in the site's frame, with
the message and the hint that says what to do. The app renders errors under ``/api`` as
JSON; see :mod:`dagwell.interfaces.web.problems`."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import Response

from dagwell.interfaces.web.pages.rendering import render


def error_page(request: Request, status: int, error: str, hint: str | None) -> Response:
    """Render an error as a page (the ``error_page`` of :func:`create_app`).

    >>> create_app(settings, open_mode=True, routers=[pages.router], error_page=error_page)
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    if status == 404 and error == "Not Found":
        error = f"Nothing here: {request.url.path}"
    context = {"status": status, "reason": reason, "error": error, "hint": hint}
    return render(request, "error.html", context, status=status)

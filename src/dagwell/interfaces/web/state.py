"""What every route of the web app shares: the settings and the access mode, kept on the app.

Built once by :func:`~dagwell.interfaces.web.app.create_app` and read by routes through the
:func:`web_state` and :func:`settings_of` dependencies, so nothing reads the environment
while serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dagwell.settings import Settings


@dataclass(frozen=True)
class WebState:
    """The app's configuration: where the records are and whether the UI runs open.

    ``open_mode`` means no users are configured and the server is bound to loopback:
    everyone acts as an anonymous admin, and every response says so.

    >>> state = WebState(Settings.from_env(), open_mode=True)
    """

    settings: Settings
    open_mode: bool


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request`` (a FastAPI dependency)."""
    state: WebState = request.app.state.dagwell
    return state


def settings_of(request: Request) -> Settings:
    """The settings of the app serving ``request`` (a FastAPI dependency).

    >>> @router.get("/things")
    ... def things(settings: SettingsDep): ...
    """
    return web_state(request).settings


SettingsDep = Annotated[Settings, Depends(settings_of)]
"""A route parameter receiving the app's settings."""

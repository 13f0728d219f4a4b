"""How pages plug into the app: a router after the API, static files, an error page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient

import dagwell as dw
from dagwell.errors import NotFoundError
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.app import create_app


class Recorder:
    """A service that notes when it starts and stops."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")


def pages() -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    def home(who: Annotated[Principal, Depends(require("view"))]) -> str:
        return f"<h1>hello {who.name}</h1>"

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str, who: Annotated[Principal, Depends(require("view"))]) -> str:
        raise NotFoundError(f"no run with id {run_id!r}")

    return router


def error_page(request: Request, status: int, error: str, hint: str | None) -> Response:
    return HTMLResponse(f"<p class=error>{error}</p>", status_code=status)


def test_pages_static_files_and_error_pages_plug_in(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body { margin: 0 }")
    service = Recorder()
    app = create_app(
        dw.Settings.from_env({}, home=tmp_path / "home"),
        open_mode=True,
        routers=[pages()],
        static_dir=static,
        error_page=error_page,
        services=[service],
    )
    with TestClient(app) as client:
        assert service.events == ["start"]
        assert client.get("/").text == "<h1>hello anonymous</h1>"
        assert client.get("/static/app.css").text == "body { margin: 0 }"
        missing = client.get("/runs/abc")
        assert missing.status_code == 404
        assert missing.text == "<p class=error>no run with id 'abc'</p>"
        assert client.get("/nowhere").headers["content-type"].startswith("text/html")
        api = client.get("/api/v1/runs/abc")
        assert api.status_code == 404 and api.json()["error"].startswith("no run with id 'abc'")
        assert client.get("/api/v1/health").json()["scheduler"] is True
    assert service.events == ["start", "stop"]


def test_without_an_error_page_page_errors_are_json(tmp_path: Path) -> None:
    app = create_app(dw.Settings.from_env({}, home=tmp_path), open_mode=True, routers=[pages()])
    client = TestClient(app)
    assert client.get("/runs/abc").json()["error"] == "no run with id 'abc'"
    assert client.get("/nowhere").json() == {"detail": "Not Found"}

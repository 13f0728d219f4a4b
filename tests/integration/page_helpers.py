"""The app with its HTML pages, for the page tests: the API, the pages, the static files and
the error page, as ``dagwell ui`` serves them; optionally with a fixed signed-in user, or
a real one signed in through ``/login``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

import dagwell as dw
from dagwell.interfaces.web import pages
from dagwell.interfaces.web.access import Principal
from dagwell.interfaces.web.app import create_app


class ActAs:
    """ASGI middleware putting ``principal`` on ``request.state``, as sign-in does."""

    def __init__(self, app: ASGIApp, *, principal: Principal) -> None:
        self.app = app
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["principal"] = self.principal
        await self.app(scope, receive, send)


def pages_app(settings: dw.Settings, *, principal: Principal | None = None) -> FastAPI:
    """The open app over ``settings`` with the pages; with ``principal``, every request
    acts as them (set after the app's own access middleware, so it wins)."""
    app = create_app(
        settings,
        open_mode=True,
        routers=[pages.router],
        static_dir=pages.STATIC_DIR,
        error_page=pages.error_page,
    )
    if principal is not None:
        # user_middleware runs outermost first: appended, ours runs after sign-in's.
        app.user_middleware.append(Middleware(ActAs, principal=principal))
    return app


def signed_in(settings: dw.Settings, name: str, password: str) -> tuple[TestClient, str]:
    """A client of the app with users (as ``dagwell ui`` serves it) signed in as ``name``
    through ``/login``, and its session's CSRF token (read from a page's meta tag)."""
    import re

    app = create_app(
        settings,
        open_mode=False,
        routers=[pages.router],
        static_dir=pages.STATIC_DIR,
        error_page=pages.error_page,
    )
    app.state.login_throttle.delay = 0
    client = TestClient(app)
    login = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert login is not None
    data = {"name": name, "password": password, "csrf_token": login[1]}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    session = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/").text)
    assert session is not None
    return client, session[1]


def seed_runs(settings: dw.Settings, count: int, *, nodes: int = 3) -> list[str]:
    """Record ``count`` finished runs of a few pipelines straight into the metadata store
    (each with ``nodes`` nodes), as a busy install has them; their ids, newest first."""
    from datetime import datetime, timedelta, timezone

    from dagwell.storage.metadata.tables import runs, task_runs
    from dagwell.storage.shared import metadata_store

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    statuses = ("succeeded", "succeeded", "succeeded", "failed")
    run_rows, task_rows = [], []
    for i in range(count):
        created = start + timedelta(minutes=i)
        status = statuses[i % len(statuses)]
        run_id = f"seed{i:08x}"
        run_rows.append(
            {
                "id": run_id,
                "pipeline": f"pipeline_{i % 7}",
                "status": status,
                "params": {"i": i},
                "created_at": created,
                "started_at": created,
                "ended_at": created + timedelta(seconds=5),
                "executor": "process",
                "trigger": "schedule" if i % 3 else "manual",
            }
        )
        task_rows += [
            {
                "run_id": run_id,
                "node": f"step{n}",
                "seq": n,
                "task": f"step{n}",
                "status": status if n == nodes - 1 else "succeeded",
                "upstream": [f"step{n - 1}"] if n else [],
                "attempts": 1,
            }
            for n in range(nodes)
        ]
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        tx.execute(runs.insert(), run_rows)
        tx.execute(task_runs.insert(), task_rows)
    return [row["id"] for row in reversed(run_rows)]


def seed_wide_run(settings: dw.Settings, width: int) -> str:
    """Record one run of ``width`` + 2 nodes (load, fit[0..width-1], pick), each with an
    attempt, a few failed; its id."""
    from datetime import datetime, timedelta, timezone

    from dagwell.storage.metadata.tables import attempts, runs, task_runs
    from dagwell.storage.shared import metadata_store

    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    run_id = "widewidewide"
    fits = [f"fit[{i}]" for i in range(width)]
    shape = [("load", []), *[(fit, ["load"]) for fit in fits], ("pick", fits)]
    task_rows, attempt_rows = [], []
    for seq, (node, upstream) in enumerate(shape):
        status = "failed" if seq % 97 == 5 else "succeeded"
        began = start + timedelta(seconds=seq % 50)
        task_rows.append(
            {
                "run_id": run_id,
                "node": node,
                "seq": seq,
                "task": node.partition("[")[0],
                "status": status,
                "upstream": upstream,
                "attempts": 1,
                "started_at": began,
                "ended_at": began + timedelta(seconds=2),
            }
        )
        attempt_rows.append(
            {
                "run_id": run_id,
                "node": node,
                "number": 1,
                "status": status,
                "started_at": began,
                "ended_at": began + timedelta(seconds=2),
                "error": "ValueError: no" if status == "failed" else None,
            }
        )
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        tx.execute(
            runs.insert(),
            {
                "id": run_id,
                "pipeline": "wide",
                "status": "failed",
                "params": {},
                "created_at": start,
                "started_at": start,
                "ended_at": start + timedelta(minutes=2),
                "executor": "process",
                "trigger": "manual",
            },
        )
        tx.execute(task_runs.insert(), task_rows)
        tx.execute(attempts.insert(), attempt_rows)
    return run_id

"""The role matrix: every route of the app ``dagwell ui`` serves, asked by someone signed
out, by a viewer, an operator and an admin (signed in with the session cookie, and with an
API token), and with a bad token; each answer is what the permission table says.

The routes are read from the app itself, so a route added without a row in
:data:`DECISIONS` (or :data:`PAGE_DECISIONS`) fails here until someone decides who may use
it. The table repeats ``core/roles.py`` on purpose: a route declaring the wrong action, or
none, shows up as a wrong status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

import dagwell as dw
from dagwell.core.roles import Role, allows
from dagwell.interfaces.web.app import create_app
from dagwell.interfaces.web.sessions import SESSION_COOKIE, SessionCodec
from dagwell.tracking import accounts

PUBLIC = "public"
"""Anyone, signed in or not: the health probe, the API's schema, static files, sign-in."""

DECISIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/api/v1/runs"): "view",
    ("GET", "/api/v1/runs/{run_id}"): "view",
    ("GET", "/api/v1/runs/{run_id}/graph"): "view",
    ("GET", "/api/v1/runs/{run_id}/attempts"): "view",
    ("GET", "/api/v1/runs/{run_id}/metrics"): "view",
    ("GET", "/api/v1/runs/{run_id}/logs/{node}"): "view",
    ("POST", "/api/v1/runs/{run_id}/resume"): "resume",
    ("POST", "/api/v1/runs/{run_id}/cancel"): "cancel",
    ("GET", "/api/v1/pipelines"): "view",
    ("GET", "/api/v1/pipelines/{name}"): "view",
    ("POST", "/api/v1/pipelines/{name}/runs"): "trigger",
    ("GET", "/api/v1/models"): "view",
    ("GET", "/api/v1/models/{name}"): "view",
    ("PUT", "/api/v1/models/{name}/aliases/{alias}"): "set_alias",
    ("GET", "/api/v1/lineage"): "view",
    ("GET", "/api/v1/datasets"): "view",
    ("GET", "/api/v1/alerts"): "view",
    ("GET", "/api/v1/artifacts/{hash}"): "view",
    ("GET", "/api/v1/runs/{run_id}/outputs/{node}/{name}/preview"): "view",
    ("GET", "/api/v1/me"): "view",
    ("GET", "/api/v1/users"): "manage_users",
    ("POST", "/api/v1/users"): "manage_users",
    ("DELETE", "/api/v1/users/{name}"): "manage_users",
    ("PUT", "/api/v1/users/{name}/role"): "manage_users",
    ("GET", "/api/v1/tokens"): "manage_users",
    ("POST", "/api/v1/tokens"): "manage_users",
    ("DELETE", "/api/v1/tokens/{token_id}"): "manage_users",
    ("GET", "/api/v1/audit"): "view_audit",
    ("GET", "/metrics"): "view",  # Prometheus scrapes with a viewer's token
}
"""Who may use each route of the API, /metrics and sign-in: an action, or :data:`PUBLIC`."""

PAGE_DECISIONS: dict[tuple[str, str], str] = {
    ("GET", "/"): "view",
    ("GET", "/pipelines/{name}/trigger"): "trigger",
    ("POST", "/pipelines/{name}/trigger"): "trigger",
    ("GET", "/runs"): "view",
    ("GET", "/runs/{run_id}"): "view",
    ("GET", "/runs/{run_id}/live"): "view",
    ("GET", "/runs/{run_id}/code"): "view",
    ("POST", "/runs/{run_id}/resume"): "resume",
    ("POST", "/runs/{run_id}/cancel"): "cancel",
    ("GET", "/runs/{run_id}/node"): "view",
    ("GET", "/runs/{run_id}/log"): "view",
    ("GET", "/runs/{run_id}/preview"): "view",
    ("GET", "/compare"): "view",
    ("GET", "/lineage"): "view",
    ("GET", "/lineage/node"): "view",
    ("GET", "/datasets"): "view",
    ("GET", "/models"): "view",
    ("GET", "/models/{name}"): "view",
    ("POST", "/models/{name}/aliases"): "set_alias",
    ("GET", "/alerts"): "view",
    ("GET", "/audit"): "view_audit",
    ("GET", "/users"): "manage_users",
    ("POST", "/users"): "manage_users",
    ("POST", "/users/{name}/role"): "manage_users",
    ("POST", "/users/{name}/remove"): "manage_users",
    ("POST", "/tokens"): "manage_users",
    ("POST", "/tokens/{token_id}/revoke"): "manage_users",
}
"""Who may use each HTML page."""

PATH_VALUES = {
    "run_id": "nosuchrun",
    "name": "nosuch",
    "node": "n",
    "alias": "champion",
    "hash": "0" * 64,
    "token_id": "nosuch",
}
"""What each path parameter is filled with: nothing that exists, so no route changes a
thing; an allowed request gets as far as "not found" or "invalid"."""


def the_app(settings: dw.Settings) -> Any:
    """The app as ``dagwell ui`` serves it with users: API, sign-in and the pages."""
    try:
        from dagwell.interfaces.web import pages
    except ImportError:  # the pages are not there yet: the API alone
        return create_app(settings, open_mode=False), False
    app = create_app(
        settings,
        open_mode=False,
        routers=[pages.router],
        static_dir=pages.STATIC_DIR,
        error_page=pages.error_page,
    )
    return app, True


def flat_routes(app: Any) -> list[tuple[Any, str, set[str] | None]]:
    """Every route of ``app`` with its full path and methods, included routers opened."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers lists them all itself
        return [(r, r.path, getattr(r, "methods", None)) for r in app.routes]
    return [(c.original_route, c.path, c.methods) for c in iter_route_contexts(app.routes)]


def routes_of(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD aside; a mount as GET of its prefix."""
    routes = set()
    for route, path, methods in flat_routes(app):
        if isinstance(route, Mount):
            routes.add(("GET", path))
        else:
            routes.update((m, path) for m in methods or () if m != "HEAD")
    return routes


@dataclass
class Who:
    """One kind of caller: how it signs in and the role it has (None: none)."""

    label: str
    role: Role | None
    headers: dict[str, str]
    session: bool = False


@dataclass
class Matrix:
    client: TestClient
    decisions: dict[tuple[str, str], str]
    callers: list[Who]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    settings = dw.Settings.from_env({}, home=tmp_path_factory.mktemp("matrix") / "home")
    codec = SessionCodec(accounts.install_secret("session", settings=settings))
    callers = [
        Who("signed out", None, {}),
        Who("bad token", None, {"Authorization": "Bearer dwt_not-a-token"}),
    ]
    for role in Role:
        name = f"a-{role}"
        accounts.add_user(name, role, settings=settings)  # no password: sessions made here
        _, token = accounts.create_token(name, settings=settings)
        callers.append(Who(f"{role} token", role, {"Authorization": f"Bearer {token}"}))
        session = codec.start(name, f"csrf-of-{name}", accounts.password_stamp(None))
        cookie = {"Cookie": f"{SESSION_COOKIE}={codec.encode(session)}"}
        # The CSRF token is sent with every request: this is about roles, not forgery.
        headers = {**cookie, "X-CSRF-Token": session.csrf_token}
        callers.append(Who(f"{role} session", role, headers, session=True))
    app, with_pages = the_app(settings)
    app.state.login_throttle.delay = 0
    decisions = {**DECISIONS, **(PAGE_DECISIONS if with_pages else {})}
    with TestClient(app) as client:
        yield Matrix(client, decisions, callers)


def test_every_route_has_a_decision(matrix: Matrix) -> None:
    routes = routes_of(matrix.client.app)
    undecided = sorted(routes - matrix.decisions.keys())
    assert not undecided, f"add these routes to the role matrix (who may use them?): {undecided}"
    gone = sorted(matrix.decisions.keys() - routes)
    assert not gone, f"the role matrix lists routes the app no longer has: {gone}"


def test_every_api_route_declares_the_action_the_matrix_gives(matrix: Matrix) -> None:
    """A route's own ``require`` agrees with the table (public ones need a public action)."""
    for route, path, _ in flat_routes(matrix.client.app):
        if not isinstance(route, APIRoute):
            continue
        gates = [
            d.call.__name__.removeprefix("require_")
            for d in route.dependant.dependencies
            if d.call is not None and d.call.__name__.startswith("require_")
        ]
        for method in route.methods:
            decided = matrix.decisions[(method, path)]
            expected = {"health", "sign_in"} if decided == PUBLIC else {decided}
            assert len(gates) == 1 and gates[0] in expected, (method, path, gates)


def ask(client: TestClient, method: str, path: str, who: Who) -> Any:
    url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES.get(m[1], "x"), path)
    if path == "/static":
        url = "/static/dagwell.css"
    body: dict[str, Any] = {}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        body = {"json": {}} if url.startswith("/api/") else {"data": {"field": "x"}}
    try:
        return client.request(method, url, headers=who.headers, follow_redirects=False, **body)
    finally:
        client.cookies.clear()  # each request stands alone (sign-out clears the cookie)


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/metrics"


def check(decision: str, method: str, path: str, who: Who, answer: Any) -> str | None:
    """What is wrong with ``answer``, or None when it is what the table says."""
    status = answer.status_code
    if status >= 500:
        return f"server error {status}"
    if who.label == "bad token":
        ok = status == 401 and answer.json()["error"] == "invalid or revoked API token"
        return None if ok else f"a bad token got {status}"
    if decision == PUBLIC:
        # A failed sign-in is a 401 too, but from the route: only the gate's answers count.
        refused = "sign-in required" in answer.text or "may not" in answer.text
        if path in ("/api/v1/health", "/api/v1/openapi.json", "/static"):
            refused = status != 200
        return f"a public route refused with {status}" if refused else None
    if who.role is None:
        if is_api(path):
            return None if status == 401 else f"signed out got {status}, not 401"
        to_login = status == 303 and answer.headers["location"].startswith("/login")
        return None if to_login else f"signed out got {status}, not a redirect to /login"
    if allows(who.role, decision):
        if status in (401, 403) or answer.headers.get("location", "").startswith("/login"):
            return f"allowed to {decision}, yet refused with {status}"
        return None
    return None if status == 403 else f"may not {decision}, yet got {status}"


def test_each_route_answers_each_caller_as_the_table_says(matrix: Matrix) -> None:
    wrong = []
    for (method, path), decision in sorted(matrix.decisions.items()):
        for who in matrix.callers:
            answer = ask(matrix.client, method, path, who)
            problem = check(decision, method, path, who, answer)
            if problem is not None:
                wrong.append(f"{method} {path} as {who.label}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_a_refused_page_is_an_html_page_and_a_refused_api_call_json(matrix: Matrix) -> None:
    viewer = next(w for w in matrix.callers if w.label == "viewer session")
    api = ask(matrix.client, "POST", "/api/v1/runs/{run_id}/cancel", viewer)
    assert api.status_code == 403
    assert set(api.json()) == {"error", "hint"}
    if ("POST", "/runs/{run_id}/cancel") in matrix.decisions:
        page = ask(matrix.client, "POST", "/runs/{run_id}/cancel", viewer)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")

"""Signing in to the web app, over a real SQLite store with real users and tokens: the
sign-in form and its cookie, sessions (expiry, sign-out, a removed user, a changed role),
CSRF on every change made with the session cookie, API tokens (no CSRF; revoked refused),
open redirects, failed sign-ins audited and throttled, refusals audited, and the admin API
for users, tokens and the audit log.

Which route each role may use is ``test_web_role_matrix.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

import dagwell as dw
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.app import create_app
from dagwell.interfaces.web.sessions import IDLE_TIMEOUT, RESIGN_AFTER, SESSION_COOKIE
from dagwell.tracking import accounts
from dagwell.tracking.audit import list_audit

PASSWORDS = {"ada": "ada's long secret", "otto": "otto's long secret", "vic": "vic's long secret"}
ROLES = {"ada": "admin", "otto": "operator", "vic": "viewer"}


@dataclass
class Store:
    settings: dw.Settings
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """ada (admin), otto (operator) and vic (viewer), with passwords and an API token each."""
    settings = dw.Settings.from_env({}, home=tmp_path_factory.mktemp("accounts") / "home")
    tokens = {}
    for name, role in ROLES.items():
        accounts.add_user(name, role, password=PASSWORDS[name], settings=settings)
        tokens[name] = accounts.create_token(name, "tests", settings=settings)[1]
    return Store(settings, tokens)


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


def stand_in_pages() -> APIRouter:
    """Pages standing in for the real ones: one to view, one form that changes something."""
    router = APIRouter()

    @router.get("/page", response_class=PlainTextResponse)
    def page(request: Request, who: Annotated[Principal, Depends(require("view"))]) -> str:
        # What the templates read: the CSRF token and the principal.
        return f"{request.state.principal.name} {request.state.csrf_token}"

    @router.post("/page/trigger", response_class=PlainTextResponse)
    async def change(
        request: Request, who: Annotated[Principal, Depends(require("trigger"))]
    ) -> str:
        form = await request.form()
        return f"triggered {form.get('what')} as {who.name}"

    return router


def make_app(store: Store, **options: Any) -> Any:
    app = create_app(store.settings, open_mode=False, routers=[stand_in_pages()], **options)
    app.state.login_throttle.delay = 0
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(store: Store, clock: Clock) -> Iterator[TestClient]:
    app = make_app(store)
    app.state.sessions.clock = clock
    with TestClient(app) as client:
        yield client


def login_token(client: TestClient, path: str = "/login") -> str:
    form = client.get(path)
    assert form.status_code == 200, form.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None
    return found[1]


def sign_in(client: TestClient, name: str, password: str | None = None, **form: str) -> Any:
    data = {
        "name": name,
        "password": PASSWORDS.get(name, "x") if password is None else password,
        "csrf_token": login_token(client),
        **form,
    }
    return client.post("/login", data=data, follow_redirects=False)


def signed_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in; the session's CSRF token."""
    assert sign_in(client, name).status_code == 303
    name_and_token = client.get("/page").text.split(" ")
    assert name_and_token[0] == name
    return name_and_token[1]


def set_cookies(response: Any) -> list[str]:
    return list(response.headers.get_list("set-cookie"))


def audit(store: Store, **filters: Any) -> list[Any]:
    return list_audit(settings=store.settings, limit=20, **filters)


# -- not signed in --------------------------------------------------------------------------


def test_a_page_sends_someone_signed_out_to_sign_in_and_back(client: TestClient) -> None:
    answer = client.get("/page?x=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/page%3Fx%3D1"
    form = client.get(answer.headers["location"])
    assert 'name="next" value="/page?x=1"' in form.text
    assert '<meta name="csrf-token"' in form.text  # the login page extends base.html


def test_htmx_is_told_to_reload_the_whole_page_at_sign_in(client: TestClient) -> None:
    answer = client.get(
        "/page",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/runs?status=failed"},
    )
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/login?next=/runs%3Fstatus%3Dfailed"


def test_the_api_answers_401_json_and_health_answers_anyone(client: TestClient) -> None:
    answer = client.get("/api/v1/runs")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"] == "sign-in required to view"
    assert "Authorization: Bearer" in answer.json()["hint"]
    assert client.get("/metrics").status_code == 401
    health = client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["open"] is False


# -- signing in and out -----------------------------------------------------------------------


def test_signing_in_sets_a_session_cookie_and_goes_on_to_next(
    client: TestClient, store: Store
) -> None:
    answer = sign_in(client, "otto", next="/page?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/page?x=1"
    session = next(c for c in set_cookies(answer) if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/" in session
    assert f"Max-Age={int(IDLE_TIMEOUT)}" in session and "Secure" not in session
    assert any(c.startswith("dagwell_login=") and "Max-Age=0" in c for c in set_cookies(answer))
    me = client.get("/api/v1/me").json()
    assert me == {
        "name": "otto",
        "role": "operator",
        "anonymous": False,
        "via": "session",
        "open": False,
        "actions": ["cancel", "resume", "trigger", "view"],
    }
    assert client.get("/login", follow_redirects=False).headers["location"] == "/"
    entry = audit(store, actor="otto", action="login")[0]
    assert (entry.outcome, entry.source) == ("ok", "ui")


def test_cookies_are_secure_on_https_or_when_asked(store: Store) -> None:
    with TestClient(make_app(store), base_url="https://testserver") as client:
        assert all("Secure" in c for c in set_cookies(client.get("/login")))
        assert all("Secure" in c for c in set_cookies(sign_in(client, "vic")))
    with TestClient(make_app(store, secure_cookies=True)) as client:
        assert all("Secure" in c for c in set_cookies(sign_in(client, "vic")))


def test_signing_out_ends_the_session(client: TestClient, store: Store) -> None:
    token = signed_in(client, "vic")
    refused = client.post("/logout", follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token: another site cannot sign you out
    answer = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert any("Max-Age=0" in c for c in set_cookies(answer))
    assert client.get("/api/v1/me").status_code == 401
    assert audit(store, actor="vic", action="logout")[0].outcome == "ok"


def test_a_session_ends_after_twelve_idle_hours(client: TestClient, clock: Clock) -> None:
    signed_in(client, "vic")
    assert client.get("/api/v1/me").status_code == 200
    clock.now += IDLE_TIMEOUT + 1
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert any(c.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in c for c in set_cookies(answer))


def test_a_session_in_use_is_renewed_now_and_then(client: TestClient, clock: Clock) -> None:
    signed_in(client, "vic")
    assert set_cookies(client.get("/api/v1/me")) == []
    clock.now += RESIGN_AFTER + 1
    assert any(c.startswith(f"{SESSION_COOKIE}=") for c in set_cookies(client.get("/api/v1/me")))
    clock.now += IDLE_TIMEOUT - 10  # idle since the renewal only
    assert client.get("/api/v1/me").status_code == 200


def test_a_forged_session_cookie_is_ignored_and_deleted(client: TestClient) -> None:
    client.cookies[SESSION_COOKIE] = "eyJ1IjoiYWRhIn0.forged"
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert any("Max-Age=0" in c for c in set_cookies(answer))


def test_a_removed_user_is_signed_out_at_their_next_request(store: Store) -> None:
    accounts.add_user("gone", "operator", password="gone's long secret", settings=store.settings)
    with TestClient(make_app(store)) as client:
        assert sign_in(client, "gone", "gone's long secret").status_code == 303
        assert client.get("/api/v1/me").status_code == 200
        stale = client.cookies[SESSION_COOKIE]
        accounts.remove_user("gone", settings=store.settings)
        assert client.get("/api/v1/me").status_code == 401
        assert client.get("/page", follow_redirects=False).status_code == 303

        # Signing in over the stale cookie: the new session wins over deleting the old one.
        token = login_token(client)
        answer = client.post(
            "/login",
            data={"name": "vic", "password": PASSWORDS["vic"], "csrf_token": token},
            headers={"Cookie": f"{SESSION_COOKIE}={stale}; dagwell_login={token}"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        sessions = [c for c in set_cookies(answer) if c.startswith(f"{SESSION_COOKIE}=")]
        assert len(sessions) == 1 and "Max-Age=0" not in sessions[0]
        assert client.get("/api/v1/me").json()["name"] == "vic"


def test_a_changed_role_counts_at_the_next_request(store: Store) -> None:
    accounts.add_user("chg", "viewer", password="chg's long secret", settings=store.settings)
    with TestClient(make_app(store)) as client:
        assert sign_in(client, "chg", "chg's long secret").status_code == 303
        assert client.get("/api/v1/me").json()["role"] == "viewer"
        accounts.set_role("chg", "operator", settings=store.settings)
        assert client.get("/api/v1/me").json()["role"] == "operator"


def test_a_changed_password_signs_out_every_session_begun_with_the_old_one(
    store: Store,
) -> None:
    """Someone who learned the old password, and is signed in with it, is shut out by a new
    one; the owner signs in again with the new password."""
    old, new = "pwd's first secret", "pwd's second secret"
    accounts.add_user("pwd", "operator", password=old, settings=store.settings)
    with TestClient(make_app(store)) as intruder, TestClient(make_app(store)) as owner:
        assert sign_in(intruder, "pwd", old).status_code == 303
        assert sign_in(owner, "pwd", old).status_code == 303
        accounts.set_password("pwd", new, settings=store.settings)
        for client in (intruder, owner):
            refused = client.get("/api/v1/me")
            assert refused.status_code == 401
            assert any("Max-Age=0" in c for c in set_cookies(refused)), "cookie deleted"
        assert sign_in(owner, "pwd", old).status_code == 401
        assert sign_in(owner, "pwd", new).status_code == 303
        assert owner.get("/api/v1/me").json()["name"] == "pwd"
        accounts.set_password("pwd", None, settings=store.settings)  # tokens only from now on
        assert owner.get("/api/v1/me").status_code == 401


# -- failed sign-ins ------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_name_look_the_same_and_are_audited(
    client: TestClient, store: Store
) -> None:
    wrong = sign_in(client, "ada", "not the password")
    unknown = sign_in(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong name or password." in wrong.text and "Wrong name or password." in unknown.text
    assert wrong.text.replace("ada", "NAME") == unknown.text.replace("nobody-here", "NAME")
    assert SESSION_COOKIE not in client.cookies
    for name in ("ada", "nobody-here"):
        entry = audit(store, actor=name, action="login")[0]
        assert (entry.outcome, entry.source) == ("denied", "ui")
        assert entry.detail["reason"] == "wrong name or password"
        assert "not the password" not in str(entry.detail)


def test_too_many_failures_hold_back_that_name_from_that_address(
    client: TestClient, store: Store
) -> None:
    for _ in range(5):
        assert sign_in(client, "otto", "guess guess").status_code == 401
    held = sign_in(client, "otto")  # even the right password, for a while
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in held.text
    assert audit(store, actor="otto", action="login")[0].detail["reason"] == (
        "too many failed sign-ins"
    )
    assert sign_in(client, "vic").status_code == 303  # other names are not held back


def test_a_failed_sign_in_is_answered_after_a_delay(store: Store) -> None:
    import time

    app = make_app(store)
    app.state.login_throttle.delay = 0.3
    with TestClient(app) as client:
        started = time.monotonic()
        assert sign_in(client, "ada", "not the password").status_code == 401
        assert time.monotonic() - started >= 0.3


def test_the_sign_in_form_must_send_back_its_own_token(client: TestClient) -> None:
    data = {"name": "ada", "password": PASSWORDS["ada"]}
    assert client.post("/login", data=data).status_code == 403  # no form token, no cookie
    login_token(client)  # sets the pre-session cookie
    answer = client.post("/login", data={**data, "csrf_token": "made-up"})
    assert answer.status_code == 403
    assert "expired" in answer.text
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leads_to_another_site(client: TestClient, target: str) -> None:
    answer = sign_in(client, "vic", next=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    client.cookies.clear()
    form = client.get("/login", params={"next": target})
    assert 'name="next" value="/"' in form.text


# -- CSRF -------------------------------------------------------------------------------------


def test_a_change_with_the_session_cookie_needs_the_session_token(client: TestClient) -> None:
    token = signed_in(client, "otto")
    body = {"what": "churn"}
    missing = client.post("/page/trigger", data=body)
    assert missing.status_code == 403
    assert "CSRF token" in missing.json()["error"]
    assert client.post("/page/trigger", data={**body, "csrf_token": "wrong"}).status_code == 403
    assert client.post("/page/trigger", data=body, headers={"X-CSRF-Token": "x"}).status_code == (
        403
    )
    ok = client.post("/page/trigger", data={**body, "csrf_token": token})
    assert ok.status_code == 200 and ok.text == "triggered churn as otto"  # the body survived
    by_header = client.post("/page/trigger", data=body, headers={"X-CSRF-Token": token})
    assert by_header.text == "triggered churn as otto"
    json_api = client.post("/api/v1/runs/nosuchrun/cancel", json={"csrf_token": token})
    assert json_api.status_code == 403  # a JSON body is no place for it: send the header
    assert client.post(
        "/api/v1/runs/nosuchrun/cancel", headers={"X-CSRF-Token": token}
    ).status_code == (404)


def test_another_sessions_token_does_not_do(store: Store) -> None:
    with TestClient(make_app(store)) as one, TestClient(make_app(store)) as two:
        signed_in(one, "otto")
        theirs = signed_in(two, "otto")
        assert one.post("/page/trigger", headers={"X-CSRF-Token": theirs}).status_code == 403


def test_a_cross_site_change_is_refused_even_when_open(store: Store, tmp_path: Path) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    with TestClient(create_app(settings, open_mode=True)) as client:
        answer = client.post(
            "/api/v1/runs/nosuchrun/cancel", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert answer.status_code == 403
        assert "another site" in answer.json()["error"]
        same = client.post(
            "/api/v1/runs/nosuchrun/cancel", headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert same.status_code == 404


# -- API tokens -------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_signs_a_script_in_without_any_csrf_token(client: TestClient, store: Store) -> None:
    me = client.get("/api/v1/me", headers=bearer(store.tokens["otto"])).json()
    assert (me["name"], me["role"], me["via"]) == ("otto", "operator", "token")
    cancel = client.post("/api/v1/runs/nosuchrun/cancel", headers=bearer(store.tokens["otto"]))
    assert cancel.status_code == 404  # let through; the run does not exist
    signed_in(client, "vic")  # a session cookie too: the token decides, no CSRF needed
    form = client.post("/page/trigger", data={"what": "x"}, headers=bearer(store.tokens["otto"]))
    assert form.text == "triggered x as otto"


def test_prometheus_reads_metrics_with_a_viewer_token(client: TestClient, store: Store) -> None:
    answer = client.get("/metrics", headers=bearer(store.tokens["vic"]))
    assert answer.status_code == 200
    assert "dagwell_build_info" in answer.text


@pytest.mark.parametrize("value", ["Bearer dwt_nope", "Bearer nope", "Bearer ", "bearer dwt_"])
def test_a_bad_token_is_401_json_on_every_path(client: TestClient, value: str) -> None:
    for path in ("/api/v1/runs", "/page", "/api/v1/health", "/login"):
        answer = client.get(path, headers={"Authorization": value})
        assert answer.status_code == 401, path
        assert answer.json()["error"] == "invalid or revoked API token"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_authorization_schemes_are_left_to_a_proxy(client: TestClient) -> None:
    answer = client.get("/api/v1/runs", headers={"Authorization": "Basic YWRhOnB3"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "sign-in required to view"


def test_a_revoked_token_or_one_of_a_removed_user_is_refused(
    client: TestClient, store: Store
) -> None:
    accounts.add_user("script", "operator", settings=store.settings)
    info, secret = accounts.create_token("script", settings=store.settings)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    accounts.revoke_token(info.id, settings=store.settings)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    _, other = accounts.create_token("script", settings=store.settings)
    accounts.remove_user("script", settings=store.settings)
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 401


# -- refusals ---------------------------------------------------------------------------------


def test_a_refused_change_is_403_and_audited_a_refused_read_is_not_audited(
    client: TestClient, store: Store
) -> None:
    token = signed_in(client, "vic")
    answer = client.post("/api/v1/runs/abc123/cancel", headers={"X-CSRF-Token": token})
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "vic (viewer) may not cancel: it needs the operator role",
        "hint": "ask an admin for the operator role: dagwell users set-role vic ROLE",
    }
    entry = audit(store, actor="vic", action="cancel")[0]
    assert (entry.outcome, entry.source, entry.target) == (
        "denied",
        "ui",
        "/api/v1/runs/abc123/cancel",
    )
    by_token = client.put(
        "/api/v1/models/m/aliases/prod", json={"version": 1}, headers=bearer(store.tokens["otto"])
    )
    assert by_token.status_code == 403
    entry = audit(store, actor="otto", action="set_alias")[0]
    assert (entry.outcome, entry.source) == ("denied", "api")
    before = len(audit(store, actor="vic"))
    assert client.get("/api/v1/users").status_code == 403
    assert len(audit(store, actor="vic")) == before


# -- the admin API ----------------------------------------------------------------------------


def test_admins_manage_users_and_every_change_is_audited(client: TestClient, store: Store) -> None:
    admin = bearer(store.tokens["ada"])
    added = client.post(
        "/api/v1/users",
        json={"name": "newbie", "role": "viewer", "password": "newbie's secret"},
        headers=admin,
    )
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "viewer" and added.json()["has_password"] is True
    names = [u["name"] for u in client.get("/api/v1/users", headers=admin).json()]
    assert "newbie" in names and "ada" in names
    again = client.post("/api/v1/users", json={"name": "newbie", "role": "viewer"}, headers=admin)
    assert again.status_code == 422 and "already exists" in again.json()["error"]
    short = client.post(
        "/api/v1/users", json={"name": "shorty", "role": "viewer", "password": "x"}, headers=admin
    )
    assert short.status_code == 422
    role = client.put("/api/v1/users/newbie/role", json={"role": "operator"}, headers=admin)
    assert role.json()["role"] == "operator"
    bad_role = client.put("/api/v1/users/newbie/role", json={"role": "boss"}, headers=admin)
    assert bad_role.status_code == 422 and "unknown role" in bad_role.json()["error"]
    removed = client.delete("/api/v1/users/newbie", headers=admin)
    assert removed.json() == {"name": "newbie", "tokens_revoked": 0}
    assert client.delete("/api/v1/users/newbie", headers=admin).status_code == 404

    log = [(e.action, e.target, e.outcome, e.source) for e in audit(store, actor="ada")]
    for expected in [
        ("add_user", "newbie", "ok", "api"),
        ("add_user", "newbie", "failed", "api"),
        ("set_role", "newbie", "ok", "api"),
        ("remove_user", "newbie", "ok", "api"),
    ]:
        assert expected in log
    assert "newbie's secret" not in str([e.detail for e in audit(store, actor="ada")])


def test_the_last_admin_cannot_be_removed_or_demoted(client: TestClient, store: Store) -> None:
    admin = bearer(store.tokens["ada"])
    assert client.delete("/api/v1/users/ada", headers=admin).status_code == 422
    demote = client.put("/api/v1/users/ada/role", json={"role": "viewer"}, headers=admin)
    assert demote.status_code == 422 and "last admin" in demote.json()["error"]


def test_admins_make_list_and_revoke_tokens(client: TestClient, store: Store) -> None:
    token = signed_in(client, "ada")
    csrf = {"X-CSRF-Token": token}
    made = client.post("/api/v1/tokens", json={"user": "vic", "label": "ci"}, headers=csrf)
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    secret = made.json()["token"]
    assert secret.startswith("dwt_") and made.json()["user"] == "vic"
    assert client.get("/api/v1/me", headers=bearer(secret)).json()["name"] == "vic"
    listed = client.get("/api/v1/tokens", params={"user": "vic"}).json()
    assert made.json()["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)
    revoked = client.delete(f"/api/v1/tokens/{made.json()['id']}", headers=csrf)
    assert revoked.json()["revoked"] is True
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert client.delete("/api/v1/tokens/nosuch", headers=csrf).status_code == 404
    assert client.post("/api/v1/tokens", json={"user": "nobody"}, headers=csrf).status_code == 404
    log = [(e.action, e.target, e.outcome, e.source) for e in audit(store, actor="ada")]
    assert ("create_token", "vic", "ok", "ui") in log
    assert ("revoke_token", made.json()["id"], "ok", "ui") in log
    assert secret not in str([e.detail for e in audit(store, actor="ada")])


def test_admins_read_the_audit_log_with_filters(client: TestClient, store: Store) -> None:
    sign_in(client, "vic", "wrong password")
    admin = bearer(store.tokens["ada"])
    entries = client.get(
        "/api/v1/audit", params={"actor": "vic", "action": "login", "limit": 1}, headers=admin
    ).json()
    assert len(entries) == 1
    assert entries[0]["outcome"] == "denied" and entries[0]["source"] == "ui"
    future = client.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00"}, headers=admin)
    assert future.json() == []
    assert client.get("/api/v1/audit", params={"limit": 0}, headers=admin).status_code == 422
    assert client.get("/api/v1/audit", headers=bearer(store.tokens["otto"])).status_code == 403


def test_open_mode_says_everyone_is_an_anonymous_admin(tmp_path: Path) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    with TestClient(create_app(settings, open_mode=True)) as client:
        me = client.get("/api/v1/me").json()
        assert (me["name"], me["role"], me["via"], me["open"]) == (
            "anonymous",
            "admin",
            "open",
            True,
        )
        assert client.get("/login", follow_redirects=False).headers["location"] == "/"
        # No users exist, so no token can be good: an open UI ignores them.
        assert client.get("/api/v1/me", headers=bearer("dwt_x")).status_code == 200


def test_a_server_that_started_open_asks_everyone_to_sign_in_once_a_user_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagwell.interfaces.web import access

    monkeypatch.setattr(access, "OPEN_RECHECK_SECONDS", 0.0)
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    app = create_app(settings, open_mode=True, routers=[stand_in_pages()])
    with TestClient(app) as client:
        assert client.get("/api/v1/runs").status_code == 200

        accounts.add_user("ada", "admin", password=PASSWORDS["ada"], settings=settings)
        refused = client.get("/api/v1/runs")
        assert refused.status_code == 401
        assert access.ACCESS_HEADER not in refused.headers
        page = client.get("/page", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")

        assert sign_in(client, "ada", PASSWORDS["ada"]).status_code == 303
        me = client.get("/api/v1/me").json()
        assert (me["name"], me["via"], me["open"]) == ("ada", "session", False)


def test_guesses_sent_all_at_once_are_throttled_like_guesses_in_a_row(store: Store) -> None:
    import asyncio

    import httpx

    app = make_app(store)

    async def guess_many() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            form = await web.get("/login")
            found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert found is not None
            data = {"name": "otto", "password": "not otto's password", "csrf_token": found[1]}
            answers = await asyncio.gather(*(web.post("/login", data=data) for _ in range(12)))
            return [answer.status_code for answer in answers]

    codes = asyncio.run(guess_many())

    assert codes.count(401) <= 5, codes
    assert codes.count(429) >= 7, codes

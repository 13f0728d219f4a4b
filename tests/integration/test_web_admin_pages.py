"""The admins' pages with real users signed in through ``/login``: the audit log shows what
people did (signing in, triggering, moving an alias), filtered; admins add, re-role and
remove users and make and revoke API tokens from the forms, each change audited with
source ``ui``; a refused change shows the page again with the message (422); viewers and
operators get neither the pages nor the nav links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from page_helpers import signed_in
from web_helpers import Records, make_records

from dagwell.interfaces.web.pages.admin import AUDIT_SHOWN
from dagwell.tracking import accounts
from dagwell.tracking.audit import list_audit, record_audit

ROLES = {"ada": "admin", "otto": "operator", "vic": "viewer"}
PASSWORD = "a long enough secret"


@dataclass
class Team:
    records: Records

    def client(self, name: str) -> tuple[TestClient, str]:
        """A client signed in as ``name``, and its session's CSRF token."""
        return signed_in(self.records.settings, name, PASSWORD)

    def audit(self, **filters: Any) -> list[Any]:
        return list_audit(limit=None, settings=self.records.settings, **filters)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    records = make_records(tmp_path_factory.mktemp("admin"))
    for name, role in ROLES.items():
        accounts.add_user(name, role, password=PASSWORD, settings=records.settings)
    yield Team(records)


def rows(html: str, table: str) -> list[str]:
    """The body rows of ``<table class="{table}">`` in ``html``."""
    body = html[html.index(f'<table class="{table}">') :]
    body = body[: body.index("</table>")]
    return re.findall(r"<tr data-[a-z]+=.*?</tr>", body, flags=re.S)


# -- the audit log ----------------------------------------------------------------------------


def test_an_admin_sees_what_people_did_newest_first(team: Team) -> None:
    operator, otto_csrf = team.client("otto")
    queued = operator.post(
        "/pipelines/adhoc/trigger", data={"n": "3", "csrf_token": otto_csrf}, follow_redirects=False
    )
    run_id = queued.headers["location"].removeprefix("/runs/")
    operator.post(f"/runs/{run_id}/cancel", data={"csrf_token": otto_csrf})
    admin, ada_csrf = team.client("ada")
    admin.post(
        "/models/row_model/aliases",
        data={"alias": "champion", "version": "1", "csrf_token": ada_csrf},
    )

    page = admin.get("/audit")
    assert page.status_code == 200
    entries = rows(page.text, "audit")
    actions = [re.findall(r"<td>(\w+)</td>", e)[0] for e in entries]
    assert actions[:5] == ["set_alias", "login", "cancel", "trigger", "login"]
    alias, cancel, trigger = entries[0], entries[2], entries[3]
    assert "row_model:champion" in alias and "version=" in alias
    assert f'<a class="mono" href="/runs/{run_id}">{run_id}</a>' in cancel  # target: a run
    assert ">adhoc<" in trigger and f'run_id=<a class="mono" href="/runs/{run_id}">' in trigger
    for entry in (alias, cancel, trigger):
        assert '<span class="badge outcome state-succeeded">ok</span>' in entry
        assert "<td>ui</td>" in entry


def test_the_audit_log_filters_by_actor_action_and_time(team: Team) -> None:
    team.client("vic")  # a sign-in to find
    admin, _ = team.client("ada")
    vic = rows(admin.get("/audit", params={"actor": "vic"}).text, "audit")
    assert vic and all('<td class="mono">vic</td>' in e for e in vic)
    logins = rows(admin.get("/audit", params={"action": "login"}).text, "audit")
    assert logins and all("<td>login</td>" in e for e in logins)
    assert len(logins) == len(team.audit(action="login"))
    recent = admin.get("/audit", params={"since": "1h", "actor": "vic"})
    assert rows(recent.text, "audit") == vic
    later = admin.get("/audit", params={"since": "2999-01-01"})
    assert later.status_code == 200 and "No audit entries match." in later.text
    bad = admin.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 422
    assert "a span back from now (30m, 12h, 7d), got &#39;yesterday&#39;" in bad.text
    assert 'value="yesterday"' in bad.text


def test_the_audit_log_shows_the_newest_200_and_says_so(team: Team) -> None:
    for n in range(AUDIT_SHOWN + 5):
        record_audit("bot", "ping", str(n), source="api", settings=team.records.settings)
    admin, _ = team.client("ada")
    page = admin.get("/audit", params={"actor": "bot"}).text
    shown = rows(page, "audit")
    assert len(shown) == AUDIT_SHOWN and f">{AUDIT_SHOWN + 4}<" in shown[0]
    assert f"The newest {AUDIT_SHOWN} are shown" in page
    assert "are shown" not in admin.get("/audit", params={"actor": "vic"}).text


def test_viewers_and_operators_get_neither_the_pages_nor_the_links(team: Team) -> None:
    for name in ("vic", "otto"):
        client, token = team.client(name)
        home = client.get("/").text
        assert 'href="/audit"' not in home and 'href="/users"' not in home
        assert client.get("/audit").status_code == 403
        assert client.get("/users").status_code == 403
        refused = client.post(
            "/users", data={"name": "sneaky", "role": "admin", "csrf_token": token}
        )
        assert refused.status_code == 403
    assert "sneaky" not in [u.name for u in accounts.list_users(settings=team.records.settings)]
    admin, _ = team.client("ada")
    home = admin.get("/").text
    assert '<a href="/audit">Audit</a>' in home and '<a href="/users">Users</a>' in home
    assert '<a href="/users" aria-current="page">Users</a>' in admin.get("/users").text


# -- users ------------------------------------------------------------------------------------


def test_an_admin_adds_changes_and_removes_a_user_from_the_forms(team: Team) -> None:
    admin, token = team.client("ada")
    page = admin.get("/users").text
    assert 'class="inline card add-user"' in page
    assert f'name="csrf_token" value="{token}"' in page
    added = admin.post(
        "/users",
        data={
            "name": "newbie",
            "role": "viewer",
            "password": "newbie's secret",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/users"
    newbie = next(r for r in rows(admin.get("/users").text, "users") if "newbie" in r)
    assert '<option value="viewer" selected>' in newbie and "<td>yes</td>" in newbie
    assert signed_in(team.records.settings, "newbie", "newbie's secret")[0].get("/").is_success

    changed = admin.post("/users/newbie/role", data={"role": "operator", "csrf_token": token})
    assert changed.status_code == 200  # the users page again, after the redirect
    newbie = next(r for r in rows(changed.text, "users") if "newbie" in r)
    assert '<option value="operator" selected>' in newbie
    assert 'data-confirm="Remove newbie and their API tokens?"' in newbie

    removed = admin.post("/users/newbie/remove", data={"csrf_token": token})
    assert removed.status_code == 200 and "newbie" not in removed.text

    made = [
        (e.action, e.actor, e.source, e.outcome)
        for e in team.audit(actor="ada")
        if e.target == "newbie"
    ]
    assert made == [
        ("remove_user", "ada", "ui", "ok"),
        ("set_role", "ada", "ui", "ok"),
        ("add_user", "ada", "ui", "ok"),
    ]
    added_entry = next(e for e in team.audit(action="add_user") if e.target == "newbie")
    assert added_entry.detail == {"role": "viewer", "password": True}
    assert "newbie's secret" not in admin.get("/audit").text


def test_a_change_without_the_csrf_token_is_refused(team: Team) -> None:
    admin, _ = team.client("ada")
    refused = admin.post("/users", data={"name": "forged", "role": "admin"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert admin.post("/users/vic/remove", data={}).status_code == 403
    assert admin.post("/tokens", data={"user": "ada"}).status_code == 403
    names = [u.name for u in accounts.list_users(settings=team.records.settings)]
    assert "forged" not in names and "vic" in names


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/users", {"name": "bad name!", "role": "viewer"}, "a user name is 1 to 64 letters"),
        (
            "/users",
            {"name": "tiny", "role": "viewer", "password": "7chars!"},
            "a password must be at least 8 characters long",
        ),
        ("/users", {"name": "vic", "role": "viewer"}, "user &#39;vic&#39; already exists"),
        ("/users", {"name": "rolo", "role": "boss"}, "unknown role &#39;boss&#39;"),
        ("/users/ada/remove", {}, "cannot remove &#39;ada&#39;: they are the last admin"),
        ("/users/ada/role", {"role": "viewer"}, "cannot make viewer &#39;ada&#39;"),
        ("/tokens", {"user": "ada", "label": "x" * 201}, "a token label is text of at most"),
    ],
)
def test_a_refused_change_shows_the_page_with_the_message(
    team: Team, path: str, form: dict[str, str], message: str
) -> None:
    admin, token = team.client("ada")
    answer = admin.post(path, data={**form, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 422
    assert '<div class="banner error" role="alert">' in answer.text and message in answer.text
    assert 'class="inline card add-user"' in answer.text  # the page, not an error page
    if "password" in form:
        assert form["password"] not in answer.text  # never typed back
    if path == "/users":
        assert f'name="name" required value="{form["name"]}"' in answer.text
    failed = team.audit(actor="ada")[0]
    assert (failed.outcome, failed.source) == ("failed", "ui")


def test_something_gone_meanwhile_is_a_404_on_the_page(team: Team) -> None:
    admin, token = team.client("ada")
    answer = admin.post("/users/nobody/remove", data={"csrf_token": token})
    assert answer.status_code == 404 and "no user named &#39;nobody&#39;" in answer.text
    answer = admin.post("/tokens/nosuch/revoke", data={"csrf_token": token})
    assert answer.status_code == 404 and "no API token with id &#39;nosuch&#39;" in answer.text


# -- API tokens -------------------------------------------------------------------------------


def test_a_token_made_from_the_form_is_shown_once_works_and_can_be_revoked(team: Team) -> None:
    admin, token = team.client("ada")
    made = admin.post("/tokens", data={"user": "vic", "label": "grafana", "csrf_token": token})
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    assert "Copy it now, it won't be shown again." in made.text
    secret = re.search(r'id="secret" class="mono" readonly value="(dwt_[^"]+)"', made.text)
    assert secret is not None

    script = TestClient(admin.app)
    me = script.get("/api/v1/me", headers={"Authorization": f"Bearer {secret[1]}"})
    assert me.status_code == 200 and me.json()["name"] == "vic"

    page = admin.get("/users").text
    assert secret[1] not in page and secret[1] not in admin.get("/audit").text
    info = next(t for t in accounts.list_tokens("vic", settings=team.records.settings))
    row = next(r for r in rows(page, "tokens") if info.id in r)
    assert "grafana" in row and f'action="/tokens/{info.id}/revoke"' in row
    assert '<td class="mono">vic</td>' in row

    revoked = admin.post(f"/tokens/{info.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 200
    row = next(r for r in rows(revoked.text, "tokens") if info.id in r)
    assert "/revoke" not in row
    again = script.get("/api/v1/me", headers={"Authorization": f"Bearer {secret[1]}"})
    assert again.status_code == 401

    audited = [(e.action, e.target, e.source, e.outcome) for e in team.audit(actor="ada")][:2]
    assert audited == [
        ("revoke_token", info.id, "ui", "ok"),
        ("create_token", "vic", "ui", "ok"),
    ]

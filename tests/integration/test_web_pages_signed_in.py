"""The pages with real users signed in through ``/login``: who is shown, the session's CSRF
token in the page (meta tag, htmx's headers, every form that changes something), the
buttons each role gets, and forms that work with the token and are refused without it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from web_helpers import Records, make_records

from dagwell.interfaces.web import pages
from dagwell.interfaces.web.app import create_app
from dagwell.tracking import accounts

ROLES = {"ada": "admin", "otto": "operator", "vic": "viewer"}
PASSWORD = "a long enough secret"


@dataclass
class Team:
    records: Records

    def client(self, name: str) -> tuple[TestClient, str]:
        """A client signed in as ``name``, and its session's CSRF token."""
        app = create_app(
            self.records.settings,
            open_mode=False,
            routers=[pages.router],
            static_dir=pages.STATIC_DIR,
            error_page=pages.error_page,
        )
        app.state.login_throttle.delay = 0
        client = TestClient(app)
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        data = {"name": name, "password": PASSWORD, "csrf_token": token[1]}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        page = client.get("/").text
        session = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert session is not None
        return client, session[1]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    records = make_records(tmp_path_factory.mktemp("team"))
    for name, role in ROLES.items():
        accounts.add_user(name, role, password=PASSWORD, settings=records.settings)
    yield Team(records)


def test_signed_out_pages_send_you_to_sign_in(team: Team) -> None:
    app = create_app(team.records.settings, open_mode=False, routers=[pages.router])
    answer = TestClient(app).get("/runs?status=failed", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/runs%3Fstatus%3Dfailed"


def test_the_page_names_who_is_signed_in_and_carries_the_csrf_token(team: Team) -> None:
    client, token = team.client("vic")
    html = client.get("/").text
    assert "open: anyone" not in html
    assert 'class="whoami">vic <span class="muted">(viewer)</span>' in html
    assert f"""hx-headers='{{"X-CSRF-Token": "{token}"}}'""" in html
    logout = html[html.index('action="/logout"') :]
    assert f'name="csrf_token" value="{token}"' in logout[: logout.index("</form>")]


def test_a_viewer_sees_every_page_and_no_button(team: Team) -> None:
    client, _ = team.client("vic")
    runs = team.records.runs
    assert "/trigger" not in client.get("/").text
    assert "/resume" not in client.get(f"/runs/{runs['failed'].id}").text
    assert "/cancel" not in client.get(f"/runs/{runs['queued'].id}").text
    assert "set-alias" not in client.get("/models/row_model").text
    assert client.get("/pipelines/adhoc/trigger").status_code == 403


def test_an_operator_triggers_from_the_form_with_the_token_and_not_without(team: Team) -> None:
    client, token = team.client("otto")
    home = client.get("/").text
    assert 'href="/pipelines/adhoc/trigger"' in home
    form = client.get("/pipelines/adhoc/trigger").text
    assert f'name="csrf_token" value="{token}"' in form
    refused = client.post("/pipelines/adhoc/trigger", data={"n": "2"}, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    queued = client.post(
        "/pipelines/adhoc/trigger", data={"n": "2", "csrf_token": token}, follow_redirects=False
    )
    assert queued.status_code == 303 and queued.headers["location"].startswith("/runs/")
    run_page = client.get(queued.headers["location"]).text
    assert f'action="{queued.headers["location"]}/cancel"' in run_page
    assert f'name="csrf_token" value="{token}"' in run_page
    assert "set-alias" not in client.get("/models/row_model").text  # an admin's call


def test_an_admin_moves_an_alias_from_the_form(team: Team) -> None:
    client, token = team.client("ada")
    page = client.get("/models/row_model").text
    assert 'class="inline card set-alias"' in page
    moved = client.post(
        "/models/row_model/aliases", data={"alias": "staging", "version": "1", "csrf_token": token}
    )
    assert moved.status_code == 200 and "staging → v1" in moved.text

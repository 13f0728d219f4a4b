"""The pages' seams: every page route declares one access dependency, and rendering
escapes what users typed, shows sizes, times and durations plainly, and tells fragments
from whole pages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fastapi.routing import APIRoute
from starlette.requests import Request

from dagwell.core.roles import Role
from dagwell.interfaces.web import pages
from dagwell.interfaces.web.access import Principal
from dagwell.interfaces.web.app import create_app
from dagwell.interfaces.web.pages import rendering
from dagwell.settings import Settings


def gates(route: APIRoute) -> list[str]:
    names = [d.call.__name__ for d in route.dependant.dependencies if d.call is not None]
    return [n for n in names if n.startswith("require_")]


def test_every_page_route_declares_exactly_one_access_dependency() -> None:
    routes = [r for family in pages.ROUTERS for r in family.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 18
    needed = {}
    for route in routes:
        found = gates(route)
        assert len(found) == 1, f"{route.path} declares {found}"
        methods = route.methods or set()
        if methods & {"POST", "PUT", "DELETE", "PATCH"}:
            assert found[0] != "require_view", route.path
        for method in methods:
            needed[(route.path, method)] = found[0]
    assert needed[("/pipelines/{name}/trigger", "GET")] == "require_trigger"
    assert needed[("/pipelines/{name}/trigger", "POST")] == "require_trigger"
    assert needed[("/runs/{run_id}/resume", "POST")] == "require_resume"
    assert needed[("/runs/{run_id}/cancel", "POST")] == "require_cancel"
    assert needed[("/models/{name}/aliases", "POST")] == "require_set_alias"
    assert needed[("/runs/{run_id}/log", "GET")] == "require_view"


def test_pages_stay_out_of_the_api_document(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    app = create_app(settings, open_mode=True, routers=[pages.router])
    paths = app.openapi()["paths"]
    assert "/api/v1/runs" in paths
    assert not [path for path in paths if not path.startswith(("/api/", "/metrics"))]


def test_templates_escape_what_they_are_given() -> None:
    template = rendering.templates.env.from_string("<p>{{ name }}</p>")
    assert template.render(name="<b>&") == "<p>&lt;b&gt;&amp;</p>"
    assert (
        rendering.templates.env.get_template("_code_file.html")
        .render(path="a.py", text="<script>")
        .strip()
        == '<pre class="code" data-path="a.py">&lt;script&gt;</pre>'
    )


def test_only_pictures_are_marked_safe() -> None:
    svg = rendering.picture("<svg></svg>")
    template = rendering.templates.env.from_string("{{ svg }}")
    assert template.render(svg=svg) == "<svg></svg>"


def test_can_follows_the_role_table() -> None:
    assert rendering.can(Principal("o", Role.OPERATOR), "trigger")
    assert not rendering.can(Principal("v", Role.VIEWER), "trigger")
    assert not rendering.can(Principal("o", Role.OPERATOR), "set_alias")
    assert not rendering.can(Principal("anonymous", None, anonymous=True), "view")
    assert not rendering.can(None, "view")


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def test_fragments_are_for_htmx_swaps_only() -> None:
    assert rendering.wants_fragment(request({"HX-Request": "true"}))
    assert not rendering.wants_fragment(request({}))
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert not rendering.wants_fragment(request(restore))


def test_acting_prefers_who_sign_in_put_on_the_request() -> None:
    fallback = Principal("anonymous", Role.ADMIN, anonymous=True)
    plain = request({})
    assert rendering.acting(plain, fallback) is fallback
    ada = Principal("ada", Role.VIEWER)
    plain.state.principal = ada
    assert rendering.acting(plain, fallback) is ada


def test_filters_show_values_plainly() -> None:
    assert rendering.when(None) == "—"
    moment = datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc)
    assert rendering.when(moment) == moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert rendering.iso(moment) == "2026-11-01T08:30:00+00:00"
    assert rendering.duration(None) == "—"
    assert rendering.size(812) == "812 B"
    assert rendering.size(4_200) == "4.2 kB"
    assert rendering.size(1_300_000) == "1.3 MB"
    assert rendering.size(None) == "—"
    assert rendering.show("text") == "text"
    assert rendering.show({"b": 1, "a": [True, None]}) == '{"a": [true, null], "b": 1}'
    assert rendering.number(0.123456789) == "0.123457"
    assert rendering.number(True) == "true"
    assert rendering.percent(0.666) == "67%"
    assert rendering.percent(None) == "—"

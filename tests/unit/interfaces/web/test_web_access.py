"""The access seam: ``require(action)`` is the one dependency every route declares."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from dagwell.core.roles import Action, Role
from dagwell.interfaces.web import (
    api_accounts,
    api_alerts,
    api_artifacts,
    api_lineage,
    api_models,
    api_pipelines,
    api_runs,
    auth_routes,
    metrics,
)
from dagwell.interfaces.web.access import (
    ANONYMOUS,
    ANONYMOUS_ADMIN,
    Principal,
    login_url,
    require,
    safe_next,
)
from dagwell.interfaces.web.auth_routes import LoginThrottle


def test_an_unknown_action_fails_when_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match="'veiw'"):
        require("veiw")


def test_open_mode_acts_as_an_anonymous_admin() -> None:
    assert ANONYMOUS_ADMIN.role is Role.ADMIN
    assert ANONYMOUS_ADMIN.anonymous


def gate_of(route: APIRoute) -> list[str]:
    names = [d.call.__name__ for d in route.dependant.dependencies if d.call is not None]
    return [n for n in names if n.startswith("require_")]


def test_every_route_declares_exactly_one_access_dependency() -> None:
    """A route without ``require`` would be open to anyone once users exist."""
    routers = [
        api_runs,
        api_pipelines,
        api_models,
        api_lineage,
        api_alerts,
        api_artifacts,
        api_accounts,
        auth_routes,
        metrics,
    ]
    routes = [r for module in routers for r in module.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 30
    needed = {}
    for route in routes:
        gates = gate_of(route)
        assert len(gates) == 1, f"{route.path} declares {gates}"
        if route.methods & {"POST", "PUT", "DELETE", "PATCH"}:
            assert gates[0] != "require_view", route.path
        needed[(route.path, next(iter(route.methods)))] = gates[0]
    assert needed[("/pipelines/{name}/runs", "POST")] == f"require_{Action.TRIGGER}"
    assert needed[("/runs/{run_id}/resume", "POST")] == f"require_{Action.RESUME}"
    assert needed[("/runs/{run_id}/cancel", "POST")] == f"require_{Action.CANCEL}"
    assert needed[("/models/{name}/aliases/{alias}", "PUT")] == f"require_{Action.SET_ALIAS}"
    assert needed[("/artifacts/{hash}", "GET")] == "require_view"
    assert needed[("/metrics", "GET")] == "require_view"
    assert needed[("/users/{name}", "DELETE")] == f"require_{Action.MANAGE_USERS}"
    assert needed[("/tokens", "POST")] == f"require_{Action.MANAGE_USERS}"
    assert needed[("/audit", "GET")] == f"require_{Action.VIEW_AUDIT}"
    assert needed[("/login", "POST")] == "require_sign_in"


def test_a_principal_may_what_its_role_allows() -> None:
    viewer = Principal("vic", Role.VIEWER, via="session", source="ui")
    assert viewer.may("view") and not viewer.may("trigger")
    assert not ANONYMOUS.may("view") and ANONYMOUS.may("sign_in")
    assert ANONYMOUS_ADMIN.may("manage_users")


@pytest.mark.parametrize(
    "value",
    [
        "/runs/3f2a",
        "/runs?status=failed&pipeline=churn",
        "/",
        "/a/b/../c",
    ],
)
def test_next_may_be_any_path_of_this_site(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "runs",
        "//evil.example/x",
        "///evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/runs\r\nSet-Cookie: x=1",
        "/x\tz",
    ],
)
def test_next_never_leads_to_another_site(value: str | None) -> None:
    assert safe_next(value) == "/"


def test_the_sign_in_url_comes_back_to_the_page() -> None:
    assert login_url("/runs?status=failed") == "/login?next=/runs%3Fstatus%3Dfailed"
    assert login_url("/") == "/login"
    assert login_url("//evil.example") == "/login"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_holds_back_a_pair_after_too_many_failures() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window=60, delay=0, clock=clock)
    pair, other = ("203.0.113.9", "ada"), ("203.0.113.9", "bob")
    for _ in range(3):
        assert throttle.wait_for(pair) == 0
        throttle.failed(pair)
        clock.now += 1
    assert throttle.wait_for(pair) == 60 - 3
    assert throttle.wait_for(other) == 0
    clock.now += 58
    assert throttle.wait_for(pair) == 0  # the oldest failure is over a window old
    throttle.failed(pair)
    throttle.failed(pair)
    assert throttle.wait_for(pair) == 1  # three within the window again
    throttle.succeeded(pair)
    assert throttle.wait_for(pair) == 0

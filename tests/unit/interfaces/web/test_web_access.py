"""The access seam: ``require(action)`` is the one dependency every route declares."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from dagwell.core.roles import Action, Role
from dagwell.interfaces.web import (
    api_alerts,
    api_artifacts,
    api_lineage,
    api_models,
    api_pipelines,
    api_runs,
    metrics,
)
from dagwell.interfaces.web.access import ANONYMOUS_ADMIN, require


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
    routers = [api_runs, api_pipelines, api_models, api_lineage, api_alerts, api_artifacts, metrics]
    routes = [r for module in routers for r in module.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 20
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

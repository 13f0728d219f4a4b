"""Tests for dagwell.tracking.audit: writing who did what and when, and reading it back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import dagwell as dw
from dagwell.errors import DefinitionError
from dagwell.tracking.audit import list_audit, record_audit


def test_an_entry_keeps_who_what_when_where_and_how(settings: dw.Settings) -> None:
    before = datetime.now(timezone.utc)

    entry = record_audit(
        "ada", "trigger", "churn", "ok", "ui", {"run_id": "3f2a9c"}, settings=settings
    )

    [stored] = list_audit(settings=settings)
    assert stored == entry
    assert (stored.actor, stored.action, stored.target) == ("ada", "trigger", "churn")
    assert (stored.outcome, stored.source, stored.detail) == ("ok", "ui", {"run_id": "3f2a9c"})
    assert before <= stored.at <= datetime.now(timezone.utc)


def test_defaults_are_a_successful_cli_action_without_target(settings: dw.Settings) -> None:
    entry = record_audit("cli:root", "add_user", settings=settings)

    assert (entry.target, entry.outcome, entry.source, entry.detail) == ("", "ok", "cli", {})


def test_entries_come_newest_first_and_filter_by_actor_and_action(settings: dw.Settings) -> None:
    record_audit("ada", "login", source="ui", settings=settings)
    record_audit("grace", "login", outcome="denied", source="ui", settings=settings)
    record_audit("grace", "cancel", "3f2a9c", outcome="denied", source="api", settings=settings)

    def seen(**filters: object) -> list[tuple[str, str, str]]:
        found = list_audit(settings=settings, **filters)  # type: ignore[arg-type]
        return [(e.actor, e.action, e.outcome) for e in found]

    assert seen() == [
        ("grace", "cancel", "denied"),
        ("grace", "login", "denied"),
        ("ada", "login", "ok"),
    ]
    assert seen(actor="grace", action="login") == [("grace", "login", "denied")]
    assert seen(limit=1) == [("grace", "cancel", "denied")]
    assert len(seen(limit=None)) == 3


def test_since_keeps_recent_entries(settings: dw.Settings) -> None:
    record_audit("ada", "login", settings=settings)

    assert (
        list_audit(since=datetime.now(timezone.utc) + timedelta(hours=1), settings=settings) == []
    )
    assert (
        len(list_audit(since=datetime.now(timezone.utc) - timedelta(hours=1), settings=settings))
        == 1
    )


def test_an_entry_as_json_is_plain_json(settings: dw.Settings) -> None:
    entry = record_audit(
        "ada", "set_alias", "churn:production", detail={"version": 3}, settings=settings
    )

    data = json.loads(json.dumps(entry.to_dict()))

    assert data == {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": "ada",
        "action": "set_alias",
        "target": "churn:production",
        "outcome": "ok",
        "source": "cli",
        "detail": {"version": 3},
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"actor": ""}, "actor"),
        ({"action": ""}, "action"),
        ({"outcome": "maybe"}, "outcome"),
        ({"source": "email"}, "source"),
    ],
)
def test_malformed_entries_are_refused(
    settings: dw.Settings, arguments: dict[str, object], message: str
) -> None:
    entry: dict[str, object] = {"actor": "ada", "action": "login", **arguments}

    with pytest.raises(DefinitionError, match=message):
        record_audit(settings=settings, **entry)  # type: ignore[arg-type]

    assert list_audit(settings=settings) == []


@pytest.mark.parametrize("limit", [0, -1, True])
def test_a_limit_below_one_is_refused(settings: dw.Settings, limit: int) -> None:
    with pytest.raises(DefinitionError, match="limit"):
        list_audit(limit=limit, settings=settings)


def test_a_naive_since_is_refused(settings: dw.Settings) -> None:
    with pytest.raises(DefinitionError, match="timezone-aware"):
        list_audit(since=datetime(2026, 1, 1), settings=settings)


def test_a_detail_that_is_not_plain_json_is_kept_as_text_not_lost(
    settings: dw.Settings,
) -> None:
    """An action already taken (a run queued with C=nan) is recorded whatever its detail."""
    entry = record_audit(
        "ada",
        "trigger",
        "churn",
        source="api",
        detail={"params": {"C": float("nan"), "when": datetime(2026, 1, 1)}},
        settings=settings,
    )

    [kept] = list_audit(actor="ada", settings=settings)
    assert kept.id == entry.id
    assert kept.detail["params"] == {"C": "nan", "when": "2026-01-01 00:00:00"}
    json.dumps(kept.to_dict(), allow_nan=False)

"""Tests for dagwell.core.roles: the permission table, the order of roles, parsing names."""

from __future__ import annotations

import itertools

import pytest

from dagwell.core.roles import PERMISSIONS, Action, Role, allows
from dagwell.errors import DefinitionError

A = Action

# Written out by hand, so that a change to the table in roles.py must be made here too.
ALLOWED = {
    Role.VIEWER: {A.VIEW},
    Role.OPERATOR: {A.VIEW, A.TRIGGER, A.RESUME, A.CANCEL},
    Role.ADMIN: {
        A.VIEW,
        A.TRIGGER,
        A.RESUME,
        A.CANCEL,
        A.SET_ALIAS,
        A.MANAGE_USERS,
        A.VIEW_AUDIT,
    },
}


@pytest.mark.parametrize(("role", "action"), list(itertools.product(Role, Action)))
def test_allows_matches_the_table_for_every_role_and_action(role: Role, action: Action) -> None:
    assert allows(role, action) is (action in ALLOWED[role])


def test_a_higher_role_may_do_everything_a_lower_one_may() -> None:
    for lower, higher in itertools.combinations(sorted(Role), 2):
        assert PERMISSIONS[lower] <= PERMISSIONS[higher], (lower, higher)


def test_only_admins_manage_users_and_read_the_audit_log() -> None:
    for action in (A.MANAGE_USERS, A.VIEW_AUDIT):
        assert [r for r in Role if allows(r, action)] == [Role.ADMIN]


def test_roles_and_actions_may_be_given_by_name() -> None:
    assert allows("operator", "cancel")
    assert not allows("viewer", "trigger")
    assert allows("admin", "set_alias")


@pytest.mark.parametrize(("role", "action"), [("boss", "view"), ("admin", "delete_everything")])
def test_an_unknown_role_or_action_is_an_error_not_a_quiet_answer(role: str, action: str) -> None:
    with pytest.raises(ValueError):
        allows(role, action)


def test_roles_are_ordered_by_what_they_may_do_not_by_spelling() -> None:
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    assert Role.ADMIN >= Role.ADMIN
    assert max(Role) is Role.ADMIN
    assert sorted([Role.ADMIN, Role.VIEWER, Role.OPERATOR]) == [
        Role.VIEWER,
        Role.OPERATOR,
        Role.ADMIN,
    ]


def test_a_role_compared_with_a_plain_string_is_a_type_error() -> None:
    """ "admin" < "viewer" as strings: comparing a role with a string must not answer that."""
    with pytest.raises(TypeError):
        assert Role.ADMIN < "viewer"  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert Role.VIEWER >= "admin"  # type: ignore[operator]


def test_a_role_equals_its_name_and_prints_as_it() -> None:
    assert Role.OPERATOR == "operator"
    assert str(Role.OPERATOR) == "operator"
    assert f"{Action.SET_ALIAS}" == "set_alias"


def test_parse_accepts_a_name_or_a_role() -> None:
    assert Role.parse("viewer") is Role.VIEWER
    assert Role.parse(Role.ADMIN) is Role.ADMIN


def test_parse_names_the_valid_roles_for_an_unknown_one() -> None:
    with pytest.raises(DefinitionError, match="viewer, operator, admin"):
        Role.parse("superuser")

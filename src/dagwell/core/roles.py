"""Roles of the people and scripts using the web UI and API, and what each may do, as a table.

The web app asks :func:`allows` before every action and the audit log records the answer, so
"may an operator cancel a run" has one answer, here. Roles are ordered: every role may do
what the roles below it may.
"""

from __future__ import annotations

import enum

from dagwell.errors import DefinitionError


class Role(str, enum.Enum):
    """What a user may do: ``viewer`` < ``operator`` < ``admin``. Equal to its lowercase name.

    >>> Role.parse("operator") > Role.VIEWER
    True
    """

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: Role | str) -> Role:
        """The role named ``value``; a :class:`DefinitionError` listing the roles otherwise.

        >>> Role.parse("admin")
        <Role.ADMIN: 'admin'>
        """
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise DefinitionError(f"unknown role {value!r}; a role is one of: {names}") from None

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for operator, 2 for admin."""
        return _RANK[self]

    # A str enum would otherwise compare by spelling ("admin" < "viewer"), with roles and
    # with plain strings alike; so roles compare by rank, and only with roles.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)


class Action(str, enum.Enum):
    """Something a user asks the web UI or the API to do, checked with :func:`allows`."""

    VIEW = "view"  # pipelines, runs, logs, artifacts, models
    TRIGGER = "trigger"  # start a run of a registered pipeline
    RESUME = "resume"  # start a run that reuses what a failed run finished
    CANCEL = "cancel"  # ask a queued or running run to stop
    SET_ALIAS = "set_alias"  # move a model alias such as "production"
    MANAGE_USERS = "manage_users"  # add, change and remove users and their API tokens
    VIEW_AUDIT = "view_audit"  # read the audit log

    def __str__(self) -> str:
        return self.value


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

_A = Action
_VIEWER = frozenset({_A.VIEW})
_OPERATOR = _VIEWER | {_A.TRIGGER, _A.RESUME, _A.CANCEL}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    # Moving a model alias changes what serves production: an admin's call.
    Role.ADMIN: _OPERATOR | {_A.SET_ALIAS, _A.MANAGE_USERS, _A.VIEW_AUDIT},
}
"""The actions each role may take; a higher role has every action of the lower ones."""


def allows(role: Role | str, action: Action | str) -> bool:
    """True when a user with ``role`` may take ``action``.

    Both may be given by name. An unknown role or action raises :class:`ValueError`:
    it is a bug in the caller, and a typo must not quietly grant or deny.

    >>> allows("operator", "cancel")
    True
    >>> allows(Role.VIEWER, Action.TRIGGER)
    False
    """
    return Action(action) in PERMISSIONS[Role(role)]


def _rank_of(other: object) -> int:
    if not isinstance(other, Role):
        raise TypeError(f"a Role compares only with a Role, not with {other!r}")
    return other.rank

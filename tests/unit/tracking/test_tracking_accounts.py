"""Tests for dagwell.tracking.accounts: users, passwords, API tokens and the install secret."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from argon2 import PasswordHasher

import dagwell as dw
from dagwell.core.roles import Role
from dagwell.errors import DagwellError, DefinitionError, NotFoundError
from dagwell.storage.metadata import accounts as queries
from dagwell.storage.metadata.tables import api_tokens, users
from dagwell.storage.shared import metadata_store
from dagwell.tracking import accounts
from dagwell.tracking.accounts import (
    add_user,
    authenticate_password,
    authenticate_token,
    count_users,
    create_token,
    get_user,
    install_secret,
    list_tokens,
    list_users,
    remove_user,
    revoke_token,
    set_password,
    set_role,
)

PASSWORD = "correct horse"


@pytest.fixture
def ada(settings: dw.Settings) -> accounts.User:
    """An admin with the password PASSWORD."""
    return add_user("ada", "admin", PASSWORD, settings=settings)


def rows(settings: dw.Settings, table: Any) -> list[tuple[Any, ...]]:
    with metadata_store(settings.db_url).reading() as conn:
        return [tuple(row) for row in conn.execute(table.select())]


# -- users -------------------------------------------------------------------------------------


def test_a_new_user_signs_in_with_their_password(settings: dw.Settings) -> None:
    added = add_user("grace", Role.OPERATOR, "s3cret-enough", settings=settings)

    user = authenticate_password("grace", "s3cret-enough", settings=settings)

    assert user == added
    assert user is not None and (user.role, user.has_password) == (Role.OPERATOR, True)


def test_a_wrong_password_is_refused(settings: dw.Settings, ada: accounts.User) -> None:
    assert authenticate_password("ada", "correct horsE", settings=settings) is None
    assert authenticate_password("ada", "", settings=settings) is None


def test_an_unknown_user_is_refused(settings: dw.Settings, ada: accounts.User) -> None:
    assert authenticate_password("adam", PASSWORD, settings=settings) is None


def test_a_user_without_a_password_cannot_sign_in_with_one(settings: dw.Settings) -> None:
    add_user("ci", "operator", settings=settings)

    assert not get_user("ci", settings=settings).has_password
    assert authenticate_password("ci", "", settings=settings) is None
    assert authenticate_password("ci", "anything-long", settings=settings) is None


def test_unknown_users_cost_a_hash_check_like_known_ones(
    settings: dw.Settings, ada: accounts.User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the time a refusal takes does not tell which user names exist."""
    checked: list[str] = []
    real = accounts._verify

    def counting(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(hasher, password_hash, password)

    monkeypatch.setattr(accounts, "_verify", counting)
    add_user("ci", "operator", settings=settings)

    authenticate_password("ada", "wrong password", settings=settings)
    authenticate_password("nobody", "wrong password", settings=settings)
    authenticate_password("ci", "wrong password", settings=settings)

    assert len(checked) == 3
    assert all(h.startswith("$argon2id$") for h in checked)


def test_only_the_argon2_hash_of_a_password_is_stored(
    settings: dw.Settings, ada: accounts.User
) -> None:
    [row] = rows(settings, users)

    assert PASSWORD not in repr(row)
    stored = row[users.c.keys().index("password_hash")]
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, PASSWORD)


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(
    settings: dw.Settings, ada: accounts.User
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        queries.set_password_hash(tx, "ada", weak, ada.updated_at)

    assert authenticate_password("ada", PASSWORD, settings=settings) is not None

    with store.reading() as conn:
        found = queries.user_and_hash(conn, "ada")
    assert found is not None and found[1] is not None
    assert found[1] != weak
    assert not PasswordHasher().check_needs_rehash(found[1])
    assert authenticate_password("ada", PASSWORD, settings=settings) is not None


def test_sign_in_stamps_the_hash_it_checked_or_the_one_it_rehashed_to(
    settings: dw.Settings, ada: accounts.User
) -> None:
    """The stamp a new session gets is that of the password it proved, never a newer one."""
    signed_in = accounts.sign_in("ada", PASSWORD, settings=settings)
    current = accounts.user_and_stamp("ada", settings=settings)
    assert signed_in is not None and current is not None
    assert signed_in[0].name == "ada" and signed_in[1] == current[1]
    assert accounts.sign_in("ada", "wrong password", settings=settings) is None

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with metadata_store(settings.db_url).transaction() as tx:
        queries.set_password_hash(tx, "ada", weak, ada.updated_at)
    rehashed = accounts.sign_in("ada", PASSWORD, settings=settings)
    after = accounts.user_and_stamp("ada", settings=settings)
    assert rehashed is not None and after is not None
    assert rehashed[1] == after[1] != accounts.password_stamp(weak)

    set_password("ada", "a brand new secret", settings=settings)
    changed = accounts.user_and_stamp("ada", settings=settings)
    assert changed is not None and changed[1] != rehashed[1]


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_a_password_shorter_than_8_characters_is_refused(
    settings: dw.Settings, password: str
) -> None:
    with pytest.raises(DefinitionError, match="at least 8 characters"):
        add_user("grace", "viewer", password, settings=settings)

    assert list_users(settings=settings) == []


@pytest.mark.parametrize(
    "name", ["ada", "a", "ada.lovelace", "ci-bot_2", "ada@example.org", "x" * 64]
)
def test_names_of_letters_digits_and_dot_underscore_dash_at_are_accepted(
    settings: dw.Settings, name: str
) -> None:
    assert add_user(name, "viewer", settings=settings).name == name


@pytest.mark.parametrize("name", ["", "x" * 65, "ada lovelace", "ada/..", "ädä", "a:b", "a\n"])
def test_other_names_are_refused(settings: dw.Settings, name: str) -> None:
    with pytest.raises(DefinitionError, match="a user name is"):
        add_user(name, "viewer", settings=settings)


def test_an_unknown_role_is_refused_with_the_valid_ones(settings: dw.Settings) -> None:
    with pytest.raises(DefinitionError, match="viewer, operator, admin"):
        add_user("grace", "root", settings=settings)


def test_a_name_is_taken_once(settings: dw.Settings, ada: accounts.User) -> None:
    with pytest.raises(DefinitionError, match="already exists"):
        add_user("ada", "viewer", "another password", settings=settings)

    assert get_user("ada", settings=settings).role is Role.ADMIN
    assert authenticate_password("ada", PASSWORD, settings=settings) is not None


def test_users_are_listed_by_name_and_counted(settings: dw.Settings) -> None:
    assert count_users(settings=settings) == 0
    add_user("zoe", "viewer", settings=settings)
    add_user("ada", "admin", settings=settings)

    assert [(u.name, u.role) for u in list_users(settings=settings)] == [
        ("ada", Role.ADMIN),
        ("zoe", Role.VIEWER),
    ]
    assert count_users(settings=settings) == 2


def test_a_user_as_json_has_no_password_hash(settings: dw.Settings, ada: accounts.User) -> None:
    data = ada.to_dict()

    assert data == {
        "name": "ada",
        "role": "admin",
        "has_password": True,
        "created_at": ada.created_at.isoformat(),
        "updated_at": ada.updated_at.isoformat(),
    }


def test_unknown_users_are_not_found(settings: dw.Settings) -> None:
    for call in (
        lambda: get_user("nobody", settings=settings),
        lambda: remove_user("nobody", settings=settings),
        lambda: set_role("nobody", "admin", settings=settings),
        lambda: set_password("nobody", PASSWORD, settings=settings),
        lambda: create_token("nobody", settings=settings),
        lambda: list_tokens("nobody", settings=settings),
    ):
        with pytest.raises(NotFoundError, match="no user named 'nobody'"):
            call()


def test_a_new_role_applies_at_once(settings: dw.Settings, ada: accounts.User) -> None:
    add_user("grace", "viewer", "grace's password", settings=settings)

    changed = set_role("grace", "operator", settings=settings)

    assert changed.role is Role.OPERATOR
    signed_in = authenticate_password("grace", "grace's password", settings=settings)
    assert signed_in is not None and signed_in.role is Role.OPERATOR


def test_a_new_password_replaces_the_old_one(settings: dw.Settings, ada: accounts.User) -> None:
    set_password("ada", "a brand new one", settings=settings)

    assert authenticate_password("ada", PASSWORD, settings=settings) is None
    assert authenticate_password("ada", "a brand new one", settings=settings) is not None


def test_removing_the_password_leaves_tokens_only(
    settings: dw.Settings, ada: accounts.User
) -> None:
    _, secret = create_token("ada", settings=settings)

    assert not set_password("ada", None, settings=settings).has_password

    assert authenticate_password("ada", PASSWORD, settings=settings) is None
    assert authenticate_token(secret, settings=settings) is not None


def test_the_last_admin_cannot_be_removed_or_demoted(
    settings: dw.Settings, ada: accounts.User
) -> None:
    with pytest.raises(DefinitionError, match="last admin"):
        remove_user("ada", settings=settings)
    with pytest.raises(DefinitionError, match="last admin"):
        set_role("ada", "operator", settings=settings)

    assert get_user("ada", settings=settings).role is Role.ADMIN


def test_an_admin_can_go_while_another_remains(settings: dw.Settings, ada: accounts.User) -> None:
    add_user("grace", "admin", settings=settings)

    set_role("grace", "viewer", settings=settings)
    set_role("grace", "admin", settings=settings)
    remove_user("ada", settings=settings)

    assert [u.name for u in list_users(settings=settings)] == ["grace"]


def test_a_removed_user_cannot_sign_in(settings: dw.Settings, ada: accounts.User) -> None:
    add_user("grace", "operator", "grace's password", settings=settings)

    assert remove_user("grace", settings=settings) == 0

    assert authenticate_password("grace", "grace's password", settings=settings) is None
    with pytest.raises(NotFoundError):
        get_user("grace", settings=settings)


def test_without_argon2_passwords_name_the_extra_to_install(
    settings: dw.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "argon2", None)  # import argon2 now fails
    accounts._argon2.cache_clear()
    try:
        with pytest.raises(DagwellError, match=r"pip install 'dagwell\[ui\]'"):
            add_user("grace", "viewer", "long enough!", settings=settings)
    finally:
        accounts._argon2.cache_clear()


# -- API tokens --------------------------------------------------------------------------------


def test_a_token_acts_as_its_user(settings: dw.Settings) -> None:
    add_user("ci", "operator", settings=settings)

    info, secret = create_token("ci", label=" nightly job ", settings=settings)

    assert secret.startswith("dwt_") and len(secret) > 40
    assert (info.user, info.label, info.revoked) == ("ci", "nightly job", False)
    user = authenticate_token(secret, settings=settings)
    assert user is not None and (user.name, user.role) == ("ci", Role.OPERATOR)


def test_each_token_is_a_new_secret(settings: dw.Settings, ada: accounts.User) -> None:
    made = [create_token("ada", settings=settings) for _ in range(3)]

    assert len({secret for _, secret in made}) == 3
    assert len({info.id for info, _ in made}) == 3


def test_only_the_sha256_of_a_token_is_stored(settings: dw.Settings, ada: accounts.User) -> None:
    import hashlib

    _, secret = create_token("ada", settings=settings)

    [row] = rows(settings, api_tokens)
    assert secret not in repr(row)
    assert hashlib.sha256(secret.encode()).hexdigest() in row


@pytest.mark.parametrize(
    "secret", ["", "dwt_", "dwt_not-a-token", "Bearer dwt_x", "dwt_\u00e9t\u00e9", None, 42]
)
def test_unknown_or_malformed_tokens_are_refused(
    settings: dw.Settings, ada: accounts.User, secret: Any
) -> None:
    create_token("ada", settings=settings)

    assert authenticate_token(secret, settings=settings) is None


def test_a_revoked_token_is_refused(settings: dw.Settings, ada: accounts.User) -> None:
    info, secret = create_token("ada", settings=settings)
    _, other_secret = create_token("ada", settings=settings)

    revoked = revoke_token(info.id, settings=settings)

    assert revoked.revoked and revoked.revoked_at is not None
    assert authenticate_token(secret, settings=settings) is None
    assert authenticate_token(other_secret, settings=settings) is not None
    assert revoke_token(info.id, settings=settings).revoked_at == revoked.revoked_at


def test_revoking_an_unknown_token_is_not_found(settings: dw.Settings) -> None:
    with pytest.raises(NotFoundError, match="dagwell tokens list"):
        revoke_token("0123456789ab", settings=settings)


def test_removing_a_user_revokes_their_tokens(settings: dw.Settings, ada: accounts.User) -> None:
    add_user("ci", "operator", settings=settings)
    _, first = create_token("ci", settings=settings)
    _, second = create_token("ci", settings=settings)
    _, kept = create_token("ada", settings=settings)

    assert remove_user("ci", settings=settings) == 2

    assert authenticate_token(first, settings=settings) is None
    assert authenticate_token(second, settings=settings) is None
    assert authenticate_token(kept, settings=settings) is not None
    assert [t.user for t in list_tokens(settings=settings)] == ["ada"]


def test_a_token_user_gets_their_current_role(settings: dw.Settings, ada: accounts.User) -> None:
    add_user("ci", "operator", settings=settings)
    _, secret = create_token("ci", settings=settings)

    set_role("ci", "viewer", settings=settings)

    user = authenticate_token(secret, settings=settings)
    assert user is not None and user.role is Role.VIEWER


def test_using_a_token_records_when(settings: dw.Settings, ada: accounts.User) -> None:
    info, secret = create_token("ada", settings=settings)
    assert info.last_used_at is None

    authenticate_token(secret, settings=settings)

    [listed] = list_tokens("ada", settings=settings)
    assert listed.last_used_at is not None
    assert listed.last_used_at >= info.created_at


def test_tokens_are_listed_per_user_with_revoked_ones(
    settings: dw.Settings, ada: accounts.User
) -> None:
    add_user("ci", "operator", settings=settings)
    first, _ = create_token("ci", "one", settings=settings)
    second, _ = create_token("ada", "two", settings=settings)
    revoke_token(first.id, settings=settings)

    listed = list_tokens(settings=settings)

    assert [(t.id, t.label, t.revoked) for t in listed] == [
        (first.id, "one", True),
        (second.id, "two", False),
    ]
    assert [t.id for t in list_tokens("ada", settings=settings)] == [second.id]
    assert "secret" not in str(listed[0].to_dict()) and listed[0].to_dict()["revoked"] is True


def test_a_too_long_label_is_refused(settings: dw.Settings, ada: accounts.User) -> None:
    with pytest.raises(DefinitionError, match="label"):
        create_token("ada", "x" * 201, settings=settings)


# -- install secret ----------------------------------------------------------------------------


def test_the_install_secret_is_made_once_and_kept(settings: dw.Settings) -> None:
    first = install_secret(settings=settings)

    assert install_secret("session", settings=settings) == first
    assert len(first) >= 64
    assert install_secret("other", settings=settings) != first


def test_another_database_gets_another_secret(settings: dw.Settings, tmp_path: Any) -> None:
    elsewhere = dw.Settings.from_env({}, home=tmp_path / "elsewhere")

    assert install_secret(settings=settings) != install_secret(settings=elsewhere)

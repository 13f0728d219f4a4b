"""Contract of the account, audit-log and install-secret queries, on SQLite and PostgreSQL.

Users and tokens are written and read back alike on both backends; two writers at once
(two web servers starting, two admins removing each other) end the way one after the
other would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timezone
from pathlib import Path

from metadata_helpers import T0, at, overlapping, select_rows

from dagwell.core.roles import Role
from dagwell.storage.metadata import accounts, audit
from dagwell.storage.metadata.install_secrets import get_or_create_secret, get_secret
from dagwell.storage.metadata.store import MetadataStore
from dagwell.storage.metadata.tables import api_tokens


def add(store: MetadataStore, name: str, role: Role = Role.VIEWER, pw: str | None = "h1") -> bool:
    with store.transaction() as tx:
        return accounts.add_user(tx, name, role, pw, T0)


def add_token(store: MetadataStore, token_id: str, user: str, seconds: float = 1) -> None:
    with store.transaction() as tx:
        accounts.add_token(tx, token_id, user, f"label {token_id}", f"hash-{token_id}", at(seconds))


def log(store: MetadataStore, seconds: float, actor: str, action: str, **detail: object) -> None:
    with store.transaction() as tx:
        audit.append(
            tx,
            at=at(seconds),
            actor=actor,
            action=action,
            target="churn",
            outcome="ok",
            source="ui",
            detail=detail,
        )


# -- users -------------------------------------------------------------------------------------


def test_a_user_is_added_once_and_read_back(store: MetadataStore) -> None:
    assert add(store, "grace", Role.OPERATOR)
    assert not add(store, "grace", Role.ADMIN, pw=None)  # the name is taken: nothing changes

    with store.reading() as conn:
        user = accounts.get_user(conn, "grace")
        found = accounts.user_and_hash(conn, "grace")
        missing = accounts.get_user(conn, "nobody")
    assert user is not None
    assert (user.name, user.role, user.has_password) == ("grace", Role.OPERATOR, True)
    assert user.created_at == T0
    assert user.created_at.tzinfo is timezone.utc
    assert found == (user, "h1")
    assert missing is None


def test_users_are_listed_by_name_and_counted(store: MetadataStore) -> None:
    for name in ("zoe", "ada", "grace"):
        add(store, name)

    with store.reading() as conn:
        assert [u.name for u in accounts.list_users(conn)] == ["ada", "grace", "zoe"]
        assert accounts.count_users(conn) == 3


def test_a_user_without_a_password_hash_has_no_password(store: MetadataStore) -> None:
    add(store, "ci", Role.OPERATOR, pw=None)

    with store.reading() as conn:
        assert accounts.user_and_hash(conn, "ci") == (accounts.get_user(conn, "ci"), None)
        user = accounts.get_user(conn, "ci")
    assert user is not None
    assert not user.has_password


def test_set_role_and_password_change_the_user_and_when_it_changed(store: MetadataStore) -> None:
    add(store, "grace")

    with store.transaction() as tx:
        assert accounts.set_role(tx, "grace", Role.ADMIN, at(5))
        assert accounts.set_password_hash(tx, "grace", None, at(6))
        assert not accounts.set_role(tx, "nobody", Role.ADMIN, at(5))
        assert not accounts.set_password_hash(tx, "nobody", "h", at(6))
    with store.reading() as conn:
        user = accounts.get_user(conn, "grace")
    assert user is not None
    assert (user.role, user.has_password, user.created_at, user.updated_at) == (
        Role.ADMIN,
        False,
        T0,
        at(6),
    )


def test_replacing_a_hash_loses_to_a_password_set_meanwhile(store: MetadataStore) -> None:
    """A sign-in rehashing the old password must not undo a password change."""
    add(store, "grace", pw="old")
    with store.transaction() as tx:
        accounts.set_password_hash(tx, "grace", "new", at(1))
        assert not accounts.replace_password_hash(tx, "grace", "old", "old-rehashed")
        assert accounts.replace_password_hash(tx, "grace", "new", "new-rehashed")

    with store.reading() as conn:
        assert accounts.user_and_hash(conn, "grace") == (
            accounts.get_user(conn, "grace"),
            "new-rehashed",
        )


def test_deleting_a_user_deletes_their_tokens_only(store: MetadataStore) -> None:
    add(store, "grace")
    add(store, "ci")
    add_token(store, "t1", "grace")
    add_token(store, "t2", "grace")
    add_token(store, "t3", "ci")

    with store.transaction() as tx:
        gone = accounts.delete_user(tx, "grace")
        again = accounts.delete_user(tx, "grace")
    with store.reading() as conn:
        users = [u.name for u in accounts.list_users(conn)]
        left = [t.id for t in accounts.list_tokens(conn)]
        found = accounts.find_token(conn, "hash-t1")

    assert (gone, again) == (2, None)
    assert users == ["ci"]
    assert left == ["t3"]
    assert found is None


def test_the_admins_locked_by_a_removal_are_seen_by_the_next_one_without_it(
    db_url: str,
) -> None:
    """Two admins removing each other at once: the second sees the first one gone."""
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    seen: list[list[str]] = []

    def remove(name: str):  # type: ignore[no-untyped-def]
        def write(tx):  # type: ignore[no-untyped-def]
            seen.append(accounts.lock_admins(tx))
            accounts.delete_user(tx, name)

        return write

    try:
        add(stores[0], "ada", Role.ADMIN)
        add(stores[0], "grace", Role.ADMIN)
        add(stores[0], "zoe", Role.VIEWER)
        overlapping(stores[0], remove("ada"), stores[1], remove("grace"))
    finally:
        for store in stores:
            store.dispose()

    assert seen == [["ada", "grace"], ["grace"]]


def test_two_writers_adding_one_name_at_once_add_it_once(db_url: str) -> None:
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    added: list[bool] = []
    try:
        overlapping(
            stores[0],
            lambda tx: added.append(accounts.add_user(tx, "ada", Role.ADMIN, "h-a", T0)),
            stores[1],
            lambda tx: added.append(accounts.add_user(tx, "ada", Role.VIEWER, "h-b", T0)),
        )
        with stores[0].reading() as conn:
            user = accounts.user_and_hash(conn, "ada")
    finally:
        for store in stores:
            store.dispose()

    assert added == [True, False]
    assert user is not None
    assert (user[0].role, user[1]) == (Role.ADMIN, "h-a")


# -- API tokens --------------------------------------------------------------------------------


def test_a_token_is_found_by_the_hash_of_its_secret_with_its_user(store: MetadataStore) -> None:
    add(store, "ci", Role.OPERATOR)
    with store.transaction() as tx:
        made = accounts.add_token(tx, "4f1c", "ci", "nightly", "sha-of-secret", at(1))

    with store.reading() as conn:
        found = accounts.find_token(conn, "sha-of-secret")
        other = accounts.find_token(conn, "sha-of-something-else")
    assert found is not None
    token, user = found
    assert token == made
    assert (token.id, token.user, token.label, token.created_at) == ("4f1c", "ci", "nightly", at(1))
    assert (token.last_used_at, token.revoked) == (None, False)
    assert (user.name, user.role) == ("ci", Role.OPERATOR)
    assert other is None


def test_tokens_are_listed_oldest_first_and_by_user(store: MetadataStore) -> None:
    add(store, "grace")
    add(store, "ci")
    add_token(store, "b", "ci", seconds=2)
    add_token(store, "a", "grace", seconds=3)
    add_token(store, "c", "ci", seconds=1)

    with store.reading() as conn:
        assert [t.id for t in accounts.list_tokens(conn)] == ["c", "b", "a"]
        assert [t.id for t in accounts.list_tokens(conn, "ci")] == ["c", "b"]
        assert accounts.list_tokens(conn, "nobody") == []


def test_touching_a_token_records_when_it_was_last_used(store: MetadataStore) -> None:
    add(store, "ci")
    add_token(store, "t1", "ci")

    with store.transaction() as tx:
        accounts.touch_token(tx, "t1", at(30))
    with store.reading() as conn:
        token = accounts.get_token(conn, "t1")
    assert token is not None
    assert token.last_used_at == at(30)


def test_revoking_keeps_the_first_revocation_time(store: MetadataStore) -> None:
    add(store, "ci")
    add_token(store, "t1", "ci")

    with store.transaction() as tx:
        first = accounts.revoke_token(tx, "t1", at(10))
        second = accounts.revoke_token(tx, "t1", at(20))
        missing = accounts.revoke_token(tx, "nope", at(20))
    with store.reading() as conn:
        found = accounts.find_token(conn, "hash-t1")

    assert first is not None and second is not None
    assert first.revoked_at == second.revoked_at == at(10)
    assert missing is None
    assert found is not None and found[0].revoked  # still found: the caller refuses it


def test_only_the_hash_of_a_token_is_stored(store: MetadataStore) -> None:
    add(store, "ci")
    with store.transaction() as tx:
        accounts.add_token(tx, "t1", "ci", "", "the-hash", at(1))

    rows = select_rows(store, api_tokens.select())
    assert [row[3] for row in rows] == ["the-hash"]


# -- audit log ---------------------------------------------------------------------------------


def test_audit_entries_come_back_newest_first_with_who_what_and_when(
    store: MetadataStore,
) -> None:
    log(store, 1, "ada", "login")
    log(store, 3, "grace", "trigger", run_id="3f2a9c")
    log(store, 2, "grace", "cancel")
    log(store, 3, "ada", "set_alias")  # the same instant as grace's trigger: written later

    with store.reading() as conn:
        entries = audit.list_entries(conn)
    assert [(e.at, e.actor, e.action) for e in entries] == [
        (at(3), "ada", "set_alias"),
        (at(3), "grace", "trigger"),
        (at(2), "grace", "cancel"),
        (at(1), "ada", "login"),
    ]
    trigger = entries[1]
    assert (trigger.target, trigger.outcome, trigger.source) == ("churn", "ok", "ui")
    assert trigger.detail == {"run_id": "3f2a9c"}
    assert trigger.at.tzinfo is timezone.utc


def test_audit_entries_are_filtered_by_actor_action_since_and_limit(
    store: MetadataStore,
) -> None:
    for second, (actor, action) in enumerate(
        [("ada", "login"), ("grace", "trigger"), ("grace", "cancel"), ("grace", "trigger")]
    ):
        log(store, second, actor, action)

    def actions(**filters: object) -> list[tuple[str, str]]:
        with store.reading() as conn:
            return [(e.actor, e.action) for e in audit.list_entries(conn, **filters)]  # type: ignore[arg-type]

    assert actions(actor="grace", action="trigger") == [("grace", "trigger")] * 2
    assert actions(since=at(2)) == [("grace", "trigger"), ("grace", "cancel")]
    assert actions(limit=1) == [("grace", "trigger")]
    assert len(actions(limit=None)) == 4
    assert actions(actor="nobody") == []


def test_an_appended_entry_comes_back_with_its_id(store: MetadataStore) -> None:
    with store.transaction() as tx:
        first = audit.append(
            tx, at=T0, actor="a", action="x", target="", outcome="ok", source="cli", detail={}
        )
        second = audit.append(
            tx, at=T0, actor="a", action="y", target="", outcome="ok", source="cli", detail={}
        )
    with store.reading() as conn:
        stored = audit.list_entries(conn)

    assert second.id > first.id
    assert stored == [second, first]
    assert first.to_dict()["at"] == T0.isoformat()


# -- install secrets ---------------------------------------------------------------------------


def test_the_first_value_of_a_secret_is_kept(store: MetadataStore) -> None:
    with store.transaction() as tx:
        first = get_or_create_secret(tx, "session", "value-1", T0)
        second = get_or_create_secret(tx, "session", "value-2", at(1))
        other = get_or_create_secret(tx, "csrf", "value-3", at(1))
    with store.reading() as conn:
        stored = get_secret(conn, "session")
        missing = get_secret(conn, "nothing")

    assert (first, second, stored, other, missing) == (
        "value-1",
        "value-1",
        "value-1",
        "value-3",
        None,
    )


def test_two_servers_making_the_secret_at_once_get_the_same_one(db_url: str) -> None:
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    got: list[str] = []
    try:
        overlapping(
            stores[0],
            lambda tx: got.append(get_or_create_secret(tx, "session", "from-a", T0)),
            stores[1],
            lambda tx: got.append(get_or_create_secret(tx, "session", "from-b", T0)),
        )
    finally:
        for store in stores:
            store.dispose()

    assert got == ["from-a", "from-a"]


SECRET_SCRIPT = textwrap.dedent(
    """
    import sys
    import dagwell as dw
    from dagwell.tracking.accounts import install_secret
    settings = dw.Settings.from_env({}, home=sys.argv[1], db_url=sys.argv[2])
    print(install_secret("session", settings=settings))
    """
)


def test_two_processes_starting_together_read_one_install_secret(
    db_url: str, tmp_path: Path
) -> None:
    """What two `dagwell ui` servers do at start: both must sign cookies with one key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    command = [sys.executable, "-c", SECRET_SCRIPT, str(tmp_path / "home"), db_url]
    started = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in started]

    assert [process.returncode for process in started] == [0, 0], outputs
    secrets = {out.strip() for out, _ in outputs}
    assert len(secrets) == 1
    assert len(secrets.pop()) >= 64

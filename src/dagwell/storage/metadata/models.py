"""The model registry's rows: model versions and aliases in, Model and ModelVersion out.

A section of the metadata store, split out by concept: ``MetadataStore.models`` is a
:class:`ModelStore` over the same database. As in the store, writes take the caller's
transaction and reads open a short connection of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, literal, select

from dagwell.core.models import Model, ModelVersion
from dagwell.core.states import AttemptState
from dagwell.core.values import StoredValue
from dagwell.errors import DefinitionError, NotFoundError
from dagwell.storage.metadata.tables import artifacts, model_aliases, model_versions
from dagwell.storage.metadata.upsert import upsert

if TYPE_CHECKING:
    from dagwell.core.records import AttemptEnd
    from dagwell.storage.metadata.store import MetadataStore

_VERSION_LOCK_CLASS = 0x6477  # "dw": the first key of PostgreSQL advisory locks we take

_SELECT_VERSIONS = (
    select(
        model_versions.c.name,
        model_versions.c.version,
        model_versions.c.run_id,
        model_versions.c.node,
        model_versions.c.metadata,
        model_versions.c.created_at,
        model_versions.c.artifact_hash,
        artifacts.c.size,
        artifacts.c.serializer,
        artifacts.c.type_name,
    )
    .join(artifacts, artifacts.c.hash == model_versions.c.artifact_hash)
    .order_by(model_versions.c.name, model_versions.c.version)
)


class ModelStore:
    """Model versions and aliases in the metadata database.

    >>> store.models.get("churn", alias="production").version
    3
    >>> with store.transaction() as tx:
    ...     store.models.set_alias(tx, "churn", 4, "production")
    """

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    # -- writes -------------------------------------------------------------------------------

    def record(self, tx: Connection, run_id: str, ends: Sequence[AttemptEnd]) -> list[int]:
        """Record the models that succeeded attempts logged, each as its name's next version.

        Called with attempt ends that were just recorded (fenced), in the same transaction,
        so a version exists exactly when its attempt's success does. Ends of failed attempts
        register nothing. Returns the new version numbers, in logging order.

        >>> store.models.record(tx, rid, [end_with_models])
        [1]
        """
        logged = [
            (end.node, model)
            for end in ends
            if end.status is AttemptState.SUCCEEDED
            for model in end.models
        ]
        if not logged:
            return []
        rows: dict[str, dict[str, Any]] = {}
        for _, model in logged:
            value = model.value
            if value.is_inline:
                raise ValueError(f"model {model.name!r} must be stored as an artifact, not inline")
            rows.setdefault(
                value.hash,
                {
                    "hash": value.hash,
                    "size": value.size,
                    "serializer": value.serializer,
                    "type_name": value.type_name,
                },
            )
        self._store._insert_artifacts(tx, list(rows.values()))
        _lock_names(tx, {model.name for _, model in logged})
        at = datetime.now(timezone.utc)
        versions = []
        for node, model in logged:
            version = self._next_version(tx, model.name)
            tx.execute(
                insert(model_versions),
                {
                    "name": model.name,
                    "version": version,
                    "run_id": run_id,
                    "node": node,
                    "artifact_hash": model.value.hash,
                    "metadata": dict(model.metadata),
                    "created_at": at,
                },
            )
            versions.append(version)
        return versions

    def _next_version(self, tx: Connection, name: str) -> int:
        latest = tx.execute(
            select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
        ).scalar_one()
        return int(latest or 0) + 1

    def set_alias(
        self,
        tx: Connection,
        name: str,
        version: int,
        alias: str,
        *,
        at: datetime | None = None,
    ) -> None:
        """Point ``alias`` of model ``name`` at ``version``, moving it if it pointed elsewhere.

        Raises :class:`~dagwell.errors.NotFoundError` for an unknown model or version.

        >>> store.models.set_alias(tx, "churn", 3, "production")
        """
        found = tx.execute(
            select(model_versions.c.version).where(
                model_versions.c.name == name, model_versions.c.version == version
            )
        ).first()
        if found is None:
            raise self._unknown_version(tx, name, version)
        # An upsert: two writers moving the same alias at once on PostgreSQL both succeed,
        # the later one's version wins.
        upsert(
            tx,
            model_aliases,
            ["name", "alias"],
            {
                "name": name,
                "alias": alias,
                "version": version,
                "updated_at": at or datetime.now(timezone.utc),
            },
        )

    # -- reads --------------------------------------------------------------------------------

    def models(self) -> list[Model]:
        """Every registered model name, sorted, with its newest version and aliases.

        >>> [(m.name, m.latest_version) for m in store.models.models()]
        """
        with self._store.reading() as conn:
            rows = conn.execute(
                select(
                    model_versions.c.name,
                    func.max(model_versions.c.version),
                    func.count(),
                    func.max(model_versions.c.created_at),
                )
                .group_by(model_versions.c.name)
                .order_by(model_versions.c.name)
            ).all()
            aliases = _aliases_by_name(conn, None)
        return [
            Model(
                name=name,
                latest_version=latest,
                version_count=count,
                aliases=dict(sorted(_flatten(aliases[name]))),
                updated_at=_as_utc(updated),
            )
            for name, latest, count, updated in rows
        ]

    def versions(self, name: str | None = None, *, run_id: str | None = None) -> list[ModelVersion]:
        """Recorded versions, oldest first: of model ``name``, made by run ``run_id``, or both.

        Raises :class:`~dagwell.errors.NotFoundError` when ``name`` is not a registered
        model (the message lists those that are).

        >>> [v.version for v in store.models.versions("churn")]
        [1, 2, 3]
        """
        query = _SELECT_VERSIONS
        if name is not None:
            query = query.where(model_versions.c.name == name)
        if run_id is not None:
            query = query.where(model_versions.c.run_id == run_id)
        with self._store.reading() as conn:
            rows = conn.execute(query).all()
            if not rows and name is not None and not _exists(conn, name):
                raise _unknown_model(conn, name)
            aliases = _aliases_by_name(conn, name)
        return [_version(row, aliases) for row in rows]

    def get(self, name: str, version: int | None = None, alias: str | None = None) -> ModelVersion:
        """One version of model ``name``: ``version``, the one ``alias`` points at, or the newest.

        Raises :class:`~dagwell.errors.NotFoundError` naming what exists when the model,
        version or alias does not.

        >>> store.models.get("churn", alias="production").version
        """
        if version is not None and alias is not None:
            raise DefinitionError(
                f"ask for a version or an alias of model {name!r}, not both "
                f"(got version {version!r} and alias {alias!r})"
            )
        with self._store.reading() as conn:
            if alias is not None:
                version = conn.execute(
                    select(model_aliases.c.version).where(
                        model_aliases.c.name == name, model_aliases.c.alias == alias
                    )
                ).scalar()
                if version is None:
                    raise _unknown_alias(conn, name, alias)
            elif version is None:
                version = conn.execute(
                    select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
                ).scalar()
                if version is None:
                    raise _unknown_model(conn, name)
            row = conn.execute(
                _SELECT_VERSIONS.where(
                    model_versions.c.name == name, model_versions.c.version == version
                )
            ).first()
            if row is None:
                raise self._unknown_version(conn, name, version)
            return _version(row, _aliases_by_name(conn, name))

    @staticmethod
    def _unknown_version(conn: Connection, name: str, version: int) -> NotFoundError:
        numbers = list(
            conn.scalars(
                select(model_versions.c.version)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            )
        )
        if not numbers:
            return _unknown_model(conn, name)
        return NotFoundError(
            f"model {name!r} has no version {version}; its versions are {_numbers(numbers)}"
        )


def _lock_names(tx: Connection, names: set[str]) -> None:
    """Take the version locks of model ``names`` until commit (PostgreSQL), sorted.

    SQLite transactions here begin IMMEDIATE, one writer at a time; PostgreSQL ones may run
    side by side, so two runners would both read the same newest version. Taking every
    lock up front, in name order, keeps two runners logging the same models in different
    orders from deadlocking.
    """
    if tx.dialect.name != "postgresql":
        return
    for name in sorted(names):
        key = func.hashtext(name)
        tx.execute(select(func.pg_advisory_xact_lock(literal(_VERSION_LOCK_CLASS), key)))


def _exists(conn: Connection, name: str) -> bool:
    query = select(model_versions.c.version).where(model_versions.c.name == name).limit(1)
    return conn.execute(query).first() is not None


def _unknown_model(conn: Connection, name: str) -> NotFoundError:
    known = list(
        conn.scalars(select(model_versions.c.name).distinct().order_by(model_versions.c.name))
    )
    if not known:
        return NotFoundError(
            f"no model named {name!r}: no models are registered yet; register one with "
            "dw.log_model(obj, name) inside a task"
        )
    shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
    return NotFoundError(f"no model named {name!r}; registered models: {shown}")


def _unknown_alias(conn: Connection, name: str, alias: str) -> NotFoundError:
    if not _exists(conn, name):
        return _unknown_model(conn, name)
    pointers = conn.execute(
        select(model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.name == name)
        .order_by(model_aliases.c.alias)
    ).all()
    if not pointers:
        return NotFoundError(
            f"model {name!r} has no alias {alias!r}; it has no aliases yet (set one with "
            f"dw.models.set_alias({name!r}, VERSION, {alias!r}))"
        )
    shown = ", ".join(f"{a} (version {v})" for a, v in pointers)
    return NotFoundError(f"model {name!r} has no alias {alias!r}; its aliases are: {shown}")


def _numbers(numbers: list[int]) -> str:
    if numbers == list(range(1, len(numbers) + 1)) and len(numbers) > 3:
        return f"1 to {len(numbers)}"
    return ", ".join(map(str, numbers))


def _aliases_by_name(
    conn: Connection, name: str | None
) -> defaultdict[str, defaultdict[int, list[str]]]:
    """``{model name: {version: [alias, ...]}}``, aliases sorted."""
    query = select(model_aliases.c.name, model_aliases.c.version, model_aliases.c.alias).order_by(
        model_aliases.c.alias
    )
    if name is not None:
        query = query.where(model_aliases.c.name == name)
    found: defaultdict[str, defaultdict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for model, version, alias in conn.execute(query):
        found[model][version].append(alias)
    return found


def _flatten(by_version: dict[int, list[str]]) -> list[tuple[str, int]]:
    return [(alias, version) for version, names in by_version.items() for alias in names]


def _version(row: Any, aliases: defaultdict[str, defaultdict[int, list[str]]]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        run_id=row.run_id,
        node=row.node,
        artifact=StoredValue(
            hash=row.artifact_hash,
            serializer=row.serializer,
            size=row.size,
            type_name=row.type_name,
        ),
        metadata=row.metadata,
        created_at=row.created_at,
        aliases=tuple(aliases[row.name].get(row.version, ())),
        loader=None,
    )


def _as_utc(moment: Any) -> datetime | None:
    """An aggregate (``max``) of a time column comes back without the column's type."""
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite returns the stored text
        moment = datetime.fromisoformat(moment)
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

"""Registered models as plain values: Model, ModelVersion, and a LoggedModel on its way in.

A task logs a model with ``dw.log_model``; the worker stores the object and the attempt
carries a :class:`LoggedModel` back to the runner, which records it as the next
:class:`ModelVersion` of that name. The naming rules and the ``NAME[@VERSION|@ALIAS]`` spec
text live here too, since both the logging side and the reading side apply them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dagwell.core.values import StoredValue
from dagwell.errors import DefinitionError, NotFoundError

LATEST = "latest"
"""The spec suffix meaning the newest version (``churn@latest``); never an alias name."""

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class LoggedModel:
    """A model a task logged: stored by the worker, not yet a recorded version.

    ``value`` describes the stored object; ``logged_at`` is when ``dw.log_model`` was called.
    """

    name: str
    value: StoredValue
    metadata: Mapping[str, Any]
    logged_at: datetime


@dataclass(frozen=True)
class ModelVersion:
    """One recorded version of a model: which run and node made it, and where it is stored.

    Versions of a name count up from 1 in the order they were recorded. ``aliases`` are the
    names pointing at this version (``production``); ``run_id`` and ``node`` are None once
    the run that made it was deleted.

    >>> version = dw.models.get("churn", alias="production")
    >>> version.version, version.run_id, version.metadata["auc"]
    >>> model = version.load()
    """

    name: str
    version: int
    run_id: str | None
    node: str | None
    artifact: StoredValue = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    aliases: tuple[str, ...] = ()
    loader: Callable[[StoredValue], Any] | None = field(default=None, compare=False, repr=False)

    @property
    def artifact_hash(self) -> str:
        """The content hash of the stored model in the artifact store."""
        return self.artifact.hash

    @property
    def spec(self) -> str:
        """``name@version``, the text ``dw.models.load`` and ``dagwell models show`` take."""
        return f"{self.name}@{self.version}"

    def load(self) -> Any:
        """Load the model object from the artifact store; each call returns a new object.

        >>> clf = dw.models.get("churn").load()
        >>> clf.predict(rows)
        """
        if self.loader is None:
            raise NotFoundError(
                f"model version {self.spec} was read without an artifact store to load from"
            )
        return self.loader(self.artifact)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the shape ``dagwell models show --json`` prints)."""
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "node": self.node,
            "aliases": list(self.aliases),
            "metadata": dict(self.metadata),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "artifact_hash": self.artifact_hash,
            "type": self.artifact.type_name,
            "size": self.artifact.size,
        }


@dataclass(frozen=True)
class Model:
    """A registered model name: how many versions it has, the newest, and its aliases.

    >>> [(m.name, m.latest_version, dict(m.aliases)) for m in dw.models.list()]
    [('churn', 3, {'production': 2})]
    """

    name: str
    latest_version: int
    version_count: int
    aliases: Mapping[str, int] = field(default_factory=dict)
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (one entry of ``dagwell models list --json``)."""
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "version_count": self.version_count,
            "aliases": dict(self.aliases),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def check_model_name(name: Any) -> str:
    """``name`` if it is a valid model name (letters, digits, ``_``, ``-``, ``.``), else raise.

    >>> check_model_name("churn-classifier.v2")
    'churn-classifier.v2'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DefinitionError(
            f"a model name must be a non-empty string of letters, digits, '_', '-' and '.', "
            f"got {name!r}"
        )
    return name


def check_alias(alias: Any) -> str:
    """``alias`` if it is a valid alias name: a model name that is not a number nor ``latest``.

    A number would read as a version in ``name@3``, and ``name@latest`` means the newest.
    """
    if not isinstance(alias, str) or not _NAME.fullmatch(alias):
        raise DefinitionError(
            f"an alias must be a non-empty string of letters, digits, '_', '-' and '.', "
            f"got {alias!r}"
        )
    if alias.isdigit():
        raise DefinitionError(
            f"an alias cannot be a number ({alias!r} would read as a version in "
            f"'name@{alias}'); use a word such as 'production'"
        )
    if alias == LATEST:
        raise DefinitionError(
            f"{LATEST!r} cannot be an alias: 'name@{LATEST}' always means the newest version"
        )
    return alias


def check_version(version: Any) -> int:
    """``version`` if it is a valid version number (an int from 1), else raise."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DefinitionError(f"a model version is a whole number from 1, got {version!r}")
    return version


@dataclass(frozen=True)
class ModelSpec:
    """What ``NAME``, ``NAME@VERSION``, ``NAME@ALIAS`` or ``NAME@latest`` asks for.

    ``version`` and ``alias`` are both None for the newest version.
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: Any) -> ModelSpec:
        """Read spec text; raise :class:`~dagwell.errors.DefinitionError` when malformed.

        >>> ModelSpec.parse("churn@production")
        ModelSpec(name='churn', version=None, alias='production')
        >>> ModelSpec.parse("churn@3").version
        3
        """
        if not isinstance(text, str):
            raise DefinitionError(
                f"a model spec is text like 'name', 'name@3' or 'name@production', got {text!r}"
            )
        name, at, suffix = text.partition("@")
        try:
            check_model_name(name)
            if not at:
                return cls(name)
            if suffix == LATEST:
                return cls(name)
            if suffix.isascii() and suffix.isdigit():
                return cls(name, version=check_version(int(suffix)))
            return cls(name, alias=check_alias(suffix))
        except DefinitionError as exc:
            raise DefinitionError(
                f"bad model spec {text!r}: {exc}; write 'name', 'name@VERSION' (a number), "
                "'name@ALIAS' or 'name@latest'"
            ) from None

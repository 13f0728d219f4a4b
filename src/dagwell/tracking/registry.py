"""The model registry: ``dw.log_model`` inside a task, and ``dw.models`` to read and promote.

A logged model is stored by the worker in the artifact store at once, and becomes a
version (1, 2, … per name) when the runner records the attempt's success; a failed attempt
registers nothing. Aliases (``production``) are set from outside a run, like promotions in
a model registry: ``dw.models.set_alias``. Every reading function takes optional
:class:`~dagwell.settings.Settings`, read from the environment when left out.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from dagwell.core.context import current
from dagwell.core.models import (
    LoggedModel,
    Model,
    ModelSpec,
    ModelVersion,
    check_alias,
    check_model_name,
    check_version,
)
from dagwell.errors import DagwellError, DefinitionError, SerializationError
from dagwell.settings import Settings
from dagwell.storage.shared import artifact_store, metadata_store, worker_artifact_store


def log_model(obj: Any, name: str, metadata: Mapping[str, Any] | None = None) -> None:
    """Register ``obj`` as the next version of model ``name`` when this attempt succeeds.

    The object is stored in the artifact store now (cloudpickle for a scikit-learn model,
    so later changes to ``obj`` are not included); the runner records the version when the
    task's attempt has succeeded, linked to the run and node. The version number is only
    known then, so this returns None: read it afterwards with ``dw.models.get(name)`` or
    ``dw.models.versions(name, run_id=run.id)``.

    Parameters:
        obj: the model, or any value dagwell can store.
        name: letters, digits, ``_``, ``-`` and ``.``; the same name collects versions.
        metadata: JSON-able details kept with the version (scores, config).

    >>> @dw.task
    ... def train(data):
    ...     model = LogisticRegression().fit(data.x, data.y)
    ...     dw.log_model(model, "churn", metadata={"auc": 0.91})
    """
    context = current()
    check_model_name(name)
    stored_metadata = _json_metadata(name, metadata)
    if context.artifacts_url is None:
        raise DagwellError(
            "dw.log_model() needs a task run by dagwell (this task context has no artifact "
            "store to write the model to)"
        )
    try:
        # Never inline: a version points at an object in the artifact store.
        store = worker_artifact_store(context.artifacts_url, context.s3_endpoint)
        value = store.put(obj, inline_limit=-1)
    except SerializationError as exc:
        raise SerializationError(
            f"model {name!r} of type {type(obj).__name__} cannot be stored: {exc}"
        ) from exc
    context.log.models.append(
        LoggedModel(name, value, stored_metadata, logged_at=datetime.now(timezone.utc))
    )


def _json_metadata(name: str, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise DefinitionError(
            f"the metadata of model {name!r} must be a dict, got {type(metadata).__name__}"
        )
    try:
        stored = json.loads(json.dumps(dict(metadata), allow_nan=False, default=_scalar))
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            f"the metadata of model {name!r} must be JSON (numbers, strings, bools, lists, "
            f"dicts with string keys): {exc}"
        ) from None
    return dict(stored)


def _scalar(value: Any) -> Any:
    """A numpy scalar (``np.float32(0.9)``, ``np.int64(3)``) as the Python number it holds."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON")


class ModelRegistry:
    """What ``dw.models`` is: list, read, load and alias registered models.

    >>> dw.models.list()
    >>> dw.models.set_alias("churn", 3, "production")
    >>> clf = dw.models.load("churn@production")
    """

    def list(self, *, settings: Settings | None = None) -> builtins.list[Model]:
        """Every registered model, by name, with its newest version and its aliases.

        >>> [(m.name, m.latest_version, dict(m.aliases)) for m in dw.models.list()]
        [('churn', 3, {'production': 2})]
        """
        settings = settings or Settings.from_env()
        return metadata_store(settings.db_url).models.models()

    def versions(
        self, name: str, *, run_id: str | None = None, settings: Settings | None = None
    ) -> builtins.list[ModelVersion]:
        """Every version of model ``name``, oldest first (only run ``run_id``'s, if given).

        Raises :class:`~dagwell.errors.NotFoundError` for an unknown model.

        >>> [(v.version, v.aliases) for v in dw.models.versions("churn")]
        [(1, ()), (2, ('production',)), (3, ())]
        """
        check_model_name(name)
        settings = settings or Settings.from_env()
        found = metadata_store(settings.db_url).models.versions(name, run_id=run_id)
        return [_with_loader(v, settings) for v in found]

    def get(
        self,
        name: str,
        version: int | None = None,
        alias: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> ModelVersion:
        """One version of model ``name``: number ``version``, the one ``alias`` names, or
        the newest when both are left out.

        Raises :class:`~dagwell.errors.NotFoundError` when the model, version or alias does
        not exist (the message lists what does).

        >>> dw.models.get("churn", alias="production").run_id
        """
        check_model_name(name)
        if version is not None:
            check_version(version)
        if alias is not None:
            check_alias(alias)
        settings = settings or Settings.from_env()
        found = metadata_store(settings.db_url).models.get(name, version, alias)
        return _with_loader(found, settings)

    def set_alias(
        self, name: str, version: int, alias: str, *, settings: Settings | None = None
    ) -> ModelVersion:
        """Point ``alias`` of model ``name`` at ``version`` (moving it if set) and return it.

        An alias follows the rules of model names and cannot be a number or ``latest``.

        >>> dw.models.set_alias("churn", 3, "production").aliases
        ('production',)
        """
        check_model_name(name)
        check_version(version)
        check_alias(alias)
        settings = settings or Settings.from_env()
        store = metadata_store(settings.db_url)
        with store.transaction() as tx:
            store.models.set_alias(tx, name, version, alias)
        return self.get(name, version, settings=settings)

    def export_mlflow(self, spec: str, path: str, *, settings: Settings | None = None) -> str:
        """Write model version ``spec`` (scikit-learn) in MLflow's format to folder ``path``.

        Needs the ``mlflow`` extra. Returns the folder.

        >>> dw.models.export_mlflow("churn@production", "exported/churn")
        """
        from dagwell.tracking.mlflow_export import export_mlflow

        version = self.resolve(spec, settings=settings)
        note = f"dagwell model {version.name} v{version.version} from run {version.run_id}"
        return str(export_mlflow(version.load(), path, description=note))

    def load(self, spec: str, *, settings: Settings | None = None) -> Any:
        """Load a model object by ``"name"`` (newest), ``"name@3"`` or ``"name@production"``.

        >>> clf = dw.models.load("churn@production")
        >>> clf.predict(rows)
        """
        return self.resolve(spec, settings=settings).load()

    def resolve(self, spec: str, *, settings: Settings | None = None) -> ModelVersion:
        """The :class:`ModelVersion` that spec text names, as :meth:`load` reads it.

        >>> dw.models.resolve("churn@production").version
        3
        """
        parsed = ModelSpec.parse(spec)
        return self.get(parsed.name, parsed.version, parsed.alias, settings=settings)

    def __repr__(self) -> str:
        return "dw.models"


def _with_loader(version: ModelVersion, settings: Settings) -> ModelVersion:
    return replace(version, loader=artifact_store(settings.artifacts_url, settings).get)


models = ModelRegistry()
"""The model registry, ``dw.models``."""

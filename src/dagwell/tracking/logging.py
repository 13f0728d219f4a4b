"""Logging params and metrics from inside a task: ``dw.log_param``, ``dw.log_metric`` and kin.

Values are checked here, collected in the attempt's context, and sent to the runner with
the attempt's outcome (the runner is the only writer), also when the attempt fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from dagwell.core.context import current
from dagwell.core.records import Metric
from dagwell.errors import DefinitionError


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record ``value`` of metric ``name`` (at ``step``, e.g. an epoch) for this task.

    >>> for epoch in range(10):
    ...     dw.log_metric("loss", train_one_epoch(), step=epoch)
    """
    context = current()
    _check_name("metric", name)
    if isinstance(value, bool) or not _is_number(value):
        raise DefinitionError(
            f"metric {name!r} must be a number, got {type(value).__name__} {value!r}"
        )
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise DefinitionError(f"the step of metric {name!r} must be an int, got {step!r}")
    point = Metric(context.node, name, float(value), step, datetime.now(timezone.utc))
    context.log.metrics.append(point)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    """Record several metrics at once, all at the same ``step``.

    >>> dw.log_metrics({"accuracy": 0.93, "f1": 0.91})
    """
    for name, value in values.items():
        log_metric(name, value, step)


def log_param(name: str, value: Any) -> None:
    """Record a param of this task (a JSON-able value); logging a name again replaces it.

    >>> dw.log_param("optimizer", "adam")
    """
    context = current()
    _check_name("param", name)
    try:
        stored = json.loads(json.dumps(value))
    except (TypeError, ValueError):
        raise DefinitionError(
            f"param {name!r} must be a JSON value (number, string, bool, list, dict), "
            f"got {type(value).__name__}"
        ) from None
    context.log.params[name] = stored


def log_params(values: Mapping[str, Any]) -> None:
    """Record several params at once.

    >>> dw.log_params({"C": 0.5, "penalty": "l2"})
    """
    for name, value in values.items():
        log_param(name, value)


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError(f"a {kind} name must be a non-empty string, got {name!r}")


def _is_number(value: Any) -> bool:
    """numpy scalars and other non-text objects that convert to a float."""
    if isinstance(value, (str, bytes)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True

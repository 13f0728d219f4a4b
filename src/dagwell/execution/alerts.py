"""Alerts of a run: the hooks that turn failures, retries, successes and missed SLAs into alerts.

(Being written: see issue 4.)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dagwell.execution.hooks import Hooks

if TYPE_CHECKING:
    from dagwell.core.graph import Graph
    from dagwell.core.pipeline import Pipeline
    from dagwell.storage.metadata.store import MetadataStore


def alert_hooks(
    pipeline: Pipeline,
    graph: Graph,
    store: MetadataStore,
    *,
    scheduled_for: datetime | None = None,
) -> Hooks | None:
    """The hooks that raise ``pipeline``'s alerts, or None when it and its tasks ask for none."""
    return None

"""Hooks: a short, fixed list of run events that observers (progress views, alerts) get.

Every method takes keyword-only arguments, so fields can be added without breaking anyone.
Subclass :class:`Hooks` and override what you need; the defaults do nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagwell.core.states import RunState, TaskState


class Hooks:
    """Receives run and task events from the runner, in the runner's process.

    >>> class Printer(Hooks):
    ...     def task_changed(self, *, node, status, **_):
    ...         print(node, status)
    """

    def run_started(self, *, run_id: str, pipeline: str, nodes: Sequence[str]) -> None:
        """The run was recorded and is about to submit its first tasks."""

    def nodes_added(self, *, run_id: str, nodes: Sequence[str]) -> None:
        """A dynamic fan-out expanded into ``nodes``."""

    def task_changed(
        self,
        *,
        run_id: str,
        node: str,
        status: TaskState,
        attempt: int,
        error: str | None = None,
    ) -> None:
        """``node`` entered ``status`` (on attempt ``attempt``; 0 when none ran)."""

    def run_finished(self, *, run_id: str, status: RunState, error: str | None = None) -> None:
        """The run ended in ``status``."""


class HookList(Hooks):
    """Several hooks as one: each event goes to each, in order.

    >>> hooks = HookList([progress, lineage_export])
    """

    def __init__(self, hooks: Sequence[Hooks]) -> None:
        self.hooks = list(hooks)

    def run_started(self, **event: Any) -> None:
        for hook in self.hooks:
            hook.run_started(**event)

    def nodes_added(self, **event: Any) -> None:
        for hook in self.hooks:
            hook.nodes_added(**event)

    def task_changed(self, **event: Any) -> None:
        for hook in self.hooks:
            hook.task_changed(**event)

    def run_finished(self, **event: Any) -> None:
        for hook in self.hooks:
            hook.run_finished(**event)

"""Live progress of a run in the terminal: a rich table on a TTY, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from dagwell.core.states import RunState, TaskState
from dagwell.execution.hooks import Hooks

STATUS_STYLE = {
    "pending": "dim",
    "running": "bold cyan",
    "retrying": "yellow",
    "succeeded": "green",
    "cached": "green",
    "reused": "green",
    "failed": "bold red",
    "upstream_failed": "red",
    "cancelled": "magenta",
    "skipped": "dim",
    "queued": "dim",
}
_SHOWN_ROWS = 14


def styled(status: str) -> Text:
    """``status`` coloured the way every dagwell view colours it."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


class LiveProgress(Hooks):
    """A live table: counts by state, a bar, and the nodes running or failed."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status: dict[str, TaskState] = {}
        self.attempt: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.begin = time.monotonic()
        self.run_id = ""
        self.pipeline = ""
        self.live: Live | None = None

    def run_started(self, *, run_id: str, pipeline: str, nodes: Sequence[str]) -> None:
        self.run_id, self.pipeline = run_id, pipeline
        self.status = dict.fromkeys(nodes, TaskState.PENDING)
        # The table is rebuilt only when rich refreshes, not on every event.
        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self._render)
        self.live.start()

    def nodes_added(self, *, run_id: str, nodes: Sequence[str]) -> None:
        for node in nodes:
            self.status[node] = TaskState.PENDING

    def task_changed(self, **event: Any) -> None:
        node, status = event["node"], event["status"]
        self.status[node] = status
        self.attempt[node] = event["attempt"]
        if status is TaskState.RUNNING:
            self.started[node] = time.monotonic()
        if event.get("error"):
            self.errors[node] = event["error"]

    def run_finished(self, *, run_id: str, status: RunState, error: str | None = None) -> None:
        if self.live is not None:
            self.live.stop()

    def _render(self) -> Table:
        counts: dict[str, int] = {}
        for s in self.status.values():
            counts[s.value] = counts.get(s.value, 0) + 1
        total = len(self.status) or 1
        done = sum(1 for s in self.status.values() if s.is_finished)
        width = 30
        filled = int(width * done / total)
        elapsed = time.monotonic() - self.begin
        table = Table(box=None, show_header=True, header_style="bold")
        table.title = (
            f"run {self.run_id} · {self.pipeline} · {done}/{total} done · {elapsed:.1f}s  "
            f"[green]{'━' * filled}[/][dim]{'━' * (width - filled)}[/]"
        )
        table.add_column("node")
        table.add_column("state")
        table.add_column("attempt", justify="right")
        table.add_column("time", justify="right")
        table.add_column("detail", overflow="ellipsis", max_width=70)
        interesting = [
            n
            for n, s in self.status.items()
            if s in (TaskState.RUNNING, TaskState.RETRYING, TaskState.FAILED)
        ]
        for node in interesting[:_SHOWN_ROWS]:
            s = self.status[node]
            took = time.monotonic() - self.started.get(node, time.monotonic())
            table.add_row(
                node,
                styled(s.value),
                str(self.attempt.get(node, "")),
                f"{took:.1f}s" if s is TaskState.RUNNING else "",
                self.errors.get(node, ""),
            )
        summary = "  ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        table.caption = summary
        return table


class PlainProgress(Hooks):
    """One line per state change, for logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def run_started(self, *, run_id: str, pipeline: str, nodes: Sequence[str]) -> None:
        self.console.print(f"run {run_id} started: pipeline {pipeline}, {len(nodes)} nodes")

    def task_changed(self, **event: Any) -> None:
        status: TaskState = event["status"]
        if status is TaskState.PENDING:
            return
        detail = f" ({event['error']})" if event.get("error") else ""
        attempt = f" attempt {event['attempt']}" if event["attempt"] else ""
        self.console.print(f"{event['node']}: {status.value}{attempt}{detail}", highlight=False)


def progress_for(console: Console) -> Hooks:
    """The live view on a terminal, plain lines otherwise."""
    return LiveProgress(console) if console.is_terminal else PlainProgress(console)

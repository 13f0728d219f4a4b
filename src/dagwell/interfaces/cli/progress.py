"""Live progress of a run in the terminal: a rich table on a TTY, plain lines otherwise."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, TypeAlias

from rich.console import Console, Group, RenderableType
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
_SHOWN_ROWS = 10
_BAR_WIDTH = 30
_NODE_WIDTH = 40
_WATCHED = (TaskState.RUNNING, TaskState.RETRYING, TaskState.FAILED)


def styled(status: str) -> Text:
    """``status`` coloured the way every dagwell view colours it."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


class LiveProgress(Hooks):
    """A live view: a headline with a bar, counts by state, and the nodes running or failed.

    However wide the graph, the view stays at most ``max_rows`` node rows tall, followed by
    "… and K more". When the run ends, the last frame is a summary: the headline, the counts
    and the failed nodes with their errors.
    """

    def __init__(self, console: Console, *, max_rows: int = _SHOWN_ROWS) -> None:
        self.console = console
        self.max_rows = max_rows
        self.status: dict[str, TaskState] = {}
        self.attempt: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.begin = time.monotonic()
        self.ended: float | None = None
        self.run_id = ""
        self.pipeline = ""
        self.live: Live | None = None
        # Events arrive on the runner's thread while rich redraws on its own.
        self._lock = threading.Lock()

    def run_started(self, *, run_id: str, pipeline: str, nodes: Sequence[str]) -> None:
        with self._lock:
            self.run_id, self.pipeline = run_id, pipeline
            self.status = dict.fromkeys(nodes, TaskState.PENDING)
            self.begin = time.monotonic()
        # The view is rebuilt only when rich refreshes, not on every event.
        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self.render)
        self.live.start()

    def nodes_added(self, *, run_id: str, nodes: Sequence[str]) -> None:
        with self._lock:
            for node in nodes:
                self.status[node] = TaskState.PENDING

    def task_changed(self, **event: Any) -> None:
        node, status = event["node"], event["status"]
        with self._lock:
            self.status[node] = status
            self.attempt[node] = event["attempt"]
            if status is TaskState.RUNNING:
                self.started[node] = time.monotonic()
            if event.get("error"):
                self.errors[node] = event["error"]

    def run_finished(self, *, run_id: str, status: RunState, error: str | None = None) -> None:
        with self._lock:
            self.ended = time.monotonic()
        if self.live is not None:
            self.live.stop()  # which draws the last frame: the summary

    def render(self) -> Group:
        """The view as it stands; once the run has finished, its summary."""
        with self._lock:
            status = dict(self.status)
            finished = self.ended is not None
            elapsed = (self.ended or time.monotonic()) - self.begin
            attempts, errors = dict(self.attempt), dict(self.errors)
            started = dict(self.started)
        counts = Counter(status.values())
        parts: list[RenderableType] = [self._headline(counts, elapsed), _counts_line(counts)]
        # While running, what is happening now; at the end, only what went wrong.
        watched = (TaskState.FAILED,) if finished else _WATCHED
        shown = [n for state in watched for n, s in status.items() if s is state]
        if shown:
            rows = [
                (node, status[node], attempts.get(node), errors.get(node), started.get(node))
                for node in shown[: self.max_rows]
            ]
            parts.append(_table(rows, finished))
        hidden = shown[self.max_rows :]
        if hidden:
            by_state = Counter(status[n].value for n in hidden)
            detail = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items()))
            parts.append(Text(f"… and {len(hidden)} more ({detail})", style="dim"))
        return Group(*parts)

    def _headline(self, counts: Counter[TaskState], elapsed: float) -> Text:
        total = sum(counts.values())
        done = sum(n for s, n in counts.items() if s.is_finished)
        good = sum(n for s, n in counts.items() if s.is_success or s is TaskState.SKIPPED)
        green = _BAR_WIDTH * good // total if total else 0
        red = (_BAR_WIDTH * done // total if total else 0) - green
        # The bar comes last, so a narrow terminal cuts it rather than the numbers.
        return Text.assemble(
            (f"run {self.run_id}", "bold"),
            f" · {self.pipeline} · {done}/{total} done · {elapsed:.1f}s  ",
            ("━" * green, "green"),
            ("━" * red, "red"),
            ("━" * (_BAR_WIDTH - green - red), "dim"),
            no_wrap=True,
            overflow="crop",
        )


Row: TypeAlias = tuple[str, TaskState, int | None, str | None, float | None]
"""One node's row: node, state, attempt, error, and when its running attempt started."""


def _table(rows: list[Row], finished: bool) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    # Only the last column gives way on a narrow terminal (rich shrinks the columns that
    # may wrap); its cells still keep to one line, cut with an ellipsis.
    node_width = min(max(len("node"), *(len(row[0]) for row in rows)), _NODE_WIDTH)
    table.add_column("node", no_wrap=True, overflow="ellipsis", width=node_width)
    table.add_column("state", no_wrap=True, min_width=max(len(row[1].value) for row in rows))
    table.add_column("attempt", justify="right", no_wrap=True, min_width=len("attempt"))
    if not finished:
        table.add_column("time", justify="right", no_wrap=True, min_width=len("999.9s"))
    table.add_column("error" if finished else "detail")
    now = time.monotonic()
    for node, state, attempt, error, started in rows:
        cells: list[RenderableType] = [Text(node), styled(state.value), str(attempt or "")]
        if not finished:
            took = now - started if state is TaskState.RUNNING and started is not None else None
            cells.append(f"{took:.1f}s" if took is not None else "")
        cells.append(Text(error or "", no_wrap=True, overflow="ellipsis"))
        table.add_row(*cells)
    return table


def _counts_line(counts: Counter[TaskState]) -> Text:
    """``succeeded 5 · failed 1`` in state order, each coloured like its state."""
    line = Text()
    for state in TaskState:
        if counts[state]:
            if line:
                line.append(" · ", style="dim")
            line.append(f"{state.value} {counts[state]}", style=STATUS_STYLE.get(state.value, ""))
    return line


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

"""The scheduler daemon's live status view: pipelines, runs in progress, recent events."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dagwell.interfaces.cli.progress import styled
from dagwell.scheduling.daemon import Snapshot

SHOWN_EVENTS = 8


def local(moment: datetime | None) -> str:
    """``moment`` in local time, to the second, or ``-``."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def render(snapshot: Snapshot, now: datetime) -> RenderableType:
    """One frame: a table of pipelines, one of running runs, the last events and errors."""
    running_by_pipeline: dict[str, int] = {}
    for child in snapshot.running:
        running_by_pipeline[child.pipeline] = running_by_pipeline.get(child.pipeline, 0) + 1
    pipelines = Table(title="pipelines", title_justify="left", box=None, header_style="bold")
    for column in ("pipeline", "schedule", "timezone", "next due", "running", "max"):
        pipelines.add_column(column)
    for p in snapshot.pipelines:
        pipelines.add_row(
            p.name,
            p.schedule or "-",
            p.timezone or "-",
            local(p.next_due_at),
            str(running_by_pipeline.get(p.name, 0)),
            str(p.max_active_runs),
        )
    parts: list[RenderableType] = [pipelines]
    if snapshot.running:
        runs = Table(title="running", title_justify="left", box=None, header_style="bold")
        for column in ("run", "pipeline", "status", "running for"):
            runs.add_column(column)
        for child in snapshot.running:
            seconds = (now - child.started).total_seconds()
            runs.add_row(child.run_id, child.pipeline, styled("running"), f"{seconds:.0f}s")
        parts.append(runs)
    if snapshot.load_errors:
        errors = Table(title="files that failed to load", title_justify="left", box=None)
        errors.add_column("file")
        errors.add_column("error", style="red", overflow="fold")
        for path, error, _ in snapshot.load_errors:
            errors.add_row(path, error)
        parts.append(errors)
    if snapshot.events:
        lines = [f"{local(e.at)}  {e.text}" for e in snapshot.events[-SHOWN_EVENTS:]]
        parts.append(Text("\n".join(lines), style="dim"))
    if snapshot.stopping:
        parts.append(Text("stopping: waiting for runs in progress (Ctrl-C again cancels them)"))
    return Group(*parts)

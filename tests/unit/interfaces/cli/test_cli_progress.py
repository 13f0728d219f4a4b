"""Tests for dagwell.interfaces.cli.progress: the live view a terminal shows during a run."""

from __future__ import annotations

import io
import re

from rich.console import Console, RenderableType

from dagwell.core.states import RunState, TaskState
from dagwell.interfaces.cli.progress import LiveProgress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain_lines(renderable: RenderableType, width: int = 100) -> list[str]:
    """What ``renderable`` looks like on a terminal ``width`` columns wide, without colour."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in text.splitlines()]


def changed(view: LiveProgress, node: str, status: TaskState, attempt: int = 1, **extra):
    view.task_changed(run_id="r1", node=node, status=status, attempt=attempt, **extra)


def wide_view(running: int, failed: int = 0) -> LiveProgress:
    """A view of a fan-out with ``running`` nodes running and ``failed`` failed."""
    view = LiveProgress(Console(file=io.StringIO()), max_rows=10)
    view.run_id, view.pipeline = "r1", "wide"
    view.nodes_added(run_id="r1", nodes=[f"fit[{i}]" for i in range(running + failed)])
    for i in range(running):
        changed(view, f"fit[{i}]", TaskState.RUNNING)
    for i in range(running, running + failed):
        changed(view, f"fit[{i}]", TaskState.FAILED, error=f"ValueError: bad {i}")
    return view


def test_while_running_the_view_lists_running_and_failed_nodes_under_a_header() -> None:
    view = wide_view(running=2, failed=1)

    lines = plain_lines(view.render())

    assert lines[0].startswith("run r1 · wide · 1/3 done · ")
    assert "━" in lines[0]
    assert lines[1] == "running 2 · failed 1"
    assert lines[2].split() == ["node", "state", "attempt", "time", "detail"]
    assert [line.split()[:2] for line in lines[3:]] == [
        ["fit[0]", "running"],
        ["fit[1]", "running"],
        ["fit[2]", "failed"],
    ]
    assert lines[-1].endswith("ValueError: bad 2")


def test_a_wide_fan_out_keeps_the_view_at_a_bounded_height() -> None:
    view = wide_view(running=480, failed=20)

    lines = plain_lines(view.render())

    assert len(lines) == 2 + 1 + 10 + 1  # headline, counts, header, rows, "… and K more"
    assert lines[1] == "running 480 · failed 20"
    assert lines[-1] == "… and 490 more (20 failed, 470 running)"


def test_long_names_and_errors_stay_on_one_line_each() -> None:
    view = wide_view(running=0)
    changed(view, "a-very-long-node-name-" * 4, TaskState.FAILED, error="E: " + "why " * 100)

    lines = plain_lines(view.render(), width=80)

    assert len(lines) == 4
    assert all(len(line) <= 80 for line in lines)
    node, state, attempt, error = lines[3].split(maxsplit=3)
    assert (len(node), node[-1], state, attempt) == (40, "…", "failed", "1")
    assert error.startswith("E: why why")
    assert error.endswith("…")


def test_errors_are_shown_as_written_not_as_markup() -> None:
    view = wide_view(running=0)
    changed(view, "parse", TaskState.FAILED, error="KeyError: [bold]name[/bold]")

    assert plain_lines(view.render())[-1].endswith("KeyError: [bold]name[/bold]")


def drive_a_run(console: Console) -> LiveProgress:
    """Events of a run in which ``fit`` failed after two attempts and ``report`` could not run."""
    view = LiveProgress(console)
    view.run_started(run_id="r1", pipeline="churn", nodes=["load", "fit", "report", "other"])
    changed(view, "load", TaskState.RUNNING)
    changed(view, "load", TaskState.SUCCEEDED)
    changed(view, "fit", TaskState.RUNNING)
    changed(view, "other", TaskState.RUNNING)
    changed(view, "fit", TaskState.RETRYING, error="ValueError: did not converge")
    changed(view, "fit", TaskState.RUNNING, attempt=2)
    changed(view, "other", TaskState.SUCCEEDED)
    changed(view, "fit", TaskState.FAILED, attempt=2, error="ValueError: did not converge")
    changed(view, "report", TaskState.UPSTREAM_FAILED, attempt=0)
    view.run_finished(run_id="r1", status=RunState.FAILED)
    return view


def test_the_last_frame_is_a_summary_listing_the_failed_nodes() -> None:
    view = drive_a_run(Console(file=io.StringIO(), force_terminal=True, width=100))

    lines = plain_lines(view.render())

    assert re.fullmatch(r"run r1 · churn · 4/4 done · \d+\.\ds  ━+", lines[0])
    assert lines[1] == "succeeded 2 · failed 1 · upstream_failed 1"
    assert lines[2].split() == ["node", "state", "attempt", "error"]
    assert lines[3].split() == ["fit", "failed", "2", "ValueError:", "did", "not", "converge"]
    assert len(lines) == 4


def test_the_terminal_is_left_showing_the_summary() -> None:
    """Rich draws the last frame when the live view stops; it is the summary."""
    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)

    view = drive_a_run(console)

    written = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    tail = [line.rstrip() for line in written.replace("\r", "").splitlines()][-4:]
    assert tail == plain_lines(view.render())


def test_a_run_without_failures_ends_with_the_headline_and_counts_only() -> None:
    view = LiveProgress(Console(file=io.StringIO(), force_terminal=True))
    view.run_started(run_id="r1", pipeline="hello", nodes=["a", "b"])
    for node in ("a", "b"):
        changed(view, node, TaskState.RUNNING)
        changed(view, node, TaskState.SUCCEEDED)
    view.run_finished(run_id="r1", status=RunState.SUCCEEDED)

    lines = plain_lines(view.render())

    assert len(lines) == 2
    assert lines[0].startswith("run r1 · hello · 2/2 done · ")
    assert lines[1] == "succeeded 2"

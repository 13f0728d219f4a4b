"""``dagwell cancel``: cancel a queued or running run from any terminal."""

from __future__ import annotations

import sys

import click

from dagwell.core.states import RunState
from dagwell.interfaces.cli.context import CliContext


@click.command("cancel")
@click.argument("run_id", metavar="RUN")
@click.option("--by", metavar="NAME", help="Who cancels it, for the record (default: your user).")
@click.option("--wait", is_flag=True, help="Wait until the run has stopped; exit 1 if it did not.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --wait waits.",
)
@click.pass_obj
def cancel_command(
    ctx: CliContext, run_id: str, by: str | None, wait: bool, timeout: float
) -> None:
    """Cancel RUN: a queued run at once; a running run is stopped by its runner within a
    few seconds (its running attempts are killed; with --executor inline, the task running
    now ends first)."""
    from dagwell.execution.cancel import os_user, request_cancel, wait_until_finished

    by = by or os_user()
    found = request_cancel(run_id, by=by, settings=ctx.settings)
    console = ctx.console
    if found.status is RunState.CANCELLED:
        console.print(f"run {found.id} ({found.pipeline}) {found.error}", highlight=False)
        return
    asked = found.cancel_requested_by
    who = "" if asked == by else f"{asked} asked already: "
    console.print(
        f"{who}run {found.id} ({found.pipeline}) is being cancelled by its runner "
        f"({found.runner or 'unknown process'})",
        highlight=False,
    )
    if not wait:
        console.print(f"it stops within a few seconds (dagwell show {found.id})", highlight=False)
        return
    ended = wait_until_finished(found.id, timeout=timeout, settings=ctx.settings)
    if ended.status is RunState.CANCELLED:
        console.print(f"run {ended.id} {ended.error}", highlight=False)
        return
    if ended.status.is_finished:
        console.print(
            f"[red]run {ended.id} ended {ended.status.value} before it could be cancelled[/]",
            highlight=False,
        )
    else:
        console.print(
            f"[red]run {ended.id} is still {ended.status.value} after {timeout:g} s[/] "
            f"(dagwell show {ended.id})",
            highlight=False,
        )
    sys.exit(1)


COMMANDS = [cancel_command]

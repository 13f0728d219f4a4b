"""``dagwell scheduler``, ``trigger``, ``backfill``, ``pipelines``: runs that start themselves."""

from __future__ import annotations

import json
import signal
import threading
from datetime import date, datetime
from functools import partial
from typing import Any

import click
from rich.live import Live

from dagwell.interfaces.cli.context import CliContext
from dagwell.interfaces.cli.run_commands import (
    DASK_ADDRESS,
    EXECUTORS,
    parse_params,
    use_dask_address,
)


def _when(text: str, option: str) -> date | datetime:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"expected a date (2026-01-31) or a date and time (2026-01-31T03:00), got {text!r}",
            param_hint=option,
        ) from None


@click.command("scheduler")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--executor", type=EXECUTORS, default="process", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Workers per run.")
@DASK_ADDRESS
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Runs executing at once, across pipelines.",
)
@click.option(
    "--rescan",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between checks of the pipeline files for changes.",
)
@click.option("--plain", is_flag=True, help="Print events as lines instead of a live view.")
@click.pass_obj
def scheduler_command(
    ctx: CliContext,
    paths: tuple[str, ...],
    executor: str,
    workers: int | None,
    dask_address: str | None,
    max_runs: int,
    rescan: float,
    plain: bool,
) -> None:
    """Run the scheduler daemon over pipeline files or folders (PATH...).

    It registers their pipelines, starts scheduled runs when due, runs queued ones
    (dagwell trigger, backfill) and resumes runs whose process died. Ctrl-C stops it after
    the runs in progress end; a second Ctrl-C cancels them.
    """
    from dagwell.interfaces.cli.scheduler_view import local, render
    from dagwell.scheduling.daemon import Event, Scheduler, utc_now

    use_dask_address(ctx, dask_address)
    console = ctx.console
    live_view = console.is_terminal and not plain

    def print_event(event: Event) -> None:
        if not live_view:  # one line per event, never wrapped, so logs can be grepped
            click.echo(f"{local(event.at)}  {event.text}")

    scheduler = Scheduler(
        list(paths),
        settings=ctx.settings,
        executor=executor,
        workers=workers,
        max_runs=max_runs,
        rescan_seconds=rescan,
        on_event=print_event,
    )
    console.print(
        f"starting the scheduler ({scheduler.runner_name}); records in {ctx.settings.home}",
        highlight=False,
    )
    scheduler.start()
    stop, interrupted = threading.Event(), threading.Event()
    # The first Ctrl-C or SIGTERM only asks the loop to stop between rounds: raised in the
    # middle of one, it could leave a run claimed but never started.
    before = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, partial(_terminate, stop)),
        signal.SIGINT: signal.signal(
            signal.SIGINT, partial(_terminate, stop, interrupted=interrupted)
        ),
    }
    live = Live(console=console, refresh_per_second=2) if live_view else None
    if live is not None:
        live.start()

    def show(current: Scheduler) -> None:
        if live is not None:
            live.update(render(current.snapshot(), utc_now()))

    cancel = False
    try:
        scheduler.serve(stop, on_tick=show)
    except KeyboardInterrupt:  # a second signal before the round ended: cancel the runs
        cancel = True
    try:
        _shut_down(scheduler, console, cancel=cancel)
    except KeyboardInterrupt:  # a third: leave now; their runners record what they can
        console.print("stopped without waiting for the runs being cancelled")
        raise SystemExit(130) from None
    finally:
        if live is not None:
            live.stop()
        for signum, handler in before.items():
            signal.signal(signum, handler)
    if interrupted.is_set():
        raise SystemExit(130)  # stopped by Ctrl-C, as shells expect; SIGTERM exits 0


def _terminate(
    stop: threading.Event,
    signum: int,
    frame: object,
    *,
    interrupted: threading.Event | None = None,
) -> None:
    """Ctrl-C or SIGTERM: the first stops the daemon once its round ends, letting the runs
    in progress finish; a second (while they finish) cancels them."""
    if stop.is_set():
        raise KeyboardInterrupt
    if interrupted is not None:
        interrupted.set()
    stop.set()


def _shut_down(scheduler: Any, console: Any, *, cancel: bool) -> None:
    """Wait for the runs in progress (a Ctrl-C meanwhile cancels them), or cancel them now."""
    if not cancel:
        if scheduler.children:
            console.print(
                f"waiting for {len(scheduler.children)} run(s) to finish; Ctrl-C again cancels them"
            )
        try:
            scheduler.shutdown()
        except KeyboardInterrupt:
            cancel = True
    if cancel:
        console.print("cancelling the runs in progress")
        scheduler.shutdown(cancel=True, wait=60)
    console.print("scheduler stopped")


@click.command("trigger")
@click.argument("pipeline", metavar="PIPELINE")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A param.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def trigger_command(ctx: CliContext, pipeline: str, params: tuple[str, ...], as_json: bool) -> None:
    """Queue a run of PIPELINE for the scheduler (a registered name, or FILE[:NAME])."""
    from dagwell.scheduling.triggers import trigger

    queued = trigger(pipeline, parse_params(params), settings=ctx.settings, params_from_text=True)
    if as_json:
        click.echo(json.dumps(queued.to_dict(with_tasks=False), indent=2))
        return
    ctx.console.print(
        f"queued run [bold]{queued.id}[/] of {queued.pipeline}; the scheduler starts it "
        f"(dagwell show {queued.id})"
    )
    _hint_if_no_scheduler(ctx)


def _hint_if_no_scheduler(ctx: CliContext) -> None:
    from dagwell.scheduling.lock import SchedulerLock

    if SchedulerLock(ctx.settings.db_url).held_elsewhere() is False:
        ctx.console.print(
            "[yellow]no scheduler is running on this database[/]; start one with: "
            "dagwell scheduler PATH"
        )


@click.command("backfill")
@click.argument("pipeline", metavar="PIPELINE")
@click.option("--start", "start", required=True, help="First date (or date and time).")
@click.option("--end", "end", required=True, help="Last date (included) or date and time.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A param.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def backfill_command(
    ctx: CliContext,
    pipeline: str,
    start: str,
    end: str,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Queue one run of PIPELINE per scheduled time from --start to --end."""
    from dagwell.interfaces.cli.scheduler_view import local
    from dagwell.scheduling.triggers import backfill

    done = backfill(
        pipeline,
        _when(start, "--start"),
        _when(end, "--end"),
        params=parse_params(params),
        settings=ctx.settings,
        params_from_text=True,
    )
    if as_json:
        data = {
            "queued": [{"run": r, "scheduled_for": t.isoformat()} for r, t in done.queued],
            "skipped": [t.isoformat() for t in done.skipped],
        }
        click.echo(json.dumps(data, indent=2))
        return
    for run_id, moment in done.queued:
        ctx.console.print(f"queued run {run_id} for {local(moment)}", highlight=False)
    if done.skipped:
        ctx.console.print(f"skipped {len(done.skipped)} time(s) that already have a run")
    ctx.console.print(f"{len(done.queued)} run(s) queued; the scheduler starts them")
    _hint_if_no_scheduler(ctx)


@click.command("pipelines")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def pipelines_command(ctx: CliContext, as_json: bool) -> None:
    """List the pipelines a scheduler registered, with their schedules."""
    from rich.table import Table

    from dagwell.interfaces.cli.scheduler_view import local
    from dagwell.scheduling.triggers import registered_pipelines

    found = registered_pipelines(settings=ctx.settings)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in found], indent=2))
        return
    if not found:
        ctx.console.print("no pipelines registered; start one with: dagwell scheduler PATH")
        return
    table = Table(box=None, header_style="bold")
    for column in ("pipeline", "schedule", "timezone", "next due", "source"):
        table.add_column(column, overflow="fold")
    for p in found:
        table.add_row(p.name, p.schedule or "-", p.timezone or "-", local(p.next_due_at), p.source)
    ctx.console.print(table)


COMMANDS = (scheduler_command, trigger_command, backfill_command, pipelines_command)

"""``dagwell runs``, ``show`` and ``logs``: read what runs recorded."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click
from rich.table import Table

from dagwell.core import moments
from dagwell.core.records import Run
from dagwell.errors import DefinitionError
from dagwell.interfaces.cli.context import CliContext
from dagwell.interfaces.cli.progress import styled


def _when(run: Run) -> str:
    return run.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "-"


def _secs(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else "-"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def parse_moment(text: str | None, option: str) -> datetime | None:
    """A ``--since``/``--until`` value: ISO date or date-time (local time when naive), or
    a span back from now such as ``30m``, ``12h``, ``7d``
    (:func:`~dagwell.core.moments.parse_moment`)."""
    if text is None:
        return None
    try:
        return moments.parse_moment(text, now=datetime.now(timezone.utc))
    except DefinitionError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("runs")
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--status", help="Only runs in this state (queued, running, succeeded, failed…).")
@click.option("--since", help="Only runs created at or after: a date, date-time, or 7d / 12h.")
@click.option("--until", help="Only runs created before: a date, date-time, or 7d / 12h.")
@click.option(
    "--trigger",
    type=click.Choice(["manual", "schedule", "backfill", "resume", "rerun"]),
    help="Only runs started this way.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def runs_command(
    ctx: CliContext,
    pipeline: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    trigger: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List recent runs, newest first."""
    from dagwell.execution.runs import list_runs

    found = list_runs(
        pipeline=pipeline,
        status=status,
        since=parse_moment(since, "--since"),
        until=parse_moment(until, "--until"),
        trigger=trigger,
        limit=limit,
        settings=ctx.settings,
    )
    if as_json:
        _print_json([r.to_dict(with_tasks=False) for r in found])
        return
    if not found:
        ctx.console.print("no runs recorded yet; start one with: dagwell run FILE")
        return
    table = Table(box=None, header_style="bold")
    for column in ("run", "pipeline", "status", "trigger", "started", "duration", "nodes"):
        table.add_column(column)
    for r in found:
        table.add_row(
            r.id,
            r.pipeline,
            styled(r.status.value),
            r.trigger,
            _when(r),
            _secs(r.duration),
            str(len(r.tasks)),
        )
    ctx.console.print(table)


@click.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def show_command(ctx: CliContext, run_id: str, as_json: bool) -> None:
    """Show one run: params, and each node's state, attempts and error."""
    from dagwell.execution.reports import run_report

    report = run_report(run_id, settings=ctx.settings)
    found, alerts = report.run, report.alerts
    if as_json:
        _print_json(report.to_dict())
        return
    console = ctx.console
    console.print(
        f"[bold]run {found.id}[/]  pipeline {found.pipeline}  ", styled(found.status.value)
    )
    console.print(f"started {_when(found)}  duration {_secs(found.duration)}")
    origin = f"trigger {found.trigger}"
    if found.scheduled_for is not None:
        origin += f"  scheduled for {found.scheduled_for.astimezone():%Y-%m-%d %H:%M:%S %Z}"
    if found.parent_run_id:
        origin += f"  from run {found.parent_run_id}"
    console.print(origin, highlight=False)
    if found.error:
        console.print(f"[red]error:[/] {found.error}", highlight=False)
    if found.cancel_requested_by is not None:
        asked = found.cancel_requested_at
        when = f" at {asked.astimezone():%Y-%m-%d %H:%M:%S}" if asked is not None else ""
        console.print(f"cancel requested by {found.cancel_requested_by}{when}", highlight=False)
    if found.params:
        console.print("params: " + ", ".join(f"{k}={v!r}" for k, v in found.params.items()))
    table = Table(box=None, header_style="bold")
    for column in ("node", "status", "attempts", "duration", "error"):
        table.add_column(column, overflow="fold")
    for task in found.tasks.values():
        table.add_row(
            task.node,
            styled(task.status.value),
            str(len(task.attempts)),
            _secs(task.duration),
            task.error or "",
        )
    console.print(table)
    _print_metrics(ctx, found)
    for alert in alerts:
        console.print(
            f"alert {alert.id} {alert.kind.value}: {alert.summary} (delivered {alert.delivered})",
            highlight=False,
        )


def _print_metrics(ctx: CliContext, found: Run) -> None:
    """The last value of each metric, per node, as logged with dw.log_metric."""
    last: dict[tuple[str, str], tuple[float, int]] = {}
    for point in found.metrics():
        count = last.get((point.node, point.name), (0.0, 0))[1]
        last[(point.node, point.name)] = (point.value, count + 1)
    if not last:
        return
    table = Table(box=None, header_style="bold", title="metrics (last value)", title_justify="left")
    for column in ("node", "metric", "value", "points"):
        table.add_column(column)
    for (node, name), (value, count) in last.items():
        table.add_row(node, name, f"{value:.6g}", str(count))
    ctx.console.print(table)


@click.command("logs")
@click.argument("run_id", metavar="RUN")
@click.argument("node", required=False)
@click.option("--attempt", type=int, default=None, help="Only this attempt (default: all).")
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing NODE's output as it runs, retries included, until it ends.",
)
@click.pass_obj
def logs_command(
    ctx: CliContext, run_id: str, node: str | None, attempt: int | None, follow: bool
) -> None:
    """Print the captured output of RUN's attempts (all nodes, or only NODE)."""
    from dagwell.errors import NotFoundError
    from dagwell.execution.attempt import read_log
    from dagwell.execution.runs import get_run

    if follow:
        if node is None:
            raise click.UsageError("--follow needs a NODE: dagwell logs RUN NODE --follow")
        _follow(ctx, run_id, node, attempt)
        return
    found = get_run(run_id, settings=ctx.settings)
    if node is not None and node not in found.tasks:
        raise NotFoundError(
            f"run {found.id} has no node {node!r}; its nodes are: {', '.join(found.tasks)}"
        )
    tasks = [found.tasks[node]] if node else list(found.tasks.values())
    for task in tasks:
        for a in task.attempts:
            if attempt is not None and a.number != attempt:
                continue
            click.secho(f"== {task.node} · attempt {a.number} · {a.status.value} ==", bold=True)
            text = read_log(found.id, task.node, a, ctx.settings)
            click.echo(text if text is not None else "(no output captured)", nl=text is None)


def _follow(ctx: CliContext, run_id: str, node: str, attempt: int | None) -> None:
    """Print NODE's output as it comes, with a line where each attempt starts and ends."""
    from dagwell.execution.log_follow import follow_log, marked

    shown = False
    try:
        chunks = follow_log(run_id, node, settings=ctx.settings, attempt=attempt)
        for text, marker in marked(chunks, prefix=f"{node} · "):
            click.secho(text, nl=False, bold=marker)
            shown = True
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    if not shown:  # cached, reused or never reached
        click.echo(f"{node} of run {run_id} ended without an attempt", err=True)


@click.command("datasets")
@click.argument("uri", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def datasets_command(ctx: CliContext, uri: str | None, as_json: bool) -> None:
    """List datasets, their versions, and the runs that read each version."""
    from dagwell.execution.runs import list_datasets

    found = list_datasets(uri, settings=ctx.settings)
    if as_json:
        _print_json([v.to_dict() for v in found])
        return
    if not found:
        ctx.console.print("no datasets recorded; mark inputs with dw.dataset(path)")
        return
    table = Table(box=None, header_style="bold")
    for column in ("dataset", "version", "size", "files", "snapshot", "first seen", "runs"):
        table.add_column(column, overflow="fold")
    for v in found:
        readers = sorted({run for run, _ in v.runs})
        table.add_row(
            v.uri,
            v.version[:12],
            _size(v.size),
            str(v.files),
            "yes" if v.snapshot_hash else "",
            v.first_seen.astimezone().strftime("%Y-%m-%d %H:%M"),
            ", ".join(readers),
        )
    ctx.console.print(table)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


COMMANDS = [runs_command, show_command, logs_command, datasets_command]

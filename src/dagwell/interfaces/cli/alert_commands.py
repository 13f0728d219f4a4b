"""``dagwell alerts``: list the alerts runs raised and how their notifiers took them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from dagwell.interfaces.cli.context import CliContext
from dagwell.interfaces.cli.inspect_commands import parse_moment

if TYPE_CHECKING:
    from dagwell.storage.metadata.alerts import AlertRecord


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    # The same forms as ``dagwell runs --since``: a date, a date-time, or 7d / 12h / 30m.
    return parse_moment(value, "--since")


WIDE = 120
"""Terminals at least this wide get a table; narrower ones two lines per alert."""

_KIND_STYLE = {"failure": "red", "retry": "yellow", "sla_miss": "magenta", "success": "green"}


@click.command("alerts")
@click.option("--run", "run_id", metavar="RUN", help="Only alerts of this run (id or prefix).")
@click.option("--pipeline", help="Only alerts of this pipeline.")
@click.option("--kind", help="Only this kind: failure, retry, success or sla_miss.")
@click.option(
    "--since",
    callback=_since,
    metavar="WHEN",
    help="Only alerts raised at or after: a date, date-time, or 7d / 12h.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def alerts_command(
    ctx: CliContext,
    run_id: str | None,
    pipeline: str | None,
    kind: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """List alerts, newest first, with how many of their notifiers took each one."""
    from dagwell.execution.alerts import list_alerts

    found = list_alerts(
        run_id=run_id,
        pipeline=pipeline,
        kind=kind,
        since=since,
        limit=limit,
        settings=ctx.settings,
    )
    if as_json:
        click.echo(json.dumps([a.to_dict() for a in found], indent=2))
        return
    if not found:
        ctx.console.print(
            "no alerts recorded; add on_failure=dw.notify.log() (or a webhook or email) "
            "to a task or pipeline",
            markup=False,
        )
        return
    if ctx.console.width < WIDE:
        _print_blocks(ctx, found)
        return
    table = Table(box=None, header_style="bold")
    for column in ("alert", "time", "kind", "pipeline", "run", "node", "attempt"):
        table.add_column(column, overflow="fold")
    table.add_column("summary", overflow="fold", ratio=1)
    table.add_column("delivered", overflow="fold")
    for a in found:
        table.add_row(
            a.id,
            _when(a),
            _kind(a),
            Text(a.pipeline),  # Text: brackets in names and errors are not rich markup
            a.run_id,
            Text(a.node or "-"),
            str(a.attempt) if a.attempt is not None else "-",
            Text(a.summary),
            _delivered(a),
        )
    ctx.console.print(table)


def _print_blocks(ctx: CliContext, found: list[AlertRecord]) -> None:
    """Narrow terminals: two lines per alert, its facts and then what happened."""
    for a in found:
        facts = Text.assemble((a.id, "bold"), "  ", _when(a), "  ", _kind(a), f"  run {a.run_id}")
        if a.node is not None:
            facts.append(f"  {a.node}")
            facts.append(f", attempt {a.attempt}" if a.attempt is not None else "")
        ctx.console.print(facts)
        story = Text(f"  {a.summary}  (delivered ").append_text(_delivered(a)).append(")")
        ctx.console.print(story)


def _when(alert: AlertRecord) -> str:
    return alert.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _kind(alert: AlertRecord) -> Text:
    return Text(alert.kind.value, style=_KIND_STYLE.get(alert.kind.value, ""))


def _delivered(alert: AlertRecord) -> Text:
    everyone = all(d.ok for d in alert.deliveries)
    return Text(alert.delivered, style="" if everyone else "red")


COMMANDS = [alerts_command]

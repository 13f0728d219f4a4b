"""``dagwell doctor``: say in plain words what is wrong with the configured services."""

from __future__ import annotations

import json

import click
from rich.table import Table
from rich.text import Text

from dagwell.interfaces.cli.context import CliContext


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def doctor_command(ctx: CliContext, as_json: bool) -> None:
    """Check the metadata database, the artifact store and the Dask cluster; exit 1 if any fails."""
    from dagwell.execution.doctor import diagnose

    checks = diagnose(ctx.settings)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        table = Table(box=None, header_style="bold", show_header=False)
        for column in ("", "check", "found"):
            table.add_column(column, overflow="fold")
        for check in checks:
            mark = Text("ok", style="green") if check.ok else Text("FAIL", style="bold red")
            found = check.detail + (f"\n→ {check.fix}" if check.fix and not check.ok else "")
            table.add_row(mark, check.name, found)
        ctx.console.print(table)
    raise SystemExit(0 if all(c.ok for c in checks) else 1)


COMMANDS = (doctor_command,)

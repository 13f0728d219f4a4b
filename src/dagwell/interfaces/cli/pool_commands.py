"""``dagwell pool set``, ``list`` and ``delete``: the named pools tasks opt into."""

from __future__ import annotations

import json

import click
from rich.table import Table

from dagwell.interfaces.cli.context import CliContext


@click.group("pool")
def pool_group() -> None:
    """Manage pools: at most SLOTS attempts of @dw.task(pool=NAME) tasks run at once."""


@pool_group.command("set")
@click.argument("name")
@click.argument("slots", type=int)
@click.option("--description", help="What the pool stands for (kept when left out).")
@click.pass_obj
def set_command(ctx: CliContext, name: str, slots: int, description: str | None) -> None:
    """Create pool NAME with SLOTS slots, or change its number of slots."""
    from dagwell.execution.pools import set_pool

    found = set_pool(name, slots, description=description, settings=ctx.settings)
    count = f"{found.slots} slot" + ("s" if found.slots != 1 else "")
    ctx.console.print(f"pool {found.name}: {count} ({found.in_use} in use)", highlight=False)


@pool_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_command(ctx: CliContext, as_json: bool) -> None:
    """List pools, with their slots in use and the run and node holding each."""
    from dagwell.execution.pools import list_pools

    found = list_pools(settings=ctx.settings)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in found], indent=2))
        return
    if not found:
        ctx.console.print("no pools yet; create one with: dagwell pool set NAME SLOTS")
        return
    table = Table(box=None, header_style="bold")
    for column in ("pool", "slots", "in use", "held by", "description"):
        table.add_column(column, overflow="fold")
    for p in found:
        holders = ", ".join(f"{x.run_id}:{x.node}" for x in p.leases) or "-"
        table.add_row(p.name, str(p.slots), str(p.in_use), holders, p.description)
    ctx.console.print(table)


@pool_group.command("delete")
@click.argument("name")
@click.pass_obj
def delete_command(ctx: CliContext, name: str) -> None:
    """Delete pool NAME (refused while a running run holds one of its slots)."""
    from dagwell.execution.pools import delete_pool

    delete_pool(name, settings=ctx.settings)
    ctx.console.print(f"deleted pool {name}", highlight=False)


COMMANDS = [pool_group]

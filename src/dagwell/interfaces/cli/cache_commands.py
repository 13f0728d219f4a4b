"""``dagwell why`` and ``dagwell cache clear``: explain and manage cached task calls."""

from __future__ import annotations

import click

from dagwell.interfaces.cli.context import CliContext


@click.command("why")
@click.argument("run_id", metavar="RUN")
@click.argument("node")
@click.pass_obj
def why_command(ctx: CliContext, run_id: str, node: str) -> None:
    """Say why NODE of RUN ran, or which earlier run's outputs it took from the cache."""
    from dagwell.execution.caching import why

    for line in why(run_id, node, settings=ctx.settings):
        ctx.console.print(line, highlight=False, markup=False)


@click.group("cache")
def cache_group() -> None:
    """Manage cached task calls (tasks declared with @dw.task(cache=True))."""


@cache_group.command("clear")
@click.option("--task", help="Only calls of this task.")
@click.pass_obj
def clear_command(ctx: CliContext, task: str | None) -> None:
    """Forget cached calls, so the next runs execute them again."""
    from dagwell.execution.caching import clear_cache

    dropped = clear_cache(task, settings=ctx.settings)
    scope = f" of task {task!r}" if task else ""
    ctx.console.print(f"forgot {dropped} cached calls{scope}", highlight=False)


COMMANDS = [why_command, cache_group]

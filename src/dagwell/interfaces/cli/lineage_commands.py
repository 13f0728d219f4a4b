"""``dagwell lineage REF``: the lineage tree of a dataset, task run, artifact or model."""

from __future__ import annotations

import json

import click
from rich.tree import Tree

from dagwell.interfaces.cli.context import CliContext
from dagwell.tracking.lineage import LineageNode

_STYLE = {"dataset": "cyan", "task": "bold", "artifact": "yellow", "model": "magenta"}


def _branch(tree: Tree, node: LineageNode) -> None:
    for child in node.children:
        _branch(tree.add(_label(child)), child)


def _label(node: LineageNode) -> str:
    return f"[{_STYLE.get(node.kind, '')}]{node.kind}[/] {node.label}"


@click.command("lineage")
@click.argument("ref")
@click.option("--downstream", is_flag=True, help="What was made from REF (default: its sources).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def lineage_command(ctx: CliContext, ref: str, downstream: bool, as_json: bool) -> None:
    """Print the lineage of REF as a tree.

    REF is model:NAME@VERSION (or @ALIAS), RUN:NODE, a dataset path, or an artifact hash
    prefix.
    """
    from dagwell.tracking.lineage import lineage

    direction = "downstream" if downstream else "upstream"
    root = lineage(ref, direction, settings=ctx.settings)
    if as_json:
        click.echo(json.dumps(root.to_dict(), indent=2))
        return
    tree = Tree(_label(root))
    _branch(tree, root)
    ctx.console.print(tree)


COMMANDS = [lineage_command]

"""``dagwell models list|show|alias``: the model registry from the command line."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from dagwell.core.models import ModelSpec, ModelVersion
from dagwell.interfaces.cli.context import CliContext

METADATA_CHARS = 80
"""The longest metadata text a table cell shows; ``--json`` prints all of it."""


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _count(versions: int) -> str:
    return f"{versions} version" if versions == 1 else f"{versions} versions"


def _compact(metadata: Any, limit: int = METADATA_CHARS) -> str:
    text = ", ".join(f"{k}={json.dumps(v)}" for k, v in dict(metadata).items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.group("models")
def models_group() -> None:
    """Registered models: list them, show versions, set aliases."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_command(ctx: CliContext, as_json: bool) -> None:
    """List registered models with their newest version and aliases."""
    from dagwell.tracking.registry import models

    found = models.list(settings=ctx.settings)
    if as_json:
        _print_json([m.to_dict() for m in found])
        return
    if not found:
        ctx.console.print(
            "no models registered yet; call dw.log_model(obj, name) inside a task", markup=False
        )
        return
    table = Table(box=None, header_style="bold")
    for column in ("model", "latest", "versions", "aliases", "updated"):
        table.add_column(column)
    for m in found:
        aliases = ", ".join(f"{alias}→{version}" for alias, version in m.aliases.items())
        table.add_row(
            m.name, str(m.latest_version), str(m.version_count), aliases, _when(m.updated_at)
        )
    ctx.console.print(table)


@models_group.command("show")
@click.argument("spec", metavar="NAME[@VERSION|@ALIAS]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def show_command(ctx: CliContext, spec: str, as_json: bool) -> None:
    """Show every version of model NAME, or one version (NAME@3, NAME@production)."""
    from dagwell.tracking.registry import models

    parsed = ModelSpec.parse(spec)
    if parsed.version is not None or parsed.alias is not None or "@" in spec:
        one = models.resolve(spec, settings=ctx.settings)
        if as_json:
            _print_json(one.to_dict())
        else:
            _print_version(ctx, one)
        return
    versions = models.versions(parsed.name, settings=ctx.settings)
    aliases = {alias: v.version for v in versions for alias in v.aliases}
    if as_json:
        _print_json(
            {
                "name": parsed.name,
                "latest_version": versions[-1].version,
                "aliases": dict(sorted(aliases.items())),
                "versions": [v.to_dict() for v in versions],
            }
        )
        return
    console = ctx.console
    console.print(
        f"[bold]model {parsed.name}[/]  {_count(len(versions))}, latest {versions[-1].version}",
        highlight=False,
    )
    table = Table(box=None, header_style="bold")
    for column in ("version", "run", "node", "created", "aliases", "metadata"):
        table.add_column(column, overflow="fold", no_wrap=column != "metadata")
    for v in versions:
        table.add_row(
            str(v.version),
            v.run_id or "-",
            v.node or "-",
            _when(v.created_at),
            ", ".join(v.aliases),
            _compact(v.metadata),
        )
    console.print(table)
    console.print(f"load one: dw.models.load({parsed.name + '@' + str(versions[-1].version)!r})")


def _print_version(ctx: CliContext, version: ModelVersion) -> None:
    console = ctx.console
    console.print(f"[bold]model {version.name} version {version.version}[/]", highlight=False)
    rows = [
        ("aliases", ", ".join(version.aliases) or "-"),
        ("run", version.run_id or "-"),
        ("node", version.node or "-"),
        ("created", _when(version.created_at)),
        ("artifact", version.artifact_hash),
        ("type", f"{version.artifact.type_name} ({version.artifact.size} bytes)"),
    ]
    for label, value in rows:
        console.print(f"{label:9} {value}", markup=False, highlight=False)
    if version.metadata:
        console.print("metadata:", markup=False)
        for key, value in version.metadata.items():
            console.print(f"  {key}: {json.dumps(value)}", markup=False, highlight=False)


@models_group.command("alias")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.argument("alias")
@click.pass_obj
def alias_command(ctx: CliContext, name: str, version: int, alias: str) -> None:
    """Point ALIAS (e.g. production) of model NAME at VERSION, moving it if it was set."""
    from dagwell.tracking.registry import models

    moved = models.set_alias(name, version, alias, settings=ctx.settings)
    ctx.console.print(
        f"{moved.name}@{alias} -> version {moved.version} (run {moved.run_id or '-'})",
        markup=False,
        highlight=False,
    )


@models_group.command("export")
@click.argument("spec", metavar="NAME[@VERSION|@ALIAS]")
@click.argument("path")
@click.pass_obj
def export_command(ctx: CliContext, spec: str, path: str) -> None:
    """Write a scikit-learn model version to PATH in MLflow's model format."""
    from dagwell.tracking.registry import models

    written = models.export_mlflow(spec, path, settings=ctx.settings)
    ctx.console.print(f"exported {spec} to {written} (mlflow.pyfunc.load_model can read it)")


COMMANDS = [models_group]

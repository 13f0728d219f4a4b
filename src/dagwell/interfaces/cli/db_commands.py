"""``dagwell db upgrade`` and ``dagwell db current``: the metadata database's schema.

Every command brings the schema up to date on first use anyway; these let a team migrate a
shared database (PostgreSQL) once, before its runners and schedulers start, and check it.
"""

from __future__ import annotations

import json

import click

from dagwell.interfaces.cli.context import CliContext


@click.group("db")
def db_group() -> None:
    """The metadata database (DAGWELL_DB_URL or --db-url): its schema revision, upgrades."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade_command(ctx: CliContext) -> None:
    """Bring the metadata database's schema to this dagwell's newest revision."""
    from dagwell.storage.shared import metadata_store

    store = metadata_store(ctx.settings.db_url)
    before, after = store.upgrade_schema()
    where = _where(store.url)
    if before.revisions == after.revisions:
        ctx.console.print(f"{where}: already at revision {after.current}", highlight=False)
    elif before.current is None:
        ctx.console.print(f"{where}: created at revision {after.current}", highlight=False)
    else:
        ctx.console.print(
            f"{where}: upgraded from revision {before.current} to {after.current}",
            highlight=False,
        )


@db_group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def current_command(ctx: CliContext, as_json: bool) -> None:
    """Print the schema revision of the metadata database and whether an upgrade is pending."""
    from dagwell.storage.shared import metadata_store

    store = metadata_store(ctx.settings.db_url)
    status = store.schema_status()
    where = _where(store.url)
    if as_json:
        found = {
            "database": where,
            "revision": status.current,
            "head": status.head,
            "pending": status.pending,
            "newer": status.newer,
        }
        click.echo(json.dumps(found, indent=2))
        return
    if status.newer:
        note = f"written by a newer dagwell (this one knows up to {status.head}); upgrade dagwell"
    elif status.current is None:
        note = f"empty; upgrade pending to {status.head} (dagwell db upgrade)"
    elif status.pending:
        note = f"upgrade pending to {status.head} (dagwell db upgrade)"
    else:
        note = "up to date"
    shown = status.current or "none"
    ctx.console.print(f"{where}: revision {shown}, {note}", highlight=False)


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


COMMANDS = [db_group]

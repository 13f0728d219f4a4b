"""The ``dagwell`` command: global options, subcommands, and errors mapped to exit codes.

Each subcommand module parses its input, calls one library function and renders the result.
Errors a user can fix print one line on stderr; only bugs show a traceback.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

import click

from dagwell.errors import (
    DagwellError,
    DefinitionError,
    NotFoundError,
    StorageError,
)
from dagwell.interfaces.cli.context import CliContext

EXIT_CODES: list[tuple[type[DagwellError], int]] = [
    (DefinitionError, 2),
    (NotFoundError, 3),
    (StorageError, 4),
    (DagwellError, 1),
]
"""Exit code per error class, most specific first. A failed run exits 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="DAGWELL_HOME", help="Folder for records (default ./.dagwell).")
@click.option("--db-url", envvar="DAGWELL_DB_URL", help="SQLAlchemy URL of the metadata DB.")
@click.option("--artifacts", envvar="DAGWELL_ARTIFACTS", help="Path or fsspec URL of artifacts.")
@click.version_option(package_name="dagwell")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db_url: str | None, artifacts: str | None) -> None:
    """dagwell: ML pipelines as DAGs of Python tasks, with every run recorded."""
    ctx.obj = CliContext(home=home, db_url=db_url, artifacts=artifacts)


def _register() -> None:
    from dagwell.interfaces.cli import (
        account_commands,
        alert_commands,
        cache_commands,
        cancel_commands,
        compare_commands,
        db_commands,
        doctor_commands,
        inspect_commands,
        lineage_commands,
        model_commands,
        pool_commands,
        run_commands,
        schedule_commands,
        ui_commands,
    )

    commands = (
        *run_commands.COMMANDS,
        *cancel_commands.COMMANDS,
        *inspect_commands.COMMANDS,
        *model_commands.COMMANDS,
        *compare_commands.COMMANDS,
        *doctor_commands.COMMANDS,
        *cache_commands.COMMANDS,
        *lineage_commands.COMMANDS,
        *alert_commands.COMMANDS,
        *pool_commands.COMMANDS,
        *schedule_commands.COMMANDS,
        *db_commands.COMMANDS,
        *ui_commands.COMMANDS,
        *account_commands.COMMANDS,
    )
    for command in commands:
        cli.add_command(command)


_register()


def run_command_line(argv: list[str] | None = None) -> int:
    """Run one ``dagwell`` command and return its exit code; errors become messages."""
    try:
        cli.main(args=argv, prog_name="dagwell", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DagwellError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script: run the command, then exit at once.

    Everything a command writes is committed before it returns, so the process skips the
    interpreter's slow teardown (about 0.1 s with SQLAlchemy loaded) after running the
    exit handlers and flushing its output.
    """
    code = run_command_line(argv)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()

"""``dagwell code``, ``diff`` and ``compare``: a run's code, and runs set against each other."""

from __future__ import annotations

import json
import posixpath
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from dagwell.core.records import CodeSnapshot, Run
from dagwell.errors import NotFoundError
from dagwell.interfaces.cli.context import CliContext


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _code_of(run: Run) -> CodeSnapshot:
    code = run.code
    if code is None:
        raise NotFoundError(f"run {run.id} was recorded without a code snapshot")
    return code


@click.command("code")
@click.argument("run_id", metavar="RUN")
@click.argument("path", required=False)
@click.option("--git-diff", is_flag=True, help="Print the git diff recorded with the run.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def code_command(
    ctx: CliContext, run_id: str, path: str | None, git_diff: bool, as_json: bool
) -> None:
    """List the source files RUN recorded, with its git state; or print the file PATH."""
    from dagwell.execution.runs import get_run

    found = get_run(run_id, settings=ctx.settings)
    code = _code_of(found)
    if path is not None:
        click.echo(_file_text(found, code, path), nl=False)
        return
    git = code.git
    if git_diff:
        if git is None or git.get("diff") is None:
            raise NotFoundError(f"run {found.id} recorded no git diff (not in a git repository)")
        click.echo(git["diff"], nl=False)
        return
    if as_json:
        _print_json(
            {
                "run": found.id,
                "hash": code.hash,
                "entry": code.entry,
                "files": {
                    name: {"bytes": len(text.encode()), "lines": len(text.splitlines())}
                    for name, text in code.files.items()
                },
                "git": dict(git) if git is not None else None,
            }
        )
        return
    console = ctx.console
    console.print(f"[bold]code of run {found.id}[/]  snapshot {(code.hash or '')[:12]}")
    table = Table(box=None, header_style="bold")
    for column in ("file", "lines", "bytes"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for name, text in code.files.items():
        label = Text(name, style="bold" if name == code.entry else "")
        table.add_row(label, str(len(text.splitlines())), str(len(text.encode())))
    console.print(table)
    console.print(_git_line(found.id, git))


def _file_text(run: Run, code: CodeSnapshot, path: str) -> str:
    wanted = posixpath.normpath(path.replace("\\", "/"))
    if wanted in code.files:
        return code.files[wanted]
    listed = ", ".join(code.files) or "none"
    raise NotFoundError(f"run {run.id} stored no file {path!r}; its files are: {listed}")


def _git_line(run_id: str, git: Any) -> Text:
    if git is None:
        return Text("git: not a git repository", style="dim")
    if git.get("error"):
        return Text(f"git: {git['error']}", style="yellow")
    commit = git.get("commit") or "no commit yet"
    text = Text(f"git: commit {commit}")
    if git.get("dirty"):
        size = len((git.get("diff") or "").encode())
        cut = ", truncated" if git.get("diff_truncated") else ""
        text.append(f"  dirty (diff of {size} bytes{cut}:", style="yellow")
        text.append(f" dagwell code {run_id} --git-diff)", style="yellow")
    elif git.get("dirty") is False:
        text.append("  clean", style="green")
    return text


@click.command("diff")
@click.argument("old_id", metavar="RUN")
@click.argument("new_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def diff_command(ctx: CliContext, old_id: str, new_id: str, as_json: bool) -> None:
    """Show what changed from the first RUN to the second: params and code."""
    from dagwell.execution.runs import get_run
    from dagwell.tracking.compare import diff_runs

    old = get_run(old_id, settings=ctx.settings)
    new = get_run(new_id, settings=ctx.settings)
    changes = diff_runs(old, new)
    if as_json:
        _print_json(changes.to_dict())
        return
    console = ctx.console
    console.print(f"[bold]from run {old.id} to run {new.id}[/]")
    if changes.params:
        console.print("[bold]params[/]")
        for row in changes.params:
            before, after = (_show(value) for value in row.values)
            console.print(Text(f"  {row.name}: {before} -> {after}"), soft_wrap=True)
    else:
        console.print("params: the same")
    if changes.code_missing:
        console.print(f"code: not compared; no snapshot for {', '.join(changes.code_missing)}")
    elif changes.same_code:
        console.print("code: the same")
    else:
        names = ", ".join(f"{c.path} ({c.change})" for c in changes.files)
        console.print(Text(f"code: {names}"), soft_wrap=True)
        for change in changes.files:
            console.print(_coloured_diff(change.diff), soft_wrap=True, end="")


def _coloured_diff(diff: str) -> Text:
    """A unified diff with the usual colours; plain text when not on a terminal."""
    text = Text()
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        text.append(line, style=style)
    return text


@click.command("compare")
@click.argument("run_ids", metavar="RUN RUN [RUN...]", nargs=-1, required=True)
@click.option("--differences", "-d", is_flag=True, help="Only the rows that differ.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def compare_command(
    ctx: CliContext, run_ids: tuple[str, ...], differences: bool, as_json: bool
) -> None:
    """Show runs side by side: params, metrics, code and environment differences."""
    from dagwell.execution.runs import get_run
    from dagwell.tracking.compare import SECTIONS, compare_runs

    if len(run_ids) < 2:
        raise click.UsageError("compare needs at least two runs")
    comparison = compare_runs([get_run(run_id, settings=ctx.settings) for run_id in run_ids])
    if as_json:
        data = comparison.to_dict()
        if differences:
            for section in SECTIONS:
                key = section.replace(" ", "_")
                data[key] = [row for row in data[key] if row["differs"]]
        _print_json(data)
        return
    table = Table(box=None, header_style="bold")
    table.add_column("")
    for run_id in comparison.run_ids:
        table.add_column(run_id, overflow="fold")
    for section in SECTIONS:
        rows = [row for row in comparison.section(section) if row.differs or not differences]
        if not rows:
            continue
        table.add_row(Text(section, style="bold underline"))
        for row in rows:
            style = "yellow" if row.differs else ""
            shown = [_show(value, row.name, row.section) for value in row.values]
            if row.name == "changed files":
                shown[0] = "(compared with)"  # the first run is what the others are set against
            table.add_row(
                Text(f"  {row.name}", style=style), *(Text(cell, style=style) for cell in shown)
            )
    ctx.console.print(table)
    if not differences:
        ctx.console.print("[dim]packages with the same version in every run are not shown[/]")


def _show(value: Any, name: str = "", section: str = "") -> str:
    from dagwell.tracking.compare import MISSING

    if value is MISSING:
        return "-"
    if name in ("snapshot", "git commit") and isinstance(value, str):
        return value[:12]  # like run ids: enough to tell apart, short enough for columns
    if isinstance(value, float) and section == "metrics":
        return f"{value:.6g}"  # params keep their exact text: 1 and 1.0 are different params
    if isinstance(value, (tuple, list)) and name == "changed files":
        return ", ".join(value) if value else "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


COMMANDS = [code_command, diff_command, compare_command]

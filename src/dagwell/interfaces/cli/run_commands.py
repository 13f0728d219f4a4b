"""``dagwell run`` and ``dagwell demo``: start a run with a live progress view."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace

import click
from rich.table import Table
from rich.text import Text

from dagwell.core.pipeline import Pipeline
from dagwell.core.records import Run
from dagwell.core.states import RunState
from dagwell.execution.hooks import Hooks
from dagwell.interfaces.cli.context import CliContext
from dagwell.interfaces.cli.progress import LiveProgress, progress_for

EXECUTORS = click.Choice(["inline", "process", "dask"])
DASK_ADDRESS = click.option(
    "--dask-address",
    envvar="DAGWELL_DASK_ADDRESS",
    metavar="tcp://HOST:PORT",
    default=None,
    help="The Dask scheduler that --executor dask runs on (default: a temporary local cluster).",
)
RESULT_CHARS = 300
"""The longest pipeline result ``dagwell run`` prints, in characters; longer ones are cut."""


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("C=0.5", "name=x")`` -> ``{"C": "0.5", "name": "x"}``, with a clear error."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="-p")
        params[key.strip()] = value
    return params


def use_dask_address(ctx: CliContext, address: str | None) -> None:
    """Make ``--dask-address`` part of the settings the command runs with."""
    if address:
        ctx.settings = replace(ctx.settings, dask_address=address)


def execute(
    ctx: CliContext,
    pipeline: Pipeline,
    params: dict[str, str],
    executor: str,
    workers: int | None,
    quiet: bool,
    after: Callable[[Run], None] | None = None,
    cache: bool = True,
) -> None:
    """Run ``pipeline`` showing progress; exit 0 only when the run succeeded.

    ``after`` is called with the run when it succeeded, before the closing lines.
    """
    from dagwell.execution.runs import run

    hooks = Hooks() if quiet else progress_for(ctx.console)
    result = run(
        pipeline,
        params,
        executor=executor,
        workers=workers,
        settings=ctx.settings,
        hooks=hooks,
        params_from_text=True,
        cache=cache,
    )
    report(ctx, result, hooks, after)


def report(
    ctx: CliContext, result: Run, hooks: Hooks, after: Callable[[Run], None] | None = None
) -> None:
    """Print how ``result`` ended and where its records are; exit 0 only on success, and
    130 (as on Ctrl-C) when the run was cancelled (``dagwell cancel``)."""
    console = ctx.console
    ok = result.status == RunState.SUCCEEDED
    took = f"{result.duration:.2f}s" if result.duration is not None else "?"
    colour = "green" if ok else "red"
    console.print(f"run [bold]{result.id}[/] [{colour}]{result.status.value}[/] in {took}")
    shown = result_line(result)
    if shown is not None:
        console.print(shown, markup=False, highlight=False, soft_wrap=True)
    if ok and after is not None:
        after(result)
    if result.status == RunState.CANCELLED and result.error:
        console.print(f"  {result.error}", highlight=False)
    if not ok:
        # The live view's last frame has listed the failed nodes with their errors already.
        if not isinstance(hooks, LiveProgress):
            for task in result.tasks.values():
                if task.status == "failed":
                    console.print(f"  [red]{task.node}[/]: {task.error}", highlight=False)
        console.print(f"  logs: dagwell logs {result.id} NODE")
    console.print(f"records: {ctx.settings.home}  (dagwell show {result.id})", highlight=False)
    sys.exit(0 if ok else 130 if result.status == RunState.CANCELLED else 1)


def result_line(run: Run, limit: int = RESULT_CHARS) -> str | None:
    """``result: …``, the repr of a succeeded run's result cut to ``limit`` characters.

    None when there is nothing cheap to show: the run failed, its result is None, or an
    output the result refers to lives in the artifact store (it may be large, and is
    never loaded just to be printed).
    """
    if run.status != RunState.SUCCEEDED or not run.result_is_inline():
        return None
    value = run.result()
    if value is None:
        return None
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"result: {text}"


@click.command("run")
@click.argument("target", metavar="FILE[:PIPELINE]")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A pipeline param; repeat for several.",
)
@click.option("--executor", type=EXECUTORS, default="process", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel tasks at most (default: CPU count).",
)
@DASK_ADDRESS
@click.option("-q", "--quiet", is_flag=True, help="No progress view.")
@click.option("--no-cache", is_flag=True, help="Run cached tasks even if they could be reused.")
@click.pass_obj
def run_command(
    ctx: CliContext,
    target: str,
    params: tuple[str, ...],
    executor: str,
    workers: int | None,
    dask_address: str | None,
    quiet: bool,
    no_cache: bool,
) -> None:
    """Run the pipeline in FILE (name it as FILE:PIPELINE when the file has several)."""
    from dagwell.execution.loader import load_pipeline

    use_dask_address(ctx, dask_address)
    parsed = parse_params(params)
    execute(ctx, load_pipeline(target), parsed, executor, workers, quiet, cache=not no_cache)


@click.command("demo")
@click.option("--executor", type=EXECUTORS, default="process", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None)
@click.pass_obj
def demo_command(ctx: CliContext, executor: str, workers: int | None) -> None:
    """Run the built-in ML demo: train and compare models, register the best as production."""
    try:
        from dagwell.demo import ml_demo, promote
    except ImportError as exc:
        raise click.ClickException(
            f"the demo needs the ML extra ({exc.name} is missing): pip install 'dagwell[ml]'"
        ) from None

    def promote_best(run: Run) -> None:
        version = promote(run, settings=ctx.settings)
        ctx.console.print(
            f"model {version.spec} registered, alias production "
            f"(dagwell models show {version.name})\n"
            "see the run in the web UI: dagwell ui, then open http://127.0.0.1:8765",
            highlight=False,
            soft_wrap=True,
        )

    execute(ctx, ml_demo, {}, executor, workers, quiet=False, after=promote_best)


@click.command("resume")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--pipeline",
    "target",
    metavar="FILE[:PIPELINE]",
    help="The pipeline file, when it moved since the run started.",
)
@click.option("--executor", type=EXECUTORS, default="process", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None)
@DASK_ADDRESS
@click.option("-q", "--quiet", is_flag=True, help="No progress view.")
@click.pass_obj
def resume_command(
    ctx: CliContext,
    run_id: str,
    target: str | None,
    executor: str,
    workers: int | None,
    dask_address: str | None,
    quiet: bool,
) -> None:
    """Start a new run that reuses what RUN finished and runs the rest."""
    from dagwell.execution.loader import load_pipeline
    from dagwell.execution.runs import resume

    use_dask_address(ctx, dask_address)
    hooks = Hooks() if quiet else progress_for(ctx.console)
    pipeline = load_pipeline(target) if target else None
    result = resume(
        run_id,
        pipeline=pipeline,
        executor=executor,
        workers=workers,
        settings=ctx.settings,
        hooks=hooks,
    )
    reused = sum(1 for t in result.tasks.values() if t.status == "reused")
    ctx.console.print(f"resumed run {result.parent_run_id}: {reused} nodes reused", highlight=False)
    report(ctx, result, hooks)


@click.command("rerun")
@click.argument("run_id", metavar="RUN")
@click.option("--executor", type=EXECUTORS, default="process", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None)
@DASK_ADDRESS
@click.option("-q", "--quiet", is_flag=True, help="No progress view.")
@click.pass_obj
def rerun_command(
    ctx: CliContext,
    run_id: str,
    executor: str,
    workers: int | None,
    dask_address: str | None,
    quiet: bool,
) -> None:
    """Run RUN again from its stored code, params and data; say if the outputs match.

    Exits 0 only when the re-run succeeded and every output matches the original.
    """
    from dagwell.execution.rerun import reproduced, rerun
    from dagwell.execution.runs import get_run

    use_dask_address(ctx, dask_address)
    hooks = Hooks() if quiet else progress_for(ctx.console)
    again = rerun(run_id, executor=executor, workers=workers, settings=ctx.settings, hooks=hooks)
    original = get_run(run_id, settings=ctx.settings)
    verdicts = reproduced(original, again)
    table = Table(box=None, header_style="bold")
    for column in ("node", "outputs"):
        table.add_column(column)
    for node, verdict in verdicts.items():
        table.add_row(node, Text(verdict, style="green" if verdict == "same" else "red"))
    ctx.console.print(table)
    same = all(v == "same" for v in verdicts.values())
    summary = "reproduced: every output matches" if same else "NOT reproduced"
    ctx.console.print(f"{summary} ({original.id} -> {again.id})", highlight=False)
    if not same and again.status == RunState.SUCCEEDED:
        ctx.console.print(f"records: {ctx.settings.home}  (dagwell show {again.id})")
        sys.exit(1)
    report(ctx, again, hooks)


COMMANDS = [run_command, demo_command, resume_command, rerun_command]

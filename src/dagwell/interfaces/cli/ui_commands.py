"""``dagwell ui``: serve the web UI and API, and with pipeline paths the scheduler too."""

from __future__ import annotations

import ipaddress
import signal
from typing import TYPE_CHECKING

import click

from dagwell.interfaces.cli.context import CliContext
from dagwell.interfaces.cli.run_commands import EXECUTORS

if TYPE_CHECKING:
    from dagwell.interfaces.web.scheduler_thread import SchedulerThread


@click.command("ui")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--executor", type=EXECUTORS, default="process", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Workers per run.")
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Runs executing at once (with PATH...).",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark the sign-in cookie Secure on every request (behind a proxy that serves "
    "https; on https requests it is always Secure).",
)
@click.pass_obj
def ui_command(
    ctx: CliContext,
    paths: tuple[str, ...],
    host: str,
    port: int,
    executor: str,
    workers: int | None,
    max_runs: int,
    secure_cookies: bool,
) -> None:
    """Serve the web UI and the JSON API (/api/v1) on http://HOST:PORT.

    Given pipeline files or folders (PATH...), it also runs the scheduler over them in
    the same process, as `dagwell scheduler PATH...` would. With no users configured it
    runs open (everyone is an admin), and only on a loopback address; with users,
    people sign in at /login and scripts send API tokens (dagwell tokens create).
    """
    try:
        import uvicorn

        from dagwell.interfaces.web import pages
        from dagwell.interfaces.web.app import create_app
    except ImportError as exc:
        raise click.ClickException(
            f"the web UI needs the 'ui' extra ({exc.name} is missing): pip install 'dagwell[ui]'"
        ) from None
    from dagwell.tracking.accounts import count_users

    settings = ctx.settings
    users = count_users(settings=settings)
    if users == 0 and not is_loopback(host):
        raise click.ClickException(
            f"refusing to serve on {host} with no users: anyone who can reach it could "
            "trigger runs and read every artifact. Add one first (dagwell users add NAME "
            "--role admin), or listen on 127.0.0.1 only"
        )
    url = f"http://{_url_host(host)}:{port}"
    access = (
        "open: no users, so everyone here is an admin"
        if users == 0
        else f"sign-in required: {url}/login"
    )
    click.echo(f"dagwell UI on {url} ({access}); records in {settings.home}")
    services: list[SchedulerThread] = []
    if paths:
        click.echo(f"scheduling the pipelines in {', '.join(paths)}")
        services.append(_scheduler(ctx, list(paths), executor, workers, max_runs))
    app = create_app(
        settings,
        open_mode=users == 0,
        services=services,
        secure_cookies=secure_cookies,
        routers=[pages.router],
        static_dir=pages.STATIC_DIR,
        error_page=pages.error_page,
    )
    if users == 0:
        # Open, so only pages of this machine's own addresses may reach it: a web page
        # elsewhere that rebinds its name to 127.0.0.1 sends its own Host, and is refused.
        from dagwell.interfaces.web.loopback_host import LoopbackHostMiddleware, loopback_names

        app.add_middleware(LoopbackHostMiddleware, names=loopback_names(host))
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: exit 0 then, as
    # `dagwell scheduler` does (Ctrl-C still exits 130).
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _scheduler(
    ctx: CliContext, paths: list[str], executor: str, workers: int | None, max_runs: int
) -> SchedulerThread:
    from dagwell.interfaces.cli.scheduler_view import local
    from dagwell.interfaces.web.scheduler_thread import SchedulerThread
    from dagwell.scheduling.daemon import Event, Scheduler

    def print_event(event: Event) -> None:
        click.echo(f"{local(event.at)}  {event.text}")

    scheduler = Scheduler(
        paths,
        settings=ctx.settings,
        executor=executor,
        workers=workers,
        max_runs=max_runs,
        on_event=print_event,
    )
    scheduler.start()  # a missing path or a scheduler running already fails here, plainly
    return SchedulerThread(scheduler)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): reachable from this
    machine only."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


COMMANDS = [ui_command]

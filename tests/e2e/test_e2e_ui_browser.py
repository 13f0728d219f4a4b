"""The web UI in a real browser: Playwright's sync API driving Debian's Chromium against
``dagwell ui`` running as a subprocess, as a person would use it.

Two servers, each started once per module over the same pipeline file in its own
DAGWELL_HOME: an open one (no users) with runs made through the API before any page is
opened, and one people sign in to (a viewer and an operator added with the CLI first).
Each test opens a fresh browser context (its own cookies) on the one module browser. Waits
are Playwright's auto-waiting ``expect`` with generous timeouts, never sleeps.

Every main page visited is saved as a full-page screenshot under ``tests/e2e/screenshots/``
(not committed) so a person can look at it. ``pytest -m "not browser"`` leaves these out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dagwell_process import free_port, until

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # the browser fixture fails with how to install it
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
# No internet here: without these Chromium keeps dialling Google's services and retrying.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DAGWELL = [sys.executable, "-m", "dagwell.interfaces.cli.main"]
WAIT_MS = 30_000  # actions and expect(): generous, for a busy 2-core machine

FLOWS = textwrap.dedent(
    """
    import time

    import dagwell as dw


    @dw.task
    def double(n: int, pause: float) -> int:
        time.sleep(pause)  # long enough to see the run page before the run ends
        print("doubling", n)
        return 2 * n


    @dw.pipeline
    def quick(n: int, pause: float = 2.0) -> int:
        return double(n, pause)


    @dw.task
    def prepare(n: int) -> int:
        return n + 1


    @dw.task
    def explode(x: int) -> int:
        print(f"warming the flux capacitor to {x}")
        raise ValueError(f"flux capacitor cracked at {x}")


    @dw.pipeline
    def breaks() -> int:
        return explode(prepare(3))


    @dw.task
    def count_rows(path: str) -> int:
        with open(path) as f:
            return sum(1 for _ in f)


    @dw.task
    def fit(rows: int, C: float) -> float:
        for step in range(5):
            dw.log_metric("loss", C / (step + 1) + rows / 100, step=step)
        dw.log_metric("accuracy", 0.9 - C / 100)
        dw.log_model({"rows": rows, "C": C}, "row_model", metadata={"C": C})
        return C * rows


    @dw.pipeline
    def train(path: str, C: float = 1.0) -> float:
        return fit(count_rows(dw.dataset(path)), C)
    """
)


# -- the server -----------------------------------------------------------------------------


def dagwell(folder: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """``dagwell ARGS...`` in ``folder``; its output (a failure fails the test)."""
    done = subprocess.run(
        [*DAGWELL, *args],
        cwd=folder,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Server:
    """A running ``dagwell ui``: its URL, an API client, and the runs made in it by name."""

    url: str
    api: httpx.Client
    output: Path
    runs: dict[str, str] = field(default_factory=dict)

    def trigger(self, pipeline: str, **params: Any) -> str:
        answer = self.api.post(f"/api/v1/pipelines/{pipeline}/runs", json={"params": params})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def finished(self, run_id: str) -> str:
        """Wait for the run to end; its status."""

        def ended() -> str | None:
            status = str(self.api.get(f"/api/v1/runs/{run_id}").json()["status"])
            return status if status in ("succeeded", "failed", "cancelled") else None

        return str(until(ended, timeout=60))


def prepared_folder(folder: Path) -> dict[str, str]:
    """Write the pipeline file and a dataset into ``folder``; the environment for dagwell."""
    (folder / "flows.py").write_text(FLOWS)
    (folder / "rows.csv").write_text("".join(f"row {i}\n" for i in range(12)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env["DAGWELL_HOME"] = str(folder / "home")
    return env


@contextlib.contextmanager
def serving(folder: Path, env: dict[str, str], token: str | None = None) -> Iterator[Server]:
    """``dagwell ui flows.py --port FREE`` until the pipelines are registered; then stopped
    with SIGINT (Ctrl-C), and killed if it has not ended in 15 s."""
    port = free_port()
    output = folder / "ui.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            [*DAGWELL, "ui", "flows.py", "--port", str(port), "--executor", "inline"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # one signal reaches the server and the runs it started
        )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    api = httpx.Client(base_url=url, headers=headers, timeout=10)

    def registered() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {output.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if api.get("/api/v1/health").status_code != 200:
                return False
            found = api.get("/api/v1/pipelines").json()
            return {"quick", "breaks", "train"} <= {p["name"] for p in found if p["registered"]}
        return False

    try:
        until(registered, timeout=30)
        yield Server(url, api, output)
    finally:
        api.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An open UI (no users) with a failed run and three succeeded ones, two of them
    training the same model with different params."""
    folder = tmp_path_factory.mktemp("open-ui")
    env = prepared_folder(folder)
    with serving(folder, env) as server:
        data = str(folder / "rows.csv")
        server.runs = {
            "failed": server.trigger("breaks"),
            "quick": server.trigger("quick", n=4, pause=0),
            "train_a": server.trigger("train", path=data, C=0.5),
            "train_b": server.trigger("train", path=data, C=2.0),
        }
        states = {name: server.finished(run_id) for name, run_id in server.runs.items()}
        assert states == {
            "failed": "failed",
            "quick": "succeeded",
            "train_a": "succeeded",
            "train_b": "succeeded",
        }, server.output.read_text()
        yield server


PASSWORDS = {"vic": "vic's long secret", "olga": "olga's long secret"}


@pytest.fixture(scope="module")
def signed_in_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A UI people sign in to (on 127.0.0.1, not open since users exist): vic is a viewer,
    olga an operator; one failed run, triggered with olga's API token."""
    folder = tmp_path_factory.mktemp("signed-in-ui")
    env = prepared_folder(folder)
    for name, role in (("vic", "viewer"), ("olga", "operator")):
        add = ("users", "add", name, "--role", role, "--password-stdin")
        dagwell(folder, env, *add, stdin=PASSWORDS[name])
    token = dagwell(folder, env, "tokens", "create", "olga").strip()
    with serving(folder, env, token=token) as server:
        assert server.api.get("/api/v1/health").json()["open"] is False
        server.runs = {"failed": server.trigger("breaks")}
        assert server.finished(server.runs["failed"]) == "failed", server.output.read_text()
        yield server


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright; fails (never skips) when either is missing."""
    if sync_playwright is None:
        pytest.fail(
            "the browser tests need Playwright's Python package: pip install -e '.[dev]' "
            "(no `playwright install`: they drive Debian's Chromium)",
            pytrace=False,
        )
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests drive Debian's Chromium at {CHROMIUM}: "
            "apt-get install chromium (as .ci/run does)",
            pytrace=False,
        )
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_page(browser: Browser, server: Server) -> Page:
    """A page in a fresh context (no cookies) whose relative URLs go to ``server``."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, open_server: Server) -> Iterator[Page]:
    """A page on the open server."""
    opened = new_page(browser, open_server)
    yield opened
    opened.context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, name: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# -- open mode ------------------------------------------------------------------------------


def test_an_open_ui_says_so_in_a_banner_on_every_page(page: Page, open_server: Server) -> None:
    page.goto("/")
    banner = page.get_by_role("status")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("open: anyone who can reach this address can do anything")
    for name in ("quick", "breaks", "train"):
        expect(page.locator(f'tr[data-pipeline="{name}"]')).to_be_visible()
    screenshot(page, "pipelines")
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page).to_have_url(f"{open_server.url}/runs")
    expect(page.get_by_role("status")).to_contain_text("open: anyone")


# -- a failed run ---------------------------------------------------------------------------


def test_a_failed_node_shows_its_error_and_its_log_when_clicked(
    page: Page, open_server: Server
) -> None:
    failed = open_server.runs["failed"]
    page.goto("/runs")
    row = page.locator(f'tr[data-run="{failed}"]')
    expect(row).to_contain_text("breaks")
    expect(row).to_contain_text("failed")
    screenshot(page, "runs")
    row.get_by_role("link", name=failed).click()
    expect(page).to_have_url(f"{open_server.url}/runs/{failed}")
    expect(page.locator("#run-header .badge").first).to_have_text("failed")

    node = page.locator('#run-dag [data-node="explode"]')
    expect(node).to_have_attribute("data-state", "failed")
    panel = page.locator("#node-detail")
    expect(panel).to_be_empty()
    node.click()
    expect(panel.locator('.node-panel[data-node="explode"]')).to_be_visible()
    expect(panel.locator(".node-error")).to_contain_text("ValueError: flux capacitor cracked at 4")
    expect(panel.locator("#node-log")).to_contain_text("warming the flux capacitor to 4")
    expect(page).to_have_url(f"{open_server.url}/runs/{failed}/node?node=explode")
    # the panel opened beside the DAG, without leaving the run page
    expect(page.locator('#run-dag [data-node="prepare"]')).to_have_attribute(
        "data-state", "succeeded"
    )
    screenshot(page, "run-with-node-panel")


# -- triggering from the form and following the run -----------------------------------------


def test_a_run_triggered_from_the_form_updates_its_page_until_it_succeeds(
    page: Page, open_server: Server
) -> None:
    page.goto("/")
    page.locator('tr[data-pipeline="quick"]').get_by_role("link", name="Trigger").click()
    expect(page.get_by_role("heading", name="Trigger quick")).to_be_visible()
    page.get_by_label("n (int, required)").fill("21")
    page.get_by_role("button", name="Queue run").click()
    page.wait_for_url("**/runs/*")
    run_id = page.url.rsplit("/", 1)[1]
    assert open_server.runs.get("quick") != run_id
    # Mark this document: a reload or a navigation would lose the mark.
    page.evaluate("window.dagwellTestMark = 'same page'")
    status = page.locator("#run-header .badge").first
    assert status.inner_text() in ("queued", "running")  # the task sleeps 2 s
    expect(page.locator("#run-poll")).to_have_attribute("data-live", "true")

    expect(status).to_have_text("succeeded", timeout=60_000)
    expect(page.locator('#run-dag [data-node="double"]')).to_have_attribute(
        "data-state", "succeeded"
    )
    expect(page.locator("#run-poll")).to_have_attribute("data-live", "false")
    expect(page.locator("#run-header")).to_contain_text("21")  # the param from the form
    assert page.evaluate("window.dagwellTestMark") == "same page"
    assert page.url == f"{open_server.url}/runs/{run_id}"


# -- comparing runs, lineage, models --------------------------------------------------------


def test_compare_lineage_and_models_show_the_two_training_runs(
    page: Page, open_server: Server
) -> None:
    a, b = open_server.runs["train_a"], open_server.runs["train_b"]
    page.goto("/runs?pipeline=train")
    page.get_by_label(f"compare {a}").check()
    page.get_by_label(f"compare {b}").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
    c_row = page.locator('tr[data-row="C"]')
    expect(c_row).to_have_class("differs")
    expect(c_row).to_contain_text("0.5")
    expect(c_row).to_contain_text("2.0")
    expect(page.locator('tbody[data-section="metrics"]')).to_contain_text("accuracy")
    screenshot(page, "compare")

    page.goto("/models")
    model = page.locator("table.models tr", has_text="row_model")
    expect(model).to_contain_text("v2")
    screenshot(page, "models")
    model.get_by_role("link", name="row_model").click()
    expect(page.get_by_role("heading", name="Model row_model")).to_be_visible()

    page.goto("/lineage?ref=model:row_model@2")
    graph = page.locator(".lineage-graph svg")
    expect(graph).to_be_visible()
    expect(graph).to_contain_text("fit")
    expect(graph).to_contain_text("count_rows")
    expect(graph).to_contain_text("rows.csv")
    expect(graph).to_contain_text("row_model")
    screenshot(page, "lineage")
    # A wide graph scrolls in its pane; a click brings the model's box into view.
    graph.locator(".dw-node", has_text="row_model").click()
    panel = page.locator("#node-detail .lineage-node")
    expect(panel).to_contain_text("row_model v2")
    panel.get_by_role("link", name="model", exact=True).click()
    expect(page).to_have_url(f"{open_server.url}/models/row_model")


# -- signing in, and who may trigger --------------------------------------------------------


@pytest.fixture
def signed_in_page(browser: Browser, signed_in_server: Server) -> Iterator[Page]:
    """A page on the server people sign in to, nobody signed in yet."""
    opened = new_page(browser, signed_in_server)
    yield opened
    opened.context.close()


def test_a_wrong_password_is_said_and_stays_on_the_sign_in_page(
    signed_in_page: Page, signed_in_server: Server
) -> None:
    page = signed_in_page
    page.goto("/runs")
    expect(page).to_have_url(f"{signed_in_server.url}/login?next=/runs")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(0)  # not open: no banner
    screenshot(page, "login")
    page.get_by_label("Name").fill("vic")
    page.get_by_label("Password").fill("not vic's secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    assert page.url.startswith(f"{signed_in_server.url}/login")
    expect(page.get_by_label("Password")).to_be_visible()
    assert "dagwell_session" not in {c["name"] for c in page.context.cookies()}


def test_a_viewer_sees_no_trigger_and_the_api_refuses_it(
    signed_in_page: Page, signed_in_server: Server
) -> None:
    page = signed_in_page
    sign_in(page, "vic", PASSWORDS["vic"])
    expect(page.locator(".whoami")).to_contain_text("vic (viewer)")
    expect(page.locator('tr[data-pipeline="quick"]')).to_be_visible()
    expect(page.get_by_role("link", name="Trigger")).to_have_count(0)

    failed = signed_in_server.runs["failed"]
    page.goto(f"/runs/{failed}")
    expect(page.locator("#run-header .badge").first).to_have_text("failed")
    expect(page.get_by_role("link", name="Trigger")).to_have_count(0)
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)

    refused_form = page.goto("/pipelines/quick/trigger")
    assert refused_form is not None and refused_form.status == 403
    expect(page.get_by_role("button", name="Queue run")).to_have_count(0)

    # The API with the viewer's session and the page's CSRF token: refused for the role.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    answer = page.request.post(
        "/api/v1/pipelines/quick/runs",
        data={"params": {"n": 1}},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status == 403, answer.text()
    assert "vic (viewer) may not trigger" in answer.json()["error"]


def test_an_operator_sees_the_trigger_button(
    signed_in_page: Page, signed_in_server: Server
) -> None:
    page = signed_in_page
    sign_in(page, "olga", PASSWORDS["olga"])
    expect(page.locator(".whoami")).to_contain_text("olga (operator)")
    trigger = page.locator('tr[data-pipeline="quick"]').get_by_role("link", name="Trigger")
    expect(trigger).to_be_visible()
    page.goto(f"/runs/{signed_in_server.runs['failed']}")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    page.goto("/")
    page.locator('tr[data-pipeline="quick"]').get_by_role("link", name="Trigger").click()
    expect(page.get_by_role("button", name="Queue run")).to_be_visible()

"""The run page while a run goes on: it polls for its live parts, the running node's log
is followed from an offset, and polling stops once the run has ended."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pipelines_for_pages as flows
from fastapi.testclient import TestClient
from page_helpers import pages_app

import dagwell as dw

HX = {"HX-Request": "true"}


def wait_for(condition: object, timeout: float = 30.0) -> None:
    give_up_at = time.monotonic() + timeout
    while time.monotonic() < give_up_at:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_running_run_updates_live_and_its_log_is_followed(tmp_path: Path) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    flag = tmp_path / "go"
    finished: list[dw.Run] = []
    worker = threading.Thread(
        target=lambda: finished.append(
            dw.run(flows.chatty, {"flag": str(flag)}, executor="inline", settings=settings)
        )
    )
    worker.start()
    try:
        client = TestClient(pages_app(settings))

        def talking() -> bool:
            found = dw.list_runs(settings=settings)
            if not found:
                return False
            task = found[0].tasks.get("talk")
            return bool(task and task.attempts and task.attempts[-1].status == "running")

        wait_for(talking)
        run_id = dw.list_runs(settings=settings)[0].id
        page = client.get(f"/runs/{run_id}").text
        assert 'data-live="true"' in page and f'hx-get="/runs/{run_id}/live"' in page
        assert 'data-node="talk" data-state="running"' in page
        assert 'data-node="after" data-state="pending"' in page
        assert "updating live" in page

        wait_for(
            lambda: "first line" in client.get(f"/runs/{run_id}/node?node=talk", headers=HX).text
        )
        panel = client.get(f"/runs/{run_id}/node?node=talk", headers=HX).text
        follow = re.search(r'hx-get="([^"]*/log\?[^"]*follow=1)" hx-trigger="every 2s"', panel)
        assert follow, panel
        tail_url = follow.group(1).replace("&amp;", "&")
        offset = int(re.search(r"offset=(\d+)", tail_url).group(1))  # type: ignore[union-attr]
        # Inline attempts also capture the process's logging (the test client's, here).
        assert offset >= len(b"first line\n")
        assert "first line" not in client.get(tail_url, headers=HX).text
        assert '<span class="log-follow"' in client.get(tail_url, headers=HX).text
        pending = client.get(f"/runs/{run_id}/node?node=after", headers=HX).text
        assert 'class="panel-poll"' in pending  # a node yet to run reloads its panel

        flag.touch()
        worker.join(30)
        assert finished and finished[0].status == "succeeded"
        rest = client.get(tail_url, headers=HX).text
        assert "second line" in rest and "first line" not in rest
        assert f'hx-get="/runs/{run_id}/node?node=talk" hx-trigger="load"' in rest
        assert "log-follow" not in rest
        live = client.get(f"/runs/{run_id}/live", headers=HX).text
        assert 'data-live="false"' in live and 'hx-trigger="every' not in live
        assert 'data-node="after" data-state="succeeded"' in live
    finally:
        flag.touch()
        worker.join(30)

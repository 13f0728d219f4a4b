"""Following a node's log while it runs: `follow_log`, `dagwell logs --follow` and the API's
`?follow=true`, on a real run in worker processes that fails once and is retried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pipelines_for_log_follow as flows
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import dagwell as dw
from dagwell.core.states import AttemptState
from dagwell.errors import NotFoundError
from dagwell.execution.log_follow import LogChunk, follow_log
from dagwell.interfaces.cli.main import cli, run_command_line
from dagwell.interfaces.web.app import create_app


def start_run(settings: dw.Settings, flag: Path) -> tuple[threading.Thread, list[dw.Run]]:
    finished: list[dw.Run] = []

    def work() -> None:
        run = dw.run(
            flows.talker, {"flag": str(flag)}, executor="process", workers=1, settings=settings
        )
        finished.append(run)

    worker = threading.Thread(target=work)
    worker.start()
    return worker, finished


def first_run_id(settings: dw.Settings) -> str:
    for _ in range(600):
        found = dw.list_runs(settings=settings)
        if found:
            return found[0].id
        threading.Event().wait(0.05)
    raise AssertionError("the run never started")


def test_each_attempt_is_followed_as_it_prints_until_the_node_ends(
    settings: dw.Settings, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    worker, finished = start_run(settings, flag)
    give_up = threading.Timer(60, flag.touch)  # if the log is not followed live, end anyway
    give_up.start()
    chunks: list[LogChunk] = []
    seen_live = False
    try:
        run_id = first_run_id(settings)
        for chunk in follow_log(run_id, "talk", settings=settings, poll=0.05):
            chunks.append(chunk)
            if "waiting for the flag" in chunk.text and not flag.exists():
                seen_live = not chunk.ended
                flag.touch()
    finally:
        give_up.cancel()
        flag.touch()
        worker.join(60)

    assert seen_live, "attempt 2's output arrived while it ran, before the flag"
    assert finished and finished[0].status == "succeeded"
    first = "".join(c.text for c in chunks if c.attempt == 1)
    second = "".join(c.text for c in chunks if c.attempt == 2)
    assert first.startswith("attempt 1 starts\n") and "ValueError: first try fails" in first
    assert second == "attempt 2 starts\nwaiting for the flag\ndone, no newline"
    ends = [(c.attempt, c.status) for c in chunks if c.ended]
    assert ends == [(1, AttemptState.FAILED), (2, AttemptState.SUCCEEDED)]
    assert [c.attempt for c in chunks] == sorted(c.attempt for c in chunks)
    # Nothing is lost or doubled: the pieces make up the kept log exactly.
    kept = finished[0].tasks["talk"].attempts[1]
    assert kept.log_path is not None
    assert Path(kept.log_path).read_text() == second


@pytest.fixture
def finished_run(settings: dw.Settings, tmp_path: Path) -> Iterator[dw.Run]:
    flag = tmp_path / "go"
    flag.touch()
    yield dw.run(flows.talker, {"flag": str(flag)}, executor="process", settings=settings)


def test_the_cli_follows_a_node_with_a_line_per_attempt(
    settings: dw.Settings, finished_run: dw.Run
) -> None:
    home = ["--home", str(settings.home)]
    result = CliRunner().invoke(cli, [*home, "logs", finished_run.id, "talk", "--follow"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "== talk · attempt 1 =="
    assert "== attempt 1 failed ==" in lines
    at = lines.index("== talk · attempt 2 ==")
    assert lines[at + 1 :] == [
        "attempt 2 starts",
        "waiting for the flag",
        "done, no newline",
        "== attempt 2 succeeded ==",
    ]
    only_second = CliRunner().invoke(
        cli, [*home, "logs", finished_run.id, "talk", "-f", "--attempt", "2"]
    )
    assert "attempt 1" not in only_second.output and "done, no newline" in only_second.output


def test_the_cli_asks_for_a_node_to_follow(settings: dw.Settings, finished_run: dw.Run) -> None:
    result = CliRunner().invoke(
        cli, ["--home", str(settings.home), "logs", finished_run.id, "--follow"]
    )
    assert result.exit_code == 2
    assert "--follow needs a NODE" in result.output


def test_an_attempt_the_node_never_had_is_not_found(
    settings: dw.Settings, finished_run: dw.Run, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(settings.home)]
    code = run_command_line([*home, "logs", finished_run.id, "talk", "-f", "--attempt", "9"])
    assert code == 3
    assert "ended without an attempt 9; its attempts are 1 to 2" in capsys.readouterr().err
    client = TestClient(create_app(settings, open_mode=True))
    url = f"/api/v1/runs/{finished_run.id}/logs/talk"
    answer = client.get(url, params={"follow": "true", "attempt": 9})
    assert answer.status_code == 404
    assert "no attempt 9" in answer.json()["error"]


def test_an_unknown_node_is_not_found_with_the_nodes_named(
    settings: dw.Settings, finished_run: dw.Run
) -> None:
    with pytest.raises(NotFoundError, match=r"no node 'tlak'; its nodes are: talk"):
        next(follow_log(finished_run.id, "tlak", settings=settings))


def test_the_api_streams_a_followed_log(settings: dw.Settings, finished_run: dw.Run) -> None:
    client = TestClient(create_app(settings, open_mode=True))
    url = f"/api/v1/runs/{finished_run.id}/logs/talk"

    streamed = client.get(url, params={"follow": "true", "attempt": 2})

    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/plain")
    assert streamed.text == (
        "== attempt 2 ==\nattempt 2 starts\nwaiting for the flag\ndone, no newline\n"
        "== attempt 2 succeeded ==\n"
    )
    both = client.get(url, params={"follow": "true"}).text
    assert both.index("== attempt 1 failed ==") < both.index("== attempt 2 ==")
    assert client.get(url, params={"follow": "true", "offset": 5}).status_code == 422
    missing = client.get(f"/api/v1/runs/{finished_run.id}/logs/nope", params={"follow": "true"})
    assert missing.status_code == 404

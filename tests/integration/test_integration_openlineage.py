"""OpenLineage export: events for each run and task run, to a JSON-lines file or a server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pipelines_for_tests as p
import pytest

import dagwell as dw


def test_each_run_and_task_run_gets_start_and_complete_or_fail_events(
    tmp_path: Path, settings: dw.Settings
) -> None:
    events_file = tmp_path / "events.jsonl"
    data = tmp_path / "rows.csv"
    data.write_text("a\nb\n")
    lineage_settings = replace(settings, openlineage=str(events_file))

    run = dw.run(p.reads_dataset, {"path": str(data)}, executor="inline", settings=lineage_settings)
    failed = dw.run(p.one_branch_fails, executor="inline", settings=lineage_settings)

    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    by_job: dict[str, list[str]] = {}
    for event in events:
        by_job.setdefault(event["job"]["name"], []).append(event["eventType"])
    assert run.status == "succeeded" and failed.status == "failed"
    assert by_job["reads_dataset"] == ["START", "COMPLETE"]
    assert by_job["reads_dataset.count_rows"] == ["START", "COMPLETE"]
    assert by_job["one_branch_fails"] == ["START", "FAIL"]
    assert by_job["one_branch_fails.fail_loudly"][-1] == "FAIL"
    count_rows = [e for e in events if e["job"]["name"] == "reads_dataset.count_rows"]
    assert [(i["namespace"], i["name"]) for i in count_rows[0]["inputs"]] == [("file", str(data))]
    assert count_rows[-1]["outputs"][0]["name"] == f"{run.id}/count_rows"
    assert "parent" in count_rows[0]["run"]["facets"]
    failure = [e for e in events if e["job"]["name"] == "one_branch_fails.fail_loudly"][-1]
    assert "errorMessage" in failure["run"]["facets"]


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "event": json.loads(body)})
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def test_events_are_posted_to_a_lineage_server(
    settings: dw.Settings, lineage_server: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = lineage_server

    dw.run(p.basic, executor="process", settings=replace(settings, openlineage=url))

    assert {r["path"] for r in received} == {"/api/v1/lineage"}
    kinds = [(r["event"]["job"]["name"], r["event"]["eventType"]) for r in received]
    assert ("basic", "START") in kinds and ("basic", "COMPLETE") in kinds
    assert ("basic.numbers", "COMPLETE") in kinds

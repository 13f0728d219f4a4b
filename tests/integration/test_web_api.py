"""The JSON API (``/api/v1``) over a real SQLite store with real runs, through FastAPI's
test client: runs and their graph, attempts, metrics and logs; pipelines and triggering;
resume and cancel; paging; errors; the open mode; the OpenAPI document.

Artifacts, previews, models, lineage and ``/metrics`` are in ``test_web_artifacts.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pipelines_for_tests as flows
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import Records, make_records

import dagwell as dw
from dagwell.interfaces.cli.main import cli
from dagwell.interfaces.web.app import create_app
from dagwell.scheduling.launch import execute_claimed
from dagwell.storage.metadata.queue import claim, queue_run
from dagwell.storage.metadata.tables import attempts
from dagwell.storage.shared import metadata_store

UTC = timezone.utc


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Records]:
    made = make_records(tmp_path_factory.mktemp("web"))
    with made.client:
        yield made


# -- health, access, OpenAPI ------------------------------------------------------------------


def test_health_says_the_ui_is_open(records: Records) -> None:
    answer = records.client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "version": dw.__version__,
        "open": True,
        "scheduler": False,
    }
    assert answer.headers["X-Dagwell-Access"] == "open"


def test_every_response_of_an_open_ui_says_so(records: Records) -> None:
    assert records.client.get("/api/v1/runs").headers["X-Dagwell-Access"] == "open"
    assert records.client.get("/api/v1/runs/nosuchrun").headers["X-Dagwell-Access"] == "open"


def test_without_open_mode_only_health_answers_anyone_not_signed_in(records: Records) -> None:
    closed = TestClient(create_app(records.settings, open_mode=False))
    assert closed.get("/api/v1/health").json()["open"] is False
    for path in (
        "/api/v1/runs",
        "/api/v1/pipelines",
        "/metrics",
        f"/api/v1/runs/{records.runs['basic'].id}",
    ):
        answer = closed.get(path)
        assert answer.status_code == 401, path
        assert "sign-in required" in answer.json()["error"]
        assert "X-Dagwell-Access" not in answer.headers
    assert closed.post("/api/v1/pipelines/adhoc/runs", json={"params": {"n": 1}}).status_code == 401


def test_openapi_documents_every_route_with_its_shape(records: Records) -> None:
    document = records.client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/graph",
        "/api/v1/runs/{run_id}/attempts",
        "/api/v1/runs/{run_id}/metrics",
        "/api/v1/runs/{run_id}/logs/{node}",
        "/api/v1/runs/{run_id}/resume",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/pipelines",
        "/api/v1/pipelines/{name}",
        "/api/v1/pipelines/{name}/runs",
        "/api/v1/models",
        "/api/v1/models/{name}",
        "/api/v1/models/{name}/aliases/{alias}",
        "/api/v1/datasets",
        "/api/v1/lineage",
        "/api/v1/alerts",
        "/api/v1/artifacts/{hash}",
        "/api/v1/runs/{run_id}/outputs/{node}/{name}/preview",
        "/metrics",
    ):
        assert path in paths, path
    detail = paths["/api/v1/runs/{run_id}"]["get"]["responses"]["200"]["content"]
    assert detail["application/json"]["schema"]["$ref"].endswith("/RunDetailOut")
    assert "TaskRunOut" in document["components"]["schemas"]


def test_unknown_api_route_is_a_json_404(records: Records) -> None:
    answer = records.client.get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert set(answer.json()) == {"error", "hint"}


# -- one run ----------------------------------------------------------------------------------


def test_run_is_the_json_of_dagwell_show(records: Records) -> None:
    run = records.runs["failed"]
    shown = CliRunner().invoke(
        cli,
        ["--home", str(records.settings.home), "show", run.id, "--json"],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    answer = records.client.get(f"/api/v1/runs/{run.id}")
    assert answer.status_code == 200
    assert answer.json() == json.loads(shown.output)


def test_run_by_prefix_with_nodes_attempts_outputs_and_metrics(records: Records) -> None:
    run = records.runs["tracked"]
    data = records.client.get(f"/api/v1/runs/{run.id[:6]}").json()
    assert data["id"] == run.id
    assert data["status"] == "failed"
    assert {t["node"]: t["status"] for t in data["tasks"]} == {
        "learn_then_crash": "failed",
        "learn": "succeeded",
    }
    learn = next(t for t in data["tasks"] if t["node"] == "learn")
    assert learn["outputs"]["return"]["inline"] == 0.9
    assert learn["params"] == {"optimizer": "sgd", "epochs": 3}
    assert [m["value"] for m in data["metrics"] if m["name"] == "loss"] == [1.0, 0.5, 1 / 3]
    assert data["alerts"] == []


def test_unknown_run_is_404(records: Records) -> None:
    answer = records.client.get("/api/v1/runs/ffffffffffff")
    assert answer.status_code == 404
    assert "ffffffffffff" in answer.json()["error"]
    assert answer.json()["hint"]


def test_graph_has_nodes_with_state_and_edges(records: Records) -> None:
    run = records.runs["basic"]
    graph = records.client.get(f"/api/v1/runs/{run.id}/graph").json()
    assert graph["status"] == "succeeded"
    assert {n["id"] for n in graph["nodes"]} == set(run.tasks)
    assert all(n["status"] == "succeeded" and n["attempts"] == 1 for n in graph["nodes"])
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("numbers", "split") in edges
    assert all(e["kind"] == "data" for e in graph["edges"])
    assert edges == {(up, t.node) for t in run.tasks.values() for up in t.upstream}


def test_graph_of_a_dynamic_fan_out_links_items_to_their_parent(records: Records) -> None:
    run = records.runs["fanout"]
    graph = records.client.get(f"/api/v1/runs/{run.id}/graph").json()
    items = [n for n in graph["nodes"] if n["map_parent"] is not None]
    assert len(items) == 3
    maps = {(e["source"], e["target"]) for e in graph["edges"] if e["kind"] == "map"}
    assert maps == {(n["map_parent"], n["id"]) for n in items}


def test_graph_of_a_failed_run_shows_the_error(records: Records) -> None:
    run = records.runs["failed"]
    nodes = {n["id"]: n for n in records.client.get(f"/api/v1/runs/{run.id}/graph").json()["nodes"]}
    assert nodes["fail_loudly"]["status"] == "failed"
    assert "boom on 6" in nodes["fail_loudly"]["error"]
    assert nodes["after_failure"]["status"] == "upstream_failed"


def test_attempts_for_a_timeline(records: Records) -> None:
    run = records.runs["basic"]
    timeline = records.client.get(f"/api/v1/runs/{run.id}/attempts").json()
    bars = timeline["attempts"]
    assert len(bars) == sum(len(t.attempts) for t in run.tasks.values())
    starts = [b["started_at"] for b in bars]
    assert starts == sorted(starts)
    assert all(b["duration"] >= 0 and b["status"] == "succeeded" for b in bars)
    assert timeline["started_at"] == run.started_at.isoformat()


def test_metric_series_per_node_and_name_with_steps(records: Records) -> None:
    run = records.runs["tracked"]
    series = records.client.get(f"/api/v1/runs/{run.id}/metrics").json()["series"]
    by_name = {(s["node"], s["name"]): s["points"] for s in series}
    assert [(p["step"], p["value"]) for p in by_name[("learn", "loss")]] == [
        (0, 1.0),
        (1, 0.5),
        (2, pytest.approx(1 / 3)),
    ]
    assert by_name[("learn", "accuracy")][0]["step"] is None
    assert by_name[("learn_then_crash", "progress")][0]["value"] == 0.5


def test_log_of_a_node_as_text(records: Records) -> None:
    run = records.runs["failed"]
    answer = records.client.get(f"/api/v1/runs/{run.id}/logs/fail_loudly")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text.startswith("about to fail on 6")
    assert "ValueError: boom on 6" in answer.text
    size = int(answer.headers["X-Log-Size"])
    assert size == len(answer.text.encode())
    rest = records.client.get(f"/api/v1/runs/{run.id}/logs/fail_loudly?attempt=1&offset=6")
    assert rest.text == answer.text[6:]
    assert records.client.get(f"/api/v1/runs/{run.id}/logs/fail_loudly?offset={size}").text == ""


def test_log_errors(records: Records) -> None:
    run = records.runs["failed"]
    unknown = records.client.get(f"/api/v1/runs/{run.id}/logs/nope")
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]
    assert (
        records.client.get(f"/api/v1/runs/{run.id}/logs/fail_loudly?attempt=2").status_code == 404
    )
    assert (
        records.client.get(f"/api/v1/runs/{run.id}/logs/fail_loudly?attempt=0").status_code == 422
    )
    never = records.client.get(f"/api/v1/runs/{run.id}/logs/after_failure")
    assert never.status_code == 404  # upstream failed: it never started
    queued = records.runs["queued"]
    assert records.client.get(f"/api/v1/runs/{queued.id}/logs/double").status_code == 404


def test_log_outside_the_logs_folder_is_never_read(records: Records, tmp_path: Path) -> None:
    """A log path recorded outside the logs folder (a tampered row) is not followed."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    run = dw.run(flows.noisy, executor="inline", settings=records.settings)
    store = metadata_store(records.settings.db_url)
    with store.transaction() as tx:
        tx.execute(
            update(attempts)
            .where(attempts.c.run_id == run.id, attempts.c.node == "chatty")
            .values(log_path=str(records.settings.logs_dir / ".." / ".." / secret.relative_to("/")))
        )
        tx.execute(
            update(attempts)
            .where(attempts.c.run_id == run.id, attempts.c.node == "shout")
            .values(log_path=str(secret))
        )
    for node in ("chatty", "shout"):
        for followed in ("false", "true"):
            answer = records.client.get(
                f"/api/v1/runs/{run.id}/logs/{node}", params={"follow": followed}
            )
            assert answer.status_code == 200
            assert "TOP SECRET" not in answer.text


# -- runs listing -----------------------------------------------------------------------------


def test_runs_newest_first_with_node_counts(records: Records) -> None:
    page = records.client.get("/api/v1/runs").json()
    made = records.runs
    ours = {run.id for run in made.values()}
    ids = [r["id"] for r in page["runs"] if r["id"] in ours]  # other tests add runs
    assert ids == [run.id for run in reversed(made.values())]
    assert page["next"] is None
    basic = next(r for r in page["runs"] if r["id"] == made["basic"].id)
    assert basic["task_counts"] == {"succeeded": len(made["basic"].tasks)}
    assert "tasks" not in basic
    failed = next(r for r in page["runs"] if r["id"] == made["failed"].id)
    assert failed["task_counts"] == {"succeeded": 3, "failed": 1, "upstream_failed": 1}
    queued = next(r for r in page["runs"] if r["id"] == made["queued"].id)
    assert queued["status"] == "queued" and queued["task_counts"] == {}


def test_runs_filtered(records: Records) -> None:
    client, made = records.client, records.runs

    def ids(query: str) -> set[str]:
        answer = client.get(f"/api/v1/runs?{query}")
        assert answer.status_code == 200, answer.text
        return {r["id"] for r in answer.json()["runs"]}

    assert ids("pipeline=basic") == {made["basic"].id}
    failed = ids("status=failed")
    assert {made["failed"].id, made["tracked"].id} <= failed
    assert made["basic"].id not in failed
    assert ids("status=FAILED") == failed
    assert made["queued"].id in ids("status=queued&trigger=manual")
    assert ids("trigger=backfill") == set()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(f"since={later.replace('+00:00', 'Z')}") == set()
    assert made["basic"].id in ids(f"until={later.replace('+00:00', 'Z')}")
    assert ids("since=2000-01-01T00:00:00") >= {made["basic"].id}  # naive: UTC


def test_runs_bad_filters_are_422(records: Records) -> None:
    for query in (
        "status=sleeping",
        "limit=0",
        "limit=501",
        "offset=-1",
        "trigger=cron",
        "since=yesterday",
    ):
        answer = records.client.get(f"/api/v1/runs?{query}")
        assert answer.status_code == 422, query
        assert answer.json()["error"], query


def test_paging_by_cursor_and_offset_sees_every_run_once(tmp_path: Path) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    store = metadata_store(settings.db_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as tx:
        for i in range(130):
            queue_run(
                tx,
                run_id=f"run{i:04d}",
                pipeline="many" if i % 2 else "other",
                params={},
                source="x.py:many",
                trigger="manual",
                created_at=start + timedelta(seconds=i // 3),  # three runs share each moment
            )
    client = TestClient(create_app(settings, open_mode=True))
    expected = [r.id for r in dw.list_runs(limit=None, settings=settings)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "limit=50" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/runs?{query}").json()
        seen += [r["id"] for r in page["runs"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3
    by_offset = [
        r["id"]
        for offset in (0, 50, 100)
        for r in client.get(f"/api/v1/runs?limit=50&offset={offset}").json()["runs"]
    ]
    assert by_offset == expected
    odd = client.get("/api/v1/runs?pipeline=many&limit=20").json()
    after = client.get(f"/api/v1/runs?pipeline=many&limit=20&cursor={odd['next']}").json()
    assert [r["id"] for r in odd["runs"] + after["runs"]] == [
        r for r in expected if int(r[3:]) % 2
    ][:40]
    unknown = client.get("/api/v1/runs?cursor=nosuchrun")
    assert unknown.status_code == 422
    assert "cursor" in unknown.json()["error"]


# -- pipelines, trigger -----------------------------------------------------------------------


def test_pipelines_with_schedule_runs_and_success_rate(records: Records) -> None:
    listed = {p["name"]: p for p in records.client.get("/api/v1/pipelines").json()}
    assert {"basic", "one_branch_fails", "adhoc", "tracked"} <= set(listed)
    basic = listed["basic"]
    assert basic["registered"] is False
    assert basic["run_counts"] == {"succeeded": 1}
    assert basic["success_rate"] == 1.0
    assert [r["id"] for r in basic["last_runs"]] == [records.runs["basic"].id]
    assert listed["one_branch_fails"]["success_rate"] == 0.0
    adhoc = listed["adhoc"]
    assert adhoc["registered"] is True
    assert adhoc["source"].endswith("adhoc_flows.py:adhoc")
    assert adhoc["schedule"] is None
    assert adhoc["success_rate"] is None  # its runs are queued, not finished
    assert adhoc["run_counts"].get("queued", 0) >= 1


def test_pipeline_with_its_params_for_a_form(records: Records) -> None:
    adhoc = records.client.get("/api/v1/pipelines/adhoc").json()
    assert adhoc["params"] == [
        {"name": "n", "type": "int", "default": None, "required": True},
        {"name": "label", "type": "str", "default": "x", "required": False},
    ]
    assert adhoc["schedule_params"] == {}
    assert records.client.get("/api/v1/pipelines/basic").json()["params"] == []
    missing = records.client.get("/api/v1/pipelines/nosuch")
    assert missing.status_code == 404
    assert "nosuch" in missing.json()["error"]


def test_trigger_queues_a_run_with_params(records: Records) -> None:
    answer = records.client.post("/api/v1/pipelines/adhoc/runs", json={"params": {"n": "7"}})
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["status"] == "queued" and queued["trigger"] == "manual"
    assert answer.headers["Location"] == f"/api/v1/runs/{queued['id']}"
    run = dw.get_run(queued["id"], settings=records.settings)
    assert run.params == {"n": 7, "label": "x"}
    assert run.source is not None and run.source.endswith("adhoc_flows.py:adhoc")


def test_trigger_errors(records: Records) -> None:
    client = records.client
    bad = client.post("/api/v1/pipelines/adhoc/runs", json={"params": {"nn": 1}})
    assert bad.status_code == 422
    assert "Did you mean 'n'" in bad.json()["error"]
    assert client.post("/api/v1/pipelines/adhoc/runs", json={"params": {}}).status_code == 422
    assert (
        client.post("/api/v1/pipelines/adhoc/runs", json={"params": {"n": "x"}}).status_code == 422
    )
    assert client.post("/api/v1/pipelines/adhoc/runs", json={"params": [1]}).status_code == 422
    assert client.post("/api/v1/pipelines/adhoc/runs", content=b"{").status_code == 422
    unregistered = client.post("/api/v1/pipelines/basic/runs", json={"params": {}})
    assert unregistered.status_code == 404
    assert "registered" in unregistered.json()["error"]


def test_trigger_never_loads_a_file_named_in_the_url(records: Records, tmp_path: Path) -> None:
    marker = tmp_path / "loaded"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').close()\n")
    for name in (str(evil), f"{evil}:x", "..%2F..%2Fevil.py"):
        answer = records.client.post(f"/api/v1/pipelines/{name}/runs", json={"params": {}})
        assert answer.status_code == 404, name
    assert not marker.exists()


def test_trigger_imports_no_pipeline_code(records: Records, tmp_path: Path) -> None:
    """Params are checked against the registration: the server never runs user code."""
    marker = tmp_path / "imported"
    flows_file = tmp_path / "side_effect_flows.py"
    flows_file.write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "import datetime\n"
        "import dagwell as dw\n\n"
        "@dw.task\n"
        "def echo(day: datetime.date) -> str:\n"
        "    return day.isoformat()\n\n"
        "@dw.pipeline\n"
        "def side(day: datetime.date = datetime.date(2026, 1, 1), times: int = 1):\n"
        "    return echo(day)\n"
    )
    dw.trigger(f"{flows_file}:side", settings=records.settings)  # registers it
    marker.unlink()
    sys.modules.pop("side_effect_flows", None)
    answer = records.client.post(
        "/api/v1/pipelines/side/runs", json={"params": {"day": "2026-02-03", "times": "2"}}
    )
    assert answer.status_code == 202, answer.text
    assert not marker.exists()
    queued = dw.get_run(answer.json()["id"], settings=records.settings)
    assert queued.params == {"day": "2026-02-03", "times": 2}
    bad = records.client.post("/api/v1/pipelines/side/runs", json={"params": {"times": "two"}})
    assert bad.status_code == 422
    assert "times" in bad.json()["error"]


# -- resume, cancel ---------------------------------------------------------------------------


def test_resume_queues_a_run_the_scheduler_executes(records: Records, tmp_path: Path) -> None:
    settings = records.settings
    flag = tmp_path / "fixed"
    failed = dw.run(
        flows.mapped_until_fixed, {"flag": str(flag)}, executor="inline", settings=settings
    )
    assert failed.status == "failed"
    flag.touch()
    answer = records.client.post(f"/api/v1/runs/{failed.id}/resume")
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["trigger"] == "resume" and queued["parent_run_id"] == failed.id
    assert queued["status"] == "queued"
    again = records.client.post(f"/api/v1/runs/{failed.id}/resume")
    assert again.status_code == 409
    assert queued["id"] in again.json()["error"]
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        assert claim(tx, queued["id"], runner="test:1", at=datetime.now(UTC))
    assert (
        execute_claimed(queued["id"], executor="inline", workers=1, settings=settings)
        == "succeeded"
    )
    resumed = dw.get_run(queued["id"], settings=settings)
    assert resumed.status == "succeeded"
    assert resumed.tasks["numbers"].status == "reused"
    assert resumed.result() == [10, 20, 30, 40]


def test_resume_refusals(records: Records) -> None:
    succeeded = records.client.post(f"/api/v1/runs/{records.runs['basic'].id}/resume")
    assert succeeded.status_code == 409
    assert "succeeded" in succeeded.json()["error"]
    queued = records.client.post(f"/api/v1/runs/{records.runs['queued'].id}/resume")
    assert queued.status_code == 409
    assert records.client.post("/api/v1/runs/ffffffffffff/resume").status_code == 404


def test_cancel_a_queued_run(records: Records) -> None:
    pytest.importorskip("dagwell.execution.cancel", reason="cancelling is built separately")
    queued = dw.trigger("adhoc", {"n": 2}, settings=records.settings)
    answer = records.client.post(f"/api/v1/runs/{queued.id}/cancel")
    assert answer.status_code == 202, answer.text
    assert answer.json()["id"] == queued.id
    run = dw.get_run(queued.id, settings=records.settings)
    assert run.status == "cancelled"
    assert run.cancel_requested_by == "anonymous"
    ended = records.client.post(f"/api/v1/runs/{records.runs['basic'].id}/cancel")
    assert ended.status_code in (409, 422)
    assert records.client.post("/api/v1/runs/ffffffffffff/cancel").status_code == 404


def test_alerts_listing(records: Records) -> None:
    answer = records.client.get(f"/api/v1/alerts?run_id={records.runs['failed'].id}")
    assert answer.status_code == 200
    assert answer.json() == []
    assert records.client.get("/api/v1/alerts?kind=boom").status_code == 422


def test_actions_are_audited(records: Records) -> None:
    from dagwell.tracking.audit import list_audit

    client, settings = records.client, records.settings
    done = client.post("/api/v1/pipelines/adhoc/runs", json={"params": {"n": 3}}).json()
    client.post("/api/v1/pipelines/adhoc/runs", json={"params": {"n": "three"}})
    client.post(f"/api/v1/runs/{records.runs['basic'].id}/resume")
    triggers = list_audit(action="trigger", limit=2, settings=settings)
    assert [(e.actor, e.target, e.outcome, e.source) for e in triggers] == [
        ("anonymous", "adhoc", "failed", "api"),
        ("anonymous", "adhoc", "ok", "api"),
    ]
    assert "three" in triggers[0].detail["error"]
    assert triggers[1].detail["run_id"] == done["id"]
    (resume,) = list_audit(action="resume", limit=1, settings=settings)
    assert resume.target == records.runs["basic"].id and resume.outcome == "failed"

"""Artifact downloads and previews, models, datasets and lineage, and ``/metrics``, through
the JSON API over a real SQLite store with real runs.

Downloads read only inside the artifact store (path traversal in any spelling is refused)
and previews never unpickle anything.
"""

from __future__ import annotations

import asyncio
import io
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import numpy
import pipelines_for_tests as flows
import pytest
from web_helpers import Records, make_records

import dagwell as dw
from dagwell.core.values import StoredValue
from dagwell.storage.metadata.tables import outputs
from dagwell.storage.shared import artifact_store, metadata_store


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Records]:
    made = make_records(tmp_path_factory.mktemp("web"))
    with made.client:
        yield made


def output_of(records: Records, run: str, node: str, name: str = "return") -> StoredValue:
    return records.runs[run].tasks[node].outputs[name]


# -- downloads --------------------------------------------------------------------------------


def test_download_an_array_artifact(records: Records) -> None:
    stored = output_of(records, "artifacts", "make_array")
    answer = records.client.get(f"/api/v1/artifacts/{stored.hash}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-npy"
    assert answer.headers["content-disposition"] == f'attachment; filename="{stored.hash[:16]}.npy"'
    assert answer.headers["x-content-type-options"] == "nosniff"
    array = numpy.load(io.BytesIO(answer.content), allow_pickle=False)
    assert array.shape == (3, 2)
    with artifact_store(records.settings.artifacts_url).open(stored.hash) as f:
        assert answer.content == f.read()


def test_download_a_pickle_is_bytes_only(records: Records) -> None:
    stored = output_of(records, "artifacts", "fit_model")
    answer = records.client.get(f"/api/v1/artifacts/{stored.hash}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].endswith('.pkl"')


def test_download_unknown_or_malformed_hash(records: Records) -> None:
    client = records.client
    absent = client.get(f"/api/v1/artifacts/{'a' * 64}")
    assert absent.status_code == 404
    for bad in ("abc", "A" * 64, "g" * 64, "a" * 65, "a" * 63 + "%00"):
        answer = client.get(f"/api/v1/artifacts/{bad}")
        assert answer.status_code == 400, bad
        assert "hash" in answer.json()["error"]
    inline = output_of(records, "basic", "numbers")  # held in the database, not the store
    assert client.get(f"/api/v1/artifacts/{inline.hash}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/artifacts/..%2F..%2F..%2Fsecret.txt",
        "/api/v1/artifacts/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/api/v1/artifacts/%252e%252e%252fsecret.txt",
        "/api/v1/artifacts/..%5c..%5csecret.txt",
        "/api/v1/artifacts/%2e%2e",
        "/api/v1/artifacts/..",
        "/api/v1/artifacts/objects%2Fab",
        "/api/v1/artifacts/../../../secret.txt",
        "/api/v1/artifacts/%2Fetc%2Fpasswd",
        "/api/v1/artifacts/" + "a" * 64 + "%2F..%2F..%2Fsecret.txt",
        "/api/v1/artifacts/" + "a" * 64 + "/../../secret.txt",
    ],
)
def test_path_traversal_is_refused(records: Records, path: str) -> None:
    secret = records.folder / "secret.txt"
    secret.write_text("TOP SECRET")
    answer = records.client.get(path)
    assert answer.status_code in (400, 404), path
    assert "TOP SECRET" not in answer.text
    assert "root:" not in answer.text


def asgi_get(app: object, path: str, raw: bytes) -> tuple[int, bytes]:
    """GET ``raw`` as sent on the wire (``path`` decoded, as a server passes it), with no
    client in between to normalize ``..`` away."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize(
    "raw",
    [
        b"/api/v1/artifacts/../../secret.txt",
        b"/api/v1/artifacts/..%2f..%2fsecret.txt",
        b"/api/v1/artifacts/%2e%2e%2f%2e%2e%2fsecret.txt",
        b"/api/v1/artifacts/..",
        b"/api/v1/runs/x/logs/..%2f..%2fsecret.txt",
    ],
)
def test_path_traversal_sent_raw(records: Records, raw: bytes) -> None:
    secret = records.folder / "secret.txt"
    secret.write_text("TOP SECRET")
    status, body = asgi_get(records.client.app, unquote(raw.decode()), raw)
    assert status in (400, 404), raw
    assert b"TOP SECRET" not in body


# -- previews ---------------------------------------------------------------------------------


def preview(records: Records, run: str, node: str, name: str = "return") -> dict:
    run_id = records.runs[run].id
    answer = records.client.get(f"/api/v1/runs/{run_id}/outputs/{node}/{name}/preview")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_preview_of_a_dataframe_is_its_head(records: Records) -> None:
    shown = preview(records, "artifacts", "make_frame")
    assert shown["kind"] == "table"
    assert shown["serializer"] == "parquet"
    assert shown["columns"] == ["x", "y"]
    assert shown["dtypes"] == {"x": "int64", "y": "double"}
    assert shown["shape"] == [6, 2]
    assert shown["rows"][:2] == [[0, 0.0], [1, 0.5]]
    assert shown["truncated"] is False


def test_preview_of_an_array_is_shape_dtype_and_stats(records: Records) -> None:
    shown = preview(records, "artifacts", "make_array")
    assert shown["kind"] == "array"
    assert shown["shape"] == [3, 2]
    assert shown["dtype"] == "float64"
    assert shown["stats"] == {
        "min": 0.0,
        "max": 5.0,
        "mean": 2.5,
        "std": pytest.approx(1.7078, abs=1e-4),
        "nan": 0.0,
    }
    assert shown["head"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_preview_of_small_values(records: Records) -> None:
    evens = preview(records, "basic", "split", "evens")
    assert evens == {
        "kind": "value",
        "serializer": "json",
        "type": "list",
        "size": evens["size"],
        "hash": None,
        "value": [2, 4],
    }
    assert preview(records, "model", "summarize")["value"] == {"rows": 3}


def test_preview_of_a_pickle_is_metadata_only(
    records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a preview unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    shown = preview(records, "artifacts", "fit_model")
    assert shown["kind"] == "metadata"
    assert shown["serializer"] == "pickle"
    assert shown["type"].endswith("LinearRegression")
    assert "not previewed" in shown["reason"]
    assert "value" not in shown and "rows" not in shown


def test_preview_never_runs_a_planted_pickle(records: Records, tmp_path: Path) -> None:
    """An output row pointing at a pickle that would run code: described, not loaded."""
    marker = tmp_path / "pwned"

    class Planted:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (open, (str(marker), "w"))

    store = artifact_store(records.settings.artifacts_url)
    stored = store.put(Planted())
    assert stored.serializer == "pickle"
    run = dw.run(flows.noisy, executor="inline", settings=records.settings)
    with metadata_store(records.settings.db_url).transaction() as tx:
        tx.execute(
            outputs.update()
            .where(outputs.c.run_id == run.id, outputs.c.node == "chatty")
            .values(value=stored.to_json())
        )
    answer = records.client.get(f"/api/v1/runs/{run.id}/outputs/chatty/return/preview")
    assert answer.status_code == 200
    assert answer.json()["kind"] == "metadata"
    assert not marker.exists()


def test_preview_errors(records: Records) -> None:
    run_id = records.runs["basic"].id
    client = records.client
    assert client.get(f"/api/v1/runs/{run_id}/outputs/nope/return/preview").status_code == 404
    missing = client.get(f"/api/v1/runs/{run_id}/outputs/split/nope/preview")
    assert missing.status_code == 404
    assert "evens, odds" in missing.json()["error"]
    assert client.get("/api/v1/runs/ffffffffffff/outputs/split/evens/preview").status_code == 404


# -- models, datasets, lineage ----------------------------------------------------------------


def test_models_and_versions(records: Records) -> None:
    listed = records.client.get("/api/v1/models").json()
    assert [m["name"] for m in listed] == ["row_model"]
    assert listed[0]["latest_version"] == 1
    model = records.client.get("/api/v1/models/row_model").json()
    assert model["version_count"] == 1
    (version,) = model["versions"]
    assert version["run_id"] == records.runs["model"].id
    assert version["node"] == "summarize"
    assert records.client.get("/api/v1/models/nosuch").status_code == 404


def test_set_an_alias(records: Records) -> None:
    client = records.client
    moved = client.put("/api/v1/models/row_model/aliases/production", json={"version": 1})
    assert moved.status_code == 200, moved.text
    assert moved.json()["aliases"] == ["production"]
    assert client.get("/api/v1/models/row_model").json()["aliases"] == {"production": 1}
    assert (
        client.put("/api/v1/models/row_model/aliases/staging", json={"version": 9}).status_code
        == 404
    )
    assert (
        client.put("/api/v1/models/nosuch/aliases/staging", json={"version": 1}).status_code == 404
    )
    assert (
        client.put("/api/v1/models/row_model/aliases/latest", json={"version": 1}).status_code
        == 422
    )
    assert (
        client.put("/api/v1/models/row_model/aliases/staging", json={"version": 0}).status_code
        == 422
    )
    assert client.put("/api/v1/models/row_model/aliases/staging", json={}).status_code == 422


def test_datasets(records: Records) -> None:
    listed = records.client.get("/api/v1/datasets").json()
    (rows,) = [d for d in listed if d["uri"].endswith("rows.csv")]
    assert rows["files"] == 1
    assert rows["runs"] == [{"run": records.runs["model"].id, "node": "count_rows"}]
    only = records.client.get("/api/v1/datasets", params={"uri": str(records.folder / "rows.csv")})
    assert [d["version"] for d in only.json()] == [rows["version"]]


def test_lineage_from_model_to_dataset_and_back(records: Records) -> None:
    tree = records.client.get("/api/v1/lineage", params={"ref": "model:row_model@1"}).json()
    kinds: list[str] = []

    def walk(node: dict) -> None:
        kinds.append(node["kind"])
        for child in node["children"]:
            walk(child)

    walk(tree)
    assert kinds[0] == "model" and "dataset" in kinds and "task" in kinds
    down = records.client.get(
        "/api/v1/lineage",
        params={"ref": str(records.folder / "rows.csv"), "direction": "downstream"},
    ).json()
    kinds.clear()
    walk(down)
    assert kinds[0] == "dataset" and "model" in kinds


def test_lineage_errors(records: Records) -> None:
    client = records.client
    assert client.get("/api/v1/lineage").status_code == 422
    assert client.get("/api/v1/lineage", params={"ref": "model:nosuch@1"}).status_code == 404
    sideways = client.get(
        "/api/v1/lineage", params={"ref": "model:row_model@1", "direction": "sideways"}
    )
    assert sideways.status_code == 422


# -- /metrics ---------------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)*)\} (-?[0-9.e+-]+|NaN)$')


def test_metrics_in_the_prometheus_text_format(records: Records) -> None:
    answer = records.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = answer.text
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        samples[f"{match[1]}{{{match[2]}}}"] = float(match[3])
    assert samples['dagwell_runs{pipeline="basic",state="succeeded"}'] == 1
    assert samples['dagwell_runs{pipeline="adhoc",state="queued"}'] >= 1
    assert samples['dagwell_task_runs{state="upstream_failed"}'] >= 1
    assert samples['dagwell_run_duration_seconds_count{pipeline="basic",state="succeeded"}'] == 1
    total = samples['dagwell_run_duration_seconds_sum{pipeline="basic",state="succeeded"}']
    assert total == pytest.approx(records.runs["basic"].duration, abs=0.01)
    assert "# TYPE dagwell_run_duration_seconds summary" in text
    for run in records.runs.values():
        assert run.id not in text  # no run ids in labels


def test_alias_changes_are_audited(records: Records) -> None:
    from dagwell.tracking.audit import list_audit

    records.client.put("/api/v1/models/row_model/aliases/canary", json={"version": 1})
    (entry,) = list_audit(action="set_alias", limit=1, settings=records.settings)
    assert (entry.target, entry.outcome, dict(entry.detail)) == (
        "row_model:canary",
        "ok",
        {"version": 1},
    )

"""Artifacts on an S3-compatible server (moto on loopback): outputs, resume, caching, code
and dataset snapshots, models and attempt logs, and objects that never show half-written."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pipelines_for_s3 as s3p
import pytest
from blake3 import blake3

import dagwell as dw
from dagwell.core.values import DEFAULT_OUTPUT
from dagwell.errors import StorageError
from dagwell.execution.attempt import log_name, read_log
from dagwell.storage.artifacts import ArtifactStore
from dagwell.storage.shared import artifact_store
from dagwell.tracking.datasets import restore
from s3_server import S3Location


@pytest.fixture
def s3_settings(tmp_path: Path, s3_url: S3Location) -> dw.Settings:
    """Settings with the database and logs in tmp_path and the artifacts in a fresh bucket."""
    env = {"DAGWELL_ARTIFACTS": s3_url.url, "DAGWELL_S3_ENDPOINT": s3_url.endpoint}
    return dw.Settings.from_env(env, home=tmp_path / "home")


def object_keys(s3_url: S3Location) -> dict[str, int]:
    """Every object under the store's ``objects/``, by key, with its size (a fresh listing)."""
    fs = s3_url.server.filesystem()
    found = fs.find(f"{s3_url.bucket}/artifacts/objects", detail=True)
    return {key: int(info["size"]) for key, info in found.items()}


def object_key(s3_url: S3Location, digest: str) -> str:
    return f"{s3_url.bucket}/artifacts/objects/{digest[:2]}/{digest[2:]}"


def test_outputs_of_every_kind_round_trip_through_s3_from_process_workers(
    s3_settings: dw.Settings, s3_url: S3Location
) -> None:
    run = dw.run(s3p.outputs, {"n": 10}, executor="process", workers=2, settings=s3_settings)

    assert run.status == "succeeded", run.tasks
    assert run.output("make", "config") == {"n": 10, "where": "s3"}
    assert np.array_equal(run.output("make", "small"), np.arange(10))
    big = run.output("make", "big")
    assert isinstance(big, np.ndarray) and big.flags.writeable
    assert np.array_equal(big, np.arange(s3p.BIG, dtype=np.float64))
    frame = run.output("make", "frame")
    assert isinstance(frame, pd.DataFrame) and list(frame["x"]) == list(range(10))
    model = run.output("fit")
    assert isinstance(model, s3p.Centroids) and model.predict(0.9) == 1
    expected_big = float(np.arange(s3p.BIG, dtype=np.float64).sum())
    assert run.result() == {"n": 10, "small": 45, "big": expected_big, "k": 2}

    # Everything not inline is an object in the bucket, whole, and nothing went to local disk.
    keys = object_keys(s3_url)
    for node, name in [("make", "small"), ("make", "big"), ("make", "frame"), ("fit", None)]:
        stored = run.tasks[node].outputs[name or DEFAULT_OUTPUT]
        assert keys[object_key(s3_url, stored.hash)] == stored.size
    assert not (s3_settings.home / "artifacts").exists()


def test_resume_reuses_outputs_stored_in_s3(
    tmp_path: Path, s3_settings: dw.Settings, s3_url: S3Location
) -> None:
    flag, counter = tmp_path / "fixed", tmp_path / "calls"
    params = {"flag": str(flag), "counter": str(counter)}
    failed = dw.run(s3p.until_fixed, params, executor="inline", settings=s3_settings)
    assert failed.status == "failed" and failed.tasks["heavy"].status == "succeeded"

    flag.touch()
    resumed = dw.resume(
        failed.id, pipeline=s3p.until_fixed, executor="process", settings=s3_settings
    )

    assert resumed.status == "succeeded"
    assert resumed.tasks["heavy"].status == "reused" and counter.read_text() == "1"
    assert resumed.result() == float(np.arange(s3p.BIG, dtype=np.float64).sum())


def test_a_cache_hit_loads_the_earlier_output_from_s3(
    tmp_path: Path, s3_settings: dw.Settings
) -> None:
    counter = tmp_path / "calls"
    params = {"seed": 7, "counter": str(counter)}
    first = dw.run(s3p.cached, params, executor="process", workers=1, settings=s3_settings)
    second = dw.run(s3p.cached, params, executor="process", workers=1, settings=s3_settings)

    assert first.tasks["cached_big"].status == "succeeded"
    assert second.tasks["cached_big"].status == "cached" and counter.read_text() == "1"
    assert second.result() == 7.0
    assert np.array_equal(second.output("cached_big"), np.full(s3p.BIG, 7.0))


def test_the_code_snapshot_is_an_object_in_s3_and_readable(
    s3_settings: dw.Settings, s3_url: S3Location
) -> None:
    run = dw.run(s3p.cached, {"counter": os.devnull}, executor="inline", settings=s3_settings)

    assert run.code_hash is not None
    assert object_key(s3_url, run.code_hash) in object_keys(s3_url)
    code = run.code
    assert code is not None and code.entry is not None
    assert code.entry.endswith("pipelines_for_s3.py")
    assert "def cached_big" in code.files[code.entry]


def test_a_dataset_snapshot_goes_to_s3_and_restores(
    tmp_path: Path, s3_settings: dw.Settings, s3_url: S3Location
) -> None:
    data = tmp_path / "data"
    (data / "part").mkdir(parents=True)
    (data / "a.csv").write_text("x\n1\n")
    (data / "part" / "b.bin").write_bytes(os.urandom(100_000))
    run = dw.run(s3p.snapshotted, {"path": str(data)}, executor="inline", settings=s3_settings)
    assert run.result() == 2

    (version,) = dw.list_datasets(settings=s3_settings)
    assert version.snapshot_hash is not None
    assert object_key(s3_url, version.snapshot_hash) in object_keys(s3_url)
    store = artifact_store(s3_settings.artifacts_url, s3_settings)
    restored = Path(restore(version.snapshot_hash, store, tmp_path / "restored"))

    assert (restored / "a.csv").read_text() == "x\n1\n"
    assert (restored / "part" / "b.bin").read_bytes() == (data / "part" / "b.bin").read_bytes()


def test_a_logged_model_is_stored_in_s3_and_loads_back(
    s3_settings: dw.Settings, s3_url: S3Location
) -> None:
    run = dw.run(s3p.registered, {"c": 3.5}, executor="process", workers=1, settings=s3_settings)
    assert run.status == "succeeded"

    version = dw.models.get("s3-centroids", settings=s3_settings)
    assert version.run_id == run.id
    assert object_key(s3_url, version.artifact_hash) in object_keys(s3_url)
    model = dw.models.load("s3-centroids", settings=s3_settings)
    assert isinstance(model, s3p.Centroids) and model.centers == [0.0, 3.5]


def test_attempt_logs_are_kept_in_s3_and_read_back_without_the_local_files(
    tmp_path: Path, s3_settings: dw.Settings, s3_url: S3Location
) -> None:
    params = {"flag": str(tmp_path / "never"), "counter": str(tmp_path / "calls")}
    run = dw.run(s3p.until_fixed, params, executor="process", workers=1, settings=s3_settings)
    assert run.status == "failed"
    attempts = run.tasks["checked"].attempts
    assert [a.number for a in attempts] == [1, 2]

    fs = s3_url.server.filesystem()
    for a in attempts:
        assert fs.exists(f"{s3_url.bucket}/artifacts/{log_name(run.id, 'checked', a.number)}")
    # The worker's local copies gone (as on another machine), the store's copies remain.
    shutil.rmtree(s3_settings.logs_dir)
    for a in attempts:
        text = read_log(run.id, "checked", a, s3_settings)
        assert text is not None
        assert f"checking attempt {a.number}: {s3p.BIG} items" in text
        assert f"a logged line from attempt {a.number}" in text
        assert "ValueError: the flag file is not there yet" in text
    assert read_log(run.id, "heavy", run.tasks["heavy"].attempts[0], s3_settings) is None

    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env.update(s3_url.env, DAGWELL_HOME=str(s3_settings.home))
    shown = subprocess.run(
        [sys.executable, "-m", "dagwell.interfaces.cli.main", "logs", run.id],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "checking attempt 1:" in shown.stdout and "checking attempt 2:" in shown.stdout
    assert shown.stdout.count("ValueError: the flag file is not there yet") == 2
    assert "== heavy · attempt 1 · succeeded ==\n(no output captured)" in shown.stdout


def test_a_reader_never_sees_a_partial_object(s3_url: S3Location) -> None:
    """While a multipart upload is in flight, listings show only whole, correct objects."""
    store = ArtifactStore(s3_url.url)
    store.put(np.arange(1000))  # something to list from the start
    value = np.frombuffer(os.urandom(80 * 1024 * 1024), dtype=np.uint8)  # three parts
    done = threading.Event()
    written: list[Any] = []

    def write() -> None:
        try:
            written.append(store.put(value))
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    fs = s3_url.server.filesystem()
    checked: dict[str, int] = {}
    listings_during_upload = 0
    while not done.is_set():
        listing = object_keys(s3_url)
        listings_during_upload += not done.is_set()
        for key, size in listing.items():
            if key not in checked:
                data = fs.cat_file(key)
                assert len(data) == size
                digest = blake3(data, max_threads=blake3.AUTO).hexdigest()
                assert key.endswith(f"{digest[:2]}/{digest[2:]}"), "an object not whole"
                checked[key] = size
        time.sleep(0.02)
    writer.join()

    (stored,) = written
    assert listings_during_upload >= 2
    assert object_keys(s3_url)[object_key(s3_url, stored.hash)] == stored.size > value.nbytes
    assert np.array_equal(store.get(stored), value)


def test_a_failed_upload_is_aborted_and_leaves_no_object(s3_url: S3Location) -> None:
    store = ArtifactStore(s3_url.url)
    target = f"{s3_url.bucket}/artifacts/objects/ab/{'c' * 62}"
    first_part = b"x" * (40 * 1024 * 1024)  # past one part: the multipart upload begins

    with pytest.raises(TypeError):
        store._upload(target, [first_part, object()])  # type: ignore[list-item]

    fs = s3_url.server.filesystem()
    assert not fs.exists(target)
    assert fs.list_multipart_uploads(s3_url.bucket) == []


def test_equal_content_is_uploaded_once(s3_url: S3Location) -> None:
    store = ArtifactStore(s3_url.url)
    first = store.put(np.arange(100_000))
    modified = s3_url.server.filesystem().info(object_key(s3_url, first.hash))["LastModified"]
    time.sleep(1.1)  # S3 times have one-second resolution
    second = store.put(np.arange(100_000))

    assert second.hash == first.hash
    info = s3_url.server.filesystem().info(object_key(s3_url, first.hash))
    assert info["LastModified"] == modified


def test_a_missing_bucket_is_a_storage_error_naming_the_store(s3_url: S3Location) -> None:
    store = ArtifactStore(f"s3://dagwell-test-missing-{os.getpid()}/artifacts")
    with pytest.raises(StorageError, match="dagwell-test-missing"):
        store.put(np.arange(1000))


def test_an_unreachable_server_is_a_storage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unreachable")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unreachable-secret")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore would retry for seconds
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = ArtifactStore(
        "s3://dagwell-test-unreachable/artifacts",
        config={"DAGWELL_S3_ENDPOINT": f"http://127.0.0.1:{port}"},
    )
    with pytest.raises(StorageError, match="cannot write an artifact to s3://") as caught:
        store.put(np.arange(1000))
    assert caught.value.__cause__ is not None

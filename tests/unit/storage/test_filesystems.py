"""Tests for dagwell.storage.filesystems: settings and environment to fsspec options."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dagwell.errors import StorageError
from dagwell.settings import Settings
from dagwell.storage.filesystems import (
    filesystem_for,
    is_object_store,
    is_s3,
    s3_endpoint,
    storage_options,
)

ENDPOINT = "http://127.0.0.1:9000"


def test_settings_read_the_s3_endpoint_from_the_environment(tmp_path: Path) -> None:
    found = Settings.from_env({"DAGWELL_S3_ENDPOINT": ENDPOINT}, home=tmp_path)
    assert found.s3_endpoint == ENDPOINT
    assert Settings.from_env({}, home=tmp_path).s3_endpoint is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [("s3://bucket/prefix", True), ("s3a://bucket", True), ("/data", False), ("gs://b", False)],
)
def test_is_s3(url: str, expected: bool) -> None:
    assert is_s3(url) is expected


def test_the_endpoint_comes_from_settings_or_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"DAGWELL_S3_ENDPOINT": ENDPOINT}, home=tmp_path)
    assert s3_endpoint("s3://b/p", settings) == ENDPOINT
    assert s3_endpoint("s3://b/p", {"DAGWELL_S3_ENDPOINT": ENDPOINT}) == ENDPOINT
    assert s3_endpoint("s3://b/p", {}) is None
    assert s3_endpoint("/data/artifacts", {"DAGWELL_S3_ENDPOINT": ENDPOINT}) is None


def test_storage_options_pass_the_endpoint_to_the_s3_client() -> None:
    options = storage_options("s3://b/p", {"DAGWELL_S3_ENDPOINT": ENDPOINT})
    assert options == {"client_kwargs": {"endpoint_url": ENDPOINT}}
    assert storage_options("s3://b/p", {}) == {}
    assert storage_options("memory://x", {"DAGWELL_S3_ENDPOINT": ENDPOINT}) == {}


def test_aws_region_is_passed_on_only_where_botocore_would_miss_it() -> None:
    env = {"AWS_REGION": "eu-west-1"}
    assert storage_options("s3://b", env) == {"client_kwargs": {"region_name": "eu-west-1"}}
    assert storage_options("s3://b", {**env, "AWS_DEFAULT_REGION": "us-east-2"}) == {}


def test_an_endpoint_that_is_not_an_http_url_is_refused() -> None:
    with pytest.raises(StorageError, match="DAGWELL_S3_ENDPOINT must be an http"):
        storage_options("s3://b", {"DAGWELL_S3_ENDPOINT": "127.0.0.1:9000"})


def test_s3_gets_an_s3fs_filesystem_on_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials in the environment end botocore's search there (it is made on opening).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-test-secret")
    env = {"DAGWELL_S3_ENDPOINT": ENDPOINT, "AWS_DEFAULT_REGION": "us-east-1"}
    fs, root = filesystem_for("s3://bucket/some/prefix", env)
    assert root == "bucket/some/prefix"
    assert fs.client_kwargs["endpoint_url"] == ENDPOINT
    assert is_object_store(fs)
    assert not is_object_store(filesystem_for("memory://x")[0])


def test_without_s3fs_the_error_names_the_extra_to_install() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["s3fs"] = None  # as if it were not installed
        from dagwell.errors import StorageError
        from dagwell.storage.artifacts import ArtifactStore
        try:
            ArtifactStore("s3://bucket/prefix")
        except StorageError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "pip install 'dagwell[s3]'" in done.stdout
    assert "DAGWELL_ARTIFACTS" in done.stdout

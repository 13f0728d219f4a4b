"""A throwaway S3-compatible server for the tests, and a fresh bucket in it for each test.

Registered as a pytest plugin from ``tests/conftest.py``. The session fixture ``s3_server``
starts moto's server (``python -m moto.server``, from ``moto[server]`` in the ``dev``
extra) once per test session (one per pytest-xdist worker), listening on 127.0.0.1 only,
on a free port. moto takes any credentials: the tests use dummy ones. Set
``DAGWELL_TEST_S3_ENDPOINT`` (e.g. ``http://127.0.0.1:9000`` for a MinIO) to use a running
server instead, with its credentials in the usual ``AWS_*`` variables.

The function fixture ``s3_url`` creates a bucket with a unique name for one test and gives
an :class:`S3Location` (``s3://dagwell-test-<hex>/artifacts``, the endpoint, and the
environment a process needs to reach it). For the test's own process it sets those
variables with ``monkeypatch``, so that worker processes inherit them; it empties and
deletes the bucket afterwards. Tests that use either fixture get the ``s3`` marker, so
``pytest -m "not s3"`` leaves them out. Without moto (or a given server), the fixtures fail
with how to install it: they never skip silently.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ENDPOINT_VARIABLE = "DAGWELL_TEST_S3_ENDPOINT"
"""The endpoint of a running S3-compatible server to use instead of starting moto."""

INSTALL_HINT = (
    "moto's S3 server is not installed: pip install 'moto[server]' (it is in dagwell's dev "
    f"extra: pip install -e '.[dev]'), or set {ENDPOINT_VARIABLE}=http://HOST:PORT to use a "
    "running S3-compatible server (credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), "
    'or leave these tests out with -m "not s3".'
)

# What moto accepts; a given server takes the caller's own AWS_* variables instead.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "dagwell-test",
    "AWS_SECRET_ACCESS_KEY": "dagwell-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables that would send botocore elsewhere than the test server, or to a real account.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
)

_FIXTURES = {"s3_server", "s3_url"}


@dataclass(frozen=True)
class S3Server:
    """An S3-compatible server the tests may create and delete buckets in."""

    endpoint: str
    """Its ``http://`` URL, as ``DAGWELL_S3_ENDPOINT`` takes it."""

    credentials: Mapping[str, str] = field(default_factory=dict)
    """The ``AWS_*`` variables that reach it (empty: the environment's own)."""

    def filesystem(self) -> Any:
        """An s3fs filesystem on this server, with its credentials, sharing no cache."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.credentials.get("AWS_ACCESS_KEY_ID"),
            secret=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
            client_kwargs={"endpoint_url": self.endpoint},
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def create_bucket(self) -> str:
        """Create an empty bucket with a unique name; return that name."""
        name = f"dagwell-test-{uuid.uuid4().hex[:16]}"
        self.filesystem().mkdir(name)
        return name

    def delete_bucket(self, name: str) -> None:
        """Delete ``name`` and everything in it."""
        fs = self.filesystem()
        if fs.exists(name):
            fs.rm(name, recursive=True)  # the objects, then the bucket itself


@dataclass(frozen=True)
class S3Location:
    """A fresh bucket for one test: where artifacts go, and how a process reaches it."""

    url: str
    """``s3://<bucket>/artifacts``, for ``DAGWELL_ARTIFACTS``."""

    bucket: str
    server: S3Server

    @property
    def endpoint(self) -> str:
        """The server's ``http://`` URL, for ``DAGWELL_S3_ENDPOINT``."""
        return self.server.endpoint

    @property
    def env(self) -> dict[str, str]:
        """``DAGWELL_ARTIFACTS``, ``DAGWELL_S3_ENDPOINT`` and the credentials, for a child."""
        return {
            **self.server.credentials,
            "DAGWELL_ARTIFACTS": self.url,
            "DAGWELL_S3_ENDPOINT": self.endpoint,
        }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs an S3-compatible server ``s3``, so it can be deselected."""
    for item in items:
        if _FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.s3)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3-compatible server for this session: ``DAGWELL_TEST_S3_ENDPOINT``, else moto."""
    given = os.environ.get(ENDPOINT_VARIABLE)
    if given:
        yield S3Server(given)
        return
    server = _MotoServer.start()
    try:
        yield S3Server(f"http://127.0.0.1:{server.port}", dict(DUMMY_CREDENTIALS))
    finally:
        server.stop()


@pytest.fixture
def s3_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Location]:
    """A new, empty bucket for this test, its variables set here; deleted after it."""
    if s3_server.credentials:
        for name in _CLEARED:
            monkeypatch.delenv(name, raising=False)
    bucket = s3_server.create_bucket()
    location = S3Location(f"s3://{bucket}/artifacts", bucket, s3_server)
    for name, value in location.env.items():
        if name != "DAGWELL_ARTIFACTS":  # settings say where; these say how to get there
            monkeypatch.setenv(name, value)
    try:
        yield location
    finally:
        s3_server.delete_bucket(location.bucket)


@dataclass
class _MotoServer:
    """moto's server in a child process, logging to a file in a temporary folder."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @classmethod
    def start(cls) -> _MotoServer:
        if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
            pytest.fail(INSTALL_HINT, pytrace=False)
        folder = Path(tempfile.mkdtemp(prefix="dagwell-s3-"))
        # A free port may be taken by someone else before the server binds it: try again.
        for attempt in range(3):
            port = _free_port()
            log = folder / "server.log"
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    # Big objects spill from memory to files here, not to the shared /tmp.
                    env={**os.environ, "TMPDIR": str(folder)},
                )
            server = cls(process, port, folder)
            if server._wait_until_listening(timeout=60):
                return server
            server.stop(remove=False)
            if attempt == 2:
                text = log.read_text(errors="replace")[-3000:]
                shutil.rmtree(folder, ignore_errors=True)
                pytest.fail(f"moto's S3 server did not start on 127.0.0.1:\n{text}", pytrace=False)
        raise AssertionError("unreachable")

    def stop(self, *, remove: bool = True) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _wait_until_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: the port was taken, or moto is broken
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.1)
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

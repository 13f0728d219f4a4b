"""A throwaway PostgreSQL server for the tests, and a fresh database in it for each test.

Registered as a pytest plugin from ``tests/conftest.py``. The session fixture
``postgres_server`` starts one cluster per test session (one per pytest-xdist worker) with
the server binaries on this machine: ``initdb`` into a temporary folder, then ``pg_ctl``,
listening on 127.0.0.1 only, on a free port, with its unix sockets in that folder. As root
(CI), both run as the ``postgres`` user, because the server refuses to run as root. Set
``DAGWELL_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres:secret@127.0.0.1:5432/postgres``)
to use a running server instead; it must let that user create databases.

The function fixture ``postgres_url`` creates a database with a unique name for one test,
yields its SQLAlchemy URL and drops it afterwards. Tests that use either fixture get the
``postgres`` marker, so ``pytest -m "not postgres"`` leaves them out. Without a server or
its binaries, the fixtures fail with how to install them: they never skip silently.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

URL_VARIABLE = "DAGWELL_TEST_POSTGRES_URL"
"""An admin URL of a running server to use instead of starting one."""

INSTALL_HINT = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found on PATH nor under "
    "/usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`; "
    "macOS: `brew install postgresql@15`), or set "
    f"{URL_VARIABLE}=postgresql://USER:PASSWORD@HOST:PORT/postgres to use a running server, "
    'or leave these tests out with -m "not postgres".'
)

_FIXTURES = {"postgres_server", "postgres_url"}


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create and drop databases in, as its superuser ``admin``."""

    admin: URL
    """SQLAlchemy URL (``postgresql+psycopg://``) of the server's maintenance database."""

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server, password included."""
        return self.admin.set(database=database).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """Create an empty database with a unique name; return that name."""
        name = f"dagwell_test_{uuid.uuid4().hex[:16]}"
        self._admin_execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending the sessions still connected to it."""
        self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin_execute(self, statement: str) -> None:
        import psycopg

        conninfo = self.admin.set(drivername="postgresql").render_as_string(hide_password=False)
        # CREATE and DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL ``postgres``, so it can be deselected."""
    for item in items:
        if _FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session: ``DAGWELL_TEST_POSTGRES_URL``, else a new one."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield PostgresServer(make_url(given).set(drivername="postgresql+psycopg"))
        return
    cluster = _Cluster.start()
    try:
        yield PostgresServer(cluster.admin_url())
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database for this test; dropped after it."""
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        yield url
    finally:
        _close_shared_store(url)
        postgres_server.drop_database(name)


def _close_shared_store(url: str) -> None:
    # The process-wide store of this URL keeps pooled connections; closing them here keeps
    # psycopg from warning (an error under our filterwarnings) when the store is collected.
    from dagwell.storage.shared import metadata_store

    metadata_store(url).dispose()


@dataclass
class _Cluster:
    """A PostgreSQL cluster in a temporary folder, with ``user`` as its superuser."""

    bindir: Path
    folder: Path
    user: str
    password: str
    port: int = 0

    @classmethod
    def start(cls) -> _Cluster:
        bindir = _find_bindir()
        if bindir is None:
            pytest.fail(INSTALL_HINT, pytrace=False)
        as_root = os.geteuid() == 0
        if as_root and not _user_exists("postgres"):
            pytest.fail(
                "running as root, the tests start PostgreSQL as the `postgres` user, which "
                "does not exist (Debian's `postgresql` package creates it); create it, or "
                f"set {URL_VARIABLE}",
                pytrace=False,
            )
        folder = Path(tempfile.mkdtemp(prefix="dagwell-pg-"))
        cluster = cls(bindir, folder, "postgres", secrets.token_hex(16))
        if as_root:
            shutil.chown(folder, user="postgres", group=pwd.getpwnam("postgres").pw_gid)
        try:
            cluster._initdb()
            cluster._start_on_free_port()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def admin_url(self) -> URL:
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host="127.0.0.1",
            port=self.port,
            database="postgres",
        )

    def stop(self) -> None:
        if self.port and (self.folder / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", self._data, "-m", "immediate", "-w", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def _data(self) -> str:
        return str(self.folder / "data")

    def _initdb(self) -> None:
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, user="postgres")
        self._run(
            "initdb",
            "-D",
            self._data,
            "-U",
            self.user,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        password_file.unlink()

    def _start_on_free_port(self) -> None:
        # A free port may be taken by someone else before the server binds it: try again.
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            log = str(self.folder / "server.log")
            done = self._run(
                "pg_ctl",
                "start",
                "-D",
                self._data,
                "-l",
                log,
                "-w",
                "-t",
                "60",
                "-o",
                options,
                check=False,
            )
            if done.returncode == 0:
                return
            if attempt == 2:
                pytest.fail(
                    f"PostgreSQL did not start (pg_ctl exit {done.returncode}):\n"
                    f"{done.stdout}{_tail(Path(log))}",
                    pytrace=False,
                )
            time.sleep(0.2)

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "LC_ALL": "C"},
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"{program} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}",
                pytrace=False,
            )
        return done


def _find_bindir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    # Debian and Ubuntu keep them out of PATH, one folder per major version: take the newest.
    found = [Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found.sort(key=lambda bindir: [int(n) for n in re.findall(r"\d+", bindir.parent.name)])
    return found[-1] if found else None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return ""

"""A throwaway PostgreSQL for the tests: the suite runs against both stores (issue 13).

``DINGDAN_TEST_PG_URL`` names a server the tests may create databases on (``postgresql://user@host:port/db``).
Without it, a server of this machine's PostgreSQL (Debian's ``postgresql`` package: ``initdb`` and ``pg_ctl``
under ``/usr/lib/postgresql/*/bin``) is started for the session in a temporary data directory, on 127.0.0.1 at
a free port, and removed afterwards. PostgreSQL refuses to run as root: as root it runs as the ``postgres``
user. Durability is off (fsync, synchronous_commit): a test database is thrown away.

Each test that asks for one gets a fresh database, made from a template that already holds the schema.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

#: Where a test server is started when none is named; `DINGDAN_TEST_PG=off` leaves PostgreSQL out.
ENV_URL = "DINGDAN_TEST_PG_URL"
ENV_SWITCH = "DINGDAN_TEST_PG"


class Unavailable(RuntimeError):
    """No PostgreSQL to test against: the reason and what to do."""


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(argv)]


class PgServer:
    """A PostgreSQL server the tests create databases on: named by the environment, or started here."""

    def __init__(self) -> None:
        self.url: str | None = os.environ.get(ENV_URL) or None
        self._dir: str | None = None
        self._data: str | None = None
        self._bin: Path | None = None
        self._template: str | None = None

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        if os.environ.get(ENV_SWITCH, "").lower() in ("off", "0", "no", "false"):
            raise Unavailable(f"{ENV_SWITCH}=off: the PostgreSQL half of the suite is left out")
        if self.url:
            return
        bindir = _bindir()
        if bindir is None:
            raise Unavailable(
                "no PostgreSQL server on this machine (install Debian's postgresql package, or set "
                f"{ENV_URL} to a server the tests may create databases on)"
            )
        self._bin = bindir
        self._dir = tempfile.mkdtemp(prefix="dingdan-pg-")
        os.chmod(self._dir, 0o777)  # the postgres user writes its data and socket here
        self._data = os.path.join(self._dir, "data")
        port = _free_port()
        env = {**os.environ, "LC_ALL": "C"}
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", self._data, "-A", "trust", "-U", "postgres",
                                     "--no-locale", "-E", "UTF8", "--no-sync"]),  # fmt: skip
                       check=True, capture_output=True, env=env)  # fmt: skip
        options = (f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 "
                   "-c shared_buffers=64MB")  # fmt: skip
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", self._data, "-l",
                                     os.path.join(self._dir, "log"), "-w", "-o", options, "start"]),  # fmt: skip
                       check=True, capture_output=True, env=env)  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self._data and self._bin:
            subprocess.run(_as_postgres([str(self._bin / "pg_ctl"), "-D", self._data, "-m", "immediate", "stop"]),
                           capture_output=True)  # fmt: skip
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = self._data = None

    # ------------------------------------------------------------ databases

    def url_of(self, name: str) -> str:
        assert self.url is not None
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def _admin(self) -> object:
        import psycopg

        assert self.url is not None
        return psycopg.connect(self.url, autocommit=True)

    def create(self, *, schema: bool = True) -> str:
        """A new empty database (with the desk's schema unless ``schema`` is false); its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        with self._admin() as conn:  # type: ignore[attr-defined]
            if schema:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template()}"')
            else:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        with contextlib.suppress(Exception), self._admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def template(self) -> str:
        """A database holding the desk's schema (every migration), that new ones are copied from."""
        if self._template is None:
            import asyncio

            from bot.storage import Store

            name = "dingdan_template_" + uuid.uuid4().hex[:8]
            with self._admin() as conn:  # type: ignore[attr-defined]
                conn.execute(f'CREATE DATABASE "{name}"')

            async def migrate() -> None:
                store = Store(self.url_of(name))
                await store.open()
                await store.close()

            # In a thread of its own: the caller may be inside a running event loop.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, migrate()).result()
            self._template = name
        return self._template


@contextlib.contextmanager
def server() -> Iterator[PgServer]:
    pg = PgServer()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()

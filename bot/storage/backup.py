"""Backups of the desk's database, and putting one back (``dingdan backup FILE``, ``dingdan restore FILE``).

SQLite: SQLite's online backup API copies the database while the bot runs (WAL: the copy is one read
transaction, a consistent snapshot; the bot's writes go on meanwhile). The copy is written beside its
target, made a single self-contained file (journal mode DELETE), synced, made 0600 (buyers' addresses,
Amazon's credentials) and renamed into place: a crash leaves the old file or the new one, never half.
A restore copies the backup the same way beside the database and renames it over it, after the old
database's -wal/-shm (and a hot -journal) are gone, so that no stale journal is replayed into the new file.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner
--single-transaction`` (a failed restore changes nothing). The URL's password goes to them in
``PGPASSWORD``, never on their command line, and is never printed.

Whoever calls these checks that no bot holds the database first (``bot.db_lock`` for SQLite;
:func:`pg_sessions` for PostgreSQL). A file that is not a dingdan database is refused before
anything changes (:class:`BackupRefused`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bot.storage import pg
from bot.storage.db import keep_private, migrations
from bot.storage.errors import StorageError

#: What a ``pg_dump --format=custom`` file starts with.
PG_DUMP_MAGIC = b"PGDMP"
#: What an SQLite 3 file starts with.
SQLITE_MAGIC = b"SQLite format 3\x00"
#: How long a copy waits for SQLite's locks (ms): the bot's write transactions are short.
BUSY_MS = 10_000


class BackupRefused(StorageError):
    """The backup or restore was not done and nothing changed; the message says why, in one line."""


class ToolMissing(StorageError):
    """``pg_dump`` or ``pg_restore`` is not installed; the message says what to install."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds: the schema version and a few counts, for the operator's one line."""

    version: int
    teams: int
    orders: int
    events: int

    def __str__(self) -> str:
        return f"schema version {self.version}, {self.teams} team(s), {self.orders} order(s), {self.events} event(s)"


def known_version() -> int:
    """The newest schema version this dingdan knows."""
    return max(version for version, _ in migrations())


# ----------------------------------------------------------------------------- files


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _beside(target: Path) -> Iterator[Path]:
    """A new private temporary file in ``target``'s folder (so that the rename is atomic), removed
    unless the block renamed it."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as err:
        raise BackupRefused(f"cannot write in {folder}: {err.strerror}") from None
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
    finally:
        for leftover in (temp, Path(f"{temp}-journal"), Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _place(temp: Path, target: Path) -> None:
    """``temp`` synced, 0600, and renamed to ``target`` (atomic on one file system)."""
    _fsync_file(temp)
    if os.name == "posix":
        os.chmod(temp, 0o600)
    os.replace(temp, target)
    _fsync_dir(target.parent if str(target.parent) else Path("."))


# ----------------------------------------------------------------------------- SQLite


def _read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    return conn


def _summary(conn: sqlite3.Connection) -> Summary:
    def count(table: str) -> int:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - our table names

    version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return Summary(int(version or 0), count("teams"), count("orders"), count("events"))


def sqlite_summary(path: Path, *, what: str = "") -> Summary:
    """What the SQLite file at ``path`` holds, or :class:`BackupRefused` if it is not a dingdan database."""
    what = what or str(path)
    try:
        head = _head(path)
    except FileNotFoundError:
        raise BackupRefused(f"{what} does not exist.") from None
    except OSError as err:
        raise BackupRefused(f"cannot read {what}: {err.strerror}.") from None
    if head.startswith(PG_DUMP_MAGIC):
        raise BackupRefused(f"{what} is a PostgreSQL dump (pg_dump), not an SQLite database: restore it with "
                            "DINGDAN_DB set to the PostgreSQL database's URL.")  # fmt: skip
    if head != SQLITE_MAGIC:
        raise BackupRefused(f"{what} is not a dingdan database (not an SQLite file).")
    try:
        conn = _read_only(path)
    except sqlite3.Error as err:
        raise BackupRefused(f"cannot open {what}: {err}.") from None
    try:
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:
            raise BackupRefused(f"{what} is not a dingdan database ({err}).") from None
        if not {"schema_migrations", "teams", "orders", "events"} <= tables:
            raise BackupRefused(f"{what} is not a dingdan database (an SQLite file without dingdan's tables).")
        try:
            return _summary(conn)
        except sqlite3.Error as err:
            raise BackupRefused(f"{what} cannot be read as a dingdan database: {err}.") from None
    finally:
        conn.close()


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(16)


def _copy(source: sqlite3.Connection, temp: Path) -> None:
    """The whole of ``source`` into the file ``temp`` in one step (one read transaction: a consistent
    snapshot however the bot writes meanwhile), as a single file in journal mode DELETE."""
    target = sqlite3.connect(temp)
    try:
        source.backup(target)  # pages=-1: all at once, so a concurrent write never restarts it
        target.execute("PRAGMA journal_mode=DELETE")
        target.commit()
    finally:
        target.close()


def backup_sqlite(database: Path, file: Path) -> Summary:
    """Copy the SQLite ``database`` (which a bot may be running on) to ``file``, atomically, 0600."""
    sqlite_summary(database)  # a database of ours, or refused
    if file.exists() and file.resolve() == database.resolve():
        raise BackupRefused(f"{file} is the database itself: name another file for the backup.")
    if file.is_dir():
        raise BackupRefused(f"{file} is a folder: name a file for the backup.")
    try:
        source = sqlite3.connect(database, timeout=BUSY_MS / 1000)
    except sqlite3.Error as err:
        raise BackupRefused(f"cannot open {database}: {err}.") from None
    try:
        source.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        with _beside(file) as temp:
            try:
                _copy(source, temp)
                summary = sqlite_summary(temp, what=str(file))
            except sqlite3.Error as err:
                raise BackupRefused(f"the backup of {database} failed: {err}; {file} was not written.") from None
            _place(temp, file)
    finally:
        source.close()
    return summary


def restore_sqlite(file: Path, database: Path) -> Summary:
    """Replace the SQLite ``database`` with the backup ``file`` (the caller holds the database's lock:
    no bot runs on it). Nothing changes unless ``file`` is a dingdan database this version can open."""
    summary = sqlite_summary(file)
    if summary.version > known_version():
        raise BackupRefused(f"{file} was written by a newer dingdan (schema version {summary.version}; this one "
                            f"knows up to {known_version()}): restore it with that version.")  # fmt: skip
    if database.exists() and file.resolve() == database.resolve():
        raise BackupRefused(f"{file} is the database itself: nothing to restore.")
    if database.is_dir():
        raise BackupRefused(f"{database} is a folder, not a database file: check DINGDAN_DB.")
    source = _read_only(file)
    try:
        with _beside(database) as temp:
            try:
                _copy(source, temp)
                check = sqlite3.connect(temp)
                try:
                    verdict = check.execute("PRAGMA quick_check").fetchone()[0]
                finally:
                    check.close()
            except sqlite3.Error as err:
                raise BackupRefused(f"cannot read {file}: {err}; the database was not changed.") from None
            if verdict != "ok":
                raise BackupRefused(f"{file} is damaged ({verdict}); the database was not changed.")
            _settle(database)
            _place(temp, database)
    finally:
        source.close()
    keep_private(str(database))
    return summary


def _settle(database: Path) -> None:
    """The database about to be replaced, left without -wal, -shm or a hot -journal: its WAL is checkpointed
    into it first (so it is whole should the rename not happen), then they are removed. A database too damaged
    to checkpoint is what is being replaced: its journals go all the same."""
    if database.exists():
        try:
            conn = sqlite3.connect(database, timeout=BUSY_MS / 1000)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("PRAGMA journal_mode=DELETE")
            finally:
                conn.close()
        except sqlite3.Error:
            pass
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{database}{suffix}").unlink()


# ----------------------------------------------------------------------------- PostgreSQL


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL as a libpq connection string without its password, and the environment that carries it."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as err:
        raise BackupRefused(f"DINGDAN_DB is not a PostgreSQL URL libpq reads: {pg.redact(str(err))}") from None
    password = params.pop("password", None)
    env = {**os.environ}
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(f"{name} is not installed: install PostgreSQL's client programs (Debian: apt-get install "
                          f"postgresql-client; the Docker image has them), of the server's major version or newer.")  # fmt: skip
    return found


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def _failure(tool: str, result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    said = pg.redact(" / ".join(lines[-3:])) or f"exit code {result.returncode}"
    if "version mismatch" in said:
        said += f" (install {tool} of the server's major version or newer)"
    return f"{tool} failed: {said}"


def pg_summary(url: str) -> Summary:
    """What the PostgreSQL database holds, or :class:`BackupRefused` if it is not a dingdan database."""
    try:
        with psycopg.connect(url, autocommit=True, application_name="dingdan-backup") as conn:
            found = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
            if not found or not found[0]:
                raise BackupRefused(f"{pg.redact(url)} holds no dingdan database (no schema_migrations table).")
            row = conn.execute(
                "SELECT (SELECT max(version) FROM schema_migrations), (SELECT count(*) FROM teams), "
                "(SELECT count(*) FROM orders), (SELECT count(*) FROM events)"
            ).fetchone()
    except psycopg.Error as err:
        raise BackupRefused(f"cannot read {pg.redact(url)}: {pg.redact(str(err).strip())}") from None
    assert row is not None
    return Summary(int(row[0] or 0), int(row[1]), int(row[2]), int(row[3]))


def pg_sessions(url: str) -> int:
    """How many other dingdan processes (``application_name`` dingdan: a replica, an import) are connected
    to the database now."""
    try:
        with psycopg.connect(url, autocommit=True, application_name="dingdan-backup") as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'dingdan' AND pid <> pg_backend_pid()"
            ).fetchone()
    except psycopg.Error as err:
        raise BackupRefused(f"cannot reach {pg.redact(url)}: {pg.redact(str(err).strip())}") from None
    return int(row[0]) if row else 0


def backup_pg(url: str, file: Path) -> Summary:
    """``pg_dump --format=custom`` of the database to ``file`` (written beside it, then renamed; 0600)."""
    dump = _tool("pg_dump")
    summary = pg_summary(url)
    if file.is_dir():
        raise BackupRefused(f"{file} is a folder: name a file for the backup.")
    conninfo, env = _split_url(url)
    with _beside(file) as temp:
        result = _run([dump, "--format=custom", "--no-owner", f"--file={temp}", f"--dbname={conninfo}"], env)
        if result.returncode != 0:
            raise BackupRefused(_failure("pg_dump", result) + f"; {file} was not written.")
        _place(temp, file)
    return summary


def dump_lists_dingdan(file: Path) -> None:
    """``file`` is a ``pg_dump --format=custom`` of a dingdan database, or :class:`BackupRefused`."""
    try:
        head = _head(file)
    except FileNotFoundError:
        raise BackupRefused(f"{file} does not exist.") from None
    except OSError as err:
        raise BackupRefused(f"cannot read {file}: {err.strerror}.") from None
    if head == SQLITE_MAGIC:
        raise BackupRefused(f"{file} is an SQLite database, not a PostgreSQL dump: move it into PostgreSQL with "
                            "dingdan migrate --from FILE --to URL.")  # fmt: skip
    if not head.startswith(PG_DUMP_MAGIC):
        raise BackupRefused(f"{file} is not a dingdan backup (not a pg_dump --format=custom file).")
    result = _run([_tool("pg_restore"), "--list", str(file)], dict(os.environ))
    if result.returncode != 0:
        raise BackupRefused(_failure("pg_restore", result))
    if not any(" TABLE " in line and " schema_migrations " in line for line in result.stdout.splitlines()):
        raise BackupRefused(f"{file} is not a dingdan backup (a PostgreSQL dump without dingdan's tables).")


def restore_pg(file: Path, url: str) -> None:
    """``pg_restore --clean --if-exists --no-owner --single-transaction`` of ``file`` into the database:
    all of it or, when it fails, nothing."""
    restore = _tool("pg_restore")
    dump_lists_dingdan(file)
    conninfo, env = _split_url(url)
    argv = [restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
            f"--dbname={conninfo}", str(file)]  # fmt: skip
    result = _run(argv, env)
    if result.returncode != 0:
        raise BackupRefused(_failure("pg_restore", result) + "; the database was not changed.")

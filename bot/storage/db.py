"""The database file: connections, the write lock, transactions, reads, migrations.

Writes have one owner: a lock around one writer connection, each transaction a few awaits
(aiosqlite pays a thread hop per await). Reads go to a small pool of reader connections
(``bot.storage.readers``), which in WAL mode see committed data only, so a long list or an
export never makes a card wait.
An update that has begun writing reads through its own transaction instead (it sees what it
wrote; see ``bot.storage.unit``).

Small work runs on the event loop's own thread (SQLite only, ``small=True``): a person, a team
or an order read by its key, one order's save, an update's reply and its "done", the sender's
marks. Each is tens of microseconds in SQLite's page cache, less than the hop into a thread it
would otherwise cost (a queue, a thread woken, the loop woken again: issue 11, point 4).
What may take longer stays on the threads: lists, exports, imports, anything that scans. Two
things could make small work wait, and neither happens on the loop: SQLite's write lock held
by another process (``dingdan import`` beside the bot: ``begin`` never waits inline, the work
goes to the writer's thread instead), and checkpoints (the writer does none when it commits;
``_checkpoint`` runs them on a thread of their own every :data:`CHECKPOINT_AFTER` rows written).

Only this package speaks to the database driver; the aggregates' SQL sits beside this file
(teams, orders, shipments, confirmations, alerts, the outbox, the inbox).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage import notify, pg
from bot.storage.errors import DatabaseUnusable, NotOpen
from bot.storage.readers import Readers
from bot.storage.unit import _UNIT, Queued, Unit
from bot.storage.values import iso, utc_now

log = logging.getLogger(__name__)

#: Reader connections (see ``bot.storage.readers``): a heavy read (a long list, the digest, an
#: export) holds one while the others serve cards and look-ups. Each is a thread of
#: aiosqlite's; three suit a small machine.
READERS = 3
#: After a checkpoint the WAL is cut back to this size; without a limit it stays as large as
#: the largest transaction ever written (136 MB after a few 100k-row imports).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Each connection's page cache, in KiB (SQLite's default is 2 MB). The indexes that keep reads flat
#: (lists, counts, the digest's hours) are written in key order, not insertion order: with the
#: default cache a 100,000-order import spent a quarter of its time re-reading index pages.
CACHE_KIB = 32 * 1024

#: How long the writer waits for SQLite's write lock held by another process, in ms.
BUSY_MS = 5000
#: Rows written (as SQLite counts them: ``total_changes``) between two checkpoints of the WAL:
#: ~100 commands, or at once after an import. SQLite's own checkpoint, every 1,000 pages, would
#: run in whichever commit crosses the mark: on the event loop's thread for small work.
CHECKPOINT_AFTER = 1000
#: The most rows written during a checkpoint's pass for its last pass to run while the writer waits
#: (a few milliseconds of copying; see ``Database._checkpoint``).
LOCKED_PASS_ROWS = 2000

#: Prepared statements each connection keeps (Python's default is 128). dingdan runs a few
#: hundred distinct statements; one prepared again costs more than running it (an order's
#: UPDATE compiles the triggers that keep lists, counts and hours: ~0.1 ms).
STATEMENTS = 1024

#: What the parameters of a statement may be.
Params = Sequence[Any] | dict[str, Any]


class Database:
    """One SQLite file, or a PostgreSQL database (``path`` a ``postgresql://`` URL; see
    ``bot.storage.pg``). Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path | str, *, readers: int = READERS) -> None:
        if readers < 1:
            raise ValueError("a store needs at least one reader connection")
        self.path = str(path)
        #: "sqlite" or "pg": the few statements that differ ask (the rest is translated).
        self.dialect = "pg" if pg.is_url(self.path) else "sqlite"
        self.readers = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers = Readers()
        self._write_lock = asyncio.Lock()
        #: Called when messages were queued in the outbox (the sender wakes up), with an update's
        #: replies as committed (``Queued``) when the sender may take them without a read.
        self.on_queued: Callable[[Sequence[Queued]], None] = lambda queued: None
        #: Small work runs on the event loop's thread (see the module doc). PostgreSQL's calls
        #: cross the network, so they always go to a thread.
        self.inline = self.dialect == "sqlite"
        #: The connection small reads use on the event loop's thread (committed data only).
        self._near: sqlite3.Connection | None = None
        #: The thread running small work now, if any (its ``begin`` must not wait).
        self._inline_on: int | None = None
        self._checkpointed_at = 0  # the writer's ``total_changes`` at the last checkpoint
        self._checkpointing: asyncio.Task[None] | None = None
        #: The connection checkpoints run on, on a thread, one at a time (opened by the first).
        self._checkpointer: sqlite3.Connection | None = None

    # --- life ---------------------------------------------------------------------

    async def open(self) -> None:
        """Open the writer (migrating the schema) and the readers, or raise :class:`DatabaseUnusable`."""
        try:
            if self.dialect == "sqlite":
                keep_private(self.path)
            self._writer = await self._connect()
            await self._migrate(self._writer)
            for _ in range(self.readers):
                self._readers.add(await self._connect())
            if self.inline:
                # The writer leaves checkpoints to ``_checkpoint`` (off the event loop's thread),
                # and waits for SQLite's write lock only on its own thread (``begin``).
                await self._writer.executescript("PRAGMA wal_autocheckpoint=0; PRAGMA busy_timeout=0;")
                self._near = _near_connection(self.path)
        except (sqlite3.Error, pg.Error, OSError) as err:
            reason = pg.redact(str(err) or type(err).__name__)
            try:
                await self.close()
            except Exception:  # noqa: BLE001 - the first error is the one to tell
                log.debug("closing the half-open database failed", exc_info=True)
            if self.dialect == "pg":
                raise DatabaseUnusable(
                    f"cannot use the database {pg.redact(self.path)}: {reason}. Check that PostgreSQL is running "
                    "and that the URL in DINGDAN_DB names a database this user may create tables in."
                ) from None
            raise DatabaseUnusable(
                f"cannot use the database {self.path}: {reason}. Check that the file and its folder are writable by "
                "this user and that no other program holds it, or set DINGDAN_DB to another file."
            ) from None

    async def _connect(self) -> aiosqlite.Connection:
        if self.dialect == "pg":
            url = self.path
            # psycopg on a thread of its own, as aiosqlite runs sqlite3 (bot/storage/pg.py).
            return await aiosqlite.Connection(lambda: pg.Connection(url), 64)  # type: ignore[arg-type, return-value]
        # Small work uses the writer from the event loop's thread, always under the write lock
        # and never while a call on its own thread runs (see ``on_writer``).
        conn = await aiosqlite.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=STATEMENTS
        )
        try:
            await conn.executescript(_PRAGMAS)
        except BaseException:
            await conn.close()  # its thread would keep the process alive
            raise
        return conn

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
            self._checkpointing = None
        await self._readers.close()
        if self._near is not None:
            self._near.close()
            self._near = None
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._writer is not None:
            await self._writer.close()
        self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        """The one connection that writes; only under the write lock (see :meth:`transaction`)."""
        if self._writer is None:
            raise NotOpen("Store.open() first")
        return self._writer

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for version, sql in migrations(self.dialect):
            # Each script runs in its own write transaction, and whether it is due is read
            # inside it: two processes opening a new database at once apply it once.
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)) as cur:
                    done = await cur.fetchone() is not None
                if not done:
                    if self.dialect == "pg":
                        await conn.executescript(sql)  # PostgreSQL's own script, run whole
                    else:
                        for statement in _statements(sql):
                            await conn.execute(statement)
                    await conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, iso(utc_now())))
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def transaction(self, *, standalone: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """The one way to write: serialised, all or nothing.

        While an update is processed (see ``Store.unit``), its writes join the update's one
        transaction, each block under a savepoint (a refusal inside it undoes only that
        block), and commit with the update's replies. ``standalone`` writes (what the desk
        learns about people and chats) commit on their own unless that transaction has
        already begun: they are facts, not effects, and must not hold the write lock while
        the update still waits on Telegram.
        """
        writer = self.writer
        unit = _UNIT.get()
        if unit is not None and unit.store is self:
            unit.reads.clear()  # what the update read may be what it is about to change
        if unit is None or unit.store is not self or unit.closed or (standalone and not unit.began):
            async with self._write_lock:
                await self.on_writer(self.begin)
                try:
                    yield writer
                except BaseException:
                    await writer.execute("ROLLBACK")
                    raise
                else:
                    await writer.execute("COMMIT")
            self._wrote()
            return
        if not unit.began:
            # The update's first write: the transaction itself undoes it if it fails.
            conn = await unit.begin()
            try:
                yield conn
            except BaseException:
                await unit.undo()
                raise
            return
        conn = await unit.begin()
        savepoint = unit.next_savepoint()
        await conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield conn
        except BaseException:
            await conn.execute(f"ROLLBACK TO {savepoint}")
            await conn.execute(f"RELEASE {savepoint}")
            raise
        else:
            await conn.execute(f"RELEASE {savepoint}")

    def _writing_unit(self) -> Unit | None:
        """The current update's unit, if it has begun writing on this database."""
        unit = _UNIT.get()
        if unit is not None and unit.store is self and unit.began and not unit.closed:
            return unit
        return None

    # --- reads --------------------------------------------------------------------
    # One hop into aiosqlite's thread per read (execute and fetch together), not three
    # (execute, fetch, close the cursor).

    async def fetchall(self, sql: str, params: Params = (), *, small: bool = False) -> list[Any]:
        """Every row of a query. ``small``: a few rows found by an index (it runs on the event
        loop's thread; see the module doc)."""
        rows = await self._rows(sql, params, small)
        return rows if isinstance(rows, list) else list(rows)

    async def fetchone(self, sql: str, params: Params = (), *, small: bool = True) -> Any:
        """The first row or None; for queries of at most a row or two found by a key (a key, LIMIT
        1, a kept count): small work (see the module doc). ``small=False`` for an aggregate over
        many rows (a count of a list): it runs on a reader's thread."""
        rows = await self._rows(sql, params, small)
        return rows[0] if rows else None

    async def _rows(self, sql: str, params: Params, small: bool) -> Sequence[Any]:
        if small and self.inline:
            return self.run_inline(lambda db: db.execute(sql, params).fetchall(), near=self._writing_unit() is None)
        if self._writing_unit() is not None:
            rows = await self.writer.execute_fetchall(sql, params)
        else:
            rows = await self._readers.rows(sql, params)
        return rows if isinstance(rows, list) else list(rows)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection to read on for several statements: the update's own transaction once
        it has begun writing, else a reader of the pool lent out whole."""
        if self._writing_unit() is not None:
            yield self.writer
            return
        async with self._readers.holding() as reader:
            yield reader

    async def read_in_one(self, work: Callable[[sqlite3.Connection], Any], *, small: bool = False) -> Any:
        """``work(connection)`` in one hop: on a reader, or on the update's own transaction once
        it has begun writing (it sees what it wrote). ``small``: on the event loop's thread, no
        hop at all (see the module doc)."""
        if self._writing_unit() is not None:
            return await self.on_writer(work, small=small)
        if small and self.inline:
            return self.run_inline(work, near=True)
        return await self._readers.run(work)

    async def write_in_one(self, work: Callable[[sqlite3.Connection], Any], *, standalone: bool = False,
                           changes: Sequence[tuple[Any, ...]] | None = None, writer_lock: bool = True,
                           small: bool = False) -> Any:  # fmt: skip
        """``work(connection)`` as :meth:`transaction` would run its block (``standalone`` as
        there), in one hop into the writer's thread instead of one per statement: its own
        transaction, or the update's (its first write begins it; a later one runs under a
        savepoint). All or nothing. ``changes``: the keys of ``Unit.reads`` it may change
        (None: any). ``writer_lock=False`` (its own transaction only): on PostgreSQL, without the
        lock that makes the write transactions of every process take turns, for work whose row
        locks keep processes apart (the outbox's claims, ``FOR UPDATE SKIP LOCKED``); SQLite's
        one writer is taken either way. ``small``: a few rows written by their keys (it runs on the
        event loop's thread; see the module doc)."""
        unit = _UNIT.get()
        if unit is not None and unit.store is self:
            if changes is None:
                unit.reads.clear()  # what the update read may be what it is about to change
            for key in changes or ():
                unit.reads.pop(key, None)
        if unit is None or unit.store is not self or unit.closed or (standalone and not unit.began):
            begin = "BEGIN IMMEDIATE" if writer_lock or self.dialect == "sqlite" else "BEGIN"

            def whole(db: sqlite3.Connection) -> Any:
                self.begin(db, begin)
                try:
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result

            async with self._write_lock:
                return await self.on_writer(whole, small=small)
        if not unit.began:
            return await unit.begin_with(work, small=small)
        savepoint = unit.next_savepoint()

        def nested(db: sqlite3.Connection) -> Any:
            db.execute(f"SAVEPOINT {savepoint}")
            try:
                result = work(db)
            except BaseException:
                db.execute(f"ROLLBACK TO {savepoint}")
                db.execute(f"RELEASE {savepoint}")
                raise
            db.execute(f"RELEASE {savepoint}")
            return result

        return await self.on_writer(nested, small=small)

    # --- writes outside ``transaction()`` ----------------------------------------

    async def on_writer(self, work: Callable[[sqlite3.Connection], Any], *, small: bool = False) -> Any:
        """Run ``work(connection)`` on the writer's own thread: a whole transaction in one hop
        (aiosqlite pays a thread hop per await). The caller holds the write lock. ``small``: on
        the event loop's thread instead (see the module doc); a transaction ``work`` begins with
        :meth:`begin`, which goes to the thread when SQLite's write lock is taken elsewhere."""
        writer = self.writer
        if small and self.inline:
            if not writer._conn.in_transaction and _others_ready():
                # A turn for the other tasks before a transaction begins: with no hop left, an update
                # would otherwise run from its first read to its commit without letting another team's
                # update in (bench_fairness: team B's p95 while A's 100 commands were processed 2.6x
                # idle without it, 1.9x with it). Not inside an open one: cancelled here, the work
                # that ends it (an update's commit) would not run, and nothing would roll it back.
                await asyncio.sleep(0)
            try:
                result = self.run_inline(work, near=False)
            except _WouldWait:
                log.debug("the database is being written by another process: this write waits on a thread")
            else:
                self._wrote()
                return result
        try:
            return await writer._execute(work, writer._conn)
        finally:
            self._wrote()

    def run_inline(self, work: Callable[[sqlite3.Connection], Any], *, near: bool) -> Any:
        """``work(connection)`` now, on the event loop's thread: on the connection for small reads
        (``near``), else on the writer (its caller holds the write lock, and every earlier call of
        the writer's was awaited: the writer's thread is idle)."""
        writer = self.writer._conn
        if near and (self._write_lock.locked() or writer.in_transaction):
            # Another update's transaction is open on the writer: committed data is read on the
            # connection of its own. Else the writer reads it, from a page cache no other connection's
            # commit has made stale (it made them all).
            db = self._near
        else:
            db = writer
        if db is None:
            raise NotOpen("Store.open() first")
        self._inline_on = threading.get_ident()
        try:
            return work(db)
        finally:
            self._inline_on = None

    def begin(self, db: sqlite3.Connection, sql: str = "BEGIN IMMEDIATE") -> None:
        """Begin the write transaction of work run by :meth:`on_writer`. On the event loop's thread
        it does not wait for SQLite's write lock held by another process (``dingdan import``
        beside the bot): :meth:`on_writer` runs the work on the writer's thread instead, where
        it waits up to :data:`BUSY_MS`. Nothing was done when it gives up. (The writer's own
        busy timeout is 0 when small work runs inline: only a transaction's first statement
        waits for the lock, and only here.)"""
        if not self.inline:
            db.execute(sql)
        elif self._inline_on == threading.get_ident():
            try:
                db.execute(sql)
            except sqlite3.OperationalError as err:
                if err.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                    raise _WouldWait from None
                raise
        else:
            db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            try:
                db.execute(sql)
            finally:
                db.execute("PRAGMA busy_timeout=0")

    def _wrote(self) -> None:
        """Start a checkpoint when enough rows were written since the last one."""
        if not self.inline or self._checkpointing is not None or self._writer is None:
            return
        changes = self._writer._conn.total_changes
        if changes - self._checkpointed_at >= CHECKPOINT_AFTER:
            self._checkpointed_at = changes
            self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint(), name="dingdan-checkpoint")

    async def _checkpoint(self) -> None:
        """Copy what the WAL holds into the database file, on a thread: first beside the writer
        (PASSIVE: it waits for nobody), then, while the writer waits (``_write_lock``), what it
        committed meanwhile. Only a WAL copied whole is started over by the writer's next
        transaction (cut back to :data:`JOURNAL_SIZE_LIMIT`): a checkpoint racing the writer's
        commits never finishes one, and the WAL grew without end (338 MB after 2,000 commands,
        each write and read slower as it grew: SQLite looks every page up in its index).

        The writer waits only for a short pass: while more than :data:`LOCKED_PASS_ROWS` rows were
        written during the last pass (an import), another pass runs beside it first, at most
        three; after that the last pass is left to the next checkpoint. (Another process's writes
        are not counted: a big one committed just before the last pass makes it longer.)"""

        def checkpoint() -> None:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        def written() -> int:
            return self._writer._conn.total_changes if self._writer is not None else 0

        try:
            for _ in range(3):
                before = written()
                await asyncio.to_thread(checkpoint)
                if written() - before > LOCKED_PASS_ROWS:
                    continue  # much was written meanwhile: copy it beside the writer first
                async with self._write_lock:
                    if written() - before <= LOCKED_PASS_ROWS:
                        await asyncio.to_thread(checkpoint)
                break
        except sqlite3.Error:
            log.warning("could not checkpoint the database's WAL; it is tried again later", exc_info=True)
        finally:
            self._checkpointing = None

    async def execute_write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own transaction, in one hop; the number of rows it changed."""
        unit = _UNIT.get()
        if unit is not None and unit.store is self and not unit.closed:
            async with self.transaction() as tx:
                return (await tx.execute(sql, params)).rowcount

        def write(db: sqlite3.Connection) -> int:
            self.begin(db)
            try:
                changed = db.execute(sql, params).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return changed

        async with self._write_lock:
            return int(await self.on_writer(write))

    def signal_queued(self, queued: Sequence[Queued] = ()) -> None:
        self.on_queued(queued)

    def queued_notice(self, chat_ids: Iterable[int] | None) -> tuple[str, tuple[str, str]] | None:
        """The statement that wakes the other replicas' senders for messages queued to ``chat_ids``
        (None: any chat), to run in the transaction that queues them: PostgreSQL's NOTIFY, delivered
        at the commit, dropped on a rollback (``bot.storage.notify``). None on SQLite."""
        return notify.notice(self.dialect, chat_ids)

    def outbox_listener(self, on_notice: notify.OnNotice) -> notify.OutboxListener | None:
        """On PostgreSQL, a listener (not started) told the shards other processes queued messages
        for; this store's own commits are left out (they call :meth:`signal_queued`). None on SQLite."""
        if self.dialect != "pg":
            return None

        def own_pids() -> set[int]:
            writer = self._writer
            pid = getattr(getattr(writer, "_conn", None), "backend_pid", None)
            return set() if pid is None else {pid}

        return notify.OutboxListener(self.path, on_notice, own_pids=own_pids)


class _WouldWait(Exception):
    """Small work about to wait on the event loop's thread for SQLite's write lock (see ``Database.begin``)."""


def _others_ready() -> bool:
    """Whether other callbacks wait for the event loop (a turn given when none waits is one more
    turn of the loop for nothing: a poll of the sockets that finds what the next await finds).
    asyncio's loops keep them in ``_ready``; a loop that does not say is given its turn."""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    return ready is None or len(ready) > 0


_PRAGMAS = (
    "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; "
    f"PRAGMA busy_timeout={BUSY_MS}; PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}; PRAGMA cache_size=-{CACHE_KIB};"
)


def _near_connection(path: str) -> sqlite3.Connection:
    """The connection small reads use on the event loop's thread: it reads only."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=STATEMENTS)
    try:
        conn.executescript(_PRAGMAS + " PRAGMA query_only=1;")
    except BaseException:
        conn.close()
        raise
    return conn


def keep_private(path: str) -> None:
    """The database (buyers' addresses, Amazon's credentials) readable by the bot's user only.

    SQLite creates a new file 0644 (less the umask), and gives its -wal and -shm files the
    database file's mode: creating the file 0600 first covers all three. An existing file,
    and the -wal/-shm an older version left, are tightened.
    """
    if path == ":memory:" or path.startswith("file:") or os.name != "posix":
        return  # Windows has no mode bits to speak of; the folder's ACL decides there
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        return  # SQLite says why in its own words
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable by other users and I cannot change that: chmod 600 it", name)


def _statements(script: str) -> list[str]:
    """A schema script split into statements (our scripts have no semicolons inside strings)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return [s for s in statements if s.rstrip(";").strip()]


def migrations(dialect: str = "sqlite") -> list[tuple[int, str]]:
    """The schema scripts shipped in ``bot/storage/schema`` (PostgreSQL's twins in its ``pg``
    folder), by version number."""
    found = []
    package = "bot.storage.schema.pg" if dialect == "pg" else "bot.storage.schema"
    for entry in resources.files(package).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)

"""One update's unit of work: its writes, its replies and the inbox's "done" commit together.

The unit of the update the current task is processing lives in a context variable, so the
store's ``transaction()`` joins it without being handed it (see ``bot.storage.db``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.storage.values import dumps, iso, utc_now

if TYPE_CHECKING:
    from bot.storage.db import Database

log = logging.getLogger(__name__)

#: Replies are due at once: any time at or before now.
_EPOCH = "1970-01-01T00:00:00+00:00"
_QUEUE = (
    "INSERT INTO outbox (team_id, chat_id, kind, update_id, payload, document, created_at, not_before) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING outbox_id"
)
#: Whether a chat has a message waiting before a given one (a retry, a group's pace, a hold).
_WAITING_BEFORE = "SELECT 1 FROM outbox WHERE status = 'pending' AND chat_id = ? AND outbox_id < ? LIMIT 1"


@dataclass(frozen=True)
class Queued:
    """A message an update queued, as it was committed: with nothing of its chat waiting before it,
    the sender may take it from here instead of reading the outbox for it (``Sender.kick``)."""

    outbox_id: int
    update_id: int
    message: OutgoingMessage
    payload_json: str


@dataclass
class OutgoingMessage:
    """A message the update wants sent: queued with the update's effect, delivered by the sender."""

    chat_id: int
    team_id: int | None
    payload: dict[str, Any]
    kind: str = "reply"
    document: bytes | None = None


class Unit:
    """One update's unit of work (see ``Store.unit``).

    The transaction begins at the first write and holds the write lock until the update is
    finished; replies wait in :attr:`messages` and go into the outbox in that transaction;
    calls that change what Telegram shows (answering a button, removing buttons) wait in
    :attr:`after` until it committed, so the write lock is never held across the network.
    """

    def __init__(self, store: Database, update_id: int) -> None:
        self.store = store
        self.update_id = update_id
        #: What this update read of rows it reads more than once (the person, the team), by
        #: key; the store forgets an entry when it writes that row (see ``bot.storage.teams``).
        self.reads: dict[tuple[Any, ...], Any] = {}
        self.began = False
        self.closed = False
        self.failed = False
        #: Another process finished this update first: nothing of this copy was kept.
        self.duplicate = False
        self.messages: list[OutgoingMessage] = []
        self.after: list[Callable[[], Awaitable[Any]]] = []
        self._savepoints = 0
        self._locked = False

    async def begin(self) -> aiosqlite.Connection:
        conn = self.store.writer
        if not self.began:
            await self.store._write_lock.acquire()
            self._locked = True
            try:
                await self.store.on_writer(self.store.begin)
            except BaseException:
                self.store._write_lock.release()
                self._locked = False
                raise
            self.began = True
        return conn

    async def begin_with(self, work: Callable[[sqlite3.Connection], Any], *, small: bool = False) -> Any:
        """The update's first write: BEGIN and ``work(connection)`` in one hop into the
        writer's thread (``small``: none, see ``Database.on_writer``). If ``work`` raises,
        nothing stays begun (as :meth:`undo` leaves it)."""
        await self.store._write_lock.acquire()
        self._locked = True
        store = self.store

        def first(db: sqlite3.Connection) -> Any:
            store.begin(db)
            try:
                return work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise

        try:
            result = await self.store.on_writer(first, small=small)
        except BaseException:
            self._release_lock()
            raise
        self.began = True
        return result

    async def undo(self) -> None:
        """Roll back what the update wrote so far; it may write again afterwards."""
        if self.began:
            try:
                await self.store.writer.execute("ROLLBACK")
            finally:
                self.began = False
                self._release_lock()

    def next_savepoint(self) -> str:
        self._savepoints += 1
        return f"u{self._savepoints}"

    def queue(self, message: OutgoingMessage) -> None:
        self.messages.append(message)

    def later(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Run ``call`` once the update committed (now, if it has not begun writing)."""
        self.after.append(call)

    async def fail(self) -> None:
        """A handler raised: undo everything it wrote, forget what it wanted to say."""
        self.failed = True
        await self.undo()
        self.messages.clear()
        self.after.clear()

    async def commit(self) -> None:
        """The effect, the replies and "done" in one transaction, in one call (on SQLite, on the
        event loop's thread: small work, bot/storage/db.py). The replies, with nothing of their
        chat waiting before them, go to the sender as committed (``Queued``)."""
        store = self.store
        now = iso(utc_now())
        rows = [(m.team_id, m.chat_id, m.kind, self.update_id, dumps(m.payload), m.document, now, _EPOCH)
                for m in self.messages]  # fmt: skip
        # Other replicas learn of the replies in this transaction (PostgreSQL; None on SQLite).
        notice = store.queued_notice([m.chat_id for m in self.messages]) if rows else None
        began = self.began
        if not began:
            await store._write_lock.acquire()
            self._locked = True
        queued: list[Queued] = []

        def finish(db: sqlite3.Connection) -> bool:
            if not began:
                store.begin(db)
            try:
                # Done: the payload is no longer needed (and may hold what a person typed). Only
                # if it was still new: another process sharing the database (a replica that was
                # handed the same update) may have finished it meanwhile, and then this update's
                # effect and replies are undone, never applied twice.
                done = db.execute(
                    "UPDATE inbox SET status = 'done', done_at = ?, payload = '' WHERE update_id = ? AND status = 'new'",
                    (now, self.update_id),
                ).rowcount
                if not done and db.execute("SELECT 1 FROM inbox WHERE update_id = ?", (self.update_id,)).fetchone():
                    db.execute("ROLLBACK")
                    return False
                ids = [db.execute(_QUEUE, row).fetchone()[0] for row in rows]
                first: dict[int, int] = {}
                for outbox_id, message in zip(ids, self.messages, strict=True):
                    first.setdefault(message.chat_id, outbox_id)
                waiting = {chat for chat, oid in first.items() if db.execute(_WAITING_BEFORE, (chat, oid)).fetchone()}
                queued[:] = [Queued(outbox_id, self.update_id, message, row[4])
                             for outbox_id, message, row in zip(ids, self.messages, rows, strict=True)
                             if message.chat_id not in waiting]  # fmt: skip
                if notice is not None:
                    db.execute(*notice)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return True

        try:
            # Small: a few rows by their keys, on the event loop's thread (bot/storage/db.py).
            applied = await store.on_writer(finish, small=True)
        finally:
            self.began = False
            self.closed = True
            self._release_lock()
        if not applied:
            log.info("update %s was processed elsewhere meanwhile: this copy changed nothing", self.update_id)
            self.duplicate = True
            self.messages.clear()
            self.after.clear()
            return
        if rows:
            store.signal_queued(queued)

    async def release(self) -> None:
        """After an error on the way out (cancelled, disk full): nothing of the update stays."""
        self.closed = True
        if self.began:
            try:
                await self.store.writer.execute("ROLLBACK")
            finally:
                self.began = False
                self._release_lock()

    def _release_lock(self) -> None:
        if self._locked:
            self._locked = False
            self.store._write_lock.release()

    async def run_after(self) -> None:
        for call in self.after:
            try:
                await call()
            except Exception:  # noqa: BLE001 - a button answer or an edit is a courtesy
                log.debug("a call after update %s failed", self.update_id, exc_info=True)


#: The unit of work of the update the current task is processing.
_UNIT: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("dingdan_unit", default=None)


def current_unit() -> Unit | None:
    return _UNIT.get()


@contextlib.contextmanager
def outside_unit() -> Iterator[None]:
    """Work that waits on another service between its writes (Amazon's API) commits as it
    goes instead of holding the update's transaction, and so the write lock, across the
    network. Only before the update wrote anything: its writes cannot be split afterwards."""
    unit = _UNIT.get()
    if unit is not None and unit.began:
        raise RuntimeError("outside_unit() after the update began writing")
    token = _UNIT.set(None)
    try:
        yield
    finally:
        _UNIT.reset(token)

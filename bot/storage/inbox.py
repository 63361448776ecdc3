"""The inbox: every update Telegram delivered, kept before its offset is confirmed, and the
unit of work each one is processed in (its effects, replies and "done" commit together)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from bot.storage.db import READERS, Database
from bot.storage.outbox import OUTBOX_KEPT
from bot.storage.unit import _UNIT, Unit
from bot.storage.values import iso, utc_now

#: How long processed updates (and edit notices) are kept: Telegram keeps updates for a day.
INBOX_KEPT = timedelta(days=7)


class InboxTables(Database):
    """The inbox and edit-notice tables, and the unit of work per update (part of ``Store``)."""

    def __init__(self, path: Path | str, *, readers: int = READERS) -> None:
        super().__init__(path, readers=readers)
        #: Updates being processed now: a second copy (redelivered, or found at start) waits its turn out.
        self._in_flight: set[int] = set()
        #: Updates this process stored as new and has not started yet.
        self._fresh: set[int] = set()

    @asynccontextmanager
    async def unit(self, update_id: int) -> AsyncIterator[Unit | None]:
        """Process one update as one unit of work: its effects, its replies and the inbox's
        "done" commit together, or not at all. Yields None when the update was done already
        (Telegram delivered it again, or a restart found it twice).
        """
        if update_id in self._in_flight:
            yield None
            return
        self._in_flight.add(update_id)  # before the first await: a second copy sees it
        try:
            if update_id in self._fresh:
                self._fresh.discard(update_id)  # just stored by this process: new
            elif await self.inbox_status(update_id) not in (None, "new"):
                yield None
                return
            unit = Unit(self, update_id)
            token = _UNIT.set(unit)
            try:
                yield unit
                await unit.commit()
            finally:
                _UNIT.reset(token)
                await unit.release()
        finally:
            self._in_flight.discard(update_id)
        await unit.run_after()

    async def store_updates(self, updates: Sequence[tuple[int, str]], now: datetime) -> set[int]:
        """Keep what Telegram delivered before its offset is confirmed; an update seen again is ignored.
        Returns the ids that were new (a webhook hands on only those: bot/webhook.py)."""
        if not updates:
            return set()
        ids = [update_id for update_id, _ in updates]

        def keep(db: sqlite3.Connection) -> set[int]:
            self.begin(db)
            try:
                marks = ", ".join("?" * len(ids))
                known = {r[0] for r in db.execute(f"SELECT update_id FROM inbox WHERE update_id IN ({marks})", ids)}
                db.executemany("INSERT INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)",
                               [(u, payload, iso(now)) for u, payload in updates if u not in known])  # fmt: skip
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return set(ids) - known

        async with self._write_lock:
            # Those are new for sure: processing them needs no look-up of their status.
            # Small (at most a getUpdates' 100 rows by their keys): on the event loop's thread.
            fresh = await self.on_writer(keep, small=True)
            self._fresh.update(fresh)
        return fresh

    async def unfinished_updates(self, max_attempts: int) -> list[tuple[int, str]]:
        """Updates a stop or crash left unprocessed, oldest first; each call counts an attempt.

        One that was interrupted ``max_attempts`` times (it may be what kills the process) is
        given up as 'failed' and logged by the caller, so it cannot stop the desk for good.
        """
        async with self.transaction(standalone=True) as tx:
            await tx.execute("UPDATE inbox SET attempts = attempts + 1 WHERE status = 'new'")
            await tx.execute(
                "UPDATE inbox SET status = 'failed' WHERE status = 'new' AND attempts > ?", (max_attempts,)
            )
            async with tx.execute(
                "SELECT update_id, payload FROM inbox WHERE status = 'new' ORDER BY update_id"
            ) as cur:
                return [(r[0], r[1]) for r in await cur.fetchall()]

    async def new_updates(self, limit: int = 500) -> list[int]:
        """Updates still 'new' that this process is neither processing nor about to (several
        replicas: one that died leaves its updates 'new'; see ``bot.replicas``)."""
        rows = await self.fetchall("SELECT update_id FROM inbox WHERE status = 'new' ORDER BY update_id LIMIT ?",
                                   (limit,))  # fmt: skip
        return [r[0] for r in rows if r[0] not in self._in_flight and r[0] not in self._fresh]

    async def take_over_updates(self, update_ids: Sequence[int], max_attempts: int) -> list[tuple[int, str]]:
        """Updates another replica left 'new', to process here, oldest first; each call counts
        an attempt, and one tried more than ``max_attempts`` times is given up as 'failed' (as
        :meth:`unfinished_updates` does at start)."""
        if not update_ids:
            return []
        marks = ", ".join("?" * len(update_ids))
        ids = list(update_ids)
        async with self.transaction(standalone=True) as tx:
            await tx.execute(
                f"UPDATE inbox SET attempts = attempts + 1 WHERE status = 'new' AND update_id IN ({marks})", ids
            )
            await tx.execute(
                f"UPDATE inbox SET status = 'failed' WHERE status = 'new' AND attempts > ? AND update_id IN ({marks})",
                (max_attempts, *ids),
            )
            async with tx.execute(
                f"SELECT update_id, payload FROM inbox WHERE status = 'new' AND update_id IN ({marks}) "
                "ORDER BY update_id",
                ids,
            ) as cur:
                return [(r[0], r[1]) for r in await cur.fetchall()]

    async def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Forget what is no longer needed (README, "What you can rely on"): processed updates
        after ``INBOX_KEPT`` (Telegram redelivers an update only until the bot confirms it, and
        keeps none for more than a day), delivered or given-up messages after ``OUTBOX_KEPT``,
        edit notices after ``INBOX_KEPT``. Pending and held messages are never purged."""
        now = now or utc_now()
        async with self.transaction() as tx:
            counts = {}
            for table, sql, params in (
                ("inbox", "DELETE FROM inbox WHERE status != 'new' AND coalesce(done_at, received_at) < ?",
                 (iso(now - INBOX_KEPT),)),
                ("outbox", "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?",
                 (iso(now - OUTBOX_KEPT),)),
                ("edit_notices", "DELETE FROM edit_notices WHERE at < ?", (iso(now - INBOX_KEPT),)),
            ):  # fmt: skip
                cur = await tx.execute(sql, params)
                counts[table] = cur.rowcount
        return counts

    async def inbox_status(self, update_id: int) -> str | None:
        row = await self.fetchone("SELECT status FROM inbox WHERE update_id = ?", (update_id,))
        return row[0] if row else None

    async def first_edit_notice(self, chat_id: int, message_id: int, now: datetime) -> bool:
        """True the first time an edit of this message is answered."""
        async with self.transaction() as tx:
            cur = await tx.execute(
                "INSERT OR IGNORE INTO edit_notices (chat_id, message_id, at) VALUES (?, ?, ?)",
                (chat_id, message_id, iso(now)),
            )
            return bool(cur.rowcount)

"""The outbox: replies, files and alerts waiting for the sender, each sent once, in order per chat."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from bot.storage.db import Database
from bot.storage.values import iso

#: How long delivered messages are kept, to look into what the bot said.
OUTBOX_KEPT = timedelta(days=30)
#: How long a replica's claim on the messages it is about to send runs (each look at the chat's
#: queue renews it): far longer than one attempt at sending, so only a replica stalled or dead
#: lets it run out.
CLAIM = timedelta(seconds=60)


class Claim(NamedTuple):
    """Who claims the messages read (a replica's id) and when, on the replicas' wall clock (UTC):
    a claim is about a process being alive, not the desk's business time."""

    by: str
    at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """A message in the outbox as the sender reads it."""

    outbox_id: int
    team_id: int | None
    chat_id: int
    payload_json: str
    attempts: int
    kind: str = "alert"
    update_id: int | None = None
    document: bytes | None = None

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        """Read when the message is sent, not each time the queue is looked at."""
        return json.loads(self.payload_json)


class Outbox:
    """What the sender reads and marks (replies are queued by the unit of work, alerts by
    ``AlertStore.record``), on the store's connections."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def due_messages(self, now: datetime, limit: int = 64, *, skip_chats: Iterable[int] = ()) -> list[OutboxRow]:
        """Messages due now, oldest first; a chat's messages keep their order (one waiting for a
        retry holds back the later ones of its chat). ``skip_chats``: chats being sent to now."""
        skip = list(skip_chats)
        not_busy = f" AND o.chat_id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        rows = await self.store.fetchall(
            "SELECT o.outbox_id, o.team_id, o.chat_id, o.payload, o.attempts, o.kind, o.update_id, o.document "
            "FROM outbox o WHERE o.status = 'pending' AND o.not_before <= ?" + not_busy + " AND NOT EXISTS ("
            "SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.chat_id = o.chat_id "
            "AND p.outbox_id < o.outbox_id AND p.not_before > ?) ORDER BY o.outbox_id LIMIT ?",
            (iso(now), *skip, iso(now), limit),
        )
        return [OutboxRow(*r) for r in rows]

    async def due_queues(self, now: datetime, *, chats: int = 32, per_chat: int = 100, skip_chats: Iterable[int] = (),
                         only_chat: int | None = None, shards: tuple[int, Sequence[int]] | None = None,
                         claim: Claim | None = None, small: bool = False) -> list[list[OutboxRow]]:  # fmt: skip
        """Each chat's due messages in order (at most ``per_chat``), for at most ``chats`` chats,
        the chat that waits longest first: one busy chat never fills the read and hides the
        others. ``only_chat``: that chat's queue alone. ``shards``: (count, the shards): only the
        chats whose ``abs(chat_id) % count`` is one of them (a replica's share, bot/replicas.py).
        Files come without their bytes (see :meth:`document`).

        ``claim``: the messages read are claimed for ``claim.by`` for :data:`CLAIM` (see
        :meth:`_claim`), in the same hop; messages another replica claims, and the later ones of
        their chats, are left out.

        ``small``: few messages are pending (the caller's last read found few): the read runs on
        the event loop's thread (bot/storage/db.py). A backlog of thousands is read on a thread:
        every pending message is ordered before the first chats are taken."""
        sql, params = _due_queues_query(now, per_chat=per_chat, skip_chats=skip_chats, only_chat=only_chat,
                                        shards=shards, claim=claim)  # fmt: skip
        small = small or only_chat is not None  # one chat's queue: at most ``per_chat`` rows
        if claim is None:
            return _queues(await self.store.fetchall(sql, params, small=small), chats)

        def work(db: Any) -> list[list[OutboxRow]]:
            return self._claim(db, _queues(db.execute(sql, params).fetchall(), chats), claim)

        return await self.store.write_in_one(work, writer_lock=False, small=small)

    async def sent_then_due(self, outbox_id: int, message_id: int, now: datetime, chat_id: int, *,
                            per_chat: int = 100, claim: Claim | None = None) -> list[OutboxRow]:  # fmt: skip
        """:meth:`sent`, then the chat's due messages as ``due_queues(only_chat=chat_id)`` reads
        them (and, with ``claim``, claims them: a renewal of what was claimed, and what was
        queued since), in one hop into the writer's thread instead of two (the sender's next
        look at the chat comes with marking what it sent)."""
        sql, params = _due_queues_query(now, per_chat=per_chat, only_chat=chat_id, claim=claim)

        def work(db: Any) -> list[list[OutboxRow]]:
            db.execute(_SENT, (iso(now), message_id, outbox_id))
            queues = _queues(db.execute(sql, params).fetchall(), 1)
            return queues if claim is None else self._claim(db, queues, claim)

        queues = await self.store.write_in_one(work, writer_lock=claim is None, small=True)
        return queues[0] if queues else []

    def _claim(self, db: Any, queues: list[list[OutboxRow]], claim: Claim) -> list[list[OutboxRow]]:
        """Claim the messages of ``queues`` (read in this transaction) for ``claim.by`` until
        ``claim.at + CLAIM``; the queues as claimed.

        On PostgreSQL the claim runs beside other replicas' transactions (not under the writers'
        lock): the messages read are locked ``FOR UPDATE SKIP LOCKED`` and checked again on
        their latest version (still pending, not claimed by another replica since the read). One
        another transaction holds (another replica claiming or marking it) is skipped, not waited
        for, and so is the rest of its chat's queue: a chat's later message never goes before an
        earlier one. (Hence the read, then the lock, rather than one UPDATE ... RETURNING: a
        skipped earlier message would not hold back a later one there.) SQLite has one writer,
        this transaction: what it read is what it claims."""
        ids = [r.outbox_id for q in queues for r in q]
        if not ids:
            return queues
        if self.store.dialect == "pg":
            marks = ", ".join("?" * len(ids))
            free = {row[0] for row in db.execute(
                f"SELECT outbox_id FROM outbox WHERE outbox_id IN ({marks}) AND status = 'pending' "
                "AND (claimed_until IS NULL OR claimed_until <= ? OR claimed_by = ?) "
                "ORDER BY outbox_id FOR UPDATE SKIP LOCKED", (*ids, iso(claim.at), claim.by)).fetchall()}  # fmt: skip
            kept = []
            for queue in queues:
                n = 0
                while n < len(queue) and queue[n].outbox_id in free:
                    n += 1
                if n:
                    kept.append(queue[:n])
            queues = kept
            ids = [r.outbox_id for q in queues for r in q]
            if not ids:
                return queues
        marks = ", ".join("?" * len(ids))
        db.execute(f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE outbox_id IN ({marks})",
                   (claim.by, iso(claim.at + CLAIM), *ids))  # fmt: skip
        return queues

    async def unclaim(self, chat_id: int, by: str) -> None:
        """The chat's messages ``by`` claimed and is not sending now are free for whoever sends
        to the chat next (this replica later, or the next holder of its shard)."""

        def work(db: Any) -> None:
            db.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE status = 'pending' AND chat_id = ? "
                "AND claimed_by = ?",
                (chat_id, by),
            )

        await self.store.write_in_one(work, writer_lock=False, small=True)

    async def document(self, outbox_id: int) -> bytes | None:
        """The bytes of a queued file."""
        row = await self.store.fetchone("SELECT document FROM outbox WHERE outbox_id = ?", (outbox_id,))
        return None if row is None else row[0]

    async def sent_together(self, outbox_ids: Sequence[int], message_id: int, now: datetime) -> None:
        """Several queued replies went out as one message: all of them are sent, in one
        transaction (a crash leaves either all of them pending or none)."""
        async with self.store.transaction() as tx:
            for outbox_id in outbox_ids:
                await tx.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
                    "document = NULL, claimed_by = NULL, claimed_until = NULL WHERE outbox_id = ? AND status = 'pending'",
                    (iso(now), message_id, outbox_id),
                )

    async def sent(self, outbox_id: int, message_id: int, now: datetime) -> None:
        """Mark one message sent (small work: on SQLite, on the event loop's thread)."""

        def work(db: Any) -> None:
            db.execute(_SENT, (iso(now), message_id, outbox_id))

        await self.store.write_in_one(work, small=True)

    async def give_up(self, outbox_id: int, error: str) -> None:
        """Telegram will never take this message (the person blocked the bot, the text is refused)."""
        await self.store.execute_write(
            "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1, claimed_by = NULL, "
            "claimed_until = NULL WHERE outbox_id = ?",
            (error, outbox_id),
        )

    async def retry(self, outbox_id: int, not_before: datetime, error: str) -> None:
        await self.store.execute_write(
            "UPDATE outbox SET not_before = ?, last_error = ?, attempts = attempts + 1, claimed_by = NULL, "
            "claimed_until = NULL WHERE outbox_id = ?",
            (iso(not_before), error, outbox_id),
        )

    async def unreachable(self, team_id: int, now: datetime, error: str) -> None:
        """The bot was removed from the group or blocked: hold its messages, keep serving the others."""
        async with self.store.transaction() as tx:
            await tx.execute("UPDATE teams SET unreachable_since = ? WHERE team_id = ?", (iso(now), team_id))
            # Replies into the group carry its chat id (a team's id is its group's chat id).
            await tx.execute(
                "UPDATE outbox SET status = 'held', last_error = ?, claimed_by = NULL, claimed_until = NULL "
                "WHERE status = 'pending' AND (team_id = ? OR chat_id = ?)",
                (error, team_id, team_id),
            )

    async def reachable(self, team_id: int, now: datetime) -> None:
        """The bot is back in the group: what was held is sent."""
        async with self.store.transaction() as tx:
            await tx.execute("UPDATE teams SET unreachable_since = NULL WHERE team_id = ?", (team_id,))
            await tx.execute(
                "UPDATE outbox SET status = 'pending', not_before = ? WHERE status = 'held' "
                "AND (team_id = ? OR chat_id = ?)",
                (iso(now), team_id, team_id),
            )
            if (notice := self.store.queued_notice(None)) is not None:
                await tx.execute(*notice)  # the team's chats may be any replica's (PostgreSQL)
        self.store.signal_queued()


_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
    "document = NULL, claimed_by = NULL, claimed_until = NULL WHERE outbox_id = ?"
)


def _due_queues_query(now: datetime, *, per_chat: int, skip_chats: Iterable[int] = (), only_chat: int | None = None,
                      shards: tuple[int, Sequence[int]] | None = None,
                      claim: Claim | None = None) -> tuple[str, tuple[Any, ...]]:  # fmt: skip
    """The read behind :meth:`Outbox.due_queues` and :meth:`Outbox.sent_then_due`. With ``claim``,
    a message another replica claims is not due here, nor are the later ones of its chat."""
    skip = list(skip_chats)
    not_busy = f" AND o.chat_id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
    if only_chat is not None:
        not_busy += " AND o.chat_id = ?"
        skip.append(only_chat)
    if shards is not None:
        count, some = shards
        not_busy += f" AND abs(o.chat_id) % {int(count)} IN ({', '.join(str(int(k)) for k in some) or 'NULL'})"
    free = held_back = ""
    claimed: tuple[Any, ...] = ()
    if claim is not None:
        free = " AND (o.claimed_until IS NULL OR o.claimed_until <= ? OR o.claimed_by = ?)"
        held_back = " OR (p.claimed_until > ? AND p.claimed_by <> ?)"
        claimed = (iso(claim.at), claim.by)
    sql = (
        "SELECT outbox_id, team_id, chat_id, payload, attempts, kind, update_id FROM ("
        "SELECT o.*, ROW_NUMBER() OVER (PARTITION BY o.chat_id ORDER BY o.outbox_id) AS n, "
        "MIN(o.outbox_id) OVER (PARTITION BY o.chat_id) AS head "
        "FROM outbox o WHERE o.status = 'pending' AND o.not_before <= ?" + not_busy + free + " AND NOT EXISTS ("
        "SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.chat_id = o.chat_id "
        "AND p.outbox_id < o.outbox_id AND (p.not_before > ?" + held_back + "))) WHERE n <= ? ORDER BY head, outbox_id"
    )
    return sql, (iso(now), *skip, *claimed, iso(now), *claimed, per_chat)


def _queues(rows: Sequence[Any], chats: int) -> list[list[OutboxRow]]:
    """Rows of :func:`_due_queues_query` as each chat's queue, for at most ``chats`` chats."""
    queues: dict[int, list[OutboxRow]] = {}
    for r in rows:
        chat_id = r[2]
        if chat_id not in queues and len(queues) >= chats:
            break
        queues.setdefault(chat_id, []).append(OutboxRow(*r))
    return list(queues.values())

"""A reply queued by one replica wakes the sender of the chat's owner at once (PostgreSQL, issue 13).

Several replicas share one PostgreSQL; only the holder of a chat's shard sends to it. A
transaction that queues outbox messages also says so, with ``SELECT pg_notify('dingdan_outbox',
'<shards>')`` as one more statement of the same transaction (:func:`notice`): PostgreSQL delivers
it at the commit and drops it on a rollback, so a notification always names messages that are
there. The payload is the queued chats' shards (``abs(chat_id) % 16``, comma-separated; empty:
look at every chat).

Each replica listens on a connection of its own (:class:`OutboxListener`, psycopg's
``AsyncConnection`` in the event loop) and is told the shards named by the other processes'
commits (its own writer's are left out: the commit already woke the local sender,
``Database.signal_queued``); the replica kicks its sender when one is its own
(``bot.replicas.Replicas.queued_elsewhere``). The sender's idle look at the outbox every second
stays as the fallback: for a lost connection (re-opened with a backoff, a warning once) and for
what is queued without a notice.

SQLite has nothing of this: one process, whose commits kick its sender themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any

import psycopg

from bot.storage.pg import redact

log = logging.getLogger(__name__)

#: The channel a commit that queued outbox messages notifies.
CHANNEL = "dingdan_outbox"
#: The shards the payload names (``bot.replicas.SHARDS``; a test keeps the two equal).
SHARDS = 16
#: The statement, in the store's spelling (``bot.storage.pg.translate`` makes it PostgreSQL's).
NOTIFY_SQL = "SELECT pg_notify(?, ?)"
#: How long a listener waits before connecting again: doubled after each failure, up to the last.
BACKOFF = (0.5, 30.0)

#: What the listener is told: the shards named (None: any chat may have messages now).
OnNotice = Callable[[frozenset[int] | None], None]


def payload(chat_ids: Iterable[int] | None) -> str:
    """The shards of ``chat_ids``, comma-separated and sorted; empty for None (look at all)."""
    if chat_ids is None:
        return ""
    return ",".join(str(k) for k in sorted({abs(c) % SHARDS for c in chat_ids}))


def shards_in(text: str) -> frozenset[int] | None:
    """The shards a payload names; None when it names none (or is not ours to read): look at all."""
    try:
        shards = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        return None
    return shards or None


def notice(dialect: str, chat_ids: Iterable[int] | None) -> tuple[str, tuple[str, str]] | None:
    """The statement that tells the other replicas messages were queued for ``chat_ids``, to run
    in the transaction that queues them; None on SQLite (nobody else to tell)."""
    if dialect != "pg":
        return None
    return NOTIFY_SQL, (CHANNEL, payload(chat_ids))


class OutboxListener:
    """``LISTEN dingdan_outbox`` on a connection of its own, for as long as it runs."""

    def __init__(self, url: str, on_notice: OnNotice, *, own_pids: Callable[[], Collection[int]] = frozenset,
                 backoff: tuple[float, float] = BACKOFF) -> None:  # fmt: skip
        self.url = url
        self.on_notice = on_notice
        #: The server processes whose notices this replica ignores (its own writer's).
        self.own_pids = own_pids
        self.backoff = backoff
        #: Notices from other processes passed on, connections made, attempts failed (tests, logs).
        self.notices = 0
        self.connections = 0
        self.failures = 0
        #: Set while the connection listens; ``_tried`` once the first connection listens or failed.
        self.listening = asyncio.Event()
        self._tried = asyncio.Event()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen from now on (in the background); returns once the first connection listens or failed."""
        self._task = asyncio.create_task(self._run(), name="dingdan-outbox-listener")
        await self._tried.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close()

    async def _close(self) -> None:
        self.listening.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _run(self) -> None:
        delay, longest = self.backoff
        troubled = False
        while True:
            try:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, application_name="dingdan-listener", connect_timeout=10
                )
                await self._conn.execute(f"LISTEN {CHANNEL}")
                self.connections += 1
                self.listening.set()
                self._tried.set()
                if troubled:
                    log.info("listening for messages other replicas queue again")
                    troubled, delay = False, self.backoff[0]
                if self.connections > 1:
                    self.on_notice(None)  # what was queued while nobody listened: look at every chat
                async for note in self._conn.notifies():
                    if note.pid in self.own_pids():
                        continue  # this replica's own commit: its sender was kicked already
                    self.notices += 1
                    self.on_notice(shards_in(note.payload))
                raise psycopg.OperationalError("the connection stopped delivering notifications")
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - the sender polls meanwhile; listening resumes
                self.failures += 1
                if not troubled:  # once per outage; the sender's idle look covers it meanwhile
                    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    log.warning("not listening for messages other replicas queue (%s): they wait for this replica's "
                                "next look at the outbox until the connection is back; trying again",
                                redact(reason))  # fmt: skip
                troubled = True
                self._tried.set()
            finally:
                await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

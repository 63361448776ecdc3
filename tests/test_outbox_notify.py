"""A reply queued by one replica wakes the chat owner's sender at once (issue 13; bot/storage/notify.py).

On PostgreSQL the transaction that queues outbox messages also NOTIFYs ``dingdan_outbox`` with
the shards of their chats; each replica LISTENs on a connection of its own and kicks its sender
when a shard named is its own. A rolled-back transaction notifies nothing. SQLite: no listener.

No test here measures time: each waits (with a deadline) for what must happen, and the senders
under test look at the outbox only when kicked (``IDLE`` an hour), so a reply that arrives was
fetched because of the notification, which a counter confirms.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bot.durable
from bot.durable import Sender
from bot.replicas import SHARDS, Replicas, shard_of
from bot.storage import AlertStore, Store, notify
from bot.storage.notify import OutboxListener, payload, shards_in
from bot.storage.unit import OutgoingMessage
from tests.support.scenario import MIC

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WAIT = 30.0  # a deadline for what must happen, not a measure


class Notices:
    """What a listener was told, in order."""

    def __init__(self) -> None:
        self.seen: list[frozenset[int] | None] = []
        self._changed = asyncio.Event()

    def __call__(self, shards: frozenset[int] | None) -> None:
        self.seen.append(shards)
        self._changed.set()

    async def wait(self, count: int) -> list[frozenset[int] | None]:
        async with asyncio.timeout(WAIT):
            while len(self.seen) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.seen


@pytest.fixture
async def two_stores(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two replicas' stores on one PostgreSQL database (each its own connections)."""
    a, b = Store(pg_url), Store(pg_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def queue_reply(store: Store, update_id: int, chat_id: int, text: str, *, fail: bool = False) -> None:
    """An update processed on ``store`` whose unit queues one reply (and raises, with ``fail``)."""

    async with store.unit(update_id) as unit:
        assert unit is not None
        unit.queue(OutgoingMessage(chat_id=chat_id, team_id=None, payload={"text": text}))
        if fail:
            raise RuntimeError("the handler failed")


def test_the_payload_names_the_shards_of_the_replicas() -> None:
    assert notify.SHARDS == SHARDS
    chats = [-1001234567890, 70001, 70017, -1001234567906]
    assert payload(chats) == ",".join(str(k) for k in sorted({shard_of(c) for c in chats}))
    assert shards_in(payload(chats)) == frozenset(shard_of(c) for c in chats)
    assert payload(None) == "" and shards_in("") is None  # look at every chat
    assert shards_in("3,x") is None  # not ours to read: look at every chat


async def test_a_commit_queuing_a_reply_wakes_a_listener_on_another_connection(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = two_stores
    told = Notices()
    listener = b.outbox_listener(told)
    assert listener is not None
    await listener.start()
    try:
        assert listener.listening.is_set()
        await queue_reply(a, 1, 70003, "first")
        assert await told.wait(1) == [frozenset({shard_of(70003)})]
        # A unit that fails is rolled back whole: its reply and its notice alike.
        with pytest.raises(RuntimeError):
            await queue_reply(a, 2, 70005, "never", fail=True)
        # A copy of an update another replica finished first changes nothing, says nothing.
        await a.store_updates([(3, "{}")], T0)
        await b.execute_write("UPDATE inbox SET status = 'done' WHERE update_id = 3")
        await queue_reply(a, 3, 70006, "a duplicate")
        await queue_reply(a, 4, -1001234567890, "second")  # notices arrive in commit order
        assert await told.wait(2) == [frozenset({shard_of(70003)}), frozenset({shard_of(-1001234567890)})]
        # An alert queued by the alert check notifies its chat's shard too.
        await a.execute_write("INSERT INTO teams (team_id, timezone, started_at) VALUES (?, 'UTC', ?)",
                              (-1001234567899, T0.isoformat()))  # fmt: skip
        await AlertStore(a).record(-1001234567899, -1001234567899, [], [{"text": "alert"}], T0)
        assert (await told.wait(3))[2] == frozenset({shard_of(-1001234567899)})
        assert listener.notices == 3
    finally:
        await listener.stop()
    texts = [json.loads(r[0])["text"] for r in await a.fetchall("SELECT payload FROM outbox ORDER BY outbox_id")]
    assert texts == ["first", "second", "alert"]


async def test_a_replica_is_not_told_of_its_own_commits(two_stores: tuple[Store, Store]) -> None:
    """Its commit kicked its sender already (``signal_queued``): its listener leaves it out."""
    a, b = two_stores
    told = Notices()
    listener = a.outbox_listener(told)
    assert listener is not None
    await listener.start()
    try:
        await queue_reply(a, 1, 70001, "mine")
        await queue_reply(b, 2, 70002, "theirs")
        assert await told.wait(1) == [frozenset({shard_of(70002)})]
        assert listener.notices == 1
    finally:
        await listener.stop()


async def test_a_listener_whose_connection_drops_listens_again(two_stores: tuple[Store, Store],
                                                               caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    a, b = two_stores
    told = Notices()
    listener = b.outbox_listener(told)
    assert listener is not None
    listener.backoff = (0.05, 0.05)
    await listener.start()
    try:
        for _ in range(2):  # dropped twice: a warning each time, no traceback
            pids = [r[0] for r in await a.fetchall(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'dingdan-listener'")]  # fmt: skip
            assert len(pids) == 1
            await a.fetchall("SELECT pg_terminate_backend(?)", (pids[0],))
            connections = listener.connections
            async with asyncio.timeout(WAIT):
                while listener.connections == connections:
                    await asyncio.sleep(0.01)
        # Back: what was queued while nobody listened is looked for everywhere, then notices flow again.
        assert told.seen == [None, None]
        await queue_reply(a, 1, 70004, "after")
        assert (await told.wait(3))[2] == frozenset({shard_of(70004)})
    finally:
        await listener.stop()
    warnings = [r for r in caplog.records if r.name == "bot.storage.notify" and r.levelname == "WARNING"]
    assert len(warnings) == 2 and not any(r.exc_info for r in warnings), warnings


async def test_a_listener_that_cannot_connect_warns_once_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nobody at the address: the listener tries again and again (with a backoff), warns once, and
    the URL's password is never in the log. The sender's idle look covers the outage."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    told = Notices()
    listener = OutboxListener(f"postgresql://desk:s3cret-pw@127.0.0.1:{port}/desk", told, backoff=(0.01, 0.02))
    await listener.start()  # returns after the first attempt failed
    try:
        async with asyncio.timeout(WAIT):
            while listener.failures < 4:
                await asyncio.sleep(0.01)
        assert not listener.listening.is_set() and told.seen == []
    finally:
        await listener.stop()
    warnings = [r for r in caplog.records if r.name == "bot.storage.notify"]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING" and not warnings[0].exc_info, warnings
    assert "s3cret-pw" not in caplog.text


class FakeBot:
    """Telegram as the sender sees it: takes every message."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Any:
        self.sent.append((chat_id, text))
        return SimpleNamespace(message_id=len(self.sent))


async def test_the_owners_sender_sends_a_reply_another_replica_queued_when_told(
    two_stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas: b holds half the shards; a processes updates for chats of both halves. b's
    sender looks at the outbox only when kicked: a's reply to b's chat is sent by b because a's
    commit told it, and a's reply to a chat of a's own does not wake b."""
    monkeypatch.setattr(bot.durable, "IDLE", 3600.0)
    a, b = two_stores
    ra, rb = Replicas(a, replica_id="a"), Replicas(b, replica_id="b")
    await ra.start()
    await rb.start()
    sender = Sender(FakeBot(), AlertStore(b), lambda: T0)  # type: ignore[arg-type]
    sender.partition = rb
    rb.listener = b.outbox_listener(rb.queued_elsewhere)
    rb.wake = sender.kick
    try:
        await ra.tick()
        await rb.tick()
        await ra.tick()
        assert len(ra.owned()) == len(rb.owned()) == SHARDS // 2
        assert rb.listener is not None
        await rb.listener.start()
        sender.start()
        theirs = next(c for c in range(70000, 70000 + SHARDS) if rb.owns_chat(c))
        ours = next(c for c in range(70000, 70000 + SHARDS) if ra.owns_chat(c))
        await queue_reply(a, 1, ours, "for a's chat")
        await queue_reply(a, 2, theirs, "for b's chat")
        async with asyncio.timeout(WAIT):
            while not sender.bot.sent:  # type: ignore[attr-defined]
                await asyncio.sleep(0.01)
        await sender.idle()
        assert sender.bot.sent == [(theirs, "for b's chat")]  # type: ignore[attr-defined]
        assert rb.listener.notices == 2 and rb.woken == 1
    finally:
        await sender.stop()
        await rb.stop()
        await ra.stop()
    assert rb.listener.listening.is_set() is False


async def test_a_desk_on_postgresql_sends_what_another_replica_queued_for_its_chats(
    team: Any, db_target: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real application: a desk alone on its PostgreSQL holds every shard; a reply another
    replica's unit queued for the team's group is sent by the desk, woken by the notice. On
    SQLite (one process) there is no listener."""
    t = team
    replicas = t.app.bot_data["replicas"]
    if isinstance(db_target, Path):
        assert replicas.listener is None
        return
    assert replicas.listener is not None and replicas.listener.listening.is_set()
    sender = t.app.bot_data["services"].sender
    monkeypatch.setattr(bot.durable, "IDLE", 3600.0)  # only a kick makes the sender look
    sender.kick()
    await t.api.wait_for(lambda: not sender._wake.is_set(), what="the sender's look after the kick")
    await sender.idle()
    start, woken = len(t.api.sent(t.group)), replicas.woken
    other = Store(db_target)
    await other.open()
    try:
        await queue_reply(other, 10**9 + 7, t.group.id, f"Order {MIC}: seen by another replica.")
    finally:
        await other.close()
    await t.api.wait_for(lambda: len(t.api.sent(t.group)) > start, what="the other replica's reply sent")
    assert [m["text"] for m in t.api.sent(t.group)[start:]] == [f"Order {MIC}: seen by another replica."]
    assert replicas.woken == woken + 1

"""The outbox's claims across replicas (issue 13, "The outbox is drained with FOR UPDATE SKIP LOCKED").

A replica's sender claims the messages it reads (``Outbox.due_queues(claim=...)``) for ``CLAIM``;
another replica's read leaves them out, and the later messages of their chats too, until they
are sent (the mark clears the claim) or the claim runs out (its replica stalled or died). On
PostgreSQL two claims running at once skip each other's locked rows instead of waiting. And a
replica that starts beside live ones does not process again what they are processing now
(``recover``): the inbox sweep's rule decides what was left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.durable import Sender, recover
from bot.replicas import SHARDS, Partition, Replicas, shard_of
from bot.storage import AlertStore, Store
from bot.storage.outbox import CLAIM, Claim, Outbox, OutboxRow
from bot.storage.values import iso
from tests.support.db import scalar
from tests.support.desk import settled
from tests.support.fakebotapi import user_entities, wire
from tests.support.scenario import MIC

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=1)  # the desk's clock: every message below is due
A, B = -1001234567890, 70001  # a group and a person


@pytest.fixture
async def stores(db_target: Path | str) -> AsyncIterator[tuple[Store, Store]]:
    """Two replicas' stores on one database."""
    one, two = Store(db_target), Store(db_target)
    await one.open()
    await two.open()
    try:
        yield one, two
    finally:
        await two.close()
        await one.close()


async def queue(store: Store, chat_id: int, text: str) -> int:
    async with store.transaction() as tx:
        cur = await tx.execute(
            "INSERT INTO outbox (team_id, chat_id, kind, payload, created_at, not_before) VALUES (NULL, ?, 'reply', ?, "
            "?, ?) RETURNING outbox_id",
            (chat_id, json.dumps({"text": text}), iso(T0), iso(T0)),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def ids(queues: list[list[OutboxRow]]) -> dict[int, list[int]]:
    return {q[0].chat_id: [r.outbox_id for r in q] for q in queues}


async def test_a_claimed_message_goes_to_one_replica_until_its_claim_runs_out(stores: tuple[Store, Store]) -> None:
    one, two = (Outbox(s) for s in stores)
    a1, a2, b1 = await queue(stores[0], A, "a1"), await queue(stores[0], A, "a2"), await queue(stores[0], B, "b1")

    def by(who: str, seconds: float = 0) -> Claim:
        return Claim(who, T0 + timedelta(seconds=seconds))

    assert ids(await one.due_queues(NOW, claim=by("r1"))) == {A: [a1, a2], B: [b1]}
    assert await two.due_queues(NOW, claim=by("r2", 10)) == []  # all of it is r1's
    # Queued since: its chat's earlier messages are r1's, so it waits for them (order per chat).
    a3 = await queue(stores[1], A, "a3")
    assert await two.due_queues(NOW, claim=by("r2", 10)) == []
    # r1's own claims do not hold r1 back: its next look takes what was queued since.
    assert ids(await one.due_queues(NOW, only_chat=A, claim=by("r1", 10))) == {A: [a1, a2, a3]}
    # Sent: the mark clears the claim, and the chat's next look renews the rest.
    assert [r.outbox_id for r in await one.sent_then_due(a1, 501, NOW, A, claim=by("r1", 20))] == [a2, a3]
    assert scalar(stores[0].path, "SELECT claimed_by FROM outbox WHERE outbox_id = ?", (a1,)) is None
    assert await two.due_queues(NOW, claim=by("r2", 30)) == []

    # r1 stalls: its claims on chat A (renewed at 20 s) and B (0 s) run out, and r2 takes them over.
    taken = await two.due_queues(NOW, claim=by("r2", CLAIM.total_seconds() + 1))
    assert ids(taken) == {B: [b1]}  # A's run 20 s longer
    taken = await two.due_queues(NOW, claim=by("r2", 20 + CLAIM.total_seconds()))
    assert ids(taken) == {A: [a2, a3], B: [b1]}
    assert await one.due_queues(NOW, claim=by("r1", 20 + CLAIM.total_seconds() + 1)) == []

    # r2 is told to retry a2 later: its claim is cleared, and a3 still waits behind it.
    await two.retry(a2, NOW + timedelta(minutes=5), "429 retry after 300 s")
    await two.unclaim(A, "r2")
    late = by("r1", 2 * CLAIM.total_seconds())
    assert ids(await one.due_queues(NOW, claim=late)) == {}  # b1 is r2's; a2 waits; a3 after a2
    assert ids(await one.due_queues(NOW + timedelta(minutes=5), claim=late)) == {A: [a2, a3]}


async def test_a_later_message_never_overtakes_one_claimed_elsewhere(stores: tuple[Store, Store]) -> None:
    one, two = (Outbox(s) for s in stores)
    a1, a2 = await queue(stores[0], A, "a1"), await queue(stores[0], A, "a2")
    b1 = await queue(stores[0], B, "b1")
    # r1 reads one message a chat: it claims a1 and b1 only.
    assert ids(await one.due_queues(NOW, per_chat=1, claim=Claim("r1", T0))) == {A: [a1], B: [b1]}
    # a2 is free, but a1 before it is r1's: r2 must not send a2 first.
    assert await two.due_queues(NOW, claim=Claim("r2", T0)) == []
    await one.sent(a1, 501, NOW)
    assert ids(await two.due_queues(NOW, claim=Claim("r2", T0))) == {A: [a2]}
    assert scalar(stores[0].path, "SELECT claimed_by FROM outbox WHERE outbox_id = ?", (a2,)) == "r2"


async def test_concurrent_claims_skip_each_others_locked_messages(pg_url: str) -> None:
    """PostgreSQL: while r1's claim is under way (its transaction holds a1 locked, not yet
    committed), r2's claim skips a1 instead of waiting for it, and with it a2 (the order of
    chat A), and takes chat B."""
    one, two = Store(pg_url), Store(pg_url)
    await one.open()
    await two.open()
    try:
        a1, a2, b1 = await queue(one, A, "a1"), await queue(one, A, "a2"), await queue(one, B, "b1")
        claimed, go = threading.Event(), threading.Event()
        released: list[bool] = []
        write_in_one = one.write_in_one

        async def paused(work: Any, **kwargs: Any) -> Any:
            def held(db: Any) -> Any:
                result = work(db)
                claimed.set()
                released.append(go.wait(60))  # True: r2 came back while r1's transaction was open
                return result

            return await write_in_one(held, **kwargs)

        one.write_in_one = paused  # type: ignore[method-assign]
        first = asyncio.create_task(Outbox(one).due_queues(NOW, per_chat=1, only_chat=A, claim=Claim("r1", T0)))
        assert await asyncio.to_thread(claimed.wait, 60)
        try:
            assert ids(await Outbox(two).due_queues(NOW, claim=Claim("r2", T0))) == {B: [b1]}
        finally:
            go.set()
        assert ids(await first) == {A: [a1]}
        assert released == [True]
        # Committed: a1 is r1's, a2 waits behind it; B is r2's.
        assert ids(await Outbox(two).due_queues(NOW, claim=Claim("r2", T0))) == {B: [b1]}
        assert scalar(pg_url, "SELECT claimed_by FROM outbox WHERE outbox_id = ?", (a2,)) is None
    finally:
        await two.close()
        await one.close()


# --- two senders, one chat, during a hand-over ----------------------------------------------------


class Fixed(Partition):
    """A replica that believes it owns these shards (two of them overlap during a hand-over)."""

    exclusive = False

    def __init__(self, replica_id: str, shards: set[int]) -> None:
        self.id = replica_id
        self.mine = frozenset(shards)

    def owned(self) -> frozenset[int]:
        return self.mine


class Bot:
    """Telegram as a sender sees it; ``held``: the first message waits until ``go`` is set."""

    def __init__(self, held: bool = False) -> None:
        self.sent: list[tuple[int, str]] = []
        self.asked, self.go = asyncio.Event(), asyncio.Event()
        if not held:
            self.go.set()

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Any:
        self.asked.set()
        await self.go.wait()
        self.sent.append((chat_id, text))
        return SimpleNamespace(message_id=len(self.sent))


async def until(predicate: Any, what: str) -> None:
    for _ in range(3000):
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_old_and_the_new_holder_of_a_shard_never_both_send_a_message(
    stores: tuple[Store, Store],
) -> None:
    """Replica 1 reads chat A's queue and is held up sending its first message; meanwhile
    replica 2 takes A's shard (both believe it theirs) and sends to another chat: it leaves A's
    messages, claimed by replica 1, alone. Each message goes once, in order."""
    texts = [f"a{n}" for n in range(3)]
    for text in texts:
        await queue(stores[0], A, text)
    slow, quick = Bot(held=True), Bot()
    first = Sender(slow, AlertStore(stores[0]), lambda: NOW)  # type: ignore[arg-type]
    first.partition = Fixed("r1", {shard_of(A)})
    second = Sender(quick, AlertStore(stores[1]), lambda: NOW)  # type: ignore[arg-type]
    second.partition = Fixed("r2", set(range(SHARDS)))
    first.start()
    try:
        await asyncio.wait_for(slow.asked.wait(), 30)  # replica 1 claimed A's queue and is sending a0
        await queue(stores[1], B, "b0")
        second.start()
        await until(lambda: asyncio.sleep(0, quick.sent), "replica 2 to send to B (its read after the claim)")
        slow.go.set()

        async def all_sent() -> bool:
            row = await stores[0].fetchone("SELECT count(*) FROM outbox WHERE status = 'pending'")
            return int(row[0]) == 0

        await until(all_sent, "every message sent")
    finally:
        await first.stop()
        await second.stop()
    assert slow.sent == [(A, t) for t in texts]
    assert quick.sent == [(B, "b0")]


# --- recover() beside live replicas -----------------------------------------------------------------


@pytest.mark.stores("pg")  # replicas share a PostgreSQL database (SQLite: one process, alone)
async def test_a_fresh_replica_leaves_a_live_replicas_update_to_it(team, monkeypatch) -> None:
    """On PostgreSQL, a replica starting (webhook mode) while another is alive does not process
    the other's update in progress: only the inbox sweep takes over what stayed 'new' too long.
    Alone, it takes every update left 'new' (as after a crash)."""
    t = team
    services = t.app.bot_data["services"]
    monkeypatch.setattr(
        services, "settings", dataclasses.replace(services.settings, webhook_url="https://desk.example/hook")
    )
    here: Replicas = t.app.bot_data["replicas"]
    monkeypatch.setattr(here, "exclusive", False)  # a webhook replica shares the database (a poller is alone)
    elsewhere_store = Store(t.db_path)
    await elsewhere_store.open()
    elsewhere = Replicas(elsewhere_store, replica_id="elsewhere-1-abcdef")
    try:
        await elsewhere.start()
        await here.tick()
        assert here.count == 2
        start = len(t.api.sent(t.group))
        text = f"/ship {MIC} UPS 1Z999AA10123456784"
        message = {"message_id": t.api._new_message_id(t.group.id), "from": t.alice.to_dict(),
                   "chat": t.group.to_dict(), "date": t.api._now(), "text": text,
                   "entities": user_entities(text)}  # fmt: skip
        t.api._store(t.group, message)  # delivered to the other replica, not here
        update_id = 10**9 + 7
        await elsewhere_store.store_updates(
            [(update_id, json.dumps({"update_id": update_id, "message": wire(message)}))], datetime.now(UTC)
        )  # stored elsewhere, being processed there
        assert await recover(t.app) == 0
        assert scalar(t.db_path, "SELECT status FROM inbox WHERE update_id = ?", (update_id,)) == "new"
        assert scalar(t.db_path, "SELECT attempts FROM inbox WHERE update_id = ?", (update_id,)) == 0
        assert update_id in here.sweeper._first_seen  # the sweep's clock for it runs from now
        assert t.goods(MIC) != "shipped"

        await elsewhere.stop()  # it went away; this replica is alone now
        await here.tick()
        assert here.count == 1
        assert await recover(t.app) == 1
        await settled(t.api, t.app)
        assert t.goods(MIC) == "shipped"
        assert scalar(t.db_path, "SELECT status FROM inbox WHERE update_id = ?", (update_id,)) == "done"
        assert [m["text"] for m in t.api.sent(t.group)[start:]] == [
            f"Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784."
        ]
    finally:
        await elsewhere.stop()
        await elsewhere_store.close()

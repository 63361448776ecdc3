"""Several replicas on one database (issue 13, point 3): the leases, the shares, the hand-over,
and the inbox sweep. Replicas here share one database and one wall clock the test moves; a
replica "dies" by no longer ticking (no release), and "stops" cleanly with ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.app import running
from bot.durable import DeskRateLimiter, Sender
from bot.replicas import LEASE, SHARDS, STALE_AFTER, TICK, InboxSweep, Replicas, shard_of
from bot.storage import AlertStore, Store
from bot.storage.values import iso
from tests.support.alerts import no_more_alerts, read, wait_alerts
from tests.support.db import opened, scalar
from tests.support.desk import desk_settings, settled
from tests.support.fakebotapi import user_entities, wire
from tests.support.scenario import MIC

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ALL = frozenset(range(SHARDS))
#: Group chats of teams (negative ids), and people's private chats.
TEAMS = [-1001234567890 - k for k in range(40)] + [70001 + k for k in range(10)]


class Wall:
    """The replicas' wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def store(db_target: Path | str) -> AsyncIterator[Store]:
    s = Store(db_target)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def shard_leases(db_target: Path | str) -> dict[int, str]:
    with opened(db_target) as conn:
        rows = conn.execute("SELECT name, holder FROM leases WHERE name LIKE 'shard:%'").fetchall()
    return {int(name.split(":")[1]): holder for name, holder in rows}


def check_disjoint(*replicas: Replicas) -> None:
    """Never two replicas acting on one shard at once."""
    seen: dict[int, str] = {}
    for r in replicas:
        for k in r.owned():
            assert k not in seen, f"shard {k} owned by {seen[k]} and {r.id}"
            seen[k] = r.id


async def tick(*replicas: Replicas) -> None:
    """Each replica ticks in turn (one may tick twice); after each, no shard has two owners."""
    everyone = list(dict.fromkeys(replicas))
    for r in replicas:
        await r.tick()
        check_disjoint(*everyone)


async def test_a_lease_changes_hands_only_when_it_ran_out(store: Store) -> None:
    until = T0 + LEASE
    assert await store.take("shard:3", "a", until, T0)
    assert not await store.take("shard:3", "b", until, T0)  # a holds it
    assert await store.take("shard:3", "a", until + timedelta(seconds=10), T0 + timedelta(seconds=10))  # renewed
    later = until + timedelta(seconds=11)  # a's lease ran out
    assert await store.take("shard:3", "b", later + LEASE, later)
    assert not await store.take("shard:3", "a", later + LEASE, later)  # a's renewal comes too late
    assert [(lease.name, lease.holder) for lease in await store.holders(later)] == [("shard:3", "b")]
    assert await store.release(["shard:3"], "a") == 0  # not a's to give back
    assert await store.release(["shard:3"], "b") == 1
    assert await store.holders(later) == []


async def test_shares_balance_and_follow_the_replicas(store: Store, db_target: Path | str) -> None:
    wall = Wall()
    a, b, c = (Replicas(store, clock=wall, replica_id=name) for name in "abc")
    await tick(a)
    assert a.owned() == ALL  # alone, it holds every shard
    await tick(b, a, b)  # b joins: a gives back its share's surplus, b takes it
    assert (len(a.owned()), len(b.owned())) == (8, 8)
    assert a.owned() | b.owned() == ALL
    assert (a.count, b.count) == (2, 2)
    wall.advance(TICK)
    await tick(c, a, b, c)
    assert [len(r.owned()) for r in (a, b, c)] == [6, 5, 5]
    assert a.owned() | b.owned() | c.owned() == ALL
    # The leases say the same as the replicas.
    leases = shard_leases(db_target)
    for r in (a, b, c):
        assert {k for k, holder in leases.items() if holder == r.id} == r.owned()
    # Every team and chat is one replica's, the holder of its shard's lease.
    for some_id in TEAMS:
        owners = [r.id for r in (a, b, c) if r.owns_team(some_id)]
        assert owners == [leases[shard_of(some_id)]]
        assert [r.id for r in (a, b, c) if r.owns_chat(some_id)] == owners
    # Steady: more ticks change nothing.
    before = [r.owned() for r in (a, b, c)]
    for _ in range(3):
        wall.advance(TICK)
        await tick(a, b, c)
    assert [r.owned() for r in (a, b, c)] == before


async def test_a_dead_replicas_shards_move_within_40_seconds(store: Store) -> None:
    wall = Wall()
    a, b = Replicas(store, clock=wall, replica_id="a"), Replicas(store, clock=wall, replica_id="b")
    await tick(a, b, a, b)
    assert (len(a.owned()), len(b.owned())) == (8, 8)
    last_renewal = wall.now  # b dies: it never ticks again and releases nothing
    moved_after = None
    for _ in range(6):
        wall.advance(TICK)
        await tick(a)
        check_disjoint(a, b)  # b, had it only stalled, stops acting before a takes over
        if a.owned() == ALL and moved_after is None:
            moved_after = wall.now - last_renewal
    assert moved_after is not None and moved_after <= timedelta(seconds=40)
    assert b.owned() == frozenset()
    assert a.count == 1


async def test_a_clean_stop_hands_over_at_the_next_tick(store: Store) -> None:
    wall = Wall()
    a, b = Replicas(store, clock=wall, replica_id="a"), Replicas(store, clock=wall, replica_id="b")
    await tick(a, b, a, b)
    await b.stop()
    assert b.owned() == frozenset()
    await tick(a)
    assert a.owned() == ALL


async def test_a_shard_at_work_is_not_given_away(store: Store) -> None:
    """A team in the middle of its check keeps its replica until the check ends."""
    wall = Wall()
    a, b = Replicas(store, clock=wall, replica_id="a"), Replicas(store, clock=wall, replica_id="b")
    await tick(a)
    team, busy = -1001234567899, -(10**12 + 15)  # shards 11 and 15: among those a gives back unless pinned
    assert (shard_of(team), shard_of(busy)) == (11, 15)
    with a.working(team) as mine, a.working(busy) as also_mine:
        assert mine and also_mine
        await tick(b, a, b)
        assert {11, 15} <= a.owned()
        assert len(a.owned()) == 8 and len(b.owned()) == 8
        check_disjoint(a, b)
    with b.working(busy) as theirs:
        assert not theirs


async def test_one_process_on_its_own_database_holds_everything_at_once(store: Store) -> None:
    """SQLite (one process under its lock): leases a crash left behind do not hold it up."""
    wall = Wall()
    crashed = Replicas(store, clock=wall, replica_id="crashed")
    await tick(crashed)
    alone = Replicas(store, clock=wall, replica_id="alone", exclusive=True)
    await alone.start()
    try:
        assert alone.owned() == ALL
        assert alone.owned_shards() is None  # nothing to filter by
        wall.advance(3600)  # a late tick (the loop was busy) loses nothing: nobody else can hold them
        assert alone.owned() == ALL
    finally:
        await alone.stop()


async def test_a_restart_inside_the_process_takes_its_past_lives_shards_back(store: Store) -> None:
    wall = Wall()
    past = Replicas(store, clock=wall, replica_id="host-42-aaaaaa")
    await tick(past)  # then the desk restarts without a clean stop
    now = Replicas(store, clock=wall, replica_id="host-42-bbbbbb")
    await now.start()
    try:
        assert now.owned() == ALL
        assert now.count == 1
    finally:
        await now.stop()


# --- the inbox across replicas ---------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_updates_another_replica_left_new_are_taken_over(db_target: Path | str) -> None:
    died, alive = Store(db_target), Store(db_target)
    await died.open()
    await alive.open()
    try:
        payloads = {u: f'{{"update_id": {u}}}' for u in (501, 502, 503)}
        await died.store_updates(list(payloads.items()), T0)  # stored, never processed
        await alive.store_updates([(504, '{"update_id": 504}')], T0)  # alive's own, on its way
        fed: list[tuple[int, str]] = []

        async def feed(pending: list[tuple[int, str]]) -> None:
            fed.extend(pending)

        ticks = Ticks()
        sweep = InboxSweep(alive, feed, max_attempts=3, ticks=ticks)
        assert await sweep.maybe_sweep() == 0  # seen 'new' now: maybe on their way elsewhere
        ticks.now += STALE_AFTER / 2
        assert await sweep.maybe_sweep() == 0
        async with died.unit(502) as unit:  # the other replica was only slow with this one
            assert unit is not None
        ticks.now += STALE_AFTER / 2
        assert await sweep.maybe_sweep() == 2
        assert fed == [(501, payloads[501]), (503, payloads[503])]
        with opened(db_target) as conn:
            rows = conn.execute("SELECT update_id, status, attempts FROM inbox ORDER BY update_id").fetchall()
        assert [tuple(r) for r in rows] == [(501, "new", 1), (502, "done", 0), (503, "new", 1), (504, "new", 0)]
    finally:
        await died.close()
        await alive.close()


async def test_an_update_taken_over_too_often_is_given_up(store: Store) -> None:
    await store.store_updates([(601, "{}")], T0)
    store._fresh.clear()  # as if another replica had stored it
    for _ in range(3):
        assert await store.take_over_updates([601], max_attempts=3) == [(601, "{}")]
    assert await store.take_over_updates([601], max_attempts=3) == []
    assert await store.inbox_status(601) == "failed"


# --- end to end: the real desk --------------------------------------------------------------

SHIP = "/ship 6689831 UPS 1Z999AA10123456784"
SHIPPED = f"Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784."


@pytest.mark.alerts
async def test_a_desk_alone_holds_every_shard_and_its_alerts_fire(alert_team, clock, db_target) -> None:
    t = alert_team
    replicas = t.app.bot_data["replicas"]
    assert replicas.owned() == ALL
    assert replicas.owns_team(t.group.id) and replicas.owns_chat(t.alice.id)
    assert shard_leases(db_target) == dict.fromkeys(range(SHARDS), replicas.id)
    assert t.app.bot.rate_limiter._overall.max_rate == 30
    with opened(db_target) as conn:
        assert [tuple(r) for r in conn.execute("SELECT name, holder FROM leases WHERE name LIKE 'replica:%'")] == [
            (f"replica:{replicas.id}", replicas.id)
        ]
    assert read(t.late_alert).splitlines()[0] == "🚨 2 orders are past their ship-by time:"
    # 24 hours before KETO's ship-by (11-23 07:59 UTC): its warning, once.
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    soon = (await wait_alerts(t, 1, since=t.start))[0]
    assert read(soon).splitlines() == ["⏰ 1 order must ship soon:", "…4445556 KETO-BM-04×3 ⏳24 hours (11/23 3:59 PM)"]
    await no_more_alerts(t, t.start + 1)


async def test_a_stopped_desk_gives_its_leases_back(fake_api, clock, db_target) -> None:
    async with running(desk_settings(fake_api, clock, db_target)) as app:
        holder = app.bot_data["replicas"].id
        assert shard_leases(db_target) == dict.fromkeys(range(SHARDS), holder)
    assert shard_leases(db_target) == {}


def written_elsewhere(api, chat, user, text: str) -> dict:
    """A message Telegram delivered to another replica (stored there, never here)."""
    message = {"message_id": api._new_message_id(chat.id), "from": user.to_dict(), "chat": chat.to_dict(),
               "date": api._now(), "text": text, "entities": user_entities(text)}  # fmt: skip
    api._store(chat, message)
    message["delivered"] = True
    return message


async def test_a_command_another_replica_stored_and_died_with_is_applied_here_once(team) -> None:
    t = team
    start = len(t.api.sent(t.group))
    message = written_elsewhere(t.api, t.group, t.alice, SHIP)
    update_id = 10**9 + 1
    other = Store(t.db_path)  # the replica that died: it had stored the update, nothing more
    await other.open()
    try:
        await other.store_updates([(update_id, json.dumps({"update_id": update_id, "message": wire(message)}))],
                                  datetime.now(UTC))  # fmt: skip
    finally:
        await other.close()
    sweeper = t.app.bot_data["replicas"].sweeper
    ticks = Ticks()
    sweeper.ticks = ticks
    sweeper._swept_at = None
    assert await sweeper.maybe_sweep() == 0  # maybe the other replica is only slow
    ticks.now += STALE_AFTER
    assert await sweeper.maybe_sweep() == 1
    await settled(t.api, t.app)
    assert [m["text"] for m in t.api.sent(t.group)[start:]] == [SHIPPED]
    assert t.goods(MIC) == "shipped"
    assert [e["action"] for e in t.events(MIC)] == ["imported", "ship"]
    assert scalar(t.db_path, "SELECT status FROM inbox WHERE update_id = ?", (update_id,)) == "done"
    ticks.now += STALE_AFTER
    assert await sweeper.maybe_sweep() == 0  # done: nothing left to take over


@pytest.mark.alerts
async def test_a_teams_alerts_come_from_its_replica_and_move_when_that_one_dies(alert_team, clock) -> None:
    """Two replicas: the team's shard is the other one's, so this desk leaves its alerts alone;
    the other dies, this desk takes its shards over and the due alert is sent, once."""
    t = alert_team
    desk = t.app.bot_data["replicas"]
    wall = Wall()
    wall.now = datetime.now(UTC)  # the desk took its leases on the real clock
    desk.clock, desk.exclusive = wall, False  # as on a shared database
    other = Replicas(desk.store, clock=wall, replica_id="other")
    team_shard = shard_of(t.group.id)
    assert team_shard < 8
    # The desk is busy on shards 8-15 when the other replica joins: it gives back 0-7.
    with contextlib.ExitStack() as busy:
        for k in range(8, SHARDS):
            assert busy.enter_context(desk.working_on(k))
        await tick(other, desk, other)
    assert desk.owned() == frozenset(range(8, SHARDS)) and other.owned() == frozenset(range(8))
    assert t.app.bot.rate_limiter._overall.max_rate == 15  # Telegram's 30 a second, split in two
    assert other.owns_team(t.group.id) and not desk.owns_team(t.group.id)
    # KETO's warning falls due (24 hours before its ship-by): the other replica's to send.
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    await no_more_alerts(t, t.start)
    # The other replica dies: within 40 s of its last renewal its shards are this desk's.
    for _ in range(4):
        wall.advance(TICK)
        await tick(desk)
    assert desk.owned() == ALL
    assert t.app.bot.rate_limiter._overall.max_rate == 30
    soon = (await wait_alerts(t, 1, since=t.start))[0]
    assert read(soon).splitlines() == ["⏰ 1 order must ship soon:", "…4445556 KETO-BM-04×3 ⏳24 hours (11/23 3:59 PM)"]
    await no_more_alerts(t, t.start + 1)


async def test_two_desks_in_one_process_leave_each_other_alone(store: Store) -> None:
    wall = Wall()
    first = Replicas(store, clock=wall, replica_id="host-42-aaaaaa")
    second = Replicas(store, clock=wall, replica_id="host-42-bbbbbb")
    await first.start()
    try:
        await second.start()  # not a past life of this process: first is running
        try:
            assert len(first.owned()) == SHARDS and second.owned() == frozenset()
            await tick(first, second)
            assert (len(first.owned()), len(second.owned())) == (8, 8)
        finally:
            await second.stop()
    finally:
        await first.stop()


# --- the sender: each replica its own chats ---------------------------------------------------


class FakeBot:
    """Telegram as the sender sees it: takes every message."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Any:
        self.sent.append((chat_id, text))
        return SimpleNamespace(message_id=len(self.sent))


async def test_each_replicas_sender_sends_only_to_its_own_chats(store: Store) -> None:
    wall = Wall()
    a, b = Replicas(store, clock=wall, replica_id="a"), Replicas(store, clock=wall, replica_id="b")
    await tick(a, b, a, b)
    chats = [70000 + k for k in range(SHARDS)] + [-1009000000000 - k for k in range(SHARDS)]
    for chat_id in chats:
        await store.execute_write(
            "INSERT INTO outbox (team_id, chat_id, kind, payload, created_at, not_before) "
            "VALUES (NULL, ?, 'reply', ?, ?, ?)",
            (chat_id, json.dumps({"text": f"to {chat_id}"}), iso(T0), iso(T0)),
        )
    bots = {r.id: FakeBot() for r in (a, b)}
    senders = []
    for r in (a, b):
        sender = Sender(bots[r.id], AlertStore(store), lambda: T0)  # type: ignore[arg-type]
        sender.partition = r
        senders.append(sender)
        sender.start()
    try:
        for _ in range(1000):  # until every message went and was marked sent (each once: checked below)
            if not await pending(store):
                break
            await asyncio.sleep(0.01)
    finally:
        for sender in senders:
            await sender.stop()
    for r in (a, b):
        assert sorted(chat_id for chat_id, _ in bots[r.id].sent) == sorted(c for c in chats if r.owns_chat(c)), r.id
    assert await pending(store) == 0


async def pending(store: Store) -> int:
    return int((await store.fetchone("SELECT count(*) FROM outbox WHERE status = 'pending'"))[0])


async def test_the_overall_limit_is_split_between_the_live_replicas(store: Store) -> None:
    limiter = DeskRateLimiter()
    wall = Wall()
    a = Replicas(store, clock=wall, replica_id="a", on_count=limiter.share)
    b, c = Replicas(store, clock=wall, replica_id="b"), Replicas(store, clock=wall, replica_id="c")
    await tick(a)
    assert limiter._overall.max_rate == 30
    await tick(b, c, a)
    assert limiter._overall.max_rate == 10
    await c.stop()
    await b.stop()
    await tick(a)
    assert limiter._overall.max_rate == 30

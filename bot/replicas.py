"""Several replicas on one database, the same guarantees (issue 13): who does which work.

The teams and chats are cut into ``SHARDS`` shards by id (``abs(id) % SHARDS``; a team's id
is its group's chat id, so a team's alerts and its group's replies fall in the same shard).
Each replica holds a lease per shard it serves (``bot.storage.leases``):

- every ``TICK`` seconds it renews its heartbeat ``replica:<id>`` and its shards ``shard:<k>``
  for ``LEASE``, counts the live replicas R, and takes free or expired shards up to its share
  (16 split as evenly as it goes, the larger shares to the first replicas by id), releasing
  what is above its share, so a replica that starts (or restarts) gets work back;
- a replica that dies stops renewing: its leases run out after ``LEASE`` and the others take
  its shards at their next tick, within ``LEASE + TICK`` (40 s) of its last renewal;
- a clean stop releases its leases at once.

The jobs (alert check, Amazon sync, tracking, purge) act only on what this replica owns, and
the sender sends only to its own chats (at 30/R messages a second, Telegram's overall limit
split). Work in progress pins its shard (:meth:`Partition.working`, :meth:`Partition.claim_chat`):
a pinned shard is renewed but never released, so a rebalance never hands a team over in the
middle of its check. A replica stops counting a shard as its own ``MARGIN`` before its lease
of it runs out, so two replicas never act on one shard at once even if this one's tick is late.
The sender also claims each message it reads (``bot.storage.outbox.Claim``): a shard's old
holder, stalled past its lease, and its new one never both send a message.

The inbox across replicas: an update a replica stored and then died with stays 'new' (a
replica starting beside live ones leaves those to this sweep: ``bot.durable.recover``).
Every ``SWEEP_EVERY`` seconds a replica looks for updates 'new' that it is not processing; one
still 'new' ``STALE_AFTER`` seconds later (measured here, on this replica's monotonic clock) is
processed here (``feed``). A slow replica processing it meanwhile is harmless: the inbox
commits an update's effects once (``bot/storage/unit.py`` checks it is still 'new').

One process on a database it holds alone (SQLite, under its lock) holds every shard: it
forgets leases a crash left behind and takes all 16 at its first tick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.storage.values import utc_now

if TYPE_CHECKING:
    from bot.storage.notify import OutboxListener as Listener
    from bot.storage.protocol import InboxStore, LeaseStore

log = logging.getLogger(__name__)

#: The shards teams and chats are cut into.
SHARDS = 16
#: How often a replica renews its leases and rebalances (seconds).
TICK = 10.0
#: How long a lease runs without renewal.
LEASE = timedelta(seconds=30)
#: A shard stops being ours this long before our lease of it runs out.
MARGIN = timedelta(seconds=5)
#: How often the inbox is looked at for updates another replica left (seconds), and how long
#: an update must have stayed 'new' to be taken over.
SWEEP_EVERY, STALE_AFTER = 30.0, 90.0

REPLICA, SHARD = "replica:", "shard:"

#: The replicas running in this process now (tests run several desks in one process).
_HERE: set[str] = set()


def shard_of(some_id: int, shards: int = SHARDS) -> int:
    """The shard of a team or chat (Telegram ids of groups are negative)."""
    return abs(some_id) % shards


def new_replica_id() -> str:
    """This process's name in the leases: host, process and a random part (a restarted
    process with a reused pid is still someone else)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Partition:
    """Who does what: one process alone does everything (the default, and the tests' desk
    without replicas). :class:`Replicas` narrows it to this replica's shards."""

    shards = SHARDS
    #: No other process works on this database: the sender need not claim what it sends.
    exclusive = True
    #: Who this process is in the leases and the outbox's claims.
    id = "alone"

    def owned(self) -> frozenset[int]:
        """The shards this process may act on now."""
        return frozenset(range(self.shards))

    def owned_shards(self) -> list[int] | None:
        """The shards to filter a query by, or None when this process owns them all."""
        owned = self.owned()
        return None if len(owned) >= self.shards else sorted(owned)

    def owns_shard(self, shard: int) -> bool:
        return shard in self.owned()

    def owns_team(self, team_id: int) -> bool:
        return self.owns_shard(shard_of(team_id, self.shards))

    def owns_chat(self, chat_id: int) -> bool:
        return self.owns_shard(shard_of(chat_id, self.shards))

    @contextmanager
    def working(self, team_id: int) -> Iterator[bool]:
        """``with partition.working(team_id) as mine:`` True when the team is ours; its shard
        stays ours until the block ends."""
        with self.working_on(shard_of(team_id, self.shards)) as mine:
            yield mine

    @contextmanager
    def working_on(self, shard: int) -> Iterator[bool]:
        mine = self.pin(shard)
        try:
            yield mine
        finally:
            if mine:
                self.unpin(shard)

    def pin(self, shard: int) -> bool:
        """Keep ``shard`` while work on it runs; False (nothing pinned) when it is not ours."""
        return self.owns_shard(shard)

    def unpin(self, shard: int) -> None:
        """The work on ``shard`` is over."""

    def claim_chat(self, chat_id: int) -> bool:
        """The sender is about to deliver to ``chat_id``: True (and pinned) when the chat is ours."""
        return self.pin(shard_of(chat_id, self.shards))

    def release_chat(self, chat_id: int) -> None:
        self.unpin(shard_of(chat_id, self.shards))


#: One process, everything.
EVERYTHING = Partition()


class Replicas(Partition):
    """This replica's share of the shards, kept by leases on the shared database."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        clock: Callable[[], datetime] = utc_now,
        replica_id: str | None = None,
        exclusive: bool = False,
        shards: int = SHARDS,
        on_count: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        #: The wall clock (UTC): leases are about processes being alive, not the desk's business time.
        self.clock = clock
        self.id = replica_id or new_replica_id()
        self.exclusive = exclusive
        self.shards = shards
        #: Told the number of live replicas when it changes (the sender's share of Telegram's 30/s).
        self.on_count = on_count
        #: How many replicas were alive at the last tick (this one included).
        self.count = 1
        self._held: dict[int, datetime] = {}  # shard -> until (our lease of it)
        self._pins: Counter[int] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._tick_lock = asyncio.Lock()
        self.sweeper: InboxSweep | None = None
        #: Told that another replica queued messages (``bot.storage.notify``; PostgreSQL), started
        #: and stopped with this replica; ``wake`` kicks the sender when some are for our chats.
        self.listener: Listener | None = None
        self.wake: Callable[[], None] = lambda: None
        #: How many times another replica's messages woke this one's sender (tests, logs).
        self.woken = 0

    # --- what is ours -----------------------------------------------------------------

    def owned(self) -> frozenset[int]:
        if self.exclusive:
            return frozenset(self._held)  # no other process can hold them: a late tick loses nothing
        now = self.clock()
        return frozenset(k for k, until in self._held.items() if now < until - MARGIN)

    def pin(self, shard: int) -> bool:
        if not self.owns_shard(shard):
            return False
        self._pins[shard] += 1
        return True

    def unpin(self, shard: int) -> None:
        self._pins[shard] -= 1
        if self._pins[shard] <= 0:
            del self._pins[shard]

    # --- life -------------------------------------------------------------------------

    async def start(self) -> None:
        """Take this replica's share now (the jobs' first run finds it), then keep it."""
        if self.exclusive:
            await self.store.release_all()
        else:
            await self._forget_past_lives()
        _HERE.add(self.id)
        await self.tick()
        self._task = asyncio.create_task(self._run(), name="dingdan-replicas")
        if self.listener is not None:
            await self.listener.start()

    def queued_elsewhere(self, shards: frozenset[int] | None) -> None:
        """Another replica queued messages for chats in ``shards`` (None: any chat): the sender
        looks at the outbox now if one of them is ours, instead of at its next idle look."""
        if shards is None or self.shards != SHARDS or not shards.isdisjoint(self.owned()):
            self.woken += 1
            self.wake()

    async def _forget_past_lives(self) -> None:
        """Leases of a replica with our host and process id but not our id are a past life of
        this process (a desk restarted inside it, not running any more) or of a dead process
        whose pid we now have: nobody renews them, so they are given back now rather than in
        ``LEASE``. (Replicas on one host name must differ by process id: give each container its
        own host name.)"""
        prefix = self.id.rsplit("-", 1)[0] + "-"
        past: dict[str, list[str]] = {}
        for lease in await self.store.holders(self.clock()):
            if lease.holder.startswith(prefix) and lease.holder != self.id and lease.holder not in _HERE:
                past.setdefault(lease.holder, []).append(lease.name)
        for holder, names in past.items():
            await self.store.release(names, holder)
            await self.store.release_claims(holder)
            log.info("released %d lease(s) of %s, a past life of this process", len(names), holder)

    async def stop(self) -> None:
        """Stop renewing and give every lease back: the others take the shards at their next tick."""
        _HERE.discard(self.id)
        if self.listener is not None:
            await self.listener.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self._tick_lock:
            names = [f"{REPLICA}{self.id}", *(f"{SHARD}{k}" for k in self._held)]
            self._held = {}
            try:
                await self.store.release(names, self.id)
                await self.store.release_claims(self.id)  # the sender has stopped (bot/app.py stops it first)
            except Exception:  # noqa: BLE001 - a failed release only delays the hand-over (the leases run out)
                log.warning("could not release this replica's leases; they run out within %s", LEASE, exc_info=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the next tick tries again; our leases outlive one missed tick
                log.exception("renewing the replica's leases failed")
            if self.sweeper is not None:
                try:
                    await self.sweeper.maybe_sweep()
                except Exception:  # noqa: BLE001 - the next sweep tries again
                    log.exception("looking for updates another replica left failed")

    async def tick(self) -> None:
        """Renew, count the replicas, and bring this replica's shards to its share."""
        async with self._tick_lock:
            await self._tick()

    async def _tick(self) -> None:
        now = self.clock()
        until = now + LEASE
        await self.store.take(f"{REPLICA}{self.id}", self.id, until, now)
        live = await self.store.holders(now)
        replicas = sorted({lease.holder for lease in live if lease.name.startswith(REPLICA)} | {self.id})
        count, rank = len(replicas), replicas.index(self.id)
        share = self.shards // count + (1 if rank < self.shards % count else 0)
        holder_of: dict[int, str] = {}
        for lease in live:
            if lease.name.startswith(SHARD):
                try:
                    holder_of[int(lease.name[len(SHARD) :])] = lease.holder
                except ValueError:
                    continue
        mine = sorted(k for k, holder in holder_of.items() if holder == self.id and k < self.shards)
        # Above our share: give back the highest unpinned shards. They stop being ours before
        # the release is written, so nothing starts on them meanwhile.
        extra = [k for k in reversed(mine) if not self._pins[k]][: max(len(mine) - share, 0)]
        held = {k: self._held[k] for k in mine if k in self._held and k not in extra}
        self._held = held
        if extra:
            await self.store.release([f"{SHARD}{k}" for k in extra], self.id)
            log.info("replica %s gave back shard(s) %s (its share is %d of %d)", self.id, extra, share, self.shards)
        kept: dict[int, datetime] = {}
        for k in mine:
            if k in extra:
                continue
            if await self.store.take(f"{SHARD}{k}", self.id, until, now):
                kept[k] = until
        free = [k for k in range(self.shards) if k not in holder_of]
        taken = []
        for k in free:
            if len(kept) >= share:
                break
            if await self.store.take(f"{SHARD}{k}", self.id, until, now):
                kept[k] = until
                taken.append(k)
        self._held = kept
        if taken:
            log.info("replica %s took shard(s) %s (%d replica(s); it holds %d)", self.id, taken, count, len(kept))
        if count != self.count:
            self.count = count
            if self.on_count is not None:
                self.on_count(count)


Feed = Callable[[list[tuple[int, str]]], Awaitable[None]]


class InboxSweep:
    """Updates another replica stored and left 'new' (it died before processing them) are
    processed here once they have stayed 'new' for ``STALE_AFTER`` seconds."""

    def __init__(self, store: InboxStore, feed: Feed, max_attempts: int, *,
                 ticks: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.store = store
        self.feed = feed
        self.max_attempts = max_attempts
        self.ticks = ticks
        self._first_seen: dict[int, float] = {}
        self._swept_at: float | None = None

    async def maybe_sweep(self) -> int:
        now = self.ticks()
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return 0
        self._swept_at = now
        return await self.sweep()

    async def sweep(self) -> int:
        """Take over what has stayed 'new' long enough; returns how many updates were fed."""
        now = self.ticks()
        waiting = await self.store.new_updates()
        self._first_seen = {u: self._first_seen.get(u, now) for u in waiting}
        stale: Sequence[int] = [u for u, seen in self._first_seen.items() if now - seen >= STALE_AFTER]
        if not stale:
            return 0
        pending = await self.store.take_over_updates(stale, self.max_attempts)
        for update_id in stale:
            self._first_seen.pop(update_id, None)
        if pending:
            log.info("processing %d update(s) another replica left unfinished", len(pending))
            await self.feed(pending)
        return len(pending)

"""The tracking run: register new shipments, stop what is done, poll what is due, apply what changed.

One run (:meth:`Tracker.run`, the repeating job's work) does, in order:

1. reads the shipments written since the last run (a cursor in the database): each new number
   is to be registered once; a number a correction replaced is to be stopped;
2. registers waiting numbers with the provider, 40 a request ("already registered" counts as
   registered), then asks the provider's quota and records it;
3. polls the registered numbers that are due, 40 a request, and applies each answer;
4. stops the numbers to stop (delivered, corrected away, 60 days old).

:meth:`Tracker.apply` is the one way a provider's word changes anything, so a pushed update
(a webhook, later) goes through the same code: it stores the status and the carrier's last
event, sets the next check (often while young, rarely later), marks the parcel's concern (an
exception, no first scan at 48 h, no movement for days: alert candidates), and when every number
of the order is delivered, delivers the order through the desk (its lock, version and event,
by "carrier tracking", with the delivery time).

Nothing here waits on the provider while holding the database: each batch is asked first,
then written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.domain import Actor, Goods, Refusal
from bot.services import Desk
from bot.storage import Store
from bot.storage.tracking import StatusUpdate, TrackedNumber
from bot.tracking.provider import Answer, Parcel, Tracked, TrackInfo, TrackingError, TrackingProvider, TrackStatus
from bot.tracking.schedule import MAX_AGE, STUCK_DAYS, concern, expired, next_check
from bot.tracking.seventeen import NOT_REGISTERED, carrier_code

log = logging.getLogger("dingdan.tracking")

#: Who delivers an order the carrier delivered.
TRACKING_ACTOR = Actor.importer("carrier tracking")
#: A number the provider could not register for its own reasons is tried this often.
MAX_ATTEMPTS = 5
#: Shipments read from the table in one go.
COLLECT = 5000


class ProviderSession(Protocol):
    """A provider used as ``async with provider:`` (its connection lives for the block)."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> Any: ...


@dataclass
class RunReport:
    """What one run did (the bench and the tests read it)."""

    collected: int = 0
    registered: int = 0
    rejected: int = 0
    stopped: int = 0
    polled: int = 0
    delivered: int = 0
    errors: list[str] = field(default_factory=list)


class Tracker:
    def __init__(self, store: Store, desk: Desk, provider: TrackingProvider, clock: Callable[[], datetime], *,
                 stuck_days: Callable[[int], Any] | None = None) -> None:  # fmt: skip
        self.store = store
        self.desk = desk
        self.provider = provider
        self.clock = clock
        #: ``stuck_days(team_id)``: the team's setting (may be a coroutine function); 7 by default.
        self.stuck_days = stuck_days
        self._running = asyncio.Lock()

    # --- the run ----------------------------------------------------------------------

    async def run(self) -> RunReport:
        report = RunReport()
        async with self._running:
            now = self.clock()
            while True:
                read = await self.store.collect_shipments(now - MAX_AGE, limit=COLLECT)
                report.collected += read
                if read < COLLECT:
                    break
            session: Any = self.provider
            try:
                async with session:
                    await self._register(report)
                    await self._poll(report)
                    await self._stop(report)
            except TrackingError as err:
                # The provider is down or refuses the key: what is not done is done next run.
                log.warning("tracking: %s; trying again next run", err)
                report.errors.append(str(err))
        return report

    async def _register(self, report: RunReport) -> None:
        size = self.provider.batch
        known = await self.store.tracking_quota(self.provider.name)
        now = self.clock()
        if known is not None and known[3] <= 0 and (known[0].year, known[0].month) == (now.year, now.month):
            # This month's quota is spent: the numbers wait (registered next month, or when the plan grows).
            if await self.store.tracking_work("to_register", 1):
                log.warning("tracking: %s's quota is used up this month; new numbers wait", self.provider.name)
            return
        asked = False
        while True:
            batch = await self.store.tracking_work("to_register", size)
            if not batch:
                break
            answer = await self.provider.register([_parcel(row) for row in batch])
            asked = True
            now = self.clock()
            by_number = _by_number(batch)
            done = []
            for accepted in answer.accepted:
                for row in by_number.get(accepted.number, []):
                    done.append((row.tracking_id, accepted.carrier, now))  # first look right away
            await self.store.tracking_registered(done, now)
            report.registered += len(done)
            already = {a.number for a in answer.accepted if a.already}
            again = [_parcel(row) for row in batch if row.number in already]
            if again:
                # The provider knew these already: one it had stopped (tracking switched back on)
                # is retracked; it refuses the rest, which it still tracks.
                await self.provider.retrack(again)
            retry: list[tuple[int, str]] = []
            refused: list[tuple[int, str]] = []
            for rejected in answer.rejected:
                for row in by_number.get(rejected.number, []):
                    error = f"{rejected.code} {rejected.message}".strip()
                    (retry if rejected.transient else refused).append((row.tracking_id, error))
            await self.store.tracking_refused(refused, retry=False)
            await self.store.tracking_refused(retry, retry=True)
            report.rejected += len(refused)
            answered = {a.number for a in answer.accepted} | {r.number for r in answer.rejected}
            unanswered = [(row.tracking_id, "not answered") for row in batch if row.number not in answered]
            await self.store.tracking_refused(unanswered, retry=True)
            # A number the provider keeps failing on is given up after a few runs.
            stale = [(row.tracking_id, row.error or "gave up") for row in batch
                     if row.tracking_id in {t for t, _ in retry + unanswered} and _attempts(row) >= MAX_ATTEMPTS]  # fmt: skip
            await self.store.tracking_refused(stale, retry=False)
            if retry or unanswered:
                break  # the provider's side is struggling: the rest waits for the next run
        if asked:  # how much of the plan is used (the digest warns when little is left)
            quota = await self.provider.quota()
            if quota is not None:
                await self.store.record_quota(self.provider.name, self.clock(), quota.total, quota.used,
                                              quota.remaining)  # fmt: skip

    async def _stop(self, report: RunReport) -> None:
        size = self.provider.batch
        while True:
            batch = await self.store.tracking_work("to_stop", size)
            if not batch:
                return
            answer: Answer = await self.provider.stop([_parcel(row) for row in batch])
            rejected = {r.number for r in answer.rejected if r.transient}
            ids = [row.tracking_id for row in batch if row.number not in rejected]
            await self.store.tracking_stopped(ids, self.clock())
            report.stopped += len(ids)
            if len(ids) < len(batch):
                return

    async def _poll(self, report: RunReport) -> None:
        size = self.provider.batch
        seen: set[int] = set()
        while True:
            now = self.clock()
            due = [row for row in await self.store.tracking_due(now, size) if row.tracking_id not in seen]
            if not due:
                return
            seen.update(row.tracking_id for row in due)
            old = [row.tracking_id for row in due if expired(row.shipped_at, now)]
            if old:
                await self.store.tracking_to_stop(old, "expired")
                due = [row for row in due if row.tracking_id not in old]
                if not due:
                    continue
            tracked: Tracked = await self.provider.track([_parcel(row) for row in due])
            report.polled += len(due)
            by_number = _by_number(due)
            answered: set[int] = set()
            news = []
            for info in tracked.infos:
                for row in by_number.get(info.number, []):
                    answered.add(row.tracking_id)
                    news.append((row, info))
            report.delivered += await self.apply_many(news)
            later = []
            for rejected in tracked.rejected:
                for row in by_number.get(rejected.number, []):
                    answered.add(row.tracking_id)
                    if rejected.code == NOT_REGISTERED:
                        await self.store.tracking_reregister(row.tracking_id)
                    else:
                        later.append(row)
            later += [row for row in due if row.tracking_id not in answered]
            await self._later(later, now)

    async def _later(self, rows: Sequence[TrackedNumber], now: datetime) -> None:
        """No news: ask again on the schedule, the status as it was."""
        if rows:
            await self.store.tracking_statuses(
                [(row.tracking_id, StatusUpdate(row.status or TrackStatus.not_found.value, row.sub_status or "",
                                                concern=row.concern), next_check(row.shipped_at, now))
                 for row in rows],
                now=now,
            )  # fmt: skip

    # --- applying what the provider says -------------------------------------------------

    async def apply(self, row: TrackedNumber, info: TrackInfo) -> bool:
        """Apply the provider's word on one number (polled or pushed). True if it delivered the order."""
        return await self.apply_many([(row, info)]) > 0

    async def apply_many(self, news: Sequence[tuple[TrackedNumber, TrackInfo]]) -> int:
        """Apply the provider's word on numbers (a polled batch, or one pushed): the status, the
        carrier's last event, the next check and the concern written together; then each order whose
        numbers are all delivered is delivered. How many orders it delivered."""
        now = self.clock()
        updates = []
        delivered = []
        for row, info in news:
            event = info.last_event
            done = info.status is TrackStatus.delivered
            moved_at = event.at if event is not None and event.at is not None else row.moved_at
            worry = None
            if not done:
                days = await self._stuck_days(row.team_id)
                worry = concern(info.status, info.sub_status, row.shipped_at, moved_at, now, stuck_days=days)
            update = StatusUpdate(
                info.status.value, info.sub_status, event.at if event else None, event.place if event else "",
                event.text if event else "", info.delivered_at, info.carrier, worry,
            )  # fmt: skip
            updates.append((row.tracking_id, update, None if done else next_check(row.shipped_at, now)))
            if done:
                delivered.append((row, info.delivered_at or now))
        if updates:
            await self.store.tracking_statuses(updates, now=now)
        if delivered:
            await self.store.tracking_to_stop([row.tracking_id for row, _at in delivered], "delivered")
        count = 0
        for row, at in delivered:
            if await self._deliver(row, at):
                count += 1
        return count

    async def apply_pushed(self, info: TrackInfo) -> int:
        """A pushed update (a webhook) names a number: apply it to every order tracking it."""
        delivered = 0
        for row in await self.store.tracking_find(info.number):
            if row.state == "registered" and await self.apply(row, info):
                delivered += 1
        return delivered

    async def _deliver(self, row: TrackedNumber, at: datetime) -> bool:
        """Every number of the order delivered: the order is delivered, by "carrier tracking"."""
        others = await self.store.tracking_of(row.team_id, row.order_id)
        if any(o.state in ("to_register", "registered") and o.status != TrackStatus.delivered.value for o in others):
            return False
        order = await self.store.order(row.team_id, row.order_id)
        if order is None or order.goods not in (Goods.shipped, Goods.lost):
            return False
        try:
            await self.desk.act(row.team_id, row.order_id, "deliver", TRACKING_ACTOR, delivered_at=at,
                                tracking=row.number)  # fmt: skip
        except Refusal as refusal:
            log.info("tracking: %s %s not delivered: %s", row.order_id, row.number, refusal.code)
            return False
        return True

    async def _stuck_days(self, team_id: int) -> int:
        if self.stuck_days is None:
            return STUCK_DAYS
        value = self.stuck_days(team_id)
        if asyncio.iscoroutine(value):
            value = await value
        return int(value or STUCK_DAYS)


def _parcel(row: TrackedNumber) -> Parcel:
    return Parcel(row.number, row.provider_carrier or carrier_code(row.carrier), row.order_id)


def _by_number(rows: Sequence[TrackedNumber]) -> dict[str, list[TrackedNumber]]:
    out: dict[str, list[TrackedNumber]] = {}
    for row in rows:
        out.setdefault(row.number, []).append(row)
    return out


def _attempts(row: TrackedNumber) -> int:
    return row.attempts + 1

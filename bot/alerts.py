"""Push alerts: what is due for a team, decided once, queued in the outbox.

The rules (DESIGN.md §2, issue 3):

- ship-by soon: unshipped orders whose ship-by time is within the team's lead times
  (default 24 h and 4 h before); overdue once it has passed (a late shipment);
- Amazon's 30-day confirmation deadline: 7 days before it, and on its last day;
- pending too long (informational, default 3 days);
- a return arrived and waits for a decision: once a day until decided;
- a late delivery: shipped, past the latest delivery date, not delivered;
- the daily digest at the team's local time.

An alert is identified by (order, kind, deadline key) and recorded in the database in
the same transaction as its message goes into the outbox: it happens once, a restart
neither repeats nor skips it, and what fell due while the bot was down is sent when it
is back. During quiet hours nothing is sent; what falls due then waits until they end,
except a ship-by warning that would fall inside them, which is sent just before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import i18n
from bot.replicas import EVERYTHING, Partition
from bot.storage import AlertDecidedMeanwhile, AlertStore, DueRow, Store, Team
from bot.team_settings import (
    CONFIRM_LAST,
    CONFIRM_SOON,
    DELIVERY_LATE,
    DIGEST,
    KINDS,
    PENDING_LONG,
    RETURN_WAITING,
    SHIP_LATE,
    SHIP_SOON,
)
from bot.tracking.alerting import NO_SCAN, STUCK, TRACK_EXCEPTION, decide_tracking, order_ids, quota_low

log = logging.getLogger(__name__)
#: Amazon cancels an order whose shipment is not confirmed within 30 days of the order date.
CONFIRM_WITHIN = timedelta(days=30)
CONFIRM_WARN = timedelta(days=7)
SNOOZE = timedelta(hours=4)
#: A ship-by warning that would fall in the quiet hours is sent this long before they begin.
BEFORE_QUIET = timedelta(minutes=30)
#: Orders listed in one alert message (each line with its row of buttons); more go in further
#: messages, each a part of the one check's message (Telegram's length is measured too).
PER_MESSAGE = 10
#: Amazon's targets for a seller account's health (Account Health): the late shipment rate
#: and the pre-fulfilment cancel rate must stay under theirs, the valid tracking rate over its.
LATE_SHIPMENT_TARGET = 0.04
CANCELLATION_TARGET = 0.025
VALID_TRACKING_TARGET = 0.95
#: Orders listed by line (with buttons) in the digest under "overdue" and under "ship today";
#: more are counted.
SHOWN_IN_DIGEST = 10

#: The kinds in the order one check's message lists them, most urgent first; an order due
#: for several is listed once, under the first (the others are decided all the same, so none
#: comes again later). An order already late to ship first; then ship-by warnings (time is
#: short, the 🚚 button does it); then Amazon's 30-day deadline, its last day before its
#: week's warning (Amazon cancels the order; an order past its ship-by is listed above);
#: then what concerns shipped parcels and returns, which cost money but no account health
#: today; last what needs no action at all (a payment Amazon is still verifying).
URGENCY = (SHIP_LATE, SHIP_SOON, CONFIRM_LAST, CONFIRM_SOON, NO_SCAN, TRACK_EXCEPTION, STUCK, DELIVERY_LATE,
           RETURN_WAITING, PENDING_LONG)  # fmt: skip


@dataclass(frozen=True)
class TeamRules:
    """A team's alert settings as the check uses them (from ``Team.settings``, already typed)."""

    zone: ZoneInfo
    leads: tuple[timedelta, ...]  # longest first
    digest_at: time | None
    quiet: tuple[time, time] | None
    pending_after: timedelta
    off: frozenset[str]
    started: datetime | None = None

    @classmethod
    def of(cls, team: Team) -> TeamRules:
        settings = team.settings
        return cls(
            zone=settings.zone,
            leads=tuple(timedelta(hours=h) for h in settings.lead_hours),
            digest_at=settings.digest_at,
            quiet=settings.quiet,
            pending_after=timedelta(days=settings.pending_days),
            off=settings.kinds_off,
            started=datetime.fromisoformat(team.started_at) if team.started_at else None,
        )

    # --- quiet hours in the team's time zone ---------------------------------------

    def quiet_window(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The quiet window containing ``moment``, or the next one after it (UTC)."""
        if self.quiet is None:
            return None
        local = moment.astimezone(self.zone)
        start_t, end_t = self.quiet
        for day in (local.date() - timedelta(days=1), local.date(), local.date() + timedelta(days=1)):
            start = _at(day, start_t, self.zone)
            end = _at(day if end_t > start_t else day + timedelta(days=1), end_t, self.zone)
            if moment < end:
                return start, end
        return None  # pragma: no cover - three days always contain one

    def is_quiet(self, moment: datetime) -> bool:
        window = self.quiet_window(moment)
        return window is not None and window[0] <= moment < window[1]

    def effective(self, due: datetime, *, before_quiet: bool) -> datetime:
        """When an alert due at ``due`` may be sent: not inside the quiet hours."""
        window = self.quiet_window(due)
        if window is None or not window[0] <= due < window[1]:
            return due
        return window[0] - BEFORE_QUIET if before_quiet else window[1]


@dataclass(frozen=True)
class Due:
    kind: str
    order_id: str
    key: str
    deadline: datetime | None  # what the reader is warned about (ship-by, Amazon's deadline…)
    disposition: str = ""  # for returns: Amazon's disposition (SELLABLE: back in inventory)
    goods: tuple[tuple[str, int], ...] = ()  # (SKU, quantity) to pick, filled in before rendering
    detail: Any = None  # a tracking alert's number, its status and the carrier's last event


def most_urgent(announce: Iterable[Due]) -> list[Due]:
    """Each order once, under its most urgent kind, the kinds in ``URGENCY`` order (within
    a kind, in the order decided: by deadline, then id)."""
    rank = {kind: n for n, kind in enumerate(URGENCY)}
    best: dict[str, Due] = {}
    for item in announce:
        held = best.get(item.order_id)
        if held is None or rank[item.kind] < rank[held.kind]:
            best[item.order_id] = item
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(best.values(), key=lambda d: (rank[d.kind], d.deadline or far, d.order_id))


def decide(rows: Iterable[DueRow], rules: TeamRules, now: datetime,
           already: set[tuple[str, str, str]]) -> tuple[list[Due], list[tuple[str, str, str]]]:  # fmt: skip
    """What to announce now, and every (order, kind, key) that this settles (some silently).

    Pure: the same rows, rules and moment always give the same answer.
    """
    announce: list[Due] = []
    settled: list[tuple[str, str, str]] = []

    def due(kind: str, row: DueRow, key: str, at: datetime, deadline: datetime | None, *,
            before_quiet: bool = False) -> bool:  # fmt: skip
        switch = CONFIRM_SOON if kind == CONFIRM_LAST else kind  # one switch for Amazon's deadline
        if switch in rules.off or (row.order_id, kind, key) in already:
            return False
        if now < rules.effective(at, before_quiet=before_quiet) or rules.is_quiet(now):
            return False
        announce.append(Due(kind, row.order_id, key, deadline, row.disposition))
        settled.append((row.order_id, kind, key))
        return True

    for row in rows:
        if row.goods in ("unshipped", "partially_shipped") and row.ship_by is not None:
            stamp = _key(row.ship_by)
            if now >= row.ship_by:
                due(SHIP_LATE, row, stamp, row.ship_by, row.ship_by)
            else:
                # Only the most urgent lead that has come is announced; longer ones it
                # overtook (after downtime, or an order imported late) are settled quietly.
                passed = [lead for lead in rules.leads
                          if now >= rules.effective(row.ship_by - lead, before_quiet=True)]  # fmt: skip
                if passed:
                    nearest = passed[-1]
                    if due(SHIP_SOON, row, f"{stamp}/{_hours(nearest)}", row.ship_by - nearest, row.ship_by,
                           before_quiet=True):  # fmt: skip
                        overtaken = ((row.order_id, SHIP_SOON, f"{stamp}/{_hours(lead)}") for lead in passed[:-1])
                        settled.extend(k for k in overtaken if k not in already)
        if row.goods in ("pending", "unshipped", "partially_shipped") and row.purchased_at is not None:
            deadline = row.purchased_at + CONFIRM_WITHIN
            if now >= deadline - timedelta(days=1):
                due(CONFIRM_LAST, row, _key(deadline), deadline - timedelta(days=1), deadline)
            elif now >= deadline - CONFIRM_WARN:
                due(CONFIRM_SOON, row, _key(deadline), deadline - CONFIRM_WARN, deadline)
        if row.goods == "pending" and row.purchased_at is not None:
            due(PENDING_LONG, row, _key(row.purchased_at), row.purchased_at + rules.pending_after, row.purchased_at)
        if row.goods == "return_received":
            today = now.astimezone(rules.zone).date().isoformat()
            due(RETURN_WAITING, row, today, now, None)
        if row.goods == "shipped" and row.deliver_by is not None and now >= row.deliver_by:
            due(DELIVERY_LATE, row, _key(row.deliver_by), row.deliver_by, row.deliver_by)
    return announce, settled


def digest_due(rules: TeamRules, now: datetime, already: set[tuple[str, str, str]]) -> date | None:
    """Today's digest (the team's local date) if it is time for it and it was not sent."""
    if rules.digest_at is None or DIGEST in rules.off:
        return None
    local_day = now.astimezone(rules.zone).date()
    digest_time = _at(local_day, rules.digest_at, rules.zone)
    if now < digest_time or ("*", DIGEST, local_day.isoformat()) in already:
        return None
    if rules.started is not None and rules.started > digest_time:
        return None  # the team started after today's digest time: the first digest is tomorrow
    if rules.is_quiet(now):
        return None
    return local_day


class Alerts:
    """The periodic check: decide what is due for every team and queue its messages."""

    def __init__(self, store: Store, clock: Callable[[], datetime],
                 render: Callable[[Team, list[Due], datetime], list[dict[str, Any]]],
                 render_digest: Callable[[Team, date, dict[str, Any], datetime], dict[str, Any]]) -> None:  # fmt: skip
        self.store = store
        self.alert_store = AlertStore(store)
        self.clock = clock
        self.render = render
        self.render_digest = render_digest
        #: Carrier tracking is on (the operator set a key): its concerns are alerted, and a late
        #: delivery is one the carrier has not delivered (without it, late-delivery alerts guess: off).
        self.tracking = False
        #: The teams this process checks: all of them, or this replica's shards (``bot.replicas``).
        self.partition: Partition = EVERYTHING

    async def check(self) -> int:
        """One pass over every team; returns how many messages were queued.

        Each team's check stands alone: one that fails is logged with its team and the others
        go on (one team's bad data once stopped every team's alerts); it is tried again next time.
        """
        queued = 0
        for team in await self.store.teams():
            if team.unreachable_since:
                continue  # the bot is not in that group: nothing piles up for it
            with self.partition.working(team.team_id) as mine:
                if not mine:
                    continue  # another replica checks it
                try:
                    queued += await self.check_team(team)
                except Exception:
                    log.exception("the alert check of team %s failed; the other teams' go on", team.team_id)
        return queued

    async def check_team(self, team: Team) -> int:
        rules = TeamRules.of(team)
        now = self.clock()
        longest = rules.leads[0] if rules.leads else timedelta(0)
        # A warning may be moved before the quiet hours: look that much further ahead.
        quiet_span = timedelta(hours=24) if rules.quiet else timedelta(0)
        rows = await self.alert_store.due_rows(
            team.team_id, now, ship_horizon=now + longest + quiet_span + BEFORE_QUIET,
            confirm_before=now - CONFIRM_WITHIN + CONFIRM_WARN, pending_before=now - rules.pending_after,
        )  # fmt: skip
        already = await self.alert_store.already(team.team_id, [r.order_id for r in rows] + ["*"])
        if not self.tracking:
            # Nothing tells the desk a parcel arrived: every parcel would look late (issue 12).
            rules = replace(rules, off=rules.off | {DELIVERY_LATE})
        announce, settled = decide(rows, rules, now, already)
        if self.tracking and not rules.is_quiet(now):
            concerns = await self.store.tracking_concerns(team.team_id)
            seen = await self.alert_store.already(team.team_id, order_ids(concerns)) if concerns else set()
            found, keys = decide_tracking(concerns, rules.off, seen)
            announce += [Due(a.kind, a.order_id, a.key, a.row.event_at, detail=a.row) for a in found]
            settled += keys
        queued = 0
        locale = await self.locale_of(team)
        if announce:
            # One message for the check (in parts when long), each order once, most urgent first.
            listed = most_urgent(announce)
            goods = await self.alert_store.goods_of(team.team_id, [d.order_id for d in listed])
            listed = [replace(d, goods=tuple(goods.get(d.order_id, ()))) for d in listed]
            with i18n.using(locale):
                messages = self.render(team, listed, now)
            queued += await self._record(team, settled, messages, now)
        day = digest_due(rules, now, already)
        if day is not None:
            start = _at(day, time(0), rules.zone)
            figures = await self.alert_store.digest_figures(
                team.team_id, now=now, day_start=start, day_end=_at(day + timedelta(days=1), time(0), rules.zone),
                yesterday_start=_at(day - timedelta(days=1), time(0), rules.zone), shown=SHOWN_IN_DIGEST,
            )  # fmt: skip
            listed_ids = [oid for oid, _ in figures["overdue"] + figures["ship_today"]]
            figures["goods"] = await self.alert_store.goods_of(team.team_id, listed_ids)
            if self.tracking:
                await self._tracking_figures(team, start, figures)
            with i18n.using(locale):
                message = self.render_digest(team, day, figures, now)
            queued += await self._record(team, [("*", DIGEST, day.isoformat())], [message], now)
        return queued

    async def _tracking_figures(self, team: Team, day_start: datetime, figures: dict[str, Any]) -> None:
        """With carrier tracking, the valid tracking rate is measured: numbers with a carrier scan
        among the numbers shipped over Amazon's 30 days; and the provider's quota, when it runs low."""
        tracked, scanned = await self.store.tracking_scans(team.team_id, day_start - timedelta(days=30), day_start)
        figures["health"]["confirmed_30"], figures["health"]["valid_30"] = tracked, scanned
        quota = await self.store.tracking_quota("17track")
        if quota is not None and quota_low(quota[1], quota[3]):
            figures["tracking_quota"] = (quota[1], quota[3])

    async def _record(self, team: Team, settled: Sequence[tuple[str, str, str]], messages: list[dict[str, Any]],
                      now: datetime) -> int:  # fmt: skip
        try:
            return await self.alert_store.record(team.team_id, team.team_id, settled, messages, now)
        except AlertDecidedMeanwhile:
            return 0  # another check decided these at the same moment

    async def locale_of(self, team: Team) -> str:
        """The group reads alerts in its own language, else its starter's, else English."""
        chat, chosen, telegram = await self.store.team_language(team.team_id)
        return i18n.resolve(chat, chosen, telegram)

    async def snooze(self, team_id: int, order_id: str, by: int) -> datetime:
        until = self.clock() + SNOOZE
        await self.alert_store.snooze(team_id, order_id, until, by, KINDS + (CONFIRM_LAST,))
        return until


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _hours(lead: timedelta) -> str:
    hours = lead.total_seconds() / 3600
    return f"{hours:g}h"

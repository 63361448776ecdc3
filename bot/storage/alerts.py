"""The alert ledger (each alert decided once), snoozes, and the figures of the daily digest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.storage.errors import AlertDecidedMeanwhile
from bot.storage.outbox import Outbox
from bot.storage.values import CHUNK, dumps, from_iso, iso

#: How far back the alert check looks for a missed deadline (see ``AlertStore.due_rows``).
LOOKBACK = timedelta(days=30)
#: A parcel late by more than this was announced already, or is history.
DELIVERY_LOOKBACK = timedelta(days=14)
#: Longer than any snooze: a snooze that ended before ``until - SNOOZE_MAX`` is surely over.
SNOOZE_MAX = timedelta(days=1)


@dataclass(frozen=True)
class DueRow:
    """An order as the alert check sees it: only what deadlines need."""

    order_id: str
    goods: str
    ship_by: datetime | None
    purchased_at: datetime | None
    deliver_by: datetime | None
    disposition: str = ""


class AlertStore(Outbox):
    """The alerts' queries and writes, on the store's connections. It is also the outbox the
    sender reads: an alert's decision and its message are written in one transaction."""

    async def due_rows(self, team_id: int, now: datetime, *, ship_horizon: datetime, confirm_before: datetime,
                       pending_before: datetime) -> list[DueRow]:  # fmt: skip
        """Orders that may have an alert due, each part answered by an index on (team, state, time).

        The cost follows the orders near a deadline, never the size of the history: every
        part is a range no older than ``LOOKBACK`` (an order left unshipped or undelivered
        for longer is Amazon's business by then, and was announced long before).
        """
        sql = (
            "SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods IN ('unshipped', 'partially_shipped') AND ship_by <= :ship_horizon AND ship_by >= :oldest "
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods IN ('pending', 'unshipped', 'partially_shipped') AND purchased_at <= :confirm_before "
            "AND purchased_at >= :oldest_purchase "
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods = 'pending' AND purchased_at <= :pending_before AND purchased_at >= :oldest_purchase "
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods = 'return_received' "
            # Nothing tells the desk that most parcels arrived (only /delivered does), so past
            # orders stay 'shipped': read only those whose late-delivery alert is still to come.
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods = 'shipped' AND deliver_by < :now AND deliver_by >= :oldest_delivery AND NOT EXISTS ("
            "SELECT 1 FROM alerts a WHERE a.team_id = :t AND a.order_id = orders.order_id "
            "AND a.kind = 'delivery_late' AND a.due_key = substr(orders.deliver_by, 1, 16))"
        )
        rows = await self.store.fetchall(sql, {
            "t": team_id, "now": iso(now), "ship_horizon": iso(ship_horizon), "confirm_before": iso(confirm_before),
            "pending_before": iso(pending_before), "oldest": iso(now - LOOKBACK),
            "oldest_purchase": iso(now - LOOKBACK - timedelta(days=30)),
            "oldest_delivery": iso(now - DELIVERY_LOOKBACK),
        })  # fmt: skip
        snoozed = {
            r[0] for r in await self.store.fetchall(
                "SELECT order_id FROM snoozes WHERE team_id = ? AND until > ?", (team_id, iso(now))
            )
        }  # fmt: skip
        return [
            DueRow(oid, goods, from_iso(ship_by), from_iso(purchased), from_iso(deliver), disposition)
            for oid, goods, ship_by, purchased, deliver, disposition in rows
            if oid not in snoozed
        ]

    async def already(self, team_id: int, order_ids: Sequence[str]) -> set[tuple[str, str, str]]:
        """The (order, kind, due key) alerts already decided for these orders."""
        done: set[tuple[str, str, str]] = set()
        ids = list(order_ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = await self.store.fetchall(
                f"SELECT order_id, kind, due_key FROM alerts WHERE team_id = ? AND order_id IN "
                f"({', '.join('?' * len(chunk))})",
                [team_id, *chunk],
            )
            done.update((r[0], r[1], r[2]) for r in rows)
        return done

    async def record(self, team_id: int, chat_id: int, decided: Sequence[tuple[str, str, str]],
                     messages: Sequence[dict[str, Any]], now: datetime) -> int:  # fmt: skip
        """Decide alerts and queue their messages in one transaction: they happen once, or not yet.

        Returns how many messages were queued. A key decided meanwhile by another check is skipped.
        """
        async with self.store.transaction() as tx:
            fresh = 0
            for order_id, kind, key in decided:
                cur = await tx.execute(
                    "INSERT OR IGNORE INTO alerts (team_id, order_id, kind, due_key, created_at) VALUES (?, ?, ?, ?, ?)",
                    (team_id, order_id, kind, key, iso(now)),
                )
                fresh += cur.rowcount
            if decided and fresh < len(decided):
                raise AlertDecidedMeanwhile  # another check decided some of it: undo, decide again
            await tx.executemany(
                "INSERT INTO outbox (team_id, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                [(team_id, chat_id, dumps(m), iso(now), iso(now)) for m in messages],
            )
            if messages and (notice := self.store.queued_notice([chat_id])) is not None:
                await tx.execute(*notice)  # the chat's replica wakes at the commit (PostgreSQL)
        if messages:
            self.store.signal_queued()
        return len(messages)

    async def snooze(self, team_id: int, order_id: str, until: datetime, by: int, kinds: Iterable[str]) -> None:
        kinds = list(kinds)
        async with self.store.transaction() as tx:
            # Snoozes that ran out are of no use: keep the table as small as what is snoozed now.
            await tx.execute("DELETE FROM snoozes WHERE team_id = ? AND until <= ?", (team_id, iso(until - SNOOZE_MAX)))
            await tx.execute(
                "INSERT INTO snoozes (team_id, order_id, until, by_user) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, order_id) DO UPDATE SET until = excluded.until, by_user = excluded.by_user",
                (team_id, order_id, iso(until), by),
            )
            # Forget that these alerts were sent, so they come again when the snooze ends.
            await tx.execute(
                f"DELETE FROM alerts WHERE team_id = ? AND order_id = ? AND kind IN ({', '.join('?' * len(kinds))})",
                (team_id, order_id, *kinds),
            )

    async def goods_of(self, team_id: int, order_ids: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        """What each order holds, as the warehouse picks it: (SKU, quantity still to ship, or
        ordered once all shipped), items in their order; by the primary key of order_items."""
        found: dict[str, list[tuple[str, int]]] = {}
        ids = list(dict.fromkeys(order_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = await self.store.fetchall(
                "SELECT order_id, sku, quantity, quantity_shipped FROM order_items WHERE team_id = ? AND order_id IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY order_id, item_id",
                [team_id, *chunk],
            )
            for order_id, sku, quantity, shipped in rows:
                left = quantity - shipped
                found.setdefault(order_id, []).append((sku, left if left > 0 else quantity))
        return found

    # --- the digest ---------------------------------------------------------------------

    async def digest_figures(self, team_id: int, *, now: datetime, day_start: datetime, day_end: datetime,
                             yesterday_start: datetime, shown: int = 10) -> dict[str, Any]:  # fmt: skip
        """What the daily digest says, each part read from an index or a kept count, so that its
        cost follows the open orders and the day's work, never the size of the history:

        - the orders in each state (``order_counts``, kept by triggers);
        - how many open orders are past their ship-by, and how many due before the end of the
          day, and the first ``shown`` of each by ship-by (``orders_by_state``);
        - yesterday's work per person (``events_by_person``: people's events, not imports');
        - Amazon's account-health figures, summed over the hours of their windows (``team_hours``,
          kept by triggers when an order is placed, ships or is cancelled): late shipments over
          10 and 30 days, cancellations by the seller over 7 days, valid tracking over 30 days,
          each window the whole days before today.
        """
        q = self.store.fetchall
        by_state = {goods: n for goods, n in await q(
            "SELECT goods, n FROM order_counts WHERE team_id = ? AND n > 0", (team_id,))}  # fmt: skip
        # Open orders due before the day ends: counted from the index alone, the first few of
        # each part read in full (the rest of the rows are never looked up).
        shippable = "team_id = ? AND goods IN ('unshipped', 'partially_shipped')"
        (late, today), = await q(
            f"SELECT count(*) FILTER (WHERE ship_by < ?), count(*) FILTER (WHERE ship_by >= ?) FROM orders WHERE {shippable} "
            "AND ship_by < ?", (iso(now), iso(now), team_id, iso(day_end)))  # fmt: skip
        # The first by ship-by are chosen from the index (rowid and ship-by are in it), then read.
        # (PostgreSQL has no row id: there the order id, with the team, is the key.)
        rid = "rowid" if self.store.dialect == "sqlite" else "order_id"
        first = (
            f"SELECT order_id, ship_by FROM orders WHERE +team_id = ? AND {rid} IN (SELECT {rid} FROM orders WHERE "
            f"{shippable} AND ship_by >= ? AND ship_by < ? ORDER BY ship_by, {rid} LIMIT ?) ORDER BY ship_by, {rid}"
        )
        overdue = await q(first, (team_id, team_id, "", iso(now), shown))
        ship_today = await q(first, (team_id, team_id, iso(now), iso(day_end), shown))
        work = await q(
            "SELECT actor_name, action, count(*) FROM events WHERE team_id = ? AND actor_kind = 'user' AND at >= ? "
            "AND at < ? GROUP BY actor_name, action ORDER BY actor_name, action",
            (team_id, iso(yesterday_start), iso(day_start)),
        )
        health = await q(DIGEST_HEALTH, digest_windows(team_id, day_start))
        return {
            "by_state": by_state, "overdue_count": late, "ship_today_count": today,
            "overdue": [(oid, from_iso(at)) for oid, at in overdue],
            "ship_today": [(oid, from_iso(at)) for oid, at in ship_today],
            "work": [(name, action, n) for name, action, n in work],
            "health": dict(zip(HEALTH_FIGURES, health[0], strict=True)),
        }  # fmt: skip


#: Amazon's windows, in whole days before the digest's day (Account Health).
LATE_WINDOWS = (10, 30)
CANCEL_WINDOW = 7
TRACKING_WINDOW = 30

HEALTH_FIGURES = (
    "shipped_10", "late_10", "shipped_30", "late_30", "ordered_7", "cancelled_7", "confirmed_30", "valid_30",
)  # fmt: skip
#: One range read of the team's kept hours (at most 30 x 24 rows), each figure summed over its window.
DIGEST_HEALTH = (
    "SELECT coalesce(sum(shipped) FILTER (WHERE hour >= :from10), 0), "
    "coalesce(sum(shipped_late) FILTER (WHERE hour >= :from10), 0), "
    "coalesce(sum(shipped), 0), coalesce(sum(shipped_late), 0), "
    "coalesce(sum(ordered) FILTER (WHERE hour >= :from7), 0), "
    "coalesce(sum(seller_cancelled) FILTER (WHERE hour >= :from7), 0), "
    "coalesce(sum(confirmed), 0), coalesce(sum(tracking_valid), 0) "
    "FROM team_hours WHERE team_id = :t AND hour >= :from30 AND hour < :to"
)


def _hour(moment: datetime) -> str:
    return (iso(moment) or "")[:13]


def digest_windows(team_id: int, day_start: datetime) -> dict[str, Any]:
    """The parameters of ``DIGEST_HEALTH``: the windows end where the digest's day begins."""
    return {
        "t": team_id, "to": _hour(day_start), "from30": _hour(day_start - timedelta(days=TRACKING_WINDOW)),
        "from10": _hour(day_start - timedelta(days=LATE_WINDOWS[0])),
        "from7": _hour(day_start - timedelta(days=CANCEL_WINDOW)),
    }  # fmt: skip

"""Carrier tracking: the numbers the desk has the provider track, their state, and the quota (part of ``Store``).

A number enters from the shipments table (:meth:`TrackingTables.collect_shipments`, which reads
past a cursor, so each shipment is looked at once), is registered with the provider, polled
when due (the ``tracking_due`` partial index serves the poll whatever the number of orders),
and stopped when delivered, corrected away or too old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.db import Database
from bot.storage.values import from_iso, iso

#: The columns :class:`TrackedNumber` is read from.
_COLUMNS = (
    "tracking_id, team_id, order_id, number, carrier, provider_carrier, shipped_at, state, registered_at, status, "
    "sub_status, event_at, event_place, event_text, moved_at, delivered_at, checked_at, next_check_at, stopped_at, "
    "stop_reason, error, concern, concern_since, attempts"
)
#: The poll's query: the registered numbers due, oldest first (served by ``tracking_due``).
DUE_QUERY = (
    f"SELECT {_COLUMNS} FROM tracking WHERE state = 'registered' AND next_check_at <= ? ORDER BY next_check_at LIMIT ?"
)


@dataclass(frozen=True)
class TrackedNumber:
    """One tracking number of one order, as the desk tracks it."""

    tracking_id: int
    team_id: int
    order_id: str
    number: str
    carrier: str
    provider_carrier: int | None
    shipped_at: datetime
    state: str
    registered_at: datetime | None = None
    status: str | None = None
    sub_status: str | None = None
    event_at: datetime | None = None
    event_place: str | None = None
    event_text: str | None = None
    moved_at: datetime | None = None
    delivered_at: datetime | None = None
    checked_at: datetime | None = None
    next_check_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    error: str | None = None
    concern: str | None = None
    concern_since: datetime | None = None
    attempts: int = 0


def _number(row: Sequence[Any]) -> TrackedNumber:
    (tid, team, order, number, carrier, pcarrier, shipped, state, registered, status, sub, ev_at, ev_place, ev_text,
     moved, delivered, checked, next_check, stopped, reason, error, concern, since, attempts) = row  # fmt: skip
    return TrackedNumber(tid, team, order, number, carrier, pcarrier, datetime.fromisoformat(shipped), state,
                         from_iso(registered), status, sub, from_iso(ev_at), ev_place, ev_text, from_iso(moved),
                         from_iso(delivered), from_iso(checked), from_iso(next_check), from_iso(stopped), reason,
                         error, concern, from_iso(since), attempts)  # fmt: skip


@dataclass(frozen=True)
class StatusUpdate:
    """What the provider said about a number, as stored."""

    status: str
    sub_status: str = ""
    event_at: datetime | None = None
    event_place: str = ""
    event_text: str = ""
    delivered_at: datetime | None = None
    provider_carrier: int | None = None
    #: What is wrong with the parcel now (an alert candidate), or None.
    concern: str | None = None


class TrackingTables(Database):
    """The tracking, tracking_cursor and tracking_quota tables."""

    async def collect_shipments(self, since: datetime, *, limit: int = 5000) -> int:
        """Numbers of shipments written since the last call, to register (shipped at or after
        ``since``: older ones are past tracking); numbers a correction replaced, to stop.
        Returns how many shipments were read (``limit`` at most: call again while it is)."""

        def work(db: Any) -> int:
            self.begin(db)
            try:
                row = db.execute("SELECT last_shipment_id FROM tracking_cursor WHERE id = 1").fetchone()
                cursor = row[0] if row else 0
                rows = db.execute(
                    "SELECT shipment_id, team_id, order_id, tracking, carrier, shipped_at, superseded FROM shipments "
                    "WHERE shipment_id > ? ORDER BY shipment_id LIMIT ?",
                    (cursor, limit),
                ).fetchall()
                orders = set()
                for _sid, team, order, number, carrier, shipped, superseded in rows:
                    if shipped < iso(since):
                        continue  # past tracking, and so is whatever it replaced
                    orders.add((team, order))
                    if superseded or not number:
                        continue
                    db.execute(
                        "INSERT OR IGNORE INTO tracking (team_id, order_id, number, carrier, shipped_at) "
                        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM tracking_off WHERE team_id = ?)",
                        (team, order, number, carrier, shipped, team),
                    )
                for team, order in orders:
                    # A number no current shipment carries any more was corrected away.
                    gone = "number NOT IN (SELECT tracking FROM shipments WHERE team_id = ? AND order_id = ? AND superseded = 0)"
                    db.execute(
                        "UPDATE tracking SET state = 'stopped', stop_reason = 'corrected', stopped_at = ? "
                        f"WHERE team_id = ? AND order_id = ? AND state IN ('to_register', 'rejected') AND {gone}",
                        (iso(since), team, order, team, order),
                    )
                    db.execute(
                        "UPDATE tracking SET state = 'to_stop', stop_reason = 'corrected', next_check_at = NULL, concern = NULL, "
                        "concern_since = NULL "
                        f"WHERE team_id = ? AND order_id = ? AND state = 'registered' AND {gone}",
                        (team, order, team, order),
                    )
                if rows:
                    db.execute(
                        "INSERT INTO tracking_cursor (id, last_shipment_id) VALUES (1, ?) "
                        "ON CONFLICT (id) DO UPDATE SET last_shipment_id = excluded.last_shipment_id",
                        (rows[-1][0],),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return len(rows)

        async with self._write_lock:
            return int(await self.on_writer(work))

    async def tracking_work(self, state: str, limit: int) -> list[TrackedNumber]:
        """Numbers waiting for the provider: ``to_register`` or ``to_stop``, in the order they came."""
        rows = await self.fetchall(
            f"SELECT {_COLUMNS} FROM tracking WHERE state = ? ORDER BY tracking_id LIMIT ?", (state, limit)
        )
        return [_number(r) for r in rows]

    async def tracking_due(self, now: datetime, limit: int) -> list[TrackedNumber]:
        """Registered numbers due for a look, the longest waiting first."""
        return [_number(r) for r in await self.fetchall(DUE_QUERY, (iso(now), limit))]

    async def tracking_of(self, team_id: int, order_id: str) -> list[TrackedNumber]:
        rows = await self.fetchall(
            f"SELECT {_COLUMNS} FROM tracking WHERE team_id = ? AND order_id = ? ORDER BY tracking_id",
            (team_id, order_id),
        )
        return [_number(r) for r in rows]

    async def tracking_registered(self, done: Sequence[tuple[int, int | None, datetime]], now: datetime) -> None:
        """The provider tracks these now: (tracking id, its carrier code, first check)."""
        async with self.transaction() as tx:
            await tx.executemany(
                "UPDATE tracking SET state = 'registered', registered_at = ?, provider_carrier = "
                "coalesce(?, provider_carrier), next_check_at = ?, error = NULL WHERE tracking_id = ? "
                "AND state = 'to_register'",
                [(iso(now), carrier, iso(first), tid) for tid, carrier, first in done],
            )

    async def tracking_refused(self, refused: Sequence[tuple[int, str]], *, retry: bool) -> None:
        """The provider refused these numbers (id, its code and message): for good, or to try again."""
        async with self.transaction() as tx:
            if retry:
                await tx.executemany(
                    "UPDATE tracking SET attempts = attempts + 1, error = ? WHERE tracking_id = ?",
                    [(error, tid) for tid, error in refused],
                )
            else:
                await tx.executemany(
                    "UPDATE tracking SET state = 'rejected', error = ? WHERE tracking_id = ? AND state = 'to_register'",
                    [(error, tid) for tid, error in refused],
                )

    async def tracking_reregister(self, tracking_id: int) -> None:
        """The provider no longer knows a number it had accepted: register it again."""
        await self.execute_write(
            "UPDATE tracking SET state = 'to_register', next_check_at = NULL WHERE tracking_id = ? "
            "AND state = 'registered'",
            (tracking_id,),
        )

    async def tracking_to_stop(self, ids: Sequence[int], reason: str) -> None:
        async with self.transaction() as tx:
            await tx.executemany(
                "UPDATE tracking SET state = 'to_stop', stop_reason = ?, next_check_at = NULL, concern = NULL, "
                "concern_since = NULL "
                "WHERE tracking_id = ? AND state = 'registered'",
                [(reason, tid) for tid in ids],
            )

    async def tracking_stopped(self, ids: Sequence[int], now: datetime) -> None:
        async with self.transaction() as tx:
            await tx.executemany(
                "UPDATE tracking SET state = 'stopped', stopped_at = ?, next_check_at = NULL WHERE tracking_id = ? "
                "AND state = 'to_stop'",
                [(iso(now), tid) for tid in ids],
            )

    async def tracking_status(self, tracking_id: int, update: StatusUpdate, *, now: datetime,
                              next_check_at: datetime | None) -> None:  # fmt: skip
        """Store what the provider said about one number (see :meth:`tracking_statuses`)."""
        await self.tracking_statuses([(tracking_id, update, next_check_at)], now=now)

    async def tracking_statuses(self, updates: Sequence[tuple[int, StatusUpdate, datetime | None]], *,
                                now: datetime) -> None:  # fmt: skip
        """Store what the provider said, in one transaction: (tracking id, the status and the carrier's
        last event, when to ask again; ``None``: stop asking). ``moved_at`` moves when the carrier's
        last event changes; ``concern_since`` when the concern does."""

        def params(tid: int, u: StatusUpdate, next_check_at: datetime | None) -> tuple[Any, ...]:
            at = iso(u.event_at)
            return (u.status, u.sub_status, at, at, at, at, at, u.event_place, at, u.event_text, iso(u.delivered_at),
                    u.provider_carrier, u.concern, u.concern, iso(now), u.concern, iso(now), iso(next_check_at), tid)  # fmt: skip

        async with self.transaction() as tx:
            await tx.executemany(
                "UPDATE tracking SET status = ?, sub_status = ?, "
                "moved_at = CASE WHEN CAST(? AS TEXT) IS NOT NULL AND CAST(? AS TEXT) IS NOT coalesce(event_at, '') THEN ? ELSE moved_at END, "
                "event_at = coalesce(?, event_at), event_place = CASE WHEN CAST(? AS TEXT) IS NULL THEN event_place ELSE ? END, "
                "event_text = CASE WHEN CAST(? AS TEXT) IS NULL THEN event_text ELSE ? END, "
                "delivered_at = coalesce(?, delivered_at), provider_carrier = coalesce(?, provider_carrier), "
                "concern_since = CASE WHEN CAST(? AS TEXT) IS NULL THEN NULL WHEN CAST(? AS TEXT) IS concern THEN concern_since ELSE ? END, "
                "concern = ?, checked_at = ?, next_check_at = ? WHERE tracking_id = ? AND state = 'registered'",
                [params(*u) for u in updates],
            )

    async def tracking_find(self, number: str) -> list[TrackedNumber]:
        """The active rows of a number (a pushed update names the number only)."""
        rows = await self.fetchall(
            f"SELECT {_COLUMNS} FROM tracking WHERE number = ? AND state IN ('registered', 'to_register')", (number,)
        )
        return [_number(r) for r in rows]

    async def tracking_concerns(self, team_id: int, kinds: Sequence[str] = ("exception", "no_scan", "stuck"),
                                *, limit: int = 200) -> list[TrackedNumber]:  # fmt: skip
        """A team's numbers with a concern (alert candidates), oldest concern first."""
        marks = ", ".join("?" * len(kinds))
        rows = await self.fetchall(
            f"SELECT {_COLUMNS} FROM tracking WHERE team_id = ? AND concern IN ({marks}) "
            "AND state = 'registered' ORDER BY concern_since, tracking_id LIMIT ?",
            (team_id, *kinds, limit),
        )
        return [_number(r) for r in rows]

    async def tracking_scans(self, team_id: int, since: datetime, until: datetime) -> tuple[int, int]:
        """The valid tracking rate's figures, measured: (numbers shipped between ``since`` and
        ``until`` that the desk tracks, those the carrier has scanned). A number corrected away
        does not count; its replacement does."""
        row = await self.fetchone(
            "SELECT count(*), count(*) FILTER (WHERE status IS NOT NULL AND status NOT IN ('NotFound', 'InfoReceived')) "
            "FROM tracking WHERE team_id = ? AND shipped_at >= ? AND shipped_at < ? "
            "AND coalesce(stop_reason, '') <> 'corrected' AND state <> 'rejected'",
            (team_id, iso(since), iso(until)),
            small=False,  # a month of shipments: a reader's
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def tracking_enabled(self, team_id: int) -> bool:
        """Whether the team tracks its parcels (an administrator may switch it off)."""
        return await self.fetchone("SELECT 1 FROM tracking_off WHERE team_id = ?", (team_id,)) is None

    async def set_tracking(self, team_id: int, on: bool, *, by: int | None, now: datetime,
                           since: datetime | None = None) -> None:  # fmt: skip
        """Switch a team's carrier tracking on (its new shipments are registered) or off (nothing
        new is registered, and what is tracked is stopped). Switched on with ``since`` (the oldest
        shipment still worth tracking), what the switch stopped is tracked again: a number not yet
        stopped with the provider stays registered; one stopped is registered again (the tracker
        has the provider retrack a number it already knows); shipments made while it was off are added."""
        async with self.transaction() as tx:
            if on:
                await tx.execute("DELETE FROM tracking_off WHERE team_id = ?", (team_id,))
                if since is not None:
                    await self._resume(tx, team_id, now, since)
                return
            await tx.execute(
                "INSERT INTO tracking_off (team_id, by, at) VALUES (?, ?, ?) ON CONFLICT (team_id) DO NOTHING",
                (team_id, by, iso(now)),
            )
            await tx.execute(
                "UPDATE tracking SET state = 'stopped', stop_reason = 'switched_off', stopped_at = ? "
                "WHERE team_id = ? AND state = 'to_register'",
                (iso(now), team_id),
            )
            await tx.execute(
                "UPDATE tracking SET state = 'to_stop', stop_reason = 'switched_off', next_check_at = NULL, "
                "concern = NULL, concern_since = NULL "
                "WHERE team_id = ? AND state = 'registered'",
                (team_id,),
            )

    @staticmethod
    async def _resume(tx: Any, team_id: int, now: datetime, since: datetime) -> None:
        await tx.execute(
            "UPDATE tracking SET state = 'registered', stop_reason = NULL, next_check_at = ? "
            "WHERE team_id = ? AND state = 'to_stop' AND stop_reason = 'switched_off' AND shipped_at >= ?",
            (iso(now), team_id, iso(since)),
        )
        await tx.execute(
            "UPDATE tracking SET state = 'to_register', stop_reason = NULL, stopped_at = NULL, next_check_at = NULL, "
            "error = NULL, attempts = 0 "
            "WHERE team_id = ? AND state = 'stopped' AND stop_reason = 'switched_off' AND shipped_at >= ?",
            (team_id, iso(since)),
        )
        await tx.execute(
            "INSERT OR IGNORE INTO tracking (team_id, order_id, number, carrier, shipped_at) "
            "SELECT team_id, order_id, tracking, carrier, shipped_at FROM shipments "
            "WHERE team_id = ? AND superseded = 0 AND tracking <> '' AND shipped_at >= ?",
            (team_id, iso(since)),
        )

    async def record_quota(self, provider: str, now: datetime, total: int, used: int, remaining: int) -> None:
        await self.execute_write(
            "INSERT INTO tracking_quota (provider, checked_at, total, used, remaining) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (provider) DO UPDATE SET checked_at = excluded.checked_at, total = excluded.total, "
            "used = excluded.used, remaining = excluded.remaining",
            (provider, iso(now), total, used, remaining),
        )

    async def tracking_quota(self, provider: str) -> tuple[datetime, int, int, int] | None:
        row = await self.fetchone(
            "SELECT checked_at, total, used, remaining FROM tracking_quota WHERE provider = ?", (provider,)
        )
        return None if row is None else (datetime.fromisoformat(row[0]), row[1], row[2], row[3])

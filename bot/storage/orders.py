"""Orders with their items and events: look-ups, lists, version-checked saves, imports."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from bot.domain import Event, Goods, Money, Order, OrderItem
from bot.storage.db import Database
from bot.storage.errors import OrderChangedMeanwhile
from bot.storage.order_rows import (
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    ORDER_INSERT,
    ORDER_SELECT,
    ORDER_UPDATE,
    ORDER_UPDATE_COLUMNS,
    event_from_row,
    event_row,
    item_rows,
    order_from_row,
    order_row,
    order_update,
)
from bot.storage.shipments import Shipment
from bot.storage.values import CHUNK, dumps, iso

#: The states of an order still to be shipped: a tail look-up ranks these first.
OPEN_STATES = (Goods.pending, Goods.unshipped, Goods.partially_shipped)
#: Ship-by from (inclusive) until (exclusive); None leaves that end open.
ShipByRange = tuple[datetime | None, datetime | None]


def _key_bounds(ship_by: ShipByRange) -> tuple[tuple[str, bool] | None, tuple[str, bool] | None]:
    """A ship-by range as bounds on ``list_key`` (which begins with the ship-by, '~' when
    none): (text, inclusive) for the lower and the upper end, None when open. Orders
    without a ship-by fall outside any range that has an upper end."""
    start, end = ship_by
    return (None if start is None else (cast(str, iso(start)), True),
            None if end is None else (cast(str, iso(end)), False))  # fmt: skip


#: The columns an action may change (``version`` and ``updated_at`` are written at every save).
_UPDATABLE = frozenset(ORDER_UPDATE_COLUMNS) - {"version", "updated_at"}


class OrderTables(Database):
    """The orders, order items, events and imports tables (part of ``Store``).

    Every change of an order is saved with its event, and only if the order is still at the
    version it was read at: two people acting on one order never both succeed. A save also
    writes the shipments that change made (read back by ``ShipmentTables``).
    """

    async def find_order_ids(self, team_id: int, *, full: str | None = None, tail: str | None = None,
                             limit: int = 6, open_only: bool = False) -> list[str]:  # fmt: skip
        """The order with this id, or the orders whose id ends in ``tail``: the open ones first
        (pending, unshipped, partially shipped), then the latest bought; with ``open_only``,
        only the open ones."""
        if full is not None:
            row = await self.fetchone("SELECT order_id FROM orders WHERE team_id = ? AND order_id = ?", (team_id, full))
            return [row[0]] if row else []
        if tail is None:
            raise TypeError("find_order_ids() needs a full id or a tail")
        prefix = tail[::-1]
        # A range on the reversed digits: the index answers "ids ending in ..." (a 4-digit
        # tail matches about 100 orders of a million: they are ranked here, not the history).
        open_states = ", ".join(f"'{g.value}'" for g in OPEN_STATES)
        where = f" AND goods IN ({open_states})" if open_only else ""
        rows = await self.fetchall(
            f"SELECT order_id FROM orders WHERE team_id = ? AND digits_rev >= ? AND digits_rev < ?{where} "
            f"ORDER BY goods IN ({open_states}) DESC, purchased_at DESC LIMIT ?",
            (team_id, prefix, prefix + ":", limit),
        )
        return [r[0] for r in rows]

    async def order(self, team_id: int, order_id: str) -> Order | None:
        """The order with its items (one call: both statements together; small work, on SQLite
        on the event loop's thread)."""

        def read(db: sqlite3.Connection) -> tuple[Any, list[Any]]:
            row = db.execute(
                f"SELECT {ORDER_SELECT} FROM orders WHERE team_id = ? AND order_id = ?", (team_id, order_id)
            ).fetchone()
            if row is None:
                return None, []
            items = db.execute(
                "SELECT item_id, sku, title, quantity, quantity_shipped, price FROM order_items "
                "WHERE team_id = ? AND order_id = ? ORDER BY item_id",
                (team_id, order_id),
            ).fetchall()
            return row, items

        row, items = await self.read_in_one(read, small=True)
        if row is None:
            return None
        order = order_from_row(row)
        order.items = [
            OrderItem(i, sku, title, q, qs, None if p is None else Decimal(p)) for i, sku, title, q, qs, p in items
        ]
        return order

    async def orders_by_ids(self, team_id: int, order_ids: Sequence[str]) -> dict[str, Order]:
        """Many orders with their items, in few queries (imports).

        The same orders as :meth:`order` reads (``order_from_row``), built faster: a report
        re-read brings 100,000 orders whose times, amounts and states repeat, and times,
        amounts and states are immutable, so equal ones are parsed once and shared.
        """
        found: dict[str, Order] = {}
        ids = sorted(set(order_ids))  # in key order: neighbouring look-ups share index pages
        goods_by_value: dict[str, Goods] = {g.value: g for g in Goods}
        money_by_value: dict[str, Money] = {m.value: m for m in Money}
        times: dict[str | None, datetime | None] = {None: None}
        amounts: dict[str | None, Decimal | None] = {None: None}

        def when(text: str | None) -> datetime | None:
            value = times.get(text)
            if value is None and text is not None:
                value = times[text] = datetime.fromisoformat(text)
            return value

        def amount(text: str | None) -> Decimal | None:
            value = amounts.get(text)
            if value is None and text is not None:
                value = amounts[text] = Decimal(text)
            return value

        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.fetchall(
                "SELECT team_id, order_id, goods, money, channel, currency, total, refunded, purchased_at, ship_by, "
                "deliver_by, service_level, buyer_name, ship_city, ship_state, ship_postal_code, ship_country, "
                "ship_address, carrier, carrier_name, tracking, shipped_at, return_reason, disposition, version "
                f"FROM orders WHERE team_id = ? AND order_id IN ({marks})",
                [team_id, *chunk],
            )
            for (tid, oid, goods, money, channel, currency, total, refunded, purchased_at, ship_by, deliver_by,
                 service_level, buyer_name, ship_city, ship_state, ship_postal_code, ship_country, ship_address,
                 carrier, carrier_name, tracking, shipped_at, return_reason, disposition, version) in rows:  # fmt: skip
                g, m = goods_by_value.get(goods), money_by_value.get(money)
                found[oid] = Order(
                    team_id=tid, order_id=oid, goods=Goods(goods) if g is None else g,
                    money=Money(money) if m is None else m, channel=channel, currency=currency,
                    total=amount(total), refunded=cast(Decimal, amount(refunded)), purchased_at=when(purchased_at),
                    ship_by=when(ship_by), deliver_by=when(deliver_by), service_level=service_level,
                    buyer_name=buyer_name, ship_city=ship_city, ship_state=ship_state,
                    ship_postal_code=ship_postal_code, ship_country=ship_country, ship_address=ship_address,
                    carrier=carrier, carrier_name=carrier_name, tracking=tracking, shipped_at=when(shipped_at),
                    return_reason=return_reason, disposition=disposition, version=version,
                )  # fmt: skip
            if not rows:
                continue
            items = await self.fetchall(
                "SELECT order_id, item_id, sku, title, quantity, quantity_shipped, price FROM order_items "
                f"WHERE team_id = ? AND order_id IN ({marks}) ORDER BY order_id, item_id",
                [team_id, *chunk],
            )
            for oid, i, sku, title, q, qs, p in items:
                found[oid].items.append(OrderItem(i, sku, title, q, qs, amount(p)))
        return found

    async def save(self, order: Order, event: Event, *, now: datetime, shipments: Sequence[Shipment] = (),
                   supersede: str | None = None, before: Order | None = None) -> bool:  # fmt: skip
        """Write the changed order, its event and its shipments together, if nobody changed it meanwhile.

        ``order.version`` is the version it was loaded at; on success it is bumped. With
        ``supersede`` (a tracking number), the shipments under it are replaced (a correction).
        ``before``: the order as it was read at that version; then only the columns that differ
        from it are written (the version check makes sure it is what is stored).
        The statements are prepared here and run in one call (small work: on SQLite, on the event
        loop's thread; bot/storage/db.py).
        """
        statement, params = self._changed_params(order, before, now)
        items = [(i.quantity_shipped, order.team_id, order.order_id, i.item_id) for i in order.items]
        event_params = event_row(event)
        shipment_rows = [(order.team_id, order.order_id, sh.item_id, sh.quantity, iso(sh.shipped_at), sh.carrier,
                          sh.carrier_name, sh.tracking, sh.ship_method) for sh in shipments]  # fmt: skip

        def write(db: sqlite3.Connection) -> bool:
            if db.execute(statement, params).rowcount != 1:
                return False
            if items:
                db.executemany(
                    "UPDATE order_items SET quantity_shipped = ? WHERE team_id = ? AND order_id = ? AND item_id = ?",
                    items,
                )
            db.execute(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 13)})", event_params)
            if supersede is not None:
                db.execute(
                    "UPDATE shipments SET superseded = 1 WHERE team_id = ? AND order_id = ? AND superseded = 0 "
                    "AND tracking = ?",
                    (order.team_id, order.order_id, supersede),
                )
            db.executemany(
                "INSERT INTO shipments (team_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, "
                "tracking, ship_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                shipment_rows,
            )
            return True

        ok = bool(await self.write_in_one(write, small=True))
        if ok:
            order.version += 1
        return ok

    @staticmethod
    def _changed_params(order: Order, before: Order | None, now: datetime) -> tuple[str, list[Any]]:
        """The UPDATE of ``order``'s changed columns (all of them without ``before``) and its parameters."""
        if before is None or before.version != order.version:
            return ORDER_UPDATE, OrderTables._update_params(order, now)
        new, old = order_row(order, now), order_row(before, now)
        changed = [(c, value) for c, value, was in zip(ORDER_COLUMNS, new, old, strict=True)
                   if c in _UPDATABLE and value != was]  # fmt: skip
        columns = (*(c for c, _ in changed), "version", "updated_at")
        return order_update(columns), [*(v for _, v in changed), order.version + 1, iso(now), order.team_id,
                                       order.order_id, order.version]  # fmt: skip

    @staticmethod
    def _update_params(order: Order, now: datetime) -> list[Any]:
        """Parameters of ``ORDER_UPDATE``: the order at its next version, if still at its version."""
        row = dict(zip(ORDER_COLUMNS, order_row(order, now), strict=True))
        row["version"] = order.version + 1
        return [row[c] for c in ORDER_UPDATE_COLUMNS] + [order.team_id, order.order_id, order.version]

    async def write_import(
        self,
        *,
        team_id: int,
        new: Sequence[tuple[Order, Event]],
        changed: Sequence[tuple[Order, Sequence[Event]]],
        record: dict[str, Any],
        now: datetime,
    ) -> None:
        """One file's effect in one transaction: new orders, changed orders, their events.

        Raises ``OrderChangedMeanwhile`` (and writes nothing) when a changed order moved on since it
        was read; the caller reads again and retries.

        Rows are generated as SQLite takes them (a big file's rows are never all in memory
        at once), and each statement runs once for all the rows, not once per order.
        """
        serialised: list[Any] = [None, ""]  # the details last serialised, and their text

        def event_row_once(event: Event) -> tuple[Any, ...]:
            # New orders' events share one details mapping (the file): serialise it once.
            details = event.details
            if details is not serialised[0]:
                serialised[0], serialised[1] = details, dumps(dict(details))
            return event_row(event, serialised[1])

        def event_rows() -> Iterable[tuple[Any, ...]]:
            for _, event in new:
                yield event_row_once(event)
            for _, events in changed:
                for event in events:
                    yield event_row_once(event)

        async with self.transaction() as tx:
            await tx.executemany(ORDER_INSERT, (order_row(o, now) for o, _ in new))
            await tx.executemany(
                f"INSERT INTO order_items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row for o, _ in new for row in item_rows(o)),
            )
            if changed:
                # One guarded UPDATE per order (it matches one row, or none when the order
                # moved on since it was read): all matched, or the file is refused whole.
                done = await tx.executemany(ORDER_UPDATE, (self._update_params(o, now) for o, _ in changed))
                if done.rowcount != len(changed):
                    raise OrderChangedMeanwhile
                # A later report may add items or change their details.
                await tx.executemany(
                    f"INSERT INTO order_items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (team_id, order_id, item_id) DO UPDATE SET sku = excluded.sku, "
                    "title = excluded.title, quantity = excluded.quantity, "
                    "quantity_shipped = excluded.quantity_shipped, price = excluded.price",
                    (row for o, _ in changed for row in item_rows(o)),
                )
            await tx.executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                                 event_rows())  # fmt: skip
            await tx.execute(
                "INSERT INTO imports (team_id, sha256, kind, filename, at, actor_id, chat_id, rows, new, updated, "
                "unchanged, refused) VALUES (:team_id, :sha256, :kind, :filename, :at, :actor_id, :chat_id, :rows, "
                ":new, :updated, :unchanged, :refused)",
                {**record, "team_id": team_id, "at": iso(now)},
            )
        for order, _ in changed:
            order.version += 1

    async def list_orders(
        self,
        team_id: int,
        states: Iterable[Goods],
        *,
        limit: int,
        after: str | None = None,
        before: str | None = None,
        ship_by: tuple[datetime | None, datetime | None] = (None, None),
    ) -> list[Order]:
        """A page of the orders in these states, the most urgent (earliest ship-by) first.

        Keyset paging: the page after the order ``after`` (or before the order ``before``),
        read from ``orders_list`` in key order, one index range per state merged here, so a
        deep page of a year of history costs what the first does. ``ship_by`` (from, until)
        keeps the orders whose ship-by falls in that range (either end open when None).
        """
        values = [s.value for s in states]
        if not values:
            return []
        async with self.reading() as conn:
            cursor_key: str | None = None
            cursor = before if before is not None else after
            if cursor is not None:
                async with conn.execute(
                    "SELECT list_key FROM orders WHERE team_id = ? AND order_id = ?", (team_id, cursor)
                ) as cur:
                    row = await cur.fetchone()
                cursor_key = row[0] if row else None  # gone meanwhile: from the start (or the end)
            lower, upper = _key_bounds(ship_by)
            backwards = before is not None
            if cursor_key is not None:
                if backwards:
                    upper = (cursor_key, False) if upper is None or cursor_key <= upper[0] else upper
                else:
                    lower = (cursor_key, False) if lower is None or cursor_key >= lower[0] else lower
            where, params = "", []
            if lower is not None:
                where += " AND list_key >= ?" if lower[1] else " AND list_key > ?"
                params.append(lower[0])
            if upper is not None:
                where += " AND list_key <= ?" if upper[1] else " AND list_key < ?"
                params.append(upper[0])
            direction = "DESC" if backwards else "ASC"
            # The page's keys: one statement, one range of the index per state, each in key
            # order, read from the index alone; merged here. No sort of the history.
            # SQLite's row id is in every index (the page's rows are then read by it); PostgreSQL
            # has none: the order id, with the team, is the key there.
            rid = "rowid" if self.dialect == "sqlite" else "order_id"
            part = (
                f"SELECT * FROM (SELECT list_key, {rid} FROM orders WHERE team_id = ? AND goods = ?{where} "
                f"ORDER BY list_key {direction} LIMIT ?)"
            )
            args: list[Any] = []
            for value in values:
                args += [team_id, value, *params, limit]
            keys = sorted(await conn.execute_fetchall(" UNION ALL ".join([part] * len(values)), args),
                          reverse=backwards)[:limit]  # fmt: skip
            if not keys:
                return []
            # Then the page's own rows, by their row ids.
            rows = await conn.execute_fetchall(
                f"SELECT list_key, {ORDER_SELECT} FROM orders WHERE +team_id = ? AND {rid} IN "
                f"({', '.join('?' * len(keys))})",
                [team_id, *(rowid for _, rowid in keys)],
            )
        return [order_from_row(r[1:]) for r in sorted(rows)]

    async def count_orders(
        self, team_id: int, states: Iterable[Goods], *, ship_by: tuple[datetime | None, datetime | None] = (None, None)
    ) -> int:
        """How many orders are in these states (with their ship-by in ``ship_by``, if given).

        Without a range, from ``order_counts`` (kept by triggers on every write of orders);
        with one, counted in the range of ``orders_list`` (open orders: a few thousand at most).
        """
        values = [s.value for s in states]
        if not values:
            return 0
        marks = ", ".join("?" * len(values))
        if ship_by == (None, None):
            row = await self.fetchone(
                f"SELECT coalesce(sum(n), 0) FROM order_counts WHERE team_id = ? AND goods IN ({marks})",
                [team_id, *values],
            )
            return int(row[0])
        lower, upper = _key_bounds(ship_by)
        where, params = "", []
        if lower is not None:
            where += " AND list_key >= ?"
            params.append(lower[0])
        if upper is not None:
            where += " AND list_key < ?"
            params.append(upper[0])
        row = await self.fetchone(
            f"SELECT count(*) FROM orders WHERE team_id = ? AND goods IN ({marks}){where}",
            [team_id, *values, *params],
            small=False,  # the orders of a list: a reader's
        )
        return int(row[0])

    async def count_by_state(self, team_id: int) -> dict[str, int]:
        """How many orders the team has in each state (states with none left out)."""
        rows = await self.fetchall("SELECT goods, n FROM order_counts WHERE team_id = ? AND n > 0", (team_id,))
        return dict(rows)

    async def events(self, team_id: int, order_id: str, *, limit: int = 50, newest_first: bool = False) -> list[Event]:
        order = "DESC" if newest_first else "ASC"
        rows = await self.fetchall(
            f"SELECT event_id, {EVENT_COLUMNS} FROM events WHERE team_id = ? AND order_id = ? "
            f"ORDER BY event_id {order} LIMIT ?",
            (team_id, order_id, limit),
        )
        return [event_from_row(r) for r in rows]

    async def last_event(self, team_id: int, order_id: str, actions: Iterable[str] = ()) -> Event | None:
        actions = list(actions)
        where = f" AND action IN ({', '.join('?' * len(actions))})" if actions else ""
        row = await self.fetchone(
            f"SELECT event_id, {EVENT_COLUMNS} FROM events WHERE team_id = ? AND order_id = ?{where} "
            "ORDER BY event_id DESC LIMIT 1",
            (team_id, order_id, *actions),
        )
        return event_from_row(row) if row else None

    async def imported_before(self, team_id: int, sha256: str) -> datetime | None:
        row = await self.fetchone(
            "SELECT at FROM imports WHERE team_id = ? AND sha256 = ? ORDER BY import_id LIMIT 1", (team_id, sha256)
        )
        return datetime.fromisoformat(row[0]) if row else None

    # --- confirmations --------------------------------------------------------------

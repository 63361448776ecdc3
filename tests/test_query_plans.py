"""Reads that stay flat as history grows (issue 11), checked where it can be: the plans.

Times cannot be tested; plans can. Every statement the list, count, export, card, history
and tail paths send is captured as the store sends it and explained on a small database
(no statistics, as a desk's database has none): none reads the whole of orders, order_items,
shipments or events (a ``SCAN``), and no list page sorts (a temp B-tree): a page is read from
an index in key order. ``bench/bench_reads.py`` times the same paths on 10k to 1M orders.

And the per-state counts the lists show, kept by triggers, against ``GROUP BY`` after every
kind of write of orders: a first report, a later one, an action, a team moving and one
leaving.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.domain import Actor, Event, Goods, Money, Order, OrderItem
from bot.parsing import parse_order_ref
from bot.services import Desk
from bot.storage import Shipment, Store

TEAM = -1001234567890
OTHER = -1009876543210
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
IMPORT = Actor.importer("report.txt", chat_id=TEAM, user_id=101)
ALICE = Actor("user", 101, "Alice", TEAM)
#: Whole-table reads of the tables that grow with history.
SCAN = re.compile(r"^SCAN (orders|order_items|shipments|events)\b")
#: Searches bounded by the team alone: a team's whole history, as costly as a SCAN at a year of it
#: (the 1M regression bench_hosted found: ``team_id = ? AND rowid IN (…)`` planned on a team index).
TEAM_WIDE = re.compile(r"^SEARCH (orders|order_items|shipments|events) USING (COVERING )?INDEX \S+ \(team_id=\?\)$")
STATES = list(Goods)


def oid(n: int) -> str:
    return f"11{n % 4}-{n * 7919 % 10**7:07d}-{n * 4801 % 10**7 + 1000:07d}"


def an_order(n: int, goods: Goods, team_id: int = TEAM) -> Order:
    purchased = NOW - timedelta(days=n % 40, hours=n % 7)
    return Order(team_id=team_id, order_id=oid(n), goods=goods, version=1, purchased_at=purchased,
                 ship_by=None if goods is Goods.pending else purchased + timedelta(days=2),
                 items=[OrderItem(f"{n:06d}01", "SKU", "Thing", quantity=1)])  # fmt: skip


def imported(order: Order) -> Event:
    return Event(order.team_id, order.order_id, NOW, IMPORT, "imported", None, order.goods.value, None,
                 order.money.value, {"file": "report.txt"})  # fmt: skip


def record(sha: str) -> dict[str, Any]:
    return {"sha256": sha, "kind": "unshipped_orders", "filename": "report.txt", "actor_id": 101, "chat_id": TEAM,
            "rows": 1, "new": 1, "updated": 0, "unchanged": 0, "refused": 0}  # fmt: skip


def orders_of(team_id: int, count: int, first: int = 0) -> list[Order]:
    return [an_order(n, STATES[n % len(STATES)], team_id) for n in range(first, first + count)]


async def seed(store: Store, orders: list[Order], sha: str) -> None:
    await store.write_import(team_id=orders[0].team_id, new=[(o, imported(o)) for o in orders], changed=[],
                             record=record(sha), now=NOW)  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "desk.sqlite3")
    await s.open()
    await s.create_team(TEAM, "Store A", "Asia/Shanghai", by=101, at=NOW)
    await s.create_team(OTHER, "Store B", "UTC", by=999, at=NOW)
    try:
        yield s
    finally:
        await s.close()


async def captured(call: Callable[[], Awaitable[Any]], monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The statements ``call`` sends, with their parameters."""
    sent: list[tuple[str, Any]] = []
    fetchall, execute = aiosqlite.Connection.execute_fetchall, aiosqlite.Connection.execute

    def spy_fetchall(self: Any, sql: str, parameters: Any = None) -> Any:
        sent.append((sql, parameters or ()))
        return fetchall(self, sql, parameters)

    def spy_execute(self: Any, sql: str, parameters: Any = None) -> Any:
        if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", sql, re.I):
            sent.append((sql, parameters or ()))
        return execute(self, sql, parameters)

    with monkeypatch.context() as m:
        m.setattr(aiosqlite.Connection, "execute_fetchall", spy_fetchall)
        m.setattr(aiosqlite.Connection, "execute", spy_execute)
        await call()
    return sent


def plan(db: Path, sql: str, params: Any) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        conn.close()


async def test_every_read_path_reads_an_index_range_and_no_list_sorts(store: Store, monkeypatch) -> None:
    orders = orders_of(TEAM, 60)
    await seed(store, orders, "a")
    await seed(store, orders_of(OTHER, 20), "b")
    unshipped = next(o for o in orders if o.goods is Goods.unshipped)
    before = unshipped.version
    shipped = Shipment(unshipped.items[0].item_id, 1, NOW, "UPS", "", "1Z999AA10123456784")
    unshipped.goods = Goods.shipped
    assert await store.save(unshipped, Event(TEAM, unshipped.order_id, NOW, ALICE, "ship", "unshipped", "shipped",
                                             "none", "none", {}), now=NOW, shipments=[shipped])  # fmt: skip
    assert unshipped.version == before + 1
    desk = Desk(store, None, lambda: NOW)  # type: ignore[arg-type]  # reads only
    middle = orders[30].order_id
    day = (NOW - timedelta(hours=8), NOW + timedelta(hours=16))

    lists: dict[str, Callable[[], Awaitable[Any]]] = {
        "open, page 1": lambda: desk.orders(TEAM, STATES[:3], per_page=10),
        "all, page 1": lambda: desk.orders(TEAM, STATES, per_page=10),
        "all, after an order": lambda: desk.orders(TEAM, STATES, per_page=10, after=middle),
        "all, before an order": lambda: desk.orders(TEAM, STATES, per_page=10, before=middle),
        "delivered, after an order": lambda: desk.orders(TEAM, [Goods.delivered], per_page=10, after=middle),
        "overdue": lambda: desk.orders(
            TEAM, [Goods.unshipped, Goods.partially_shipped], per_page=10, ship_by=(None, NOW)
        ),  # fmt: skip
        "due soon, after an order": lambda: desk.orders(
            TEAM, [Goods.unshipped], per_page=10, after=middle, ship_by=(NOW, NOW + timedelta(hours=24))
        ),  # fmt: skip
    }
    others: dict[str, Callable[[], Awaitable[Any]]] = {
        "counts": lambda: store.count_by_state(TEAM),
        "export": lambda: store.take_for_export(TEAM, "e1", NOW),
        "untake export": lambda: store.untake_export("e1", NOW),
        "export a day": lambda: store.take_for_export(TEAM, "e2", NOW, day=day),
        "card": lambda: desk.card(TEAM, parse_order_ref(middle)),
        "history": lambda: desk.history(TEAM, parse_order_ref(middle)),
        "shipments of an order": lambda: store.shipments_of(TEAM, unshipped.order_id),
        "a tail": lambda: store.find_order_ids(TEAM, tail=middle[-4:]),
        "a tail, open orders": lambda: store.find_order_ids(TEAM, tail=middle[-4:], open_only=True),
    }
    db = Path(store.path)
    for name, call in {**lists, **others}.items():
        statements = await captured(call, monkeypatch)
        assert statements, name
        for sql, params in statements:
            steps = plan(db, sql, params)
            assert not [s for s in steps if SCAN.match(s) or TEAM_WIDE.match(s)], (name, sql, steps)
            if name in lists:
                assert not [s for s in steps if "TEMP B-TREE" in s], (name, sql, steps)
    # The exports took the shipment, and their undo gave it back.
    await store.untake_export("e2", NOW)
    assert [s.order_id for s in await store.take_for_export(TEAM, "e3", NOW)] == [unshipped.order_id]


def counts(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        kept = conn.execute("SELECT team_id, goods, n FROM order_counts WHERE n > 0 ORDER BY 1, 2").fetchall()
        counted = conn.execute("SELECT team_id, goods, count(*) FROM orders GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        return kept, counted
    finally:
        conn.close()


async def test_the_counts_are_kept_under_every_write_of_orders(store: Store) -> None:
    db = Path(store.path)
    orders = orders_of(TEAM, 40)
    await seed(store, orders, "first report")
    await seed(store, orders_of(OTHER, 10, first=100), "other team")
    kept, counted = counts(db)
    assert kept == counted and sum(n for *_, n in kept) == 50

    # A later report: new orders, and changed ones moving between states.
    changed = [o for o in orders if o.goods is Goods.unshipped][:3]
    for o in changed:
        o.goods = Goods.cancelled
    await store.write_import(team_id=TEAM, new=[(o, imported(o)) for o in orders_of(TEAM, 5, first=40)],
                             changed=[(o, [imported(o)]) for o in changed], record=record("second"),
                             now=NOW)  # fmt: skip
    kept, counted = counts(db)
    assert kept == counted
    assert await store.count_orders(TEAM, [Goods.cancelled]) == len(
        [o for o in orders + orders_of(TEAM, 5, first=40) if o.goods is Goods.cancelled]
    )

    # One action (a saved change of state), and one refused for its stale version.
    order = next(o for o in orders if o.goods is Goods.shipped)
    stale = dataclasses.replace(order, items=list(order.items))
    order.goods = Goods.delivered
    assert await store.save(order, Event(TEAM, order.order_id, NOW, ALICE, "deliver", "shipped", "delivered", "none",
                                         "none", {}), now=NOW)  # fmt: skip
    stale.goods, stale.money = Goods.lost, Money.refunded
    assert not await store.save(stale, Event(TEAM, order.order_id, NOW, ALICE, "lose", "shipped", "lost", "none",
                                             "refunded", {}), now=NOW)  # fmt: skip
    kept, counted = counts(db)
    assert kept == counted

    # The group became a supergroup: its orders follow it. Then the other team leaves.
    moved = await store.move_team(TEAM, -1005555555555, title=None, now=NOW, moved_notice=lambda n: {"text": str(n)},
                                  occupied_notice=lambda n: {"text": str(n)})  # fmt: skip
    assert (moved.moved, moved.orders) == (True, 45)
    await store.forget_team(OTHER)
    kept, counted = counts(db)
    assert kept == counted
    assert await store.count_by_state(OTHER) == {}
    assert sum((await store.count_by_state(-1005555555555)).values()) == 45

"""The digest's figures and the alert messages' shape, below the end-to-end tests.

- The digest's statements read indexes and kept counts only (their plans: no ``SCAN`` of the
  tables that grow with history); ``bench/bench_reads.py`` times them at 10k and 1M orders.
- ``team_hours``, kept by triggers as orders are written, equals what the schema's backfill
  counts from the same orders and events, after every kind of write.
- Valid tracking: every Amazon carrier code ``bot/carriers.py`` stores counts, ``Other`` does not.
- The buttons under an alert fit half a phone's width in every language.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot import i18n
from bot.alerts import URGENCY, Due
from bot.carriers import CARRIER_CODES, OTHER
from bot.domain import Actor, Event, Goods, Order, OrderItem
from bot.storage import AlertStore, Store
from bot.storage.db import _statements, migrations
from bot.texts.alerts import alert_messages
from tests.support.db import is_pg, opened

TEAM = -1001234567890
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
IMPORT = Actor.importer("report.txt", chat_id=TEAM, user_id=101)
ALICE = Actor("user", 101, "Alice", TEAM)
SCAN = re.compile(r"^SCAN (orders|order_items|shipments|events)\b")
#: A search bounded by the team alone reads its whole history (tests/test_query_plans.py).
TEAM_WIDE = re.compile(r"^SEARCH (orders|order_items|shipments|events) USING (COVERING )?INDEX \S+ \(team_id=\?\)$")
HOURS = (
    "SELECT * FROM team_hours WHERE ordered > 0 OR seller_cancelled > 0 OR shipped > 0 OR confirmed > 0 "
    "ORDER BY team_id, hour"
)


def an_order(n: int, goods: Goods = Goods.unshipped) -> Order:
    purchased = NOW - timedelta(days=n % 20, hours=n % 7)
    return Order(team_id=TEAM, order_id=f"113-{n:07d}-{n * 7:07d}", goods=goods, version=1, purchased_at=purchased,
                 ship_by=purchased + timedelta(days=2),
                 items=[OrderItem(f"{n:06d}01", f"SKU-{n}", "Thing", quantity=1 + n % 3)])  # fmt: skip


def event(order: Order, action: str, at: datetime, actor: Actor = ALICE, **details: Any) -> Event:
    return Event(TEAM, order.order_id, at, actor, action, None, order.goods.value, None, order.money.value, details)


async def opened_store(target: Path | str) -> Store:
    s = Store(target)
    await s.open()
    await s.create_team(TEAM, "Store A", "Asia/Shanghai", by=101, at=NOW)
    return s


@pytest.fixture
async def store(db_target: Path | str) -> AsyncIterator[Store]:
    s = await opened_store(db_target)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """SQLite only: the plan test reads EXPLAIN QUERY PLAN through aiosqlite."""
    s = await opened_store(tmp_path / "desk.sqlite3")
    try:
        yield s
    finally:
        await s.close()


async def seed(store: Store, orders: list[Order], sha: str = "a") -> None:
    record = {"sha256": sha, "kind": "unshipped_orders", "filename": "report.txt", "actor_id": 101, "chat_id": TEAM,
              "rows": len(orders), "new": len(orders), "updated": 0, "unchanged": 0, "refused": 0}  # fmt: skip
    await store.write_import(team_id=TEAM, new=[(o, event(o, "imported", NOW, IMPORT)) for o in orders], changed=[],
                             record=record, now=NOW)  # fmt: skip


async def captured(call: Callable[[], Awaitable[Any]], monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    sent: list[tuple[str, Any]] = []
    fetchall = aiosqlite.Connection.execute_fetchall

    def spy(self: Any, sql: str, parameters: Any = None) -> Any:
        sent.append((sql, parameters or ()))
        return fetchall(self, sql, parameters)

    with monkeypatch.context() as m:
        m.setattr(aiosqlite.Connection, "execute_fetchall", spy)
        await call()
    return sent


async def test_the_digest_reads_indexes_and_kept_counts_only(sqlite_store: Store, monkeypatch) -> None:
    store = sqlite_store
    orders = [an_order(n, [Goods.unshipped, Goods.shipped, Goods.delivered, Goods.cancelled][n % 4]) for n in range(40)]
    await seed(store, orders)
    alerts = AlertStore(store)
    day = datetime(2026, 11, 20, 16, tzinfo=UTC)
    statements = await captured(lambda: alerts.digest_figures(TEAM, now=NOW, day_start=day,
                                                              day_end=day + timedelta(days=1),
                                                              yesterday_start=day - timedelta(days=1)),
                                monkeypatch)  # fmt: skip
    statements += await captured(lambda: alerts.goods_of(TEAM, [o.order_id for o in orders[:10]]), monkeypatch)
    used = set()
    with sqlite3.connect(store.path) as conn:
        for sql, params in statements:
            steps = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert not [s for s in steps if SCAN.match(s) or TEAM_WIDE.match(s)], (sql, steps)
            used.update(m.group(1) for s in steps for m in [re.search(r"USING (?:COVERING )?INDEX (\w+)", s)] if m)
            used.update("team_hours" for s in steps if s.startswith("SEARCH team_hours USING PRIMARY KEY"))
            used.update("order_counts" for s in steps if s.startswith("SEARCH order_counts USING PRIMARY KEY"))
    assert {"orders_by_state", "events_by_person", "team_hours", "order_counts"} <= used, used


def recount(db: Path | str) -> list[tuple[Any, ...]]:
    """``team_hours`` as the triggers kept it, checked against what the schema's backfill counts from
    the orders and events now (on SQLite: the backfill is SQLite's SQL; PostgreSQL's rows are read)."""
    if is_pg(db):
        with opened(db) as pg_conn:
            return [tuple(r) for r in pg_conn.execute(HOURS).fetchall()]
    conn = sqlite3.connect(db)
    try:
        kept = conn.execute(HOURS).fetchall()
        conn.execute("BEGIN")
        conn.execute("DELETE FROM team_hours")
        for statement in _statements(dict(migrations())[8]):
            if statement.startswith("INSERT INTO team_hours"):
                conn.execute(statement)
        counted = conn.execute(HOURS).fetchall()
        conn.execute("ROLLBACK")
        assert kept == counted
        return kept
    finally:
        conn.close()


async def test_the_hours_kept_by_triggers_are_what_a_recount_finds_after_every_kind_of_write(store: Store) -> None:
    orders = [an_order(n) for n in range(12)]
    await seed(store, orders)
    assert sum(row[2] for row in recount(store.path)) == 12  # every order counted at its purchase hour

    async def act(order: Order, action: str, at: datetime, **details: Any) -> None:
        assert await store.save(order, event(order, action, at, **details), now=at)

    late, on_time, other, corrected, by_amazon, cancelled, buyer = orders[:7]
    for order, carrier, at in ((late, "UPS", late.ship_by + timedelta(hours=5)),  # type: ignore[operator]
                               (on_time, "USPS", NOW - timedelta(days=30)),
                               (other, OTHER, NOW), (corrected, OTHER, NOW)):  # fmt: skip
        order.goods, order.carrier, order.tracking, order.shipped_at = Goods.shipped, carrier, "1Z999AA10123456784", at
        await act(order, "ship", at)
    corrected.carrier = "UPS"  # the tracking corrected after the shipment: now a carrier Amazon tracks
    await act(corrected, "correct_tracking", NOW + timedelta(hours=1))
    by_amazon.goods = Goods.shipped  # shipped outside the desk: Amazon's report says so
    await act(by_amazon, "amazon_shipped", NOW + timedelta(hours=2))
    cancelled.goods = Goods.cancelled
    await act(cancelled, "cancel", NOW, reason="NoInventory")
    buyer.goods = Goods.cancelled
    await act(buyer, "cancel", NOW, reason="BuyerCanceled")
    buyer.purchased_at = NOW - timedelta(days=1)  # a later report corrects the purchase date
    await act(buyer, "import", NOW)
    rows = recount(store.path)
    shipped = sum(r[4] for r in rows)
    late_n = sum(r[5] for r in rows)
    confirmed = sum(r[6] for r in rows)
    valid = sum(r[7] for r in rows)
    cancelled_n = sum(r[3] for r in rows)
    # Late: all but on_time (the others shipped after their ship-by); valid: all but `other`.
    assert (shipped, late_n, confirmed, valid, cancelled_n) == (5, 4, 4, 3, 1)
    assert sum(r[2] for r in rows) == 12


async def test_an_order_amazon_partially_shipped_then_shipped_through_the_desk_is_shipped_once(store: Store) -> None:
    order, fresh = an_order(1), an_order(2)
    await seed(store, [order, fresh])
    order.goods = Goods.partially_shipped  # Amazon's report: part of it went out
    await store.save(order, event(order, "amazon_partially_shipped", NOW + timedelta(hours=2), IMPORT),
                     now=NOW + timedelta(hours=2))  # fmt: skip
    shipped_at = NOW + timedelta(hours=3)
    order.goods, order.carrier, order.tracking, order.shipped_at = (
        Goods.shipped,
        "UPS",
        "1Z999AA10123456784",
        shipped_at,
    )
    assert await store.save(order, event(order, "ship", shipped_at), now=shipped_at)
    # Beside it, an order shipped through the desk alone.
    fresh.goods, fresh.carrier, fresh.tracking, fresh.shipped_at = (
        Goods.shipped,
        "UPS",
        "1Z999AA10123456791",
        shipped_at,
    )
    assert await store.save(fresh, event(fresh, "ship", shipped_at), now=shipped_at)
    rows = recount(store.path)  # the triggers' counts are a fresh backfill's
    amazon_hour, desk_hour = NOW.strftime("%Y-%m-%dT10"), shipped_at.strftime("%Y-%m-%dT%H")
    by_hour = {r[1]: r[4:] for r in rows if r[4] or r[6]}
    assert by_hour == {amazon_hour: (1, 0, 0, 0), desk_hour: (1, 1, 2, 2)}  # `fresh` alone is late
    assert (sum(r[4] for r in rows), sum(r[6] for r in rows)) == (2, 2)


@pytest.mark.parametrize("code", CARRIER_CODES)
async def test_a_shipment_has_valid_tracking_when_its_carrier_is_one_amazon_tracks(store: Store, code: str) -> None:
    order = an_order(1)
    await seed(store, [order])
    order.goods, order.carrier, order.tracking, order.shipped_at = Goods.shipped, code, "ABC123456", NOW
    order.carrier_name = "Evri" if code == OTHER else ""
    assert await store.save(order, event(order, "ship", NOW), now=NOW)
    rows = await store.fetchall("SELECT sum(confirmed), sum(tracking_valid) FROM team_hours WHERE team_id = ?", (TEAM,))
    assert tuple(rows[0]) == (1, 0 if code == OTHER else 1)


@dataclass
class _Team:
    timezone: str = "Asia/Shanghai"


def width(label: str) -> int:
    """Columns a label takes: wide (CJK) characters and emoji two, the rest one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if c == "\ufe0f" else 1 for c in label)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_button_under_an_alert_fits_half_a_phone(locale: str) -> None:
    due = [Due(kind, f"113-4417305-{n:07d}", "k", NOW + timedelta(hours=3), "SELLABLE" if n % 2 else "",
               (("USB-MIC-01", 1),)) for n, kind in enumerate(URGENCY * 2)]  # fmt: skip
    with i18n.using(locale):
        messages = alert_messages(_Team(), due, NOW)
    rows = [row for m in messages for row in m["buttons"]]
    assert rows
    for row in rows:
        for label, data in row:
            assert width(label) <= 18 or len(row) == 1, (locale, label)
            assert len(data.encode()) <= 64


def test_a_long_check_is_split_at_line_ends_under_telegrams_limit_and_nothing_is_cut() -> None:
    from bot.texts.pages import TEXT_LIMIT, measure

    sku = "长" * 60  # 60 wide characters: a line of ~80 UTF-16 units
    due = [Due("ship_late" if n < 150 else "ship_soon", f"113-4417305-{n:07d}", "k", NOW + timedelta(hours=n - 150),
               "", ((sku, 1), ("A&B<1>", 2))) for n in range(300)]  # fmt: skip
    with i18n.using("zh_Hant"):
        messages = alert_messages(_Team(), due, NOW, per_message=1000)
    assert len(messages) > 2
    assert all(measure(m["text"]) <= TEXT_LIMIT for m in messages)
    lines = [line for m in messages for line in m["text"].splitlines()]
    assert [line for line in lines if line.startswith("…")] == [line for line in lines if sku in line]
    assert len([line for line in lines if sku in line]) == 300  # every order, each line whole
    assert all("A&amp;B&lt;1&gt;×2" in line for line in lines if sku in line)
    assert sum(len(m["buttons"]) for m in messages) == 300
    # Each part starts with the heading of the kind it continues.
    assert all(m["text"].splitlines()[0].startswith(("🚨", "⏰")) for m in messages)

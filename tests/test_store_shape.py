"""The store's shape: the seam a server database would implement, the pool of readers that
keeps one heavy read from holding up everyone else, and the races it tells apart.

A team's `/orders all` on a year of history takes seconds; meanwhile Bob opens an order's
card. The card must not wait for the list (issue 11).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from bot.domain import Actor, Event, Goods, Order, OrderItem
from bot.storage import (
    AlertDecidedMeanwhile,
    AlertLedger,
    AlertStore,
    Conflict,
    DeskStore,
    NotOpen,
    OrderChangedMeanwhile,
    StorageError,
    Store,
    Unit,
    UnitOfWork,
)

TEAM = -1001234567890
MIC = "113-4417305-6689831"
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


async def seeded_store(target: Path | str) -> Store:
    s = Store(target)
    await s.open()
    await s.create_team(TEAM, "Shenzhen Audio", "Asia/Shanghai", by=101, at=NOW)
    order = Order(team_id=TEAM, order_id=MIC, version=1, items=[OrderItem("683101", "USB-MIC-01", "Mic", quantity=1)])
    event = Event(TEAM, MIC, NOW, Actor("import", None, "seed.txt", TEAM), "imported", None, "unshipped", None, "none",
                  {})  # fmt: skip
    record = {"sha256": "seed", "kind": "unshipped_orders", "filename": "seed.txt", "actor_id": 101,
              "chat_id": TEAM, "rows": 1, "new": 1, "updated": 0, "unchanged": 0, "refused": 0}  # fmt: skip
    await s.write_import(team_id=TEAM, new=[(order, event)], changed=[], record=record, now=NOW)
    return s


@pytest.fixture
async def store(db_target: Path | str):
    s = await seeded_store(db_target)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path):
    """SQLite only: the reader tests teach SQLite a Python function (aiosqlite's create_function)."""
    s = await seeded_store(tmp_path / "desk.sqlite3")
    try:
        yield s
    finally:
        await s.close()


# ---------------------------------------------------------------------------------------
# The seam


def protocol_methods(protocol: type) -> dict[str, Any]:
    """The methods a protocol declares, its base protocols' included."""
    found: dict[str, Any] = {}
    for cls in reversed(protocol.__mro__):
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        found.update({name: value for name, value in vars(cls).items()
                      if inspect.isfunction(value) and not name.startswith("__")})  # fmt: skip
    return found


def parameters(function: Any) -> list[tuple[str, Any, Any, Any]]:
    return [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(("protocol", "implementation"), [(DeskStore, Store), (AlertLedger, AlertStore)],
                         ids=["DeskStore", "AlertLedger"])  # fmt: skip
def test_the_sqlite_stores_implement_the_seam_method_by_method(protocol, implementation):
    declared = protocol_methods(protocol)
    assert len(declared) >= 10
    for name, wanted in declared.items():
        found = getattr(implementation, name, None)
        assert found is not None, f"{implementation.__name__} has no {name}"
        assert inspect.iscoroutinefunction(found) == inspect.iscoroutinefunction(wanted), name
        assert parameters(found) == parameters(wanted), name


async def test_the_store_has_the_attributes_the_seam_names(store):
    assert callable(store.on_queued)
    unit = Unit(store, 1)
    for name in UnitOfWork.__annotations__:
        assert hasattr(unit, name), name
    for name in protocol_methods(UnitOfWork):
        assert parameters(getattr(Unit, name)) == parameters(protocol_methods(UnitOfWork)[name]), name


# ---------------------------------------------------------------------------------------
# Readers


async def test_a_card_is_read_while_a_long_list_holds_a_reader(sqlite_store):
    store = sqlite_store
    """The long read really runs on a reader's thread (it waits inside SQLite until told to
    go on); another person's card is read meanwhile on another reader."""
    inside, go_on = threading.Event(), threading.Event()

    def slow_row() -> int:
        inside.set()
        go_on.wait(10)
        return 1

    async with store.reading() as reader:
        await reader.create_function("slow_row", 0, slow_row)
        long_list = asyncio.create_task(reader.execute_fetchall("SELECT slow_row()"))
        try:
            assert await asyncio.to_thread(inside.wait, 10)
            card = await asyncio.wait_for(store.order(TEAM, MIC), timeout=5)
            assert card is not None and card.order_id == MIC
            assert not long_list.done()
        finally:
            go_on.set()
        assert list(await long_list) == [(1,)]


async def teach_every_reader(store, name, function) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(store.readers):
            reader = await stack.enter_async_context(store.reading())
            await reader.create_function(name, 0, function)


async def test_while_a_list_runs_long_a_burst_of_cards_never_queues_behind_it(sqlite_store):
    store = sqlite_store
    inside, go_on = threading.Event(), threading.Event()

    def slow_row() -> int:
        inside.set()
        go_on.wait(10)
        return 1

    await teach_every_reader(store, "slow_row", slow_row)
    long_list = asyncio.create_task(store.fetchall("SELECT slow_row()"))
    try:
        assert await asyncio.to_thread(inside.wait, 10)
        # However many arrive at once, none is sent to the reader the list is running on.
        cards = await asyncio.wait_for(asyncio.gather(*(store.order(TEAM, MIC) for _ in range(20))), timeout=10)
        assert {card.order_id for card in cards} == {MIC}
        assert not long_list.done()
    finally:
        go_on.set()
    assert await long_list == [(1,)]


async def test_when_every_reader_is_busy_a_read_waits_for_the_first_one_free(store):
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(store.readers):
            await stack.enter_async_context(store.reading())
        waiting = asyncio.create_task(store.fetchall("SELECT count(*) FROM orders"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        if store.dialect == "sqlite":
            # Small work (a row by its key) needs no reader: it runs on the event loop's thread.
            assert await asyncio.wait_for(store.fetchone("SELECT count(*) FROM orders"), timeout=1) == (1,)
    assert await asyncio.wait_for(waiting, timeout=5) == [(1,)]


async def test_an_update_reads_what_it_wrote_and_nobody_else_does_before_it_commits(store):
    await store.store_updates([(7001, "{}")], NOW)
    async with store.unit(7001) as unit:
        assert unit is not None
        await store.seen(user_id=101, name="Alice", username=None, telegram_language="en", chat_id=TEAM,
                         chat_kind="supergroup", chat_title="Shenzhen Audio", at=NOW)  # fmt: skip
        await store.set_user_language(101, "zh_Hant")  # the update's own effect
        assert (await store.user(101)).language == "zh_Hant"  # read through its transaction
        # Another person's update (a task with a context of its own) reads committed data only.
        other = asyncio.create_task(store.fetchone("SELECT language FROM users WHERE user_id = 101"),
                                    context=contextvars.Context())  # fmt: skip
        assert await other == (None,)
    assert (await store.user(101)).language == "zh_Hant"


async def test_a_save_writes_the_columns_the_action_changed_and_no_other(store):
    """A save given the order as it was read writes what differs from it (and the version): an
    UPDATE of every column rewrote each index on a date that had not moved and ran every trigger's
    test. A column nobody changed keeps what is stored; the version check still guards the rest."""
    order = await store.order(TEAM, MIC)
    before = order.copy()
    order.goods, order.carrier, order.tracking, order.shipped_at = Goods.shipped, "UPS", "1Z999AA10123456784", NOW
    order.items[0].quantity_shipped = 1
    event = Event(TEAM, MIC, NOW, Actor("user", 101, "Alice", TEAM), "ship", "unshipped", "shipped", "none", "none",
                  {})  # fmt: skip
    # Written behind the order's back (no new version): an UPDATE of every column would put back
    # the name as it was read.
    await store.execute_write("UPDATE orders SET buyer_name = 'Written meanwhile' WHERE order_id = ?", (MIC,))
    assert await store.save(order, event, now=NOW, before=before)
    saved = await store.order(TEAM, MIC)
    assert (saved.goods, saved.carrier, saved.tracking, saved.shipped_at, saved.version) == (
        Goods.shipped, "UPS", "1Z999AA10123456784", NOW, before.version + 1)  # fmt: skip
    assert saved.items[0].quantity_shipped == 1
    assert saved.buyer_name == "Written meanwhile"
    assert (await store.fetchone("SELECT updated_at FROM orders WHERE order_id = ?", (MIC,)))[0] == NOW.isoformat()
    # A stale version writes nothing, with ``before`` or without.
    assert not await store.save(before.copy(), event, now=NOW, before=before)
    stale = saved.copy()
    stale.version -= 1
    assert not await store.save(stale, event, now=NOW)
    assert (await store.order(TEAM, MIC)).version == before.version + 1


async def test_a_store_used_before_it_is_open_says_so(db_target):
    store = Store(db_target)
    with pytest.raises(NotOpen):
        await store.fetchone("SELECT 1")
    with pytest.raises(NotOpen):
        async with store.transaction():
            pass


# ---------------------------------------------------------------------------------------
# Two races, two exceptions


def test_the_two_races_are_two_exceptions_under_one_base():
    assert issubclass(OrderChangedMeanwhile, Conflict) and issubclass(AlertDecidedMeanwhile, Conflict)
    assert not issubclass(OrderChangedMeanwhile, AlertDecidedMeanwhile)
    assert not issubclass(AlertDecidedMeanwhile, OrderChangedMeanwhile)
    assert issubclass(Conflict, StorageError) and issubclass(NotOpen, StorageError)
    for cls in (StorageError, NotOpen, Conflict, OrderChangedMeanwhile, AlertDecidedMeanwhile):
        assert cls.__doc__


async def test_two_checks_deciding_the_same_alert_queue_it_once(store):
    alerts = AlertStore(store)
    decided = [(MIC, "ship_late", "2026-11-20T07:59")]
    assert await alerts.record(TEAM, TEAM, decided, [{"text": "late"}], NOW) == 1
    with pytest.raises(AlertDecidedMeanwhile):
        await alerts.record(TEAM, TEAM, decided, [{"text": "late"}], NOW)
    assert await store.fetchone("SELECT count(*) FROM outbox") == (1,)

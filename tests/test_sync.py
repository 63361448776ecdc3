"""The sync service against the fake Amazon, without Telegram: no order lost or doubled when a
run breaks off, when Amazon lists an order twice, or when someone acts on an order meanwhile;
the watermark moves only when every page is in; only the right shipments are confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.amazon import AmazonStore, AmazonSync
from bot.amazon.sync import OVERLAP
from bot.domain import Actor
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.services import Desk
from bot.settings import Settings
from bot.storage import OrderChangedMeanwhile, Store
from tests.support.clock import START, FakeClock
from tests.support.fakespapi import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, REFRESH_TOKEN, AmazonTime, FakeSpApi

TEAM = -1001234567890
ALICE = Actor("user", 1001, "Alice", TEAM)
ORDERS = [f"113-70000{n:02d}-00000{n:02d}" for n in range(1, 10)]


@pytest.fixture
def amazon(amazon: FakeSpApi) -> FakeSpApi:
    """The fake Amazon (conftest's), holding nine orders changed in the last three hours."""
    for n, order_id in enumerate(ORDERS):
        amazon.add_order(order_id, updated=START - timedelta(hours=3) + timedelta(minutes=10 * n),
                         ship_by=START + timedelta(days=2))  # fmt: skip
    return amazon


@pytest.fixture
async def store(db_target: Path | str, clock: FakeClock) -> AsyncIterator[Store]:
    s = Store(db_target)
    await s.open()
    await s.create_team(TEAM, "Store A", "Asia/Shanghai", by=ALICE.id, at=clock())
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sync(store: Store, amazon: FakeSpApi, clock: FakeClock) -> AmazonSync:
    t = AmazonTime()
    settings = Settings(token="x", clock=clock, spapi_auth_url=amazon.auth_url, spapi_allow_hosts=(amazon.host,),
                        secret_keys=("lyRUdXumtR1Qn8cIX2Ty6Nwl4EbJFy9WQrGldIbpavE=",))  # fmt: skip
    service = AmazonSync(store, Importer(store, Lifecycle(), clock), settings, monotonic=t.monotonic, sleep=t.sleep)
    await service.configure(TEAM, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            refresh_token=REFRESH_TOKEN, endpoint=amazon.base_url, by=ALICE.id)  # fmt: skip
    return service


async def rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await store.fetchall(sql, params)]


async def imported_once(store: Store) -> None:
    counts = await rows(store, "SELECT order_id, count(*) FROM events WHERE action = 'imported' GROUP BY order_id")
    assert sorted(counts) == [(o, 1) for o in ORDERS]


async def test_a_run_broken_off_mid_pages_leaves_the_watermark_and_the_next_run_loses_nothing(
    sync, store, amazon, clock
) -> None:
    amazon.fail_next("getOrders", 500, count=5, after=1)  # page 2 never comes
    first = await sync.run_team(TEAM)
    assert first.error == "500 InternalFailure: We encountered an internal error. Please try again."
    assert (first.pages, first.new) == (1, 3)
    account = await AmazonStore(store).account(TEAM)
    assert account is not None and (account.last_sync, account.sync_status) == (None, "error")
    # Meanwhile Amazon ships one of the orders already in.
    clock.advance(minutes=30)
    amazon.update_order(ORDERS[0], status="Shipped", updated=clock() - timedelta(minutes=1))
    second = await sync.run_team(TEAM)
    assert (second.error, second.new, second.updated, second.unchanged) == (None, 6, 1, 2)
    await imported_once(store)
    assert await rows(store, "SELECT action FROM events WHERE order_id = ? ORDER BY event_id", ORDERS[0]) == [
        ("imported",), ("amazon_shipped",)]  # fmt: skip
    account = await AmazonStore(store).account(TEAM)
    assert account is not None and account.last_sync == clock() - timedelta(minutes=1) - OVERLAP


async def test_an_order_amazon_lists_twice_is_applied_once(sync, store, amazon) -> None:
    amazon.page_size = 5
    # Listed again at the end: ORDERS[8] twice on page 2, ORDERS[0] on pages 1 and 3.
    amazon.relisted = [ORDERS[8], ORDERS[0]]
    result = await sync.run_team(TEAM)
    assert (result.error, result.pages, result.new, result.unchanged) == (None, 3, 9, 1)
    await imported_once(store)
    assert len(amazon.calls("getOrderItems")) == 9


async def test_an_order_changed_in_the_chat_meanwhile_makes_the_page_read_again(sync, store, monkeypatch) -> None:
    apply = sync.importer.apply_orders
    calls = []

    async def conflicting_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise OrderChangedMeanwhile
        return await apply(*args, **kwargs)

    monkeypatch.setattr(sync.importer, "apply_orders", conflicting_once)
    result = await sync.run_team(TEAM)
    assert (result.error, result.new, len(calls)) == (None, 9, 4)
    await imported_once(store)


async def test_new_secrets_keep_the_watermark_another_marketplace_starts_again(sync, store, amazon) -> None:
    await sync.run_team(TEAM)
    accounts = AmazonStore(store)
    before = await accounts.account(TEAM)
    assert before is not None and before.last_sync is not None
    await sync.configure(TEAM, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret="amzn1.oa2-cs.v1.new",
                         refresh_token=REFRESH_TOKEN, endpoint=amazon.base_url, by=ALICE.id)  # fmt: skip
    again = await accounts.account(TEAM)
    assert again is not None and (again.last_sync, again.configured_at) == (before.last_sync, before.configured_at)
    assert again.client_secret is not None and sync.box.open(again.client_secret) == "amzn1.oa2-cs.v1.new"
    await sync.configure(TEAM, marketplace_id="A2EUQ1WTGCTBG2", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         refresh_token=REFRESH_TOKEN, endpoint=amazon.base_url, by=ALICE.id)  # fmt: skip
    other = await accounts.account(TEAM)
    assert other is not None and other.last_sync is None


async def test_only_shipments_made_here_since_connecting_of_seller_fulfilled_orders_are_confirmed(
    sync, store, amazon, clock
) -> None:
    amazon.add_order("114-0000001-0000001", updated=START - timedelta(hours=1), channel="AFN")
    await sync.run_team(TEAM)
    desk = Desk(store, Lifecycle(), clock)

    async def ship(order_id: str, tracking: str) -> None:
        await desk.act(TEAM, order_id, "ship", ALICE, at=clock(), carrier="UPS", carrier_name="", tracking=tracking)

    # Shipped before the team connected (the account row says when): not through the API.
    async with store.transaction() as tx:
        await tx.execute(
            "UPDATE amazon_accounts SET configured_at = ?", ((clock() + timedelta(minutes=1)).isoformat(),)
        )
    await ship(ORDERS[0], "1Z999AA10123456784")
    clock.advance(minutes=5)
    await ship(ORDERS[1], "1Z999AA10123456785")  # written into a Shipping Confirmation file: that tells Amazon
    await store.take_for_export(TEAM, "export-1", clock())
    await ship(ORDERS[2], "1Z999AA10123456786")
    await ship("114-0000001-0000001", "1Z999AA10123456787")  # Amazon ships its own
    result = await sync.run_team(TEAM)
    assert result.confirmed == 1
    assert [c["order_id"] for c in amazon.confirmations] == [ORDERS[2]]

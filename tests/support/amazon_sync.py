"""A desk that syncs with the fake Amazon: the seller's account there, Alice connecting the
team in her private chat, a sync and what it says, and the secrets that must never show."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.app import running
from tests.support.clock import START, FakeClock
from tests.support.desk import desk_settings
from tests.support.fakebotapi import FakeBotAPI
from tests.support.fakespapi import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, REFRESH_TOKEN, AmazonTime, FakeSpApi
from tests.support.scenario import Team, says

SECRETS = (CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
#: The operator's DINGDAN_SECRET_KEY in these tests (a Fernet key).
SECRET_KEY = "lyRUdXumtR1Qn8cIX2Ty6Nwl4EbJFy9WQrGldIbpavE="
#: Eight orders, three to a page: three pages.
ORDERS = [f"113-70000{n:02d}-00000{n:02d}" for n in range(1, 9)]
TWO_ITEMS = "114-7000099-0000099"


async def running_desk(fake_api: FakeBotAPI, clock: FakeClock, db_path: Path | str, amazon: FakeSpApi, *,
                       alert_interval: float = 3600.0, sync_interval: float = 3600.0,
                       **settings: Any) -> AbstractAsyncContextManager[Application]:  # fmt: skip
    """The desk, allowed to call the fake Amazon (as DINGDAN_SPAPI_ALLOW_HOSTS would allow it)."""
    base = desk_settings(fake_api, clock, db_path, alert_interval=alert_interval)
    settings = {"spapi_allow_hosts": (amazon.host,), "secret_keys": (SECRET_KEY,), **settings}
    return running(dataclasses.replace(base, spapi_auth_url=amazon.auth_url, sync_interval=sync_interval, **settings))


def on_amazon_time(app: Application, amazon_time: AmazonTime) -> None:
    """The desk's client waits on virtual seconds: a minute of Amazon's rate limits in no time."""
    sync = app.bot_data["services"].amazon
    sync.monotonic, sync.sleep = amazon_time.monotonic, amazon_time.sleep


def seed(amazon: FakeSpApi) -> None:
    """What the seller's account holds: eight orders changed in the last two hours, and one with two items."""
    for n, order_id in enumerate(ORDERS):
        amazon.add_order(order_id, updated=START - timedelta(hours=2) + timedelta(minutes=10 * n),
                         status="Pending" if n == 7 else "Unshipped", ship_by=START + timedelta(days=3))  # fmt: skip
    amazon.add_order(TWO_ITEMS, updated=START - timedelta(minutes=15), ship_by=START + timedelta(days=3),
                     items=[("11111111111111", "USB-FAN-03", 1, "15.00"), ("22222222222222", "CABLE-2M", 2, "9.00")])  # fmt: skip


def set_command(amazon: FakeSpApi) -> str:
    """What Alice pastes: the credentials, and the fake Amazon's address as the endpoint."""
    return f"/amazon set {MARKETPLACE} {CLIENT_ID} {CLIENT_SECRET} {REFRESH_TOKEN} {amazon.base_url}"


async def connect(t: Team, amazon: FakeSpApi) -> str:
    """Alice sends the credentials to the bot in private; the bot's answer, as she reads it."""
    dm = t.api.private(t.alice)
    return await t.say(t.alice, set_command(amazon), chat=dm)


async def sync(t: Team) -> str:
    return await t.say(t.alice, "/amazon sync", chat=t.api.private(t.alice), expect=1)


def synced(new: int = 0, updated: int = 0, unchanged: int = 0, confirmed: int = 0, refused: int = 0) -> str:
    return says("en", "Synced with Amazon. Orders: {new} new, {updated} updated, {unchanged} unchanged. Shipments "
                "confirmed: {confirmed}, refused: {refused}.", new=new, updated=updated, unchanged=unchanged,
                confirmed=confirmed, refused=refused)  # fmt: skip


def count(t: Team, sql: str, *params: Any) -> Any:
    with t.db() as conn:
        return conn.execute(sql, params).fetchone()[0]


def assert_no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "Atza|" not in text  # nor an access token

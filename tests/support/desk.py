"""The real desk, run against the fakes, and waiting until it is at rest.

Silence is never checked by sleeping: a reply that comes late would pass unseen. The desk
keeps an inbox (an update is ``new`` until processed to the end, then ``done``) and an
outbox (a message is ``pending`` until Telegram took it); a test waits until both say
nothing is left, then asserts what was sent and that nothing more was.
"""

from __future__ import annotations

from pathlib import Path

from telegram.ext import Application

from bot.settings import Settings
from tests.support.clock import FakeClock
from tests.support.db import scalar
from tests.support.fakebotapi import FakeBotAPI


def desk_settings(api: FakeBotAPI, clock: FakeClock, db_path: Path | str, *,
                  alert_interval: float = 3600.0) -> Settings:  # fmt: skip
    """The desk's settings for a team in Shanghai, talking to ``api`` and living on ``clock``."""
    return Settings(
        token=api.token,
        db_path=db_path,
        timezone="Asia/Shanghai",
        api_url=api.base_url,
        file_url=api.base_file_url,
        clock=clock,
        alert_interval=alert_interval,
    )


def _count(app: Application, sql: str) -> int:
    return int(scalar(app.bot_data["services"].settings.db_path, sql))


def unprocessed(api: FakeBotAPI, app: Application) -> int:
    """Updates not processed to the end: still with Telegram (the desk confirms an update only
    once it is in its inbox), or in the inbox and not done."""
    return len(api.pending_updates) + _count(app, "SELECT count(*) FROM inbox WHERE status = 'new'")


def undelivered(app: Application) -> int:
    """Messages the desk queued that Telegram has not taken yet."""
    return _count(app, "SELECT count(*) FROM outbox WHERE status = 'pending'")


async def processed(api: FakeBotAPI, app: Application) -> None:
    """Wait until every update Telegram had for the desk was processed to the end: its effects
    written and its replies queued (not necessarily sent)."""
    await api.wait_for(lambda: unprocessed(api, app) == 0, what="every update processed")


async def settled(api: FakeBotAPI, app: Application) -> None:
    """Wait until the desk is at rest: every update processed to the end and every message it
    queued delivered. What the bot sent is then all it will send until something happens."""
    await api.wait_for(lambda: unprocessed(api, app) == 0 and undelivered(app) == 0,
                       what="every update processed and every queued message sent")  # fmt: skip


async def check_alerts(app: Application) -> None:
    """Run the alert check now, on the desk's clock, and wake the sender: what the repeating job
    does next, done while the test waits for it."""
    services = app.bot_data["services"]
    await services.alerts.check()
    services.sender.kick()

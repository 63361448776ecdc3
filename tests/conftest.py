"""Shared fixtures: the fake Telegram Bot API, a controllable clock, and the running desk."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakebotapi import FakeBotAPI

START = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


class FakeClock:
    """A clock the tests move by hand: ``clock()`` returns an aware UTC datetime."""

    def __init__(self, start: datetime = START) -> None:
        self._now = self._check(start)

    @staticmethod
    def _check(dt: datetime) -> datetime:
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("FakeClock needs an aware datetime")
        return dt.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """``clock.advance(timedelta(hours=2))`` or ``clock.advance(hours=2)``."""
        step = (delta or timedelta()) + timedelta(**kwargs)
        if step < timedelta():
            raise ValueError("time does not go backwards; use set()")
        self._now += step
        return self._now

    def set(self, dt: datetime) -> datetime:
        self._now = self._check(dt)
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake_api(clock: FakeClock) -> AsyncIterator[FakeBotAPI]:
    """A started fake Bot API on 127.0.0.1; messages are dated by ``clock``."""
    api = FakeBotAPI(clock=clock)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


def desk_settings(api: FakeBotAPI, clock: FakeClock, db_path: Path, *, alert_interval: float = 3600.0):
    from bot.settings import Settings

    return Settings(
        token=api.token,
        db_path=db_path,
        timezone="Asia/Shanghai",
        api_url=api.base_url,
        file_url=api.base_file_url,
        clock=clock,
        alert_interval=alert_interval,
    )


@pytest.fixture
async def desk(fake_api: FakeBotAPI, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest):
    """The real dingdan Application, polling the fake API (initialized, post_init run,
    polling started); stopped and shut down afterwards.

    Alerts run only in tests marked ``@pytest.mark.alerts`` (then every 0.1 s of real
    time, against the fake clock), so other tests see exactly the replies they expect.
    """
    from bot.app import running

    alerts = request.node.get_closest_marker("alerts") is not None
    interval = 0.1 if alerts else 3600.0
    async with running(desk_settings(fake_api, clock, tmp_path / "desk.sqlite3", alert_interval=interval)) as app:
        if not alerts:
            # The check's first run comes a second after start (what fell due while the bot
            # was down); these tests' orders are overdue on the fake clock: no alerts here.
            for job in app.job_queue.get_jobs_by_name("alerts"):
                job.schedule_removal()
        yield app

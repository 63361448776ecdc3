"""The fixtures: the fake Telegram Bot API, a clock the tests move, the running desk, and the
team that works in it (on its own, or syncing with the fake Amazon)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.app import running
from tests.support import pg
from tests.support.alerts import mark, wait_alerts
from tests.support.amazon_sync import on_amazon_time, running_desk
from tests.support.clock import FakeClock
from tests.support.desk import desk_settings
from tests.support.fakebotapi import FakeBotAPI
from tests.support.fakespapi import AmazonTime, FakeSpApi
from tests.support.scenario import Team, make_team, sample


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    """The session's PostgreSQL (tests/support/pg.py); the tests that need one skip, saying why, without."""
    server = pg.PgServer()
    try:
        server.start()
    except pg.Unavailable as why:
        if os.environ.get("CI"):  # .ci/run installs PostgreSQL: in CI its half of the suite must run
            pytest.fail(f"PostgreSQL is needed in CI: {why}")
        pytest.skip(str(why))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: pg.PgServer) -> Iterator[str]:
    """A fresh PostgreSQL database holding the desk's schema, dropped afterwards."""
    url = pg_server.create()
    try:
        yield url
    finally:
        pg_server.drop(url)


STORES = ("sqlite", "pg")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the desk's database runs on both stores: a SQLite file and PostgreSQL."""
    if "db_target" in metafunc.fixturenames:
        # @pytest.mark.stores("pg"): a test about one store runs on that one only (not skipped on the other).
        only = metafunc.definition.get_closest_marker("stores")
        metafunc.parametrize("db_target", [s for s in STORES if only is None or s in only.args], indirect=True)


@pytest.fixture
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The desk's database: a SQLite file in the test's folder, or a fresh PostgreSQL database's URL."""
    if getattr(request, "param", "sqlite") == "pg":
        return str(request.getfixturevalue("pg_url"))
    return tmp_path / "desk.sqlite3"


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


@pytest.fixture
async def desk(fake_api: FakeBotAPI, clock: FakeClock, db_target: Path | str,
               request: pytest.FixtureRequest) -> AsyncIterator[Application]:  # fmt: skip
    """The real dingdan Application, polling the fake API (initialized, post_init run,
    polling started); stopped and shut down afterwards.

    Alerts run only in tests marked ``@pytest.mark.alerts`` (then every 0.1 s of real
    time, against the fake clock), so other tests see exactly the replies they expect.
    """
    alerts = request.node.get_closest_marker("alerts") is not None
    interval = 0.1 if alerts else 3600.0
    async with running(desk_settings(fake_api, clock, db_target, alert_interval=interval)) as app:
        if not alerts:
            # The check's first run comes a second after start (what fell due while the bot
            # was down); these tests' orders are overdue on the fake clock: no alerts here.
            for job in app.job_queue.get_jobs_by_name("alerts"):
                job.schedule_removal()
        yield app


@pytest.fixture
async def team(fake_api: FakeBotAPI, desk: Application, db_target: Path | str) -> Team:
    """The scenario's team, its store started from the sample Unshipped Orders report."""
    t = await make_team(fake_api, desk, db_target)
    api, group, alice = t.api, t.group, t.alice
    replies = await api.upload(group, alice, "unshipped-orders-us.txt", sample("unshipped-orders-us.txt"))
    assert replies[0]["text"].startswith("Unshipped Orders report read (utf-8): 4 new,"), replies[0]["text"]
    return t


@pytest.fixture
async def alert_team(fake_api: FakeBotAPI, desk: Application, db_target: Path | str) -> Team:
    """The scenario's team with the digest off; the report's two late orders have been announced
    (``t.late_alert``); ``t.start`` counts the bot's messages in the group so far. For tests
    marked ``alerts``."""
    t = await make_team(fake_api, desk, db_target)
    api, group, alice = t.api, t.group, t.alice
    await api.ask(group, alice, "/alerts digest off")
    before = mark(t)
    await api.upload(group, alice, "unshipped-orders-us.txt", sample("unshipped-orders-us.txt"))
    t.late_alert = (await wait_alerts(t, 1, since=before))[0]  # type: ignore[attr-defined]
    t.start = mark(t)  # type: ignore[attr-defined]
    return t


@pytest.fixture
async def amazon() -> AsyncIterator[FakeSpApi]:
    """A started fake Amazon that pages three orders at a time; it holds no orders yet."""
    fake = FakeSpApi(page_size=3)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def amazon_time() -> AmazonTime:
    return AmazonTime()


@pytest.fixture
async def sync_desk(fake_api: FakeBotAPI, clock: FakeClock, db_target: Path | str, amazon: FakeSpApi,
                    amazon_time: AmazonTime, request: pytest.FixtureRequest) -> AsyncIterator[Application]:  # fmt: skip
    """The desk, allowed to call the fake Amazon; its Amazon job idle (syncs come from /amazon
    sync), and alerts and the outbox every 0.1 s in tests marked ``alerts``."""
    interval = 0.1 if request.node.get_closest_marker("alerts") else 3600.0
    async with await running_desk(fake_api, clock, db_target, amazon, alert_interval=interval) as app:
        on_amazon_time(app, amazon_time)
        yield app


@pytest.fixture
async def sync_team(fake_api: FakeBotAPI, sync_desk: Application, db_target: Path | str) -> Team:
    """The scenario's team on the desk that syncs with the fake Amazon; not connected yet."""
    return await make_team(fake_api, sync_desk, db_target)

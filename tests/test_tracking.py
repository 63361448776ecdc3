"""Carrier tracking below the chat: the 17TRACK client against the fake, the tracking run's batches and
rate, the poll query's plan, the schedule's rules and the settings."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.lifecycle import Lifecycle
from bot.services import Desk
from bot.settings import ConfigError, Settings
from bot.storage import Store
from bot.storage.tracking import DUE_QUERY, TrackedNumber
from bot.tracking import (
    Parcel,
    SeventeenTrack,
    Tracker,
    TrackEvent,
    TrackInfo,
    TrackingError,
    TrackStatus,
    concern,
    next_check,
)
from bot.tracking.alerting import decide_tracking
from bot.tracking.schedule import MAX_AGE, interval
from tests.support.clock import START, FakeClock
from tests.support.faketrack import KEY, FakeTrack, Step, TrackTime, seed_shipped


@pytest.fixture
def track_time() -> TrackTime:
    return TrackTime()


@pytest.fixture
async def fake(clock: FakeClock, track_time: TrackTime) -> AsyncIterator[FakeTrack]:
    server = FakeTrack(clock, monotonic=track_time.monotonic, quota_total=1000)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def client(fake: FakeTrack, track_time: TrackTime, key: str = KEY) -> SeventeenTrack:
    return SeventeenTrack(key, fake.url, monotonic=track_time.monotonic, sleep=track_time.sleep)


@pytest.fixture
async def store(db_target: Path | str) -> AsyncIterator[Store]:
    s = Store(db_target)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A store on SQLite only: for the query plan (EXPLAIN QUERY PLAN is SQLite's)."""
    s = Store(tmp_path / "t.sqlite3")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


# --- the client ----------------------------------------------------------------------------------


async def test_the_client_speaks_17tracks_v2_2(fake, track_time, clock) -> None:
    fake.reject("BAD0000000", -18019903)
    fake.script("1Z0000000001", Step(timedelta(hours=1), "InTransit", "InTransit_PickedUp", "Shenzhen", "Picked up"))
    async with client(fake, track_time) as c:
        answer = await c.register([Parcel("1Z0000000001", 100002, "113-1"), Parcel("BAD0000000")])
        assert [(a.number, a.carrier, a.already) for a in answer.accepted] == [("1Z0000000001", 100002, False)]
        assert [(r.number, r.code, r.transient) for r in answer.rejected] == [("BAD0000000", -18019903, False)]
        again = await c.register([Parcel("1Z0000000001")])
        assert [(a.number, a.already) for a in again.accepted] == [("1Z0000000001", True)]
        tracked = await c.track([Parcel("1Z0000000001")])
        assert tracked.infos[0].status is TrackStatus.not_found
        clock.advance(hours=2)
        (info,) = (await c.track([Parcel("1Z0000000001")])).infos
        assert (info.status, info.sub_status, info.last_event.place, info.last_event.text) == (
            TrackStatus.in_transit, "InTransit_PickedUp", "Shenzhen", "Picked up")  # fmt: skip
        assert info.last_event.at == START + timedelta(hours=1)
        quota = await c.quota()
        assert (quota.total, quota.used, quota.remaining) == (1000, 1, 999)
        stopped = await c.stop([Parcel("1Z0000000001"), Parcel("NEVER00000")])
        assert {(a.number, a.already) for a in stopped.accepted} == {("1Z0000000001", False), ("NEVER00000", True)}
        retracked = await c.retrack([Parcel("1Z0000000001")])
        assert [a.number for a in retracked.accepted] == ["1Z0000000001"]
        with pytest.raises(ValueError):
            await c.track([Parcel(f"1Z{k:010d}") for k in range(41)])
    assert fake.answered("gettrackinfo") == [200, 200]  # the 41 were never sent


async def test_the_fake_refuses_41_numbers_and_the_client_a_wrong_key_without_saying_it(
    fake, track_time, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient() as http:
        body = [{"number": f"1Z{k:010d}"} for k in range(41)]
        answer = (await http.post(f"{fake.url}/register", json=body, headers={"17token": KEY})).json()
    assert answer["code"] == -18010014
    wrong = "WRONG-KEY-0123456789abcdef"
    async with client(fake, track_time, key=wrong) as c:
        with pytest.raises(TrackingError) as caught:
            await c.register([Parcel("1Z0000000001")])
    assert (caught.value.status, caught.value.transient) == (401, False)
    assert wrong not in str(caught.value) and wrong not in caplog.text and wrong not in repr(c)


async def test_throttled_and_failing_requests_are_retried_then_given_up(fake, track_time) -> None:
    fake.fail_next("gettrackinfo", 429, count=2)
    fake.fail_next("gettrackinfo", 500)
    async with client(fake, track_time) as c:
        await c.track([Parcel("1Z0000000001")])
        assert fake.answered("gettrackinfo") == [429, 429, 500, 200]
        fake.fail_next(None, 503, count=5)
        with pytest.raises(TrackingError) as caught:
            await c.track([Parcel("1Z0000000001")])
    assert (caught.value.status, caught.value.transient) == (503, True)


# --- the run: batches and the rate --------------------------------------------------------------------


async def test_a_run_registers_and_polls_in_batches_of_40_within_the_rate(store, fake, track_time, clock) -> None:
    numbers = seed_shipped(store.path, 85, clock() - timedelta(hours=1))
    for number in numbers[:3]:
        fake.script(number, Step(timedelta(minutes=30), "Delivered", "Delivered_Other", "Seattle", "Delivered"))
    tracker = Tracker(store, Desk(store, Lifecycle(), clock), client(fake, track_time), clock)
    report = await tracker.run()
    assert (report.collected, report.registered, report.polled) == (85, 85, 85)
    assert [len(n) for n in fake.numbers("register")] == [40, 40, 5]
    assert [len(n) for n in fake.numbers("gettrackinfo")] == [40, 40, 5]
    assert 429 not in [status for _op, _n, status in fake.requests]  # the bucket kept to 3 a second
    # Nothing is due for three hours; then three are delivered and stopped, and no longer asked about.
    clock.advance(hours=1)
    assert await tracker.run() == type(report)()
    clock.advance(hours=2)
    report = await tracker.run()
    assert (report.registered, report.polled, report.delivered, report.stopped) == (0, 85, 3, 3)
    clock.advance(hours=3)
    report = await tracker.run()
    assert (report.polled, report.delivered) == (82, 0)
    assert 429 not in [status for _op, _n, status in fake.requests]


async def test_a_run_marks_the_concerns_alerts_are_made_of(store, fake, track_time, clock) -> None:
    never, stalled, returned = seed_shipped(store.path, 3, clock())
    fake.script(stalled, Step(timedelta(hours=6), "InTransit", "InTransit_PickedUp", "Shenzhen", "Picked up"))
    fake.script(returned, Step(timedelta(hours=6), "InTransit", "InTransit_PickedUp", "Shenzhen", "Picked up"),
                Step(timedelta(days=2), "Exception", "Exception_Returning", "Los Angeles, CA", "Returning to sender"))  # fmt: skip
    tracker = Tracker(store, Desk(store, Lifecycle(), clock), client(fake, track_time), clock)
    await tracker.run()
    team = -1009999999999
    assert await store.tracking_concerns(team) == []
    clock.advance(hours=49)
    await tracker.run()
    found = {row.number: row for row in await store.tracking_concerns(team)}
    assert {n: r.concern for n, r in found.items()} == {never: "no_scan", returned: "exception"}
    assert (found[returned].event_place, found[returned].event_text) == ("Los Angeles, CA", "Returning to sender")
    assert found[never].concern_since == clock()
    clock.advance(days=6)
    await tracker.run()
    found = {row.number: row for row in await store.tracking_concerns(team)}
    assert {n: r.concern for n, r in found.items()} == {never: "no_scan", returned: "exception", stalled: "stuck"}
    assert found[never].concern_since == START + timedelta(hours=49)  # still the same concern, since then


async def test_a_pushed_update_goes_through_the_same_code_as_a_polled_one(store, fake, track_time, clock) -> None:
    (number,) = seed_shipped(store.path, 1, clock())
    tracker = Tracker(store, Desk(store, Lifecycle(), clock), client(fake, track_time), clock)
    await tracker.run()
    clock.advance(days=4)
    delivered_at = clock() - timedelta(hours=2)
    pushed = TrackInfo(number, TrackStatus.delivered, "Delivered_Other", TrackEvent(delivered_at, "Seattle", "Delivered"),
                       delivered_at)  # fmt: skip
    assert await tracker.apply_pushed(pushed) == 1
    team, order_id = -1009999999999, "900-0000000-0000000"
    assert (await store.order(team, order_id)).goods.value == "delivered"
    (event,) = await store.events(team, order_id, limit=1, newest_first=True)
    assert (event.trigger, event.actor.name, event.details["delivered_at"]) == (
        "deliver", "carrier tracking", delivered_at.isoformat())  # fmt: skip
    (row,) = await store.tracking_of(team, order_id)
    assert (row.state, row.stop_reason, row.delivered_at) == ("to_stop", "delivered", delivered_at)
    assert await tracker.apply_pushed(pushed) == 0  # pushed twice: delivered once


async def test_the_valid_tracking_rate_counts_carrier_scans_and_a_team_may_switch_tracking_off(
    store, fake, track_time, clock
) -> None:
    team = -1009999999999
    numbers = seed_shipped(store.path, 4, clock())
    for number in numbers[:2]:
        fake.script(number, Step(timedelta(hours=2), "InTransit", "InTransit_PickedUp", "Shenzhen", "Picked up"))
    tracker = Tracker(store, Desk(store, Lifecycle(), clock), client(fake, track_time), clock)
    await tracker.run()
    clock.advance(hours=3)
    await tracker.run()
    window = (clock() - timedelta(days=30), clock())
    assert await store.tracking_scans(team, *window) == (4, 2)
    assert await store.tracking_enabled(team)
    await store.set_tracking(team, False, by=1001, now=clock())
    assert not await store.tracking_enabled(team)
    seed_shipped(store.path, 2, clock(), first=4)
    report = await tracker.run()
    assert (report.collected, report.registered, report.stopped) == (2, 0, 4)
    assert sorted(fake.numbers("stoptrack")[-1]) == sorted(numbers)
    await store.set_tracking(team, True, by=1001, now=clock())
    (new,) = seed_shipped(store.path, 1, clock(), first=6)
    report = await tracker.run()
    assert (report.collected, report.registered) == (1, 1)
    assert fake.numbers("register")[-1] == [new]


async def test_when_the_months_quota_is_spent_numbers_wait_for_the_next_month(store, track_time, clock) -> None:
    fake = FakeTrack(clock, monotonic=track_time.monotonic, quota_total=2)
    await fake.start()
    try:
        numbers = seed_shipped(store.path, 3, clock())
        tracker = Tracker(store, Desk(store, Lifecycle(), clock), client(fake, track_time), clock)
        report = await tracker.run()
        assert (report.registered, report.rejected) == (2, 0)
        assert fake.numbers("register") == [numbers]
        assert await store.tracking_quota("17track") == (clock(), 2, 2, 0)
        (waiting,) = await store.tracking_work("to_register", 10)
        assert (waiting.number, waiting.error) == (numbers[2], "-18019908 Insufficient quota.")
        clock.advance(hours=1)
        await tracker.run()
        assert len(fake.numbers("register")) == 1  # not asked again this month
        fake.quota_total = 100  # December: a new month's quota
        clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
        report = await tracker.run()
        assert report.registered == 1
        assert fake.numbers("register")[-1] == [numbers[2]]
    finally:
        await fake.stop()


def test_each_concern_is_alerted_once_and_a_new_fact_is_a_new_alert() -> None:
    def row(number: str, concern: str, **kw: object) -> TrackedNumber:
        return TrackedNumber(1, -1, f"o-{number}", number, "UPS", None, START, "registered", concern=concern, **kw)  # type: ignore[arg-type]

    never = row("A", "no_scan")
    stuck = row("B", "stuck", moved_at=START + timedelta(days=1))
    problem = row("C", "exception", sub_status="Exception_Returning", event_at=START + timedelta(days=3))
    announce, settled = decide_tracking([never, stuck, problem], off=(), already=set())
    assert [(a.kind, a.key) for a in announce] == [
        ("no_scan", "A"), ("stuck", "B/2026-11-22T08:00"), ("track_exception", "C/Exception_Returning/2026-11-24T08:00")]  # fmt: skip
    assert settled == [(a.order_id, a.kind, a.key) for a in announce]
    # Sent: not again. The parcel moved and stopped again, or another problem: a new alert.
    moved = dataclasses.replace(stuck, moved_at=START + timedelta(days=9))
    returned = dataclasses.replace(problem, sub_status="Exception_Returned", event_at=START + timedelta(days=8))
    again, _ = decide_tracking([never, moved, returned], off=(), already=set(settled))
    assert [(a.kind, a.key) for a in again] == [
        ("stuck", "B/2026-11-30T08:00"), ("track_exception", "C/Exception_Returned/2026-11-29T08:00")]  # fmt: skip
    assert decide_tracking([never, stuck], off=("no_scan", "stuck"), already=set()) == ([], [])


# --- the poll query ---------------------------------------------------------------------------------


def _plan(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        conn.execute("ANALYZE")
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {DUE_QUERY}", ("2026-12-01T00:00:00+00:00", 40))]


# SQLite only: EXPLAIN QUERY PLAN.
async def test_the_poll_reads_the_due_numbers_from_an_index_however_many_orders_were_shipped(sqlite_store) -> None:
    db = Path(sqlite_store.path)

    def add(n: int, first: int, state: str) -> None:
        with sqlite3.connect(db) as conn:
            conn.executemany(
                "INSERT INTO tracking (team_id, order_id, number, shipped_at, state, next_check_at) "
                "VALUES (-1009999999999, ?, ?, '2026-11-01T00:00:00+00:00', ?, ?)",
                [(f"900-{k // 10_000_000:07d}-{k % 10_000_000:07d}", f"N{k}", state,
                  "2026-11-30T00:00:00+00:00" if state == "registered" else None) for k in range(first, first + n)],
            )  # fmt: skip

    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
    # 10k numbers ever tracked, 200 of them still registered.
    add(9_800, 0, "stopped")
    add(200, 9_800, "registered")
    small = _plan(db)
    # Ten times as many shipped since: the plan is the same index range.
    add(90_000, 10_000, "stopped")
    assert _plan(db) == small == ["SEARCH tracking USING INDEX tracking_due (next_check_at<?)"]


# --- the rules ----------------------------------------------------------------------------------------


def test_parcels_are_asked_about_often_while_young_rarely_later_and_never_past_60_days() -> None:
    assert [interval(timedelta(days=d)) for d in (0, 2, 5, 20, 45)] == [
        timedelta(hours=3), timedelta(hours=3), timedelta(hours=8), timedelta(hours=24), timedelta(hours=48)]  # fmt: skip
    assert next_check(START, START + timedelta(days=59, hours=12)) == START + MAX_AGE
    # A missing first scan is found at 48 hours exactly.
    assert next_check(START, START + timedelta(hours=47)) == START + timedelta(hours=48)
    assert next_check(START, START + timedelta(hours=48)) == START + timedelta(hours=51)


def test_what_makes_a_parcel_a_concern() -> None:
    shipped = START
    at = shipped + timedelta(hours=47)
    assert concern(TrackStatus.not_found, "", shipped, None, at) is None
    assert concern(TrackStatus.not_found, "", shipped, None, at + timedelta(hours=1)) == "no_scan"
    assert concern(TrackStatus.info_received, "", shipped, None, at + timedelta(hours=1)) == "no_scan"
    moved = shipped + timedelta(days=1)
    assert concern(TrackStatus.in_transit, "", shipped, moved, moved + timedelta(days=6, hours=23)) is None
    assert concern(TrackStatus.in_transit, "", shipped, moved, moved + timedelta(days=7)) == "stuck"
    assert concern(TrackStatus.in_transit, "", shipped, moved, moved + timedelta(days=3), stuck_days=3) == "stuck"
    assert concern(TrackStatus.exception, "Exception_Returning", shipped, moved, moved) == "exception"
    assert concern(TrackStatus.delivery_failure, "", shipped, moved, moved) == "exception"
    assert concern(TrackStatus.delivered, "", shipped, moved, moved + timedelta(days=30)) is None


# --- the settings -------------------------------------------------------------------------------------


def test_the_tracking_key_and_address_from_the_environment() -> None:
    env = {"DINGDAN_TOKEN": "1:x", "DINGDAN_TRACKING_KEY": KEY}
    settings = Settings.from_env(env)
    assert (settings.tracking_key, settings.tracking_url) == (KEY, "https://api.17track.net/track/v2.2")
    assert KEY not in repr(settings)
    local = Settings.from_env({**env, "DINGDAN_TRACKING_URL": "http://127.0.0.1:8080/track/v2.2"})
    assert local.tracking_url == "http://127.0.0.1:8080/track/v2.2"
    for url in ("http://example.com/track", "ftp://127.0.0.1/x", "https://user:pw@example.com/x"):
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({**env, "DINGDAN_TRACKING_URL": url})
        assert "pw" not in str(caught.value) and "example.com" not in str(caught.value)
    assert dataclasses.replace(settings, tracking_key="").tracking_key == ""

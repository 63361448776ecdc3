"""Carrier tracking end to end: the real Application polls the fake Bot API, and its tracking run talks
to the fake 17TRACK (tests/support/faketrack.py) over HTTP on 127.0.0.1.

Alice ships in the group; the tracking run (what the repeating job does, run here while the test
waits for it) registers the number once, polls it as the fake clock moves, and the carrier's
"delivered" delivers the order, by "carrier tracking", with the delivery time. A correction stops
the old number and registers the new one; a restart neither registers again nor delivers twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.app import running
from tests.support.clock import START, FakeClock
from tests.support.desk import desk_settings, settled
from tests.support.fakebotapi import FakeBotAPI
from tests.support.faketrack import KEY, FakeTrack, Parcel, Step, TrackTime
from tests.support.scenario import FAN, MIC, Team, make_team, sample

UPS = "1Z999AA10123456784"
NEW_UPS = "1Z999AA10123456791"


@pytest.fixture
def track_time() -> TrackTime:
    return TrackTime()


@pytest.fixture
async def track(clock: FakeClock, track_time: TrackTime) -> AsyncIterator[FakeTrack]:
    fake = FakeTrack(clock, monotonic=track_time.monotonic)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def tracking_desk(fake_api: FakeBotAPI, clock: FakeClock, db_path: Path, track: FakeTrack, track_time: TrackTime):
    settings = dataclasses.replace(desk_settings(fake_api, clock, db_path), tracking_key=KEY, tracking_url=track.url)
    return running(settings)


def on_track_time(app: Application, track_time: TrackTime) -> None:
    """The desk's 17TRACK client waits on virtual seconds; the tracking job is idle (runs come from the test)."""
    tracker = app.bot_data["tracking"]
    provider = tracker.provider
    provider.monotonic = provider.bucket.monotonic = track_time.monotonic
    provider.sleep = provider.bucket.sleep = track_time.sleep
    provider.bucket.updated = track_time.monotonic()
    for job in app.job_queue.get_jobs_by_name("tracking"):
        job.schedule_removal()
    for job in app.job_queue.get_jobs_by_name("alerts"):
        job.schedule_removal()


@pytest.fixture
async def track_desk(fake_api: FakeBotAPI, clock: FakeClock, tmp_path: Path, track: FakeTrack,
                     track_time: TrackTime) -> AsyncIterator[Application]:  # fmt: skip
    async with tracking_desk(fake_api, clock, tmp_path / "desk.sqlite3", track, track_time) as app:
        on_track_time(app, track_time)
        yield app


@pytest.fixture
async def track_team(fake_api: FakeBotAPI, track_desk: Application, tmp_path: Path) -> Team:
    t = await make_team(fake_api, track_desk, tmp_path / "desk.sqlite3")
    replies = await t.api.upload(t.group, t.alice, "unshipped-orders-us.txt", sample("unshipped-orders-us.txt"))
    assert replies[0]["text"].startswith("Unshipped Orders report read"), replies[0]["text"]
    return t


async def run(t: Team):
    return await t.app.bot_data["tracking"].run()


def tracking_rows(t: Team, order_id: str) -> list[dict]:
    with t.db() as conn:
        rows = conn.execute("SELECT * FROM tracking WHERE order_id = ? ORDER BY tracking_id", (order_id,)).fetchall()
    return [dict(r) for r in rows]


DELIVERED_STEPS = (
    Step(timedelta(hours=5), "InfoReceived", "InfoReceived", "Shenzhen, CN", "Shipment information received"),
    Step(timedelta(hours=20), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"),
    Step(timedelta(days=3), "InTransit", "InTransit_Arrival", "Ontario, CA, US", "Arrived at facility"),
    Step(timedelta(days=5, hours=2), "Delivered", "Delivered_Other", "Seattle, WA, US", "Delivered, front door"),
)


async def test_a_shipment_is_registered_once_goes_in_transit_and_its_delivery_delivers_the_order(
    track_team, track, clock, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    t = track_team
    track.script(UPS, *DELIVERED_STEPS)
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    shipped_at = clock()

    report = await run(t)
    assert (report.collected, report.registered, report.polled, report.delivered) == (1, 1, 1, 0)
    assert track.numbers("register") == [[UPS]]
    assert track.parcels[UPS].carrier == 100002  # UPS's 17TRACK code was given, not guessed
    assert track.parcels[UPS].tag == MIC
    (row,) = tracking_rows(t, MIC)
    assert (row["state"], row["status"], row["provider_carrier"], row["concern"]) == (
        "registered", "NotFound", 100002, None)  # fmt: skip
    assert row["next_check_at"] == (shipped_at + timedelta(hours=3)).isoformat()
    with t.db() as conn:
        assert tuple(conn.execute("SELECT total, used, remaining FROM tracking_quota").fetchone()) == (100, 1, 99)

    # Not due yet: nothing is asked.
    clock.advance(hours=1)
    report = await run(t)
    assert (report.registered, report.polled) == (0, 0)
    assert len(track.requests) == 3  # register, getquota, gettrackinfo

    # A day later: picked up, in transit; the carrier's last event is kept.
    clock.advance(hours=23)
    report = await run(t)
    assert report.polled == 1
    (row,) = tracking_rows(t, MIC)
    assert (row["status"], row["sub_status"], row["event_place"], row["event_text"]) == (
        "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up")  # fmt: skip
    assert row["moved_at"] == row["event_at"] == (shipped_at + timedelta(hours=20)).isoformat()
    assert t.goods(MIC) == "shipped"

    # Delivered on day 5: the order is delivered by "carrier tracking", with the delivery time.
    clock.advance(days=5)
    report = await run(t)
    assert report.delivered == 1
    assert t.goods(MIC) == "delivered"
    event = t.events(MIC)[-1]
    assert (event["action"], event["actor_kind"], event["actor_name"]) == ("deliver", "import", "carrier tracking")
    details = json.loads(event["details"])
    assert details["delivered_at"] == (shipped_at + timedelta(days=5, hours=2)).isoformat()
    assert details["tracking"] == UPS
    (row,) = tracking_rows(t, MIC)
    assert (row["state"], row["stop_reason"], row["delivered_at"]) == (
        "stopped", "delivered", details["delivered_at"])  # fmt: skip
    assert track.numbers("stoptrack") == [[UPS]]

    # Nothing more is asked about it, ever; the key never reached a log line.
    clock.advance(days=3)
    before = len(track.requests)
    report = await run(t)
    assert (report.registered, report.polled, report.stopped) == (0, 0, 0)
    assert len(track.requests) == before
    assert KEY not in caplog.text
    await settled(t.api, t.app)


async def test_a_correction_stops_the_old_number_and_registers_the_new_one(track_team, track, clock) -> None:
    t = track_team
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    await run(t)
    assert track.numbers("register") == [[UPS]]
    clock.advance(hours=2)
    (question,) = await t.api.ask(t.group, t.alice, f"/correct {MIC} UPS {NEW_UPS}")
    yes = t.api.buttons(question)[0][1]
    await t.api.click(t.group, t.alice, question, yes, expect=1)
    await settled(t.api, t.app)
    assert t.order_row(MIC)["tracking"] == NEW_UPS
    report = await run(t)
    assert (report.collected, report.registered, report.stopped) == (1, 1, 1)
    assert track.numbers("register") == [[UPS], [NEW_UPS]]
    assert track.numbers("stoptrack") == [[UPS]]
    old, new = tracking_rows(t, MIC)
    assert (old["number"], old["state"], old["stop_reason"]) == (UPS, "stopped", "corrected")
    assert (new["number"], new["state"]) == (NEW_UPS, "registered")
    # Only the new number is polled from now on.
    clock.advance(hours=4)
    await run(t)
    assert track.numbers("gettrackinfo")[-1] == [NEW_UPS]


async def test_rejected_and_already_registered_numbers_through_a_429_and_a_5xx(track_team, track, track_time) -> None:
    t = track_team
    # An earlier life of this desk registered FAN's number already: that counts as registered.
    track.parcels["123456789012"] = Parcel("123456789012", 100003, START)
    await t.say(t.alice, f"/ship {FAN} FedEx 123456789012")
    track.reject("LX123456789CN")
    await t.say(t.alice, f"/ship {MIC} epacket LX123456789CN")
    track.fail_next("register", 429)
    track.fail_next("register", 503)
    report = await run(t)
    assert track.answered("register") == [429, 503, 200]
    # The SP-API's back-off: after the 429 the bucket waits a whole refill and at least a second; the 503, a second.
    assert track_time.slept[:2] == [1.0, 1.0]
    assert (report.registered, report.rejected) == (1, 1)
    (mic,) = tracking_rows(t, MIC)
    assert (mic["state"], mic["error"]) == ("rejected", "-18019903 The carrier cannot be detected.")
    (fan,) = tracking_rows(t, FAN)
    assert (fan["state"], fan["provider_carrier"]) == ("registered", 100003)
    assert track.quota_used == 0  # neither used the quota
    # A rejected number is never asked about again.
    report = await run(t)
    assert track.numbers("register", 200) == [["123456789012", "LX123456789CN"]]


async def test_a_restart_neither_registers_again_nor_delivers_twice(
    fake_api, clock, tmp_path, track, track_time
) -> None:
    db = tmp_path / "desk.sqlite3"
    track.script(UPS, *DELIVERED_STEPS)
    async with tracking_desk(fake_api, clock, db, track, track_time) as app:
        on_track_time(app, track_time)
        t = await make_team(fake_api, app, db)
        await t.api.upload(t.group, t.alice, "unshipped-orders-us.txt", sample("unshipped-orders-us.txt"))
        await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
        await run(t)
        await settled(t.api, t.app)
    assert track.numbers("register") == [[UPS]]
    clock.advance(days=6)
    async with tracking_desk(fake_api, clock, db, track, track_time) as app:
        on_track_time(app, track_time)
        t.app = app
        report = await run(t)
        assert (report.collected, report.registered, report.delivered) == (0, 0, 1)
        report = await run(t)
        assert (report.registered, report.polled, report.delivered) == (0, 0, 0)
        await settled(t.api, t.app)
    async with tracking_desk(fake_api, clock, db, track, track_time) as app:
        on_track_time(app, track_time)
        t.app = app
        report = await run(t)
        assert (report.collected, report.registered, report.polled, report.delivered) == (0, 0, 0, 0)
    assert track.numbers("register") == [[UPS]]
    assert [e["action"] for e in t.events(MIC)].count("deliver") == 1
    assert t.goods(MIC) == "delivered"

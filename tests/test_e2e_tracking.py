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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.app import running
from tests.support.alerts import alerts_in, mark, no_more_alerts, read, wait_alert
from tests.support.clock import START, FakeClock
from tests.support.desk import check_alerts, desk_settings, settled
from tests.support.fakebotapi import FakeBotAPI
from tests.support.faketrack import KEY, FakeTrack, Parcel, Step, TrackTime
from tests.support.scenario import FAN, MIC, Team, make_team, sample, sample_with_ids, says

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


def tracking_desk(fake_api: FakeBotAPI, clock: FakeClock, db_path: Path | str, track: FakeTrack, track_time: TrackTime):
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
async def track_desk(fake_api: FakeBotAPI, clock: FakeClock, db_target: Path | str, track: FakeTrack,
                     track_time: TrackTime) -> AsyncIterator[Application]:  # fmt: skip
    async with tracking_desk(fake_api, clock, db_target, track, track_time) as app:
        on_track_time(app, track_time)
        yield app


@pytest.fixture
async def track_team(fake_api: FakeBotAPI, track_desk: Application, db_target: Path | str) -> Team:
    t = await make_team(fake_api, track_desk, db_target)
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
    fake_api, clock, db_target, track, track_time
) -> None:
    db = db_target
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


# --- alerts ------------------------------------------------------------------------------------------


@pytest.fixture
async def mic_team(fake_api: FakeBotAPI, track_desk: Application, db_target: Path | str) -> Team:
    """The team with one order, MIC (its other orders would have their own alerts as the days pass)."""
    t = await make_team(fake_api, track_desk, db_target)
    await t.api.upload(t.group, t.alice, "unshipped-orders-us.txt", sample_with_ids([MIC]))
    return t


async def quiet_start(t: Team) -> int:
    """The digest off and what was due already sent: what follows is the tracking's."""
    await t.api.ask(t.group, t.alice, "/alerts digest off")
    await check_alerts(t.app)
    await settled(t.api, t.app)
    return mark(t)


async def test_a_number_never_scanned_gets_one_no_first_scan_alert_at_48_hours(mic_team, track, clock) -> None:
    t = mic_team
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    start = await quiet_start(t)
    await run(t)
    clock.advance(hours=47)
    await run(t)
    await no_more_alerts(t, start)
    clock.advance(hours=2)
    await run(t)
    await check_alerts(t.app)
    alert = await wait_alert(t, "🔍", since=start)
    assert read(alert).splitlines() == [
        "🔍 1 parcel has no carrier scan 48 hours after shipping:",
        f"…6689831 USB-MIC-01×1 · {UPS} · no carrier scan yet",
        "Amazon counts a tracking number as valid only once the carrier has scanned the parcel. Check that the "
        "label was handed over, or correct the number with /correct.",
    ]
    # Asked again and again, still not scanned: said once.
    clock.advance(hours=6)
    await run(t)
    await no_more_alerts(t, mark(t))


async def test_a_stuck_parcel_gets_an_alert_with_a_mark_lost_button(mic_team, track, clock) -> None:
    t = mic_team
    track.script(UPS, Step(timedelta(hours=5), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"))
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    start = await quiet_start(t)
    await run(t)
    clock.advance(days=7, hours=6)
    await run(t)
    await check_alerts(t.app)
    alert = await wait_alert(t, "🐢", since=start)
    assert read(alert).splitlines() == [
        "🐢 1 parcel has not moved for 7 days:",
        f"…6689831 USB-MIC-01×1 · {UPS} · in transit, 11/21 9:00 PM Shenzhen, CN: Picked up",
    ]
    assert t.api.buttons(alert) == [("❓ Lost 6689831", f"ml:{MIC}")]
    click = await t.api.click(t.group, t.alice, alert, f"ml:{MIC}", expect=2)
    assert click.messages[0]["text"] == (
        f"Order {MIC} marked lost. Contact the carrier and refund the buyer with /refund {MIC}."
    )
    assert t.goods(MIC) == "lost"


async def test_the_carrier_reports_a_problem_once_and_the_card_shows_the_last_event(mic_team, track, clock) -> None:
    t = mic_team
    track.script(UPS, Step(timedelta(hours=5), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"),
                 Step(timedelta(days=4), "Exception", "Exception_Returning", "Los Angeles, CA, US",
                      "Returning to sender: address unknown"))  # fmt: skip
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    start = await quiet_start(t)
    await run(t)
    clock.advance(hours=6)
    await run(t)
    card = await t.say(t.alice, "/order 6689831")
    assert card.splitlines()[3:5] == [
        f"Shipped with UPS {UPS}",
        f"Tracking {UPS}: in transit; last event 11/21/26, 9:00 PM, Shenzhen, CN: Picked up",
    ]
    clock.advance(days=4)
    await run(t)
    await check_alerts(t.app)
    alert = await wait_alert(t, "⚠️", since=start)
    assert read(alert).splitlines() == [
        "⚠️ The carrier reports a problem with 1 parcel:",
        f"…6689831 USB-MIC-01×1 · {UPS} · possible exception, 4:00 PM Los Angeles, CA, US: Returning to "
        "sender: address unknown",
    ]
    assert t.api.buttons(alert) == []
    clock.advance(hours=8)
    await run(t)
    await no_more_alerts(t, mark(t))


async def test_lists_of_stuck_and_never_scanned_parcels(mic_team, track, clock) -> None:
    t = mic_team
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    await run(t)
    assert await t.say(t.alice, "/orders no-scan") == "No orders in this list."
    clock.advance(hours=48)
    await run(t)
    assert (await t.say(t.alice, "/orders 查询不到")).splitlines() == [
        "🔍 1 parcel has no carrier scan 48 hours after shipping:",
        f"{MIC} · Tracking {UPS}: no carrier scan yet.",
    ]
    assert await t.say(t.alice, "/orders stuck") == "No orders in this list."


async def test_an_alert_is_not_repeated_after_a_restart(fake_api, clock, db_target, track, track_time) -> None:
    db = db_target
    async with tracking_desk(fake_api, clock, db, track, track_time) as app:
        on_track_time(app, track_time)
        t = await make_team(fake_api, app, db)
        await t.api.upload(t.group, t.alice, "unshipped-orders-us.txt", sample_with_ids([MIC]))
        await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
        start = await quiet_start(t)
        await run(t)
        clock.advance(hours=48)
        await run(t)
        await check_alerts(t.app)
        await wait_alert(t, "🔍", since=start)
        await settled(t.api, t.app)
    seen = mark(t)
    clock.advance(hours=3)
    async with tracking_desk(fake_api, clock, db, track, track_time) as app:
        on_track_time(app, track_time)
        t.app = app
        await run(t)
        await no_more_alerts(t, seen)
    assert track.numbers("register") == [[UPS]]


async def test_the_digest_measures_the_valid_tracking_rate_and_warns_when_the_quota_runs_low(
    mic_team, track, clock
) -> None:
    t = mic_team
    track.quota_total = 8
    track.script(UPS, Step(timedelta(hours=5), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"))
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    other = "113-7000000-0000077"
    await t.api.upload(t.group, t.alice, "more.txt", sample_with_ids([other]))
    await t.say(t.alice, f"/ship {other} FedEx 123456789012")  # never scanned
    start = mark(t)
    await run(t)
    clock.advance(hours=6)
    await run(t)
    clock.set(datetime(2026, 11, 22, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai: the digest
    await check_alerts(t.app)
    digest = await wait_alert(t, "Daily digest", since=start)
    lines = read(digest).splitlines()
    assert "⚠️ Valid tracking rate, 30 days: 50.0% (1/2), target over 95.0%" in lines, "\n".join(lines)
    assert lines[-1] == ("📉 Carrier tracking: 6 of 8 numbers left in this month's 17TRACK quota; new shipments are "
                         "not tracked once it runs out.")  # fmt: skip


def parcel_report(*orders: tuple[str, str]) -> bytes:
    """The sample Order report's first order under each id, to arrive by its date."""
    lines = sample("order-report-us.txt").decode().splitlines()
    header, out = lines[0].split("\t"), [lines[0]]
    for n, (order_id, deliver_by) in enumerate(orders):
        row = lines[1].split("\t")
        row[0], row[1] = order_id, f"7000000000009{n}"
        row[header.index("delivery-end-date")] = deliver_by
        out.append("\t".join(row))
    return ("\n".join(out) + "\n").encode()


async def test_a_late_delivery_alert_only_for_a_parcel_the_carrier_has_not_delivered(
    fake_api, track_desk, db_target, track, clock
) -> None:
    t = await make_team(fake_api, track_desk, db_target)
    arrived, late = "113-7000000-0000001", "113-7000000-0000002"
    await t.api.upload(t.group, t.alice, "orders.txt", parcel_report((arrived, "2026-11-25T07:59:59+00:00"),
                                                                     (late, "2026-11-25T07:59:59+00:00")))  # fmt: skip
    track.script(UPS, Step(timedelta(hours=5), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"),
                 Step(timedelta(days=3), "Delivered", "Delivered_Other", "Seattle, WA, US", "Delivered"))  # fmt: skip
    track.script(NEW_UPS, Step(timedelta(hours=5), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"))
    await t.say(t.alice, f"/ship {arrived} UPS {UPS}")
    await t.say(t.alice, f"/ship {late} UPS {NEW_UPS}")
    start = await quiet_start(t)
    await run(t)
    clock.advance(days=3, hours=1)
    await run(t)
    assert t.goods(arrived) == "delivered"
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # past both orders' latest delivery date
    await run(t)
    await check_alerts(t.app)
    alert = await wait_alert(t, "🚚", since=start)
    assert read(alert).splitlines() == [
        "🚚 1 shipped order is past its latest delivery date:",
        "…0000002 USB-MIC-01×1 · due 3:59 PM",
    ]


@pytest.mark.alerts
async def test_without_tracking_no_late_delivery_alert_and_alerts_says_why(alert_team, clock) -> None:
    t = alert_team
    late = "113-7000000-0000002"
    await t.api.upload(t.group, t.alice, "orders.txt", parcel_report((late, "2026-11-25T07:59:59+00:00")))
    await t.say(t.alice, f"/ship {late} UPS {UPS}")
    start = mark(t)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    await wait_alert(t, "🚨", since=start)  # the report's orders late to ship, and nothing about the parcel
    assert not [m for m in alerts_in(t, since=start) if "🚚" in read(m)]
    settings = await t.say(t.alice, "/alerts")
    assert says("en", "Late deliveries: off, because carrier tracking is off: without it I cannot know that a parcel "
                "arrived, and every parcel would look late. The bot's operator turns tracking on with a 17TRACK API "
                "key (DINGDAN_TRACKING_KEY).") in settings.splitlines()  # fmt: skip
    assert "late deliveries" not in settings.split("On: ")[1].split("\n")[0]


async def test_a_team_says_after_how_many_days_a_parcel_is_stuck(mic_team, track, clock) -> None:
    t = mic_team
    track.script(UPS, Step(timedelta(hours=5), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"))
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    start = await quiet_start(t)
    before = t.snapshot()
    refused = await t.say(t.alice, "/alerts stuck 99")
    assert refused == says("en", "I don't understand “{text}”. Examples: /alerts lead 24 4 · /alerts digest 09:00 · "
                           "/alerts digest off · /alerts quiet 23:00 08:00 · /alerts quiet off · /alerts tz "
                           "Asia/Shanghai · /alerts pending 3", text="stuck 99")  # fmt: skip
    assert t.snapshot() == before
    settings = await t.say(t.alice, "/alerts stuck 3")
    assert "Parcels stuck after 3 days without movement (/alerts stuck 3)" in settings.splitlines()
    await run(t)
    clock.advance(days=3, hours=6)
    await run(t)
    await check_alerts(t.app)
    alert = await wait_alert(t, "🐢", since=start)
    assert read(alert).splitlines()[0] == "🐢 1 parcel has not moved for 3 days:"


async def test_an_administrator_switches_tracking_off_and_on_for_the_team(track_team, track, clock) -> None:
    t = track_team
    settings = await t.say(t.alice, "/alerts tracking off")
    assert "Carrier tracking: off for this team (/alerts tracking on)" in settings.splitlines()
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    report = await run(t)
    assert (report.collected, report.registered) == (1, 0)
    assert track.requests == []
    settings = await t.say(t.alice, "/alerts 追踪 开")
    assert "Carrier tracking: on (/alerts tracking off)" in settings.splitlines()
    await t.say(t.alice, f"/ship {FAN} FedEx 123456789012")
    report = await run(t)
    # Switched on, the shipment made while it was off is tracked as well as the new one.
    assert report.registered == 2
    assert track.numbers("register") == [[UPS, "123456789012"]]
    # Bob is no administrator: nothing changes.
    await t.say(t.bob, "/alerts tracking off")
    with t.db() as conn:
        assert conn.execute("SELECT count(*) FROM tracking_off").fetchone()[0] == 0


async def test_tracking_switched_back_on_tracks_again_what_the_switch_stopped(track_team, track, clock) -> None:
    t = track_team
    track.script(UPS, Step(timedelta(hours=1), "InTransit", "InTransit_PickedUp", "Shenzhen, CN", "Picked up"))
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    assert (await run(t)).registered == 1
    await t.say(t.alice, "/alerts tracking off")
    report = await run(t)
    assert report.stopped == 1
    assert track.parcels[UPS].stopped
    (row,) = tracking_rows(t, MIC)
    assert (row["state"], row["stop_reason"]) == ("stopped", "switched_off")
    await t.say(t.alice, f"/ship {FAN} FedEx 123456789012")
    assert (await run(t)).registered == 0

    settings = await t.say(t.alice, "/alerts tracking on")
    assert "Carrier tracking: on (/alerts tracking off)" in settings.splitlines()
    clock.advance(hours=2)
    report = await run(t)
    # The stopped number is registered again (17TRACK knows it: it is retracked), the one
    # shipped while tracking was off is registered for the first time; both are polled.
    assert (report.registered, report.polled) == (2, 2)
    assert track.numbers("register")[-1] == [UPS, "123456789012"]
    assert track.numbers("retrack") == [[UPS]]
    assert not track.parcels[UPS].stopped
    (row,) = tracking_rows(t, MIC)
    assert (row["state"], row["stop_reason"], row["stopped_at"], row["status"]) == (
        "registered", None, None, "InTransit")  # fmt: skip
    (fan,) = tracking_rows(t, FAN)
    assert (fan["number"], fan["state"]) == ("123456789012", "registered")


async def test_tracking_switched_on_again_before_the_stop_went_out_keeps_tracking(track_team, track) -> None:
    t = track_team
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    assert (await run(t)).registered == 1
    await t.say(t.alice, "/alerts tracking off")
    await t.say(t.alice, "/alerts tracking on")
    report = await run(t)
    assert (report.registered, report.stopped) == (0, 0)
    assert track.numbers("stoptrack") == [] and track.numbers("retrack") == []
    (row,) = tracking_rows(t, MIC)
    assert (row["state"], row["stop_reason"]) == ("registered", None)


async def test_a_never_scanned_number_corrected_before_its_alert_is_not_named_the_new_one_may(
    mic_team, track, clock
) -> None:
    t = mic_team
    await t.say(t.alice, f"/ship {MIC} UPS {UPS}")
    start = await quiet_start(t)
    await run(t)
    clock.advance(hours=49)
    await run(t)
    assert tracking_rows(t, MIC)[0]["concern"] == "no_scan"
    (question,) = await t.api.ask(t.group, t.alice, f"/correct {MIC} UPS {NEW_UPS}")
    yes = t.api.buttons(question)[0][1]
    await t.api.click(t.group, t.alice, question, yes, expect=1)
    await settled(t.api, t.app)
    track.fail_next("stoptrack", 503, count=20)
    start = mark(t)
    await run(t)
    old, new = tracking_rows(t, MIC)
    assert (old["number"], old["state"], old["concern"]) == (UPS, "to_stop", None)
    # The new number carries the shipment's time: it alone is named.
    await check_alerts(t.app)
    alert = await wait_alert(t, "🔍", since=start)
    assert read(alert).splitlines() == [
        "🔍 1 parcel has no carrier scan 48 hours after shipping:",
        f"…6689831 USB-MIC-01×1 · {NEW_UPS} · no carrier scan yet",
        "Amazon counts a tracking number as valid only once the carrier has scanned the parcel. Check that the "
        "label was handed over, or correct the number with /correct.",
    ]
    await no_more_alerts(t, mark(t))

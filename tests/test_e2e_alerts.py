"""Push alerts end to end: the real job queue checks the database against the fake clock and
sends through the fake Bot API. The team is in Asia/Shanghai (UTC+8); quiet hours are
23:00–08:00 there and the digest comes at 09:00 unless a test changes it.

The sample orders' ship-by times (UTC): MIC 11-20 07:59, SPEAKER 11-21 07:59, KETO 11-23
07:59, FAN 11-24 07:59. The clock starts at 2026-11-21 08:00 UTC (16:00 in Shanghai).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.support.alerts import alerts_in, mark, no_more_alerts, read, wait_alert, wait_alerts
from tests.support.desk import check_alerts, desk_settings, settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER, plain, sample, sample_with_ids, says, says_n

pytestmark = pytest.mark.alerts


def outbox(t) -> list[tuple]:
    with t.db() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT status, attempts, last_error FROM outbox WHERE kind = 'alert' ORDER BY outbox_id"
            )
        ]


def next_retry(t) -> datetime | None:
    """When the first message that failed and waits for its retry is due, if one does."""
    with t.db() as conn:
        (due,) = conn.execute("SELECT min(not_before) FROM outbox WHERE status = 'pending' AND attempts > 0").fetchone()
    return None if due is None else datetime.fromisoformat(due)


async def retries_fall_due(t, clock, done: Callable[[], bool]) -> None:
    """Until ``done()``: each time a message waits for its retry, the desk's clock moves to the
    time of the retry and the sender is woken."""
    while not done():
        due = await t.api.wait_for(lambda: done() or next_retry(t), what=f"a retry, or done: {outbox(t)}")
        if due is True:
            return
        clock.set(max(clock(), due))
        t.app.bot_data["services"].sender.kick()
        await t.api.wait_for(
            lambda due=due: done() or next_retry(t) != due, what=f"the retry due at {due}: {outbox(t)}"
        )


async def settle(t, *settings: str) -> None:
    """An administrator changes the team's alert settings."""
    for setting in settings:
        await t.api.ask(t.group, t.alice, f"/alerts {setting}")


async def test_ship_by_alerts_fire_once_each_at_the_right_time(alert_team, clock) -> None:
    t = alert_team
    # The two orders already past their ship-by came together, in one message, with buttons.
    text = read(t.late_alert)
    assert text.splitlines()[0] == "🚨 2 orders are past their ship-by time:"
    assert text.splitlines()[1:] == [
        "…6689831 USB-MIC-01×1 ⌛24 hours late (11/20 3:59 PM)",
        "…1122334 BT-SPK-02×2 ⌛1 second late (3:59 PM)",
    ]
    assert t.api.buttons(t.late_alert) == [
        ("🚚 Ship 6689831", f"sp:{MIC}"), ("💤 4h 6689831", f"sz:{MIC}"),
        ("🚚 Ship 1122334", f"sp:{SPEAKER}"), ("💤 4h 1122334", f"sz:{SPEAKER}"),
    ]  # fmt: skip
    await no_more_alerts(t, t.start)
    # 24 hours before KETO's ship-by (11-23 07:59 UTC): one warning, once.
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    soon = (await wait_alerts(t, 1, since=t.start))[0]
    assert read(soon).splitlines() == ["⏰ 1 order must ship soon:", "…4445556 KETO-BM-04×3 ⏳24 hours (11/23 3:59 PM)"]
    await no_more_alerts(t, t.start + 1)
    # 4 hours before: the second warning.
    clock.set(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
    again = (await wait_alerts(t, 2, since=t.start))[1]
    assert read(again).splitlines()[1] == "…4445556 KETO-BM-04×3 ⏳4 hours (3:59 PM)"
    await no_more_alerts(t, t.start + 2)
    with t.db() as conn:
        ledger = conn.execute("SELECT order_id, kind, due_key FROM alerts ORDER BY order_id, kind, due_key").fetchall()
    assert [tuple(r) for r in ledger] == [
        (KETO, "ship_soon", "2026-11-23T07:59/24h"), (KETO, "ship_soon", "2026-11-23T07:59/4h"),
        (MIC, "ship_late", "2026-11-20T07:59"), (SPEAKER, "ship_late", "2026-11-21T07:59"),
    ]  # fmt: skip


async def test_alerts_speak_the_groups_language_and_shipping_stops_them(alert_team, clock) -> None:
    t = alert_team
    await t.api.ask(t.group, t.alice, "/lang group zh_Hant")
    start = mark(t)
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    soon = (await wait_alerts(t, 1, since=start))[0]
    assert read(soon).splitlines()[0] == says_n("zh_Hant", "⏰ {count} order must ship soon:",
                                                "⏰ {count} orders must ship soon:", 1)  # fmt: skip
    assert read(soon).splitlines()[1] == "…4445556 KETO-BM-04×3 ⏳24 小時 (11/23 15:59)"
    assert t.api.buttons(soon) == [
        (says("zh_Hant", "🚚 Ship {tail}", tail="4445556"), f"sp:{KETO}"),
        (says("zh_Hant", "💤 {hours}h {tail}", hours=4, tail="4445556"), f"sz:{KETO}"),
    ]
    # Alice ships KETO: its 4-hour warning never comes.
    await t.api.ask(t.group, t.alice, f"/ship {KETO} UPS 1Z999AA10123456784")
    after = mark(t)
    clock.set(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
    await no_more_alerts(t, after)


async def test_many_due_orders_are_batched_and_paged(alert_team, clock) -> None:
    t = alert_team
    ids = [f"113-5000000-{n:07d}" for n in range(19)]
    body = sample_with_ids(ids).decode().replace("2026-11-20T07:59:59+00:00", "2026-11-21T06:00:00+00:00")
    await t.api.upload(t.group, t.alice, "many.txt", body.encode())
    messages = await wait_alerts(t, 2, since=t.start)
    texts = [read(m) for m in messages]
    # 19 new late orders: 10 + 9, each part of the check's message under Telegram's limits, the
    # heading repeated, every order in full.
    assert [x.splitlines()[0] for x in texts] == ["🚨 19 orders are past their ship-by time:"] * 2
    assert [sum(1 for line in x.splitlines() if line.startswith("…")) for x in texts] == [10, 9]
    assert texts[0].splitlines()[1] == "…0000000 USB-MIC-01×1 ⌛2 hours late (2:00 PM)"
    assert [x.splitlines()[-1] for x in texts] == ["(part 1 of 2)", "(part 2 of 2)"]
    assert all(len(m["text"]) < 4096 and len(t.api.buttons(m)) <= 20 for m in messages)
    await no_more_alerts(t, t.start + 3)


async def test_snooze_brings_the_alert_back_four_hours_later(alert_team, clock) -> None:
    t = alert_team
    click = await t.api.click(t.group, t.bob, t.late_alert, f"sz:{MIC}", expect=0)
    assert click.answer == says("zh_Hans", "I will remind you about {order} again at {when}.", order=MIC,
                                when="2026/11/21 20:00")  # fmt: skip
    clock.advance(hours=3, minutes=59)
    await no_more_alerts(t, t.start)
    clock.advance(minutes=2)
    back = (await wait_alerts(t, 1, since=t.start))[0]
    assert read(back).splitlines()[0] == "🚨 1 order is past its ship-by time:"
    assert read(back).splitlines()[1] == "…6689831 USB-MIC-01×1 ⌛28 hours late (11/20 3:59 PM)"


async def test_quiet_hours_hold_alerts_until_morning_but_warn_before_night_deadlines(alert_team, clock) -> None:
    t = alert_team
    await settle(t, "lead 4")
    # An order whose ship-by is 03:00 in Shanghai (19:00 UTC): its 4-hour warning would be
    # at 23:00, inside the quiet hours, so it comes at 22:30.
    night = "113-6000000-0000001"
    body = sample_with_ids([night]).decode().replace("2026-11-20T07:59:59+00:00", "2026-11-22T19:00:00+00:00")
    await t.api.upload(t.group, t.alice, "night.txt", body.encode())
    begin = mark(t)
    clock.set(datetime(2026, 11, 22, 14, 29, tzinfo=UTC))  # 22:29 local
    await no_more_alerts(t, begin)
    clock.set(datetime(2026, 11, 22, 14, 30, tzinfo=UTC))  # 22:30 local
    warned = (await wait_alerts(t, 1, since=begin))[0]
    assert read(warned).splitlines()[1] == "…0000001 USB-MIC-01×1 ⏳4 hours (11/23 3:00 AM)"
    # A return recorded at midnight waits for the morning.
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/ship {KETO} UPS 1Z999AA10123456784", chat=dm)
    clock.set(datetime(2026, 11, 22, 16, 0, tzinfo=UTC))  # 00:00 local
    await t.say(t.alice, f"/received {KETO}", chat=dm)
    later = mark(t)
    await no_more_alerts(t, later)
    clock.set(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))  # 08:00 local: the quiet hours end
    # In the morning: the return, and the night order that was not shipped in time.
    # One message: the late order first, then the return.
    morning = await wait_alerts(t, 1, since=later)
    assert read(morning[0]).splitlines() == [
        "🚨 1 order is past its ship-by time:",
        "…0000001 USB-MIC-01×1 ⌛5 hours late (3:00 AM)",
        "📦 1 returned item is waiting for a decision:",
        "…4445556 KETO-BM-04×3",
    ]


async def test_return_waiting_is_reminded_daily_until_decided(alert_team, clock) -> None:
    t = alert_team
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/ship {KETO} UPS 1Z999AA10123456784", chat=dm)
    await t.say(t.alice, f"/received {KETO}", chat=dm)
    reminder = (await wait_alerts(t, 1, since=t.start))[0]
    assert read(reminder).splitlines() == ["📦 1 returned item is waiting for a decision:", "…4445556 KETO-BM-04×3"]
    assert t.api.buttons(reminder) == [("📋 Decide 4445556", f"rw:{KETO}"), ("💤 4h 4445556", f"sz:{KETO}")]
    seen = mark(t)
    clock.advance(hours=2)
    await no_more_alerts(t, seen)
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))  # the next day, 16:00 local
    next_day = await wait_alerts(t, 1, since=seen)
    assert [read(m).splitlines()[0] for m in next_day] == ["📦 1 returned item is waiting for a decision:"]
    decide = await t.api.click(t.group, t.carol, reminder, f"rw:{KETO}")
    choice = decide.messages[0]
    done = await t.api.click(t.group, t.carol, choice, f"rd:{KETO}:dispose", expect=2)
    assert t.goods(KETO) == "return_closed"
    assert done.messages[-1]["text"] == says("zh_Hant", "The return of order {order} is closed: the item is disposed of.",
                                             order=KETO)  # fmt: skip
    after = mark(t)
    clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # (FAN's 24-hour warning falls due now)
    await wait_alert(t, "⏰", since=after)
    assert not [m for m in alerts_in(t, since=after) if read(m).startswith("📦")]


async def test_late_delivery_offers_mark_lost(alert_team, clock) -> None:
    t = alert_team
    t.app.bot_data["services"].alerts.tracking = True  # late deliveries are alerted with carrier tracking on
    late = "113-7000000-0000001"
    lines = sample("order-report-us.txt").decode().splitlines()
    header, row = lines[0].split("\t"), lines[1].split("\t")
    row[0], row[1] = late, "70000000000009"
    row[header.index("delivery-end-date")] = "2026-11-25T07:59:59+00:00"
    await t.api.upload(t.group, t.alice, "orders.txt", ("\n".join([lines[0], "\t".join(row)]) + "\n").encode())
    await t.say(t.alice, f"/ship {late} UPS 1Z999AA10123456784")
    start = mark(t)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    alert = await wait_alert(t, "🚚", since=start)
    # One message for the check: the two orders late to ship first, then the parcel.
    assert read(alert).splitlines() == [
        "🚨 2 orders are past their ship-by time:",
        "…4445556 KETO-BM-04×3 ⌛2 days late (11/23 3:59 PM)",
        "…7654321 USB-FAN-03×1 and USB-MIC-01×1 ⌛25 hours late (11/24 3:59 PM)",
        "🚚 1 shipped order is past its latest delivery date:",
        "…0000001 USB-MIC-01×1 · due 3:59 PM",
    ]
    assert t.api.buttons(alert)[-2:] == [("❓ Lost 0000001", f"ml:{late}"), ("💤 4h 0000001", f"sz:{late}")]
    click = await t.api.click(t.group, t.alice, alert, f"ml:{late}", expect=2)
    assert click.messages[0]["text"] == (
        f"Order {late} marked lost. Contact the carrier and refund the buyer with /refund {late}."
    )
    assert t.goods(late) == "lost"


async def test_amazons_30_day_deadline_and_pending_orders(alert_team, clock) -> None:
    t = alert_team
    pending = "112-0000000-0000009"
    body = sample_with_ids([pending]).decode().splitlines()
    body[0] += "\torder-status"
    body[1] += "\tPending"
    await t.api.upload(t.group, t.alice, "pending.txt", ("\n".join(body) + "\n").encode())
    info = (await wait_alerts(t, 1, since=t.start))[0]
    assert read(info).splitlines() == [
        "ℹ️ 1 order has been pending for a long time:", "…0000009 USB-MIC-01×1 · ordered 11/18 11:12 AM",
        "Nothing to do yet: Amazon is still verifying the payment. Never ship a pending order.",
    ]  # fmt: skip
    # KETO was ordered 11-20 22:45 UTC: Amazon cancels it on 12-20 22:45 if still unconfirmed.
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784")
    await t.say(t.alice, f"/ship {SPEAKER} UPS 1Z999AA10123456784")
    await t.say(t.alice, f"/ship {FAN} UPS 1Z999AA10123456784")
    await t.say(t.alice, f"/cancel {pending} BuyerCanceled")
    seen = mark(t)
    clock.set(datetime(2026, 12, 13, 23, 0, tzinfo=UTC))  # 07:00 local: still quiet
    await no_more_alerts(t, seen)
    clock.set(datetime(2026, 12, 14, 0, 0, tzinfo=UTC))  # 08:00 local
    # KETO is past its ship-by and a week from Amazon's deadline: listed once, under the most
    # urgent; the deadline's warning is decided all the same and never comes on its own.
    week = await wait_alerts(t, 1, since=seen)
    assert read(week[0]).splitlines() == ["🚨 1 order is past its ship-by time:",
                                          "…4445556 KETO-BM-04×3 ⌛3 weeks late (11/23 3:59 PM)"]  # fmt: skip
    with t.db() as conn:
        decided = conn.execute("SELECT kind, due_key FROM alerts WHERE order_id = ? ORDER BY kind, due_key", (KETO,))
        assert [tuple(r) for r in decided] == [("confirm_soon", "2026-12-20T22:45"), ("ship_late", "2026-11-23T07:59")]
    await no_more_alerts(t, seen + 1)
    seen = mark(t)
    clock.set(datetime(2026, 12, 20, 0, 0, tzinfo=UTC))
    last = (await wait_alerts(t, 1, since=seen))[0]
    assert read(last).splitlines() == ["📅 Last day: Amazon cancels 1 unconfirmed order within 24 hours:",
                                       "…4445556 KETO-BM-04×3 · cancelled by Amazon 12/21 6:45 AM"]  # fmt: skip


async def test_daily_digest_figures(alert_team, clock) -> None:
    """A known day: Alice ships two orders (one late), Bob cancels one for no inventory."""
    t = alert_team
    await settle(t, "digest 09:00")
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784", chat=t.api.private(t.alice))  # late
    await t.say(t.alice, f"/ship {FAN} UPS 1Z999AA10123456784", chat=t.api.private(t.alice))  # on time
    await t.say(t.bob, f"/cancel {KETO} NoInventory", chat=t.api.private(t.bob))
    start = mark(t)
    clock.set(datetime(2026, 11, 22, 1, 0, tzinfo=UTC))  # 09:00 local the next day
    messages = await wait_alerts(t, 1, since=start)
    digest = [m for m in messages if "Daily digest" in m["text"]][0]
    assert read(digest) == "\n".join([
        "Daily digest for Store A, Nov 22, 2026",
        "🚨 Past their ship-by: 1",
        "…1122334 BT-SPK-02×2 ⌛17 hours late (11/21 3:59 PM)",
        "⏰ Must ship today: 0",
        "📊 Orders by state:",
        "unshipped: 1",
        "shipped: 2",
        "cancelled: 1",
        "👥 Yesterday's work:",
        "Alice: shipped 2",
        "Bob: cancelled 1",
        "📈 Account health (Amazon's targets):",
        "⚠️ Late shipment rate, 10 days: 50.0% (1/2), target under 4.0%",
        "⚠️ Late shipment rate, 30 days: 50.0% (1/2), target under 4.0%",
        "⚠️ Pre-fulfilment cancel rate, 7 days: 25.0% (1/4), target under 2.5%",
        "✅ Valid tracking rate, 30 days: 100.0% (2/2), target over 95.0%",
    ])  # fmt: skip
    assert t.api.buttons(digest) == [("🚚 Ship 1122334", f"sp:{SPEAKER}"), ("💤 4h 1122334", f"sz:{SPEAKER}")]
    seen = mark(t)
    clock.advance(hours=2)
    await no_more_alerts(t, seen)


async def test_alert_settings_are_for_administrators(alert_team) -> None:
    t = alert_team
    assert await t.say(t.bob, "/alerts lead 12 2") == says(
        "zh_Hans", "Only an administrator of this group can do that."
    )
    assert "Ship-by warnings: 12 and 2 hours before" in await t.say(t.alice, "/alerts lead 12 2")
    assert "Quiet hours: 22:00–07:00" in await t.say(t.alice, "/alerts quiet 22:00 07:00")
    assert await t.say(t.alice, "/alerts lead soon") == (
        "I don't understand “lead soon”. Examples: /alerts lead 24 4 · /alerts digest 09:00 · /alerts digest off · "
        "/alerts quiet 23:00 08:00 · /alerts quiet off · /alerts tz Asia/Shanghai · /alerts pending 3"
    )
    settings = (await t.api.ask(t.group, t.alice, "/alerts"))[0]
    click = await t.api.click(t.group, t.alice, settings, "al:k:pending_long")
    assert "pending too long" not in plain(click.text).split("On: ")[1].split("\n")[0]
    refused = await t.api.click(t.group, t.bob, settings, "al:k:digest", expect=0)
    assert refused.answer == says("zh_Hans", "Only an administrator of this group can do that.")
    with t.db() as conn:
        row = conn.execute("SELECT lead_hours, quiet_from, quiet_until, kinds_off, digest_at FROM teams").fetchone()
    assert tuple(row) == ("12,2", "22:00", "07:00", "pending_long", "")


async def test_restart_neither_repeats_nor_loses_alerts(fake_api, clock, db_target) -> None:
    from bot.app import running

    api = fake_api
    alice = api.user(1001, "Alice", language_code="en")
    group = api.group(-1005, "Store B").add(alice, "creator")
    settings = desk_settings(api, clock, db_target, alert_interval=0.1)
    async with running(settings):
        await api.ask(group, alice, "/start")
        await api.ask(group, alice, "/alerts digest off")
        await api.upload(group, alice, "u.txt", sample("unshipped-orders-us.txt"))
        await api.wait_for(lambda: any(m["text"].startswith("🚨 2 orders") for m in api.sent(group)))
    # While the bot is down, KETO's 24-hour warning falls due.
    clock.set(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    async with running(settings) as app:
        await api.wait_for(lambda: any(m["text"].startswith("⏰ 1 order") for m in api.sent(group)))
        await check_alerts(app)
        await settled(api, app)
    texts = [m["text"].splitlines()[0] for m in api.sent(group) if "reply_to_message" not in m]
    assert texts == ["🚨 2 orders are past their ship-by time:", "⏰ 1 order must ship soon:"]


async def test_429_and_500_are_retried_and_each_alert_arrives_once(alert_team, clock) -> None:
    t = alert_team
    # More 429s than the rate limiter retries by itself: the outbox waits Telegram's retry_after.
    t.api.fail_next("sendMessage", status=429, count=3, retry_after=1)
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))  # KETO's 24-hour warning is due
    await t.api.wait_for(lambda: ("pending", 1, "429 retry after 1 s") in outbox(t), timeout=15)
    await retries_fall_due(t, clock, lambda: [r[0] for r in outbox(t)] == ["sent", "sent"])
    # Then server errors: retried with back-off, never dropped.
    t.api.fail_next("sendMessage", status=500, count=2)
    clock.set(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))  # the 4-hour warning
    await t.api.wait_for(lambda: len(outbox(t)) == 3 and outbox(t)[2][1] >= 1, timeout=15)
    await retries_fall_due(t, clock, lambda: outbox(t)[2][0] == "sent")
    messages = alerts_in(t, since=t.start)
    assert [read(m).splitlines()[:2] for m in messages] == [
        ["⏰ 1 order must ship soon:", "…4445556 KETO-BM-04×3 ⏳24 hours (11/23 3:59 PM)"],
        ["⏰ 1 order must ship soon:", "…4445556 KETO-BM-04×3 ⏳4 hours (3:59 PM)"],
    ]
    await no_more_alerts(t, t.start + 2)
    assert [row[:2] for row in outbox(t)] == [("sent", 1), ("sent", 2), ("sent", 3)]
    assert [e["status"] for e in t.api.errors] == [429, 429, 429, 500, 500]


async def test_a_group_that_removed_the_bot_is_skipped_and_served_when_back(alert_team, clock) -> None:
    t = alert_team
    olga = t.api.user(3001, "Olga", language_code="en")
    other = t.api.group(-1009, "Store C").add(olga, "creator")
    await t.api.ask(other, olga, "/start")
    await t.api.ask(other, olga, "/alerts digest off")
    t.api.kick_bot(t.group, by=t.alice)
    await t.api.wait_for(lambda: _unreachable(t))
    # Both teams have an alert due: Store C gets its own; Store A's is held, not lost.
    await t.api.upload(other, olga, "u.txt", sample("unshipped-orders-us.txt"))
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    await t.api.wait_for(lambda: any("⏰ 1 order" in m["text"] for m in t.api.sent(other)))
    await no_more_alerts(t, t.start)
    # Alice adds the bot back: what fell due meanwhile is sent, once.
    t.api.add_bot(t.group, by=t.alice)
    back = await wait_alerts(t, 1, since=t.start)
    assert read(back[0]).startswith("⏰ 1 order must ship soon:")
    await no_more_alerts(t, t.start + 1)


def _unreachable(t) -> bool:
    with t.db() as conn:
        row = conn.execute("SELECT unreachable_since FROM teams WHERE team_id = ?", (t.group.id,)).fetchone()
    return row[0] is not None


async def test_pressing_the_setting_already_chosen_changes_nothing_and_fails_nothing(alert_team) -> None:
    t = alert_team
    settings = (await t.api.ask(t.group, t.alice, "/alerts"))[0]
    click = await t.api.click(t.group, t.alice, settings, "al:l:24,4", expect=0)
    assert click.answered
    await settled(t.api, t.app)
    assert t.api.sent(t.group)[-1] == settings  # no "Sorry, something went wrong"


@pytest.mark.parametrize(
    "forged",
    [
        "al:l:abc",  # issue 8: once stored, it stopped every team's alerts (refused by the button codec)
        "al:l:999",  # hours in a button's shape, but not hours a team can set
        "al:z:Mars/Olympus",  # a zone in a button's shape that does not exist: it broke its team
    ],
)
async def test_a_forged_settings_button_changes_nothing_and_every_team_keeps_its_alerts(alert_team, clock, forged):
    t = alert_team
    olga = t.api.user(3001, "Olga", language_code="en")
    other = t.api.group(-1009, "Store C").add(olga, "creator")
    await t.api.ask(other, olga, "/start")
    await t.api.ask(other, olga, "/alerts digest off")
    await t.api.upload(other, olga, "u.txt", sample("unshipped-orders-us.txt"))
    with t.db() as conn:
        before = conn.execute("SELECT * FROM teams ORDER BY team_id").fetchall()
    # Alice's client is modified to send other data under a button of the settings message.
    settings = (await t.api.ask(t.group, t.alice, "/alerts"))[0]
    refused = await t.api.click(t.group, t.alice, settings, forged, expect=0, forged=True)
    assert refused.answer == "This button no longer works. Send the command again."
    with t.db() as conn:
        assert conn.execute("SELECT * FROM teams ORDER BY team_id").fetchall() == before
    # KETO's 24-hour warning falls due: both teams are warned, Alice's too.
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    warned = await wait_alert(t, "⏰ 1 order must ship soon:", since=t.start)
    assert "…4445556 KETO-BM-04×3" in read(warned)
    await t.api.wait_for(lambda: any("⏰ 1 order" in m["text"] for m in t.api.sent(other)))

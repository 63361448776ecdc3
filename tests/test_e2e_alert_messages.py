"""Alerts and the digest as a team reads them on a phone (issue 9 point 5), end to end.

One check sends one message per team, the kinds most urgent first, each order once; after a
restart nothing comes again. The digest lists the orders past their ship-by first, one state
a line, and Amazon's rates over Amazon's windows, counted when orders are placed, ship and are
cancelled (``team_hours``, issue 11). The team is in Asia/Shanghai (UTC+8), quiet 23:00–08:00.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import running
from tests.support.alerts import mark, no_more_alerts, read, unshipped_report, wait_alert, wait_alerts
from tests.support.desk import check_alerts, desk_settings, settled
from tests.support.scenario import Team, make_team, sample

pytestmark = pytest.mark.alerts

MIC, SPEAKER, FAN, KETO = "113-4417305-6689831", "113-9081726-1122334", "114-5551234-7654321", "111-2223334-4445556"


def ledger(t: Team, order_id: str) -> list[tuple[str, str]]:
    with t.db() as conn:
        rows = conn.execute("SELECT kind, due_key FROM alerts WHERE order_id = ? ORDER BY kind, due_key", (order_id,))
        return [tuple(r) for r in rows]


def late_parcel_report(order_id: str, deliver_by: str) -> bytes:
    """The sample Order report's first order under ``order_id``, to arrive by ``deliver_by``."""
    lines = sample("order-report-us.txt").decode().splitlines()
    header, row = lines[0].split("\t"), lines[1].split("\t")
    row[0], row[1] = order_id, "70000000000019"
    row[header.index("delivery-end-date")] = deliver_by
    return ("\n".join([lines[0], "\t".join(row)]) + "\n").encode()


async def test_one_check_one_message_most_urgent_first_each_order_once_and_never_again(fake_api, clock, db_target):
    settings = desk_settings(fake_api, clock, db_target, alert_interval=0.1)
    soon, parcel, pending = "113-6000000-0000002", "113-7000000-0000003", "112-0000000-0000009"
    async with running(settings) as app:
        app.bot_data["services"].alerts.tracking = True  # late deliveries are alerted with carrier tracking on
        t = await make_team(fake_api, app, settings.db_path)
        api, group, alice = t.api, t.group, t.alice
        await api.ask(group, alice, "/alerts digest off")
        await api.upload(group, alice, "u.txt", sample("unshipped-orders-us.txt"))
        await wait_alerts(t, 1)
        # Midnight in Shanghai three weeks later: quiet hours, so what falls due waits for 08:00.
        clock.set(datetime(2026, 12, 13, 16, 0, tzinfo=UTC))
        await api.upload(group, alice, "soon.txt",
                         unshipped_report((soon, "2026-11-18T03:12:44+00:00", "2026-12-14T02:00:00+00:00")))  # fmt: skip
        report = unshipped_report((pending, "2026-12-10T03:12:44+00:00", "2026-12-16T07:59:59+00:00"))
        head, row = report.decode().splitlines()
        await api.upload(group, alice, "pending.txt", f"{head}\torder-status\n{row}\tPending\n".encode())
        await api.upload(group, alice, "orders.txt", late_parcel_report(parcel, "2026-12-13T07:59:59+00:00"))
        await api.ask(group, alice, f"/ship {parcel} UPS 1Z999AA10123456784")
        await api.ask(group, alice, f"/ship {FAN} UPS 1Z999AA10123456784")
        await api.ask(group, alice, f"/received {FAN}")
        before = mark(t)
        await no_more_alerts(t, before)
        clock.set(datetime(2026, 12, 14, 0, 0, tzinfo=UTC))  # 08:00 in Shanghai
        morning = await wait_alerts(t, 1, since=before)
        await no_more_alerts(t, before + 1)
        assert read(morning[0]).splitlines() == [
            "🚨 1 order is past its ship-by time:",
            "…4445556 KETO-BM-04×3 ⌛3 weeks late (11/23 3:59 PM)",
            "⏰ 1 order must ship soon:",
            "…0000002 USB-MIC-01×1 ⏳2 hours (10:00 AM)",
            "📅 2 orders are still unconfirmed; Amazon cancels them on their 30th day:",
            "…6689831 USB-MIC-01×1 · cancelled by Amazon 12/18 11:12 AM",
            "…1122334 BT-SPK-02×2 · cancelled by Amazon 12/19 11:01 PM",
            "🚚 1 shipped order is past its latest delivery date:",
            "…0000003 USB-MIC-01×1 · due 12/13 3:59 PM",
            "📦 1 returned item is waiting for a decision:",
            "…7654321 USB-FAN-03×1 and USB-MIC-01×1",
            "ℹ️ 1 order has been pending for a long time:",
            "…0000009 USB-MIC-01×1 · ordered 12/10 11:12 AM",
            "Nothing to do yet: Amazon is still verifying the payment. Never ship a pending order.",
        ]
        assert [label for label, _data in api.buttons(morning[0])] == [
            "🚚 Ship 4445556", "💤 4h 4445556", "🚚 Ship 0000002", "💤 4h 0000002", "🚚 Ship 6689831",
            "💤 4h 6689831", "🚚 Ship 1122334", "💤 4h 1122334", "❓ Lost 0000003", "💤 4h 0000003",
            "📋 Decide 7654321", "💤 4h 7654321", "💤 4h 0000009",
        ]  # fmt: skip
        # Listed once, decided for every kind that fell due: none of them comes later on its own.
        assert ledger(t, KETO) == [("confirm_soon", "2026-12-20T22:45"), ("ship_late", "2026-11-23T07:59")]
        assert ledger(t, soon) == [("confirm_soon", "2026-12-18T03:12"), ("ship_soon", "2026-12-14T02:00/24h"),
                                   ("ship_soon", "2026-12-14T02:00/4h")]  # fmt: skip
    # A restart: the check runs on the same database and finds nothing new to say.
    seen = mark(t)
    async with running(settings) as app:
        t.app = app
        await no_more_alerts(t, seen)
        clock.advance(minutes=30)
        await no_more_alerts(t, seen)


async def at(t: Team, clock, moment: datetime) -> None:
    """The clock moves to ``moment`` and the alerts due then are sent, before anyone types: an
    upload's reply is then the next message in the group, not an alert."""
    clock.set(moment)
    await check_alerts(t.app)
    await settled(t.api, t.app)


async def test_the_digest_lists_overdue_first_and_measures_amazons_rates_over_amazons_windows(alert_team, clock):
    """The digest of 2026-12-12 (09:00 in Shanghai, 01:00 UTC). Its windows end at the start of
    that day (12-11 16:00 UTC): 10 days from 12-01 16:00, 30 days from 11-11 16:00, 7 days from
    12-04 16:00 UTC. Shipments count when confirmed, cancellations by the order's date."""
    t = alert_team
    await t.api.ask(t.group, t.alice, "/lang group zh_Hans")
    await t.api.ask(t.group, t.alice, "/alerts digest 09:00")
    dm = t.api.private(t.alice)
    # 11-21 08:00 UTC: MIC and SPEAKER late, SPEAKER with a carrier Amazon cannot track; FAN on time.
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784", chat=dm)
    await t.say(t.alice, f"/ship {SPEAKER} Other:Evri H01ABC1234567890", chat=dm)
    await t.say(t.alice, f"/ship {FAN} UPS 1Z999AA10123456785", chat=dm)
    await at(t, clock, datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    await t.say(t.alice, f"/ship {KETO} UPS 1Z999AA10123456786", chat=dm)  # late, inside the 10 days
    await at(t, clock, datetime(2026, 12, 5, 0, 0, tzinfo=UTC))
    z, w, x, y, v, today = (f"113-8800000-000000{n}" for n in range(1, 7))
    await t.api.upload(t.group, t.alice, "a.txt", unshipped_report(
        (z, "2026-12-05T00:00:00+00:00", "2026-12-08T07:59:59+00:00"),
        (w, "2026-12-01T00:00:00+00:00", "2026-12-03T07:59:59+00:00"),
    ))  # fmt: skip
    # By the seller, but ordered before the 7 days.
    assert (await t.say(t.alice, f"/cancel {w} NoInventory", chat=dm)).startswith(f"Order {w} cancelled"), t.goods(w)
    await at(t, clock, datetime(2026, 12, 6, 0, 0, tzinfo=UTC))
    await t.say(t.alice, f"/ship {z} UPS 1Z999AA10123456787", chat=dm)  # on time, inside the 10 days
    await at(t, clock, datetime(2026, 12, 11, 2, 0, tzinfo=UTC))  # 10:00 local, the day before the digest
    await t.api.upload(t.group, t.alice, "b.txt", unshipped_report(
        (x, "2026-12-10T03:00:00+00:00", "2026-12-12T07:59:59+00:00"),
        (y, "2026-12-10T03:00:00+00:00", "2026-12-12T07:59:59+00:00"),
        (v, "2026-12-09T03:00:00+00:00", "2026-12-11T07:59:59+00:00"),
        (today, "2026-12-10T03:00:00+00:00", "2026-12-12T07:59:59+00:00"),
    ))  # fmt: skip
    await t.say(t.bob, f"/cancel {x} NoInventory", chat=t.api.private(t.bob))
    await t.say(t.bob, f"/cancel {y} BuyerCanceled", chat=t.api.private(t.bob))
    start = mark(t)
    clock.set(datetime(2026, 12, 12, 1, 0, tzinfo=UTC))
    digest = await wait_alert(t, "Store A 日报（2026年12月12日）", since=start)
    assert read(digest) == "\n".join([
        "Store A 日报（2026年12月12日）",
        "🚨 已过最晚发货时间：1",
        "…0000005 USB-MIC-01×1 ⌛超时 17小时 (12/11 15:59)",
        "⏰ 今日必发：1",
        "…0000006 USB-MIC-01×1 ⏳7小时 (15:59)",
        "📊 各状态订单：",
        "未发货：2",
        "已发货：5",
        "已取消：3",
        "👥 昨日工作：",
        "Bob：已取消 2",
        "📈 账户状况（亚马逊的目标）：",
        "⚠️ 延迟发货率（10 天）：50.0%（1/2），目标低于 4.0%",
        "⚠️ 延迟发货率（30 天）：60.0%（3/5），目标低于 4.0%",
        "⚠️ 配送前取消率（7 天）：20.0%（1/5），目标低于 2.5%",
        "⚠️ 有效追踪率（30 天）：80.0%（4/5），目标高于 95.0%",
    ])  # fmt: skip
    assert t.api.buttons(digest) == [
        ("🚚 发货 0000005", f"sp:{v}"), ("💤 4 小时 0000005", f"sz:{v}"),
        ("🚚 发货 0000006", f"sp:{today}"), ("💤 4 小时 0000006", f"sz:{today}"),
    ]  # fmt: skip
    # What the rates were summed from: one row per team and hour, written with each change.
    with t.db() as conn:
        hours = conn.execute(
            "SELECT hour, ordered, seller_cancelled, shipped, shipped_late, confirmed, tracking_valid "
            "FROM team_hours WHERE shipped > 0 OR seller_cancelled > 0 ORDER BY hour"
        ).fetchall()
    assert [tuple(r) for r in hours] == [
        ("2026-11-21T08", 0, 0, 3, 2, 3, 2),  # MIC late, SPEAKER late with Other, FAN on time
        ("2026-12-01T00", 1, 1, 0, 0, 0, 0),  # W: ordered then, cancelled by the seller
        ("2026-12-02T00", 0, 0, 1, 1, 1, 1),  # KETO late
        ("2026-12-06T00", 0, 0, 1, 0, 1, 1),  # Z on time
        ("2026-12-10T03", 3, 1, 0, 0, 0, 0),  # X (cancelled by the seller), Y (by the buyer), today's
    ]  # fmt: skip

"""Order lists (issue 11, and issue 9 point 3): pages that follow on from the order a button
names (keyset paging: a deep page costs what the first does), the lists by ship-by that
Chinese seller tools have (即将超时, 已超时, 今日必发, 待发货), and tails that find the open
order people mean.

Each test drives the real Application through the fake Bot API, as a team member would,
and reads the SQLite file.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER, sample, says, says_n

ZONE = ZoneInfo("Asia/Shanghai")
#: The clock's start (16:00 in Shanghai); the report's new orders are due from 17:00 on.
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
NEW = 22
#: The sample's own open orders and their ship-by.
SAMPLE_DUE = {MIC: datetime(2026, 11, 20, 7, 59, 59, tzinfo=UTC), SPEAKER: datetime(2026, 11, 21, 7, 59, 59, tzinfo=UTC),
              KETO: datetime(2026, 11, 23, 7, 59, 59, tzinfo=UTC), FAN: datetime(2026, 11, 24, 7, 59, 59, tzinfo=UTC)}  # fmt: skip
HEAD = ("{count} order, page {page} of {pages}:", "{count} orders, page {page} of {pages}:")


def new_id(k: int) -> str:
    return f"114-{3000000 + k * 7919:07d}-{5000000 + k * 4801:07d}"


def new_due(k: int) -> datetime:
    """The k-th new order's ship-by: every two hours from 17:00 in Shanghai."""
    return datetime(2026, 11, 21, 9, 0, tzinfo=UTC) + timedelta(hours=2 * k)


def report() -> bytes:
    """The sample report's first row as ``NEW`` orders, each with its own ship-by."""
    lines = sample("unshipped-orders-us.txt").decode("utf-8").splitlines()
    header, row = lines[0], lines[1].split("\t")
    names = header.split("\t")
    out = [header]
    for k in range(NEW):
        cells = list(row)
        cells[names.index("order-id")] = new_id(k)
        cells[names.index("order-item-id")] = f"8{k:013d}"
        for column in ("purchase-date", "payments-date", "reporting-date"):
            cells[names.index(column)] = "2026-11-20T01:00:00+00:00"
        cells[names.index("promise-date")] = new_due(k).isoformat()
        out.append("\t".join(cells))
    return ("\n".join(out) + "\n").encode()


def shown(when: datetime) -> str:
    """A time as the desk shows it to Alice (en, Shanghai): 11/21/26, 5:00 PM."""
    local = when.astimezone(ZONE)
    hour = local.hour % 12 or 12
    return (
        f"{local.month}/{local.day}/{local.year % 100}, {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    )


#: Every open order, the earliest ship-by first.
OPEN = sorted([*SAMPLE_DUE.items(), *((new_id(k), new_due(k)) for k in range(NEW))], key=lambda pair: pair[1])


def page(orders: list[tuple[str, datetime]], total: int, number: int, pages: int) -> str:
    head = says_n("en", *HEAD, total, page=number, pages=pages)
    return "\n".join([head, *(f"{oid} · unshipped · ship by {shown(due)}" for oid, due in orders)])


def read(message: dict) -> str:
    """The message's text as read (CLDR puts a narrow no-break space before AM/PM)."""
    return message["text"].replace("\u202f", " ")


def buttons(message: dict) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row]  # fmt: skip


def kept_counts(t: Any) -> tuple[list[Any], list[Any]]:
    with t.db() as conn:
        conn.row_factory = sqlite3.Row
        kept = [tuple(r) for r in conn.execute("SELECT team_id, goods, n FROM order_counts WHERE n > 0 ORDER BY 1, 2")]
        counted = [
            tuple(r) for r in conn.execute("SELECT team_id, goods, count(*) FROM orders GROUP BY 1, 2 ORDER BY 1, 2")
        ]
    return kept, counted


async def with_new_orders(t: Any) -> None:
    replies = await t.api.upload(t.group, t.alice, "more.txt", report())
    assert replies[0]["text"].startswith(f"Unshipped Orders report read (utf-8): {NEW} new,"), replies[0]["text"]


async def test_pages_follow_on_from_the_order_their_button_names(team) -> None:
    t = team
    await with_new_orders(t)
    total = len(OPEN)  # 26: three pages
    first = (await t.api.ask(t.group, t.alice, "/orders"))[0]
    assert read(first) == page(OPEN[0:10], total, 1, 3)
    assert buttons(first) == [("Next ▶", f"ol:open:1:a:{OPEN[9][0]}")]

    second = await t.api.click(t.group, t.alice, first, f"ol:open:1:a:{OPEN[9][0]}")
    assert read(second.message) == page(OPEN[10:20], total, 2, 3)
    assert buttons(second.message) == [("◀ Previous", f"ol:open:0:b:{OPEN[10][0]}"),
                                       ("Next ▶", f"ol:open:2:a:{OPEN[19][0]}")]  # fmt: skip

    # Someone ships an order of page 1 meanwhile: page 3 still follows on from page 2's last order.
    await t.say(t.bob, f"/ship {OPEN[3][0]} UPS 1Z999AA10123456784")
    assert t.goods(OPEN[3][0]) == "shipped"
    third = await t.api.click(t.group, t.alice, second.message, f"ol:open:2:a:{OPEN[19][0]}")
    assert read(third.message) == page(OPEN[20:], total - 1, 3, 3)
    assert buttons(third.message) == [("◀ Previous", f"ol:open:1:b:{OPEN[20][0]}")]

    # Back: the ten orders right before page 3's first.
    back = await t.api.click(t.group, t.alice, third.message, f"ol:open:1:b:{OPEN[20][0]}")
    assert read(back.message) == page(OPEN[10:20], total - 1, 2, 3)
    # And back again: fewer than ten are left before page 2 (one was shipped), so page 1 whole.
    again = await t.api.click(t.group, t.alice, back.message, f"ol:open:0:b:{OPEN[10][0]}")
    still_open = [o for o in OPEN if o[0] != OPEN[3][0]]
    assert read(again.message) == page(still_open[0:10], total - 1, 1, 3)
    assert buttons(again.message) == [("Next ▶", f"ol:open:1:a:{still_open[9][0]}")]

    # The counts the heads show are kept with every write, and agree with the orders.
    kept, counted = kept_counts(t)
    assert kept == counted
    assert (t.group.id, "unshipped", total - 1) in kept


async def test_a_forged_page_button_is_refused_and_changes_nothing(team) -> None:
    t = team
    first = (await t.api.ask(t.group, t.alice, "/orders all"))[0]
    before = t.snapshot()
    for data in ("ol:open:1", "ol:open:1:x:" + MIC, "ol:open:1:a:" + "<b>", "ol:Open:1:a:" + MIC):
        click = await t.api.click(t.group, t.alice, first, data, expect=0, forged=True)
        assert click.answer == "This button no longer works. Send the command again.", data
        assert read(click.message) == read(first)
    await settled(t.api, t.app)
    assert t.snapshot() == before


async def test_lists_by_ship_by_as_chinese_tools_have_them(team) -> None:
    t = team
    await with_new_orders(t)
    # 已超时: MIC and SPEAKER are past their ship-by (16:00 now in Shanghai).
    overdue = [o for o in OPEN if o[1] < NOW]
    assert await t.say(t.alice, "/orders overdue") == page(overdue, 2, 1, 1)
    # 即将超时: due within 24 hours: twelve of the new ones, on two pages.
    soon = [o for o in OPEN if NOW <= o[1] < NOW + timedelta(hours=24)]
    assert len(soon) == 12
    first = (await t.api.ask(t.group, t.alice, "/orders due-soon"))[0]
    assert read(first) == page(soon[:10], 12, 1, 2)
    more = await t.api.click(t.group, t.alice, first, f"ol:due_soon:1:a:{soon[9][0]}")
    assert read(more.message) == page(soon[10:], 12, 2, 2)
    # 今日必发: all that must leave before midnight in Shanghai, the late ones first.
    today = [o for o in OPEN if o[1] < datetime(2026, 11, 21, 16, 0, tzinfo=UTC)]
    assert len(today) == 6
    assert await t.say(t.alice, "/orders today") == page(today, 6, 1, 1)

    # In Chinese, with the keyword: Bob (简体) and Carol (繁體).
    for user, locale, text, orders in (
        (t.bob, "zh_Hans", "订单 即将超时", soon[:10]),
        (t.bob, "zh_Hans", "订单 已超时", overdue),
        (t.bob, "zh_Hans", "订单 今日必发", today),
        (t.carol, "zh_Hant", "訂單 已逾時", overdue),
        (t.carol, "zh_Hant", "訂單 今日必出", today),
    ):
        reply = await t.say(user, text)
        count = {"即将超时": 12}.get(text.split()[1], len(orders))
        head = says_n(locale, *HEAD, count, page=1, pages=(count + 9) // 10)
        assert reply.splitlines()[0] == head, (text, reply)
        assert re.findall(r"\d{3}-\d{7}-\d{7}", reply) == [oid for oid, _ in orders], text

    # 待发货 / 待出貨: Seller Central's "Unshipped": paid for, not fully shipped; a shipped one leaves it.
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784")
    unshipped = [o for o in OPEN if o[0] != MIC]
    for user, locale, text in ((t.bob, "zh_Hans", "订单 待发货"), (t.carol, "zh_Hant", "訂單 待出貨")):
        reply = await t.say(user, text)
        assert reply.splitlines()[0] == says_n(locale, *HEAD, len(unshipped), page=1, pages=3)
        assert re.findall(r"\d{3}-\d{7}-\d{7}", reply) == [oid for oid, _ in unshipped[:10]]
    # Nothing overdue once both late orders are shipped.
    await t.say(t.alice, f"/ship {SPEAKER} UPS 1Z999AA10123456785")
    assert await t.say(t.alice, "/orders overdue") == says("en", "No orders in this list.")


async def test_an_open_order_s_tail_finds_it_among_old_orders(team) -> None:
    t = team
    # Two more orders ending like the speaker's (…1122334), both shipped: only the speaker is open.
    twins = ["113-9081726-2222334", "113-1111111-3332334"]
    body = sample("unshipped-orders-us.txt").decode().splitlines()
    header, row = body[0], body[1].split("\t")
    lines = [header] + ["\t".join([oid, f"7100000000000{n}", *row[2:]]) for n, oid in enumerate(twins)]
    await t.api.upload(t.group, t.alice, "twins.txt", ("\n".join(lines) + "\n").encode())
    for n, oid in enumerate(twins):
        await t.say(t.alice, f"/ship {oid} UPS 1Z999AA1012345678{n}")
        assert t.goods(oid) == "shipped"
    # "2334" matches three orders, but one open one: it is that one.
    card = await t.say(t.alice, "/order 2334")
    assert card.startswith(f"Order {SPEAKER}"), card
    before = t.snapshot()
    assert (await t.say(t.alice, "/ship 2334 UPS 1Z999AA10123456789")).startswith(f"Order {SPEAKER} shipped")
    assert t.goods(SPEAKER) == "shipped" and t.snapshot() != before

    # Now none of the three is open: which one is asked, with more digits.
    reply = await t.say(t.alice, "/order 2334")
    assert reply.startswith("More than one order ends in 2334: ") and reply.endswith(
        ". Type more digits or the full order number."
    ), reply
    assert set(re.findall(r"\d{3}-\d{7}-\d{7}", reply)) == {SPEAKER, *twins}


async def test_the_ambiguity_reply_lists_open_orders_first(team) -> None:
    t = team
    # Two open and one shipped order end in 2334; the shipped one was bought last.
    ids = ["113-9081726-2222334", "113-1111111-3332334"]
    body = sample("unshipped-orders-us.txt").decode().splitlines()
    header, row = body[0], body[1].split("\t")
    late = ["2026-11-21T07:00:00+00:00"] * 3
    lines = [header] + ["\t".join([oid, f"7200000000000{n}", *late, *row[5:]]) for n, oid in enumerate(ids)]
    await t.api.upload(t.group, t.alice, "twins.txt", ("\n".join(lines) + "\n").encode())
    await t.say(t.alice, f"/ship {ids[0]} UPS 1Z999AA10123456781")
    before = t.snapshot()
    reply = await t.say(t.alice, "/ship 2334 UPS 1Z999AA10123456782")
    found = re.findall(r"\d{3}-\d{7}-\d{7}", reply)
    assert sorted(found[:2]) == sorted([SPEAKER, ids[1]]) and found[2:] == [ids[0]], reply
    assert reply.endswith(". Type more digits or the full order number."), reply
    assert t.snapshot() == before


def test_a_page_button_comes_back_as_written_and_nothing_else_decodes() -> None:
    from bot import buttons as b

    for button in (
        b.Page("open", 0),
        b.Page("due_soon", 3, "after", MIC),
        b.Page("return_requested", 99999, "before", FAN),
    ):
        assert b.decode(button.encode()) == button
    for data in ("ol:open:01:a:", "ol:open:1", "ol:open:1:c:" + MIC, "ol:open:1:a:" + MIC + ":x", "ol:待发货:1:a:",
                 "ol:open:100000:a:", "ol:open:-1:a:"):  # fmt: skip
        try:
            b.decode(data)
        except b.BadButton:
            continue
        raise AssertionError(data)

"""Long answers page (issue 8 point 4): a card with 200 items and a history of 133 events are
shown whole, page by page with ◀ ▶, newest event first; every page fits Telegram's limit as
Telegram measures it (after parsing the HTML, in UTF-16 units), and no cut breaks the HTML.
"""

from __future__ import annotations

import json
from typing import Any

from bot.texts.pages import TEXT_LIMIT
from tests.support.desk import settled
from tests.support.fakebotapi import utf16len
from tests.support.scenario import KETO, MIC, sample, says

BIG = "115-2000000-0000200"
ITEMS = 200
#: Product titles of emoji and ampersands: two UTF-16 units a character, and entities to keep whole.
TITLE = "🎧🎤 Mic & Stand <Pro> "


def big_order_report() -> bytes:
    """The sample report's first row as one order of 200 items, each its own SKU."""
    lines = sample("unshipped-orders-us.txt").decode("utf-8").splitlines()
    header, row = lines[0], lines[1].split("\t")
    names = header.split("\t")
    out = [header]
    for n in range(ITEMS):
        cells = list(row)
        cells[names.index("order-id")] = BIG
        cells[names.index("order-item-id")] = f"9{n:013d}"
        cells[names.index("sku")] = f"SKU-{n:03d}"
        cells[names.index("product-name")] = TITLE * 3 + f"#{n:03d}"
        out.append("\t".join(cells))
    return ("\n".join(out) + "\n").encode()


def next_button(message: dict) -> str | None:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == "Next ▶":
                return button["callback_data"]
    return None


async def all_pages(t: Any, first: dict) -> list[str]:
    """Press ▶ until the last page; every page's text as the person read it."""
    texts = [first["text"]]
    message = first
    while (data := next_button(message)) is not None:
        click = await t.api.click(t.group, t.alice, message, data)
        assert click.text is not None
        texts.append(click.text)
        message = click.message
    return texts


async def test_a_card_of_200_items_shows_every_item_across_pages(team) -> None:
    t = team
    replies = await t.api.upload(t.group, t.alice, "big.txt", big_order_report())
    assert replies[0]["text"].startswith("Unshipped Orders report read (utf-8): 1 new,"), replies[0]["text"]
    first = (await t.api.ask(t.group, t.alice, f"/order {BIG}"))[0]
    pages = await all_pages(t, first)
    count = len(pages)
    assert count > 2
    assert all(utf16len(p) <= TEXT_LIMIT for p in pages)
    for n, text in enumerate(pages, 1):
        assert text.startswith(f"Order {BIG} · page {n} of {count}\n"), text[:80]
    # The first page: the state, the last change on its own line, then the items begin.
    lines = pages[0].splitlines()
    assert lines[1] == "State: unshipped; money: not refunded"
    changes = [line for line in lines if line.startswith("Last change: ")]
    assert len(changes) == 1 and changes[0].endswith("· imported from a report · from big.txt"), changes
    assert f"{ITEMS} items:" in lines
    items = [line for page in pages for line in page.splitlines() if line.startswith("• ")]
    assert items == [f"• 1 × SKU-{n:03d} {TITLE * 3}#{n:03d} (0 shipped)" for n in range(ITEMS)]
    # The last page has only ◀.
    assert [b["text"] for row in (await _last_markup(t)) for b in row] == ["◀ Previous"]


async def _last_markup(t: Any) -> list[list[dict]]:
    message = t.api.sent(t.group)[-1]
    return message["reply_markup"]["inline_keyboard"]


async def test_a_short_card_is_one_page_without_buttons(team) -> None:
    t = team
    reply = (await t.api.ask(t.group, t.alice, f"/order {KETO}"))[0]
    assert reply["text"].startswith(f"Order {KETO}\nState: unshipped; money: not refunded\n")
    assert "reply_markup" not in reply
    assert "Last change: " in reply["text"]


def add_events(t: Any, order_id: str, count: int) -> None:
    """``count`` more refund-free events of Alice on the order (the set-up a busy order has)."""
    with t.db() as conn:
        team_id, at = conn.execute("SELECT team_id, at FROM events WHERE order_id = ?", (order_id,)).fetchone()
        conn.executemany(
            "INSERT INTO events (team_id, order_id, at, actor_kind, actor_id, actor_name, chat_id, action, details) "
            "VALUES (?, ?, ?, 'user', 1001, ?, ?, 'correct_tracking', ?)",
            [(team_id, order_id, at, "Alice & <Co>", t.group.id,
              json.dumps({"carrier": "UPS", "tracking": f"1Z{n:016d}"})) for n in range(count)],
        )  # fmt: skip


async def test_a_history_of_133_events_starts_with_the_latest_and_shows_all(team) -> None:
    t = team
    add_events(t, MIC, 132)  # with the import: 133
    first = (await t.api.ask(t.group, t.alice, "/history 6689831"))[0]
    pages = await all_pages(t, first)
    count = len(pages)
    assert count > 1
    assert all(utf16len(p) <= TEXT_LIMIT for p in pages)
    for n, text in enumerate(pages, 1):
        assert text.startswith(f"History of order {MIC}, page {n} of {count}:\n")
    events = [line for page in pages for line in page.splitlines()[1:]]
    assert len(events) == 133
    # Newest first: the last correction leads, the import closes the last page.
    assert events[0].endswith("· tracking corrected · by Alice & <Co> · UPS 1Z0000000000000131"), events[0]
    assert events[-1].endswith("· imported from a report · from unshipped-orders-us.txt")
    assert events[1:-1] == sorted(events[1:-1], reverse=True)


async def test_the_page_buttons_go_back_and_refuse_forged_data(team) -> None:
    t = team
    add_events(t, MIC, 132)
    first = (await t.api.ask(t.group, t.alice, "/history 6689831"))[0]
    data = next_button(first)
    assert data == f"op:history:{MIC}:1"
    click = await t.api.click(t.group, t.alice, first, data)
    page_two = click.text
    back = [b for row in click.message["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "◀ Previous"]
    assert back and back[0]["callback_data"] == f"op:history:{MIC}:0"
    click = await t.api.click(t.group, t.alice, click.message, back[0]["callback_data"])
    assert click.text == first["text"] and click.text != page_two
    # A page past the end shows the last page; forged data gets the one clear answer, nothing else.
    click = await t.api.click(t.group, t.alice, first, f"op:history:{MIC}:999", forged=True)
    assert click.text is not None and "page" in click.text.splitlines()[0]
    before = t.snapshot()
    for forged in (f"op:history:{MIC}:abc", "op:nope:113-4417305-6689831:1", "op:card:bad id!:1", "op:card"):
        click = await t.api.click(t.group, t.alice, first, forged, expect=0, forged=True)
        assert click.answer == says("en", "This button no longer works. Send the command again."), click.answer
    await settled(t.api, t.app)
    assert t.snapshot() == before

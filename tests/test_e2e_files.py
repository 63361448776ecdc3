"""Reports sent into the chat: encodings, re-imports, wrong files; and fifty people at once."""

from __future__ import annotations

import asyncio
import io
import zipfile

from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, sample, says


async def test_reimporting_the_same_file_changes_nothing(team) -> None:
    t = team
    before = t.snapshot()
    replies = await t.api.upload(t.group, t.alice, "again.txt", sample("unshipped-orders-us.txt"))
    assert replies[0]["text"] == (
        "Unshipped Orders report read (utf-8): 0 new, 0 updated, 4 unchanged.\n"
        "This file was already imported on Nov 21, 2026; nothing changed."
    )
    assert t.snapshot() == before


async def test_a_later_report_updates_through_the_lifecycle(team) -> None:
    """A new promise date is recorded as an event by the import; a shipped order is not moved back."""
    t = team
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    text = sample("unshipped-orders-us.txt").decode()
    text = text.replace("2026-11-23T07:59:59+00:00", "2026-11-25T07:59:59+00:00")  # KETO's ship-by moved
    replies = await t.api.upload(t.group, t.alice, "later.txt", text.encode())
    assert replies[0]["text"] == "Unshipped Orders report read (utf-8): 0 new, 1 updated, 3 unchanged."
    assert t.goods(MIC) == "shipped"  # the report still lists it; the team's shipment stands
    assert t.order_row(KETO)["ship_by"] == "2026-11-25T07:59:59+00:00"
    last = t.events(KETO)[-1]
    assert (last["action"], last["actor_kind"], last["actor_name"]) == ("import_update", "import", "later.txt")
    assert '"ship_by":["2026-11-23T07:59:59+00:00","2026-11-25T07:59:59+00:00"]' in last["details"]


async def test_encodings_bom_crlf_cp1252_cp932(team) -> None:
    t = team
    dm = t.api.private(t.alice)
    text = sample("unshipped-orders-us.txt").decode()
    eu = text.replace("113-4417305-6689831", "302-1111111-0000001").replace("Jane Doe", "Zoë Müller")
    reply = (await t.api.upload(dm, t.alice, "eu.txt", eu.replace("\n", "\r\n").encode("cp1252")))[0]["text"]
    assert reply == "Unshipped Orders report read (cp1252): 1 new, 0 updated, 3 unchanged."
    assert t.order_row("302-1111111-0000001")["buyer_name"] == "Zoë Müller"
    header, mic_row, rest = text.split("\n", 2)
    jp_row = mic_row.replace("113-4417305-6689831", "503-2222222-0000002").replace(
        "USB Condenser Microphone", "髙橋のマイク①"
    )
    jp = "\n".join([header, jp_row, rest])
    reply = (await t.api.upload(dm, t.alice, "jp.txt", jp.encode("cp932")))[0]["text"]
    assert reply == "Unshipped Orders report read (cp932): 1 new, 0 updated, 3 unchanged."
    with t.db() as conn:
        title = conn.execute("SELECT title FROM order_items WHERE order_id = '503-2222222-0000002'").fetchone()[0]
    assert title == "髙橋のマイク①"
    bom = ("\ufeff" + text.replace("113-4417305-6689831", "113-3333333-0000003")).encode("utf-8")
    reply = (await t.api.upload(dm, t.alice, "bom.txt", bom))[0]["text"]
    assert reply == "Unshipped Orders report read (utf-8-sig): 1 new, 0 updated, 3 unchanged."


async def test_bad_rows_are_listed_by_line_and_the_rest_imported(team) -> None:
    t = team
    lines = sample("unshipped-orders-us.txt").decode().splitlines()
    row = lines[1].split("\t")
    bad = list(row)
    bad[0] = "113-BAD"
    ok = list(row)
    ok[0], ok[1] = "113-4444444-0000004", "70000000000004"
    body = "\n".join([lines[0], "\t".join(bad), "\t".join(ok)]) + "\n"
    replies = await t.api.upload(t.group, t.alice, "mixed.txt", body.encode())
    assert replies[0]["text"] == (
        "Unshipped Orders report read (utf-8): 1 new, 0 updated, 0 unchanged.\n"
        "1 row was refused:\n"
        "• line 2: “113-BAD” is not an Amazon order number\n"
        "Correct those rows in the file and send it again; rows already imported will not be doubled."
    )
    assert t.goods("113-4444444-0000004") == "unshipped"


async def test_wrong_files_are_refused_and_change_nothing(team) -> None:
    t = team
    before = t.snapshot()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("report.txt", sample("unshipped-orders-us.txt"))
    cases = [
        ("empty.txt", b"", "The file is empty. Download the report from Seller Central again and send it here."),
        ("report.zip", buffer.getvalue(), "This is not a text report (it looks like a spreadsheet, archive or "
         "picture). Download the report from Seller Central as a tab-separated text file and send that."),
        ("notes.txt", b"order,sku\n1,2\n", "This is not an Amazon order report I know: it lacks the columns "),
    ]  # fmt: skip
    for name, body, reply in cases:
        got = (await t.api.upload(t.group, t.alice, name, body))[0]["text"]
        assert got.startswith(reply), got
    # Over Telegram's 20 MB download limit: refused before downloading.
    got = (await t.api.upload(t.group, t.alice, "huge.txt", b"x", file_size=30_000_000))[0]["text"]
    assert got == (
        "The file is 30.0 MB; Telegram lets bots download at most 20 MB. Split the report by date range, or import "
        "it on the server with: dingdan import FILE"
    )
    assert not [c for c in t.api.calls_of("getFile") if c.get("file_id") and "huge" in str(c)]
    assert t.snapshot() == before


async def test_fifty_members_ship_the_same_order_at_once(team) -> None:
    """Exactly one shipment is recorded; the forty-nine others are told who shipped it."""
    t = team
    members = [t.api.user(5000 + n, f"Packer {n}", language_code="en") for n in range(50)]
    for m in members:
        t.group.add(m)
        # Each writes once in the group first, as packers do, so the desk knows their team.
    chats = [t.api.private(m) for m in members]
    for m, chat in zip(members, chats, strict=True):
        await t.api.send_text(chat, m, "/help")
    await t.api.wait_for(lambda: all(len(t.api.sent(c)) == 1 for c in chats), timeout=30)
    await asyncio.gather(*(
        t.api.send_text(chat, m, "/ship 6689831 UPS 1Z999AA10123456784") for m, chat in zip(members, chats, strict=True)
    ))  # fmt: skip
    await t.api.wait_for(lambda: all(len(t.api.sent(c)) == 2 for c in chats), timeout=60)
    replies = [t.api.sent(c)[1]["text"].replace("\u202f", " ") for c in chats]
    shipped = [r for r in replies if r == f"Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784."]
    assert len(shipped) == 1
    winner = members[replies.index(shipped[0])].first_name
    refused = [r for r in replies if r not in shipped]
    assert len(refused) == 49
    assert set(refused) == {
        f"Order {MIC} was already shipped by {winner} on 11/21/26, 4:00 PM, with UPS, tracking number "
        f"1Z999AA10123456784. If that tracking number is wrong, correct it with /correct {MIC} CARRIER TRACKING."
    }
    ships = [e for e in t.events(MIC) if e["action"] == "ship"]
    assert len(ships) == 1 and ships[0]["actor_name"] == winner
    assert t.order_row(MIC)["version"] == 2


async def test_chinese_keywords_in_both_scripts(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 顺丰 SF1234567890123") == says(
        "zh_Hans", "Order {order} shipped with {carrier}, tracking number {tracking}.", order=MIC,
        carrier="顺丰（SF Express）", tracking="SF1234567890123",
    )  # fmt: skip
    assert await t.say(t.carol, "取消 4445556 缺貨") == says(
        "zh_Hant", "Order {order} cancelled ({reason}). Remember to cancel it in Seller Central too if it was not "
        "cancelled there.", order=KETO, reason=says("zh_Hant", "out of stock"),
    )  # fmt: skip
    assert await t.say(t.carol, "查詢 7654321") == (await t.say(t.carol, f"/order {FAN}"))
    # Chatter that merely starts with a keyword-like word is not a command.
    sent = len(t.api.sent(t.group))
    await t.api.send_text(t.group, t.bob, "取消了吗？")
    await settled(t.api, t.app)
    assert len(t.api.sent(t.group)) == sent

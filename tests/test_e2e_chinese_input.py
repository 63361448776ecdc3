"""What people type (issue 9 point 2): Chinese keywords and their synonyms, Chinese separators
and amounts, a carrier left out or glued to its number, domestic couriers refused, 黑貓 by
marketplace, several commands in one message, and "did you mean" instead of silence.

Each test drives the real Application through the fake Bot API, in both scripts: Bob writes
Simplified Chinese, Carol Traditional.
"""

from __future__ import annotations

import pytest

from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER, says, says_n

SHIPPED = "Order {order} shipped with {carrier}, tracking number {tracking}."
YUN_HANS = "云途（Yun Express）"
YUN_HANT = "雲途（Yun Express）"


def shipped(locale: str, order: str, carrier: str, tracking: str) -> str:
    return says(locale, SHIPPED, order=order, carrier=carrier, tracking=tracking)


async def silent(t, user, text: str, *, chat=None) -> None:
    """``user`` types ``text``; the desk processes it and answers nothing."""
    where = chat or t.group
    sent = len(t.api.sent(where))
    await t.api.send_text(where, user, text)
    await settled(t.api, t.app)
    assert len(t.api.sent(where)) == sent


# --- keywords and synonyms ----------------------------------------------------------------


@pytest.mark.parametrize("word", ["出貨", "已出貨", "確認出貨", "确认发货", "出货"])
async def test_ship_synonyms(team, word) -> None:
    t = team
    user, locale = (t.carol, "zh_Hant") if word in ("出貨", "已出貨", "確認出貨") else (t.bob, "zh_Hans")
    carrier = YUN_HANT if locale == "zh_Hant" else YUN_HANS
    assert await t.say(user, f"{word} 6689831 云途 YT1234567890123456") == shipped(
        locale, MIC, carrier, "YT1234567890123456"
    )
    row = t.order_row(MIC)
    assert (row["goods"], row["carrier"], row["tracking"]) == ("shipped", "Yun Express", "YT1234567890123456")


async def test_delivered_and_lost_synonyms(team) -> None:
    t = team
    await t.say(t.bob, "发货 6689831 UPS 1Z999AA10123456784")
    await t.say(t.bob, "发货 1122334 UPS 1Z999AA10123456785")
    await t.say(t.bob, "发货 4445556 UPS 1Z999AA10123456786")
    assert await t.say(t.bob, "妥投 6689831") == says("zh_Hans", "Order {order} marked delivered.", order=MIC)
    assert t.goods(MIC) == "delivered"
    lost = "Order {order} marked lost. Contact the carrier and refund the buyer with {command}."
    assert await t.say(t.carol, "遺失 1122334") == says("zh_Hant", lost, order=SPEAKER, command="退款 1122334")
    assert t.goods(SPEAKER) == "lost"
    assert await t.say(t.bob, "丢包 4445556") == says("zh_Hans", lost, order=KETO, command="退款 4445556")
    assert t.goods(KETO) == "lost"


async def test_lookup_history_export_and_help_synonyms(team) -> None:
    t = team
    card = await t.say(t.bob, f"/order {FAN}")
    assert await t.say(t.bob, "查 7654321") == card
    assert await t.say(t.bob, "查看 7654321") == card
    history = await t.say(t.carol, f"/history {FAN}")
    assert await t.say(t.carol, "紀錄 7654321") == history
    help_hans = await t.say(t.bob, "/help")
    assert await t.say(t.bob, "菜单") == help_hans
    assert await t.say(t.bob, "？") == help_hans
    assert await t.say(t.carol, "說明") == await t.say(t.carol, "/help")
    nothing = await t.say(t.carol, "/export")
    assert await t.say(t.carol, "匯出") == nothing


async def test_language_named_in_chinese(team) -> None:
    t = team
    assert await t.say(t.bob, "语言 英文") == "I will answer you in English."
    assert await t.say(t.bob, "語言 繁體") == says("zh_Hant", "I will answer you in {language}.", language="繁體中文")
    with t.db() as conn:
        assert conn.execute("SELECT language FROM users WHERE user_id = ?", (t.bob.id,)).fetchone()[0] == "zh_Hant"


@pytest.mark.parametrize(
    ("user", "locale", "word", "decision", "closed"),
    [
        ("bob", "zh_Hans", "入库", "restock", "The return of order {order} is closed: the item goes back into stock."),
        (
            "carol",
            "zh_Hant",
            "入庫",
            "restock",
            "The return of order {order} is closed: the item goes back into stock.",
        ),
        ("carol", "zh_Hant", "銷毀", "dispose", "The return of order {order} is closed: the item is disposed of."),
        ("bob", "zh_Hans", "退回", "send_back", "The return of order {order} is closed: the item is sent back."),
    ],
)
async def test_return_decision_by_keyword(team, user, locale, word, decision, closed) -> None:
    t = team
    person = getattr(t, user)
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    await t.say(t.alice, f"/return {MIC}")
    await t.say(t.alice, f"/received {MIC}")
    assert await t.say(person, f"{word} 6689831") == says(locale, closed, order=MIC)
    assert t.events(MIC)[-1]["action"] == decision


@pytest.mark.parametrize(
    ("user", "locale", "typed", "reason", "name"),
    [
        ("bob", "zh_Hans", "无货", "NoInventory", "out of stock"),
        ("bob", "zh_Hans", "没有库存", "NoInventory", "out of stock"),
        ("carol", "zh_Hant", "買家取消", "BuyerCanceled", "buyer cancelled"),
        ("bob", "zh_Hans", "重复下单", "BuyerCanceled", "buyer cancelled"),
        ("bob", "zh_Hans", "地址有误", "ShippingAddressUndeliverable", "address undeliverable"),
        ("carol", "zh_Hant", "價格錯了", "PricingError", "pricing error"),
    ],
)
async def test_chinese_cancel_reasons(team, user, locale, typed, reason, name) -> None:
    t = team
    reply = await t.say(getattr(t, user), f"取消 7654321 {typed}")
    assert reply == says(
        locale, "Order {order} cancelled ({reason}). Remember to cancel it in Seller Central too if it was not "
        "cancelled there.", order=FAN, reason=says(locale, name),
    )  # fmt: skip
    assert t.goods(FAN) == "cancelled"
    assert t.events(FAN)[-1]["action"] == "cancel"
    assert reason in t.events(FAN)[-1]["details"]


# --- separators and amounts ---------------------------------------------------------------


async def test_chinese_commas_colons_and_full_stops(team) -> None:
    t = team
    assert await t.say(t.bob, "发货：6689831，云途，YT1234567890123456。") == shipped(
        "zh_Hans", MIC, YUN_HANS, "YT1234567890123456"
    )
    assert await t.say(t.carol, "出貨：1122334、雲途、YT1234567890123457") == shipped(
        "zh_Hant", SPEAKER, YUN_HANT, "YT1234567890123457"
    )
    card = await t.say(t.bob, f"/order {FAN}")
    assert await t.say(t.bob, "查询 7654321。") == card


async def test_a_tracking_number_typed_with_spaces(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 UPS 1Z999 AA101 2345 6784") == shipped(
        "zh_Hans", MIC, "UPS", "1Z999AA10123456784"
    )
    assert t.order_row(MIC)["tracking"] == "1Z999AA10123456784"


@pytest.mark.parametrize(
    ("user", "typed", "amount"),
    [
        ("bob", "12。5", "$12.50"),
        ("carol", "１２。５", "$12.50"),
        ("bob", "12刀5", "$12.50"),
        ("carol", "12刀", "$12.00"),
    ],
)
async def test_chinese_amounts_in_a_refund(team, user, typed, amount) -> None:
    t = team
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    replies = await t.api.ask(t.group, getattr(t, user), f"退款 6689831 {typed}")
    assert amount in replies[0]["text"]
    assert t.api.buttons(replies[0])  # the question to confirm, with the amount read


@pytest.mark.parametrize(
    ("user", "locale", "typed", "marker", "name"),
    [("bob", "zh_Hans", "12块5", "块", "美元"), ("carol", "zh_Hant", "12元5角", "元", "美元")],
)
async def test_yuan_amounts_are_read_and_held_to_the_orders_currency(team, user, locale, typed, marker, name) -> None:
    t = team
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    before = t.snapshot()
    assert await t.say(getattr(t, user), f"退款 6689831 {typed}") == says(
        locale, "Order {order} is paid in {currency_name} ({currency}), so it is refunded in {currency}; {typed} is "
        "another currency. Type the amount in {currency}, or just the number.", order=MIC, currency_name=name,
        currency="USD", typed=marker,
    )  # fmt: skip
    assert t.snapshot() == before


# --- the carrier: optional, glued, domestic, cross-border, 黑貓 ------------------------------


async def test_the_number_names_the_carrier(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 YT1234567890123456") == shipped(
        "zh_Hans", MIC, YUN_HANS, "YT1234567890123456"
    )
    assert await t.say(t.carol, "出貨 1122334 SF1234567890123") == shipped(
        "zh_Hant", SPEAKER, "順豐（SF Express）", "SF1234567890123"
    )
    row = t.order_row(SPEAKER)
    assert (row["carrier"], row["tracking"]) == ("SF Express", "SF1234567890123")


async def test_a_carrier_glued_to_its_number(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 顺丰SF1234567890123") == shipped(
        "zh_Hans", MIC, "顺丰（SF Express）", "SF1234567890123"
    )
    assert await t.say(t.carol, "出貨 1122334 雲途YT1234567890123456") == shipped(
        "zh_Hant", SPEAKER, YUN_HANT, "YT1234567890123456"
    )


async def test_a_number_whose_carrier_cannot_be_told_is_refused_clearly(team) -> None:
    t = team
    before = t.snapshot()
    assert await t.say(t.bob, "发货 6689831 123456789012") == says(
        "zh_Hans", "I can't tell the carrier from “{tracking}”. Name it before the number, for example 发货 6689831 "
        "UPS 1Z999AA10123456784.", tracking="123456789012",
    )  # fmt: skip
    assert t.snapshot() == before


@pytest.mark.parametrize(
    ("user", "locale", "typed", "carrier"),
    [
        ("bob", "zh_Hans", "中通 75123456789012", "中通快递（ZTO Express）"),
        ("carol", "zh_Hant", "圓通 YT1234567890123", "圓通速遞（YTO Express）"),
        ("bob", "zh_Hans", "YT1234567890123", "圆通速递（YTO Express）"),
        ("bob", "zh_Hans", "极兔JT1234567890123", "极兔速递（J&T Express）"),
        ("carol", "zh_Hant", "京東 JDVA12345678901", "京東物流（JD Logistics）"),
        ("bob", "zh_Hans", "云途 JT1234567890123", "极兔速递（J&T Express）"),
    ],
)
async def test_domestic_couriers_never_confirm_an_order(team, user, locale, typed, carrier) -> None:
    t = team
    before = t.snapshot()
    reply = await t.say(getattr(t, user), f"发货 6689831 {typed}")
    tracking = typed.split()[-1].removeprefix("极兔")
    assert reply == says(
        locale, "{carrier} is a courier inside China: its number “{tracking}” only reaches your forwarder, and "
        "confirming an Amazon order with it lowers your valid tracking rate. Nothing was shipped. Send the "
        "forwarder's international tracking number, for example 发货 6689831 云途 YT1234567890123456.",
        carrier=carrier, tracking=tracking,
    )  # fmt: skip
    assert t.snapshot() == before


async def test_cross_border_carriers_without_an_amazon_code_ship_as_other(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 万邦 WB1234567890") == shipped(
        "zh_Hans", MIC, "万邦速达（WanB Express）", "WB1234567890"
    )
    row = t.order_row(MIC)
    assert (row["carrier"], row["carrier_name"]) == ("Other", "WanB Express")
    assert await t.say(t.carol, "出貨 1122334 三態 SFC1234567890") == shipped(
        "zh_Hant", SPEAKER, "三態速遞（SFC）", "SFC1234567890"
    )
    assert (t.order_row(SPEAKER)["carrier"], t.order_row(SPEAKER)["carrier_name"]) == ("Other", "SFC")


async def test_black_cat_is_asked_about_outside_japan_and_taiwan(team) -> None:
    t = team
    before = t.snapshot()
    assert await t.say(t.carol, "出貨 6689831 黑貓 123456789012") == says(
        "zh_Hant", "“{text}” can mean {choices}. Say which one, for example 发货 6689831 Yamato Transport "
        "123456789012.", text="黑貓", choices="Yamato Transport、Other:T-Cat",
    )  # fmt: skip
    assert t.snapshot() == before
    assert await t.say(t.carol, "出貨 6689831 Other:T-Cat 123456789012") == shipped(
        "zh_Hant", MIC, "黑貓宅急便（T-Cat）", "123456789012"
    )


# --- a team's default carrier --------------------------------------------------------------


async def test_the_team_default_carrier_ships_a_bare_number(team) -> None:
    t = team
    before = t.snapshot()
    assert await t.say(t.bob, "默认承运人 云途") == says("zh_Hans", "Only an administrator of this group can do that.")
    assert await t.say(t.alice, "默认承运人 中通") == says(
        "en", "{carrier} is a courier inside China: its number “{tracking}” only reaches your forwarder, and "
        "confirming an Amazon order with it lowers your valid tracking rate. Nothing was shipped. Send the "
        "forwarder's international tracking number, for example 发货 6689831 云途 YT1234567890123456.",
        carrier="ZTO Express", tracking="中通",
    )  # fmt: skip
    assert t.snapshot() == before
    replies = await t.api.ask(t.group, t.alice, "/carrier")
    assert replies[0]["text"] == (
        "Store A has no default carrier: a tracking number sent alone ships only when its shape names the carrier. "
        "Set one with /carrier YunExpress or the buttons."
    )
    assert "dc:Yanwen" in [data for _label, data in t.api.buttons(replies[0])]
    click = await t.api.click(t.group, t.alice, replies[0], "dc:Yanwen", expect=1)
    assert "Yanwen" in click.edits[0]["text"] if getattr(click, "edits", None) else True
    with t.db() as conn:
        assert conn.execute("SELECT default_carrier FROM teams").fetchone()[0] == "Yanwen"
    assert await t.say(t.alice, "/carrier 万邦") == (
        "The default carrier of Store A is WanB Express: a tracking number sent alone whose shape names no carrier "
        "ships with it. Change it with /carrier NAME, or /carrier off."
    )
    assert await t.say(t.bob, "发货 6689831 WB12345678") == shipped("zh_Hans", MIC, "万邦速达（WanB Express）",
                                                                   "WB12345678")  # fmt: skip
    assert (t.order_row(MIC)["carrier"], t.order_row(MIC)["carrier_name"]) == ("Other", "WanB Express")


# --- many lines at once ---------------------------------------------------------------------


async def test_several_ship_lines_run_each_and_answer_once(team) -> None:
    t = team
    text = "发货 6689831 云途 YT1234567890123456\n发货 1122334 顺丰 SF1234567890123\n发货 4445556 中通 75123456789012"
    replies = await t.api.ask(t.group, t.bob, text)
    lines = replies[0]["text"].split("\n")
    assert lines[0] == says_n("zh_Hans", "{done} of {total} line done:", "{done} of {total} lines done:", 3,
                              done=2, total=3)  # fmt: skip
    assert lines[1] == "✅ " + says("zh_Hans", "Line {n}: {result}", n=1, result=shipped("zh_Hans", MIC, YUN_HANS,
                                                                                          "YT1234567890123456"))  # fmt: skip
    assert lines[2] == "✅ " + says("zh_Hans", "Line {n}: {result}", n=2, result=shipped(
        "zh_Hans", SPEAKER, "顺丰（SF Express）", "SF1234567890123"))  # fmt: skip
    assert lines[3].startswith("❌ " + says("zh_Hans", "Line {n}: {result}", n=3, result="")[:-1])
    assert (t.goods(MIC), t.goods(SPEAKER), t.goods(KETO)) == ("shipped", "shipped", "unshipped")
    assert len(replies) == 1


async def test_a_pasted_list_under_one_keyword_in_traditional(team) -> None:
    t = team
    text = "出貨\n6689831 雲途 YT1234567890123456\n1122334 順豐 SF1234567890123"
    replies = await t.api.ask(t.group, t.carol, text)
    lines = replies[0]["text"].split("\n")
    assert lines[0] == says_n("zh_Hant", "{done} of {total} line done:", "{done} of {total} lines done:", 2,
                              done=2, total=2)  # fmt: skip
    assert (t.goods(MIC), t.goods(SPEAKER)) == ("shipped", "shipped")


async def test_a_number_on_the_next_line_continues_the_command(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 云途\nYT1234567890123456") == shipped(
        "zh_Hans", MIC, YUN_HANS, "YT1234567890123456"
    )


# --- did you mean ---------------------------------------------------------------------------


async def test_did_you_mean_for_what_looks_like_a_command(team) -> None:
    t = team
    before = t.snapshot()
    reply = await t.say(t.bob, "发货了 6689831 云途 YT1234567890123456")
    assert reply == says("zh_Hans", "I didn't understand that. Did you mean {keyword}?", keyword="发货") + " " + says(
        "zh_Hans", "Send: /ship ORDER [CARRIER] TRACKING, for example /ship 113-4417305-6689831 UPS "
        "1Z999AA10123456784 or 发货 6689831 SF1234567890123. The carrier may be left out when the tracking number "
        "shows it or the team has a default carrier (/carrier). To ship some items only, add their SKUs: /ship 7654321 "
        "UPS 1Z999AA10123456784 USB-FAN-03")  # fmt: skip
    assert await t.say(t.carol, "6689831 出了嗎") == says(
        "zh_Hant", "I didn't understand that. To act on order {order}, start with what to do, for example /order "
        "{order} or /ship {order} CARRIER TRACKING. Send /help for the list.", order="6689831",
    )  # fmt: skip
    assert t.snapshot() == before
    # Chatter stays chatter in the group.
    await silent(t, t.bob, "取消了吗？")
    await silent(t, t.carol, "大家早安")


async def test_in_private_anything_unread_gets_an_answer(team) -> None:
    t = team
    chat = t.api.private(t.bob)
    replies = await t.api.ask(chat, t.bob, "你好")
    assert replies[0]["text"] == says(
        "zh_Hans", "I didn't understand that. Start with what to do, for example /order 6689831 or /ship 6689831 "
        "UPS 1Z999AA10123456784. Send /help for the list.",
    )  # fmt: skip
    assert "—" not in replies[0]["text"]


async def test_several_slash_commands_in_one_message(team) -> None:
    t = team
    text = "/ship 6689831 UPS 1Z999AA10123456784\n/delivered 6689831\n/ship 7654321 云途"
    replies = await t.api.ask(t.group, t.alice, text)
    lines = replies[0]["text"].split("\n")
    assert lines[:3] == [
        "2 of 3 lines done:",
        f"✅ Line 1: Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784.",
        f"✅ Line 2: Order {MIC} marked delivered.",
    ]
    assert lines[3].startswith("❌ Line 3: ")
    assert (t.goods(MIC), t.goods(FAN)) == ("delivered", "unshipped")
    assert [e["action"] for e in t.events(MIC)] == ["imported", "ship", "deliver"]


async def test_in_private_traditional_did_you_mean(team) -> None:
    t = team
    chat = t.api.private(t.carol)
    replies = await t.api.ask(chat, t.carol, "出貨了嗎")
    assert replies[0]["text"].startswith(says("zh_Hant", "I didn't understand that. Did you mean {keyword}?",
                                              keyword="出貨"))  # fmt: skip


# --- Chinese replies suggest Chinese keywords (issue 9, polish) ---------------------------


async def test_refusals_and_usage_suggest_the_chinese_keyword(team) -> None:
    t = team
    assert await t.say(t.bob, "发货 6689831 顺丰 SF1234567890123") == shipped(
        "zh_Hans", MIC, "顺丰（SF Express）", "SF1234567890123"
    )
    before = t.snapshot()
    assert await t.say(t.bob, "发货 6689831 SF1234567890124") == (
        f"订单 {MIC} 已由 Bob 于 2026/11/21 16:00 发货：顺丰（SF Express），追踪编码（物流单号）SF1234567890123。"
        f"如果追踪编码有误，请发送 改单号 {MIC} 承运人 追踪编码 更正。"
    )
    assert await t.say(t.carol, "出貨 6689831 SF1234567890124") == (
        f"訂單 {MIC} 已由 Bob 於 2026/11/21 16:00 出貨：順豐（SF Express），追蹤編號 SF1234567890123。"
        f"如果追蹤編號有誤，請傳送 改單號 {MIC} 承運商 追蹤編號 修正。"
    )
    assert (
        await t.say(t.bob, "退款 1122334 5")
        == f"订单 {SPEAKER} 还没发货（未发货）：请用 取消 订单号 原因 取消订单，不要退款。"
    )
    assert await t.say(t.carol, "退款 1122334 5") == (
        f"訂單 {SPEAKER} 還沒出貨（未出貨）：請用 取消 訂單編號 原因 取消訂單，不要退款。"
    )
    assert (
        await t.say(t.bob, "导出 abc")
        == "“abc”不是日期。发送 导出 导出新的发货，或发送 导出 2026-11-21 重新导出某一天。"
    )
    assert (
        await t.say(t.carol, "匯出 abc")
        == "「abc」不是日期。傳送 匯出 匯出新的出貨，或傳送 匯出 2026-11-21 重新匯出某一天。"
    )
    # The carrier is optional in the usage: the number's shape or the team's default carrier names it.
    assert await t.say(t.bob, "发货 1122334") == (
        "请发送：发货 订单号 [承运人] 追踪编码，例如 发货 6689831 UPS 1Z999AA10123456784 或 发货 6689831 SF1234567890123。"
        "从追踪编码看得出承运人，或团队设了默认承运人（默认承运人）时，可以不写承运人。只发部分商品时，在后面加上它们的 SKU："
        "发货 7654321 UPS 1Z999AA10123456784 USB-FAN-03"
    )
    assert await t.say(t.carol, "出貨 1122334") == (
        "請傳送：出貨 訂單編號 [承運商] 追蹤編號，例如 出貨 6689831 UPS 1Z999AA10123456784 或 出貨 6689831 SF1234567890123。"
        "從追蹤編號看得出承運商，或團隊設了預設承運商（預設承運商）時，可以不寫承運商。只出貨部分商品時，在後面加上它們的 SKU："
        "出貨 7654321 UPS 1Z999AA10123456784 USB-FAN-03"
    )
    assert await t.say(t.alice, "/ship 1122334") == (
        "Send: /ship ORDER [CARRIER] TRACKING, for example /ship 113-4417305-6689831 UPS 1Z999AA10123456784 or 发货 "
        "6689831 SF1234567890123. The carrier may be left out when the tracking number shows it or the team has a "
        "default carrier (/carrier). To ship some items only, add their SKUs: /ship 7654321 UPS 1Z999AA10123456784 "
        "USB-FAN-03"
    )
    assert await t.say(t.bob, "送达") == "请发送：送达 订单号，例如 送达 6689831"
    assert await t.say(t.carol, "遺失") == "請傳送：遺失 訂單編號，例如 遺失 6689831"
    assert await t.say(t.bob, "订单 明天") == (
        "没有“明天”这个列表。可以试试 订单、订单 已超时、订单 即将超时、订单 今日必发、订单 未妥投、订单 查询不到、订单 全部、订单 已发货 或 订单 退货。"
    )
    assert await t.say(t.carol, "訂單 明天") == (
        "沒有「明天」這個清單。可以試試 訂單、訂單 已逾時、訂單 即將逾時、訂單 今日必出、訂單 未妥投、訂單 查詢不到、訂單 全部、訂單 已出貨 或 訂單 退貨。"
    )
    assert t.snapshot() == before


async def test_the_card_names_the_carrier_in_the_readers_script(team) -> None:
    t = team
    await t.say(t.bob, "发货 6689831 顺丰 SF1234567890123")
    hans = (await t.say(t.bob, "查询 6689831")).splitlines()
    assert "已发货：顺丰（SF Express） SF1234567890123" in hans
    assert "最近变更：2026/11/21 16:00 · 已发货 · Bob · 顺丰（SF Express） SF1234567890123" in hans
    hant = (await t.say(t.carol, "查詢 6689831")).splitlines()
    assert "已出貨：順豐（SF Express） SF1234567890123" in hant
    assert "最近變更：2026/11/21 16:00 · 已出貨 · Bob · 順豐（SF Express） SF1234567890123" in hant
    # A name kept with code Other, typed in Simplified: Traditional readers see it in Traditional.
    assert await t.say(t.bob, "发货 1122334 Other:顺丰国际 ABC1234567") == (
        f"订单 {SPEAKER} 已发货：顺丰国际，追踪编码（物流单号）ABC1234567。"
    )
    assert (t.order_row(SPEAKER)["carrier"], t.order_row(SPEAKER)["carrier_name"]) == ("Other", "顺丰国际")
    assert "已出貨：順豐國際 ABC1234567" in (await t.say(t.carol, "查詢 1122334")).splitlines()
    assert "已发货：顺丰国际 ABC1234567" in (await t.say(t.bob, "查询 1122334")).splitlines()


async def test_help_lists_every_orders_list_in_both_scripts(team) -> None:
    t = team
    assert (
        "订单 [列表]：待发货订单，最急的排最前；订单 已超时、订单 即将超时、订单 今日必发、订单 未妥投、订单 查询不到、"
        "订单 全部、订单 已发货、订单 退货（/orders）"
    ) in (await t.say(t.bob, "帮助")).splitlines()
    assert (
        "訂單 [清單]：待出貨訂單，最急的排最前面；訂單 已逾時、訂單 即將逾時、訂單 今日必出、訂單 未妥投、訂單 查詢不到、"
        "訂單 全部、訂單 已出貨、訂單 退貨（/orders）"
    ) in (await t.say(t.carol, "說明")).splitlines()
    assert (
        "/orders [LIST]: orders to ship, the most urgent first; /orders overdue, /orders due-soon, /orders today, "
        "/orders stuck, /orders no-scan, /orders all, /orders shipped, /orders returns "
        "(订单 已超时、订单 即将超时、订单 今日必发、订单 未妥投、订单 查询不到)"
    ) in (await t.say(t.alice, "/help")).splitlines()

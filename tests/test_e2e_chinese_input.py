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
        ("carol", "zh_Hant", "入庫", "restock", "The return of order {order} is closed: the item goes back into stock."),
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

"""Fewer steps (issue 9 point 3): 🚚 asks only for the tracking number (a ForceReply bound to
the order), a cancel without a reason offers the reasons as buttons, and Chinese replies
suggest the Chinese keyword with the short number."""

from __future__ import annotations

from typing import Any

import pytest

from bot.carriers import label
from tests.support.alerts import mark, wait_alert
from tests.support.desk import settled
from tests.support.scenario import KETO, MIC, SPEAKER, sample_with_ids, says

PROMPT = ("{person}, reply to this message with the tracking number of order {order}. I read the carrier from the "
          "number; to name it, put it first (云途 YT1234567890123456).")  # fmt: skip


async def press(t: Any, user: Any, message: dict, data: str) -> list[dict]:
    """``user`` presses ``data`` under ``message``; what the bot sent into the group after it."""
    before = mark(t)
    await t.api.press(t.group, user, message, data)
    await settled(t.api, t.app)
    return t.api.sent(t.group)[before:]


async def reply(t: Any, user: Any, prompt: dict, text: str) -> list[dict]:
    before = mark(t)
    await t.api.send_text(t.group, user, text, reply_to=prompt)
    await settled(t.api, t.app)
    return t.api.sent(t.group)[before:]


# --- 🚚: the tracking number only -------------------------------------------------------


@pytest.mark.alerts
async def test_the_truck_asks_for_the_number_and_a_reply_ships_the_order(alert_team) -> None:
    t = alert_team
    sent = await press(t, t.bob, t.late_alert, f"sp:{MIC}")
    assert len(sent) == 1
    prompt = sent[0]
    assert prompt["text"] == f"🚚 {MIC}\n" + says("zh_Hans", PROMPT, person="Bob", order=MIC)
    markup = prompt["params"]["reply_markup"]
    assert markup["force_reply"] is True and markup["selective"] is True
    assert [e["type"] for e in prompt.get("entities", [])] == ["text_link"]  # the mention of Bob

    # Typed with spaces, no carrier: the number's shape says Yun Express.
    answered = await reply(t, t.bob, prompt, "YT 1234 5678 9012 3456")
    assert [m["text"] for m in answered] == [
        says(
            "zh_Hans",
            "Order {order} shipped with {carrier}, tracking number {tracking}.",
            order=MIC,
            carrier=label("Yun Express", "", "zh_Hans"),
            tracking="YT1234567890123456",
        )  # fmt: skip
    ]
    row = t.order_row(MIC)
    assert (row["goods"], row["carrier"], row["tracking"]) == ("shipped", "Yun Express", "YT1234567890123456")
    assert t.events(MIC)[-1]["actor_name"] == "Bob"

    # An old prompt answered again: the order is shipped; nothing changes, and it says by whom.
    before = t.snapshot()
    answered = await reply(t, t.carol, prompt, "YT1234567890123457")
    assert len(answered) == 1 and answered[0]["text"].startswith(f"訂單 {MIC} ")
    assert "Bob" in answered[0]["text"]
    assert t.snapshot() == before


@pytest.mark.alerts
async def test_a_named_carrier_an_edit_and_a_stranger_reply(alert_team) -> None:
    t = alert_team
    prompt = (await press(t, t.alice, t.late_alert, f"sp:{SPEAKER}"))[0]
    assert prompt["text"] == f"🚚 {SPEAKER}\n" + says("en", PROMPT, person="Alice", order=SPEAKER)

    # An edit never acts.
    before = t.snapshot()
    message = await t.api.send_text(t.group, t.alice, "hello", reply_to=prompt)
    await settled(t.api, t.app)
    start = mark(t)
    await t.api.edit_text(t.group, message, "UPS 1Z999AA10123456784")
    await settled(t.api, t.app)
    assert [m["text"] for m in t.api.sent(t.group)[start:]] == [
        "Edits are not commands: nothing was done. Send the command again as a new message."
    ]
    assert t.snapshot() == before

    # A carrier named first.
    answered = await reply(t, t.alice, prompt, "UPS 1Z999AA10123456784")
    assert [m["text"] for m in answered] == [f"Order {SPEAKER} shipped with UPS, tracking number 1Z999AA10123456784."]
    assert t.goods(SPEAKER) == "shipped"


async def test_a_reply_to_another_message_of_the_bot_ships_nothing(team) -> None:
    t = team
    card = (await t.api.ask(t.group, t.alice, f"/order {KETO}"))[0]
    before, start = t.snapshot(), mark(t)
    await t.api.send_text(t.group, t.alice, "1Z999AA10123456784", reply_to=card)
    await settled(t.api, t.app)
    assert t.snapshot() == before
    assert all("shipped with" not in m["text"] for m in t.api.sent(t.group)[start:])


# --- a cancel without a reason ------------------------------------------------------------


async def test_a_cancel_without_a_reason_offers_the_reasons(team) -> None:
    t = team
    asked = (await t.api.ask(t.group, t.bob, "取消 6689831"))[0]
    assert asked["text"] == says("zh_Hans", "Why is order {order} cancelled? Choose Amazon's reason:", order=MIC)
    labels = [text for text, _data in t.api.buttons(asked)]
    assert labels == [
        says("zh_Hans", n)
        for n in (
            "out of stock",
            "buyer cancelled",
            "address undeliverable",
            "customer exchange",
            "pricing error",
            "general adjustment",
        )
    ]
    assert t.goods(MIC) == "unshipped"

    sent = await press(t, t.bob, asked, f"cx:{MIC}:NoInventory")
    assert [m["text"] for m in sent] == [
        says(
            "zh_Hans",
            "Order {order} cancelled ({reason}). Remember to cancel it in Seller Central too if it was "
            "not cancelled there.",
            order=MIC,
            reason=says("zh_Hans", "out of stock"),
        )  # fmt: skip
    ]
    assert t.goods(MIC) == "cancelled"
    assert '"reason":"NoInventory"' in t.events(MIC)[-1]["details"]
    assert t.api.buttons(t.api._message_of(t.group, asked)) == []

    # Pressed again (a second person, an old message): the order is already cancelled.
    before = t.snapshot()
    await t.api.press(t.group, t.carol, asked, f"cx:{MIC}:PricingError", forged=True)
    await settled(t.api, t.app)
    assert t.snapshot() == before


async def test_a_shipped_order_gets_no_reason_buttons_and_a_forged_reason_is_refused(team) -> None:
    t = team
    await t.say(t.alice, "/ship 1122334 UPS 1Z999AA10123456784")
    answer = (await t.api.ask(t.group, t.alice, "/cancel 1122334"))[0]
    assert answer["text"].startswith(f"Order {SPEAKER} ") and t.api.buttons(answer) == []
    assert t.goods(SPEAKER) == "shipped"

    asked = (await t.api.ask(t.group, t.alice, f"/cancel {KETO}"))[0]
    before = t.snapshot()
    await t.api.press(t.group, t.alice, asked, f"cx:{KETO}:Whatever", forged=True)
    await settled(t.api, t.app)
    assert t.snapshot() == before


# --- Chinese replies suggest the Chinese keyword --------------------------------------------


async def test_chinese_replies_suggest_the_keyword_with_the_short_number(team) -> None:
    t = team
    requested = "Return requested for order {order}. When the item arrives, send {command}."
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    await t.say(t.alice, "/ship 1122334 UPS 1Z999AA10123456785")
    await t.say(t.alice, "/ship 4445556 UPS 1Z999AA10123456786")
    assert await t.say(t.bob, "退货 6689831") == says("zh_Hans", requested, order=MIC, command="收到退货 6689831")
    assert says("zh_Hans", requested, order=MIC, command="收到退货 6689831").endswith("收到退货 6689831")
    assert await t.say(t.carol, "退貨 1122334") == says("zh_Hant", requested, order=SPEAKER, command="收到退貨 1122334")
    assert await t.say(t.alice, "/return 4445556") == (
        f"Return requested for order {KETO}. When the item arrives, send /received {KETO}."
    )
    # What it suggests works as typed.
    arrived = "The return of order {order} has arrived. What should happen to the item?"
    assert await t.say(t.bob, "收到退货 6689831") == says("zh_Hans", arrived, order=MIC)


async def test_chinese_help_leads_with_the_keyword(team) -> None:
    t = team
    hans = (await t.say(t.bob, "/help")).split("\n")
    ship = (
        "/ship ORDER [CARRIER] TRACKING: confirm a shipment; the carrier may be left out when the number shows it "
        "or the team has a default carrier (发货 6689831 SF1234567890123)"
    )
    assert says("zh_Hans", ship) in hans
    assert (
        "发货 订单号 [承运人] 追踪编码：确认发货；从追踪编码看得出承运人，或团队设了默认承运人时，可以不写承运人，"
        "如 发货 6689831 SF1234567890123（/ship）"
    ) in hans
    commands = [line for line in hans if "（/" in line]
    assert len(commands) >= 12 and not [line for line in commands if line.startswith("/")]
    hant = (await t.say(t.carol, "/help")).split("\n")
    assert "收到退貨 訂單編號：退貨已到，再選重新入庫、銷毀或退回，如 收到退貨 6689831（/received）" in hant
    english = (await t.say(t.alice, "/help")).split("\n")
    assert ship in english


# --- 🚚: the reply is read as /ship reads it -------------------------------------------------

TAIWAN = "113-7000001-0000886"  # the sample's first order, sold to Taiwan
JAPAN = "113-7000002-0000081"  # and to Japan
BLACK_CAT = "“{text}” can mean {choices}. Say which one, for example 发货 6689831 Yamato Transport 123456789012."
SHIPPED = "Order {order} shipped with {carrier}, tracking number {tracking}."
NOT_DETECTED = (
    "I can't tell the carrier from “{tracking}”. Name it before the number, for example 发货 6689831 UPS "
    "1Z999AA10123456784."
)
UNKNOWN = (
    "I don't know the carrier “{text}”. Use an Amazon carrier code such as {suggestions}, a Chinese name such as "
    "顺丰 or 云途, or Other:NAME."
)


async def ships(
    t: Any, user: Any, prompt: dict, text: str, *, locale: str, order: str, carrier: str, name: str = ""
) -> None:
    """``user`` replies ``text`` to ``prompt``: ``order`` ships with ``carrier`` (``name`` for Other) and 123456789012."""
    answered = await reply(t, user, prompt, text)
    shown = label(carrier, name, locale)
    assert [m["text"] for m in answered] == [says(locale, SHIPPED, order=order, carrier=shown, tracking="123456789012")]
    row = t.order_row(order)
    assert (row["goods"], row["carrier"], row["carrier_name"], row["tracking"]) == (
        "shipped", carrier, name, "123456789012"
    )  # fmt: skip


async def refuses(t: Any, user: Any, prompt: dict, text: str, expected: str) -> None:
    """``user`` replies ``text`` to ``prompt``: the one reply is ``expected``, and nothing changes."""
    before = t.snapshot()
    answered = await reply(t, user, prompt, text)
    assert [m["text"] for m in answered] == [expected]
    assert t.snapshot() == before


@pytest.mark.alerts
async def test_a_number_of_no_known_shape_ships_with_the_teams_default_carrier(alert_team) -> None:
    t = alert_team
    prompt = (await press(t, t.alice, t.late_alert, f"sp:{MIC}"))[0]
    await refuses(t, t.alice, prompt, "123456789012", says("en", NOT_DETECTED, tracking="123456789012"))
    # Typed in groups, the whole number is what cannot be told, as /ship says.
    in_groups = says("en", NOT_DETECTED, tracking="1234 5678 9012")
    await refuses(t, t.alice, prompt, "1234 5678 9012", in_groups)
    assert await t.say(t.alice, f"/ship {MIC} 1234 5678 9012") == in_groups

    await t.say(t.alice, "/carrier FedEx")
    await ships(t, t.alice, prompt, "1234 5678 9012", locale="en", order=MIC, carrier="FedEx")


@pytest.mark.alerts
async def test_a_reply_is_refused_as_ship_refuses_it(alert_team) -> None:
    """On a US order 黑貓 may be Yamato or T-Cat: the reply asks which; a carrier the desk does
    not know gets /ship's refusal. Nothing is stored; then named as asked, it ships."""
    t = alert_team
    prompt = (await press(t, t.carol, t.late_alert, f"sp:{MIC}"))[0]
    for typed, refused in [
        ("黑貓 123456789012", says("zh_Hant", BLACK_CAT, text="黑貓", choices="Yamato Transport、Other:T-Cat")),
        ("Yamto 123456789012", says("zh_Hant", UNKNOWN, text="Yamto", suggestions="Yamato Transport")),
    ]:
        await refuses(t, t.carol, prompt, typed, refused)
        before = t.snapshot()
        assert await t.say(t.carol, f"出貨 {MIC} {typed}") == refused
        assert t.snapshot() == before

    await ships(t, t.carol, prompt, "Other:T-Cat 123456789012", locale="zh_Hant", order=MIC, carrier="Other",
                name="T-Cat")  # fmt: skip


@pytest.mark.alerts
async def test_black_cat_in_a_reply_ships_by_the_orders_country(alert_team) -> None:
    t = alert_team
    lines = sample_with_ids([TAIWAN, JAPAN]).decode().splitlines()
    assert all(line.count("\tUS\tfalse") == 1 for line in lines[1:])  # ship-country, then is-business-order
    lines[1] = lines[1].replace("\tUS\tfalse", "\tTW\tfalse")
    lines[2] = lines[2].replace("\tUS\tfalse", "\tJP\tfalse")
    before = mark(t)
    await t.api.upload(t.group, t.alice, "asia.txt", ("\n".join(lines) + "\n").encode())
    alert = await wait_alert(t, f"…{TAIWAN[-7:]}", since=before)
    assert (t.order_row(TAIWAN)["ship_country"], t.order_row(JAPAN)["ship_country"]) == ("TW", "JP")

    # Taiwan: 黑貓 is T-Cat (黑貓宅急便), the number typed in groups too.
    prompt = (await press(t, t.carol, alert, f"sp:{TAIWAN}"))[0]
    await ships(t, t.carol, prompt, "黑貓 1234 5678 9012", locale="zh_Hant", order=TAIWAN, carrier="Other",
                name="T-Cat")  # fmt: skip

    # Japan: 黑猫 is Yamato.
    alert = await wait_alert(t, f"…{JAPAN[-7:]}", since=before)
    prompt = (await press(t, t.bob, alert, f"sp:{JAPAN}"))[0]
    await ships(t, t.bob, prompt, "黑猫 123456789012", locale="zh_Hans", order=JAPAN, carrier="Yamato Transport")

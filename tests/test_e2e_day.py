"""A seller team's day, end to end: the real Application polls the fake Bot API over HTTP.

Each test reads like the team's chat: who typed what, what the bot answered, and what the
desk stored.
"""

from __future__ import annotations

import re

import pytest

from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER, plain, sample, sample_with_ids, says


async def test_import_ship_return_receive_restock_refund(team) -> None:
    """Alice ships; the buyer returns it; Bob records the arrival; Carol restocks; Alice refunds."""
    t = team
    assert await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784") == (
        f"Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784."
    )
    row = t.order_row(MIC)
    assert (row["goods"], row["carrier"], row["tracking"]) == ("shipped", "UPS", "1Z999AA10123456784")

    assert await t.say(t.alice, f"/return {MIC} defective") == (
        f"Return requested for order {MIC}. When the item arrives, send /received {MIC}."
    )
    # Refunding while the goods are on their way back says so in the question; "wait" changes nothing.
    replies = await t.api.ask(t.group, t.alice, "/refund 6689831 10")
    question = replies[0]
    assert plain(question["text"]) == (
        f"The return of order {MIC} is still on its way back. The usual advice is to refund when it arrives.\n"
        f"Refund $10.00 on order {MIC}?\nAlready refunded: $0.00.\nRefunded after this: $10.00.\n"
        "I don't know the total of this order (the Unshipped Orders report has no prices), so I cannot check the "
        "amount against what the buyer paid: an administrator of the group must confirm. To have the prices, import "
        "the Order report or connect Amazon with /amazon."
    )
    assert [label for label, _data in t.api.buttons(question)] == ["Refund now", "Wait for the return"]
    no = t.api.buttons(question)[1][1]
    before = t.snapshot()
    click = await t.api.click(t.group, t.alice, question, no, expect=2)
    assert click.messages[0]["text"] == f"Nothing was done to order {MIC}."
    assert t.snapshot() == before

    # Bob (Simplified Chinese) records the arrival with a Chinese keyword.
    replies = await t.api.ask(t.group, t.bob, "收到退货 6689831")
    arrived = replies[0]
    assert arrived["text"] == says("zh_Hans", "The return of order {order} has arrived. What should happen to the item?",
                                   order=MIC)  # fmt: skip
    assert [data for _label, data in t.api.buttons(arrived)] == [
        f"rd:{MIC}:restock",
        f"rd:{MIC}:dispose",
        f"rd:{MIC}:send_back",
    ]
    assert t.goods(MIC) == "return_received"

    # Carol (Traditional) restocks with one tap; the buttons go away.
    click = await t.api.click(t.group, t.carol, arrived, f"rd:{MIC}:restock", expect=2)
    assert click.messages[0]["text"] == says(
        "zh_Hant", "The return of order {order} is closed: the item goes back into stock.", order=MIC
    )
    assert click.message.get("reply_markup") in (None, {"inline_keyboard": []})
    assert t.goods(MIC) == "return_closed"

    # The total is not in the Unshipped Orders report, so a full refund needs an amount.
    assert await t.say(t.alice, "/refund 6689831") == (
        f"I don't know the total of order {MIC} (the report had no prices). "
        f"Say how much to refund, for example: /refund {MIC} 12.50. To have its total, import the Order report or "
        "connect Amazon with /amazon: both carry prices."
    )
    assert await refund_after_yes(t, t.alice, "/refund 6689831 39.99") == f"Refunded $39.99 on order {MIC}."
    row = t.order_row(MIC)
    assert (row["money"], row["refunded"]) == ("partially_refunded", "39.99")

    actions = [(e["action"], e["actor_name"], e["from_goods"], e["to_goods"]) for e in t.events(MIC)]
    assert actions == [
        ("imported", "unshipped-orders-us.txt", None, "unshipped"),
        ("ship", "Alice", "unshipped", "shipped"),
        ("request_return", "Alice", "shipped", "return_requested"),
        ("receive_return", "Bob", "return_requested", "return_received"),
        ("restock", "Carol", "return_received", "return_closed"),
        ("refund", "Alice", "return_closed", "return_closed"),
    ]
    assert all(e["chat_id"] == t.group.id for e in t.events(MIC)[1:])


async def test_order_report_gives_totals_and_full_refund(team) -> None:
    """With the Order report's prices, a refund is full by default and never exceeds the total."""
    t = team
    replies = await t.api.upload(t.group, t.alice, "orders.txt", sample("order-report-us.txt"))
    assert replies[0]["text"] == "Order report read (utf-8): 0 new, 3 updated, 0 unchanged."
    assert t.order_row(FAN)["total"] == "65.47"  # 15.50 + 4.99 + 39.99 + 4.99
    await t.say(t.alice, f"/ship {FAN} FedEx 123456789012")
    assert (
        await t.say(t.alice, f"/refund {FAN} 70")
        == f"You can refund at most $65.47 on order {FAN}; $70.00 is too much."
    )
    assert await refund_after_yes(t, t.alice, f"/refund {FAN} 5,46") == (
        f"Refunded $5.46 on order {FAN}; $60.01 can still be refunded."
    )
    assert await refund_after_yes(t, t.alice, f"/refund {FAN}") == f"Order {FAN} refunded in full: $60.01."
    assert await t.say(t.alice, f"/refund {FAN} 1") == (
        f"Order {FAN} has already been refunded in full ($65.47). Last change: refunded by Alice, 11/21/26, 4:00 PM."
    )
    row = t.order_row(FAN)
    assert (row["money"], row["refunded"]) == ("refunded", "65.47")


async def refund_after_yes(t, user, text: str) -> str:
    """``user`` asks for a refund and presses yes under the question; the bot's answer."""
    question = (await t.api.ask(t.group, user, text))[0]
    yes = t.api.buttons(question)[0][1]
    assert yes.startswith("cf:"), t.api.buttons(question)
    click = await t.api.click(t.group, user, question, yes, expect=2)
    return click.messages[0]["text"]


async def test_private_chat_member_sees_buyer_group_does_not(team) -> None:
    t = team
    in_group = await t.say(t.alice, f"/order {KETO}")
    assert "Amy O'Neil" not in in_group and "5 Harbor Rd" not in in_group
    assert "Ships to Portland, US" in in_group
    in_private = await t.say(t.alice, f"/order {KETO}", chat=t.api.private(t.alice))
    assert "Buyer: Amy O'Neil, 5 Harbor Rd, Portland, ME, 04101, US" in in_private
    assert in_private.startswith(f"Order {KETO}\nState: unshipped; money: not refunded\n")


async def test_outsider_gets_a_polite_refusal_and_no_data(team) -> None:
    t = team
    before = t.snapshot()
    dm = t.api.private(t.dave)
    for text in (
        f"/order {KETO}",
        f"/ship {KETO} UPS 1Z999AA10123456784",
        "/orders",
        "发货 4445556 顺丰 SF1234567890123",
    ):
        reply = await t.say(t.dave, text, chat=dm)
        assert reply == (
            "I only work for members of a team group that uses dingdan. Ask your team to add you to their group, "
            "then try again."
        )
    assert t.snapshot() == before


async def test_a_member_who_left_the_group_loses_access(team, clock) -> None:
    t = team
    dm = t.api.private(t.bob)
    assert (await t.say(t.bob, "/order 4445556", chat=dm)).startswith(
        says("zh_Hans", "<b>Order {order}</b>", order=KETO)
    )
    t.api.set_member(t.group.id, t.bob, "left")
    clock.advance(minutes=11)  # membership answers are trusted for 10 minutes
    assert await t.say(t.bob, "/order 4445556", chat=dm) == says(
        "zh_Hans",
        "I only work for members of a team group that uses dingdan. Ask your team to add you to their group, "
        "then try again.",
    )


async def test_a_group_that_is_not_a_team(fake_api, desk) -> None:
    api = fake_api
    eve = api.user(2001, "Eve", language_code="en")
    frank = api.user(2002, "Frank", language_code="en")
    other = api.group(-1009, "Random chat").add(eve, "member").add(frank, "administrator")
    assert (await api.ask(other, eve, "/orders"))[0]["text"] == (
        "This group is not using dingdan yet. A group administrator can start it by sending /start here."
    )
    assert (await api.ask(other, eve, "/start"))[0]["text"] == "Only an administrator of this group can do that."
    started = (await api.ask(other, frank, "/start"))[0]["text"]
    assert started.startswith("dingdan is now this team's order desk.")
    again = (await api.ask(other, frank, "/start@dingdan_test_bot"))[0]["text"]
    assert again.startswith("dingdan is already this team's order desk.")


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("/ship 9999 UPS 1Z999AA10123456784",
         "I can't find order 9999 in this team's orders. Check the number, or import the latest order report first."),
        ("/ship 113-0000000-0000000 UPS 1Z999AA10123456784",
         "I can't find order 113-0000000-0000000 in this team's orders. Check the number, or import the latest order "
         "report first."),
        ("/ship abc UPS 1Z999AA10123456784",
         "“abc” is not an order number. Type the full Amazon order number (like 113-4417305-6689831) or its last 4 or "
         "more digits."),
        ("/ship 6689831 Pigeon 1Z999AA10123456784",
         "I don't know the carrier “Pigeon”. Use an Amazon carrier code such as "),
        ("/ship 6689831 UPS 12345",
         "“12345” does not look like a UPS tracking number (for example 1Z999AA10123456784). Check it and send the "
         "command again."),
        ("/ship 6689831 顺丰 1Z999AA10123456784",
         "“1Z999AA10123456784” does not look like a SF Express tracking number (for example "),
        ("/ship 6689831",
         "Send: /ship ORDER [CARRIER] TRACKING, for example /ship 113-4417305-6689831 UPS 1Z999AA10123456784 or 发货 "
         "6689831 SF1234567890123"),
        ("/cancel 6689831 because",
         "I don't know the reason “because”. Use one of Amazon's reasons: BuyerCanceled, NoInventory, "),
        ("/refund 6689831 abc12",
         "“abc12” is not an amount. Type it like 12.50, 12,50 or $12.50."),
        ("/orders nonsense",
         "I don't know the list “nonsense”. Try /orders, /orders overdue, /orders due-soon, /orders today, "
         "/orders stuck, /orders no-scan, /orders all, /orders shipped or /orders returns."),
    ],
)  # fmt: skip
async def test_bad_input_gets_one_clear_reply_and_changes_nothing(team, text: str, reply: str) -> None:
    t = team
    before, sent = t.snapshot(), len(t.api.sent(t.group))
    got = await t.say(t.alice, text)
    assert got.startswith(reply), got
    await settled(t.api, t.app)
    assert len(t.api.sent(t.group)) == sent + 1
    assert t.snapshot() == before


async def test_ambiguous_tail(team) -> None:
    t = team
    # Two more orders whose numbers end like the speaker's (…1122334).
    await t.api.upload(t.group, t.alice, "more.txt", sample_with_ids(["113-9081726-2222334", "113-1111111-3332334"]))
    reply = await t.say(t.alice, "/order 2334")
    assert reply.startswith("More than one order ends in 2334: ")
    assert set(re.findall(r"\d{3}-\d{7}-\d{7}", reply)) == {
        "113-9081726-2222334", "113-1111111-3332334", SPEAKER}  # fmt: skip
    assert reply.endswith(". Type more digits or the full order number.")
    assert (await t.say(t.alice, "/order 1122334")).startswith(f"Order {SPEAKER}\n")


async def test_every_refusal_of_the_lifecycle_says_what_to_do(team) -> None:
    """DESIGN.md §2, rule by rule, in one chat (private, so the group's rate limit does not apply)."""
    t = team
    dm = t.api.private(t.alice)
    # A pending order: import one with order-status Pending (newer reports carry it).
    pending = "112-0000000-0000001"
    body = sample_with_ids([pending]).decode().splitlines()
    body[0] += "\torder-status"
    body[1] += "\tPending"
    await t.api.upload(dm, t.alice, "pending.txt", ("\n".join(body) + "\n").encode())
    assert t.goods(pending) == "pending"

    async def expect(text: str, reply: str) -> None:
        before = t.snapshot()
        got = await t.say(t.alice, text, chat=dm)
        assert got == reply, got
        assert t.snapshot() == before

    await expect(f"/ship {pending} UPS 1Z999AA10123456784",
                 f"Order {pending} is still pending: Amazon has not verified the payment yet. Never ship a pending "
                 "order; wait until it becomes unshipped.")  # fmt: skip
    await expect(
        f"/refund {MIC} 5",
        f"Order {MIC} has not been shipped (unshipped): cancel it with /cancel instead of refunding.",
    )
    await expect(f"/delivered {MIC}", f"Order {MIC} has not been shipped yet (unshipped); ship it first.")
    await expect(f"/received {MIC}", f"Order {MIC} has not been shipped yet (unshipped); ship it first.")
    await expect(
        f"/correct {MIC} UPS 1Z999AA10123456784",
        f"Order {MIC} has not been shipped yet, so there is no tracking number to correct. Ship it with /ship.",
    )
    # Cancelling a pending order is the seller's right; then shipping it is refused.
    assert await t.say(t.alice, f"/cancel {pending} BuyerCanceled", chat=dm) == (
        f"Order {pending} cancelled (buyer cancelled). Remember to cancel it in Seller Central too if it was not "
        "cancelled there."
    )
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784", chat=dm)
    await expect(f"/cancel {MIC} NoInventory",
                 f"Order {MIC} has already been shipped and cannot be cancelled. Ask the buyer to refuse the delivery "
                 "or return it, then refund. Last change: shipped by Alice, 11/21/26, 4:00 PM.")  # fmt: skip
    await expect(f"/ship {MIC} UPS 1Z999AA10123456784",
                 f"Order {MIC} was already shipped by Alice on 11/21/26, 4:00 PM, with UPS, tracking number "
                 f"1Z999AA10123456784. If that tracking number is wrong, correct it with /correct {MIC} CARRIER "
                 "TRACKING.")  # fmt: skip
    await expect(f"/ship {pending} UPS 1Z999AA10123456784", f"Order {pending} was cancelled, so it cannot be shipped. "
                 "Last change: cancelled by Alice, 11/21/26, 4:00 PM.")  # fmt: skip
    await expect(f"/refund {pending} 5", f"Order {pending} was cancelled before shipment; Amazon does not charge the "
                 "buyer, so there is nothing to refund. Last change: cancelled by Alice, 11/21/26, 4:00 PM.")  # fmt: skip
    await expect(f"/address {MIC}", f"Order {MIC} has already shipped with UPS 1Z999AA10123456784 and cannot be "
                 "redirected through Amazon. Ask UPS to intercept the parcel, or ask the buyer to refuse it and order "
                 "again.")  # fmt: skip
    await t.say(t.alice, f"/delivered {MIC}", chat=dm)
    await expect(f"/lost {MIC}", f"Order {MIC} was delivered, so it cannot be marked lost. If the buyer says it never "
                 "arrived, refund with /refund.")  # fmt: skip
    await t.say(t.alice, f"/return {MIC}", chat=dm)
    await expect(f"/return {MIC}", f"A return is already recorded for order {MIC} (return requested). Last change: "
                 "return recorded by Alice, 11/21/26, 4:00 PM.")  # fmt: skip


async def test_address_change_before_shipping_offers_a_one_tap_cancel(team) -> None:
    t = team
    replies = await t.api.ask(t.group, t.bob, "改地址 4445556")
    advice = replies[0]
    assert advice["text"] == says(
        "zh_Hans",
        "Order {order} has not shipped. Amazon does not let sellers change the address: cancel it with the reason "
        "“address undeliverable” and ask the buyer to order again with the right address.",
        order=KETO,
    )
    click = await t.api.click(t.group, t.bob, advice, f"ac:{KETO}", expect=2)
    assert click.messages[0]["text"] == says(
        "zh_Hans", "Order {order} cancelled ({reason}). Remember to cancel it in Seller Central too if it was not "
        "cancelled there.", order=KETO, reason=says("zh_Hans", "address undeliverable"),
    )  # fmt: skip
    assert t.goods(KETO) == "cancelled"
    event = t.events(KETO)[-1]
    assert (event["action"], event["actor_name"], event["details"]) == (
        "cancel",
        "Bob",
        '{"reason":"ShippingAddressUndeliverable"}',
    )


async def test_tracking_correction_needs_a_yes_and_is_an_event(team) -> None:
    t = team
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    replies = await t.api.ask(t.group, t.alice, "/correct 6689831 FedEx 123456789012")
    question = replies[0]
    assert question["text"] == (
        f"Order {MIC} was shipped with UPS 1Z999AA10123456784. Replace that with FedEx 123456789012?"
    )
    yes = t.api.buttons(question)[0][1]
    # Bob cannot answer Alice's question.
    refused = await t.api.click(t.group, t.bob, question, yes, expect=0)
    assert refused.show_alert and refused.answer == says(
        "zh_Hans", "Only the person who sent the command can answer this question."
    )
    # Alice double-taps "Replace": both taps reach the bot before it removes the buttons.
    first = await t.api.press(t.group, t.alice, question, yes)
    second = await t.api.press(t.group, t.alice, question, yes)
    await t.api.wait_for(lambda: first["id"] in t.api.answers and second["id"] in t.api.answers)
    await t.api.wait_for(lambda: any("corrected" in m.get("text", "") for m in t.api.sent(t.group)))
    answers = sorted(str(t.api.answers[q["id"]].get("text")) for q in (first, second))
    assert answers == ["None", "This question has already been answered."]
    assert t.api.last(t.group)["text"] == f"Tracking number of order {MIC} corrected to FedEx 123456789012."
    row = t.order_row(MIC)
    assert (row["carrier"], row["tracking"]) == ("FedEx", "123456789012")
    last = t.events(MIC)[-1]
    assert last["action"] == "correct_tracking"
    assert '"previous":{"carrier":"UPS","tracking":"1Z999AA10123456784"}' in last["details"]
    assert [e["action"] for e in t.events(MIC)].count("correct_tracking") == 1


async def test_lists_and_history(team) -> None:
    t = team
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    listing = await t.say(t.alice, "/orders")
    assert listing == (
        "3 orders, page 1 of 1:\n"
        f"{SPEAKER} · unshipped · ship by 11/21/26, 3:59 PM\n"
        f"{KETO} · unshipped · ship by 11/23/26, 3:59 PM\n"
        f"{FAN} · unshipped · ship by 11/24/26, 3:59 PM"
    )
    assert await t.say(t.alice, "/orders shipped") == f"1 order, page 1 of 1:\n{MIC} · shipped"
    history = await t.say(t.alice, "/history 6689831")
    assert history == (
        f"History of order {MIC}:\n"
        "11/21/26, 4:00 PM · shipped · by Alice · UPS 1Z999AA10123456784\n"
        "11/21/26, 4:00 PM · imported from a report · from unshipped-orders-us.txt"
    )


async def test_languages_per_person(team) -> None:
    t = team
    # Bob's Telegram says zh-hans; Carol's zh-hant; each is answered in their own script.
    bob_help = await t.say(t.bob, "/help")
    carol_help = await t.say(t.carol, "/help")
    assert bob_help.splitlines()[0] == says(
        "zh_Hans",
        "<b>dingdan</b> works your Amazon orders from this chat. Name an order by its full number or its last 4+ digits.",
    )
    assert carol_help.splitlines()[0] == says(
        "zh_Hant",
        "<b>dingdan</b> works your Amazon orders from this chat. Name an order by its full number or its last 4+ digits.",
    )
    assert bob_help != carol_help
    # Alice switches to Traditional Chinese for herself only.
    assert await t.say(t.alice, "/lang zh_Hant") == says(
        "zh_Hant", "I will answer you in {language}.", language="繁體中文"
    )
    assert (await t.say(t.alice, "/help")).splitlines()[0] == carol_help.splitlines()[0]
    assert (await t.say(t.dave, "/help", chat=t.api.private(t.dave))).startswith("dingdan works your Amazon orders")
    with t.db() as conn:
        assert conn.execute("SELECT language FROM users WHERE user_id = ?", (t.alice.id,)).fetchone()[0] == "zh_Hant"


async def test_command_menus_are_set_per_language(team) -> None:
    t = team
    assert "ship" in t.api.command_names()
    assert t.api.command_names(language_code="zh") == t.api.command_names()

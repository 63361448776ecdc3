"""Refunds a seller can trust, and a /ship race nobody loses silently (issue 7, points 5 and 6).

Alice owns Store A's group (an administrator); Bob writes Simplified Chinese, Carol
Traditional Chinese. The Order report gives three of the four sample orders their
totals; the keto order (…4445556) is only in the Unshipped Orders report, so its total
is unknown. Every refund waits for a yes under a question that shows the amounts.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from bot import i18n
from bot.services import REFUND_CONFIRMATION_TTL
from tests.support.desk import settled
from tests.support.scenario import KETO, MIC, plain, sample, says

ZONE = "Asia/Shanghai"  # the team's time zone (tests/conftest.py)


def m(locale: str, amount: str, currency: str = "USD") -> str:
    """An amount as the desk shows it to a reader of ``locale``."""
    with i18n.using(locale):
        return i18n.money(Decimal(amount), currency)


def at(locale: str, moment) -> str:
    with i18n.using(locale):
        return i18n.when(moment, ZONE).replace("\u202f", " ")


def text(message: dict) -> str:
    return plain(message["text"])


def confirmations(t) -> int:
    with t.db() as conn:
        return conn.execute("SELECT count(*) FROM confirmations").fetchone()[0]


def now_of(t, message: dict) -> dict:
    """A message the bot sent, as it is now (edits applied)."""
    return next(m for m in t.api.sent(message["chat"]["id"]) if m["message_id"] == message["message_id"])


def refunds(t, order_id: str) -> list:
    return [e for e in t.events(order_id) if e["action"] == "refund"]


@pytest.fixture
async def priced(team):
    """The team after the Order report (totals for three orders), with the microphone shipped."""
    t = team
    replies = await t.api.upload(t.group, t.alice, "orders.txt", sample("order-report-us.txt"))
    assert replies[0]["text"] == "Order report read (utf-8): 0 new, 3 updated, 0 unchanged."
    assert t.order_row(MIC)["total"] == "44.98"
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784")
    return t


async def ask_refund(t, user, typed: str, chat=None) -> dict:
    question = (await t.api.ask(chat or t.group, user, typed))[0]
    return question


def yes_of(t, question: dict) -> str:
    return t.api.buttons(question)[0][1]


# ---------------------------------------------------------------------------------------
# The question, and the yes


async def test_alice_is_asked_before_money_moves_and_her_yes_refunds_once(priced) -> None:
    t = priced
    before = t.snapshot()
    question = await ask_refund(t, t.alice, "/refund 6689831 12.50")
    assert text(question) == (
        f"Refund $12.50 on order {MIC}?\nAlready refunded: $0.00 of $44.98.\nRefunded after this: $12.50 of $44.98."
    )
    assert [label for label, _data in t.api.buttons(question)] == ["Refund $12.50", "Don't refund"]
    assert t.snapshot() == before, "asking moves no money"

    # Bob cannot answer Alice's question; it stays open.
    refused = await t.api.click(t.group, t.bob, question, yes_of(t, question), expect=0)
    assert refused.show_alert
    assert refused.answer == says("zh_Hans", "Only the person who sent the command can answer this question.")
    assert t.snapshot() == before
    assert t.api.buttons(refused.message), "the question is still Alice's to answer"

    # Alice double-taps yes: both taps reach the bot before the buttons go.
    yes = yes_of(t, question)
    first = await t.api.press(t.group, t.alice, question, yes)
    second = await t.api.press(t.group, t.alice, question, yes)
    await t.api.wait_for(lambda: first["id"] in t.api.answers and second["id"] in t.api.answers)
    # The question says "Refunded after this" too: wait for the answer itself.
    await t.api.wait_for(lambda: any(m.get("text", "").startswith("Refunded") for m in t.api.sent(t.group)))
    answers = sorted(str(t.api.answers[q["id"]].get("text")) for q in (first, second))
    assert answers == ["None", "This question has already been answered."]
    assert t.api.last(t.group)["text"] == f"Refunded $12.50 on order {MIC}; $32.48 can still be refunded."
    assert not t.api.buttons(now_of(t, question)), "the answered question loses its buttons"

    row = t.order_row(MIC)
    assert (row["money"], row["refunded"]) == ("partially_refunded", "12.50")
    [event] = refunds(t, MIC)
    assert (event["actor_name"], json.loads(event["details"])) == ("Alice", {"amount": "12.50", "currency": "USD"})
    assert confirmations(t) == 0


async def test_bob_and_carol_are_asked_in_their_own_script(priced) -> None:
    """Bob refunds part with 部分 and a reason; Carol refunds the rest with 全額."""
    t = priced
    question = await ask_refund(t, t.bob, "退款 6689831 部分 10 发错货")
    assert text(question) == (
        f"给订单 {MIC} 退款 US$10.00？\n已退款：US$0.00（共 US$44.98）。\n这次之后共退款：US$10.00（共 US$44.98）。\n"
        "原因：发错货。"
    )
    assert text(question) == says(
        "zh_Hans", "Refund {amount} on order {order}?\nAlready refunded: {refunded} of {total}.\n"
        "Refunded after this: {after} of {total}.", order=MIC, amount=m("zh_Hans", "10"),
        refunded=m("zh_Hans", "0"), after=m("zh_Hans", "10"), total=m("zh_Hans", "44.98"),
    ) + "\n" + says("zh_Hans", "Reason: {reason}.", reason=says("zh_Hans", "different item sent"))  # fmt: skip
    assert [label for label, _data in t.api.buttons(question)] == ["退款 US$10.00", "不退款"]
    click = await t.api.click(t.group, t.bob, question, yes_of(t, question), expect=2)
    assert text(click.messages[0]) == says(
        "zh_Hans", "Refunded {amount} on order {order}; {left} can still be refunded.", order=MIC,
        amount=m("zh_Hans", "10"), left=m("zh_Hans", "34.98"))  # fmt: skip
    [event] = refunds(t, MIC)
    assert (event["actor_name"], json.loads(event["details"])) == (
        "Bob",
        {"amount": "10.00", "currency": "USD", "reason": "DifferentItem"},
    )
    assert t.order_row(MIC)["refunded"] == "10.00"

    question = await ask_refund(t, t.carol, "退款 6689831 全額")
    assert text(question) == (
        f"要為訂單 {MIC} 退款 US$34.98 嗎？\n已退款：US$10.00（共 US$44.98）。\n這次之後共退款：US$44.98（共 US$44.98）。"
    )
    click = await t.api.click(t.group, t.carol, question, yes_of(t, question), expect=2)
    assert text(click.messages[0]) == says("zh_Hant", "Order {order} refunded in full: {amount}.", order=MIC,
                                           amount=m("zh_Hant", "34.98"))  # fmt: skip
    row = t.order_row(MIC)
    assert (row["money"], row["refunded"]) == ("refunded", "44.98")
    assert [e["actor_name"] for e in refunds(t, MIC)] == ["Bob", "Carol"]


async def test_no_moves_nothing(priced) -> None:
    t = priced
    before = t.snapshot()
    question = await ask_refund(t, t.alice, "/refund 6689831")
    assert text(question).startswith(f"Refund $44.98 on order {MIC}?")
    no = t.api.buttons(question)[1][1]
    click = await t.api.click(t.group, t.alice, question, no, expect=2)
    assert click.messages[0]["text"] == f"Nothing was done to order {MIC}."
    assert not t.api.buttons(click.message)
    assert t.snapshot() == before
    assert confirmations(t) == 0


async def test_refunding_while_the_return_is_on_its_way_says_so_in_the_one_question(priced) -> None:
    t = priced
    await t.say(t.alice, f"/return {MIC}")
    question = await ask_refund(t, t.alice, "/refund 6689831 5")
    assert text(question) == (
        f"The return of order {MIC} is still on its way back. The usual advice is to refund when it arrives.\n"
        f"Refund $5.00 on order {MIC}?\nAlready refunded: $0.00 of $44.98.\nRefunded after this: $5.00 of $44.98."
    )
    assert [label for label, _data in t.api.buttons(question)] == ["Refund now", "Wait for the return"]
    click = await t.api.click(t.group, t.alice, question, yes_of(t, question), expect=2)
    assert click.messages[0]["text"] == f"Refunded $5.00 on order {MIC}; $39.98 can still be refunded."
    assert (t.goods(MIC), t.order_row(MIC)["refunded"]) == ("return_requested", "5.00")


async def test_a_question_expires_and_its_buttons_go(priced, clock) -> None:
    t = priced
    question = await ask_refund(t, t.alice, "/refund 6689831 12.50")
    before = t.snapshot()
    clock.advance(REFUND_CONFIRMATION_TTL + (REFUND_CONFIRMATION_TTL / 15))
    click = await t.api.click(t.group, t.alice, question, yes_of(t, question), expect=1)
    assert click.show_alert and click.answer == "This question has expired; send the command again."
    assert not t.api.buttons(click.message)
    assert click.messages == []
    assert (t.snapshot(), confirmations(t)) == (before, 0)


async def test_more_than_was_paid_is_refused_before_any_question(priced) -> None:
    t = priced
    before = t.snapshot()
    reply = (await t.api.ask(t.group, t.alice, "/refund 6689831 44.99"))[0]
    assert reply["text"] == f"You can refund at most $44.98 on order {MIC}; $44.99 is too much."
    assert not t.api.buttons(reply)
    assert (t.snapshot(), confirmations(t)) == (before, 0)


async def test_a_yes_to_a_question_whose_figures_changed_is_refused(priced) -> None:
    """Alice and Bob both ask; Bob says yes first. Alice's question showed $0.00 refunded."""
    t = priced
    alices = await ask_refund(t, t.alice, "/refund 6689831 20")
    bobs = await ask_refund(t, t.bob, "退款 6689831 5")
    await t.api.click(t.group, t.bob, bobs, yes_of(t, bobs), expect=2)
    before = t.snapshot()
    click = await t.api.click(t.group, t.alice, alices, yes_of(t, alices), expect=1)
    assert click.answer == (
        f"Order {MIC} changed after this question was asked: $5.00 is refunded now. Nothing was done; send the "
        "refund again to see the new figures."
    )
    assert not t.api.buttons(click.message)
    assert t.snapshot() == before


# ---------------------------------------------------------------------------------------
# An order whose total nobody knows


async def test_an_unknown_total_needs_an_administrators_yes(team) -> None:
    t = team
    await t.say(t.bob, f"发货 {KETO} UPS 1Z999AA10123456784")
    assert t.order_row(KETO)["total"] is None
    before = t.snapshot()
    question = await ask_refund(t, t.bob, f"/refund {KETO} 99999")
    assert text(question) == says(
        "zh_Hans", "Refund {amount} on order {order}?\nAlready refunded: {refunded}.\nRefunded after this: {after}.",
        order=KETO, amount=m("zh_Hans", "99999"), refunded=m("zh_Hans", "0"), after=m("zh_Hans", "99999"),
    ) + "\n" + says(
        "zh_Hans", "I don't know the total of this order (the Unshipped Orders report has no prices), so I cannot "
        "check the amount against what the buyer paid: an administrator of the group must confirm. To have the "
        "prices, import the Order report or connect Amazon with /amazon.",
    )  # fmt: skip
    assert "US$99,999.00" in text(question) and "/amazon" in text(question)
    yes = yes_of(t, question)

    # Bob asked, but is not an administrator; neither is Carol.
    for who, locale in ((t.bob, "zh_Hans"), (t.carol, "zh_Hant")):
        refused = await t.api.click(t.group, who, question, yes, expect=0)
        assert refused.show_alert and refused.answer == says(
            locale, "Only an administrator of the group can confirm this refund, because the order's total is unknown."
        )
        assert t.snapshot() == before
    # Alice is: her yes refunds, in her name, and the history says Bob asked.
    click = await t.api.click(t.group, t.alice, question, yes, expect=2)
    assert click.messages[0]["text"] == f"Refunded $99,999.00 on order {KETO}."
    [event] = refunds(t, KETO)
    assert (event["actor_name"], json.loads(event["details"])) == (
        "Alice",
        {"amount": "99999.00", "asked_by": "Bob", "currency": "USD"},
    )


async def test_an_administrator_confirms_their_own_question(team) -> None:
    t = team
    await t.say(t.alice, f"/ship {KETO} UPS 1Z999AA10123456784")
    question = await ask_refund(t, t.alice, f"/refund {KETO} 12.50 CustomerReturn")
    assert text(question).endswith("Reason: customer return.\n" + says(
        "en", "I don't know the total of this order (the Unshipped Orders report has no prices), so I cannot check the "
        "amount against what the buyer paid: an administrator of the group must confirm. To have the prices, import "
        "the Order report or connect Amazon with /amazon."))  # fmt: skip
    click = await t.api.click(t.group, t.alice, question, yes_of(t, question), expect=2)
    assert click.messages[0]["text"] == f"Refunded $12.50 on order {KETO}."
    [event] = refunds(t, KETO)
    assert json.loads(event["details"]) == {"amount": "12.50", "currency": "USD", "reason": "CustomerReturn"}


async def test_in_a_private_chat_a_member_is_sent_to_the_group_for_an_unknown_total(team) -> None:
    t = team
    await t.say(t.bob, f"发货 {KETO} UPS 1Z999AA10123456784")
    before = t.snapshot()
    reply = await t.say(t.bob, f"退款 {KETO} 20", chat=t.api.private(t.bob))
    assert reply == says(
        "zh_Hans", "I don't know the total of order {order}, so an administrator of the group must confirm this "
        "refund. Send it in the group, where an administrator can confirm it, or first import the Order report or "
        "connect Amazon with /amazon to have its prices.", order=KETO)  # fmt: skip
    assert (t.snapshot(), confirmations(t)) == (before, 0)


async def test_an_ambiguous_amount_on_an_unknown_total_is_refused(team) -> None:
    t = team
    await t.say(t.alice, f"/ship {KETO} UPS 1Z999AA10123456784")
    before = t.snapshot()
    assert await t.say(t.alice, f"/refund {KETO} 12.345") == (
        "“12.345” could mean 12345 or an amount with three decimals. Type 12345 without the separator if that is "
        "what you mean, or the amount with at most two decimals, like 12.50."
    )
    assert (t.snapshot(), confirmations(t)) == (before, 0)


# ---------------------------------------------------------------------------------------
# What a person types, read the way they meant it


@pytest.mark.parametrize("typed", ["¥12.5", "12.5元", "12.5 元", "12.5块", "人民币12.5", "RMB 12.5", "12.5 CNY",
                                   "CNY12.5", "€12,50", "12.5 人民幣"])  # fmt: skip
async def test_another_currency_is_refused_the_same_way_every_time(priced, typed: str) -> None:
    t = priced
    before = t.snapshot()
    marker = typed.replace("12.5", "").replace("12,50", "").strip()
    reply = await t.say(t.alice, f"退款 6689831 {typed}", chat=t.api.private(t.alice))
    assert reply == (
        f"Order {MIC} is paid in US Dollar (USD), so it is refunded in USD; {marker} is another currency. Type the "
        "amount in USD, or just the number."
    )
    assert (t.snapshot(), confirmations(t)) == (before, 0)


async def test_another_currency_in_chinese(priced) -> None:
    t = priced
    reply = await t.say(t.bob, "退款 6689831 ¥12.5", chat=t.api.private(t.bob))
    assert reply == (f"订单 {MIC} 用美元（USD）付款，也要用 USD 退款；¥ 是别的货币。请输入 USD 金额，或只写数字。")


async def test_words_that_are_not_amounts_are_asked_about_and_change_nothing(priced) -> None:
    t = priced
    dm = t.api.private(t.alice)
    before = t.snapshot()
    expected = {
        "/refund 6689831 twelve": "Type the amount in digits, like 12.50: I don't read “twelve” as an amount.",
        "/refund 6689831 scratched": "I don't understand “scratched” in a refund, so nothing was done. Type the "
        "amount in digits, or no amount to refund in full; one of Amazon's reasons may follow, and a note after the "
        "reason. For example: /refund 6689831 12.50 DifferentItem wrong colour, or 退款 6689831 部分 12.50 发错货. "
        "Reasons: CustomerReturn, GeneralAdjustment, DifferentItem, CouldNotShip, NoInventory, ProductOutofStock, "
        "CustomerCancel, PriceError, CustomerAddressIncorrect, Undeliverable, RefusedDelivery, Abandoned, Exchange, "
        "CarrierCreditDecision, CarrierCoverageFailure, RiskAssessmentInformationNotValid, and Other.",
        "退款 6689831 部分": "How much? “部分” means part of the order, so add the amount, for example: "
        "退款 6689831 部分 12.50 or /refund 6689831 12.50",
        "/refund 6689831 0": "A refund must be more than zero; “0” is not.",
        "/refund 6689831 -5": "A refund must be more than zero; “-5” is not.",
        "/refund 6689831 " + "9" * 30: f"“{'9' * 30}” is far too large to be an amount. Check it and type it again.",
        "/refund 6689831 " + "9" * 400: f"“{'9' * 39}…” is far too large to be an amount. Check it and type it again.",
        "/refund 6689831 12.5.5": "“12.5.5” is not an amount. Type it like 12.50, 12,50 or $12.50.",
        "/refund 6689831 10 20": "I see two amounts, “10” and “20”. Send one amount per refund.",
        "退款 6689831 全额 10": "“全额” means the whole order, but you also typed 10. Send /refund ORDER for the whole "
        "order, or /refund ORDER AMOUNT for part of it.",
    }
    for typed, reply in expected.items():
        assert await t.say(t.alice, typed, chat=dm) == reply, typed
    assert (t.snapshot(), confirmations(t)) == (before, 0)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("/refund 6689831 12.50", "12.50"), ("/refund 6689831 defective 12.50", "12.50"),
     ("退款 6689831 部分 10", "10.00"), ("退款 6689831 10 部分", "10.00"), ("退款 6689831 部分10", "10.00"),
     ("/refund 6689831 12,50", "12.50"), ("/refund 6689831 $12.50", "12.50"), ("/refund 6689831 12.50 USD", "12.50"),
     ("/refund 6689831 US$12.50", "12.50"), ("/refund 6689831 12.50 CustomerReturn box crushed", "12.50"),
     ("退款 6689831 全额", "44.98"), ("/refund 6689831 in full", "44.98")],
)  # fmt: skip
async def test_amounts_are_read_wherever_they_stand(priced, typed: str, amount: str) -> None:
    t = priced
    dm = t.api.private(t.alice)
    question = (await t.api.ask(dm, t.alice, typed))[0]
    assert text(question).startswith(f"Refund ${amount} on order {MIC}?\n"), text(question)
    click = await t.api.click(dm, t.alice, question, yes_of(t, question), expect=2)
    assert click.messages[0]["text"].startswith(("Refunded $", f"Order {MIC} refunded in full"))
    assert t.order_row(MIC)["refunded"] == amount


# ---------------------------------------------------------------------------------------
# The /ship race


def answers(replies: list[dict]) -> list[tuple[int, str]]:
    """Who each reply answers, and what it says: a reply quotes the person's message; when the
    group's queue backed up, several replies arrive merged into one message, a line each that
    starts with a mention of the person ("Name: reply"; "Name：reply" in Chinese)."""
    found: list[tuple[int, str]] = []
    for message in replies:
        if message.get("reply_to_message"):
            found.append((message["reply_to_message"]["from"]["id"], text(message)))
            continue
        body = text(message)
        links = [e for e in message.get("entities", []) if e["type"] == "text_link"]
        assert links, f"neither a reply nor a merged message: {body!r}"
        for n, link in enumerate(links):
            end = links[n + 1]["offset"] if n + 1 < len(links) else len(body)
            line = body[link["offset"] + link["length"] : end].strip()
            found.append(
                (int(link["url"].removeprefix("tg://user?id=")), line.removeprefix(":").removeprefix("：").strip())
            )
    return found


async def test_ten_people_ship_one_order_at_once_and_the_losers_are_told_who_won(team, clock) -> None:
    t = team
    racers = [(t.alice, "en"), (t.bob, "zh_Hans"), (t.carol, "zh_Hant")]
    for n, language in enumerate(["en", "zh-hans", "zh-hant", "en", "zh-tw", "zh-cn", "en"]):
        person = t.api.user(1100 + n, f"Staff{n}", language_code=language)
        t.group.add(person)
        racers.append((person, i18n.normalise(language)))
    tracking = {who.id: f"1Z999AA1012345{n:04d}" for n, (who, _loc) in enumerate(racers)}
    before_events = len(t.events())
    sent = len(t.api.sent(t.group))

    await asyncio.gather(*(t.api.send_text(t.group, who, f"/ship 6689831 UPS {tracking[who.id]}")
                           for who, _loc in racers))  # fmt: skip
    await settled(t.api, t.app)
    replies = t.api.sent(t.group)[sent:]
    answered = answers(replies)
    assert sorted(who for who, _said in answered) == sorted(who.id for who, _loc in racers), (
        "everyone is answered, once"
    )
    by_user = dict(answered)

    ships = [e for e in t.events(MIC) if e["action"] == "ship"]
    assert len(ships) == 1 and len(t.events()) == before_events + 1
    winner = next(who for who, _loc in racers if who.id == ships[0]["actor_id"])
    won_with = tracking[winner.id]
    assert (t.order_row(MIC)["tracking"], ships[0]["actor_name"]) == (won_with, winner.first_name)
    for who, locale in racers:
        reply = by_user[who.id]
        if who is winner:
            assert reply == says(locale, "Order {order} shipped with {carrier}, tracking number {tracking}.", order=MIC,
                                 carrier="UPS", tracking=won_with)  # fmt: skip
        else:
            assert reply == says(
                locale, "Order {order} was already shipped by {by} on {when}, with {carrier}, tracking number "
                "{tracking}. If that tracking number is wrong, correct it with /correct {order} CARRIER TRACKING.",
                order=MIC, by=winner.first_name, when=at(locale, clock()), carrier="UPS", tracking=won_with,
            ), (who.first_name, reply)  # fmt: skip
    assert not any(t.api.buttons(r) for r in replies), "nobody is offered to overwrite the winner"
    assert confirmations(t) == 0


async def test_shipping_a_shipped_order_again_in_chinese(team, clock) -> None:
    t = team
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784")
    reply = (await t.api.ask(t.group, t.carol, "發貨 6689831 順豐 SF1234567890123"))[0]
    assert text(reply) == (
        f"訂單 {MIC} 已由 Alice 於 {at('zh_Hant', clock())} 出貨：UPS，追蹤編號 1Z999AA10123456784。如果追蹤編號有誤，"
        f"請傳送 改單號 {MIC} 承運商 追蹤編號 修正。"
    )
    assert not t.api.buttons(reply)
    assert t.order_row(MIC)["tracking"] == "1Z999AA10123456784"

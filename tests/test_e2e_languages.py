"""Whose language (issue 9 point 1): a reply is in the person's own language, the group's is for the rest.

Six people in the group, one per language code a Chinese team's Telegram apps send: zh-CN,
zh-hans, zh-hant, zh-TW, zh-HK and plain zh. Each looks up an order after ``/lang group
zh_Hans`` and again after ``/lang group zh_Hant``: their script never follows the group's,
except plain ``zh``, which says Chinese without a script and so takes a Traditional group's.
Someone whose language is unknown (no code, or one we do not speak) reads the group's; a
``/lang`` choice beats everything; alerts speak the group's language.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import i18n
from bot.domain import Goods, Money
from bot.texts import MONEY_NAMES, REASON_NAMES, STATE_NAMES
from tests.support.alerts import mark, read, wait_alerts
from tests.support.scenario import FAN, KETO, MIC, says
from tests.support.scripts import foreign, only

#: (user id, name, Telegram language_code, script in a zh_Hans group, script in a zh_Hant group)
PEOPLE = [
    (2001, "Wang", "zh-CN", "zh_Hans", "zh_Hans"),
    (2002, "Li", "zh-hans", "zh_Hans", "zh_Hans"),
    (2003, "Chen", "zh-hant", "zh_Hant", "zh_Hant"),
    (2004, "Lin", "zh-TW", "zh_Hant", "zh_Hant"),
    (2005, "Wong", "zh-HK", "zh_Hant", "zh_Hant"),
    (2006, "Zhang", "zh", "zh_Hans", "zh_Hant"),
]


def card_head(locale: str) -> list[str]:
    """The order card's first two lines (the order, its state and money) as the reader reads them."""
    with i18n.using(locale):
        state, money = i18n._(STATE_NAMES[Goods.unshipped]), i18n._(MONEY_NAMES[Money.none])
    return [says(locale, "<b>Order {order}</b>", order=MIC),
            says(locale, "State: {state}; money: {money}", state=state, money=money)]  # fmt: skip


def join(t: Any) -> dict[str, Any]:
    people = {}
    for user_id, name, code, _hans, _hant in PEOPLE:
        person = t.api.user(user_id, name, language_code=code)
        t.group.add(person)
        people[code] = person
    return people


async def looks_up(t: Any, person: Any) -> list[str]:
    lines = (await t.say(person, f"/order {MIC}")).splitlines()
    return [lines[0], lines[1]]


@pytest.mark.parametrize("group_language", ["zh_Hans", "zh_Hant"])
async def test_each_person_reads_their_own_script_whatever_the_group_speaks(team, group_language: str) -> None:
    t = team
    people = join(t)
    assert await t.say(t.alice, f"/lang group {group_language}") == says(
        group_language, "This group's default language is now {language}.",
        language={"zh_Hans": "简体中文", "zh_Hant": "繁體中文"}[group_language],
    )  # fmt: skip
    with t.db() as conn:
        assert conn.execute("SELECT language FROM chats WHERE chat_id = ?", (t.group.id,)).fetchone()[0] == (
            group_language
        )
    for _user_id, _name, code, in_hans, in_hant in PEOPLE:
        expected = in_hans if group_language == "zh_Hans" else in_hant
        assert await looks_up(t, people[code]) == card_head(expected), code
    # What was stored is each person's Telegram language, never a copy of the group's.
    with t.db() as conn:
        stored = dict(conn.execute("SELECT telegram_language, language FROM users WHERE user_id > 2000").fetchall())
    assert stored == {code: None for _i, _n, code, _s, _h in PEOPLE}


async def test_an_action_answers_the_person_in_the_group_in_their_script(team) -> None:
    t = team
    people = join(t)
    await t.say(t.alice, "/lang group zh_Hans")
    reply = await t.say(people["zh-TW"], f"/ship {MIC} UPS 1Z999AA10123456784")
    assert reply == says(
        "zh_Hant", "Order {order} shipped with {carrier}, tracking number {tracking}.",
        order=MIC, carrier="UPS", tracking="1Z999AA10123456784",
    )  # fmt: skip
    assert t.goods(MIC) == "shipped"
    await t.say(t.alice, "/lang group zh_Hant")
    reply = await t.say(people["zh-CN"], f"/order {KETO}")
    assert reply.splitlines()[0] == says("zh_Hans", "<b>Order {order}</b>", order=KETO)


async def test_unknown_languages_read_the_groups_and_a_choice_beats_everything(team) -> None:
    t = team
    nobody = t.api.user(2101, "Anon")  # no language_code at all
    russian = t.api.user(2102, "Ivan", language_code="ru")
    t.group.add(nobody).add(russian)
    await t.say(t.alice, "/lang group zh_Hant")
    assert (await looks_up(t, nobody))[0] == card_head("zh_Hant")[0]
    assert (await looks_up(t, russian))[0] == card_head("zh_Hant")[0]
    # Bob's app says zh-hans; his own choice of Traditional wins over it and over the group.
    assert await t.say(t.bob, "/lang zh_Hant") == says(
        "zh_Hant", "I will answer you in {language}.", language="繁體中文"
    )
    await t.say(t.alice, "/lang group zh_Hans")
    assert (await looks_up(t, t.bob))[0] == card_head("zh_Hant")[0]
    # Carol (zh-hant) chose nothing: Traditional, in a Simplified group.
    assert (await looks_up(t, t.carol))[0] == card_head("zh_Hant")[0]
    # Alice's app is English: her replies stay English in a Chinese group.
    assert (await looks_up(t, t.alice))[0] == f"Order {MIC}"
    with t.db() as conn:
        assert conn.execute("SELECT language FROM users WHERE user_id = ?", (t.bob.id,)).fetchone()[0] == "zh_Hant"
        assert conn.execute("SELECT telegram_language FROM users WHERE user_id = 2102").fetchone()[0] == "ru"


@pytest.mark.alerts
async def test_alerts_speak_the_groups_language_not_the_last_readers(alert_team, clock) -> None:
    t = alert_team
    people = join(t)
    await t.api.ask(t.group, t.alice, "/lang group zh_Hans")
    await looks_up(t, people["zh-HK"])  # a Traditional reader spoke last
    start = mark(t)
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    text = read((await wait_alerts(t, 1, since=start))[0])
    # Whatever the alert's wording, it is written in Simplified only.
    assert foreign(text, "zh_Hans") == [], text
    assert any(c in only()["zh_Hans"] for c in text), text


# --- Amazon's reasons by their Chinese names (issue 9 point 4) ---------------------------

CANCEL_CODES = ["BuyerCanceled", "NoInventory", "ShippingAddressUndeliverable", "CustomerExchange", "PricingError",
                "GeneralAdjustment", "CarrierCreditDecision", "RiskAssessmentInformationNotValid",
                "CarrierCoverageFailure", "CustomerReturn", "MerchandiseNotReceived"]  # fmt: skip


@pytest.mark.parametrize("person", ["bob", "carol", "alice"])
async def test_an_unknown_cancel_reason_lists_the_reasons_by_name_and_changes_nothing(team, person: str) -> None:
    t = team
    reader = getattr(t, person)
    locale = {"bob": "zh_Hans", "carol": "zh_Hant", "alice": "en"}[person]
    before = t.snapshot()
    reply = await t.say(reader, f"/cancel {FAN} whatever")
    with i18n.using(locale):
        names = CANCEL_CODES if locale == "en" else [i18n._(REASON_NAMES[c]) for c in CANCEL_CODES]
        choices = "、".join(names) if locale != "en" else i18n.listing(names)
    assert reply == says(locale, "I don't know the reason “{text}”. Use one of Amazon's reasons: {choices}.",
                         text="whatever", choices=choices)  # fmt: skip
    if locale != "en":
        assert not any(code in reply for code in CANCEL_CODES)
        assert foreign(reply, locale) == []
    assert t.snapshot() == before
    # A name copied from the list is understood.
    with i18n.using(locale):
        name = i18n._(REASON_NAMES["NoInventory"]) if locale != "en" else "NoInventory"
    await t.say(reader, f"/cancel {FAN} {name}")
    assert t.goods(FAN) == "cancelled"
    cancel = t.events(FAN)[-1]
    assert cancel["action"] == "cancel" and json.loads(cancel["details"])["reason"] == "NoInventory"


async def test_in_private_the_group_language_is_the_persons_teams(team) -> None:
    """Plain zh and unknown languages read their team group's language in private too."""
    t = team
    people = join(t)
    nobody = t.api.user(2101, "Anon")
    t.group.add(nobody)
    await t.say(t.alice, "/lang group zh_Hant")
    for person, expected in ((people["zh"], "zh_Hant"), (nobody, "zh_Hant"), (people["zh-CN"], "zh_Hans")):
        await looks_up(t, person)  # in the group first: the desk learns their team
        reply = await t.say(person, f"/order {MIC}", chat=t.api.private(person))
        assert reply.splitlines()[0] == card_head(expected)[0], person.first_name
    # Someone in no team, with no language, writing privately: English.
    stranger = t.api.user(2201, "Stranger")
    reply = await t.say(stranger, "/order 6689831", chat=t.api.private(stranger))
    assert reply == says("en", "I only work for members of a team group that uses dingdan. Ask your team to add you "
                               "to their group, then try again.")  # fmt: skip


# --- both scripts: 24-hour times and lists joined with 、 (issue 9 point 4) ---------------


async def test_times_are_24_hour_and_lists_join_with_the_enumeration_comma(team) -> None:
    t = team
    # Carol reads Traditional: KETO's ship-by, 07:59 UTC, is 15:59 in the team's Shanghai time, not 下午3:59.
    card = (await t.say(t.carol, f"/order {KETO}")).splitlines()
    assert card[2] == "最晚出貨時間：2026/11/23 15:59（還剩 2 天）。"
    assert card[3] == "下單時間：2026/11/21 06:45"
    bob_card = (await t.say(t.bob, f"/order {KETO}")).splitlines()
    assert bob_card[2] == "最晚发货时间：2026/11/23 15:59（还剩 2天）。"  # CLDR's zh_Hans: 2天
    # The lead hours are a list: 24、4, never CLDR's glued 24和4.
    await t.say(t.alice, "/lang zh_Hans")
    settings = (await t.say(t.alice, "/alerts")).splitlines()
    assert "最晚发货时间提醒：提前 24、4 小时" in settings
    assert not any("和" in line for line in settings)
    await t.say(t.alice, "/lang zh_Hant")
    settings = (await t.say(t.alice, "/alerts")).splitlines()
    assert "最晚出貨時間提醒：提前 24、4 小時" in settings

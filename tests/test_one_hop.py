"""What one command costs the database (issue 11 point 4): calls into it, counted while the
update is processed. A warm /ship reads the person with the team she works for, then the order,
and writes the shipment and its reply in two calls; the membership check within the trusted
minute, the chat's language and the person's teams come from memory. On SQLite none of them
hops into a thread: small work runs on the event loop's own thread (``Database.run_inline``).
And what memory keeps is forgotten when it changes: a member who left is refused at once, though
checked a moment before.
"""

from __future__ import annotations

from typing import Any

from bot import i18n
from tests.support.calls import Calls
from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, SPEAKER, says


class Hops(Calls):
    """The calls made while an update is processed (``calls``); on SQLite, none may hop."""

    def __init__(self, monkeypatch: Any, db_target: Any) -> None:
        super().__init__(monkeypatch)
        self.sqlite = not str(db_target).startswith("postgresql")

    @property
    def calls(self) -> list[Any]:
        made = self.in_update
        if self.sqlite:
            assert not [c for c in made if c.hop], made  # every one on the event loop's thread
        return made


async def test_a_warm_ship_costs_four_calls_into_the_database(team, db_target, monkeypatch) -> None:
    t = team
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/order {FAN}", chat=dm)  # Alice's first message here: who she is is written
    await t.say(t.alice, f"/order {FAN}")
    await settled(t.api, t.app)
    hops = Hops(monkeypatch, db_target)
    assert (await t.say(t.alice, f"/ship {KETO} UPS 1Z999AA10123456784", chat=dm)).startswith(f"Order {KETO} shipped")
    await settled(t.api, t.app)
    # The person with the team she works for; the order with its items; the shipment with its event;
    # the reply and "done".
    assert len(hops.calls) == 4, hops.calls
    hops.clear()
    assert (await t.say(t.alice, f"/ship {SPEAKER} UPS 1Z999AA10123456785")).startswith(f"Order {SPEAKER} shipped")
    await settled(t.api, t.app)
    assert len(hops.calls) == 4, hops.calls
    assert [e["action"] for e in t.events(KETO)][-1] == "ship" and t.goods(SPEAKER) == "shipped"


async def test_what_memory_keeps_is_forgotten_when_it_changes(team) -> None:
    t = team
    dm = t.api.private(t.bob)
    assert "Li Wei" in await t.say(t.bob, f"/order {FAN}", chat=dm)  # checked, and kept for a minute
    assert "Li Wei" in await t.say(t.bob, f"/order {FAN}", chat=dm)
    # Bob leaves the group: at once, nothing of the team is his to see, though he was checked a moment ago.
    t.api.member_leaves(t.group, t.bob)
    await settled(t.api, t.app)
    reply = await t.say(t.bob, f"/order {FAN}", chat=dm)
    assert reply == says("zh_Hans", "I only work for members of a team group that uses dingdan. Ask your team to add "
                         "you to their group, then try again.")  # fmt: skip


async def test_a_private_ship_that_asks_telegram_reads_once_before(team, db_target, clock, monkeypatch) -> None:
    """Before Telegram is asked, one read finds the teams to ask about, the person's last check in
    each and the teams themselves, in the same call as the write of who she is on her first
    message; after it, only the check is written (was 9 and 8 calls)."""
    t = team
    dm = t.api.private(t.carol)
    await settled(t.api, t.app)
    hops = Hops(monkeypatch, db_target)
    # Carol's first message: who she is, with the teams to try, her checks (none) and the team; her check.
    assert (await t.say(t.carol, f"/ship {KETO} UPS 1Z999AA10123456784", chat=dm)).startswith(f"訂單 {KETO}")
    await settled(t.api, t.app)
    assert len(hops.calls) == 5, hops.calls  # ... then the order, the shipment, the reply and "done"
    hops.clear()
    clock.advance(minutes=2)  # her check is no longer trusted: Telegram is asked again
    assert (await t.say(t.carol, f"/ship {SPEAKER} UPS 1Z999AA10123456785", chat=dm)).startswith(f"訂單 {SPEAKER}")
    await settled(t.api, t.app)
    assert len(hops.calls) == 6, hops.calls  # the person; the teams to try with her check and the team; ...
    assert [c["user_id"] for c in t.api.calls_of("getChatMember")].count(t.carol.id) == 2
    assert t.goods(KETO) == "shipped" and t.goods(SPEAKER) == "shipped"


async def test_a_first_private_message_reads_what_access_needs_with_who_wrote(team, db_target, monkeypatch) -> None:
    t = team
    assert (await t.say(t.bob, f"/order {FAN}")).startswith("订单 ")  # checked with Telegram a moment ago, in the group
    await settled(t.api, t.app)
    asked = len(t.api.calls_of("getChatMember"))
    hops = Hops(monkeypatch, db_target)
    reply = await t.say(t.bob, f"/ship {KETO} UPS 1Z999AA10123456784", chat=t.api.private(t.bob))
    assert reply.startswith(f"订单 {KETO}"), reply
    await settled(t.api, t.app)
    # Who he is, with his checks and the team; the order; the shipment; the reply and "done".
    assert len(hops.calls) == 4, hops.calls
    assert len(t.api.calls_of("getChatMember")) == asked and t.goods(KETO) == "shipped"


def test_the_group_language_is_looked_up_only_where_it_can_matter() -> None:
    # A private chat's group language costs a read for a person with no active team: skipped
    # when the person's own language decides whatever the group's is.
    groups = [None, "en", "zh_Hans", "zh_Hant"]
    for chosen in (None, "en", "zh_Hans", "zh_Hant", "fr"):
        for telegram in (None, "", "en", "en-GB", "zh", " ZH ", "zh-hans", "zh-hant", "fr"):
            answers = {i18n.person_language(chosen, telegram, group) for group in groups}
            assert i18n.group_matters(chosen, telegram) == (len(answers) > 1), (chosen, telegram, answers)

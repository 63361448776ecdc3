"""Trust (issue 7): edits never act, a committed action's reply always arrives, only verified
members act, anonymous administrators look but do not touch, channels are ignored.

Each test drives the real Application through the fake Bot API and reads the SQLite file.
Silence is checked by waiting until the desk marked the update done in its inbox, then
looking at what it sent and queued: no sleeping.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.storage import Store
from tests.support.desk import processed, settled
from tests.support.scenario import FAN, MIC, says

SHIP = "/ship 6689831 UPS 1Z999AA10123456784"
SHIPPED = f"Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784."


def queued_replies(t: Any, chat_id: int) -> list[sqlite3.Row]:
    with t.db() as conn:
        return conn.execute("SELECT * FROM outbox WHERE chat_id = ? AND kind != 'alert'", (chat_id,)).fetchall()


async def retried(t: Any, chat_id: int, attempts: int, kind: str = "reply") -> None:
    """Wait until the chat's queued message failed ``attempts`` times and waits for a retry."""

    def failed_enough() -> bool:
        with t.db() as conn:
            row = conn.execute("SELECT attempts FROM outbox WHERE chat_id = ? AND kind = ? AND status = 'pending' "
                               "ORDER BY outbox_id DESC LIMIT 1", (chat_id, kind)).fetchone()  # fmt: skip
        return row is not None and row[0] >= attempts

    await t.api.wait_for(failed_enough, what=f"{attempts} failed attempt(s)")


def sender(t: Any) -> Any:
    return t.app.bot_data["services"].sender


# --- an edit never acts ------------------------------------------------------------------


async def test_an_edited_command_never_acts_and_is_answered_once(team) -> None:
    t = team
    start = len(t.api.sent(t.group))
    message = await t.api.send_text(t.group, t.alice, f"/order {FAN}")
    await t.api.wait_for(lambda: len(t.api.sent(t.group)) == start + 1)
    before, sent = t.snapshot(), len(t.api.sent(t.group))

    await t.api.edit_text(t.group, message, f"/cancel {FAN} NoInventory")
    await settled(t.api, t.app)
    notice = t.api.sent(t.group)[sent:]
    assert [m["text"] for m in notice] == [
        "Edits are not commands: nothing was done. Send the command again as a new message."
    ]
    assert notice[0]["reply_to_message"]["message_id"] == message["message_id"]
    assert t.snapshot() == before

    # Editing it again: still nothing done, and not said twice.
    await t.api.edit_text(t.group, message, f"/cancel {FAN} BuyerCanceled")
    await settled(t.api, t.app)
    assert len(t.api.sent(t.group)) == sent + 1
    assert t.snapshot() == before
    assert t.goods(FAN) == "unshipped"


async def test_chatter_edited_into_a_chinese_keyword_does_nothing(team) -> None:
    t = team
    message = await t.api.send_text(t.group, t.bob, "大家好")
    await settled(t.api, t.app)  # the greeting itself is nobody's command
    before, sent = t.snapshot(), len(t.api.sent(t.group))
    await t.api.edit_text(t.group, message, "取消 7654321 缺货")
    await settled(t.api, t.app)
    assert [m["text"] for m in t.api.sent(t.group)[sent:]] == [
        says("zh_Hans", "Edits are not commands: nothing was done. Send the command again as a new message.")
    ]
    assert t.snapshot() == before

    # An edit of plain chat stays plain chat: no answer at all.
    other = await t.api.send_text(t.group, t.carol, "早安")
    await settled(t.api, t.app)
    await t.api.edit_text(t.group, other, "午安")
    await settled(t.api, t.app)
    assert len(t.api.sent(t.group)) == sent + 1


# --- a committed action's reply arrives ---------------------------------------------------


async def test_a_reply_that_telegram_fails_is_sent_later_and_once(team, clock) -> None:
    """Three 500s on the reply to /ship: the order is shipped once and Alice hears it once."""
    t = team
    start = len(t.api.sent(t.group))
    t.api.fail_next("sendMessage", status=500, count=3)
    await t.api.send_text(t.group, t.alice, SHIP)
    await processed(t.api, t.app)
    assert t.goods(MIC) == "shipped"
    assert [e["action"] for e in t.events(MIC)] == ["imported", "ship"]
    for failures in range(1, 4):  # each failure waits a back-off of the desk's clock
        await retried(t, t.group.id, failures)
        clock.advance(minutes=1)
        sender(t).kick()
    await t.api.wait_for(lambda: len(t.api.sent(t.group)) > start, what="the reply to arrive")
    await sender(t).idle()
    assert [m["text"] for m in t.api.sent(t.group)[start:]] == [SHIPPED]
    assert [e["status"] for e in t.api.errors] == [500, 500, 500]
    rows = queued_replies(t, t.group.id)
    assert (rows[-1]["status"], rows[-1]["attempts"]) == ("sent", 4)


async def test_a_handler_that_fails_after_writing_changes_nothing(team, monkeypatch) -> None:
    """ "Nothing was changed" is said only when it is true: the write is rolled back."""
    t = team
    real_save = Store.save

    async def save_then_fail(self: Store, *args: Any, **kwargs: Any) -> bool:
        await real_save(self, *args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "save", save_then_fail)
    before = t.snapshot()
    reply = await t.say(t.alice, SHIP)
    assert reply == "Sorry, something went wrong on my side and nothing was changed. Please try again in a moment."
    assert t.snapshot() == before
    monkeypatch.setattr(Store, "save", real_save)
    assert await t.say(t.alice, SHIP) == SHIPPED


async def test_an_export_file_survives_telegram_failing(team, clock) -> None:
    """The file and the shipments' "exported" mark are one: Telegram failing delays it, never loses it."""
    t = team
    assert await t.say(t.alice, SHIP) == SHIPPED
    t.api.fail_next("sendDocument", status=502, count=1)
    await t.api.send_text(t.group, t.alice, "/export")
    await processed(t.api, t.app)
    await retried(t, t.group.id, 1, kind="file")
    clock.advance(minutes=1)
    sender(t).kick()
    await t.api.wait_for(lambda: any("document" in m for m in t.api.sent(t.group)), what="the file")
    files = [m for m in t.api.sent(t.group) if "document" in m]
    assert len(files) == 1
    assert MIC.encode() in files[0]["content"]
    # Told once: the next /export has nothing new.
    assert (await t.say(t.alice, "/export")).startswith("Nothing to export")


# --- who may act ----------------------------------------------------------------------------


async def test_a_stranger_pressing_a_groups_button_is_refused(team) -> None:
    """Dave is not in the (public) group, yet sees its messages and presses a button."""
    t = team
    advice = (await t.api.ask(t.group, t.alice, "/address 7654321"))[0]
    button = t.api.buttons(advice)[0][1]
    before = t.snapshot()
    click = await t.api.click(t.group, t.dave, advice, button, expect=0)
    assert click.show_alert
    assert click.answer == says("en", "I only work for members of a team group that uses dingdan. Ask your team to "
                                "add you to their group, then try again.")  # fmt: skip
    assert t.snapshot() == before
    with t.db() as conn:
        assert [tuple(r) for r in conn.execute("SELECT status FROM members WHERE user_id = ?", (t.dave.id,))] == [
            ("left",)
        ]
    # And his private chat shows him nothing either.
    reply = await t.say(t.dave, f"/order {FAN}", chat=t.api.private(t.dave))
    assert reply.startswith("I only work for members")
    assert "Li Wei" not in reply


async def test_leaving_the_group_revokes_private_access_at_once(team) -> None:
    t = team
    bob_private = t.api.private(t.bob)
    card = await t.say(t.bob, f"/order {FAN}", chat=bob_private)
    assert "Li Wei" in card  # a member sees the buyer in private
    t.api.member_leaves(t.group, t.bob)
    await settled(t.api, t.app)  # the chat_member update and the service message
    reply = await t.say(t.bob, f"/order {FAN}", chat=bob_private)
    assert reply == says("zh_Hans", "I only work for members of a team group that uses dingdan. Ask your team to add "
                         "you to their group, then try again.")  # fmt: skip


async def test_leaving_unannounced_revokes_access_within_a_minute(team, clock) -> None:
    t = team
    carol_private = t.api.private(t.carol)
    assert "Li Wei" in await t.say(t.carol, f"/order {FAN}", chat=carol_private)
    # The desk hears nothing (not an administrator, privacy mode): Telegram is asked again.
    t.api.member_leaves(t.group, t.carol, chat_member_update=False, service_message=False)
    clock.advance(seconds=61)
    reply = await t.say(t.carol, f"/order {FAN}", chat=carol_private)
    assert "Li Wei" not in reply
    assert reply == says("zh_Hant", "I only work for members of a team group that uses dingdan. Ask your team to add "
                         "you to their group, then try again.")  # fmt: skip


async def test_an_anonymous_admin_may_look_but_acts_under_their_own_name(team) -> None:
    t = team
    await t.api.send_anonymously(t.group, t.alice, f"/order {FAN}")
    await settled(t.api, t.app)
    card = t.api.sent(t.group)[-1]["text"]
    assert FAN in card and "Li Wei" not in card  # the group's card, no buyer data
    before = t.snapshot()
    await t.api.send_anonymously(t.group, t.alice, f"/cancel {FAN} NoInventory")
    await settled(t.api, t.app)
    assert t.api.sent(t.group)[-1]["text"] == (
        "You are writing anonymously as the group. I can show orders, but changes are made under a person's own "
        "name so that the history says who did them: turn off “Remain anonymous” in your administrator rights, or "
        "send it from your own account."
    )
    assert t.snapshot() == before
    with t.db() as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE user_id = 1087968824").fetchone()[0] == 0


async def test_channel_posts_are_ignored(team) -> None:
    t = team
    channel = t.api.channel(-1005550001, "Store A news")
    before = t.snapshot()
    await t.api.post_in_channel(channel, SHIP)
    await t.api.post_in_channel(channel, document=("unshipped.txt", b"order-id\tsku\n"))
    await t.api.post_in_channel(channel, "发货 6689831 UPS 1Z999AA10123456784")
    await settled(t.api, t.app)
    assert t.api.sent(channel) == []
    assert queued_replies(t, channel.id) == []
    assert t.snapshot() == before

"""What a reply costs the sender in the database (issue 11 point 4): an update's reply, committed
with nothing of its chat waiting before it, is taken from the commit (``Sender.kick``), so the
sender only marks it sent and looks at the chat's queue again, in one call, on the event loop's
thread. While nothing else was queued since the hand-over, the chat's queue is known to be
empty: the mark comes without a look at it. Its queue seen empty after the last thing queued,
the sender does not read the outbox once more when the chat's delivery ends."""

from __future__ import annotations

import pytest

import bot.durable
from bot.storage.outbox import Outbox
from tests.support.calls import Calls
from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER


@pytest.mark.stores("sqlite")  # small work on the event loop's thread (the SQLite store)
async def test_a_private_reply_costs_the_sender_one_call(team, db_target, monkeypatch) -> None:
    t = team
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/order {FAN}", chat=dm)  # who she is is written; her chat is known
    await settled(t.api, t.app)
    sender = t.app.bot_data["services"].sender
    # Only a wake-up reads the outbox from here on (not the look every second for retries).
    monkeypatch.setattr(bot.durable, "IDLE", 3600.0)
    calls = Calls(monkeypatch)
    sender.kick()  # the sender's current wait ends; its next one is an hour long
    await t.api.wait_for(lambda: len(calls.by("Sender._run")) >= 1, what="the sender's read after the kick")
    await sender.idle()
    calls.clear()
    marks: list[str] = []
    sent, sent_then_due = Outbox.sent, Outbox.sent_then_due

    async def spy_sent(outbox: Outbox, *args, **kwargs):
        marks.append("sent")
        return await sent(outbox, *args, **kwargs)

    async def spy_sent_then_due(outbox: Outbox, *args, **kwargs):
        marks.append("sent, then the queue")
        return await sent_then_due(outbox, *args, **kwargs)

    monkeypatch.setattr(Outbox, "sent", spy_sent)
    monkeypatch.setattr(Outbox, "sent_then_due", spy_sent_then_due)

    for order, tracking in ((KETO, "1Z999AA10123456784"), (SPEAKER, "1Z999AA10123456785")):
        reply = await t.say(t.alice, f"/ship {order} UPS {tracking}", chat=dm)
        assert reply.startswith(f"Order {order} shipped"), reply
        await settled(t.api, t.app)
        await sender.idle()
    # Per reply: "sent", in one call on the event loop's thread. Before, the commit woke a read of
    # what was due (and before that, each delivery's end one more); then the mark came with a look
    # at the chat's queue, which nothing had been queued to since the commit handed the reply over.
    assert calls.by("Sender.") == calls.by("Sender._deliver") and len(calls.by("Sender.")) == 2, calls.all
    assert marks == ["sent", "sent"]
    assert not [c for c in calls.all if c.hop], calls.all
    assert t.goods(KETO) == "shipped" and t.goods(SPEAKER) == "shipped"

    # Commands in a row, each reply queued while the one before may be on its way: with the look
    # every second off, a wake-up lost would leave one unsent (settled would time out). (Two
    # updates of a chat are handled side by side: their replies may come in either order.)
    for _ in range(3):
        before = len(t.api.sent(dm))
        for order in (FAN, MIC, SPEAKER):
            await t.api.send_text(dm, t.alice, f"/order {order}")
        await settled(t.api, t.app)
        replies = [m["text"] for m in t.api.sent(dm)[before:]]
        assert sorted(o for o in (FAN, MIC, SPEAKER) for r in replies if r.startswith(f"Order {o}")) == sorted(
            (FAN, MIC, SPEAKER)
        ), replies


@pytest.mark.stores("sqlite")
async def test_a_reply_handed_to_another_chat_meanwhile_makes_no_read_of_the_outbox(
    team, db_target, monkeypatch
) -> None:
    """Alice's reply is on its way when Bob's command commits: his reply is handed over to a
    delivery of its own, so nothing new waits in the outbox. Alice's delivery ends without a
    look at her chat's queue, and nobody reads the whole outbox (before: Bob's commit counted
    as a kick, and Alice's delivery's end woke a read of what was due, 0.12 ms on the loop)."""
    t = team
    alice_dm, bob_dm = t.api.private(t.alice), t.api.private(t.bob)
    for person, dm in ((t.alice, alice_dm), (t.bob, bob_dm)):
        await t.say(person, f"/order {FAN}", chat=dm)  # who they are is written; their chats are known
    await settled(t.api, t.app)
    sender = t.app.bot_data["services"].sender
    monkeypatch.setattr(bot.durable, "IDLE", 3600.0)  # only a wake-up reads the outbox from here on
    calls = Calls(monkeypatch)
    sender.kick()
    await t.api.wait_for(lambda: len(calls.by("Sender._run")) >= 1, what="the sender's read after the kick")
    await sender.idle()
    calls.clear()
    before = len(t.api.sent(alice_dm)), len(t.api.sent(bob_dm))

    t.api.hold("sendMessage")  # Telegram is slow: Alice's reply is still on its way ...
    await t.api.send_text(alice_dm, t.alice, f"/ship {KETO} UPS 1Z999AA10123456784")
    await t.api.wait_for(lambda: t.api.held("sendMessage") == 1, what="Alice's reply on its way")
    await t.api.send_text(bob_dm, t.bob, f"/ship {SPEAKER} UPS 1Z999AA10123456785")  # ... when Bob's commits
    await t.api.wait_for(lambda: t.api.held("sendMessage") == 2, what="Bob's reply on its way")
    t.api.release("sendMessage")
    await settled(t.api, t.app)
    await sender.idle()

    assert (len(t.api.sent(alice_dm)), len(t.api.sent(bob_dm))) == (before[0] + 1, before[1] + 1)
    assert t.goods(KETO) == "shipped" and t.goods(SPEAKER) == "shipped"
    assert calls.by("Sender._run") == [], calls.all
    assert len(calls.by("Sender._deliver")) == 2, calls.all  # the two marks, and nothing else

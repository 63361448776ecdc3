"""What a reply costs the sender in the database (issue 11 point 4): one read of what is due
(woken by the update's commit), then, in one call, marking the reply sent and looking at the
chat's queue again. Its queue seen empty after the last thing queued, the sender does not read
the outbox once more when the chat's delivery ends."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
import pytest

import bot.durable
from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER


class SenderHops:
    """The calls into aiosqlite's threads made by the sender's own tasks, in order."""

    def __init__(self, monkeypatch: Any) -> None:
        self.calls: list[str] = []
        original = aiosqlite.Connection._execute

        async def spy(conn: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            name = getattr(task.get_coro(), "__qualname__", "") if task is not None else ""
            if name.startswith("Sender."):
                self.calls.append(name)
            return await original(conn, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", spy)


@pytest.mark.stores("sqlite")  # counts aiosqlite's thread hops (the SQLite store)
async def test_a_private_reply_costs_the_sender_two_calls(team, db_target, monkeypatch) -> None:
    t = team
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/order {FAN}", chat=dm)  # who she is is written; her chat is known
    await settled(t.api, t.app)
    sender = t.app.bot_data["services"].sender
    # Only a wake-up reads the outbox from here on (not the look every second for retries).
    monkeypatch.setattr(bot.durable, "IDLE", 3600.0)
    hops = SenderHops(monkeypatch)
    sender.kick()  # the sender's current wait ends; its next one is an hour long
    await t.api.wait_for(lambda: len(hops.calls) >= 1, what="the sender's read after the kick")
    await sender.idle()
    hops.calls.clear()

    for order, tracking in ((KETO, "1Z999AA10123456784"), (SPEAKER, "1Z999AA10123456785")):
        reply = await t.say(t.alice, f"/ship {order} UPS {tracking}", chat=dm)
        assert reply.startswith(f"Order {order} shipped"), reply
        await settled(t.api, t.app)
        await sender.idle()
    # Per reply: the read the commit woke, and "sent" with the chat's next look in one call.
    # Before, each delivery's end woke one more read of the whole outbox.
    assert hops.calls[:4] == ["Sender._run", "Sender._deliver"] * 2, hops.calls
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

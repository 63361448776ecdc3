"""One busy team never slows another (issue 8 point 2).

End to end through the fake Bot API: a group whose replies back up gets them merged (each
reply naming the person it answers), each queued reply marked sent once; another team is
answered while a group waits out Telegram's limit; and the one window where a merged
message can arrive twice (the bot dies after Telegram took it, before the desk recorded
that) repeats the message, never loses a reply. Below them, the pieces on their own: the
fair update slots, a group's pace, the merge's length as Telegram counts it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.durable import (
    MERGE_FROM,
    MERGED_MAX,
    DeskRateLimiter,
    FairUpdates,
    Pace,
    Sender,
    _merged_line,
    _screen_change,
    _shown_length,
)
from bot.storage import OutboxRow
from tests.support.desk import processed, settled
from tests.support.fakebotapi import ApiError, FakeBotAPI, FloodLimits
from tests.support.scenario import Team, make_team, sample_with_ids, says

PACKERS = 12
LANGUAGES = ("en", "zh-hans", "zh-hant")
LOCALES = {"en": "en", "zh-hans": "zh_Hans", "zh-hant": "zh_Hant"}


def order_id(n: int) -> str:
    return f"113-{5000000 + n:07d}-{8000000 + n:07d}"


def tracking(n: int) -> str:
    return f"1Z999AA1{n:010d}"


def shipped(n: int, language: str) -> str:
    return says(LOCALES[language], "Order {order} shipped with {carrier}, tracking number {tracking}.",
                order=order_id(n), carrier="UPS", tracking=tracking(n))  # fmt: skip


def named(name: str, reply: str, language: str) -> str:
    """A merged line as a person reads it: who it answers, then the reply."""
    return f"{name}: {reply}" if language == "en" else f"{name}：{reply}"


def replies_since(t: Team, outbox_id: int) -> list[Any]:
    with t.db() as conn:
        return conn.execute(
            "SELECT * FROM outbox WHERE chat_id = ? AND kind = 'reply' AND outbox_id > ? ORDER BY outbox_id",
            (t.group.id, outbox_id),
        ).fetchall()


def last_outbox_id(t: Team) -> int:
    with t.db() as conn:
        return int(conn.execute("SELECT coalesce(max(outbox_id), 0) FROM outbox").fetchone()[0])


def sends_to(api: FakeBotAPI, chat_id: int) -> int:
    return sum(1 for params in api.calls_of("sendMessage") if params.get("chat_id") == chat_id)


async def busy_team(api: FakeBotAPI, desk: Any, db: Path | str) -> tuple[Team, list[Any]]:
    """Store A with twelve packers (English, Simplified and Traditional Chinese in turn) and
    an order for each."""
    t = await make_team(api, desk, db)
    packers = [api.user(6000 + n, f"Packer {n}", language_code=LANGUAGES[n % 3]) for n in range(PACKERS)]
    for packer in packers:
        t.group.add(packer)
    await api.upload(t.group, t.alice, "unshipped.txt", sample_with_ids([order_id(n) for n in range(PACKERS)]))
    return t, packers


async def burst_while_telegram_is_slow(t: Team, packers: list[Any]) -> list[dict]:
    """Every packer ships their order at once while Telegram holds the group's first reply: the
    others queue behind it. Returns the packers' commands as sent."""
    api = t.api
    api.hold("sendMessage")
    commands = await asyncio.gather(*(
        api.send_text(t.group, packer, f"/ship {order_id(n)} UPS {tracking(n)}") for n, packer in enumerate(packers)
    ))  # fmt: skip
    await processed(api, t.app)
    await api.wait_for(lambda: api.held("sendMessage") == 1, what="the first reply to be on its way")
    api.release("sendMessage")
    return list(commands)


def packer_of(row: Any) -> int:
    return int(json.loads(row["payload"])["by"]["id"]) - 6000


# --- end to end --------------------------------------------------------------------------


async def test_a_backed_up_groups_confirmations_arrive_merged_and_each_is_marked_sent_once(
    fake_api: FakeBotAPI, desk: Any, db_target: Path | str
) -> None:
    api = fake_api
    t, packers = await busy_team(api, desk, db_target)
    before, start, calls = last_outbox_id(t), len(api.sent(t.group)), sends_to(api, t.group.id)

    commands = await burst_while_telegram_is_slow(t, packers)
    await settled(api, desk)

    rows = replies_since(t, before)
    assert len(rows) == PACKERS
    order = [packer_of(row) for row in rows]  # the order the desk answered in
    sent = api.sent(t.group)[start:]
    # The first reply went alone, quoting its command; the eleven that queued behind it, as one.
    assert len(sent) == 2
    assert sends_to(api, t.group.id) - calls == 2
    first = order[0]
    assert sent[0]["text"] == shipped(first, LANGUAGES[first % 3])
    assert sent[0]["reply_to_message"]["message_id"] == commands[first]["message_id"]
    assert sent[1]["text"] == "\n".join(named(f"Packer {n}", shipped(n, LANGUAGES[n % 3]), LANGUAGES[n % 3])
                                        for n in order[1:])  # fmt: skip
    assert "reply_to_message" not in sent[1] and "reply_markup" not in sent[1]
    # Each name mentions its packer (Telegram tells them, as a reply would).
    mentions = [e["url"] for e in sent[1]["entities"] if e["type"] == "text_link"]
    assert mentions == [f"tg://user?id={6000 + n}" for n in order[1:]]
    # Each queued reply is marked sent once: the merged ones with the merged message's id.
    assert [(row["status"], row["attempts"]) for row in rows] == [("sent", 1)] * PACKERS
    assert rows[0]["message_id"] == sent[0]["message_id"]
    assert {row["message_id"] for row in rows[1:]} == {sent[1]["message_id"]}
    assert sorted(order) == list(range(PACKERS))


async def test_a_quiet_groups_replies_are_never_merged(fake_api: FakeBotAPI, desk: Any, db_target: Path | str) -> None:
    api = fake_api
    t, packers = await busy_team(api, desk, db_target)
    start = len(api.sent(t.group))
    # Three commands at once, Telegram slow: far from the group's limit, each reply quotes its command.
    api.hold("sendMessage")
    commands = await asyncio.gather(*(
        api.send_text(t.group, packers[n], f"/ship {order_id(n)} UPS {tracking(n)}") for n in range(3)
    ))  # fmt: skip
    await processed(api, desk)
    api.release("sendMessage")
    await settled(api, desk)
    sent = api.sent(t.group)[start:]
    assert sorted(m["text"] for m in sent) == sorted(shipped(n, LANGUAGES[n]) for n in range(3))
    assert sorted(m["reply_to_message"]["message_id"] for m in sent) == sorted(c["message_id"] for c in commands)


async def test_another_team_is_answered_while_a_group_waits_out_telegrams_limit(
    fake_api: FakeBotAPI, desk: Any, db_target: Path | str
) -> None:
    api = fake_api
    t = await make_team(api, desk, db_target)
    olga = api.user(3001, "Olga", language_code="en")
    other = api.group(-1005, "Store B").add(olga, "creator")
    await api.ask(other, olga, "/start")
    before = last_outbox_id(t)

    # Store A's group is at Telegram's limit: its next message must wait a minute.
    api.fail_next("sendMessage", status=429, retry_after=60)
    await api.send_text(t.group, t.alice, "/help")
    await api.wait_for(lambda: [(r["status"], r["last_error"]) for r in replies_since(t, before)]
                       == [("pending", "429 retry after 60 s")], what="Store A's reply to wait")  # fmt: skip
    # More for Store A queues behind it; Store B is answered meanwhile, twice.
    await api.send_text(t.group, t.alice, "/help")
    first = await api.ask(other, olga, "/help")
    second = await api.ask(other, olga, "/help")
    assert first[0]["text"] == second[0]["text"] != ""
    await processed(api, desk)
    assert [r["status"] for r in replies_since(t, before)] == ["pending", "pending"]


async def test_a_merged_message_is_repeated_not_lost_when_the_desk_dies_before_recording_it(
    fake_api: FakeBotAPI, desk: Any, db_target: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window README names ("What you can rely on"): Telegram took the merged message and the
    desk died before marking its replies sent. Its replies are still pending together (one
    transaction marks them), so they go out again, merged again: repeated, never lost, never
    half-marked."""
    api = fake_api
    t, packers = await busy_team(api, desk, db_target)
    before, start = last_outbox_id(t), len(api.sent(t.group))
    store = desk.bot_data["services"].sender.store
    recording = store.sent_together
    died: list[list[int]] = []

    async def dies_once(outbox_ids: list[int], message_id: int, now: Any) -> None:
        if not died:
            died.append(list(outbox_ids))
            assert [r["status"] for r in replies_since(t, before)][1:] == ["pending"] * (PACKERS - 1)
            raise RuntimeError("the desk died between Telegram taking the message and recording it")
        await recording(outbox_ids, message_id, now)

    monkeypatch.setattr(store, "sent_together", dies_once)
    await burst_while_telegram_is_slow(t, packers)
    await settled(api, desk)

    rows = replies_since(t, before)
    sent = api.sent(t.group)[start:]
    assert len(sent) == 3
    assert sent[1]["text"] == sent[2]["text"]  # the one repeat
    assert died == [[row["outbox_id"] for row in rows[1:]]]
    assert [(row["status"], row["attempts"]) for row in rows] == [("sent", 1)] * PACKERS
    assert {row["message_id"] for row in rows[1:]} == {sent[2]["message_id"]}


# --- the pieces ----------------------------------------------------------------------------


async def test_fair_slots_let_another_chat_start_while_one_chat_has_a_backlog() -> None:
    slots = FairUpdates(8, per_chat=2)
    started: list[str] = []
    gate = asyncio.Event()

    async def work(name: str) -> None:
        started.append(name)
        await gate.wait()

    class Chat:
        def __init__(self, chat_id: int) -> None:
            self.id = chat_id

    def update(chat_id: int) -> Any:
        from telegram import Update

        u = Update.__new__(Update)
        object.__setattr__(u, "_effective_chat", Chat(chat_id))
        return u

    busy = [asyncio.create_task(slots.do_process_update(update(-1), work(f"a{n}"))) for n in range(20)]
    await asyncio.sleep(0)
    other = asyncio.create_task(slots.do_process_update(update(-2), work("b")))
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == ["a0", "a1", "b"]
    gate.set()
    await asyncio.gather(*busy, other)
    assert sorted(started) == sorted([f"a{n}" for n in range(20)] + ["b"])
    assert slots._total == 0 and not slots._waiting


def test_a_groups_pace_allows_a_burst_then_one_every_three_seconds() -> None:
    pace = Pace()
    for _ in range(20):
        assert pace.next_send(100.0) == 100.0
        pace.took(100.0)
    assert pace.next_send(100.0) == pytest.approx(103.0)
    assert pace.next_send(103.0) == pytest.approx(103.0)
    pace.told_to_wait(103.0, 30)
    assert pace.next_send(104.0) == 133.0


def row(n: int, text: str, **payload: Any) -> OutboxRow:
    return OutboxRow(n, None, -5, json.dumps({"text": text, "reply_to": n, **payload}), 0, kind="reply")


def test_merged_messages_fit_telegrams_limit_as_it_counts_it() -> None:
    sender = Sender.__new__(Sender)
    pace = Pace()
    for _ in range(MERGE_FROM):
        pace.took(0.0)
    # Emoji count two UTF-16 units each; tags and entities count as what they show.
    long = "📦" * 500 + " <b>&amp;</b>"
    assert _shown_length(long) == 1002
    rows = [row(n, long, by={"id": 7000 + n, "name": "P"}, lang="en") for n in range(10)]
    batch = sender._batch(rows, pace, 0.0)
    assert len(batch) == 4  # 4 × 1005 + 3 line breaks fit 4096; a fifth would not
    assert sum(_shown_length(_merged_line(r)) for r in batch) + len(batch) - 1 <= MERGED_MAX
    # A reply with buttons is never merged, nor is anything after it in this message.
    with_buttons = [row(0, "a"), row(1, "b", markup={"inline_keyboard": []}), row(2, "c")]
    with_buttons[1].payload["markup"] = {"inline_keyboard": [[{"text": "x", "callback_data": "y"}]]}
    assert sender._batch(with_buttons, pace, 0.0) == with_buttons[:1]
    # A person's own chat keeps its replies as they are.
    assert sender._batch(rows, None, 0.0) == rows[:1]


async def test_the_rate_limiter_waits_out_a_short_429_itself_and_hands_a_long_one_back() -> None:
    limiter = DeskRateLimiter(max_retries=2)
    asked: list[str] = []

    def flaky(wait: float) -> Any:
        async def call() -> bool:
            asked.append("call")
            if len(asked) == 1:
                raise RetryAfter(timedelta(seconds=wait))
            return True

        return call

    # A short wait: this request waits and tries again (nothing else is paused).
    assert await limiter.process_request(flaky(0.01), (), {}, "sendMessage", {"chat_id": -5}, None) is True
    assert asked == ["call", "call"]
    # A long one goes back to the caller at once: the sender re-queues the message and paces the chat.
    asked.clear()
    with pytest.raises(RetryAfter):
        await limiter.process_request(flaky(30), (), {}, "sendMessage", {"chat_id": -5}, None)
    assert asked == ["call"]


async def test_a_screen_change_telegram_asks_to_wait_for_is_retried_without_holding_the_update() -> None:
    done = asyncio.Event()
    tries: list[int] = []

    async def edit() -> None:
        tries.append(1)
        if len(tries) == 1:
            raise RetryAfter(timedelta(seconds=0.01))
        done.set()

    await _screen_change(edit)  # returns at once: the retry waits in the background
    assert tries == [1]
    await asyncio.wait_for(done.wait(), 5)
    assert tries == [1, 1]


def test_the_fake_bot_api_keeps_telegrams_flood_limits_when_asked() -> None:
    flood = FloodLimits()
    for _ in range(20):
        flood.check("sendmessage", -5)
    with pytest.raises(ApiError) as refused:
        flood.check("sendmessage", -5)
    assert (refused.value.status, refused.value.parameters) == (429, {"retry_after": 3})
    flood.check("sendmessage", -6)  # another group has its own minute
    flood.check("answercallbackquery", -5)  # only messages count
    for n in range(9):
        flood.check("sendmessage", 100 + n)  # people's chats count against the 30 a second only
    with pytest.raises(ApiError) as overall:
        flood.check("sendmessage", 200)
    assert (overall.value.status, overall.value.parameters) == (429, {"retry_after": 1})
    assert flood.refused == 2

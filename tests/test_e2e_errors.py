"""Inputs that crashed a handler and Telegram's own errors (issue 8 points 5 and 6).

- ``/export 9999-12-31`` and ``/export 0001-01-01`` get one clear answer; ``today``,
  ``yesterday``, 今天 and 昨天 name a day.
- Telegram's expected errors anywhere in an update's path (the bot removed from the group,
  a button answered too late, a double tap) are one log line naming the chat and the update;
  an unexpected error keeps its traceback. Forbidden from a group holds that group's messages.
"""

from __future__ import annotations

import logging

from tests.support.desk import processed, settled
from tests.support.scenario import KETO, MIC, says

SORRY = "Sorry, something went wrong on my side and nothing was changed. Please try again in a moment."


def out_of_range(text: str) -> str:
    return (
        f"I can export a day from 2000-01-01 up to today (2026-11-21); “{text}” is not one of them. Send /export "
        "for what is new, or /export 2026-11-21 for today again."
    )


async def test_export_days_out_of_range_get_a_clear_answer(team) -> None:
    t = team
    dm = t.api.private(t.alice)
    before = t.snapshot()
    for day in ("9999-12-31", "0001-01-01", "2026-11-22", "1999-12-31"):
        assert await t.say(t.alice, f"/export {day}", chat=dm) == out_of_range(day)
    assert await t.say(t.bob, "导出 9999-12-31", chat=t.api.private(t.bob)) == says(
        "zh_Hans",
        "I can export a day from 2000-01-01 up to today ({today}); “{text}” is not one of them. Send /export for "
        "what is new, or /export {today} for today again.",
        today="2026-11-21", text="9999-12-31",
    )  # fmt: skip
    assert t.snapshot() == before


async def test_export_today_and_yesterday_in_words(team) -> None:
    t = team
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784", chat=dm)
    first = (await t.api.ask(dm, t.alice, "/export"))[0]
    for words in ("/export today", "导出 今天", "匯出 今天", "/export TODAY"):
        doc = (await t.api.ask(dm, t.alice, words))[0]
        assert doc["content"] == first["content"], words
    nothing = (
        "Nothing to export: every shipment made here is already in an earlier file. To send a day again: "
        "/export 2026-11-21"
    )
    assert await t.say(t.alice, "/export yesterday", chat=dm) == nothing
    assert await t.say(t.carol, "匯出 昨天", chat=t.api.private(t.carol)) == says(
        "zh_Hant",
        "Nothing to export: every shipment made here is already in an earlier file. To send a day again: "
        "/export 2026-11-21",
    )


def records(caplog, level: int = logging.INFO) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level and r.name.startswith(("dingdan", "bot", "handlers"))]


async def test_forbidden_from_the_group_holds_it_and_logs_one_line(team, caplog) -> None:
    t = team
    caplog.set_level(logging.INFO)
    with t.db() as conn:
        team_id, at = conn.execute("SELECT team_id, at FROM events WHERE order_id = ?", (MIC,)).fetchone()
        conn.executemany(
            "INSERT INTO events (team_id, order_id, at, actor_kind, actor_id, actor_name, chat_id, action) "
            "VALUES (?, ?, ?, 'user', 1001, 'Alice', ?, 'note')", [(team_id, MIC, at, t.group.id)] * 120,
        )  # fmt: skip
    first = (await t.api.ask(t.group, t.alice, "/history 6689831"))[0]
    # The bot is removed from the group between the press and the new page.
    t.api.fail_next("editMessageText", 403, description="Forbidden: bot was kicked from the supergroup chat")
    await t.api.press(t.group, t.alice, first, f"op:history:{MIC}:1")
    await t.api.wait_for(lambda: any("403" in r.getMessage() for r in caplog.records), what="the 403 logged")
    await processed(t.api, t.app)
    with t.db() as conn:
        held = conn.execute("SELECT unreachable_since FROM teams WHERE team_id = ?", (t.group.id,)).fetchone()[0]
        update_id = conn.execute("SELECT max(update_id) FROM inbox").fetchone()[0]
    assert held is not None
    lines = [r for r in records(caplog) if "403" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]
    assert lines[0].getMessage() == (
        f"handling the update: 403 Forbidden: bot was kicked from the supergroup chat (chat {t.group.id}, "
        f"update {update_id})"
    )
    assert not records(caplog, logging.ERROR)


async def test_a_button_answered_too_late_is_one_line(team, caplog) -> None:
    t = team
    caplog.set_level(logging.INFO)
    dm = t.api.private(t.alice)
    question = (await t.api.ask(dm, t.alice, "/lang"))[0]
    # Telegram refuses every answer to it, the apology's too: still one line.
    t.api.fail_next("answerCallbackQuery", 400, count=3,
                    description="Bad Request: query is too old and response timeout expired or query ID is invalid")  # fmt: skip
    await t.api.press(dm, t.alice, question, t.api.buttons(question)[0][1])
    await settled(t.api, t.app)
    await t.api.wait_for(lambda: any("query is too old" in r.getMessage().lower() for r in caplog.records))
    lines = [r for r in records(caplog, logging.WARNING)]
    assert len(lines) == 1 and lines[0].exc_info is None and "query is too old" in lines[0].getMessage().lower()
    assert f"chat {dm.id}" in lines[0].getMessage()
    assert not records(caplog, logging.ERROR)


async def test_an_unexpected_error_keeps_its_traceback_and_apologises(team, caplog, monkeypatch) -> None:
    t = team
    caplog.set_level(logging.INFO)
    desk = t.app.bot_data["services"].desk

    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(desk, "card", broken)
    assert await t.say(t.alice, f"/order {KETO}") == SORRY
    errors = records(caplog, logging.ERROR)
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert f"chat {t.group.id}" in errors[0].getMessage()


async def test_each_update_logs_one_line_without_buyer_data(team, caplog) -> None:
    t = team
    caplog.set_level(logging.INFO)  # the default level (DEBUG shows Telegram's requests, replies included)
    dm = t.api.private(t.alice)
    with t.db() as conn:
        first_update = conn.execute("SELECT coalesce(max(update_id), 0) FROM inbox").fetchone()[0]
    # In private the card shows the buyer's name and address: the log never does.
    card = await t.say(t.alice, f"/order {KETO}", chat=dm)
    assert "Amy O'Neil" in card
    await t.say(t.bob, "查询 4445556")
    await t.say(t.alice, "/ship 9999999 UPS 1Z999AA10123456784")
    await settled(t.api, t.app)
    with t.db() as conn:
        updates = [r[0] for r in conn.execute("SELECT update_id FROM inbox WHERE update_id > ? ORDER BY update_id",
                                              (first_update,))]  # fmt: skip
    lines = [r for r in caplog.records if r.name == "dingdan.updates"]
    assert [r.update for r in lines] == updates  # type: ignore[attr-defined]
    assert [(r.chat, r.team, r.command, r.outcome) for r in lines] == [  # type: ignore[attr-defined]
        (dm.id, t.group.id, "/order", "ok"),
        (t.group.id, t.group.id, "show_order", "ok"),
        (t.group.id, t.group.id, "/ship", "refused:unknown_order"),
    ]
    assert all(r.levelno == logging.INFO for r in lines)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Amy O'Neil", "5 Harbor Rd", "Portland", "1Z999AA10123456784", t.api.token):
        assert secret not in logged, secret

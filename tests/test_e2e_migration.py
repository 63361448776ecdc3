"""A basic group upgraded to a supergroup: the team follows it (issue 7, point 7).

Store B works from a basic group (-4001). Telegram upgrades it to a supergroup by itself
(the group went public, or grew): the supergroup has a new id, and the old id answers every
call with "group chat was upgraded to a supergroup chat". The team's orders, settings,
language, alerts and queued messages move with the group, whether the bot learns it from
the service messages or from a send that fails with ChatMigrated, and only once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.error import ChatMigrated
from telegram.ext import filters

from bot.domain import Actor
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.storage import TEAM_TABLES, AlertStore, Confirmation, Store
from tests.support.db import opened
from tests.support.desk import check_alerts, settled
from tests.support.fakebotapi import BOT_ID
from tests.support.scenario import KETO, MIC, SPEAKER, Team, plain, sample, says, says_n

OLD = -4001  # Store B's basic group
NEW = -1001987654321  # the supergroup Telegram made of it
MOVED = (
    "This group became a supergroup, and dingdan moved with it: {count} order, the settings and the alerts are kept.",
    "This group became a supergroup, and dingdan moved with it: {count} orders, the settings and the alerts are kept.",
)
OCCUPIED = (
    "This group became a supergroup, but this supergroup already is a dingdan team with its own orders. I did not "
    "merge the old group's {count} order into it: it is kept apart and its alerts are paused.",
    "This group became a supergroup, but this supergroup already is a dingdan team with its own orders. I did not "
    "merge the old group's {count} orders into it: they are kept apart and their alerts are paused.",
)
SOON = ("⏰ {count} order must ship soon:", "⏰ {count} orders must ship soon:")
#: 12 hours before KETO's ship-by (2026-11-23 07:59 UTC): its ship-by warning is due.
KETO_WARNING = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def look(db: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with opened(db) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def rows_of(db: Path | str, team_id: int) -> dict[str, int]:
    """How many rows each table holds for ``team_id``."""
    counts = {table: look(db, f"SELECT count(*) FROM {table} WHERE team_id = ?", (team_id,))[0][0]
              for table in ("teams", *TEAM_TABLES)}  # fmt: skip
    counts["users.active_team"] = look(db, "SELECT count(*) FROM users WHERE active_team = ?", (team_id,))[0][0]
    counts["chats"] = look(db, "SELECT count(*) FROM chats WHERE chat_id = ?", (team_id,))[0][0]
    return counts


def everything(db: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the desk keeps about teams, people and chats (not Telegram's raw updates)."""
    tables = ("teams", "users", "chats", *TEAM_TABLES)
    return {t: look(db, f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}


def card(locale: str, order_id: str) -> str:
    """The first line of an order's card."""
    return says(locale, "<b>Order {order}</b>", order=order_id)


def bot_texts(t: Team, chat: Any) -> list[str]:
    return [plain(m["text"]).replace("\u202f", " ") for m in t.api.sent(chat)]


async def basic_team(api: Any, app: Any, db_path: Path | str) -> Team:
    """Alice (the owner), Bob and Carol in Store B's basic group; the desk started, the digest
    off, quiet hours off, ship-by warnings 12 hours before; the sample orders imported and
    the two already late announced."""
    alice = api.user(1001, "Alice", language_code="en", username="alice")
    bob = api.user(1002, "Bob", language_code="zh-hans", username="bob")
    carol = api.user(1003, "Carol", language_code="zh-hant")
    dave = api.user(1004, "Dave", language_code="en")
    group = api.group(OLD, "Store B", type="group")
    group.add(alice, "creator").add(bob).add(carol)
    t = Team(api, app, group, alice, bob, carol, dave, db_path)
    await api.ask(group, alice, "/start")
    for setting in ("digest off", "quiet off", "lead 12"):
        await api.ask(group, alice, f"/alerts {setting}")
    before = len(api.sent(group))
    await api.upload(group, alice, "unshipped-orders-us.txt", sample("unshipped-orders-us.txt"))
    await api.wait_for(lambda: len(api.sent(group)) >= before + 2, what="the import's reply and the late alert")
    return t


async def all_sent(t: Team) -> None:
    """Wait until the outbox has nothing left to send."""
    await t.api.wait_for(lambda: look(t.db_path, "SELECT count(*) FROM outbox WHERE status = 'pending'") == [(0,)],
                         what="the outbox sent")  # fmt: skip


async def at_rest(t: Team) -> None:
    """The alert check run once more, every update processed and every queued message sent:
    what the bot sent by then is all it sends."""
    await check_alerts(t.app)
    await settled(t.api, t.app)


async def until_done(api: Any, update: dict, t: Team) -> None:
    """Wait until the desk has processed ``update`` (its inbox says so)."""
    await api.wait_for(
        lambda: look(t.db_path, "SELECT status FROM inbox WHERE update_id = ?", (update["update_id"],)) == [("done",)],
        what=f"update {update['update_id']} processed",
    )


# ---------------------------------------------------------------------------------------
# End to end


@pytest.mark.alerts
async def test_the_team_follows_its_group_to_the_supergroup(fake_api, desk, clock, db_target) -> None:
    t = await basic_team(fake_api, desk, db_target)
    api, old, alice, bob = t.api, t.group, t.alice, t.bob
    language_set = await t.say(alice, "/lang group zh_Hans")
    assert language_set == says("zh_Hans", "This group's default language is now {language}.", language="简体中文")
    await t.say(bob, "/ship 6689831 UPS 1Z999AA10123456784")
    # KETO's warning falls due while Telegram has trouble: it waits in the outbox for a retry.
    api.fail_next("sendMessage", 500)
    clock.set(KETO_WARNING)
    waiting = "SELECT count(*) FROM outbox WHERE chat_id = ? AND status = 'pending' AND attempts = 1"
    await api.wait_for(lambda: look(t.db_path, waiting, (OLD,)) == [(1,)], what="the alert waiting for a retry")
    before = rows_of(t.db_path, OLD)
    assert before["orders"] == 4 and before["shipments"] == 1 and before["imports"] == 1 and before["members"] == 2
    old_events = look(t.db_path, "SELECT event_id, order_id, action, chat_id FROM events ORDER BY event_id")
    assert {e[3] for e in old_events} == {OLD}
    old_bot_messages = len(api.sent(old))

    new = api.upgrade_to_supergroup(old, NEW, by=alice)
    await api.wait_for(lambda: look(t.db_path, "SELECT team_id FROM teams") == [(NEW,)], what="the team moved")
    # The warning goes out in the supergroup once its retry is due, then the group is told.
    clock.advance(seconds=10)
    await api.wait_for(lambda: len(api.sent(new)) >= 2, what="the alert and the notice in the supergroup")
    await at_rest(t)
    alert, notice = bot_texts(t, new)
    assert alert.splitlines()[0] == says_n("zh_Hans", *SOON, 1)
    assert alert.splitlines()[1].startswith(f"…{KETO[-7:]} KETO-BM-04×3 ⏳")
    assert notice == says_n("zh_Hans", *MOVED, 4)
    assert len(api.sent(old)) == old_bot_messages
    assert [e["description"] for e in api.errors if not e["injected"]] == []

    # Bob works in the supergroup as before, in the group's language.
    reply = await t.say(bob, "/order 4445556", chat=new)
    assert reply.startswith(card("zh_Hans", KETO))
    assert rows_of(t.db_path, OLD) == dict.fromkeys(before, 0)
    after = rows_of(t.db_path, NEW)
    assert {k: after[k] for k in ("orders", "order_items", "events", "shipments", "imports", "alerts")} == {
        k: before[k] for k in ("orders", "order_items", "events", "shipments", "imports", "alerts")
    }
    assert after["chats"] == 1 and after["teams"] == 1 and after["members"] == 2
    events = look(t.db_path, "SELECT event_id, order_id, action, chat_id FROM events ORDER BY event_id")
    assert events[: len(old_events)] == [(e[0], e[1], e[2], NEW) for e in old_events]
    assert look(t.db_path, "SELECT title, lead_hours, digest_at, quiet_from, quiet_until, started_by FROM teams") == [
        ("Store B", "12", "", "00:00", "00:00", alice.id)
    ]
    groups = look(t.db_path, "SELECT chat_id, kind, language FROM chats WHERE chat_id < 0")
    assert groups == [(NEW, "supergroup", "zh_Hans")]
    assert look(t.db_path, "SELECT chat_id, status FROM outbox WHERE kind = 'alert' ORDER BY outbox_id")[-2:] == [
        (NEW, "sent"),
        (NEW, "sent"),
    ]
    people = look(t.db_path, "SELECT user_id, active_team FROM users ORDER BY user_id")
    assert people == [(alice.id, NEW), (bob.id, NEW)]
    assert bot_texts(t, new).count(says_n("zh_Hans", *MOVED, 4)) == 1


@pytest.mark.alerts
async def test_a_send_to_the_upgraded_group_takes_the_team_along(fake_api, desk, clock, db_target) -> None:
    t = await basic_team(fake_api, desk, db_target)
    api, old, alice = t.api, t.group, t.alice
    old_bot_messages = len(api.sent(old))
    # The bot missed both service messages: it learns of the upgrade from its next send.
    new = api.upgrade_to_supergroup(old, NEW, by=alice, deliver=False)
    clock.set(KETO_WARNING)
    await api.wait_for(lambda: len(api.sent(new)) >= 2, what="the alert and the notice in the supergroup")
    await at_rest(t)
    alert, notice = bot_texts(t, new)
    assert alert.splitlines()[0] == "⏰ 1 order must ship soon:"
    assert alert.splitlines()[1].startswith(f"…{KETO[-7:]} KETO-BM-04×3 ⏳")
    assert notice == says_n("en", *MOVED, 4)
    assert len(api.sent(old)) == old_bot_messages
    # Telegram said "upgraded" once; the old chat was never tried again.
    upgraded = [e for e in api.errors if "upgraded to a supergroup" in e["description"]]
    assert [(e["method"], e["params"]["chat_id"]) for e in upgraded] == [("sendMessage", OLD)]
    assert rows_of(t.db_path, OLD) == dict.fromkeys(rows_of(t.db_path, OLD), 0)
    assert rows_of(t.db_path, NEW)["orders"] == 4
    assert look(t.db_path, "SELECT kind, due_key FROM alerts WHERE order_id = ?", (KETO,)) == [
        ("ship_soon", "2026-11-23T07:59/12h")
    ]
    assert look(t.db_path, "SELECT count(*) FROM outbox WHERE chat_id = ? AND status != 'sent'", (OLD,)) == [(0,)]
    # A member carries on in the supergroup.
    assert (await t.say(t.carol, "/order 6689831", chat=new)).startswith(card("zh_Hant", MIC))


@pytest.mark.alerts
async def test_a_send_racing_the_service_messages_arrives_once(fake_api, desk, clock, db_target) -> None:
    t = await basic_team(fake_api, desk, db_target)
    api, old, alice = t.api, t.group, t.alice
    api.fail_next("sendMessage", 500)
    clock.set(KETO_WARNING)
    waiting = "SELECT count(*) FROM outbox WHERE chat_id = ? AND status = 'pending' AND attempts = 1"
    await api.wait_for(lambda: look(t.db_path, waiting, (OLD,)) == [(1,)], what="the alert waiting for a retry")
    # The retry falls due while the desk is still reading the upgrade's service messages:
    # whether the move or the send comes first, the warning arrives once.
    new = api.upgrade_to_supergroup(old, NEW, by=alice)
    clock.advance(seconds=10)
    await api.wait_for(lambda: len(api.sent(new)) >= 2, what="the alert and the notice in the supergroup")
    await at_rest(t)
    texts = bot_texts(t, new)
    notice = says_n("en", *MOVED, 4)
    assert len(texts) == 2 and texts.count(notice) == 1
    [alert] = [text for text in texts if text != notice]
    assert alert.splitlines()[0] == "⏰ 1 order must ship soon:" and KETO[-7:] in alert.splitlines()[1]
    assert look(t.db_path, "SELECT chat_id, status FROM outbox WHERE kind = 'alert' ORDER BY outbox_id")[-2:] == [
        (NEW, "sent"),
        (NEW, "sent"),
    ]


@pytest.mark.alerts
async def test_an_empty_team_started_in_the_supergroup_gives_way(fake_api, desk, clock, db_target) -> None:
    t = await basic_team(fake_api, desk, db_target)
    api, old, alice, bob = t.api, t.group, t.alice, t.bob
    started_at = look(t.db_path, "SELECT started_at FROM teams WHERE team_id = ?", (OLD,))[0][0]
    new = api.upgrade_to_supergroup(old, NEW, by=alice, deliver=False)
    clock.advance(hours=1)
    # "Not using dingdan yet", thinks Alice, and starts it again: an empty team.
    started = await t.say(alice, "/start", chat=new)
    assert started.startswith(says(
        "en", "dingdan is now this team's order desk. Send me the Unshipped Orders report from Seller Central to begin."
    ))  # fmt: skip
    assert (await t.say(bob, "/orders", chat=new)) == says("zh_Hans", "No orders in this list.")
    assert look(t.db_path, "SELECT active_team FROM users WHERE user_id = ?", (bob.id,)) == [(NEW,)]
    # Then the service message arrives: the team moves, its orders with it; the empty one goes.
    update = api.deliver(api.service_messages(new)[0])
    await api.wait_for(lambda: len(api.sent(new)) >= 3, what="the notice")
    assert bot_texts(t, new)[-1] == says_n("en", *MOVED, 4)
    await until_done(api, update, t)
    assert look(t.db_path, "SELECT team_id, title, lead_hours, started_by, started_at FROM teams") == [
        (NEW, "Store B", "12", alice.id, started_at)
    ]
    assert rows_of(t.db_path, NEW)["orders"] == 4
    assert look(t.db_path, "SELECT user_id FROM members WHERE team_id = ? ORDER BY user_id", (NEW,)) == [
        (alice.id,),
        (bob.id,),
    ]
    assert look(t.db_path, "SELECT active_team FROM users WHERE user_id = ?", (bob.id,)) == [(NEW,)]
    assert (await t.say(bob, "/order 1122334", chat=new)).startswith(card("zh_Hans", SPEAKER))


@pytest.mark.alerts
async def test_a_second_signal_of_the_same_upgrade_changes_nothing(fake_api, desk, clock, db_target) -> None:
    t = await basic_team(fake_api, desk, db_target)
    api, old, alice = t.api, t.group, t.alice
    new = api.upgrade_to_supergroup(old, NEW, by=alice, deliver=False)
    told_new, told_old = api.service_messages(new)[0], api.service_messages(old)[0]
    await until_done(api, api.deliver(told_new), t)
    await api.wait_for(lambda: len(api.sent(new)) >= 1, what="the notice")
    assert bot_texts(t, new) == [says_n("en", *MOVED, 4)]
    await all_sent(t)
    moved = everything(t.db_path)
    # The old group's message, then the supergroup's again, then a send that failed before
    # the move: each finds nothing left to move.
    await until_done(api, api.deliver(told_old), t)
    await until_done(api, api.deliver(told_new), t)
    from handlers.migration import follow_migration

    assert await follow_migration(desk, OLD, NEW) is True
    await at_rest(t)
    assert everything(t.db_path) == moved
    assert bot_texts(t, new) == [says_n("en", *MOVED, 4)]


@pytest.mark.alerts
async def test_a_supergroup_that_has_its_own_orders_is_not_merged_into(
    fake_api, desk, clock, db_target, caplog
) -> None:
    t = await basic_team(fake_api, desk, db_target)
    api, old, alice = t.api, t.group, t.alice
    new = api.upgrade_to_supergroup(old, NEW, by=alice, deliver=False)
    await t.say(alice, "/start", chat=new)
    await api.ask(new, alice, "/alerts digest off")
    before = len(api.sent(new))
    await api.upload(new, alice, "unshipped-orders-us.txt", sample("unshipped-orders-us.txt"))
    await api.wait_for(lambda: len(api.sent(new)) >= before + 2, what="the import's reply and the late alert")
    kept = rows_of(t.db_path, OLD)
    for message in api.service_messages(old) + api.service_messages(new):
        await until_done(api, api.deliver(message), t)
    await api.wait_for(lambda: len(api.sent(new)) >= before + 3, what="the refusal to merge")
    await at_rest(t)
    assert bot_texts(t, new)[before + 2 :] == [says_n("en", *OCCUPIED, 4)]
    assert rows_of(t.db_path, OLD) == kept
    assert rows_of(t.db_path, NEW)["orders"] == 4
    assert look(t.db_path, "SELECT unreachable_since IS NOT NULL FROM teams WHERE team_id = ?", (OLD,)) == [(1,)]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"team {OLD} was not moved: its group became supergroup {NEW}, which already is a team with orders; its 4 "
        "orders stay under the old id and its messages are held"
    ]


# ---------------------------------------------------------------------------------------
# The fake Bot API upgrades a group the way Telegram does


async def test_the_fake_upgrades_a_group_the_way_telegram_does(fake_api) -> None:
    alice = fake_api.user(1001, "Alice", language_code="en")
    group = fake_api.group(OLD, "Store B", type="group", bot_status="administrator").add(alice, "creator")
    new = fake_api.upgrade_to_supergroup(group, NEW, by=alice)
    assert (new.type, new.title) == ("supergroup", "Store B")
    assert (fake_api.member_status(new, alice), fake_api.member_status(new, BOT_ID)) == ("creator", "administrator")
    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        told_old, told_new = (Update.de_json(u, bot) for u in fake_api.pending_updates)
        assert all(filters.StatusUpdate.MIGRATE.check_update(u) for u in (told_old, told_new))
        assert (told_old.message.chat.id, told_old.message.chat.type, told_old.message.from_user.id,
                told_old.message.migrate_to_chat_id) == (OLD, "group", alice.id, NEW)  # fmt: skip
        assert (told_new.message.chat.id, told_new.message.chat.type, told_new.message.from_user.username,
                told_new.message.sender_chat.id, told_new.message.migrate_from_chat_id) == (
            NEW, "supergroup", "GroupAnonymousBot", NEW, OLD)  # fmt: skip
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(OLD, "still there?")
        assert migrated.value.new_chat_id == NEW
        assert (await bot.send_message(NEW, "here")).chat.id == NEW
    with pytest.raises(AssertionError, match="upgraded"):
        await fake_api.send_text(group, alice, "hello?")


# ---------------------------------------------------------------------------------------
# The store


async def test_the_store_moves_every_row_of_the_team_once(db_target, clock) -> None:
    db = db_target
    store = Store(db)
    await store.open()
    try:
        alice = Actor("user", 1001, "Alice", OLD)
        await store.create_team(OLD, "Store B", "Asia/Shanghai", by=alice.id, at=clock())
        await store.seen(user_id=alice.id, name="Alice", username="alice", telegram_language="en", chat_id=OLD,
                         chat_kind="group", chat_title="Store B", at=clock())  # fmt: skip
        await store.set_chat_language(OLD, "zh_Hant")
        await store.set_member(OLD, alice.id, "creator", clock(), active=True)
        await Importer(store, Lifecycle(), clock).import_file(
            OLD, sample("unshipped-orders-us.txt"), filename="unshipped.txt",
            actor=Actor.importer("unshipped.txt", chat_id=OLD, user_id=alice.id),
        )  # fmt: skip
        alerts = AlertStore(store)
        await alerts.record(OLD, OLD, [(KETO, "ship_soon", "k")], [{"text": "KETO soon", "reply_to": 7}], clock())
        await alerts.snooze(OLD, MIC, clock() + timedelta(hours=4), alice.id, ["ship_late"])
        question = Confirmation("tok", OLD, alice.id, OLD, KETO, "refund", {}, clock() + timedelta(hours=1))
        await store.add_confirmation(question, clock())
        # The bot looked gone from the old group (a "left" it was told as the group closed).
        await alerts.unreachable(OLD, clock(), "403 bot is not a member")
        with opened(db) as conn, conn:
            conn.execute("INSERT INTO amazon_accounts (team_id, source, marketplace_id, endpoint, configured_at, "
                         "secrets_at) VALUES (?, 'env', 'ATVPDKIKX0DER', 'https://sellingpartnerapi-na.amazon.com', "
                         "'2026-11-21T08:00:00+00:00', '2026-11-21T08:00:00+00:00')", (OLD,))  # fmt: skip
            # Carrier tracking: a number tracked for one of its orders, and the team's switch.
            conn.execute("INSERT INTO tracking (team_id, order_id, number, shipped_at) VALUES (?, ?, '1Z999AA10123456784', "
                         "'2026-11-21T08:00:00+00:00')", (OLD, MIC))  # fmt: skip
            conn.execute("INSERT INTO tracking_off (team_id, at) VALUES (?, '2026-11-21T08:00:00+00:00')", (OLD,))
        before = rows_of(db, OLD)
        assert all(before[k] for k in before if k != "shipments"), before

        def notice(n: int) -> dict[str, Any]:
            return {"text": f"moved {n}"}

        moved = await store.move_team(OLD, NEW, title="Store B", now=clock(), moved_notice=notice,
                                      occupied_notice=notice)  # fmt: skip
        assert (moved.moved, moved.orders, moved.occupied) == (True, 4, False)
        assert rows_of(db, OLD) == dict.fromkeys(before, 0)
        after = rows_of(db, NEW)
        assert after == {**before, "outbox": before["outbox"] + 1}
        assert look(db, "SELECT DISTINCT chat_id FROM events") == [(NEW,)]
        assert look(db, "SELECT chat_id FROM imports UNION ALL SELECT chat_id FROM confirmations") == [(NEW,), (NEW,)]
        # The payload as JSON (PostgreSQL's jsonb writes it back with spaces, SQLite's json_remove without).
        outbox = look(db, "SELECT chat_id, status, payload FROM outbox ORDER BY outbox_id")
        assert [(chat, status, json.loads(payload)) for chat, status, payload in outbox] == [
            (NEW, "pending", {"text": "KETO soon"}),
            (NEW, "pending", {"text": "moved 4"}),
        ]
        assert look(db, "SELECT unreachable_since FROM teams") == [(None,)]
        assert look(db, "SELECT chat_id, kind, language FROM chats") == [(NEW, "supergroup", "zh_Hant")]
        assert look(db, "PRAGMA foreign_key_check") == []

        snapshot = everything(db)
        again = await store.move_team(OLD, NEW, title="Store B", now=clock(), moved_notice=notice,
                                      occupied_notice=notice)  # fmt: skip
        assert (again.moved, again.orders, again.occupied) == (False, 0, False)
        assert everything(db) == snapshot
    finally:
        await store.close()


# SQLite only: reads sqlite_master and PRAGMA table_info (tests/test_schema_pair.py keeps PostgreSQL's tables the same).
async def test_every_table_that_names_a_team_or_its_chat_is_considered(tmp_path) -> None:
    """A new table keyed by team or chat must be moved with the team, or say why not here."""
    store = Store(tmp_path / "desk.sqlite3")
    await store.open()
    await store.close()
    db = tmp_path / "desk.sqlite3"
    columns = {
        (table, column)
        for (table,) in look(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
        for (_cid, column, *_rest) in look(db, f"PRAGMA table_info({table})")
        if column in ("team_id", "chat_id", "active_team")
    }
    moved = {(t, "team_id") for t in ("teams", *TEAM_TABLES)} | {
        ("users", "active_team"), ("chats", "chat_id"), ("events", "chat_id"), ("imports", "chat_id"),
        ("confirmations", "chat_id"), ("outbox", "chat_id"),
    }  # fmt: skip
    # Telegram's record of what happened in the old chat, never rewritten: edits of its messages.
    left_alone = {("edit_notices", "chat_id")}
    # Kept by triggers on orders (schema 0007): the counts follow the orders they count.
    derived = {("order_counts", "team_id")}
    assert columns - moved - left_alone - derived == set()

"""Small work on the event loop's thread (SQLite; issue 11 point 4, bot/storage/db.py).

A person, a team or an order read by its key, an update's reply and "done", the sender's mark:
each runs where the event loop runs, without a hop into a thread. What could make it wait there
never does: SQLite's write lock held by another process (``dingdan import`` beside the bot)
sends the work to the writer's thread, and checkpoints run on a thread of their own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from bot.storage import Store
from bot.storage import db as storage_db
from tests.support.calls import Calls
from tests.test_store_shape import NOW, TEAM, store  # noqa: F401 - the seeded store, a fixture

pytestmark = pytest.mark.stores("sqlite")


async def seen(store: Store, name: str = "Alice", at=NOW) -> None:
    await store.seen(user_id=101, name=name, username=None, telegram_language="en", chat_id=TEAM,
                     chat_kind="supergroup", chat_title="Shenzhen Audio", at=at)  # fmt: skip


async def test_small_work_runs_on_the_event_loops_thread(store, monkeypatch) -> None:
    calls = Calls(monkeypatch)
    await store.store_updates([(9001, "{}")], NOW)
    await seen(store)
    assert (await store.user(101)).name == "Alice"
    assert await store.team(TEAM) is not None
    assert [c.hop for c in calls.all] == [False, False, False, False]
    # A list is not small: it goes to a reader's thread.
    await store.fetchall("SELECT order_id FROM orders WHERE team_id = ?", (TEAM,))
    assert calls.all[-1].hop


async def test_a_write_lock_held_by_another_process_is_waited_for_on_a_thread(store, db_target) -> None:
    other = sqlite3.connect(db_target, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # `dingdan import` writing beside the bot
    try:
        write = asyncio.create_task(store.store_updates([(9002, "{}")], NOW))
        ticks = 0
        for _ in range(10):  # the event loop keeps serving while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10 and not write.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert await asyncio.wait_for(write, timeout=5) == {9002}
    assert await store.inbox_status(9002) == "new"
    # The next small write runs on the event loop's thread again.
    assert await store.store_updates([(9003, "{}")], NOW) == {9003}


async def test_the_writer_never_checkpoints_the_event_loop_does_not(store, db_target, monkeypatch) -> None:
    assert (await store.writer.execute_fetchall("PRAGMA wal_autocheckpoint"))[0][0] == 0
    monkeypatch.setattr(storage_db, "CHECKPOINT_AFTER", 6)  # rows
    store._checkpointed_at = store.writer._conn.total_changes  # as if one had just run
    for n in range(5):
        await store.store_updates([(9100 + n, "{}")], NOW)
    assert store._checkpointing is None
    await store.store_updates([(9105, "{}")], NOW)  # the sixth row
    assert store._checkpointing is not None  # started on its thread
    await store._checkpointing
    # What was written is in the database file itself now, not only in the WAL.
    frozen = sqlite3.connect(f"file:{db_target}?immutable=1", uri=True)
    try:
        assert frozen.execute("SELECT count(*) FROM inbox WHERE update_id >= 9100").fetchone() == (6,)
    finally:
        frozen.close()


async def test_the_wal_starts_over_after_a_checkpoint_that_commits_raced(store, db_target, monkeypatch) -> None:
    """A checkpoint runs beside the writer's commits. One that left what was committed meanwhile
    in the WAL never let the writer start the WAL over: it grew without end (338 MB after 2,000
    commands in bench_commands, each write slower as it grew). What the writer committed during
    the first pass is copied while it waits, so its next write starts the WAL over."""
    monkeypatch.setattr(storage_db, "CHECKPOINT_AFTER", 40)  # rows
    store._checkpointed_at = store.writer._conn.total_changes
    real = asyncio.to_thread
    passes: list[object] = []

    async def to_thread(work, /, *args, **kwargs):
        if getattr(work, "__name__", "") != "checkpoint":
            return await real(work, *args, **kwargs)
        passes.append(work)
        if len(passes) > 1:
            return await real(work, *args, **kwargs)
        # The first pass copies up to where it started; the bot commits meanwhile. (A reader's
        # snapshot stands for "where it started": a checkpoint copies nothing a reader might read.)
        reader = sqlite3.connect(db_target, isolation_level=None)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM inbox").fetchone()
            await store.store_updates([(9300, "{}")], NOW)
            return await real(work, *args, **kwargs)
        finally:
            reader.close()

    monkeypatch.setattr(storage_db.asyncio, "to_thread", to_thread)
    await store.store_updates([(9200 + n, "{" + "x" * 2000 + "}") for n in range(40)], NOW)  # ~20 pages
    assert store._checkpointing is not None
    await store._checkpointing
    assert len(passes) == 2  # the second while the writer waited
    monkeypatch.setattr(storage_db.asyncio, "to_thread", real)
    await store.store_updates([(9301, "{}")], NOW)
    other = sqlite3.connect(db_target, isolation_level=None)
    try:
        _, frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        other.close()
    # The WAL holds the last write alone (it started over), not everything since the store opened.
    assert 0 < frames <= 3


async def test_a_checkpoint_never_holds_the_writer_while_much_is_written(store, monkeypatch) -> None:
    """The pass that runs while the writer waits copies what a few commands wrote. While an import
    writes beside the checkpoint, each pass runs beside it, and the last is left for later."""
    monkeypatch.setattr(storage_db, "CHECKPOINT_AFTER", 40)  # rows
    monkeypatch.setattr(storage_db, "LOCKED_PASS_ROWS", 5)
    store._checkpointed_at = store.writer._conn.total_changes
    real = asyncio.to_thread
    held: list[bool] = []

    async def to_thread(work, /, *args, **kwargs):
        if getattr(work, "__name__", "") == "checkpoint":
            held.append(store._write_lock.locked())
            # 10 rows written during each pass (with the lock held here, this would wait: a hang
            # that the time limit below turns into a failure)
            await store.store_updates([(9600 + 10 * len(held) + n, "{}") for n in range(10)], NOW)
        return await real(work, *args, **kwargs)

    monkeypatch.setattr(storage_db.asyncio, "to_thread", to_thread)
    await store.store_updates([(9500 + n, "{}") for n in range(40)], NOW)
    assert store._checkpointing is not None
    await asyncio.wait_for(store._checkpointing, timeout=10)
    assert held == [False, False, False]


async def test_a_small_write_lets_the_tasks_that_are_ready_run_first(store, monkeypatch) -> None:
    """Another team's update, ready to run, goes before the write begins (fairness); with nothing
    ready the write does not give the loop a turn for nothing (one more poll of the sockets)."""
    order: list[str] = []
    inline = storage_db.Database.run_inline

    def run_inline(db, work, *, near):
        order.append("write")
        return inline(db, work, near=near)

    monkeypatch.setattr(storage_db.Database, "run_inline", run_inline)

    async def other_team() -> None:
        order.append("other team")

    other = asyncio.create_task(other_team())
    await store.store_updates([(9400, "{}")], NOW)
    await other
    assert order == ["other team", "write"]
    assert storage_db._others_ready() is False  # this test's task alone is running now


@asynccontextmanager
async def restarted(store: Store, db_target) -> AsyncIterator[Store]:
    """The desk after a restart: Alice wrote in the team's group at NOW; the process that saw her
    is gone, and a new one opens the same database (the fixture's store is open again after)."""
    await seen(store, at=NOW)
    await store.close()
    again = Store(db_target)
    await again.open()
    try:
        yield again
    finally:
        await again.close()
        await store.open()  # the fixture closes it


def alice_seen_at(db_target) -> list[tuple[str]]:
    with sqlite3.connect(db_target) as plain:
        return plain.execute("SELECT updated_at FROM users WHERE user_id = 101").fetchall()


async def test_a_restart_does_not_write_again_who_wrote_where_recently(store, db_target, monkeypatch) -> None:
    """The first message since the process started: what the database holds is read; written
    again only if it changed or is older than SEEN_AGAIN (a restart does not write everyone)."""
    async with restarted(store, db_target) as again:
        calls = Calls(monkeypatch)
        await seen(again, at=NOW + timedelta(minutes=3))
        assert len(calls.all) == 1  # read, and nothing written
        assert (await again.user(101)).name == "Alice"
        assert alice_seen_at(db_target) == [("2026-11-21T08:00:00+00:00",)]
        calls.clear()
        await seen(again, at=NOW + timedelta(minutes=4))
        assert calls.all == []  # known now
        # Older than SEEN_AGAIN as the database has it (not as this process first read it): written.
        await seen(again, at=NOW + timedelta(minutes=11))
        assert len(calls.all) == 1
        assert alice_seen_at(db_target) == [("2026-11-21T08:11:00+00:00",)]


async def test_a_restart_writes_who_wrote_where_when_it_changed(store, db_target, monkeypatch) -> None:
    async with restarted(store, db_target) as again:
        calls = Calls(monkeypatch)
        await seen(again, name="Alice Wang", at=NOW + timedelta(minutes=1))
        assert len(calls.all) == 1  # read, then written, in one call
        assert (await again.user(101)).name == "Alice Wang"
        assert alice_seen_at(db_target) == [("2026-11-21T08:01:00+00:00",)]
        calls.clear()
        await again.seen(user_id=101, name="Alice Wang", username=None, telegram_language="en", chat_id=101,
                         chat_kind="private", chat_title="", at=NOW + timedelta(minutes=2))  # fmt: skip
        assert len(calls.all) == 1  # a chat this process does not know yet: read, then written (it is new)


async def test_who_wrote_where_is_not_written_again_when_nothing_changed(store, monkeypatch) -> None:
    await seen(store)
    calls = Calls(monkeypatch)
    await seen(store, at=NOW + timedelta(minutes=1))
    assert calls.all == []  # nothing changed: no write
    await seen(store, name="Alice Wang", at=NOW + timedelta(minutes=2))
    assert len(calls.all) == 1 and (await store.user(101)).name == "Alice Wang"
    calls.clear()
    await seen(store, name="Alice Wang", at=NOW + timedelta(minutes=13))
    assert len(calls.all) == 1  # written again after SEEN_AGAIN, though nothing changed
    # A change of what the row returns (their language) is never hidden by the memory.
    await store.set_user_language(101, "zh_Hans")
    calls.clear()
    await seen(store, name="Alice Wang", at=NOW + timedelta(minutes=14))
    assert len(calls.all) == 1
    assert (await store.user(101)).language == "zh_Hans"

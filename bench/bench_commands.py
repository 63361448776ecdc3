"""Commands handled per second, end to end: dingdan against a bare echo bot, in one run.

    python bench/bench_commands.py [--members 200] [--cold 25] [--repeat 5] [--only limited|unlimited]
                                   [--profile DIR] [--phases] [--pin] [--floor] [--one-by-one 100]

Both bots are real python-telegram-bot ``Application``s polling the same kind of fake Bot
API server (tests/support/fakebotapi.py) over real HTTP on 127.0.0.1. Each bot runs in its own
process (so it has a core to itself; the fake server and the scripted people run in this
one). ``--members`` people each write in their private chat with the bot (Telegram's
20 messages/minute into one group would otherwise be all we measure):

  round 1  "/ship ORDER UPS 1Z…" on a distinct order each, the first message of each person
           since the bot started (dingdan reads who they are once; the prepared database
           has them as seen just before it started: nothing to write unless it changed);
  round 2  the same people again, on other orders: the steady state;
  cold     ``--cold`` more people whose membership dingdan has not checked in the last
           10 minutes: it asks Telegram (getChatMember on the group) before acting. Since
           d90077d those look-ups bypass PTB's limiter, which would count them against the
           group's 20 messages/minute (measured before: 25 cold members, 1.7 commands/s);
  one by one  (unlimited pair only; run first) 100 more members (``--one-by-one``), each sending one command
           when the previous reply has arrived: one command's latency with no queueing,
           shown as commands/s. For dingdan it is each person's first message.

Each round is timed from the first message sent to the last reply received. The baseline
is a bare echo bot (a CommandHandler answering with the text it got) built with the same
builder options as dingdan: same Defaults, concurrent_updates(64) and the same
AIORateLimiter(max_retries=2). The limiter allows ~30 messages/s overall, so with it both
bots are capped alike; a second pair runs WITHOUT a rate limiter on either side to show
what the handlers themselves cost. dingdan's ``build_application`` always installs the
limiter: for the unlimited pair this script replaces ``bot.app.DeskRateLimiter`` inside the
bot's process with a function returning None (``ApplicationBuilder.rate_limiter(None)`` =
no limiter). Nothing in bot/ is changed.

dingdan's database is prepared before it starts, as /start and an uploaded report would
leave it: the team, 5,000 imported orders (through ``Importer``), and the members in
``--members`` (as a getChatMember check within the last 10 minutes leaves them). At the end
every shipped order is checked in the database: goods "shipped", the tracking number sent,
exactly one "ship" event.

Printed: commands/s of both bots per round and their ratio (target: dingdan >= 0.7 of the
echo bot), CPU milliseconds per command in each bot's process and in the fake server, and
the Bot API calls each bot made. Takes ~1-1.5 minutes on 2 cores. dingdan's process calls
``bot.app.settle()`` once it runs, as ``dingdan run`` does.

``--profile DIR`` runs each dingdan process under cProfile (its event loop's thread: what
the CPU-per-command figures mostly are; aiosqlite's threads are not in it) and writes
``DIR/dingdan-<pid>.prof``; the functions costing most, summed over the runs, are printed
at the end. Profiling slows dingdan: its figures are then not comparable to the echo bot's.

``--pin`` keeps this process (the fake server and the people) on the first CPU and each bot's
process, its threads included, on the second: on a 2-core machine the bots' figures otherwise
move with where the scheduler puts the three processes (one by one's ratio 0.44-0.72 in
consecutive runs; pinned 0.56-0.63).

``--floor`` runs a third bot in each unlimited run, the storage floor: the echo bot, plus
the writes dingdan makes durable for a /ship, in a database prepared as dingdan's (its
schema, its indexes and triggers), on one connection, with no other code: the inbox (before
the offset is confirmed), the order and its items read, one transaction for the shipment, its
event, the queued reply and the update done, then the reply sent as the echo bot sends it and
marked sent. A second table prints floor/echo (what those writes alone cost a bare bot) and
dingdan/floor (what the rest of dingdan costs on top of them).

``--phases`` prints where one command's time goes in dingdan's one-by-one round, as medians:
from Telegram's answer to getUpdates to the update kept in the inbox, to its processing, to
its commit, to the sender calling sendMessage, to that call's return (marks set per update by
wrapping a few methods inside dingdan's process; nothing in bot/ changes). The fake server
hands out the next command as soon as it has the reply, so the last step also holds the next
update's first steps, and the steps of one update share the loop with the last one's ending.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import random
import resource
import shutil
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "bench", ROOT):  # the root for bot/ and tests.support; works without `pip install -e .` too
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _reports import order_id, report_bytes

from tests.support.fakebotapi import FakeBotAPI

GROUP_ID = -1001234567890
ADMIN_ID = 1000
ORDERS_IN_DB = 5000
TIMEZONE = "Asia/Shanghai"
ROUNDS = ("round 1", "round 2", "cold")
#: Without a limiter, also one command at a time: the handler's own latency, no queueing.
ONE_BY_ONE = "one by one"
#: People in the one-by-one round (``--one-by-one``).
ONE_BY_ONE_PEOPLE = {"count": 100}
#: ``--pin``: this process (the fake server, the people) on the first CPU, each bot on the second.
PIN = [False]


def _cpu() -> float:
    """CPU seconds (user + system, all threads) of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ----------------------------------------------------------------------------- the bots


@dataclass(frozen=True)
class BotConfig:
    kind: str  # "dingdan" | "echo"
    limited: bool
    token: str
    api_url: str
    file_url: str
    db_path: str
    profile: str = ""  # a directory: run under cProfile, write dingdan-<pid>.prof there
    phases: bool = False  # print where one command's time goes (dingdan, one by one)
    pin: bool = False  # run on the second CPU (the benchmark's own process has the first)


def _bot_process(cfg: BotConfig, conn: Any) -> None:
    """Entry point of a bot's process: run it until told to stop; answer CPU questions."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if cfg.pin:
        os.sched_setaffinity(0, {1})  # its threads too: what the bot costs, on a core of its own
    profiler = None
    if cfg.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        asyncio.run(_serve_bot(cfg, conn))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(Path(cfg.profile) / f"{cfg.kind}-{os.getpid()}.prof"))
        conn.close()


async def _serve_bot(cfg: BotConfig, conn: Any) -> None:
    loop = asyncio.get_running_loop()
    phases = _Phases() if cfg.phases else None
    asked = 0
    async with _running(cfg):
        if cfg.kind == "dingdan":
            import bot.app

            bot.app.settle()  # as `dingdan run` does once the bot runs (bot.app.serve)
        conn.send(("ready", _cpu()))
        while True:
            message = await loop.run_in_executor(None, conn.recv)
            if message == "cpu":
                asked += 1
                if phases is not None and asked == 2:  # the end of the first round: one by one
                    phases.show()
                conn.send(("cpu", _cpu()))
            elif message == "stop":
                break
    conn.send(("stopped", _cpu()))


class _Phases:
    """Marks set inside dingdan's process, per update (the one-by-one round: one at a time, but
    the next update may arrive while the last reply's sendMessage waits for its answer)."""

    STEPS = (("recv", "inbox", "getUpdates answered -> kept in the inbox"),
             ("inbox", "process", "-> processing begins"),
             ("process", "commit", "-> committed (effect, reply, done)"),
             ("commit", "send", "-> the reply's sendMessage goes out"),
             ("send", "sent", "-> Telegram answered"),
             ("recv", "sent", "all"))  # fmt: skip

    def __init__(self) -> None:
        import bot.durable as durable
        from bot.storage import unit

        self.marks: dict[int, dict[str, float]] = {}
        self.spans: dict[str, list[float]] = {name: [] for _, _, name in self.STEPS}
        mark = self.mark
        post, get_updates, process = (
            durable.DeskBot._post,
            durable.DeskBot.get_updates,
            durable.DeskApplication.process_update,
        )
        commit, call = unit.Unit.commit, durable.Sender._call

        async def _post(bot: Any, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            result = await post(bot, endpoint, *args, **kwargs)
            if endpoint == "getUpdates" and isinstance(result, list):
                for u in result:
                    mark(u["update_id"], "recv")
            return result

        async def _get_updates(bot: Any, *args: Any, **kwargs: Any) -> Any:
            updates = await get_updates(bot, *args, **kwargs)
            for u in updates:
                mark(u.update_id, "inbox")
            return updates

        async def _process(application: Any, update: Any) -> None:
            mark(update.update_id, "process")
            await process(application, update)

        async def _commit(u: Any) -> None:
            await commit(u)
            mark(u.update_id, "commit")

        async def _call(sender: Any, row: Any, chat_id: int) -> Any:
            mark(row.update_id, "send")
            message = await call(sender, row, chat_id)
            mark(row.update_id, "sent")
            self.took(row.update_id)
            return message

        durable.DeskBot._post = _post  # type: ignore[method-assign]
        durable.DeskBot.get_updates = _get_updates  # type: ignore[method-assign]
        durable.DeskApplication.process_update = _process  # type: ignore[method-assign]
        unit.Unit.commit = _commit  # type: ignore[method-assign]
        durable.Sender._call = _call  # type: ignore[method-assign]

    def mark(self, update_id: int | None, name: str) -> None:
        if update_id is not None:
            self.marks.setdefault(update_id, {})[name] = time.perf_counter()

    def took(self, update_id: int | None) -> None:
        marks = self.marks.pop(update_id, {}) if update_id is not None else {}
        for start, end, name in self.STEPS:
            a, b = marks.get(start), marks.get(end)
            if a is not None and b is not None:
                self.spans[name].append(b - a)

    def show(self) -> None:
        print("dingdan, one by one, where a command's time goes (median ms):", flush=True)
        for _, _, name in self.STEPS:
            got = self.spans[name]
            if got:
                print(f"  {name:42} {statistics.median(got) * 1000:6.2f}  ({len(got)} commands)", flush=True)


def _running(cfg: BotConfig) -> Any:
    if cfg.kind == "dingdan":
        import bot.app
        from bot.settings import Settings

        if not cfg.limited:
            # build_application() always installs its rate limiter (DeskRateLimiter since the
            # fairness change; AIORateLimiter before); without it the builder gets
            # rate_limiter(None), i.e. no limiter. A class whose instances are None, since
            # _post_init asks isinstance(limiter, DeskRateLimiter) (replicas share the limit).

            class NoLimiter:
                def __new__(cls, *args: Any, **kwargs: Any) -> Any:
                    return None

            bot.app.DeskRateLimiter = NoLimiter  # type: ignore[assignment,misc]
        settings = Settings(token=cfg.token, db_path=Path(cfg.db_path), timezone=TIMEZONE, api_url=cfg.api_url,
                            file_url=cfg.file_url)  # fmt: skip
        return bot.app.running(settings)
    return EchoRunning(cfg)


def _echo_application(cfg: BotConfig) -> Any:
    """The baseline: a bare PTB bot with dingdan's builder options, echoing /ship."""
    from telegram import LinkPreviewOptions, Update
    from telegram.constants import ParseMode
    from telegram.ext import (
        AIORateLimiter,
        ApplicationBuilder,
        CommandHandler,
        ContextTypes,
        Defaults,
    )

    builder = (
        ApplicationBuilder()
        .token(cfg.token)
        .base_url(cfg.api_url)
        .base_file_url(cfg.file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(64)
    )
    if cfg.limited:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
    application = builder.build()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await message.reply_text(message.text)

    application.add_handler(CommandHandler("ship", echo))
    return application


def _floor_application(cfg: BotConfig) -> Any:
    """The storage floor (``--floor``): the echo bot, plus the writes dingdan makes durable for a
    /ship, in dingdan's database (its schema: the indexes and triggers that keep reads flat), on
    one connection on the event loop's thread, with nothing else: no access check, no parsing
    beyond a split, no lifecycle, no texts, no sender. Per command, as dingdan:

    - the update kept in the inbox before its offset is confirmed (a transaction per getUpdates);
    - the order and its items read; then one transaction: the order shipped (its version
      checked), its items, the shipment, the event, the reply queued in the outbox, the update
      done;
    - the reply sent (as the echo bot sends it), then marked sent (a transaction).

    Checkpoints as dingdan makes them: none in a commit; every 1,000 rows written, a pass on a
    thread beside the writes, then a short one while they wait (else the WAL never starts over).
    Not made: who wrote where (dingdan writes it once per person per 10 minutes)."""
    import json

    from telegram import LinkPreviewOptions, Update
    from telegram.constants import ParseMode
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, Defaults, ExtBot
    from telegram.request import HTTPXRequest

    db = sqlite3.connect(cfg.db_path, isolation_level=None, check_same_thread=False, cached_statements=1024)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; "
                     "PRAGMA wal_autocheckpoint=0;")  # fmt: skip
    checkpointer = sqlite3.connect(cfg.db_path, isolation_level=None, check_same_thread=False)
    writing = asyncio.Lock()
    checkpoints: dict[str, Any] = {"at": 0, "task": None}

    def stamp() -> str:
        return datetime.now(UTC).isoformat(timespec="seconds")

    async def checkpoint() -> None:
        def one_pass() -> None:
            checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        try:
            await asyncio.to_thread(one_pass)
            async with writing:
                await asyncio.to_thread(one_pass)
        finally:
            checkpoints["task"] = None

    async def in_one(work: Any) -> Any:
        async with writing:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work()
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        if db.total_changes - checkpoints["at"] >= 1000 and checkpoints["task"] is None:
            checkpoints["at"] = db.total_changes
            checkpoints["task"] = asyncio.create_task(checkpoint())
        return result

    received: dict[int, str] = {}  # the JSON of the last getUpdates' updates (PTB's bots are frozen)

    class FloorBot(ExtBot):  # type: ignore[type-arg]
        async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            result = await super()._post(endpoint, *args, **kwargs)
            if endpoint == "getUpdates" and isinstance(result, list):
                received.clear()
                received.update((u["update_id"], json.dumps(u)) for u in result)
            return result

        async def get_updates(self, *args: Any, **kwargs: Any) -> Any:
            updates = await super().get_updates(*args, **kwargs)
            if updates:
                ids, at = [u.update_id for u in updates], stamp()

                def keep() -> None:
                    known = {r[0] for r in db.execute(
                        f"SELECT update_id FROM inbox WHERE update_id IN ({', '.join('?' * len(ids))})", ids)}  # fmt: skip
                    db.executemany("INSERT INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)",
                                   [(i, received.get(i, "{}"), at) for i in ids if i not in known])  # fmt: skip

                await in_one(keep)
            return updates

    builder = ApplicationBuilder().bot(FloorBot(
        token=cfg.token, base_url=cfg.api_url, base_file_url=cfg.file_url,
        defaults=Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)),
        request=HTTPXRequest(connection_pool_size=256), get_updates_request=HTTPXRequest(connection_pool_size=1),
    )).concurrent_updates(64)  # fmt: skip
    application = builder.build()

    async def ship(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and message.text is not None and user is not None
        _, oid, carrier, tracking = message.text.split()
        at = stamp()
        goods, version = db.execute("SELECT goods, version FROM orders WHERE team_id = ? AND order_id = ?",
                                    (GROUP_ID, oid)).fetchone()  # fmt: skip
        items = db.execute("SELECT item_id, quantity FROM order_items WHERE team_id = ? AND order_id = ? "
                           "ORDER BY item_id", (GROUP_ID, oid)).fetchall()  # fmt: skip
        text = f"Order {oid} shipped with UPS, tracking number {tracking}."

        def write() -> int:
            db.execute("UPDATE orders SET goods = 'shipped', carrier = ?, tracking = ?, shipped_at = ?, version = ?, "
                       "updated_at = ? WHERE team_id = ? AND order_id = ? AND version = ?",
                       (carrier, tracking, at, version + 1, at, GROUP_ID, oid, version))  # fmt: skip
            db.executemany("UPDATE order_items SET quantity_shipped = ? WHERE team_id = ? AND order_id = ? AND item_id = ?",
                           [(q, GROUP_ID, oid, item) for item, q in items])  # fmt: skip
            db.executemany("INSERT INTO shipments (team_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, "
                           "tracking, ship_method) VALUES (?, ?, ?, ?, ?, ?, '', ?, '')",
                           [(GROUP_ID, oid, item, q, at, carrier, tracking) for item, q in items])  # fmt: skip
            db.execute("INSERT INTO events (team_id, order_id, at, actor_kind, actor_id, actor_name, chat_id, action, "
                       "from_goods, to_goods, details) VALUES (?, ?, ?, 'user', ?, ?, ?, 'ship', ?, 'shipped', ?)",
                       (GROUP_ID, oid, at, user.id, user.full_name, message.chat_id, goods,
                        json.dumps({"carrier": carrier, "tracking": tracking})))  # fmt: skip
            (outbox_id,) = db.execute(
                "INSERT INTO outbox (chat_id, kind, update_id, payload, created_at, not_before) "
                "VALUES (?, 'reply', ?, ?, ?, ?) RETURNING outbox_id",
                (message.chat_id, update.update_id, json.dumps({"text": text}), at, at)).fetchone()  # fmt: skip
            db.execute("UPDATE inbox SET status = 'done', done_at = ?, payload = '' WHERE update_id = ? AND status = 'new'",
                       (at, update.update_id))  # fmt: skip
            return int(outbox_id)

        outbox_id = await in_one(write)
        sent = await message.reply_text(text)
        await in_one(lambda: db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1 WHERE outbox_id = ?",
            (stamp(), sent.message_id, outbox_id)))  # fmt: skip

    application.add_handler(CommandHandler("ship", ship))
    application.bot_data["floor db"] = db  # closed with the process
    return application


class EchoRunning:
    """Start and stop the echo bot exactly as ``bot.app.running`` starts dingdan."""

    def __init__(self, cfg: BotConfig) -> None:
        self.application = _floor_application(cfg) if cfg.kind == "floor" else _echo_application(cfg)

    async def __aenter__(self) -> Any:
        from telegram import Update

        app = self.application
        await app.initialize()
        await app.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES,
                                        drop_pending_updates=False)  # fmt: skip
        await app.start()
        return app

    async def __aexit__(self, *exc: object) -> None:
        app = self.application
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


class BotProcess:
    """A bot in a child process, driven over a pipe."""

    def __init__(self, cfg: BotConfig) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_bot_process, args=(cfg, child), name=f"bench-{cfg.kind}", daemon=True)
        self.process.start()
        child.close()

    async def _recv(self, expect: str, timeout: float = 60.0) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await loop.run_in_executor(None, self.conn.poll, 0.2):
            if not self.process.is_alive():
                raise RuntimeError(f"the bot process died (exit code {self.process.exitcode})")
            if loop.time() > deadline:
                raise TimeoutError(f"no {expect!r} from the bot process in {timeout:g}s")
        kind, value = self.conn.recv()
        if kind != expect:
            raise RuntimeError(f"expected {expect!r} from the bot process, got {kind!r}")
        return float(value)

    async def ready(self) -> None:
        await self._recv("ready")

    async def cpu(self) -> float:
        self.conn.send("cpu")
        return await self._recv("cpu")

    async def stop(self) -> None:
        try:
            if self.process.is_alive():
                self.conn.send("stop")
                await self._recv("stopped", timeout=30)
        finally:
            self.process.join(timeout=10)
            if self.process.is_alive():
                self.process.terminate()  # our own child, by its handle
                self.process.join(timeout=5)
            self.conn.close()


# ----------------------------------------------------------------------------- the fake


class CountingAPI(FakeBotAPI):
    """The fake server, also noting when each reply to a private chat arrived (cheaply:
    waiting on ``len(api.sent(chat))`` over hundreds of chats would cost the run itself)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replies: dict[int, list[str]] = {}
        self.reply_count = 0
        self.last_reply_at = 0.0

    def _m_sendMessage(self, params: dict) -> dict:
        result = super()._m_sendMessage(params)
        chat_id = result["chat"]["id"]
        if chat_id > 0:
            self.replies.setdefault(chat_id, []).append(result.get("text", ""))
            self.reply_count += 1
            self.last_reply_at = time.perf_counter()
        return result


def tracking_numbers(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct UPS tracking numbers: "1Z" + 16 upper-case letters and digits."""
    rng = random.Random(seed)
    alphabet = string.ascii_uppercase + string.digits
    found: dict[str, None] = {}
    while len(found) < n:
        found["1Z" + "".join(rng.choice(alphabet) for _ in range(16))] = None
    return list(found)


@dataclass
class RoundResult:
    commands: int
    seconds: float
    bot_cpu: float
    fake_cpu: float
    calls: dict[str, int] = field(default_factory=dict)  # Bot API calls in the round, getUpdates aside

    @property
    def rate(self) -> float:
        return self.commands / self.seconds


@dataclass
class RunResult:
    kind: str
    limited: bool
    rounds: dict[str, RoundResult] = field(default_factory=dict)
    checked: str = ""


async def _prepare_db(db_path: Path, members: list[int]) -> None:
    """What /start, an uploaded report and recent getChatMember checks leave in the database."""
    from bot.domain import Actor
    from bot.importing import Importer
    from bot.lifecycle import Lifecycle
    from bot.storage import Store

    store = Store(db_path)
    await store.open()
    try:
        now = datetime.now(UTC)
        await store.create_team(GROUP_ID, "Bench team", TIMEZONE, ADMIN_ID, now)
        result = await Importer(store, Lifecycle(), lambda: datetime.now(UTC)).import_file(
            GROUP_ID, report_bytes(ORDERS_IN_DB), filename="bench-unshipped.txt", actor=Actor.importer("bench")
        )
        assert result.new == ORDERS_IN_DB and not result.refused, result
        # The generated orders' ship-by dates fall due around now: with alerts on, dingdan's
        # alert job would send hundreds of reminders through the rate limiter during the
        # rounds (and stopping waits for that job). The echo bot sends none: switch them off.
        from bot.alerts import KINDS

        await store.update_team(GROUP_ID, kinds_off=",".join(KINDS), digest_at="")
        for uid in members:
            await store.seen(user_id=uid, name=f"Member {uid}", username=None, telegram_language="en", chat_id=uid,
                             chat_kind="private", chat_title="", at=now)  # fmt: skip
            await store.set_member(GROUP_ID, uid, "member", now, active=True)
    finally:
        await store.close()


def _verify_db(db_path: Path, shipped: dict[str, str]) -> str:
    """Every order we shipped: goods shipped, our tracking number, exactly one 'ship' event."""
    con = sqlite3.connect(db_path)
    try:
        events = dict(con.execute(
            "SELECT order_id, count(*) FROM events WHERE team_id = ? AND action = 'ship' GROUP BY order_id",
            (GROUP_ID,),
        ).fetchall())  # fmt: skip
        rows = {oid: (goods, carrier, tracking) for oid, goods, carrier, tracking in con.execute(
            "SELECT order_id, goods, carrier, tracking FROM orders WHERE team_id = ?", (GROUP_ID,))}  # fmt: skip
    finally:
        con.close()
    problems = []
    for oid, tracking in shipped.items():
        if events.get(oid) != 1:
            problems.append(f"{oid}: {events.get(oid, 0)} ship events")
        if rows.get(oid) != ("shipped", "UPS", tracking):
            problems.append(f"{oid}: {rows.get(oid)}")
    extra = set(events) - set(shipped)
    if extra:
        problems.append(f"{len(extra)} orders shipped that nobody shipped")
    if problems:
        raise AssertionError("database check failed:\n  " + "\n  ".join(problems[:20]))
    return f"{len(shipped)} orders shipped in the DB, one 'ship' event each, tracking numbers as sent"


async def run_bot(kind: str, limited: bool, members: int, cold: int, workdir: Path, profile: str = "",
                  phases: bool = False) -> RunResult:  # fmt: skip
    api = CountingAPI()
    await api.start()
    bot_process: BotProcess | None = None
    result = RunResult(kind, limited)
    try:
        group = api.group(GROUP_ID, "Bench team")
        group.add(api.user(ADMIN_ID, "Admin", language_code="en"), "creator")
        people = {
            "round 1": [api.user(10_000 + i, f"Member {10_000 + i}", language_code="en") for i in range(members)],
            "cold": [api.user(20_000 + i, f"Member {20_000 + i}", language_code="en") for i in range(cold)],
        }
        people["round 2"] = people["round 1"]
        rounds = list(ROUNDS)
        if not limited:
            # First, while the bot's HTTP connection pool is still small (see README).
            rounds.insert(0, ONE_BY_ONE)
            people[ONE_BY_ONE] = [api.user(30_000 + i, f"Member {30_000 + i}", language_code="en")
                                  for i in range(ONE_BY_ONE_PEOPLE["count"])]  # fmt: skip
        for person in people["round 1"] + people["cold"] + people.get(ONE_BY_ONE, []):
            group.add(person, "member")
            api.private(person)
        db_path = Path(tempfile.mkdtemp(dir=workdir)) / f"{kind}.sqlite3"
        if kind in ("dingdan", "floor"):
            await _prepare_db(db_path, [p.id for p in people["round 1"] + people.get(ONE_BY_ONE, [])])

        cfg = BotConfig(kind, limited, api.token, api.base_url, api.base_file_url, str(db_path),
                        profile if kind == "dingdan" else "", phases and kind == "dingdan", PIN[0])  # fmt: skip
        bot_process = BotProcess(cfg)
        await bot_process.ready()

        total = sum(len(people[r]) for r in rounds)
        numbers = tracking_numbers(total)
        shipped: dict[str, str] = {}
        expected: dict[int, list[str]] = {}
        n = 0
        for name in rounds:
            batch = []
            for person in people[name]:
                oid, tracking = order_id(n), numbers[n]
                n += 1
                batch.append((person, oid, tracking))
                shipped[oid] = tracking
            target = api.reply_count + len(batch)
            calls0 = len(api.calls)
            bot_cpu0, fake_cpu0 = await bot_process.cpu(), _cpu()
            t0 = time.perf_counter()
            for person, oid, tracking in batch:
                text = f"/ship {oid} UPS {tracking}"
                before = api.reply_count
                await api.send_text(person, person, text)
                expected.setdefault(person.id, []).append(
                    text if kind == "echo" else f"Order {oid} shipped with UPS, tracking number {tracking}."
                )
                if name == ONE_BY_ONE:  # this reply first, then the next command
                    await api.wait_for(lambda before=before: api.reply_count > before, timeout=30, what="a reply")
            await api.wait_for(lambda target=target: api.reply_count >= target, timeout=150, what=f"{name} replies")
            seconds = api.last_reply_at - t0
            fake_cpu = _cpu() - fake_cpu0
            bot_cpu = await bot_process.cpu() - bot_cpu0
            calls = Counter(method for method, _ in api.calls[calls0:])
            result.rounds[name] = RoundResult(len(batch), seconds, bot_cpu, fake_cpu, dict(calls))

        # Every reply is the right one (a refusal is a reply too, and must not count).
        wrong = [(uid, got, want) for uid, want in expected.items() if (got := api.replies.get(uid, [])) != want]
        if wrong:
            raise AssertionError(f"{len(wrong)} people got other replies than expected, e.g. {wrong[0]}")
        if api.errors:
            raise AssertionError(f"the fake server refused {len(api.errors)} calls, e.g. {api.errors[0]}")
        await bot_process.stop()
        bot_process = None
        if kind in ("dingdan", "floor"):
            result.checked = _verify_db(db_path, shipped)
        else:
            result.checked = f"{len(shipped)} echoes, each as sent"
    finally:
        if bot_process is not None:
            await bot_process.stop()
        await api.stop()
    return result


# ----------------------------------------------------------------------------- report


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _ms_per_command(rounds: list[RoundResult], what: str) -> float:
    return _median([1000 * getattr(r, what) / r.commands for r in rounds])


def _print_pairs(title: str, pairs: list[tuple[RunResult, RunResult]], floors: Sequence[RunResult] = ()) -> None:
    """One line per round: medians over the repeats, and the spread of the per-repeat ratio;
    with ``floors`` (``--floor``), the storage floor's runs in a second table."""
    many = len(pairs) > 1
    print(f"\n== {title}" + (f" - median of {len(pairs)} runs, alternating the bots" if many else ""))
    print(f"{'':10} {'commands':>8} {'echo/s':>8} {'dingdan/s':>9} {'ratio':>6} {'(min-max)' if many else '':>11}"
          f" | CPU ms per command in: {'echo':>5} {'dingdan':>7} {'fake server (echo/dingdan run)':>31}")  # fmt: skip
    for name in pairs[0][1].rounds:
        e = [echo.rounds[name] for echo, _ in pairs]
        d = [dingdan.rounds[name] for _, dingdan in pairs]
        e_rate, d_rate = _median([r.rate for r in e]), _median([r.rate for r in d])
        ratios = [dr.rate / er.rate for er, dr in zip(e, d, strict=True)]
        spread = f"({min(ratios):.2f}-{max(ratios):.2f})" if many else ""
        print(
            f"{name:10} {d[0].commands:8d} {e_rate:8.1f} {d_rate:9.1f} {d_rate / e_rate:6.2f} {spread:>11}"
            f" | {'':23}{_ms_per_command(e, 'bot_cpu'):5.2f} {_ms_per_command(d, 'bot_cpu'):7.2f} "
            f"{_ms_per_command(e, 'fake_cpu'):18.2f} / {_ms_per_command(d, 'fake_cpu'):.2f}"
        )
    if floors:
        _print_floor(pairs, floors)
    echo, dingdan = pairs[-1]
    for who, run in (("echo", echo), ("dingdan", dingdan), *((("floor", floors[-1]),) if floors else ())):
        calls = {
            name: ", ".join(f"{n} {method}" for method, n in sorted(r.calls.items())) for name, r in run.rounds.items()
        }
        print(f"{who}'s Bot API calls: " + "; ".join(f"{name}: {c}" for name, c in calls.items()))
    print(f"checked: echo: {echo.checked}; dingdan: {dingdan.checked}"
          + (f"; floor: {floors[-1].checked}" if floors else ""))  # fmt: skip


def _print_floor(pairs: list[tuple[RunResult, RunResult]], floors: Sequence[RunResult]) -> None:
    """The storage floor beside the pair it ran with: what dingdan's durable writes alone cost
    the echo bot (floor/echo), and what the rest of dingdan costs on top of them (dingdan/floor)."""
    print(f"\n{'':10} {'floor/s':>8} {'floor/echo':>10} {'dingdan/floor':>13} {'(min-max)':>11}"
          f" | CPU ms per command in: {'echo':>5} {'floor':>5} {'dingdan':>7}")  # fmt: skip
    for name in floors[0].rounds:
        e = [echo.rounds[name] for echo, _ in pairs]
        d = [dingdan.rounds[name] for _, dingdan in pairs]
        f = [floor.rounds[name] for floor in floors]
        e_rate, d_rate, f_rate = (_median([r.rate for r in x]) for x in (e, d, f))
        ratios = [dr.rate / fr.rate for dr, fr in zip(d, f, strict=True)]
        spread = f"({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
        print(f"{name:10} {f_rate:8.1f} {f_rate / e_rate:10.2f} {d_rate / f_rate:13.2f} {spread:>11}"
              f" | {'':23}{_ms_per_command(e, 'bot_cpu'):5.2f} {_ms_per_command(f, 'bot_cpu'):5.2f} "
              f"{_ms_per_command(d, 'bot_cpu'):7.2f}")  # fmt: skip


def _print_profile(directory: str, top: int = 30) -> None:
    """The functions of dingdan's event loop costing most (own time), over every profiled run."""
    import pstats

    files = sorted(str(p) for p in Path(directory).glob("dingdan-*.prof"))
    if not files:
        return
    stats = pstats.Stats(*files, stream=sys.stdout)
    print(f"\n== dingdan under cProfile ({len(files)} runs; {directory}): the {top} costliest by own time")
    stats.sort_stats("tottime").print_stats(top)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200, help="people writing in their private chats (200)")
    parser.add_argument("--cold", type=int, default=25,
                        help="people dingdan has not checked recently (getChatMember first; 25)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of the unlimited pair (its sub-second rounds are noisy; 5)")  # fmt: skip
    parser.add_argument("--only", choices=("limited", "unlimited"), help="run one pair only")
    parser.add_argument("--profile", metavar="DIR", default="",
                        help="run dingdan under cProfile, write DIR/dingdan-<pid>.prof, print the costliest")  # fmt: skip
    parser.add_argument("--phases", action="store_true",
                        help="print where one command's time goes in dingdan's one-by-one round")  # fmt: skip
    parser.add_argument("--one-by-one", type=int, default=100,
                        help="people in the one-by-one round (100; 1,000 tells small differences apart)")  # fmt: skip
    parser.add_argument("--floor", action="store_true",
                        help="also run the storage floor: the echo bot making dingdan's durable writes (unlimited)")  # fmt: skip
    parser.add_argument("--pin", action="store_true",
                        help="this process on the first CPU, each bot on the second (steadier ratios on 2 cores)")  # fmt: skip
    args = parser.parse_args()
    if args.pin:
        if (os.cpu_count() or 1) < 2:
            parser.error("--pin needs 2 CPUs")
        PIN[0] = True
        os.sched_setaffinity(0, {0})
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    ONE_BY_ONE_PEOPLE["count"] = args.one_by_one
    if 2 * args.members + args.cold + args.one_by_one > ORDERS_IN_DB:
        parser.error(f"need 2 * members + cold + one-by-one <= {ORDERS_IN_DB}")

    import telegram

    print(f"python-telegram-bot {telegram.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
          f"{args.members} members in private chats + {args.cold} cold; {ORDERS_IN_DB} orders in dingdan's DB; "
          f"load average before {os.getloadavg()[0]:.2f}")  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="dingdan-bench-"))
    started = time.perf_counter()
    try:
        if args.only != "unlimited":
            pair = (await run_bot("echo", True, args.members, args.cold, workdir),
                    await run_bot("dingdan", True, args.members, args.cold, workdir, args.profile))  # fmt: skip
            _print_pairs("WITH AIORateLimiter(max_retries=2) on both bots (both capped at ~30 messages/s)", [pair])
        if args.only != "limited":
            pairs, floors = [], []
            for i in range(args.repeat):
                # Alternate which bot goes first, so neither always runs on a warmer machine.
                order = ["echo", "dingdan"] if i % 2 == 0 else ["dingdan", "echo"]
                if args.floor:
                    order.insert(1, "floor")
                got = {
                    kind: await run_bot(kind, False, args.members, args.cold, workdir, args.profile, args.phases)
                    for kind in order
                }
                pairs.append((got["echo"], got["dingdan"]))
                if args.floor:
                    floors.append(got["floor"])
            _print_pairs("WITHOUT a rate limiter on either bot (what the handlers cost)", pairs, floors)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.profile:
        _print_profile(args.profile)
    print(
        f"\ntarget: dingdan >= 0.70 of the echo bot; total run {time.perf_counter() - started:.0f}s; "
        f"load average at the end {os.getloadavg()[0]:.2f} (this run itself adds ~1)"
    )


if __name__ == "__main__":
    asyncio.run(main())

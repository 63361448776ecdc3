"""Three replicas on one PostgreSQL, the same guarantees (issue 13, "How it is checked").

Three ``dingdan run --webhook`` processes share the test's PostgreSQL database; the fake Bot
API is Telegram, and the test is the load balancer (tests/support/replicas.py): it posts each
update to a random replica (seeded), about one in four twice (to another replica or the same
one, at the same moment or after the first answer). A team works: the owner starts it in its
group and uploads an Unshipped Orders report whose ship-by times are relative to the real
clock (the processes live on it), so two orders are already late and two due within hours;
members then send some 30 commands across orders, four times two of them shipping one order at
once. In the middle of the traffic the replica that holds the team's shard (its alerts, its
group's replies) is killed with SIGKILL and started again on its port; an update posted to it
meanwhile finds nobody and goes to another replica, as Telegram would retry.

Afterwards, once the inbox has nothing 'new' and the outbox nothing 'pending':
- every command was applied once (each order's events are exactly the expected actions) and
  answered once (one reply in the outbox per update, delivered once to its chat);
- every alert was sent once (one line per order and kind; one ledger row per deadline);
- each order's events replay, through the lifecycle's rules, to its stored state;
- of two people shipping one order at once, exactly one shipped and the other was told who
  did, when and with which tracking number.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import i18n
from bot.lifecycle import RULES_BY_ACTION
from bot.replicas import SHARD, SHARDS, STALE_AFTER, SWEEP_EVERY, shard_of
from bot.storage import Store
from bot.storage.outbox import Outbox
from tests.support.alerts import unshipped_report
from tests.support.db import opened, scalar
from tests.support.fakebotapi import FakeBotAPI, FakeChat, FakeUser
from tests.support.replicas import Dispatcher, Replica
from tests.support.scenario import GROUP_ID, plain

WORK = [f"113-7000000-{n:07d}" for n in range(14)]  # the orders people work
LATE = [f"113-7100000-{100 + n:07d}" for n in range(2)]  # past their ship-by: "ship_late"
SOON = [f"113-7200000-{200 + n:07d}" for n in range(2)]  # due within 4 hours: "ship_soon"
WAIT = 90.0  # a dead replica's shards are taken over within 40 s (bot/replicas.py); then the queue drains
#: An update the killed replica had stored and not processed: the restarted one leaves it to the
#: inbox sweep (other replicas are alive), which takes it once it stayed 'new' STALE_AFTER.
SWEPT = WAIT + STALE_AFTER + 2 * SWEEP_EVERY


def tracking(n: int, who: int = 0) -> str:
    return f"1Z999AA1{who:02d}{n:08d}"


def zone_at_one_pm(now: datetime) -> str:
    """A time zone where it is now 13:xx: no quiet hours (23:00-08:00), the digest (09:00) not due
    before tomorrow, whatever the hour the test runs at."""
    offset = (13 - now.hour + 12) % 24 - 12  # -12 .. 11 hours from UTC
    return f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-5 is UTC+5


def report(now: datetime) -> bytes:
    """The sample Unshipped Orders report's first order under the test's ids, bought yesterday."""
    stamp = "%Y-%m-%dT%H:%M:%S+00:00"
    bought = (now - timedelta(days=1)).strftime(stamp)
    rows = [(oid, bought, (now + timedelta(days=3)).strftime(stamp)) for oid in WORK]
    rows += [(oid, bought, (now - timedelta(hours=2)).strftime(stamp)) for oid in LATE]
    rows += [(oid, bought, (now + timedelta(hours=2)).strftime(stamp)) for oid in SOON]
    return unshipped_report(*rows)


@pytest.mark.parametrize("owned", [[], [3], [1, 2, 9]])
async def test_a_replicas_sender_reads_only_its_shards_chats(db_target: Path | str, owned: list[int]) -> None:
    """The outbox read behind the sender (``due_queues``) on either store: with a replica's shards
    only those chats' queues (a group's negative id and a person's positive one alike)."""
    chats = [-1001234567890 - k for k in range(6)] + [1001 + k for k in range(6)]
    store = Store(db_target)
    await store.open()
    try:
        then = "2026-11-30T12:00:00+00:00"
        async with store.transaction() as tx:
            await tx.executemany("INSERT INTO outbox (chat_id, payload, created_at, not_before) VALUES (?, '{}', ?, ?)",
                                 [(c, then, then) for c in chats for _ in range(2)])  # fmt: skip
        now = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
        outbox = Outbox(store)
        everyone = await outbox.due_queues(now, chats=100)
        assert sorted(q[0].chat_id for q in everyone) == sorted(chats)
        mine = await outbox.due_queues(now, chats=100, shards=(SHARDS, owned))
        assert sorted(q[0].chat_id for q in mine) == sorted(c for c in chats if shard_of(c) in owned)
        assert all(len(q) == 2 for q in mine)
    finally:
        await store.close()


class Command:
    """One update a person sent, what it should do to its order, and how its reply should read."""

    def __init__(self, chat: FakeChat, user: FakeUser, text: str, message: dict[str, Any],
                 reply: str | Callable[[str], bool] | None) -> None:  # fmt: skip
        self.chat, self.user, self.text, self.message, self.reply = chat, user, text, message, reply
        self.update_id: int | None = None

    def __repr__(self) -> str:
        return f"{self.user.first_name} in {self.chat.id}: {self.text!r} (update {self.update_id})"


async def test_three_replicas_apply_and_answer_every_command_once_while_one_is_killed(pg_url: str,
                                                                                      tmp_path: Path) -> None:  # fmt: skip
    api = FakeBotAPI()  # the real clock: the desks run in their own processes
    await api.start()
    now = datetime.now(UTC).replace(microsecond=0)
    zone = zone_at_one_pm(now)
    env = {"DINGDAN_TIMEZONE": zone, "DINGDAN_ALERT_INTERVAL": "2"}
    replicas = [Replica(n, api, pg_url, tmp_path / f"replica-{n}.log", env) for n in range(3)]
    dispatcher = Dispatcher(api, replicas, seed=13)

    alice = api.user(1001, "Alice", language_code="en")
    bob = api.user(1002, "Bob", language_code="zh-hans")
    erin = api.user(1005, "Erin", language_code="en")
    frank = api.user(1006, "Frank", language_code="en")
    group = api.group(GROUP_ID, "Store A", type="supergroup").add(alice, "creator")
    for person in (bob, erin, frank):
        group.add(person)
    locale = {alice.id: "en", bob.id: "zh_Hans", erin.id: "en", frank.id: "en"}
    commands: list[Command] = []

    def says(user: FakeUser, message: str, **params: Any) -> str:
        with i18n.using(locale[user.id]):
            return plain(i18n._(message, **{k: i18n.when(v, zone) if isinstance(v, datetime) else v
                                            for k, v in params.items()}))  # fmt: skip

    async def send(chat: FakeChat | FakeUser, user: FakeUser, text: str,
                   reply: str | Callable[[str], bool] | None) -> Command:  # fmt: skip
        target = api.private(chat) if isinstance(chat, FakeUser) else chat
        message = await api.send_text(target, user, text)
        command = Command(target, user, text, message, reply)
        commands.append(command)
        return command

    def status(command: Command) -> str | None:
        command.update_id = command.update_id or dispatcher.ids.get((command.chat.id, command.message["message_id"]))
        if command.update_id is None:
            return None
        return scalar(pg_url, "SELECT status FROM inbox WHERE update_id = ?", (command.update_id,))

    async def applied(*some: Command) -> None:
        """Wait until each of ``some`` was processed (by whichever replica)."""
        await api.wait_for(lambda: all(status(c) == "done" for c in some), timeout=SWEPT,
                           what=f"processed: {some}")  # fmt: skip

    def shipped(oid: str, by: FakeUser, n: int, who: int = 0) -> str:
        return says(by, "Order {order} shipped with {carrier}, tracking number {tracking}.", order=oid, carrier="UPS",
                    tracking=tracking(n, who))  # fmt: skip

    def cancelled(oid: str, by: FakeUser) -> str:
        with i18n.using(locale[by.id]):
            reason = i18n._("buyer cancelled")
        return says(by, "Order {order} cancelled ({reason}). Remember to cancel it in Seller Central too if it was not "
                    "cancelled there.", order=oid, reason=reason)  # fmt: skip

    def card(oid: str, by: FakeUser) -> Callable[[str], bool]:
        head = says(by, "<b>Order {order}</b>", order=oid)
        return lambda text: text.startswith(head)

    def ship_event(oid: str) -> Any:
        with opened(pg_url) as conn:
            return conn.execute("SELECT * FROM events WHERE order_id = ? AND action = 'ship'", (oid,)).fetchone()

    def already_shipped(oid: str, to: FakeUser) -> Callable[[str], bool]:
        """The exact refusal ``to`` gets when ``oid`` was shipped (by whoever did, as stored)."""

        def check(text: str) -> bool:
            event = ship_event(oid)
            details = json.loads(event["details"])
            return text == says(
                to, "Order {order} was already shipped by {by} on {when}, with {carrier}, tracking number {tracking}. "
                "If that tracking number is wrong, correct it with /correct {order} CARRIER TRACKING.", order=oid,
                by=event["actor_name"], when=datetime.fromisoformat(event["at"]), carrier="UPS",
                tracking=details.get("tracking", "?"),
            )  # fmt: skip

        return check

    races: list[tuple[str, list[tuple[Command, FakeUser, str]]]] = []

    async def race(oid: str, chat_of: Callable[[FakeUser], FakeChat | FakeUser], *people: FakeUser) -> None:
        """Two people ship ``oid`` at the same moment, each with their own tracking number."""
        n = WORK.index(oid)
        sent = []
        for who, person in enumerate(people, start=1):
            text = f"/ship {oid} UPS {tracking(n, who)}"
            sent.append((await send(chat_of(person), person, text, None), person, tracking(n, who)))
        races.append((oid, sent))

    try:
        for replica in replicas:
            replica.start()
        await asyncio.gather(*(r.ready() for r in replicas))
        dispatcher.start()

        # The team: Alice starts the desk in the group and uploads the report; each member says hello in private.
        started = (await api.ask(group, alice, "/start", timeout=WAIT))[0]["text"]
        assert started.startswith("dingdan is now this team's order desk."), started
        summary = (await api.upload(group, alice, "unshipped.txt", report(now), timeout=WAIT))[0]["text"]
        assert f": {len(WORK) + len(LATE) + len(SOON)} new," in summary, summary
        for person in (alice, bob, erin, frank):
            hello = (await api.ask(api.private(person), person, "/start", timeout=WAIT))[0]["text"]
            assert hello.startswith(says(person, "Hello! Here you work the orders of {team}.", team="Store A")), hello

        def dm(person: FakeUser) -> FakeUser:
            return person

        def in_group(person: FakeUser) -> FakeChat:
            return group

        # Traffic, part 1: all four at work, two shipping W4 at once in the group.
        ship0 = await send(alice, alice, f"/ship {WORK[0]} UPS {tracking(0)}", shipped(WORK[0], alice, 0))
        await send(bob, bob, f"/order {WORK[1]}", card(WORK[1], bob))
        cancel2 = await send(erin, erin, f"/cancel {WORK[2]} BuyerCanceled", cancelled(WORK[2], erin))
        ship3 = await send(frank, frank, f"/ship {WORK[3]} UPS {tracking(3)}", shipped(WORK[3], frank, 3))
        await race(WORK[4], in_group, alice, bob)
        await send(erin, erin, f"/ship {WORK[5]} UPS {tracking(5)}", shipped(WORK[5], erin, 5))
        await send(bob, bob, f"/cancel {WORK[6]} BuyerCanceled", cancelled(WORK[6], bob))
        await asyncio.sleep(0.2)  # some of it reaches the replicas, some is on its way

        # The replica that holds the team's shard (its alerts, its group's messages) dies.
        with opened(pg_url) as conn:
            row = conn.execute("SELECT holder FROM leases WHERE name = ?", (f"{SHARD}{shard_of(GROUP_ID)}",)).fetchone()
        assert row is not None, "nobody holds the team's shard"
        victim = next(r for r in replicas if f"-{r.pid}-" in row["holder"])
        victim.kill()
        # What the dead replica may have handed Telegram without living to mark it sent: the
        # messages still pending now for the chats of its shards (nobody else sends to those
        # until its leases run out).
        with opened(pg_url) as conn:
            held = [r[0] for r in conn.execute("SELECT name FROM leases WHERE holder = ?", (row["holder"],))]
            victims = {int(name[len(SHARD) :]) for name in held if name.startswith(SHARD)}
            pending_at_kill = {r[0] for r in conn.execute("SELECT outbox_id, chat_id FROM outbox WHERE status = "
                                                          "'pending'") if shard_of(r[1]) in victims}  # fmt: skip

        # Part 2, while it is dead: two more races (one in the group, one in private), more work.
        await race(WORK[7], in_group, erin, frank)
        await race(WORK[8], dm, alice, erin)
        await send(frank, frank, f"/ship {WORK[9]} UPS {tracking(9)}", shipped(WORK[9], frank, 9))
        await send(alice, alice, f"/order {WORK[10]}", card(WORK[10], alice))
        await send(erin, erin, f"/order {WORK[9]}", card(WORK[9], erin))
        await asyncio.sleep(0.5)

        victim.start()
        await victim.ready()

        # Part 3: what depends on part 1 (once applied, wherever), a last race, more work.
        await applied(ship0, cancel2, ship3, *[c for c, _, _ in races[0][1]])
        await send(alice, alice, f"/history {WORK[0]}",
                   lambda text: text.startswith(says(alice, "History of order {order}:", order=WORK[0]))
                   and f"UPS {tracking(0)}" in text)  # fmt: skip
        await send(bob, bob, f"/cancel {WORK[0]} BuyerCanceled", lambda text: text.startswith(says(
            bob, "Order {order} has already been shipped and cannot be cancelled. Ask the buyer to refuse the delivery "
            "or return it, then refund.", order=WORK[0])))  # fmt: skip
        await send(erin, erin, f"/history {WORK[2]}",
                   lambda text: text.startswith(says(erin, "History of order {order}:", order=WORK[2])))  # fmt: skip
        await send(frank, frank, f"/ship {WORK[3]} UPS {tracking(3)}", already_shipped(WORK[3], frank))
        await send(bob, bob, f"/history {WORK[4]}",
                   lambda text: text.startswith(says(bob, "History of order {order}:", order=WORK[4])))  # fmt: skip
        await race(WORK[11], in_group, alice, frank)
        await send(bob, bob, f"/ship {WORK[1]} UPS {tracking(1)}", shipped(WORK[1], bob, 1))
        await send(frank, frank, f"/cancel {WORK[12]} BuyerCanceled", cancelled(WORK[12], frank))
        await send(alice, alice, f"/ship {WORK[13]} UPS {tracking(13)}", shipped(WORK[13], alice, 13))
        await send(erin, erin, f"/order {WORK[5]}", card(WORK[5], erin))

        # At rest: every update taken by a replica and processed, every message delivered.
        def at_rest() -> bool:
            if dispatcher.busy:
                return False
            with opened(pg_url) as conn:
                new = conn.execute("SELECT count(*) FROM inbox WHERE status = 'new'").fetchone()[0]
                pending = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
                alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
            return new == 0 and pending == 0 and alerts >= len(LATE) + len(SOON)

        await api.wait_for(at_rest, timeout=SWEPT, what="every update processed and every message sent")
        await api.wait_for(lambda: all(status(c) == "done" for c in commands), timeout=WAIT, what="all done")
    finally:
        await dispatcher.stop()
        # On threads, side by side: the fake Bot API runs on this event loop, and a replica's
        # shutdown may still call it (a stop that blocked the loop would wait out its timeout).
        codes = list(await asyncio.gather(*(asyncio.to_thread(r.stop) for r in replicas)))
        with (tmp_path / "sent.json").open("w") as out:  # beside the replicas' logs, for a failure's post-mortem
            for chat in [group, *(api.private(p) for p in (alice, bob, erin, frank))]:
                json.dump(api.sent(chat), out, ensure_ascii=False, default=str, indent=1)
        await api.stop()
    assert codes == [0, 0, 0], codes

    with opened(pg_url) as conn:
        events = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY event_id")]
        goods = {r["order_id"]: r["goods"] for r in conn.execute("SELECT order_id, goods FROM orders")}
        outbox = [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY outbox_id")]
        ledger = sorted(tuple(r) for r in conn.execute("SELECT order_id, kind, due_key FROM alerts"))
        inbox = {r[0]: r[1] for r in conn.execute("SELECT update_id, status FROM inbox")}

    # Every update the dispatcher delivered was kept once and done; a quarter went twice.
    delivered = {p.update_id for p in dispatcher.posts if p.status == 200}
    assert {u: inbox.get(u) for u in delivered} == dict.fromkeys(delivered, "done")
    assert len(dispatcher.doubled) >= len(delivered) // 8, (len(dispatcher.doubled), len(delivered))

    # Applied once: each order's events are exactly the expected actions.
    by_order: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_order.setdefault(event["order_id"], []).append(event)
    actions = {oid: [e["action"] for e in by_order.get(oid, []) if e["actor_kind"] == "user"] for oid in goods}
    expected = dict.fromkeys(WORK + LATE + SOON, [])
    expected.update({WORK[n]: ["ship"] for n in (0, 1, 3, 4, 5, 7, 8, 9, 11, 13)})
    expected.update({WORK[n]: ["cancel"] for n in (2, 6, 12)})
    assert actions == expected

    # Each order's events replay, rule by rule, to its stored state.
    for oid, state in goods.items():
        assert replay(by_order[oid]) == state, (oid, by_order[oid])

    # Answered once: one reply per command in the outbox, delivered once, reading as it should.
    replies: dict[int, list[dict[str, Any]]] = {}
    for row in outbox:
        if row["kind"] == "reply" and row["update_id"] is not None:
            replies.setdefault(row["update_id"], []).append(row)
    again: list[Command | str] = []
    for command in commands:
        rows = replies.get(command.update_id or -1, [])
        assert len(rows) == 1 and rows[0]["status"] == "sent", (command, rows)
        text = plain(json.loads(rows[0]["payload"])["text"])
        shown = deliveries(api, command, text)
        if len(shown) == 2 and rows[0]["outbox_id"] in pending_at_kill:
            # Telegram took it from the replica killed before it marked it sent: the next owner
            # of the chat sent it again (at least once: Telegram has no idempotency key).
            again.append(command)
            continue
        assert len(shown) == 1, (command, text, shown, api.transcript(command.chat))
        if isinstance(command.reply, str):
            assert text == command.reply, (command, text)
        elif command.reply is not None:
            assert command.reply(text), (command, text)

    # Two people, one order: exactly one shipped, the other was told who did, when, with what.
    for oid, sent in races:
        [ship] = [e for e in by_order[oid] if e["action"] == "ship"]
        [(win, person, number)] = [s for s in sent if s[1].id == ship["actor_id"]]
        [(lose, loser, _)] = [s for s in sent if s[1].id != ship["actor_id"]]
        assert json.loads(ship["details"]).get("tracking") in (number, None), ship
        assert reply_text(replies, win) == shipped(oid, person, WORK.index(oid), 1 + [s[1] for s in sent].index(person))
        assert already_shipped(oid, loser)(reply_text(replies, lose)), (oid, reply_text(replies, lose))
        assert goods[oid] == "shipped"

    # Every alert once: decided once (one outbox line per order and kind, one ledger row per
    # deadline) and delivered once.
    alert_rows = [r for r in outbox if r["kind"] == "alert"]
    alert_texts = [plain(json.loads(r["payload"])["text"]) for r in alert_rows]
    lines = [line for text in alert_texts for line in text.splitlines()]
    for oid in LATE + SOON:
        assert sum(1 for line in lines if line.startswith(f"…{oid[-7:]} ")) == 1, (oid, lines)
    assert {(o, k) for o, k, _ in ledger} == {(o, "ship_late") for o in LATE} | {(o, "ship_soon") for o in SOON}, ledger
    assert len(ledger) == len(set(ledger)) and all(r["status"] == "sent" for r in alert_rows), (ledger, alert_rows)
    group_texts = [plain(m.get("text", "")) for m in api.sent(group)]
    for row, text in zip(alert_rows, alert_texts, strict=True):
        shown = [n for n, t in enumerate(group_texts) if t == text]
        if len(shown) == 2 and row["outbox_id"] in pending_at_kill:
            again.append(text)
            continue
        assert len(shown) == 1, (text, shown)

    # Nothing else went twice: a chat shows a message (text and quoted message) twice only when
    # the killed replica handed it to Telegram and the chat's next owner sent it again.
    twice = {reply_text(replies, c) if isinstance(c, Command) else c for c in again}
    for chat in [group, *(api.private(p) for p in (alice, bob, erin, frank))]:
        seen = [(plain(m.get("text", "")), (m.get("reply_to_message") or {}).get("message_id")) for m in api.sent(chat)]
        doubled = {text for text, _ in seen if seen.count((text, _)) > 1}
        assert doubled <= twice, api.transcript(chat)
    print(
        f"\n{len(delivered)} updates, {len(dispatcher.doubled)} posted twice, "
        f"{sum(1 for p in dispatcher.posts if p.status == 0)} posts to the dead replica; "
        f"{len(again)} message(s) Telegram took from the killed replica went again"
    )


def reply_text(replies: dict[int, list[dict[str, Any]]], command: Command) -> str:
    [row] = replies[command.update_id or -1]
    return plain(json.loads(row["payload"])["text"])


def deliveries(api: FakeBotAPI, command: Command, text: str) -> list[int]:
    """Where Telegram shows ``text`` as the answer to ``command`` (indexes in the chat's messages
    from the bot): a message of its own (quoting the command in a group), or a line of a merged
    message naming the person."""
    found = []
    for n, message in enumerate(api.sent(command.chat)):
        shown = plain(message.get("text", "")).replace("\u202f", " ")
        quoted = (message.get("reply_to_message") or {}).get("message_id")
        if shown == text.replace("\u202f", " ") and quoted in (None, command.message["message_id"]):
            found.append(n)
        elif quoted is None and f"{command.user.first_name}: {text}" in shown.split("\n"):
            found.append(n)
    return found


def replay(events: list[dict[str, Any]]) -> str | None:
    """An order's state from its events alone: the import gives the first, each action then follows
    the lifecycle's rule (from a state it may follow, to its destination or staying put)."""
    state: str | None = None
    for event in events:
        rule = RULES_BY_ACTION.get(event["action"])
        if rule is None:  # imported from a report: Amazon's word
            assert event["from_goods"] in (None, state), event
            state = event["to_goods"] or state
            continue
        assert state in rule.sources and event["from_goods"] == state, (state, event)
        state = rule.dest or state
        assert event["to_goods"] in (None, state), (state, event)
    return state

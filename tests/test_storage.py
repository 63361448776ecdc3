"""The desk's memory: the SQLite store, and the services and imports that write through it.

A team in Shenzhen works one store's orders from one group. Alice ships, Bob handles
after-sale, the reports come in from Seller Central. What they do must be written once,
with its event, and never overwritten by someone who acted on an older view of an order.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

import bot.storage.db
from bot.domain import Actor, Event, Goods, Money, Order, OrderItem, Refusal
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.parsing import OrderRef
from bot.services import Ask, Desk, Done
from bot.storage import Confirmation, OrderChangedMeanwhile, Store, digits_reversed, migrations
from tests.support.db import opened

TEAM = -1001234567890  # the team's Telegram group
OTHER_TEAM = -1009876543210
ALICE = Actor("user", 101, "Alice", TEAM)
BOB = Actor("user", 102, "Bob", TEAM)
IMPORT = Actor.importer("unshipped.txt", chat_id=TEAM, user_id=101)
SAMPLES = Path(__file__).resolve().parent / "data"
UNSHIPPED_REPORT = SAMPLES / "unshipped-orders-us.txt"

MIC = "113-4417305-6689831"  # one microphone, ship by Nov 20
SPEAKER = "113-9081726-1122334"
FAN = "114-5551234-7654321"  # two items on two rows
KETO = "111-2223334-4445556"  # ship by Nov 23
SAMPLE_IDS = {MIC, SPEAKER, FAN, KETO}


def at(day: int, hour: int = 8) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


# ---------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture
def db_path(db_target: Path | str) -> Path | str:
    return db_target


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """For the tests about SQLite's file itself (its schema table, WAL, pragmas, two processes migrating it)."""
    return tmp_path / "desk.sqlite3"


async def two_teams(target: Path | str, clock: Any) -> Store:
    s = Store(target)
    await s.open()
    await s.create_team(TEAM, "Shenzhen Audio", "Asia/Shanghai", by=ALICE.id, at=clock())
    await s.create_team(OTHER_TEAM, "Another seller", "UTC", by=999, at=clock())
    return s


@pytest.fixture
async def store(db_path: Path | str, clock):
    s = await two_teams(db_path, clock)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(sqlite_path: Path, clock):
    s = await two_teams(sqlite_path, clock)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def desk(store: Store, clock) -> Desk:
    return Desk(store, Lifecycle(), clock)


@pytest.fixture
def importer(store: Store, clock) -> Importer:
    return Importer(store, Lifecycle(), clock)


def an_order(order_id: str, team_id: int = TEAM, **kw: Any) -> Order:
    kw.setdefault("version", 1)
    kw.setdefault("items", [OrderItem(f"{order_id[-4:]}01", "USB-MIC-01", "USB Microphone", quantity=1)])
    return Order(team_id=team_id, order_id=order_id, **kw)


def imported_event(order: Order, now: datetime) -> Event:
    return Event(order.team_id, order.order_id, now, IMPORT, "imported", None, order.goods.value, None,
                 order.money.value, {"file": "seed.txt"})  # fmt: skip


def record(sha: str = "seed", **kw: Any) -> dict[str, Any]:
    base = {"sha256": sha, "kind": "unshipped_orders", "filename": "seed.txt", "actor_id": 101,
            "chat_id": TEAM, "rows": 1, "new": 1, "updated": 0, "unchanged": 0, "refused": 0}  # fmt: skip
    return {**base, **kw}


SEEDED_AT = at(21)


async def seed(store: Store, *orders: Order, now: datetime = SEEDED_AT, team_id: int | None = None) -> None:
    """Orders as a first report would bring them (one transaction per team)."""
    by_team: dict[int, list[Order]] = {}
    for o in orders:
        by_team.setdefault(o.team_id, []).append(o)
    for team, its in by_team.items():
        await store.write_import(team_id=team_id or team, new=[(o, imported_event(o, now)) for o in its],
                                 changed=[], record=record(f"seed-{team}-{its[0].order_id}"), now=now)  # fmt: skip


def look(db: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the database the way another process would: committed data only."""
    with opened(db) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def event_count(db: Path | str, action: str | None = None) -> int:
    if action is None:
        return look(db, "SELECT count(*) FROM events")[0][0]
    return look(db, "SELECT count(*) FROM events WHERE action = ?", (action,))[0][0]


def a_ship_event(order: Order, who: Actor, now: datetime) -> Event:
    return Event(order.team_id, order.order_id, now, who, "ship", "unshipped", "shipped", "none", "none",
                 {"carrier": "UPS"})  # fmt: skip


# ---------------------------------------------------------------------------------------
# Schema and connection


EXPECTED_TABLES = {"teams", "chats", "users", "members", "orders", "order_items", "events", "imports", "alerts", "snoozes", "outbox", "shipments", "amazon_accounts",
                   "confirmations", "schema_migrations", "inbox", "edit_notices", "order_counts", "team_hours",
                   "tracking", "tracking_cursor", "tracking_quota", "tracking_off", "leases"}  # fmt: skip


# SQLite only: sqlite_master. (PostgreSQL's schema: tests/test_schema_pair.py.)
async def test_the_schema_is_created_once_and_reopening_changes_nothing(sqlite_path, clock):
    db_path = sqlite_path
    store = Store(db_path)
    await store.open()
    await store.create_team(TEAM, "Shenzhen Audio", "Asia/Shanghai", by=101, at=clock())
    await store.close()
    schema = look(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    assert {name for kind, name, _ in schema if kind == "table" and not name.startswith("sqlite_")} == EXPECTED_TABLES
    assert look(db_path, "SELECT version FROM schema_migrations") == [(v,) for v, _sql in migrations()]

    for _ in range(2):
        again = Store(db_path)
        await again.open()
        await again.close()
    assert look(db_path, "SELECT version FROM schema_migrations") == [(v,) for v, _sql in migrations()]
    assert look(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema
    assert look(db_path, "SELECT team_id, title FROM teams") == [(TEAM, "Shenzhen Audio")]


def test_migrations_are_numbered_from_one_without_gaps():
    versions = [v for v, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[0] == 1


async def test_two_processes_opening_a_new_database_at_once_both_start(sqlite_path, monkeypatch):
    """The bot and `dingdan import` started together on a fresh file (SQLite only: the other process
    migrates the file with sqlite3)."""
    db_path = sqlite_path
    real = bot.storage.db.migrations

    def other_process_wins_the_race(dialect: str = "sqlite") -> list[tuple[int, str]]:
        # This store has already read "nothing applied"; the other process now migrates.
        found = real(dialect)
        other = sqlite3.connect(db_path, isolation_level=None)
        try:
            for version, sql in found:
                other.executescript(f"BEGIN IMMEDIATE;\n{sql}\nINSERT INTO schema_migrations VALUES "
                                    f"({version}, datetime('now'));\nCOMMIT;")  # fmt: skip
        finally:
            other.close()
        monkeypatch.setattr(bot.storage.db, "migrations", real)
        return found

    sqlite3.connect(db_path).execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    ).connection.close()
    monkeypatch.setattr(bot.storage.db, "migrations", other_process_wins_the_race)
    store = Store(db_path)
    try:
        await store.open()
    finally:
        await store.close()
    assert look(db_path, "SELECT version FROM schema_migrations") == [(v,) for v, _sql in migrations()]


# SQLite only: WAL, pragmas.
async def test_every_connection_uses_wal_enforces_foreign_keys_and_limits_the_journal(sqlite_store, sqlite_path):
    store, db_path = sqlite_store, sqlite_path
    # After a big import the WAL is cut back to 64 MB, not kept at the import's size.
    expected = {"journal_mode": "wal", "foreign_keys": 1, "journal_size_limit": 64 * 1024 * 1024}
    async with contextlib.AsyncExitStack() as stack:
        # Holding every reader at once, so that each of them is asked.
        readers = [await stack.enter_async_context(store.reading()) for _ in range(store.readers)]
        assert len({id(r) for r in readers}) == store.readers == 3
        async with store.transaction() as writer:
            for conn in (*readers, writer):
                for pragma, value in expected.items():
                    async with conn.execute(f"PRAGMA {pragma}") as cur:
                        assert (await cur.fetchone())[0] == value, pragma
    assert look(db_path, "PRAGMA journal_mode") == [("wal",)]  # WAL is a property of the file


async def test_an_order_for_a_group_that_is_not_a_team_is_refused_by_the_database(store, db_path):
    stray = an_order(MIC, team_id=-100111)
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        await seed(store, stray)
    assert look(db_path, "SELECT count(*) FROM orders")[0][0] == 0
    assert event_count(db_path) == 0


# ---------------------------------------------------------------------------------------
# Saving an order: version-checked, with its event, or not at all


async def test_saving_writes_the_order_and_its_event_and_moves_the_version(store, db_path):
    await seed(store, an_order(MIC))
    order = await store.order(TEAM, MIC)
    assert order.version == 1
    order.goods, order.carrier, order.tracking = Goods.shipped, "UPS", "1Z999AA10123456784"
    order.items[0].quantity_shipped = 1
    assert await store.save(order, a_ship_event(order, ALICE, at(21, 9)), now=at(21, 9)) is True
    assert order.version == 2
    saved = await store.order(TEAM, MIC)
    assert saved == order
    last = await store.last_event(TEAM, MIC)
    assert (last.trigger, last.actor, last.from_goods, last.to_goods) == ("ship", ALICE, "unshipped", "shipped")
    assert [e.trigger for e in await store.events(TEAM, MIC)] == ["imported", "ship"]


async def test_a_save_from_a_stale_read_is_refused_and_writes_no_event(store, db_path):
    """Alice and Bob both opened the order; Alice saved first. Bob's save must not land."""
    await seed(store, an_order(MIC))
    alices, bobs = await store.order(TEAM, MIC), await store.order(TEAM, MIC)
    alices.goods, alices.tracking = Goods.shipped, "1Z999AA10123456784"
    assert await store.save(alices, a_ship_event(alices, ALICE, at(21, 9)), now=at(21, 9))
    events = event_count(db_path)

    bobs.goods, bobs.tracking = Goods.shipped, "9400111899223817576315"
    assert await store.save(bobs, a_ship_event(bobs, BOB, at(21, 10)), now=at(21, 10)) is False
    assert bobs.version == 1, "a refused save does not pretend the order moved on"
    assert event_count(db_path) == events
    assert (await store.order(TEAM, MIC)).tracking == "1Z999AA10123456784"
    assert (await store.last_event(TEAM, MIC)).actor == ALICE


async def test_an_import_is_written_whole_or_not_at_all(store, db_path):
    """A report brings a new order and changes a known one; meanwhile Alice shipped the known one."""
    await seed(store, an_order(MIC))
    stale = await store.order(TEAM, MIC)
    alices = await store.order(TEAM, MIC)
    alices.goods = Goods.shipped
    assert await store.save(alices, a_ship_event(alices, ALICE, at(21, 9)), now=at(21, 9))
    before = (look(db_path, "SELECT * FROM orders ORDER BY order_id"), event_count(db_path),
              look(db_path, "SELECT count(*) FROM imports"), look(db_path, "SELECT * FROM order_items"))  # fmt: skip

    newcomer = an_order(KETO)
    stale.ship_by = at(25)
    change = Event(TEAM, MIC, at(21, 10), IMPORT, "import_update", "unshipped", "unshipped", "none", "none", {})
    with pytest.raises(OrderChangedMeanwhile):
        await store.write_import(team_id=TEAM, new=[(newcomer, imported_event(newcomer, at(21, 10)))],
                                 changed=[(stale, [change])], record=record("later", new=1, updated=1),
                                 now=at(21, 10))  # fmt: skip

    after = (look(db_path, "SELECT * FROM orders ORDER BY order_id"), event_count(db_path),
             look(db_path, "SELECT count(*) FROM imports"), look(db_path, "SELECT * FROM order_items"))  # fmt: skip
    assert after == before
    assert await store.order(TEAM, KETO) is None
    assert await store.events(TEAM, KETO) == []
    assert await store.imported_before(TEAM, "later") is None
    assert stale.version == 1


async def test_a_successful_import_moves_the_versions_it_changed(store, db_path):
    await seed(store, an_order(MIC))
    known = await store.order(TEAM, MIC)
    known.ship_by = at(25)
    change = Event(TEAM, MIC, at(21, 10), IMPORT, "import_update", "unshipped", "unshipped", "none", "none",
                   {"changes": {"ship_by": [None, at(25)]}})  # fmt: skip
    await store.write_import(team_id=TEAM, new=[], changed=[(known, [change])],
                                    record=record("later", new=0, updated=1), now=at(21, 10))  # fmt: skip
    assert known.version == 2
    assert (await store.order(TEAM, MIC)) == known
    assert (await store.last_event(TEAM, MIC)).details == {"changes": {"ship_by": [None, "2026-11-25T08:00:00+00:00"]}}
    assert await store.imported_before(TEAM, "later") == at(21, 10)


# ---------------------------------------------------------------------------------------
# Finding orders by the tail a person types


TAILS = {
    "111-0000001-0004321": at(1),
    "112-0000002-0004321": at(2),
    MIC: at(3),
}


@pytest.fixture
async def tails(store: Store) -> Store:
    await seed(store, *(an_order(oid, purchased_at=when) for oid, when in TAILS.items()))
    await seed(store, an_order("114-0000003-0004321", team_id=OTHER_TEAM, purchased_at=at(4)),
               an_order(SPEAKER, team_id=OTHER_TEAM, purchased_at=at(4)))  # fmt: skip
    return store


async def test_tails_are_stored_as_reversed_digits(tails, db_path):
    assert digits_reversed(MIC) == "13898665037144311"
    rows = dict(look(db_path, "SELECT order_id, digits_rev FROM orders WHERE team_id = ?", (TEAM,)))
    assert rows == {oid: "".join(reversed(oid.replace("-", ""))) for oid in TAILS}


@pytest.mark.parametrize(
    ("tail", "found"),
    [
        ("6689831", [MIC]),
        ("9831", [MIC]),
        ("56689831", [MIC]),  # the digits run on across the dash
        ("10004321", ["111-0000001-0004321"]),
        ("20004321", ["112-0000002-0004321"]),
        ("4321", ["112-0000002-0004321", "111-0000001-0004321"]),  # ambiguous: most recent first
        ("0004321", ["112-0000002-0004321", "111-0000001-0004321"]),
        ("1122334", []),  # SPEAKER is the other team's
        ("9999", []),
        ("111000000100043210", []),  # longer than any id
    ],
)
async def test_a_tail_finds_this_teams_orders_ending_in_it(tails, tail, found):
    assert await tails.find_order_ids(TEAM, tail=tail) == found


async def test_another_teams_orders_are_never_found(tails):
    assert await tails.find_order_ids(TEAM, full="114-0000003-0004321") == []
    assert await tails.find_order_ids(TEAM, full=SPEAKER) == []
    assert await tails.find_order_ids(OTHER_TEAM, tail="4321") == ["114-0000003-0004321"]
    assert await tails.find_order_ids(OTHER_TEAM, full=MIC) == []
    assert await tails.order(OTHER_TEAM, MIC) is None
    assert await tails.orders_by_ids(OTHER_TEAM, [MIC, SPEAKER]) == {SPEAKER: await tails.order(OTHER_TEAM, SPEAKER)}


async def test_a_full_id_finds_exactly_that_order(tails):
    assert await tails.find_order_ids(TEAM, full=MIC) == [MIC]
    assert await tails.find_order_ids(TEAM, full="113-4417305-6689830") == []


async def test_a_very_ambiguous_tail_names_a_few_candidates(store, desk):
    await seed(store, *(an_order(f"11{n}-000000{n}-0007777", purchased_at=at(1, n)) for n in range(8)))
    assert len(await store.find_order_ids(TEAM, tail="7777", limit=6)) == 6
    with pytest.raises(Refusal) as excinfo:
        await desk.find(TEAM, OrderRef(tail="7777"))
    refusal = excinfo.value
    assert (refusal.code, refusal.params["more"], len(refusal.params["candidates"])) == ("ambiguous_order", True, 5)
    assert refusal.params["candidates"][0] == "117-0000007-0007777"  # the newest first


# ---------------------------------------------------------------------------------------
# Lists, the most urgent first


async def test_lists_put_the_earliest_ship_by_first_and_unknown_deadlines_last(store):
    await seed(
        store,
        an_order("111-0000000-0000001", ship_by=at(22), purchased_at=at(10)),
        an_order("111-0000000-0000002", ship_by=None, purchased_at=at(12)),
        an_order("111-0000000-0000003", ship_by=at(20), purchased_at=at(10)),
        an_order("111-0000000-0000004", ship_by=at(21), purchased_at=at(10), goods=Goods.pending),
        an_order("111-0000000-0000005", ship_by=None, purchased_at=at(11)),
        an_order("111-0000000-0000006", ship_by=at(1), goods=Goods.shipped),  # not listed
    )
    await seed(store, an_order("111-0000000-0000007", team_id=OTHER_TEAM, ship_by=at(1)))
    expected = ["111-0000000-0000003", "111-0000000-0000004", "111-0000000-0000001",
                "111-0000000-0000005", "111-0000000-0000002"]  # fmt: skip

    open_states = [Goods.unshipped, Goods.pending]
    listed = await store.list_orders(TEAM, open_states, limit=50)
    assert ([o.order_id for o in listed], await store.count_orders(TEAM, open_states)) == (expected, 5)

    # Keyset paging: each page starts right after the last order of the one before, and
    # goes back right before the first.
    pages, after = [], None
    for _ in range(3):
        page = await store.list_orders(TEAM, open_states, limit=2, after=after)
        pages.append([o.order_id for o in page])
        after = page[-1].order_id
    assert pages == [expected[0:2], expected[2:4], expected[4:]]
    assert await store.list_orders(TEAM, open_states, limit=2, after=after) == []
    back = await store.list_orders(TEAM, open_states, limit=2, before=expected[4])
    assert [o.order_id for o in back] == expected[2:4]
    back = await store.list_orders(TEAM, open_states, limit=2, before=expected[1])
    assert [o.order_id for o in back] == expected[0:1]

    listed = await store.list_orders(TEAM, [Goods.shipped], limit=50)
    assert [o.order_id for o in listed] == ["111-0000000-0000006"]
    assert await store.count_orders(TEAM, [Goods.shipped]) == 1
    assert await store.list_orders(TEAM, [Goods.lost], limit=50) == []
    assert await store.count_orders(TEAM, [Goods.lost]) == 0

    # By ship-by: from (inclusive) until (exclusive); orders without one only in open ranges.
    ranged = await store.list_orders(TEAM, open_states, limit=50, ship_by=(at(20), at(22)))
    assert [o.order_id for o in ranged] == expected[0:2]
    assert await store.count_orders(TEAM, open_states, ship_by=(at(20), at(22))) == 2
    assert [o.order_id for o in await store.list_orders(TEAM, open_states, limit=50, ship_by=(None, at(21)))] == [
        expected[0]
    ]
    assert await store.count_orders(TEAM, open_states, ship_by=(at(21), None)) == 4


async def test_deadlines_in_other_time_zones_still_sort_by_the_instant(store):
    tokyo = timezone(timedelta(hours=9))
    await seed(
        store,
        an_order("111-0000000-0000001", ship_by=datetime(2026, 11, 20, 5, tzinfo=UTC)),
        an_order("111-0000000-0000002", ship_by=datetime(2026, 11, 20, 10, tzinfo=tokyo)),  # 01:00 UTC
    )
    listed = await store.list_orders(TEAM, [Goods.unshipped], limit=10)
    assert [o.order_id for o in listed] == ["111-0000000-0000002", "111-0000000-0000001"]


# ---------------------------------------------------------------------------------------
# Teams, people, memberships


async def test_a_group_becomes_a_team_once_and_keeps_its_settings(store, clock):
    assert await store.create_team(TEAM, "Shenzhen Audio (new name)", "UTC", by=BOB.id, at=clock()) is False
    team = await store.team(TEAM)
    assert (team.title, team.timezone) == ("Shenzhen Audio (new name)", "Asia/Shanghai")
    assert await store.create_team(-100555, "Third", "UTC", by=BOB.id, at=clock()) is True


async def test_a_member_private_chat_serves_the_teams_they_belong_to(store, clock):
    await store.seen(user_id=BOB.id, name="Bob", username="bob_tw", telegram_language="zh-hant",
                     chat_id=BOB.id, chat_kind="private", chat_title="", at=clock())  # fmt: skip
    await store.set_member(OTHER_TEAM, BOB.id, "member", clock(), active=False)
    await store.set_member(TEAM, BOB.id, "administrator", clock() + timedelta(minutes=1), active=True)
    assert await store.teams_of(BOB.id) == [TEAM, OTHER_TEAM]
    assert (await store.user(BOB.id)).active_team == TEAM
    await store.set_member(OTHER_TEAM, BOB.id, "left", clock() + timedelta(minutes=2), active=False)
    assert await store.teams_of(BOB.id) == [TEAM]
    user = await store.user(BOB.id)
    assert (user.name, user.username, user.telegram_language) == ("Bob", "bob_tw", "zh-hant")


# ---------------------------------------------------------------------------------------
# Confirmations: a question answered once


def a_question(clock, token: str = "c0ffee123456", **kw: Any) -> Confirmation:
    base = {"token": token, "team_id": TEAM, "user_id": BOB.id, "chat_id": TEAM, "order_id": MIC,
            "action": "refund", "details": {"amount": "12.50", "currency": "USD"},
            "expires_at": clock() + timedelta(hours=24)}  # fmt: skip
    return Confirmation(**{**base, **kw})


async def test_a_confirmation_is_taken_once(store, clock):
    question = a_question(clock)
    await store.add_confirmation(question, now=clock())
    assert await store.peek_confirmation(question.token) == question
    assert await store.peek_confirmation(question.token) == question, "peeking does not use it up"
    assert await store.take_confirmation(question.token) == question
    assert await store.take_confirmation(question.token) is None
    assert await store.peek_confirmation(question.token) is None


async def test_a_double_tap_takes_the_confirmation_only_once(store, clock):
    question = a_question(clock)
    await store.add_confirmation(question, now=clock())
    taken = await asyncio.gather(*(store.take_confirmation(question.token) for _ in range(10)))
    assert [t for t in taken if t is not None] == [question]


async def test_expired_questions_are_cleared_a_day_later_when_a_new_one_is_asked(store, clock):
    old = a_question(clock, token="aaaaaaaaaaaa", expires_at=clock() + timedelta(hours=1))
    await store.add_confirmation(old, now=clock())
    new = a_question(clock, token="bbbbbbbbbbbb")
    await store.add_confirmation(new, now=clock() + timedelta(hours=2))
    assert await store.peek_confirmation(old.token) == old, "a late press is told it expired"
    newer = a_question(clock, token="cccccccccccc", expires_at=clock() + timedelta(days=3))
    await store.add_confirmation(newer, now=clock() + timedelta(hours=25, minutes=1))
    assert await store.peek_confirmation(old.token) is None
    assert await store.peek_confirmation(new.token) == new


# ---------------------------------------------------------------------------------------
# The desk: fifty people press "ship" at once


async def test_fifty_people_ship_one_order_at_once_and_one_of_them_does_it(store, desk, db_path, clock):
    await seed(store, an_order(MIC))
    staff = [Actor("user", 200 + n, f"Staff {n}", TEAM) for n in range(50)]
    outcomes = await asyncio.gather(
        *(desk.act(TEAM, MIC, "ship", who, carrier="UPS", tracking=f"1Z999AA1012345{n:04d}", at=clock())
          for n, who in enumerate(staff)),
        return_exceptions=True,
    )  # fmt: skip
    done = [o for o in outcomes if isinstance(o, Done)]
    refused = [o for o in outcomes if isinstance(o, Refusal)]
    assert len(done) == 1 and len(refused) == 49, outcomes
    winner = done[0].event.actor
    assert all(r.code == "already_shipped_by" for r in refused), {r.code for r in refused}
    assert {(r.params["by"], r.params["carrier"], r.params["tracking"]) for r in refused} == {
        (winner.name, "UPS", done[0].order.tracking)}  # fmt: skip
    assert event_count(db_path, "ship") == 1
    saved = await store.order(TEAM, MIC)
    assert (saved.goods, saved.tracking, saved.version) == (Goods.shipped, done[0].order.tracking, 2)
    assert desk._locks == {} and desk._waiting == {}, "per-order locks are not kept forever"


def right_after_bobs_read(store: Store, alice_acts: Callable[[], Awaitable[object]], monkeypatch) -> None:
    """Alice acts once, in her own process, just after Bob's desk read the order (before it saves)."""
    bobs_read = store.order

    async def read_then_alice_acts(*args: Any, **kwargs: Any) -> Order | None:
        order = await bobs_read(*args, **kwargs)
        monkeypatch.setattr(store, "order", bobs_read)
        await alice_acts()
        return order

    monkeypatch.setattr(store, "order", read_then_alice_acts)


async def test_two_processes_on_one_database_cannot_both_ship(store, db_path, clock, monkeypatch):
    """Bob's bot read the order; before it saved, Alice's process shipped it."""
    await seed(store, an_order(MIC))
    alices_store = Store(db_path)
    await alices_store.open()
    try:
        alices_desk = Desk(alices_store, Lifecycle(), clock)
        right_after_bobs_read(store, lambda: alices_desk.act(TEAM, MIC, "ship", ALICE, carrier="UPS",
                                                             tracking="1Z999AA10123456784", at=clock()), monkeypatch)  # fmt: skip
        bobs_desk = Desk(store, Lifecycle(), clock)
        with pytest.raises(Refusal) as excinfo:
            await bobs_desk.act(TEAM, MIC, "ship", BOB, carrier="USPS", tracking="9400111899223817576315")
    finally:
        await alices_store.close()
    # Bob's save lost the version check; the desk read the order again and told him why.
    assert excinfo.value == Refusal("already_shipped_by", order=MIC, by="Alice", when=clock(), carrier="UPS",
                                    tracking="1Z999AA10123456784")  # fmt: skip
    assert event_count(db_path, "ship") == 1
    assert (await store.order(TEAM, MIC)).tracking == "1Z999AA10123456784"


async def test_a_refund_while_the_return_is_on_its_way_asks_first(store, desk, db_path, clock):
    await seed(store, an_order(MIC, goods=Goods.return_requested, total=Decimal("44.98")))
    events = event_count(db_path)
    asked = await desk.act(TEAM, MIC, "refund", BOB, amount=Decimal("12.50"))
    assert isinstance(asked, Ask)
    assert (asked.code, asked.action, asked.details, asked.admins_confirm) == (
        "refund_before_return_arrives",
        "refund",
        {"amount": Decimal("12.50"), "refunded_before": Decimal(0)},
        False,
    )
    assert event_count(db_path) == events, "asking changes nothing"
    assert (await store.order(TEAM, MIC)).money is Money.none

    with pytest.raises(Refusal) as excinfo:
        await desk.confirm(asked.token, ALICE)
    assert excinfo.value.code == "confirmation_not_yours"

    done = await desk.confirm(asked.token, BOB)
    assert isinstance(done, Done)
    saved = await store.order(TEAM, MIC)
    assert (saved.money, saved.refunded) == (Money.partially_refunded, Decimal("12.50"))
    assert (await store.last_event(TEAM, MIC)).details == {"amount": "12.50", "currency": "USD"}

    with pytest.raises(Refusal) as excinfo:
        await desk.confirm(asked.token, BOB)
    assert excinfo.value.code == "confirmation_gone"


async def test_a_double_tap_on_yes_refunds_once(store, desk, db_path):
    await seed(store, an_order(MIC, goods=Goods.return_requested, total=Decimal("44.98")))
    asked = await desk.act(TEAM, MIC, "refund", BOB)
    outcomes = await asyncio.gather(desk.confirm(asked.token, BOB), desk.confirm(asked.token, BOB),
                                    return_exceptions=True)  # fmt: skip
    assert sorted(type(o).__name__ for o in outcomes) == ["Done", "Refusal"]
    assert [o.code for o in outcomes if isinstance(o, Refusal)] == ["confirmation_gone"]
    assert event_count(db_path, "refund") == 1
    assert (await store.order(TEAM, MIC)).money is Money.refunded


async def test_a_refund_that_would_be_refused_after_yes_is_refused_before_asking(store, desk, db_path):
    await seed(store, an_order(MIC, goods=Goods.return_requested, total=Decimal("44.98")))
    with pytest.raises(Refusal) as excinfo:
        await desk.act(TEAM, MIC, "refund", BOB, amount=Decimal(50))
    assert (excinfo.value.code, excinfo.value.params["refundable"]) == ("refund_too_much", Decimal("44.98"))
    assert look(db_path, "SELECT count(*) FROM confirmations") == [(0,)]


async def test_a_lost_version_check_on_an_unrelated_change_is_fired_again_and_saved(store, db_path, clock,
                                                                                     monkeypatch):  # fmt: skip
    """Bob's refund lost the version check to Alice's delivery scan: it is read again and saved."""
    await seed(store, an_order(MIC, goods=Goods.shipped, total=Decimal("44.98")))
    alices_store = Store(db_path)
    await alices_store.open()
    try:
        alices_desk = Desk(alices_store, Lifecycle(), clock)
        right_after_bobs_read(store, lambda: alices_desk.act(TEAM, MIC, "deliver", ALICE), monkeypatch)
        bobs_desk = Desk(store, Lifecycle(), clock)
        done = await bobs_desk.act(TEAM, MIC, "refund", BOB, confirmed=True, amount=Decimal(5),
                                   refunded_before=Decimal(0))  # fmt: skip
    finally:
        await alices_store.close()
    assert isinstance(done, Done)
    saved = await store.order(TEAM, MIC)
    assert (saved.goods, saved.refunded, saved.version) == (Goods.delivered, Decimal(5), 3)
    assert [e.trigger for e in await store.events(TEAM, MIC)] == ["imported", "deliver", "refund"]


async def test_a_refund_in_full_is_pinned_to_what_the_question_showed(store, desk, db_path):
    await seed(store, an_order(MIC, goods=Goods.shipped, total=Decimal("44.98")))
    full = await desk.act(TEAM, MIC, "refund", ALICE)
    assert isinstance(full, Ask)
    assert full.details == {"amount": Decimal("44.98"), "refunded_before": Decimal(0)}
    part = await desk.act(TEAM, MIC, "refund", BOB, amount=Decimal(5))
    await desk.confirm(part.token, BOB)
    with pytest.raises(Refusal) as excinfo:
        await desk.confirm(full.token, ALICE)
    assert excinfo.value == Refusal("refund_changed", order=MIC, refunded=Decimal(5), currency="USD")
    assert (await store.order(TEAM, MIC)).refunded == Decimal(5)
    assert event_count(db_path, "refund") == 1


async def test_where_the_total_is_unknown_an_administrator_says_yes(store, desk, db_path, clock):
    await seed(store, an_order(MIC, goods=Goods.shipped))
    admins = {ALICE.id}

    async def is_admin(team_id: int, user_id: int) -> bool:
        assert team_id == TEAM
        return user_id in admins

    asked = await desk.act(TEAM, MIC, "refund", BOB, amount=Decimal(99))
    assert asked.admins_confirm
    for who in (BOB, ALICE):
        with pytest.raises(Refusal) as excinfo:
            await desk.confirm(asked.token, who)  # nobody to ask whether they are an administrator
        assert excinfo.value.code == "confirmation_admins_only"
    with pytest.raises(Refusal) as excinfo:
        await desk.confirm(asked.token, BOB, is_admin=is_admin)
    assert excinfo.value.code == "confirmation_admins_only"
    done = await desk.confirm(asked.token, ALICE, is_admin=is_admin)
    assert (done.event.actor, done.event.details) == (ALICE, {"amount": Decimal(99), "currency": "USD",
                                                              "asked_by": "Bob"})  # fmt: skip

    # The asker may take their own question back, administrator or not.
    again = await desk.act(TEAM, MIC, "refund", BOB, amount=Decimal(1))
    assert (await desk.decline(again.token, BOB, is_admin=is_admin)).order_id == MIC
    assert event_count(db_path, "refund") == 1


async def test_an_expired_question_is_used_up(store, desk, clock, db_path):
    await seed(store, an_order(MIC, goods=Goods.shipped, total=Decimal("44.98")))
    asked = await desk.act(TEAM, MIC, "refund", BOB, amount=Decimal(5))
    clock.advance(minutes=15, seconds=1)
    with pytest.raises(Refusal) as excinfo:
        await desk.confirm(asked.token, BOB)
    assert excinfo.value.code == "confirmation_expired"
    assert look(db_path, "SELECT count(*) FROM confirmations") == [(0,)]
    assert event_count(db_path, "refund") == 0


async def test_shipping_again_never_offers_to_replace_the_tracking(store, desk, db_path, clock):
    await seed(store, an_order(MIC))
    ref = OrderRef(tail="6689831")
    first = await desk.ship(TEAM, ref, ALICE, carrier="UPS", carrier_name="", tracking="1Z999AA10123456784")
    assert isinstance(first, Done)
    for carrier, tracking in (("UPS", "1Z999AA10123456784"), ("USPS", "9400111899223817576315")):
        with pytest.raises(Refusal) as excinfo:
            await desk.ship(TEAM, ref, BOB, carrier=carrier, carrier_name="", tracking=tracking)
        assert excinfo.value == Refusal("already_shipped_by", order=MIC, by="Alice", when=clock(), carrier="UPS",
                                        tracking="1Z999AA10123456784")  # fmt: skip
    assert look(db_path, "SELECT count(*) FROM confirmations") == [(0,)]
    # Only /correct replaces it, after a yes.
    offer = await desk.act(TEAM, MIC, "correct_tracking", BOB, carrier="USPS", carrier_name="",
                           tracking="9400111899223817576315")  # fmt: skip
    assert isinstance(offer, Ask)
    assert (offer.code, offer.action) == ("confirm_tracking_correction", "correct_tracking")
    corrected = await desk.confirm(offer.token, BOB)
    assert (corrected.order.carrier, corrected.order.tracking) == ("USPS", "9400111899223817576315")
    assert corrected.event.details["previous"] == {"carrier": "UPS", "tracking": "1Z999AA10123456784"}
    assert event_count(db_path, "ship") == 1 and event_count(db_path, "correct_tracking") == 1


# ---------------------------------------------------------------------------------------
# Reports from Seller Central: idempotent, atomic, never moving an order back


async def all_events(store: Store, ids=SAMPLE_IDS) -> list[Event]:
    return [e for oid in sorted(ids) for e in await store.events(TEAM, oid, limit=1000)]


async def test_importing_the_same_report_twice_changes_nothing(store, importer, db_path, clock):
    data = UNSHIPPED_REPORT.read_bytes()
    monday = clock()
    first = await importer.import_file(TEAM, data, filename="unshipped.txt", actor=IMPORT)
    assert (first.kind, first.new, first.updated, first.unchanged) == ("unshipped_orders", 4, 0, 0)
    assert set(first.new_ids) == SAMPLE_IDS
    orders = await store.orders_by_ids(TEAM, sorted(SAMPLE_IDS))
    events = await all_events(store)
    assert sorted(e.trigger for e in events) == ["imported"] * 4

    clock.advance(hours=3)
    again = await importer.import_file(TEAM, data, filename="unshipped (1).txt", actor=IMPORT)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 4)
    assert again.first_imported_at == monday
    assert await store.orders_by_ids(TEAM, sorted(SAMPLE_IDS)) == orders
    assert await all_events(store) == events
    assert look(db_path, "SELECT count(*) FROM imports") == [(1,)]


def later_report(old: str, new: str) -> bytes:
    text = UNSHIPPED_REPORT.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new).encode("utf-8")


async def test_a_later_report_with_a_new_promise_date_updates_that_order(store, importer):
    await importer.import_file(TEAM, UNSHIPPED_REPORT.read_bytes(), filename="monday.txt", actor=IMPORT)
    events = await all_events(store)
    later = later_report("2026-11-23T07:59:59+00:00", "2026-11-25T07:59:59+00:00")  # KETO's ship-by moved
    result = await importer.import_file(TEAM, later, filename="tuesday.txt", actor=IMPORT)
    assert (result.new, result.updated, result.unchanged) == (0, 1, 3)
    new_events = [e for e in await all_events(store) if e not in events]
    assert [(e.order_id, e.trigger, e.actor.kind) for e in new_events] == [(KETO, "import_update", "import")]
    assert new_events[0].details["changes"] == {"ship_by": ["2026-11-23T07:59:59+00:00", "2026-11-25T07:59:59+00:00"]}
    assert (await store.order(TEAM, KETO)).ship_by == datetime(2026, 11, 25, 7, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "asked", "goods"),
    [
        ("ship", {"carrier": "UPS", "tracking": "1Z999AA10123456784"}, Goods.shipped),
        ("cancel", {"reason": "NoInventory"}, Goods.cancelled),
    ],
)
async def test_an_older_report_never_moves_back_what_the_team_did(store, importer, desk, action, asked, goods):
    """The Unshipped Orders report still lists the microphone the team already dealt with."""
    data = UNSHIPPED_REPORT.read_bytes()
    await importer.import_file(TEAM, data, filename="monday.txt", actor=IMPORT)
    await desk.act(TEAM, MIC, action, ALICE, **asked)
    handled = await store.order(TEAM, MIC)
    events = await all_events(store)

    result = await importer.import_file(TEAM, data, filename="monday again.txt", actor=IMPORT)
    assert (result.new, result.updated) == (0, 0)
    assert await store.order(TEAM, MIC) == handled
    assert handled.goods is goods
    assert await all_events(store) == events

    # A later report that does change its details still leaves the goods where they are.
    later = later_report("2026-11-20T07:59:59+00:00", "2026-11-20T09:59:59+00:00")
    result = await importer.import_file(TEAM, later, filename="tuesday.txt", actor=IMPORT)
    assert result.updated == 1
    saved = await store.order(TEAM, MIC)
    assert (saved.goods, saved.items[0].quantity_shipped) == (goods, handled.items[0].quantity_shipped)
    last = await store.last_event(TEAM, MIC)
    assert (last.trigger, last.from_goods, last.to_goods) == ("import_update", goods.value, goods.value)


async def test_an_import_that_races_a_person_reads_again_and_keeps_their_action(store, importer, desk, monkeypatch):
    """Alice ships the microphone while Tuesday's report is being applied."""
    await importer.import_file(TEAM, UNSHIPPED_REPORT.read_bytes(), filename="monday.txt", actor=IMPORT)
    real = store.orders_by_ids
    reads = 0

    async def alice_ships_right_after_the_read(team_id, order_ids):
        nonlocal reads
        reads += 1
        found = await real(team_id, order_ids)
        if reads == 1:
            await desk.act(TEAM, MIC, "ship", ALICE, carrier="UPS", tracking="1Z999AA10123456784")
        return found

    monkeypatch.setattr(store, "orders_by_ids", alice_ships_right_after_the_read)
    later = later_report("2026-11-20T07:59:59+00:00", "2026-11-20T09:59:59+00:00")
    result = await importer.import_file(TEAM, later, filename="tuesday.txt", actor=IMPORT)
    assert reads == 2, "the conflicting write was undone and the report applied to a fresh read"
    assert (result.new, result.updated, result.unchanged) == (0, 1, 3)
    saved = await store.order(TEAM, MIC)
    assert (saved.goods, saved.tracking, saved.ship_by) == (
        Goods.shipped, "1Z999AA10123456784", datetime(2026, 11, 20, 9, 59, 59, tzinfo=UTC))  # fmt: skip
    assert [e.trigger for e in await store.events(TEAM, MIC)] == ["imported", "ship", "import_update"]


async def test_the_alert_check_reads_recent_deadlines_only(store: Store) -> None:
    """An order left 'shipped' long past its delivery date is not read on every check: the
    check's cost follows recent deadlines, not the history."""
    from datetime import timedelta

    from bot.storage import AlertStore

    now = at(21)
    await seed(store,
               an_order("113-0000000-0000001", goods=Goods.shipped, deliver_by=now - timedelta(days=3)),
               an_order("113-0000000-0000002", goods=Goods.shipped, deliver_by=now - timedelta(days=40)),
               an_order("113-0000000-0000003", goods=Goods.unshipped, ship_by=now - timedelta(days=2)),
               an_order("113-0000000-0000004", goods=Goods.unshipped, ship_by=now - timedelta(days=90)))  # fmt: skip
    rows = await AlertStore(store).due_rows(TEAM, now, ship_horizon=now + timedelta(days=1),
                                            confirm_before=now - timedelta(days=23),
                                            pending_before=now - timedelta(days=3))  # fmt: skip
    assert sorted(r.order_id for r in rows) == ["113-0000000-0000001", "113-0000000-0000003"]


async def test_purge_forgets_what_is_past_keeping_and_never_what_waits(db_path) -> None:
    """Processed updates go after 7 days, delivered messages after 30; pending ones stay."""
    from bot.storage import INBOX_KEPT, OUTBOX_KEPT

    store = Store(db_path)
    await store.open()
    try:
        now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        old, fresh = now - INBOX_KEPT - timedelta(hours=1), now - timedelta(hours=1)
        async with store.transaction() as tx:
            await tx.executemany(
                "INSERT INTO inbox (update_id, payload, received_at, status, done_at) VALUES (?, '', ?, ?, ?)",
                [(1, old.isoformat(), "done", old.isoformat()), (2, fresh.isoformat(), "done", fresh.isoformat()),
                 (3, old.isoformat(), "new", None)],
            )  # fmt: skip
            long_ago = (now - OUTBOX_KEPT - timedelta(hours=1)).isoformat()
            await tx.executemany(
                "INSERT INTO outbox (chat_id, payload, created_at, not_before, status) VALUES (1, '{}', ?, ?, ?)",
                [(long_ago, long_ago, "sent"), (long_ago, long_ago, "pending"), (long_ago, long_ago, "held"),
                 (fresh.isoformat(), fresh.isoformat(), "sent")],
            )  # fmt: skip
        assert await store.purge(now) == {"inbox": 1, "outbox": 1, "edit_notices": 0}
        assert look(db_path, "SELECT update_id FROM inbox ORDER BY update_id") == [(2,), (3,)]
        assert look(db_path, "SELECT status FROM outbox ORDER BY outbox_id") == [("pending",), ("held",), ("sent",)]
    finally:
        await store.close()

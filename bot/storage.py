"""SQLite storage through aiosqlite: one writer, one reader, versioned migrations.

Writes have one owner: a lock around one connection, each transaction a few awaits
(aiosqlite pays a thread hop per await). Reads use a second connection, which in WAL
mode sees committed data only. Order updates are guarded by the ``version`` column so a
lost race is detected, never silently overwritten.

This module is the only one that speaks SQL; the interface is small so a server
database can take over later.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain import Actor, Event, Goods, Money, Order, OrderItem

# SQLite allows 32766 host parameters per statement; stay well below it.
_CHUNK = 900

ORDER_COLUMNS = (
    "team_id order_id digits_rev goods money channel currency total refunded purchased_at ship_by "
    "deliver_by service_level buyer_name ship_city ship_state ship_postal_code ship_country "
    "ship_address carrier carrier_name tracking shipped_at return_reason disposition version "
    "created_at updated_at"
).split()
_ORDER_SELECT = ", ".join(ORDER_COLUMNS)
_ORDER_INSERT = (
    f"INSERT INTO orders ({_ORDER_SELECT}) VALUES ({', '.join('?' * len(ORDER_COLUMNS))})"
)
_ORDER_UPDATE_COLUMNS = [c for c in ORDER_COLUMNS if c not in ("team_id", "order_id", "digits_rev", "created_at")]
_ORDER_UPDATE = (
    f"UPDATE orders SET {', '.join(f'{c} = ?' for c in _ORDER_UPDATE_COLUMNS)} "
    "WHERE team_id = ? AND order_id = ? AND version = ?"
)
_ITEM_COLUMNS = "team_id, order_id, item_id, sku, title, quantity, quantity_shipped, price"
_EVENT_COLUMNS = (
    "team_id, order_id, at, actor_kind, actor_id, actor_name, chat_id, action, "
    "from_goods, to_goods, from_money, to_money, details"
)


def iso(value: datetime | None) -> str | None:
    """Stored times are UTC, so that text order is time order (ship-by lists, alerts)."""
    if value is None:
        return None
    # An import formats ~5 times per order, mostly the same few values (its clock, the
    # report's ship-by dates): remember recent ones. Equal aware datetimes are the same
    # instant, hence the same UTC text; naive ones never get in (they raise below).
    text = _ISO_SEEN.get(value)
    if text is None:
        if value.tzinfo is None:
            raise ValueError("naive datetime: the desk stores aware UTC times only")
        text = (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat(timespec="seconds")
        if len(_ISO_SEEN) >= 4096:
            _ISO_SEEN.clear()
        _ISO_SEEN[value] = text
    return text


_ISO_SEEN: dict[datetime, str] = {}


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def digits_reversed(order_id: str) -> str:
    tail = order_id[::-1].replace("-", "")
    if tail.isdigit():  # an Amazon order id, ddd-ddddddd-ddddddd: every other character is a digit
        return tail
    return "".join(ch for ch in reversed(order_id) if ch.isdigit())


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(details: Any) -> str:
    return json.dumps(details, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def order_row(order: Order, now: datetime) -> tuple[Any, ...]:
    """The order as an ``orders`` row, in ``ORDER_COLUMNS`` order."""
    stamp = iso(now)
    total = order.total
    return (
        order.team_id, order.order_id, digits_reversed(order.order_id), order.goods.value,
        order.money.value, order.channel, order.currency, None if total is None else str(total),
        str(order.refunded), iso(order.purchased_at), iso(order.ship_by), iso(order.deliver_by),
        order.service_level, order.buyer_name, order.ship_city, order.ship_state, order.ship_postal_code,
        order.ship_country, order.ship_address, order.carrier, order.carrier_name,
        order.tracking, iso(order.shipped_at), order.return_reason, order.disposition,
        order.version, stamp, stamp,
    )  # fmt: skip


def item_rows(order: Order) -> list[tuple[Any, ...]]:
    return [
        (order.team_id, order.order_id, i.item_id, i.sku, i.title, i.quantity, i.quantity_shipped, _dec(i.price))
        for i in order.items
    ]


def event_row(event: Event, details: str | None = None) -> tuple[Any, ...]:
    """The event as an ``events`` row; ``details``: its details already serialised with ``dumps``."""
    a = event.actor
    return (
        event.team_id, event.order_id, iso(event.at), a.kind, a.id, a.name, a.chat_id, event.trigger,
        event.from_goods, event.to_goods, event.from_money, event.to_money,
        dumps(dict(event.details)) if details is None else details,
    )  # fmt: skip


def _order_from_row(row: Sequence[Any]) -> Order:
    r = dict(zip(ORDER_COLUMNS, row, strict=True))
    return Order(
        team_id=r["team_id"], order_id=r["order_id"], goods=Goods(r["goods"]), money=Money(r["money"]),
        channel=r["channel"], currency=r["currency"],
        total=None if r["total"] is None else Decimal(r["total"]), refunded=Decimal(r["refunded"]),
        purchased_at=from_iso(r["purchased_at"]), ship_by=from_iso(r["ship_by"]),
        deliver_by=from_iso(r["deliver_by"]), service_level=r["service_level"],
        buyer_name=r["buyer_name"], ship_city=r["ship_city"], ship_state=r["ship_state"],
        ship_postal_code=r["ship_postal_code"], ship_country=r["ship_country"],
        ship_address=r["ship_address"], carrier=r["carrier"], carrier_name=r["carrier_name"],
        tracking=r["tracking"], shipped_at=from_iso(r["shipped_at"]), return_reason=r["return_reason"],
        disposition=r["disposition"], version=r["version"],
    )  # fmt: skip


def _event_from_row(row: Sequence[Any]) -> Event:
    (event_id, team_id, order_id, at, kind, actor_id, actor_name, chat_id, action,
     from_goods, to_goods, from_money, to_money, details) = row  # fmt: skip
    return Event(
        id=event_id, team_id=team_id, order_id=order_id, at=datetime.fromisoformat(at),
        actor=Actor(kind=kind, id=actor_id, name=actor_name, chat_id=chat_id), trigger=action,
        from_goods=from_goods, to_goods=to_goods, from_money=from_money, to_money=to_money,
        details=json.loads(details),
    )


log = logging.getLogger(__name__)


@dataclass
class OutgoingMessage:
    """A message the update wants sent: queued with the update's effect, delivered by the sender."""

    chat_id: int
    team_id: int | None
    payload: dict[str, Any]
    kind: str = "reply"
    document: bytes | None = None


class Unit:
    """One update's unit of work (see :meth:`Store.unit`).

    The transaction begins at the first write and holds the write lock until the update is
    finished; replies wait in :attr:`messages` and go into the outbox in that transaction;
    calls that change what Telegram shows (answering a button, removing buttons) wait in
    :attr:`after` until it committed, so the write lock is never held across the network.
    """

    def __init__(self, store: Store, update_id: int) -> None:
        self.store = store
        self.update_id = update_id
        self.began = False
        self.closed = False
        self.failed = False
        self.messages: list[OutgoingMessage] = []
        self.after: list[Callable[[], Awaitable[Any]]] = []
        self._savepoints = 0
        self._locked = False

    async def begin(self) -> aiosqlite.Connection:
        conn = self.store._writer
        assert conn is not None
        if not self.began:
            await self.store._write_lock.acquire()
            self._locked = True
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._write_lock.release()
                self._locked = False
                raise
            self.began = True
        return conn

    async def undo(self) -> None:
        """Roll back what the update wrote so far; it may write again afterwards."""
        if self.began:
            conn = self.store._writer
            assert conn is not None
            try:
                await conn.execute("ROLLBACK")
            finally:
                self.began = False
                self._release_lock()

    def next_savepoint(self) -> str:
        self._savepoints += 1
        return f"u{self._savepoints}"

    def queue(self, message: OutgoingMessage) -> None:
        self.messages.append(message)

    def later(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Run ``call`` once the update committed (now, if it has not begun writing)."""
        self.after.append(call)

    async def fail(self) -> None:
        """A handler raised: undo everything it wrote, forget what it wanted to say."""
        self.failed = True
        await self.undo()
        self.messages.clear()
        self.after.clear()

    async def commit(self) -> None:
        """The effect, the replies and "done" in one transaction (one hop into the database
        thread when the update wrote nothing else: a look-up's reply)."""
        store = self.store
        now = iso(_utc_now())
        rows = [(m.team_id, m.chat_id, m.kind, self.update_id, dumps(m.payload), m.document, now, _EPOCH)
                for m in self.messages]  # fmt: skip
        began = self.began
        if not began:
            await store._write_lock.acquire()
            self._locked = True

        def finish(db: sqlite3.Connection) -> None:
            if not began:
                db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO outbox (team_id, chat_id, kind, update_id, payload, document, created_at, not_before) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                # Done: the payload is no longer needed (and may hold what a person typed).
                db.execute("UPDATE inbox SET status = 'done', done_at = ?, payload = '' WHERE update_id = ?",
                           (now, self.update_id))  # fmt: skip
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        try:
            await store.on_writer(finish)
        finally:
            self.began = False
            self.closed = True
            self._release_lock()
        if rows:
            store.signal_queued()

    async def release(self) -> None:
        """After an error on the way out (cancelled, disk full): nothing of the update stays."""
        self.closed = True
        if self.began:
            conn = self.store._writer
            assert conn is not None
            try:
                await conn.execute("ROLLBACK")
            finally:
                self.began = False
                self._release_lock()

    def _release_lock(self) -> None:
        if self._locked:
            self._locked = False
            self.store._write_lock.release()

    async def run_after(self) -> None:
        for call in self.after:
            try:
                await call()
            except Exception:  # noqa: BLE001 - a button answer or an edit is a courtesy
                log.debug("a call after update %s failed", self.update_id, exc_info=True)


#: How long processed updates (and edit notices) are kept: Telegram keeps updates for a day.
INBOX_KEPT = timedelta(days=7)
#: How long delivered messages are kept, to look into what the bot said.
OUTBOX_KEPT = timedelta(days=30)
#: The unit of work of the update the current task is processing.
_UNIT: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("dingdan_unit", default=None)
#: Replies are due at once: any time at or before now.
_EPOCH = "1970-01-01T00:00:00+00:00"


def current_unit() -> Unit | None:
    return _UNIT.get()


@contextlib.contextmanager
def outside_unit() -> Iterator[None]:
    """Work that waits on another service between its writes (Amazon's API) commits as it
    goes instead of holding the update's transaction, and so the write lock, across the
    network. Only before the update wrote anything: its writes cannot be split afterwards."""
    unit = _UNIT.get()
    if unit is not None and unit.began:
        raise RuntimeError("outside_unit() after the update began writing")
    token = _UNIT.set(None)
    try:
        yield
    finally:
        _UNIT.reset(token)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Team:
    team_id: int
    title: str
    timezone: str
    lead_hours: str = "24,4"
    digest_at: str = "09:00"
    quiet_from: str = "23:00"
    quiet_until: str = "08:00"
    pending_days: int = 3
    kinds_off: str = ""
    unreachable_since: str | None = None
    started_by: int | None = None
    started_at: str | None = None


_TEAM_COLUMNS = (
    "team_id, title, timezone, lead_hours, digest_at, quiet_from, quiet_until, pending_days, kinds_off, "
    "unreachable_since, started_by, started_at"
)
#: Team settings a group administrator may change with /alerts.
TEAM_SETTINGS = frozenset({"timezone", "lead_hours", "digest_at", "quiet_from", "quiet_until", "pending_days",
                           "kinds_off"})  # fmt: skip


@dataclass(frozen=True)
class Shipment:
    """Items of one order that left with one carrier and tracking number."""

    item_id: str
    quantity: int
    shipped_at: datetime
    carrier: str
    carrier_name: str
    tracking: str
    ship_method: str = ""
    order_id: str = ""
    shipment_id: int | None = None
    exported_at: datetime | None = None


@dataclass(frozen=True)
class DueRow:
    """An order as the alert check sees it: only what deadlines need."""

    order_id: str
    goods: str
    ship_by: datetime | None
    purchased_at: datetime | None
    deliver_by: datetime | None
    disposition: str = ""


@dataclass(frozen=True)
class OutboxRow:
    outbox_id: int
    team_id: int | None
    chat_id: int
    payload_json: str
    attempts: int
    kind: str = "alert"
    update_id: int | None = None
    document: bytes | None = None

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        """Read when the message is sent, not each time the queue is looked at."""
        return json.loads(self.payload_json)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    username: str | None
    telegram_language: str | None
    language: str | None
    active_team: int | None


@dataclass(frozen=True)
class Confirmation:
    token: str
    team_id: int
    user_id: int
    chat_id: int
    order_id: str
    action: str
    details: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class TeamMove:
    """What following a group's upgrade to a supergroup did (see :meth:`Store.move_team`)."""

    moved: bool  # the team moved now; False: nothing (left) to move, or the supergroup is taken
    orders: int  # the orders it has (took along, or left behind when the supergroup is taken)
    occupied: bool = False  # the supergroup already is a team with orders: nothing was merged
    first: bool = False  # ... and this is the first time it was found so (the group was told)


#: Tables holding a team's rows by ``team_id``: all of them follow the team to its new chat id.
TEAM_TABLES = ("members", "orders", "order_items", "events", "shipments", "imports", "confirmations", "alerts",
               "snoozes", "outbox", "amazon_accounts")  # fmt: skip
#: Of those, the tables whose ``chat_id`` says where something happened: the group's id there
#: becomes the supergroup's, so history and questions stay with the group.
_CHAT_IN_TEAM_TABLES = ("events", "imports", "confirmations")


def keep_private(path: str) -> None:
    """The database (buyers' addresses, Amazon's credentials) readable by the bot's user only.

    SQLite creates a new file 0644 (less the umask), and gives its -wal and -shm files the
    database file's mode: creating the file 0600 first covers all three. An existing file,
    and the -wal/-shm an older version left, are tightened.
    """
    if path == ":memory:" or path.startswith("file:") or os.name != "posix":
        return  # Windows has no mode bits to speak of; the folder's ACL decides there
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        return  # SQLite says why in its own words
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable by other users and I cannot change that: chmod 600 it", name)


class Store:
    """The database. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        #: Updates being processed now: a second copy (redelivered, or found at start) waits its turn out.
        self._in_flight: set[int] = set()
        #: Updates this process stored as new and has not started yet.
        self._fresh: set[int] = set()
        #: Called when messages were queued in the outbox (the sender wakes up).
        self.on_queued: Callable[[], None] = lambda: None

    # --- life ---------------------------------------------------------------------

    async def open(self) -> None:
        keep_private(self.path)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; "
            "PRAGMA busy_timeout=5000;"
        )
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def reader(self) -> aiosqlite.Connection:
        assert self._reader is not None, "Store.open() first"
        return self._reader

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for version, sql in migrations():
            # Each script runs in its own write transaction, and whether it is due is read
            # inside it: two processes opening a new database at once apply it once.
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)) as cur:
                    done = await cur.fetchone() is not None
                if not done:
                    for statement in _statements(sql):
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, datetime('now'))", (version,)
                    )
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def transaction(self, *, standalone: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """The one way to write: serialised, all or nothing.

        While an update is processed (see :meth:`unit`), its writes join the update's one
        transaction, each block under a savepoint (a refusal inside it undoes only that
        block), and commit with the update's replies. ``standalone`` writes (what the desk
        learns about people and chats) commit on their own unless that transaction has
        already begun: they are facts, not effects, and must not hold the write lock while
        the update still waits on Telegram.
        """
        assert self._writer is not None, "Store.open() first"
        unit = _UNIT.get()
        if unit is None or unit.store is not self or unit.closed or (standalone and not unit.began):
            async with self._write_lock:
                conn = self._writer
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                else:
                    await conn.execute("COMMIT")
            return
        if not unit.began:
            # The update's first write: the transaction itself undoes it if it fails.
            conn = await unit.begin()
            try:
                yield conn
            except BaseException:
                await unit.undo()
                raise
            return
        conn = await unit.begin()
        savepoint = unit.next_savepoint()
        await conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield conn
        except BaseException:
            await conn.execute(f"ROLLBACK TO {savepoint}")
            await conn.execute(f"RELEASE {savepoint}")
            raise
        else:
            await conn.execute(f"RELEASE {savepoint}")

    @asynccontextmanager
    async def unit(self, update_id: int) -> AsyncIterator[Unit | None]:
        """Process one update as one unit of work: its effects, its replies and the inbox's
        "done" commit together, or not at all. Yields None when the update was done already
        (Telegram delivered it again, or a restart found it twice).
        """
        if update_id in self._in_flight:
            yield None
            return
        self._in_flight.add(update_id)  # before the first await: a second copy sees it
        try:
            if update_id in self._fresh:
                self._fresh.discard(update_id)  # just stored by this process: new
            elif await self.inbox_status(update_id) not in (None, "new"):
                yield None
                return
            unit = Unit(self, update_id)
            token = _UNIT.set(unit)
            try:
                yield unit
                await unit.commit()
            finally:
                _UNIT.reset(token)
                await unit.release()
        finally:
            self._in_flight.discard(update_id)
        await unit.run_after()

    # Reads take one hop into aiosqlite's thread (execute and fetch together), not three
    # (execute, fetch, close the cursor). An update that has begun writing reads through its
    # own transaction, so it sees what it wrote.

    def _read_conn(self) -> aiosqlite.Connection:
        unit = _UNIT.get()
        if unit is not None and unit.store is self and unit.began and not unit.closed:
            assert self._writer is not None
            return self._writer
        return self.reader

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        rows = await self._read_conn().execute_fetchall(sql, params)
        return rows if isinstance(rows, list) else list(rows)

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """The first row or None; for queries of at most a row or two (a key, LIMIT 1, count)."""
        rows = await self._read_conn().execute_fetchall(sql, params)
        return rows[0] if rows else None

    _fetchall = fetchall
    _fetchone = fetchone

    async def on_writer(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(connection)`` on the writer's own thread: a whole transaction in one hop
        (aiosqlite pays a thread hop per await). The caller holds the write lock."""
        assert self._writer is not None, "Store.open() first"
        writer = self._writer
        return await writer._execute(work, writer._conn)

    def signal_queued(self) -> None:
        self.on_queued()

    # --- the inbox ---------------------------------------------------------------------

    async def store_updates(self, updates: Sequence[tuple[int, str]], now: datetime) -> None:
        """Keep what Telegram delivered before its offset is confirmed; an update seen again is ignored."""
        if not updates:
            return
        ids = [update_id for update_id, _ in updates]

        def keep(db: sqlite3.Connection) -> set[int]:
            db.execute("BEGIN IMMEDIATE")
            try:
                marks = ", ".join("?" * len(ids))
                known = {r[0] for r in db.execute(f"SELECT update_id FROM inbox WHERE update_id IN ({marks})", ids)}
                db.executemany("INSERT INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)",
                               [(u, payload, iso(now)) for u, payload in updates if u not in known])  # fmt: skip
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return set(ids) - known

        async with self._write_lock:
            # Those are new for sure: processing them needs no look-up of their status.
            self._fresh.update(await self.on_writer(keep))

    async def execute_write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own transaction, in one hop; the number of rows it changed."""
        unit = _UNIT.get()
        if unit is not None and unit.store is self and not unit.closed:
            async with self.transaction() as tx:
                return (await tx.execute(sql, params)).rowcount

        def write(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                changed = db.execute(sql, params).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return changed

        async with self._write_lock:
            return int(await self.on_writer(write))

    async def unfinished_updates(self, max_attempts: int) -> list[tuple[int, str]]:
        """Updates a stop or crash left unprocessed, oldest first; each call counts an attempt.

        One that was interrupted ``max_attempts`` times (it may be what kills the process) is
        given up as 'failed' and logged by the caller, so it cannot stop the desk for good.
        """
        async with self.transaction(standalone=True) as tx:
            await tx.execute("UPDATE inbox SET attempts = attempts + 1 WHERE status = 'new'")
            await tx.execute(
                "UPDATE inbox SET status = 'failed' WHERE status = 'new' AND attempts > ?", (max_attempts,)
            )
            async with tx.execute(
                "SELECT update_id, payload FROM inbox WHERE status = 'new' ORDER BY update_id"
            ) as cur:
                return [(r[0], r[1]) for r in await cur.fetchall()]

    async def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Forget what is no longer needed (README, "What you can rely on"): processed updates
        after ``INBOX_KEPT`` (Telegram redelivers an update only until the bot confirms it, and
        keeps none for more than a day), delivered or given-up messages after ``OUTBOX_KEPT``,
        edit notices after ``INBOX_KEPT``. Pending and held messages are never purged."""
        now = now or _utc_now()
        async with self.transaction() as tx:
            counts = {}
            for table, sql, params in (
                ("inbox", "DELETE FROM inbox WHERE status != 'new' AND coalesce(done_at, received_at) < ?",
                 (iso(now - INBOX_KEPT),)),
                ("outbox", "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?",
                 (iso(now - OUTBOX_KEPT),)),
                ("edit_notices", "DELETE FROM edit_notices WHERE at < ?", (iso(now - INBOX_KEPT),)),
            ):  # fmt: skip
                cur = await tx.execute(sql, params)
                counts[table] = cur.rowcount
        return counts

    async def inbox_status(self, update_id: int) -> str | None:
        row = await self.fetchone("SELECT status FROM inbox WHERE update_id = ?", (update_id,))
        return row[0] if row else None

    async def first_edit_notice(self, chat_id: int, message_id: int, now: datetime) -> bool:
        """True the first time an edit of this message is answered."""
        async with self.transaction() as tx:
            cur = await tx.execute(
                "INSERT OR IGNORE INTO edit_notices (chat_id, message_id, at) VALUES (?, ?, ?)",
                (chat_id, message_id, iso(now)),
            )
            return bool(cur.rowcount)

    # --- teams, chats, people -------------------------------------------------------

    async def create_team(self, team_id: int, title: str, timezone: str, by: int, at: datetime) -> bool:
        """Make a group a team; False when it already was one (its settings are kept)."""
        async with self.transaction() as tx:
            async with tx.execute("SELECT 1 FROM teams WHERE team_id = ?", (team_id,)) as cur:
                existed = await cur.fetchone() is not None
            if existed:
                await tx.execute("UPDATE teams SET title = ? WHERE team_id = ?", (title, team_id))
            else:
                await tx.execute(
                    "INSERT INTO teams (team_id, title, timezone, started_by, started_at) VALUES (?, ?, ?, ?, ?)",
                    (team_id, title, timezone, by, iso(at)),
                )
        return not existed

    async def team(self, team_id: int) -> Team | None:
        row = await self._fetchone(f"SELECT {_TEAM_COLUMNS} FROM teams WHERE team_id = ?", (team_id,))
        return Team(*row) if row else None

    async def teams(self) -> list[Team]:
        rows = await self._fetchall(f"SELECT {_TEAM_COLUMNS} FROM teams ORDER BY started_at")
        return [Team(*r) for r in rows]

    async def update_team(self, team_id: int, **settings: Any) -> None:
        unknown = set(settings) - TEAM_SETTINGS
        assert not unknown, unknown
        sets = ", ".join(f"{k} = ?" for k in settings)
        async with self.transaction() as tx:
            await tx.execute(f"UPDATE teams SET {sets} WHERE team_id = ?", (*settings.values(), team_id))

    async def team_language(self, team_id: int) -> tuple[str | None, str | None, str | None]:
        """(the group's language, the starter's chosen language, the starter's Telegram language)."""
        row = await self._fetchone(
            "SELECT c.language, u.language, u.telegram_language FROM teams t LEFT JOIN chats c ON c.chat_id = t.team_id "
            "LEFT JOIN users u ON u.user_id = t.started_by WHERE t.team_id = ?",
            (team_id,),
        )
        return (row[0], row[1], row[2]) if row else (None, None, None)

    async def forget_team(self, team_id: int) -> None:
        async with self.transaction() as tx:
            await tx.execute("DELETE FROM teams WHERE team_id = ?", (team_id,))

    async def move_team(
        self,
        old_id: int,
        new_id: int,
        *,
        title: str | None,
        now: datetime,
        moved_notice: Callable[[int], dict[str, Any]],
        occupied_notice: Callable[[int], dict[str, Any]],
    ) -> TeamMove:
        """A basic group became a supergroup, with a new chat id: the team follows it, whole.

        Telegram says so twice (a service message in each chat), and again on every send to
        the old id (ChatMigrated): the first signal moves the team in one transaction and
        queues ``moved_notice(orders)`` for the supergroup; later signals find nothing to move.
        An empty team that an administrator started in the supergroup meanwhile gives way
        (its newer membership checks and queued messages are kept); a supergroup that already
        is a team with orders is never merged into: the old team's messages are held, and
        ``occupied_notice(orders)`` is queued there the first time. Otherwise, messages queued
        for the old chat go to the new one (without quoting: the old messages are gone).
        """
        old, new, at = {"old": old_id}, {"new": new_id}, iso(now)
        both = {**old, **new}
        retarget = (
            "UPDATE outbox SET chat_id = :new, payload = json_remove(payload, '$.reply_to') "
            "WHERE chat_id = :old AND status IN ('pending', 'held')"
        )
        async with self.transaction() as tx:
            async with tx.execute(
                "SELECT unreachable_since, (SELECT count(*) FROM orders WHERE team_id = :old) FROM teams "
                "WHERE team_id = :old", old,
            ) as cur:  # fmt: skip
                found = await cur.fetchone()
            if found is None:  # moved already, or never a team: only stray messages follow
                await tx.execute(retarget, both)
                return TeamMove(moved=False, orders=0)
            unreachable_since, orders = found
            async with tx.execute(
                "SELECT EXISTS (SELECT 1 FROM orders WHERE team_id = :new) FROM teams WHERE team_id = :new", new
            ) as cur:
                occupant = await cur.fetchone()
            if occupant is not None and occupant[0]:
                first = unreachable_since is None
                if first:
                    await tx.execute("UPDATE teams SET unreachable_since = ? WHERE team_id = ?", (at, old_id))
                    await tx.execute(
                        "UPDATE outbox SET status = 'held', last_error = ? WHERE status = 'pending' "
                        "AND (team_id = ? OR chat_id = ?)",
                        (f"migrated to {new_id}, another team", old_id, old_id),
                    )
                    await tx.execute(
                        "INSERT INTO outbox (team_id, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                        (new_id, new_id, dumps(occupied_notice(orders)), at, at),
                    )
                return TeamMove(moved=False, orders=orders, occupied=True, first=first)
            # Children point at the team by its id and no key cascades on update: the checks
            # wait for the commit, when every row points at the new id.
            await tx.execute("PRAGMA defer_foreign_keys = ON")
            if occupant is not None:
                # The empty team gives way; what it learnt since (fresher membership checks,
                # messages on their way) joins the old team first. Its digest ledger and the
                # like lose to the old team's, and go with the empty team's row.
                await tx.execute("UPDATE users SET active_team = :old WHERE active_team = :new", both)
                for table in TEAM_TABLES:
                    verb = "UPDATE OR REPLACE" if table == "members" else "UPDATE OR IGNORE"
                    await tx.execute(f"{verb} {table} SET team_id = :old WHERE team_id = :new", both)
                await tx.execute("DELETE FROM teams WHERE team_id = :new", new)
            # The bot is in the supergroup (Telegram copied the members, and told it there or in
            # the old group): whatever was held for an unreachable group is sent again, and the
            # sender holds it anew if that was wrong.
            await tx.execute(
                "UPDATE teams SET team_id = :new, title = coalesce(:title, title), unreachable_since = NULL "
                "WHERE team_id = :old",
                {**both, "title": title},
            )
            for table in TEAM_TABLES:
                if table in _CHAT_IN_TEAM_TABLES:
                    sets = "team_id = :new, chat_id = CASE chat_id WHEN :old THEN :new ELSE chat_id END"
                else:
                    sets = "team_id = :new"
                await tx.execute(f"UPDATE {table} SET {sets} WHERE team_id = :old", both)
            await tx.execute(retarget, both)
            await tx.execute(
                "UPDATE outbox SET status = 'pending', not_before = :at WHERE team_id = :new AND status = 'held'",
                {**new, "at": at},
            )
            await tx.execute("UPDATE users SET active_team = :new WHERE active_team = :old", both)
            # The group's language: the old group's choice, else one made in the supergroup.
            await tx.execute(
                "INSERT INTO chats (chat_id, kind, title, language, updated_at) "
                "SELECT :new, 'supergroup', title, language, :at FROM chats WHERE chat_id = :old "
                "ON CONFLICT (chat_id) DO UPDATE SET kind = 'supergroup', "
                "language = coalesce(excluded.language, chats.language), updated_at = excluded.updated_at",
                {**both, "at": at},
            )
            await tx.execute("DELETE FROM chats WHERE chat_id = :old", old)
            await tx.execute(
                "INSERT INTO outbox (team_id, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                (new_id, new_id, dumps(moved_notice(orders)), at, at),
            )
        return TeamMove(moved=True, orders=orders)

    async def seen(
        self,
        *,
        user_id: int,
        name: str,
        username: str | None,
        telegram_language: str | None,
        chat_id: int,
        chat_kind: str,
        chat_title: str,
        at: datetime,
    ) -> None:
        """Remember who wrote where (one transaction, two statements)."""
        async with self.transaction(standalone=True) as tx:
            await tx.execute(
                "INSERT INTO users (user_id, name, username, telegram_language, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, username = excluded.username, "
                "telegram_language = excluded.telegram_language, updated_at = excluded.updated_at",
                (user_id, name, username, telegram_language, iso(at)),
            )
            await tx.execute(
                "INSERT INTO chats (chat_id, kind, title, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET kind = excluded.kind, title = excluded.title, "
                "updated_at = excluded.updated_at",
                (chat_id, chat_kind, chat_title, iso(at)),
            )

    async def user(self, user_id: int) -> User | None:
        row = await self._fetchone(
            "SELECT user_id, name, username, telegram_language, language, active_team FROM users WHERE user_id = ?",
            (user_id,),
        )
        return User(*row) if row else None

    async def chat_language(self, chat_id: int) -> str | None:
        row = await self._fetchone("SELECT language FROM chats WHERE chat_id = ?", (chat_id,))
        return row[0] if row else None

    async def set_user_language(self, user_id: int, language: str | None) -> None:
        async with self.transaction() as tx:
            await tx.execute("UPDATE users SET language = ? WHERE user_id = ?", (language, user_id))

    async def set_chat_language(self, chat_id: int, language: str | None) -> None:
        async with self.transaction() as tx:
            await tx.execute("UPDATE chats SET language = ? WHERE chat_id = ?", (language, chat_id))

    async def set_member(self, team_id: int, user_id: int, status: str, at: datetime, *, active: bool) -> None:
        """Record a membership check; an active member's private chat then serves this team."""
        async with self.transaction(standalone=True) as tx:
            await tx.execute(
                "INSERT INTO members (team_id, user_id, status, checked_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, user_id) DO UPDATE SET status = excluded.status, checked_at = excluded.checked_at",
                (team_id, user_id, status, iso(at)),
            )
            if active:
                await tx.execute("UPDATE users SET active_team = ? WHERE user_id = ?", (team_id, user_id))
            else:  # left or removed: their private chat no longer serves this team
                await tx.execute(
                    "UPDATE users SET active_team = NULL WHERE user_id = ? AND active_team = ?", (user_id, team_id)
                )

    async def member(self, team_id: int, user_id: int) -> tuple[str, datetime] | None:
        row = await self._fetchone(
            "SELECT status, checked_at FROM members WHERE team_id = ? AND user_id = ?", (team_id, user_id)
        )
        return (row[0], datetime.fromisoformat(row[1])) if row else None

    async def teams_of(self, user_id: int) -> list[int]:
        """Teams the user was last seen a member of, the most recently checked first."""
        rows = await self._fetchall(
            "SELECT team_id FROM members WHERE user_id = ? AND status IN ('creator','administrator','member','restricted') "
            "ORDER BY checked_at DESC",
            (user_id,),
        )
        return [r[0] for r in rows]

    # --- orders -----------------------------------------------------------------------

    async def find_order_ids(self, team_id: int, *, full: str | None = None, tail: str | None = None,
                             limit: int = 6) -> list[str]:  # fmt: skip
        if full is not None:
            row = await self._fetchone(
                "SELECT order_id FROM orders WHERE team_id = ? AND order_id = ?", (team_id, full)
            )
            return [row[0]] if row else []
        assert tail is not None
        prefix = tail[::-1]
        # A range on the reversed digits: the index answers "ids ending in ...".
        rows = await self._fetchall(
            "SELECT order_id FROM orders WHERE team_id = ? AND digits_rev >= ? AND digits_rev < ? "
            "ORDER BY purchased_at DESC LIMIT ?",
            (team_id, prefix, prefix + ":", limit),
        )
        return [r[0] for r in rows]

    async def order(self, team_id: int, order_id: str) -> Order | None:
        row = await self._fetchone(
            f"SELECT {_ORDER_SELECT} FROM orders WHERE team_id = ? AND order_id = ?", (team_id, order_id)
        )
        if row is None:
            return None
        order = _order_from_row(row)
        items = await self._fetchall(
            "SELECT item_id, sku, title, quantity, quantity_shipped, price FROM order_items "
            "WHERE team_id = ? AND order_id = ? ORDER BY item_id",
            (team_id, order_id),
        )
        order.items = [
            OrderItem(i, sku, title, q, qs, None if p is None else Decimal(p)) for i, sku, title, q, qs, p in items
        ]
        return order

    async def orders_by_ids(self, team_id: int, order_ids: Sequence[str]) -> dict[str, Order]:
        """Many orders with their items, in few queries (imports).

        The same orders as :meth:`order` reads (``_order_from_row``), built faster: a report
        re-read brings 100,000 orders whose times, amounts and states repeat, and times,
        amounts and states are immutable, so equal ones are parsed once and shared.
        """
        found: dict[str, Order] = {}
        ids = sorted(set(order_ids))  # in key order: neighbouring look-ups share index pages
        goods_by_value: dict[str, Goods] = {g.value: g for g in Goods}
        money_by_value: dict[str, Money] = {m.value: m for m in Money}
        times: dict[str | None, datetime | None] = {None: None}
        amounts: dict[str | None, Decimal | None] = {None: None}

        def when(text: str | None) -> datetime | None:
            value = times.get(text)
            if value is None and text is not None:
                value = times[text] = datetime.fromisoformat(text)
            return value

        def amount(text: str | None) -> Decimal | None:
            value = amounts.get(text)
            if value is None and text is not None:
                value = amounts[text] = Decimal(text)
            return value

        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self._fetchall(
                "SELECT team_id, order_id, goods, money, channel, currency, total, refunded, purchased_at, ship_by, "
                "deliver_by, service_level, buyer_name, ship_city, ship_state, ship_postal_code, ship_country, "
                "ship_address, carrier, carrier_name, tracking, shipped_at, return_reason, disposition, version "
                f"FROM orders WHERE team_id = ? AND order_id IN ({marks})",
                [team_id, *chunk],
            )
            for (tid, oid, goods, money, channel, currency, total, refunded, purchased_at, ship_by, deliver_by,
                 service_level, buyer_name, ship_city, ship_state, ship_postal_code, ship_country, ship_address,
                 carrier, carrier_name, tracking, shipped_at, return_reason, disposition, version) in rows:  # fmt: skip
                g, m = goods_by_value.get(goods), money_by_value.get(money)
                found[oid] = Order(
                    team_id=tid, order_id=oid, goods=Goods(goods) if g is None else g,
                    money=Money(money) if m is None else m, channel=channel, currency=currency,
                    total=amount(total), refunded=amount(refunded), purchased_at=when(purchased_at),
                    ship_by=when(ship_by), deliver_by=when(deliver_by), service_level=service_level,
                    buyer_name=buyer_name, ship_city=ship_city, ship_state=ship_state,
                    ship_postal_code=ship_postal_code, ship_country=ship_country, ship_address=ship_address,
                    carrier=carrier, carrier_name=carrier_name, tracking=tracking, shipped_at=when(shipped_at),
                    return_reason=return_reason, disposition=disposition, version=version,
                )  # fmt: skip
            if not rows:
                continue
            items = await self._fetchall(
                "SELECT order_id, item_id, sku, title, quantity, quantity_shipped, price FROM order_items "
                f"WHERE team_id = ? AND order_id IN ({marks}) ORDER BY order_id, item_id",
                [team_id, *chunk],
            )
            for oid, i, sku, title, q, qs, p in items:
                found[oid].items.append(OrderItem(i, sku, title, q, qs, amount(p)))
        return found

    async def save(self, order: Order, event: Event, *, now: datetime,
                   shipments: Sequence[Shipment] = (), supersede: str | None = None) -> bool:  # fmt: skip
        """Write the changed order, its event and its shipments together, if nobody changed it meanwhile.

        ``order.version`` is the version it was loaded at; on success it is bumped. With
        ``supersede`` (a tracking number), the shipments under it are replaced (a correction).
        """
        async with self.transaction() as tx:
            ok = await self._update(tx, order, now)
            if ok:
                await tx.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                                 event_row(event))  # fmt: skip
                if supersede is not None:
                    await tx.execute(
                        "UPDATE shipments SET superseded = 1 WHERE team_id = ? AND order_id = ? AND superseded = 0 "
                        "AND tracking = ?",
                        (order.team_id, order.order_id, supersede),
                    )
                await tx.executemany(
                    "INSERT INTO shipments (team_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, "
                    "tracking, ship_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(order.team_id, order.order_id, sh.item_id, sh.quantity, iso(sh.shipped_at), sh.carrier,
                      sh.carrier_name, sh.tracking, sh.ship_method) for sh in shipments],
                )  # fmt: skip
        if ok:
            order.version += 1
        return ok

    # --- shipments -----------------------------------------------------------------------

    async def take_for_export(self, team_id: int, export_id: str, now: datetime, *,
                              day: tuple[datetime, datetime] | None = None) -> list[Shipment]:  # fmt: skip
        """Shipments to write into a Shipping Confirmation file, marked as exported in the same
        transaction (two exports at once never both take a shipment). With ``day``
        (start, end), every current shipment of that day again, exported or not."""
        async with self.transaction() as tx:
            if day is None:
                where, params = "exported_at IS NULL", [team_id]
            else:
                where, params = "shipped_at >= ? AND shipped_at < ?", [team_id, iso(day[0]), iso(day[1])]
            async with tx.execute(
                "SELECT shipment_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, tracking, "
                # Shipments already confirmed through the Selling Partner API are not told twice.
                f"ship_method FROM shipments WHERE team_id = ? AND superseded = 0 AND confirmed_at IS NULL AND {where} "
                "ORDER BY shipped_at, order_id, item_id",
                params,
            ) as cur:
                rows = list(await cur.fetchall())
            await tx.executemany(
                "UPDATE shipments SET exported_at = coalesce(exported_at, ?), export_id = ? WHERE shipment_id = ?",
                [(iso(now), export_id, r[0]) for r in rows],
            )
        return [Shipment(r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6], r[7], r[8], order_id=r[1],
                         shipment_id=r[0]) for r in rows]  # fmt: skip

    async def untake_export(self, export_id: str, taken_at: datetime) -> None:
        """The file could not be delivered: what this export marked counts as not exported again."""
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE shipments SET exported_at = NULL, export_id = NULL WHERE export_id = ? AND exported_at = ?",
                (export_id, iso(taken_at)),
            )

    async def shipments_of(self, team_id: int, order_id: str) -> list[Shipment]:
        rows = await self._fetchall(
            "SELECT shipment_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, tracking, ship_method, "
            "exported_at FROM shipments WHERE team_id = ? AND order_id = ? AND superseded = 0 ORDER BY shipment_id",
            (team_id, order_id),
        )
        return [Shipment(r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6], r[7], r[8], order_id=r[1],
                         shipment_id=r[0], exported_at=from_iso(r[9])) for r in rows]  # fmt: skip

    @staticmethod
    def _update_params(order: Order, now: datetime) -> list[Any]:
        """Parameters of ``_ORDER_UPDATE``: the order at its next version, if still at its version."""
        row = dict(zip(ORDER_COLUMNS, order_row(order, now), strict=True))
        row["version"] = order.version + 1
        return [row[c] for c in _ORDER_UPDATE_COLUMNS] + [order.team_id, order.order_id, order.version]

    @staticmethod
    async def _update(tx: aiosqlite.Connection, order: Order, now: datetime) -> bool:
        cur = await tx.execute(_ORDER_UPDATE, Store._update_params(order, now))
        if cur.rowcount != 1:
            return False
        await tx.executemany(
            "UPDATE order_items SET quantity_shipped = ? WHERE team_id = ? AND order_id = ? AND item_id = ?",
            [(i.quantity_shipped, order.team_id, order.order_id, i.item_id) for i in order.items],
        )
        return True

    async def write_import(
        self,
        *,
        team_id: int,
        new: Sequence[tuple[Order, Event]],
        changed: Sequence[tuple[Order, Sequence[Event]]],
        record: dict[str, Any],
        now: datetime,
    ) -> None:
        """One file's effect in one transaction: new orders, changed orders, their events.

        Raises ``Conflict`` (and writes nothing) when a changed order moved on since it
        was read; the caller reads again and retries.

        Rows are generated as SQLite takes them (a big file's rows are never all in memory
        at once), and each statement runs once for all the rows, not once per order.
        """
        serialised: list[Any] = [None, ""]  # the details last serialised, and their text

        def event_row_once(event: Event) -> tuple[Any, ...]:
            # New orders' events share one details mapping (the file): serialise it once.
            details = event.details
            if details is not serialised[0]:
                serialised[0], serialised[1] = details, dumps(dict(details))
            return event_row(event, serialised[1])

        def event_rows() -> Iterable[tuple[Any, ...]]:
            for _, event in new:
                yield event_row_once(event)
            for _, events in changed:
                for event in events:
                    yield event_row_once(event)

        async with self.transaction() as tx:
            await tx.executemany(_ORDER_INSERT, (order_row(o, now) for o, _ in new))
            await tx.executemany(
                f"INSERT INTO order_items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row for o, _ in new for row in item_rows(o)),
            )
            if changed:
                # One guarded UPDATE per order (it matches one row, or none when the order
                # moved on since it was read): all matched, or the file is refused whole.
                done = await tx.executemany(_ORDER_UPDATE, (self._update_params(o, now) for o, _ in changed))
                if done.rowcount != len(changed):
                    raise Conflict
                # A later report may add items or change their details.
                await tx.executemany(
                    f"INSERT INTO order_items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (team_id, order_id, item_id) DO UPDATE SET sku = excluded.sku, "
                    "title = excluded.title, quantity = excluded.quantity, "
                    "quantity_shipped = excluded.quantity_shipped, price = excluded.price",
                    (row for o, _ in changed for row in item_rows(o)),
                )
            await tx.executemany(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                                 event_rows())  # fmt: skip
            await tx.execute(
                "INSERT INTO imports (team_id, sha256, kind, filename, at, actor_id, chat_id, rows, new, updated, "
                "unchanged, refused) VALUES (:team_id, :sha256, :kind, :filename, :at, :actor_id, :chat_id, :rows, "
                ":new, :updated, :unchanged, :refused)",
                {**record, "team_id": team_id, "at": iso(now)},
            )
        for order, _ in changed:
            order.version += 1

    async def list_orders(
        self, team_id: int, states: Iterable[Goods], *, offset: int, limit: int
    ) -> tuple[list[Order], int]:
        """Orders in these states, the most urgent (earliest ship-by) first, and how many in all."""
        states = [s.value for s in states]
        marks = ", ".join("?" * len(states))
        total = await self._fetchone(
            f"SELECT count(*) FROM orders WHERE team_id = ? AND goods IN ({marks})", [team_id, *states]
        )
        rows = await self._fetchall(
            f"SELECT {_ORDER_SELECT} FROM orders WHERE team_id = ? AND goods IN ({marks}) "
            "ORDER BY ship_by IS NULL, ship_by, purchased_at, order_id LIMIT ? OFFSET ?",
            [team_id, *states, limit, offset],
        )
        return [_order_from_row(r) for r in rows], total[0]

    async def count_by_state(self, team_id: int) -> dict[str, int]:
        rows = await self._fetchall("SELECT goods, count(*) FROM orders WHERE team_id = ? GROUP BY goods", (team_id,))
        return dict(rows)

    async def events(self, team_id: int, order_id: str, *, limit: int = 50, newest_first: bool = False) -> list[Event]:
        order = "DESC" if newest_first else "ASC"
        rows = await self._fetchall(
            f"SELECT event_id, {_EVENT_COLUMNS} FROM events WHERE team_id = ? AND order_id = ? "
            f"ORDER BY event_id {order} LIMIT ?",
            (team_id, order_id, limit),
        )
        return [_event_from_row(r) for r in rows]

    async def last_event(self, team_id: int, order_id: str, actions: Iterable[str] = ()) -> Event | None:
        actions = list(actions)
        where = f" AND action IN ({', '.join('?' * len(actions))})" if actions else ""
        row = await self._fetchone(
            f"SELECT event_id, {_EVENT_COLUMNS} FROM events WHERE team_id = ? AND order_id = ?{where} "
            "ORDER BY event_id DESC LIMIT 1",
            (team_id, order_id, *actions),
        )
        return _event_from_row(row) if row else None

    async def imported_before(self, team_id: int, sha256: str) -> datetime | None:
        row = await self._fetchone(
            "SELECT at FROM imports WHERE team_id = ? AND sha256 = ? ORDER BY import_id LIMIT 1", (team_id, sha256)
        )
        return datetime.fromisoformat(row[0]) if row else None

    # --- confirmations --------------------------------------------------------------

    async def add_confirmation(self, c: Confirmation, now: datetime) -> None:
        async with self.transaction() as tx:
            # Expired questions stay a day, so a late press is told "expired", not "answered".
            await tx.execute("DELETE FROM confirmations WHERE expires_at < ?", (iso(now - EXPIRED_QUESTIONS_KEPT),))
            await tx.execute(
                "INSERT INTO confirmations (token, team_id, user_id, chat_id, order_id, action, details, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.token, c.team_id, c.user_id, c.chat_id, c.order_id, c.action, dumps(c.details), iso(now),
                 iso(c.expires_at)),
            )  # fmt: skip

    async def take_confirmation(self, token: str) -> Confirmation | None:
        """The question and its answer are used once: the row goes as it is read."""
        async with self.transaction() as tx:
            async with tx.execute(
                "SELECT token, team_id, user_id, chat_id, order_id, action, details, expires_at FROM confirmations "
                "WHERE token = ?",
                (token,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            await tx.execute("DELETE FROM confirmations WHERE token = ?", (token,))
        return _confirmation_from_row(row)

    async def peek_confirmation(self, token: str) -> Confirmation | None:
        row = await self._fetchone(
            "SELECT token, team_id, user_id, chat_id, order_id, action, details, expires_at FROM confirmations "
            "WHERE token = ?",
            (token,),
        )
        return _confirmation_from_row(row) if row else None


def _confirmation_from_row(row: Sequence[Any]) -> Confirmation:
    token, team_id, user_id, chat_id, order_id, action, details, expires_at = row
    return Confirmation(
        token, team_id, user_id, chat_id, order_id, action, json.loads(details), datetime.fromisoformat(expires_at)
    )


#: How far back the alert check looks for a missed deadline (see ``AlertStore.due_rows``).
LOOKBACK = timedelta(days=30)
#: An expired question is kept this long after it expired, then cleared.
EXPIRED_QUESTIONS_KEPT = timedelta(days=1)
#: A parcel late by more than this was announced already, or is history.
DELIVERY_LOOKBACK = timedelta(days=14)
#: Longer than any snooze: a snooze that ended before ``until - SNOOZE_MAX`` is surely over.
SNOOZE_MAX = timedelta(days=1)


class AlertStore:
    """The queries and writes of the alerts, on the same connections as the ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def due_rows(self, team_id: int, now: datetime, *, ship_horizon: datetime, confirm_before: datetime,
                       pending_before: datetime) -> list[DueRow]:  # fmt: skip
        """Orders that may have an alert due, each part answered by an index on (team, state, time).

        The cost follows the orders near a deadline, never the size of the history: every
        part is a range no older than ``LOOKBACK`` (an order left unshipped or undelivered
        for longer is Amazon's business by then, and was announced long before).
        """
        sql = (
            "SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods IN ('unshipped', 'partially_shipped') AND ship_by <= :ship_horizon AND ship_by >= :oldest "
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods IN ('pending', 'unshipped', 'partially_shipped') AND purchased_at <= :confirm_before "
            "AND purchased_at >= :oldest_purchase "
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods = 'pending' AND purchased_at <= :pending_before AND purchased_at >= :oldest_purchase "
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods = 'return_received' "
            # Nothing tells the desk that most parcels arrived (only /delivered does), so past
            # orders stay 'shipped': read only those whose late-delivery alert is still to come.
            "UNION SELECT order_id, goods, ship_by, purchased_at, deliver_by, disposition FROM orders WHERE team_id = :t "
            "AND goods = 'shipped' AND deliver_by < :now AND deliver_by >= :oldest_delivery AND NOT EXISTS ("
            "SELECT 1 FROM alerts a WHERE a.team_id = :t AND a.order_id = orders.order_id "
            "AND a.kind = 'delivery_late' AND a.due_key = substr(orders.deliver_by, 1, 16))"
        )
        rows = await self.store._fetchall(sql, {
            "t": team_id, "now": iso(now), "ship_horizon": iso(ship_horizon), "confirm_before": iso(confirm_before),
            "pending_before": iso(pending_before), "oldest": iso(now - LOOKBACK),
            "oldest_purchase": iso(now - LOOKBACK - timedelta(days=30)),
            "oldest_delivery": iso(now - DELIVERY_LOOKBACK),
        })  # fmt: skip
        snoozed = {
            r[0] for r in await self.store._fetchall(
                "SELECT order_id FROM snoozes WHERE team_id = ? AND until > ?", (team_id, iso(now))
            )
        }  # fmt: skip
        return [
            DueRow(oid, goods, from_iso(ship_by), from_iso(purchased), from_iso(deliver), disposition)
            for oid, goods, ship_by, purchased, deliver, disposition in rows
            if oid not in snoozed
        ]

    async def already(self, team_id: int, order_ids: Sequence[str]) -> set[tuple[str, str, str]]:
        """The (order, kind, due key) alerts already decided for these orders."""
        done: set[tuple[str, str, str]] = set()
        ids = list(order_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = await self.store._fetchall(
                f"SELECT order_id, kind, due_key FROM alerts WHERE team_id = ? AND order_id IN "
                f"({', '.join('?' * len(chunk))})",
                [team_id, *chunk],
            )
            done.update((r[0], r[1], r[2]) for r in rows)
        return done

    async def record(self, team_id: int, chat_id: int, decided: Sequence[tuple[str, str, str]],
                     messages: Sequence[dict[str, Any]], now: datetime) -> int:  # fmt: skip
        """Decide alerts and queue their messages in one transaction: they happen once, or not yet.

        Returns how many messages were queued. A key decided meanwhile by another check is skipped.
        """
        async with self.store.transaction() as tx:
            fresh = 0
            for order_id, kind, key in decided:
                cur = await tx.execute(
                    "INSERT OR IGNORE INTO alerts (team_id, order_id, kind, due_key, created_at) VALUES (?, ?, ?, ?, ?)",
                    (team_id, order_id, kind, key, iso(now)),
                )
                fresh += cur.rowcount
            if decided and fresh < len(decided):
                raise Conflict  # another check decided some of it meanwhile: undo, decide again
            await tx.executemany(
                "INSERT INTO outbox (team_id, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                [(team_id, chat_id, dumps(m), iso(now), iso(now)) for m in messages],
            )
        if messages:
            self.store.signal_queued()
        return len(messages)

    async def snooze(self, team_id: int, order_id: str, until: datetime, by: int, kinds: Iterable[str]) -> None:
        kinds = list(kinds)
        async with self.store.transaction() as tx:
            # Snoozes that ran out are of no use: keep the table as small as what is snoozed now.
            await tx.execute("DELETE FROM snoozes WHERE team_id = ? AND until <= ?", (team_id, iso(until - SNOOZE_MAX)))
            await tx.execute(
                "INSERT INTO snoozes (team_id, order_id, until, by_user) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, order_id) DO UPDATE SET until = excluded.until, by_user = excluded.by_user",
                (team_id, order_id, iso(until), by),
            )
            # Forget that these alerts were sent, so they come again when the snooze ends.
            await tx.execute(
                f"DELETE FROM alerts WHERE team_id = ? AND order_id = ? AND kind IN ({', '.join('?' * len(kinds))})",
                (team_id, order_id, *kinds),
            )

    # --- the outbox -------------------------------------------------------------------

    async def due_messages(self, now: datetime, limit: int = 64, *, skip_chats: Iterable[int] = ()) -> list[OutboxRow]:
        """Messages due now, oldest first; a chat's messages keep their order (one waiting for a
        retry holds back the later ones of its chat). ``skip_chats``: chats being sent to now."""
        skip = list(skip_chats)
        not_busy = f" AND o.chat_id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        rows = await self.store.fetchall(
            "SELECT o.outbox_id, o.team_id, o.chat_id, o.payload, o.attempts, o.kind, o.update_id, o.document "
            "FROM outbox o WHERE o.status = 'pending' AND o.not_before <= ?" + not_busy + " AND NOT EXISTS ("
            "SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.chat_id = o.chat_id "
            "AND p.outbox_id < o.outbox_id AND p.not_before > ?) ORDER BY o.outbox_id LIMIT ?",
            (iso(now), *skip, iso(now), limit),
        )
        return [OutboxRow(*r) for r in rows]

    async def sent(self, outbox_id: int, message_id: int, now: datetime) -> None:
        await self.store.execute_write(
            "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
            "document = NULL WHERE outbox_id = ?",
            (iso(now), message_id, outbox_id),
        )

    async def give_up(self, outbox_id: int, error: str) -> None:
        """Telegram will never take this message (the person blocked the bot, the text is refused)."""
        await self.store.execute_write(
            "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1 WHERE outbox_id = ?",
            (error, outbox_id),
        )

    async def retry(self, outbox_id: int, not_before: datetime, error: str) -> None:
        await self.store.execute_write(
            "UPDATE outbox SET not_before = ?, last_error = ?, attempts = attempts + 1 WHERE outbox_id = ?",
            (iso(not_before), error, outbox_id),
        )

    async def unreachable(self, team_id: int, now: datetime, error: str) -> None:
        """The bot was removed from the group or blocked: hold its messages, keep serving the others."""
        async with self.store.transaction() as tx:
            await tx.execute("UPDATE teams SET unreachable_since = ? WHERE team_id = ?", (iso(now), team_id))
            # Replies into the group carry its chat id (a team's id is its group's chat id).
            await tx.execute(
                "UPDATE outbox SET status = 'held', last_error = ? WHERE status = 'pending' "
                "AND (team_id = ? OR chat_id = ?)",
                (error, team_id, team_id),
            )

    async def reachable(self, team_id: int, now: datetime) -> None:
        """The bot is back in the group: what was held is sent."""
        async with self.store.transaction() as tx:
            await tx.execute("UPDATE teams SET unreachable_since = NULL WHERE team_id = ?", (team_id,))
            await tx.execute(
                "UPDATE outbox SET status = 'pending', not_before = ? WHERE status = 'held' "
                "AND (team_id = ? OR chat_id = ?)",
                (iso(now), team_id, team_id),
            )
        self.store.signal_queued()

    # --- the digest ---------------------------------------------------------------------

    async def digest_figures(self, team_id: int, *, day_start: datetime, day_end: datetime,
                             yesterday_start: datetime, month_start: datetime) -> dict[str, Any]:  # fmt: skip
        q = self.store._fetchall
        by_state = dict(await q("SELECT goods, count(*) FROM orders WHERE team_id = ? GROUP BY goods", (team_id,)))
        ship_today = [r[0] for r in await q(
            "SELECT order_id FROM orders WHERE team_id = ? AND goods IN ('unshipped', 'partially_shipped') "
            "AND ship_by < ? ORDER BY ship_by", (team_id, iso(day_end)))]  # fmt: skip
        work = await q(
            "SELECT actor_name, action, count(*) FROM events WHERE team_id = ? AND actor_kind = 'user' AND at >= ? "
            "AND at < ? GROUP BY actor_name, action ORDER BY actor_name, action",
            (team_id, iso(yesterday_start), iso(day_start)),
        )
        shipped = await q(
            "SELECT count(*), coalesce(sum(e.at > o.ship_by), 0) FROM events e JOIN orders o "
            "ON o.team_id = e.team_id AND o.order_id = e.order_id WHERE e.team_id = ? "
            "AND e.action IN ('ship', 'amazon_shipped') AND e.at >= ? AND e.at < ?",
            (team_id, iso(month_start), iso(day_start)),
        )
        cancelled = await q(
            "SELECT count(*) FROM events WHERE team_id = ? AND action = 'cancel' AND at >= ? AND at < ? "
            "AND json_extract(details, '$.reason') IS NOT 'BuyerCanceled'",
            (team_id, iso(month_start), iso(day_start)),
        )
        orders = await q(
            "SELECT count(*) FROM orders WHERE team_id = ? AND purchased_at >= ? AND purchased_at < ?",
            (team_id, iso(month_start), iso(day_start)),
        )
        return {
            "by_state": by_state, "ship_today": ship_today,
            "work": [(name, action, n) for name, action, n in work],
            "shipped": shipped[0][0], "shipped_late": shipped[0][1],
            "seller_cancelled": cancelled[0][0], "orders": orders[0][0],
        }  # fmt: skip


class Conflict(Exception):
    """An order changed between reading and writing an import; the transaction is undone."""



def _statements(script: str) -> list[str]:
    """A schema script split into statements (our scripts have no semicolons inside strings)."""
    import sqlite3

    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return [s for s in statements if s.rstrip(";").strip()]


def migrations() -> list[tuple[int, str]]:
    """The schema scripts shipped in ``bot/migrations``, by version number."""
    found = []
    for entry in resources.files("bot.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)

"""Read paths on a year of history: 10k, 100k and 1M orders side by side (issue 11).

    python bench/bench_reads.py [--sizes 10000,100000,1000000] [--runs 30] [--rebuild] [--only build]

Each database holds one team's year of mostly delivered history and 2,000 open orders
(unshipped, partially shipped and pending, their ship-by from two days ago to four days
ahead), an item per order, the events an order leaves (imported, shipped, delivered...) and
the shipments of every shipped order, most of them exported long ago and 60 of today's
still to export. The rows are the ones the real ``Importer`` and ``Desk.ship`` write,
written fast with plain ``sqlite3`` into the real schema (``Store`` runs the migrations; the
indexes and the triggers that keep ``order_counts`` are dropped while filling and created
again from their own SQL, the counts filled from the orders). They are built once and kept
in ``bench/out/`` (git-ignored); ``--rebuild`` builds them again.

Then each read path is timed on each database through the real ``Store`` (one opened store
per database, ``--runs`` calls each after a warm-up, median), with the ``EXPLAIN QUERY PLAN``
of the statements it ran (captured, not copied) on the biggest database, and the ratio of
the biggest to the smallest. Last, "no read waits behind another": on the biggest database,
another person's card while ``/orders all`` pages are being read in a loop, against the
card alone.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "bench", ROOT):  # the root for bot/ and tests.support; works without `pip install -e .` too
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _reports import order_id  # noqa: E402

from bot.storage import ORDER_COLUMNS, digits_reversed  # noqa: E402

OUT = ROOT / "bench" / "out"
TEAM = -1001000000011
TIMEZONE = "Asia/Shanghai"
ADMIN_ID = 1000
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
OPEN_ORDERS = 2000
TO_EXPORT = 60
DAY = 86400
EVENT_COLS = ["team_id", "order_id", "at", "actor_kind", "actor_id", "actor_name", "chat_id", "action",
              "from_goods", "to_goods", "from_money", "to_money", "details"]  # fmt: skip
SHIPMENT_COLS = ["team_id", "order_id", "item_id", "quantity", "shipped_at", "carrier", "carrier_name", "tracking",
                 "ship_method", "exported_at", "export_id", "confirmed_at"]  # fmt: skip
ITEM_COLS = ["team_id", "order_id", "item_id", "sku", "title", "quantity", "quantity_shipped", "price"]
_PRODUCTS = [("USB-MIC", "USB Condenser Microphone"), ("BT-SPK", "Bluetooth Speaker, Wood"),
             ("USB-FAN", "Desk USB Fan"), ("LED-LMP", "LED Desk Lamp"), ("PH-CASE", "Phone Case – Clear")]  # fmt: skip
_CITIES = [("Springfield", "IL", "62704"), ("Miami", "FL", "33139"), ("Austin", "TX", "78701")]
_NAMES = ["Jane Doe", "Carlos Ruiz", "Li Wei", "Maria Garcia", "Aiko Tanaka"]

_iso_cache: dict[int, str] = {}


def _iso(ts: float | None) -> str | None:
    """Epoch seconds as dingdan stores times (UTC, seconds, +00:00)."""
    if ts is None:
        return None
    t = int(ts)
    text = _iso_cache.get(t)
    if text is None:
        text = datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
        if len(_iso_cache) < 200_000:
            _iso_cache[t] = text
    return text


def _day_0759(ts: float, days: int) -> int:
    return int(ts) // DAY * DAY + days * DAY + 7 * 3600 + 59 * 60 + 59


def db_path(size: int) -> Path:
    return OUT / f"reads-{size}.sqlite3"


# ============================================================================ building


def _history(total: int, seed: int = 20261130) -> Iterator[tuple[tuple[Any, ...], list, list, list]]:
    """(orders row, item rows, event rows, shipment rows) in id order: ``total`` orders, of which
    ``OPEN_ORDERS`` open and ``TO_EXPORT`` shipped today and not yet exported."""
    rng = random.Random(seed)
    now = NOW.timestamp()
    stamp = _iso(now)
    open_every = max(1, total // OPEN_ORDERS)
    export_every = max(1, total // TO_EXPORT)
    for i in range(total):
        oid = order_id(i)
        sku, title = _PRODUCTS[i % len(_PRODUCTS)]
        city, state, postal = _CITIES[i % len(_CITIES)]
        price = f"{rng.randrange(899, 15999) / 100:.2f}"
        events: list[tuple[Any, ...]] = []
        shipments: list[tuple[Any, ...]] = []
        shipped: float | None = None
        exported: float | None = None
        if i % open_every == open_every // 2 and i // open_every < OPEN_ORDERS:  # an open order
            r = rng.random()
            ship_by = now - 2 * DAY + rng.random() * 6 * DAY
            purchased = ship_by - 2 * DAY
            goods = "pending" if r < 0.05 else "partially_shipped" if r < 0.1 else "unshipped"
            deliver_by = ship_by + 6 * DAY
            if goods == "pending":
                ship_by = deliver_by = None  # type: ignore[assignment]
        elif i % export_every == export_every // 3 and i // export_every < TO_EXPORT:  # shipped today
            purchased = now - 2 * DAY
            ship_by = _day_0759(purchased, 2)
            deliver_by = ship_by + 6 * DAY
            goods, shipped = "shipped", now - 3600 - rng.random() * 4 * 3600
        else:  # the year's history
            purchased = now - 7 * DAY - rng.random() * 358 * DAY
            ship_by = _day_0759(purchased, 2)
            deliver_by = _day_0759(purchased, 8)
            s = rng.random()
            goods = ("cancelled" if s < 0.035 else "return_closed" if s < 0.06 else "lost" if s < 0.062
                     else "shipped" if s < 0.07 else "delivered")  # fmt: skip
            if goods != "cancelled":
                shipped = purchased + 3600 + rng.random() * 40 * 3600
                exported = shipped + 3 * 3600
        tracking = f"1Z{rng.randrange(10**15, 10**16)}" if shipped is not None else ""
        money = "refunded" if goods in ("return_closed", "lost") else "none"
        row = (
            TEAM, oid, digits_reversed(oid), goods, money, "MFN", "USD", price, price if money == "refunded" else "0",
            _iso(purchased), _iso(ship_by), _iso(deliver_by), "Standard", _NAMES[i % len(_NAMES)], city, state,
            postal, "US", f"{i % 9999 + 1} Main St", "UPS" if shipped else "", "", tracking, _iso(shipped), "", "",
            1 + len(events), stamp, stamp,
        )  # fmt: skip
        item_id = f"{(i * 7919) % 10**14:014d}"
        items = [(TEAM, oid, item_id, sku, title, 1, 1 if shipped else 0, price)]
        events.append((TEAM, oid, _iso(purchased + 600), "import", ADMIN_ID, "Alice", TEAM, "import", None,
                       "pending" if goods == "pending" else "unshipped", None, "none", "{}"))  # fmt: skip
        if shipped is not None:
            events.append((TEAM, oid, _iso(shipped), "user", ADMIN_ID, "Alice", TEAM, "ship", "unshipped", "shipped",
                           "none", "none", '{"carrier": "UPS"}'))  # fmt: skip
            shipments.append((TEAM, oid, item_id, 1, _iso(shipped), "UPS", "", tracking, "Standard",
                              _iso(exported), None if exported is None else f"exp{int(exported) // DAY}", None))  # fmt: skip
            if goods != "shipped":
                events.append((TEAM, oid, _iso(deliver_by), "import", None, "", None, goods, "shipped", goods,
                               "none", money, "{}"))  # fmt: skip
        elif goods == "cancelled":
            events.append((TEAM, oid, _iso(purchased + 7200), "import", None, "", None, "cancel", "unshipped",
                           "cancelled", "none", "none", "{}"))  # fmt: skip
        yield row, items, events, shipments


async def build(size: int) -> None:
    from bot.storage import Store

    path = db_path(size)
    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    store = Store(tmp, readers=1)
    await store.open()
    try:
        await store.create_team(TEAM, "Bench team", TIMEZONE, ADMIN_ID, NOW - timedelta(days=400))
    finally:
        await store.close()
    con = sqlite3.connect(tmp, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-500000")
    tables = ("orders", "order_items", "events", "shipments")
    marks = ", ".join("?" * len(tables))
    kept = list(con.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name IN ({marks}) "
        "AND sql IS NOT NULL", tables))  # fmt: skip
    con.execute("BEGIN")
    for kind, name, _sql in kept:
        con.execute(f"DROP {kind.upper()} {name}")
    items: list[Any] = []
    events: list[Any] = []
    shipments: list[Any] = []

    def flush() -> None:
        con.executemany(f"INSERT INTO order_items ({', '.join(ITEM_COLS)}) VALUES ({', '.join('?' * 8)})", items)
        con.executemany(f"INSERT INTO events ({', '.join(EVENT_COLS)}) VALUES ({', '.join('?' * 13)})", events)
        con.executemany(f"INSERT INTO shipments ({', '.join(SHIPMENT_COLS)}) VALUES ({', '.join('?' * 12)})",
                        shipments)  # fmt: skip
        items.clear(), events.clear(), shipments.clear()

    def orders() -> Iterator[tuple[Any, ...]]:
        for row, its, evs, shs in _history(size):
            items.extend(its)
            events.extend(evs)
            shipments.extend(shs)
            yield row

    insert = f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({', '.join('?' * len(ORDER_COLUMNS))})"
    rows = orders()
    while True:
        chunk = [r for _, r in zip(range(50_000), rows, strict=False)]
        if not chunk:
            break
        con.executemany(insert, chunk)
        flush()
    for _kind, _name, sql in kept:
        con.execute(sql)
    con.execute("DELETE FROM order_counts")
    con.execute("INSERT INTO order_counts SELECT team_id, goods, count(*) FROM orders GROUP BY team_id, goods")
    # The digest's hourly figures (team_hours), kept by triggers that were dropped while filling:
    # filled from the orders and events as the schema's own backfill does.
    from bot.storage.db import _statements, migrations

    con.execute("DELETE FROM team_hours")
    for statement in _statements(dict(migrations())[8]):
        if statement.startswith("INSERT INTO team_hours"):
            con.execute(statement)
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    tmp.rename(path)


async def ensure(sizes: list[int], rebuild: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        if db_path(size).exists() and not rebuild:
            continue
        started = time.perf_counter()
        await build(size)
        print(f"built {size:,} orders in {time.perf_counter() - started:.0f} s: {db_path(size)}", flush=True)


# ============================================================================ timing

_captured: list[tuple[str, Any]] | None = None


def _capture_sql() -> None:
    """Record the statements the store sends (for their plans), when ``_captured`` is a list."""
    import aiosqlite

    original_fetchall = aiosqlite.Connection.execute_fetchall
    original_execute = aiosqlite.Connection.execute

    def fetchall(self: Any, sql: str, parameters: Any = None) -> Any:
        if _captured is not None:
            _captured.append((sql, parameters or ()))
        return original_fetchall(self, sql, parameters)

    def execute(self: Any, sql: str, parameters: Any = None) -> Any:
        if _captured is not None and not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
                                                                            "RELEASE")):  # fmt: skip
            _captured.append((sql, parameters or ()))
        return original_execute(self, sql, parameters)

    aiosqlite.Connection.execute_fetchall = fetchall  # type: ignore[method-assign]
    aiosqlite.Connection.execute = execute  # type: ignore[method-assign]


def plan(con: sqlite3.Connection, sql: str, params: Any) -> list[str]:
    """``EXPLAIN QUERY PLAN`` of a statement, one line per step."""
    return [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


class Paths:
    """The read paths of one database, through the real ``Store``."""

    def __init__(self, size: int) -> None:
        from bot.storage import Store

        self.size = size
        self.store = Store(db_path(size))
        self.con = sqlite3.connect(db_path(size))

    async def open(self) -> None:
        from bot.domain import Goods

        await self.store.open()
        # Cursors for the deep pages: the order half-way down each list (found once, untimed).
        self.deep: dict[str, str] = {}
        for name, states in (("all", list(Goods)), ("delivered", [Goods.delivered])):
            marks = ", ".join("?" * len(states))
            n = self.con.execute(f"SELECT count(*) FROM orders WHERE goods IN ({marks})",
                                 [g.value for g in states]).fetchone()[0]  # fmt: skip
            self.deep[name] = self.con.execute(
                f"SELECT order_id FROM orders WHERE goods IN ({marks}) ORDER BY list_key LIMIT 1 OFFSET ?",
                [*[g.value for g in states], n // 2],
            ).fetchone()[0]
        self.some = self.con.execute(
            "SELECT order_id FROM orders WHERE goods = 'delivered' ORDER BY order_id LIMIT 1 OFFSET ?",
            (self.size // 3,),
        ).fetchone()[0]
        self.open_one = self.con.execute(
            "SELECT order_id FROM orders WHERE goods = 'unshipped' ORDER BY order_id LIMIT 1 OFFSET 7"
        ).fetchone()[0]

    async def close(self) -> None:
        await self.store.close()
        self.con.close()

    def calls(self) -> dict[str, Callable[[], Awaitable[Any]]]:
        from bot.domain import Goods
        from bot.parsing import parse_order_ref
        from bot.services import Desk
        from bot.storage import AlertStore

        store, every = self.store, list(Goods)
        shippable = [Goods.unshipped, Goods.partially_shipped]
        opened = [Goods.pending, *shippable]
        desk = Desk(store, None, lambda: NOW)  # type: ignore[arg-type]  # reads only: no lifecycle
        end_of_day = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # midnight in Shanghai
        tail = parse_order_ref(self.open_one[-4:])

        async def listing(states: list[Goods], **kw: Any) -> Any:
            return await desk.orders(TEAM, states, per_page=10, **kw)

        async def export() -> Any:
            taken = await store.take_for_export(TEAM, "benchexp", NOW)
            await store.untake_export("benchexp", NOW)
            return taken

        async def export_day() -> Any:
            day = (datetime(2026, 11, 29, 16, tzinfo=UTC), end_of_day)
            taken = await store.take_for_export(TEAM, "benchday", NOW, day=day)
            await store.untake_export("benchday", NOW)
            return taken

        async def digest() -> Any:
            # The daily digest's figures at 09:00 in Shanghai (its day began at 16:00 UTC).
            day = datetime(2026, 11, 29, 16, tzinfo=UTC)
            return await AlertStore(store).digest_figures(TEAM, now=NOW, day_start=day, day_end=end_of_day,
                                                          yesterday_start=day - timedelta(days=1))  # fmt: skip

        async def find_tail() -> Any:
            try:
                return await desk.find(TEAM, tail)
            except Exception as err:  # noqa: BLE001 - ambiguous is an answer too
                return err

        return {
            "/orders (open), page 1": lambda: listing(opened),
            "/orders all, page 1": lambda: listing(every),
            "/orders all, deep page": lambda: listing(every, after=self.deep["all"]),
            "/orders all, page back": lambda: listing(every, before=self.deep["all"]),
            "/orders delivered, page 1": lambda: listing([Goods.delivered]),
            "/orders delivered, deep page": lambda: listing([Goods.delivered], after=self.deep["delivered"]),
            "/orders overdue": lambda: listing(shippable, ship_by=(None, NOW)),
            "/orders due-soon": lambda: listing(shippable, ship_by=(NOW, NOW + timedelta(hours=24))),
            "/orders today": lambda: listing(shippable, ship_by=(None, end_of_day)),
            "counts by state": lambda: store.count_by_state(TEAM),
            "/export (new shipments) + untake": export,
            "/export DAY + untake": export_day,
            "card (order + 5 events)": lambda: desk.card(TEAM, parse_order_ref(self.some)),
            "history (200 events)": lambda: desk.history(TEAM, parse_order_ref(self.some)),
            "4-digit tail of an open order": find_tail,
            "digest (figures of the day)": digest,
        }

    async def time(self, call: Callable[[], Awaitable[Any]], runs: int) -> float:
        await call()  # warm
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    async def statements(self, call: Callable[[], Awaitable[Any]]) -> list[tuple[str, Any]]:
        global _captured
        _captured = []
        try:
            await call()
            return _captured
        finally:
            _captured = None


def _flag(steps: list[str]) -> str:
    bad = [s for s in steps if s.startswith("SCAN ") and " (subquery" not in s and "SCAN CONSTANT" not in s]
    temp = [s for s in steps if "TEMP B-TREE" in s]
    return ("  ← SCAN" if bad else "") + ("  (sorts its few rows)" if temp else "")


async def measure(sizes: list[int], runs: int) -> None:
    _capture_sql()
    paths = [Paths(size) for size in sizes]
    for p in paths:
        await p.open()
    try:
        names = list(paths[0].calls())
        results: dict[str, list[float]] = {name: [] for name in names}
        # Interleaved: each path on each database in turn, so a busy moment hits all sizes.
        for name in names:
            for p in paths:
                results[name].append(await p.time(p.calls()[name], runs))
        head = " | ".join(f"{s:,}" for s in sizes)
        print(f"\n| path | {head} | {sizes[-1]:,} / {sizes[0]:,} |")
        print("|---|" + "---|" * len(sizes) + "---|")
        for name in names:
            times = results[name]
            cells = " | ".join(f"{t:.2f} ms" for t in times)
            print(f"| {name} | {cells} | {times[-1] / times[0]:.2f}× |")
        big = paths[-1]
        print(f"\nPlans on {big.size:,} orders (EXPLAIN QUERY PLAN of the statements each path ran):")
        for name in names:
            print(f"\n{name}:")
            seen = set()
            for sql, params in await big.statements(big.calls()[name]):
                if sql in seen:
                    continue
                seen.add(sql)
                steps = plan(big.con, sql, params)
                short = " ".join(sql.split())
                print(f"  {short[:150]}{'…' if len(short) > 150 else ''}")
                for step in steps:
                    print(f"      {step}{_flag([step])}")
        await no_waiting(big, runs)
    finally:
        for p in paths:
            await p.close()


async def wait_only(size: int, runs: int) -> None:
    p = Paths(size)
    await p.open()
    try:
        await no_waiting(p, runs)
    finally:
        await p.close()


async def no_waiting(p: Paths, runs: int) -> None:
    """Another person's card, idle and while lists are read in a loop (and while the old
    whole-history sort runs on a reader: the pool keeps it off the card's way)."""
    from bot.domain import Goods

    card = p.calls()["card (order + 5 events)"]
    idle = await p.time(card, runs)
    stop = asyncio.Event()

    async def lists() -> int:
        n, after = 0, None
        while not stop.is_set():
            page, _ = await p.store.list_orders(TEAM, list(Goods), limit=10, after=after), None
            after = page[-1].order_id if page else None
            await p.store.count_orders(TEAM, list(Goods))
            n += 1
        return n

    async def old_sort() -> int:
        n = 0
        while not stop.is_set():
            await p.store.fetchall(
                "SELECT order_id FROM orders WHERE team_id = ? ORDER BY ship_by IS NULL, ship_by, purchased_at, "
                "order_id LIMIT 10 OFFSET 500000", (TEAM,))  # fmt: skip
            n += 1
        return n

    for label, loads in (
        ("the old OFFSET sort of the year runs on a reader (a heavy read)", [old_sort]),
        ("/orders all is paged in a tight loop", [lists]),
        ("both", [lists, old_sort]),
    ):
        stop.clear()
        tasks = [asyncio.create_task(load()) for load in loads]
        await asyncio.sleep(0.2)
        busy = await p.time(card, runs)
        stop.set()
        done = await asyncio.gather(*tasks)
        print(f"\ncard on {p.size:,} orders: idle {idle:.2f} ms; while {label}: {busy:.2f} ms "
              f"({busy / idle:.2f}×; {sum(done)} background reads)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", choices=("build", "time", "wait"), help="wait: only the card beside other reads")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    asyncio.run(ensure(sizes, args.rebuild))
    if args.only == "build":
        return
    if args.only == "wait":
        asyncio.run(wait_only(sizes[-1], args.runs))
        return
    asyncio.run(measure(sizes, args.runs))


if __name__ == "__main__":
    main()

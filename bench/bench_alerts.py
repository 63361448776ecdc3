"""Push alerts: the due-alert check on a year of history, and 50 daily digests end to end.

    python bench/bench_alerts.py [--orders 1000000] [--small 10000] [--runs 300] [--snoozed 0.01]
                                 [--stale 100000] [--stale-runs 5] [--teams 50] [--repeat 3]
                                 [--interval 0.1] [--only query|digest]

1. **The due-alert check** (``Alerts.check_team``) on one team with ``--orders`` orders
   (a year of history: ~98% delivered / cancelled / return_closed / lost, ~1.4% shipped and
   in transit, ~0.5% unshipped with their ship-by beyond the alert horizon, a few pending)
   beside the same check on ``--small`` orders, in the same run. Both databases hold the
   same 100 due orders (unshipped: 40 past their ship-by, 60 within the next 20 hours),
   the alert ledger of their history (a year of digests in it, today's included: the
   digest is once a day and timed separately) and the snoozes people pressed over the year
   (``--snoozed``: on 1% of past orders; a snooze row is never deleted). They are built
   with plain ``sqlite3`` ``executemany`` into the real schema (``Store`` creates it).
   Timed, interleaved, after a warm-up, each ``--runs`` times; median and p90:

   - ``check_team``: the real ``Alerts.check_team(team)`` with ``Alerts._record`` replaced
     by a counter: everything the periodic check does (queries, ``decide``, the team's
     language, rendering the check's message) except writing the ledger and the outbox, so every
     run finds the same 100 orders due and nothing is queued;
   - ``decision``: ``AlertStore.due_rows`` + ``already`` + ``decide`` (no rendering);
   - ``due_rows``: the query alone (two statements: the UNION and the snoozes).

   Ratio of the big database to the small one (issue target: under 2×). Then the
   statements those calls ran (captured, not copied) with their ``EXPLAIN QUERY PLAN`` on
   the big database, flagged when a part is a full ``SCAN``; each statement timed alone
   with ``sqlite3`` (no aiosqlite); and, as a diagnostic, ``digest_figures`` (once a day per
   team; the events table is empty in these databases, so only its order queries count).

1b. **The same check when past orders stay "shipped"** (only /delivered moves an order to
   "delivered"): every arrived order is "shipped" past its latest delivery date, its
   late-delivery alert in the ledger. ``--stale`` orders (100,000) beside ``--small``,
   ``--stale-runs`` calls each: the UNION's ``deliver_by < now`` part reads them all back.

2. **50 digests end to end**: ``--teams`` teams, each a group in the fake Bot API
   (``tests/support/fakebotapi.py``) with its administrator, ~300 orders and ~600 events (yesterday's
   work among them). dingdan is the real ``Application`` (``bot.app.running``) in a process
   of its own, its clock at 08:30 in the teams' time zone and ``alert_interval`` 0.1 s;
   when it has settled, its clock is moved to 09:00 and we time until the last of the 50
   digests has arrived at the fake server: the next tick runs the real ``Alerts.check()``
   (50 teams, each digest queued in the outbox) and ``handlers.alerts.flush`` sends them
   through PTB's ``AIORateLimiter(max_retries=2)``. Baseline, in the same run: a bare PTB
   bot (``ApplicationBuilder`` with the same ``Defaults`` and
   ``AIORateLimiter(max_retries=2)``, nothing else) in a process of its own sends the same
   50 texts (same length, same HTML) to the 50 groups, one after the other as ``flush``
   does, timed from the same signal. Pairs run ``--repeat`` times alternating which goes
   first; medians. Also printed, in this process without Telegram: ``Alerts.check()`` for
   the 50 teams at 08:30 (nothing due: what every tick costs) and at 09:00 (50 digests).

Takes ~2 minutes on 2 cores (a third of it building the 1,000,000-order database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "bench", ROOT):  # the root for bot/ and tests.support; works without `pip install -e .` too
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _reports import order_id

from bot.alerts import PER_MESSAGE
from bot.storage import ORDER_COLUMNS, digits_reversed
from tests.support.fakebotapi import FakeBotAPI

TIMEZONE = "Asia/Shanghai"  # UTC+8, no daylight saving
ADMIN_ID = 1000
#: Part 1: a Saturday afternoon in Shanghai (14:00), outside the default quiet hours.
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
QUERY_TEAM = -1001000000001
DUE = 100
DUE_LATE = 40  # of the DUE: past their ship-by; the others are due within 20 hours
#: Part 2: 08:30 and 09:00 in Shanghai; the teams' digest is at 09:00 (the default).
BEFORE_DIGEST = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
AT_DIGEST = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
DIGEST_TEAM0 = -1002000000000
SHIP_TODAY = 5  # per team: unshipped, ship-by today 23:59 local, their 24 h warning already sent

_FIRST = ["Jane", "Carlos", "Li", "Maria", "John", "Aiko", "José", "Anna", "Mohammed", "Olivia", "Wei", "Zoë"]
_LAST = ["Doe", "Ruiz", "Wei", "Garcia", "Smith", "Tanaka", "Müller", "Nguyen", "Khan", "Brown", "O'Brien"]
_CITIES = [("Springfield", "IL", "62704"), ("Miami", "FL", "33139"), ("San Francisco", "CA", "94103"),
           ("Austin", "TX", "78701"), ("Seattle", "WA", "98101"), ("Boston", "MA", "02108")]  # fmt: skip
_STREETS = ["Elm St", "Ocean Ave", "Market St", "Main St", "Oak Dr", "Pine Rd", "Maple Ave"]
_PEOPLE = [(2001, "Alice"), (2002, "Bob"), (2003, "Carol")]


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@lru_cache(maxsize=65536)
def _iso_cached(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _iso(ts: float | None) -> str | None:
    """Epoch seconds as dingdan stores times (``bot.storage.iso``: UTC, seconds, +00:00)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).isoformat(timespec="seconds")


def _day_0759(ts: float, days: int) -> int:
    """07:59:59 UTC ``days`` after the day of ``ts``: Amazon's usual ship-by/deliver-by time."""
    return int(ts) // 86400 * 86400 + days * 86400 + 7 * 3600 + 59 * 60 + 59


def _median_p90(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=10)[-1]


# ============================================================================ databases


_INDEX_SQL = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"


async def _new_db(path: Path, teams: list[tuple[int, str]], started: datetime) -> None:
    """The real schema (``Store`` runs the migrations) and the teams, as /start leaves them."""
    from bot.storage import Store

    store = Store(path)
    await store.open()
    try:
        for team_id, title in teams:
            await store.create_team(team_id, title, TIMEZONE, ADMIN_ID, started)
    finally:
        await store.close()


class _Filler:
    """Plain ``sqlite3`` into dingdan's schema, fast: no journal, one transaction, the
    secondary indexes of the filled tables dropped and then created again from their own
    SQL, in their order (the schema ends exactly as the migrations left it)."""

    def __init__(self, path: Path, tables: tuple[str, ...]) -> None:
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=DELETE")
        self.con.execute("PRAGMA journal_mode=OFF")
        self.con.execute("PRAGMA synchronous=OFF")
        self.con.execute("PRAGMA cache_size=-1000000")
        self.indexes = [row for t in tables for row in self.con.execute(_INDEX_SQL, (t,))]
        self.con.execute("BEGIN")
        for name, _sql in self.indexes:
            self.con.execute(f"DROP INDEX {name}")

    def insert(self, table: str, columns: list[str], rows: Any) -> None:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.con.executemany(sql, rows)

    def close(self) -> None:
        for _name, sql in self.indexes:
            self.con.execute(sql)
        self.con.execute("COMMIT")
        self.con.execute("PRAGMA journal_mode=WAL")  # as Store leaves it
        self.con.close()


def _order(oid: str, team: int, goods: str, rng: random.Random, *, purchased: float, ship_by: float | None,
           deliver_by: float | None, shipped: float | None, money: str = "none",
           stamp: str | None = None) -> tuple[Any, ...]:  # fmt: skip
    """An ``orders`` row in ``bot.storage.ORDER_COLUMNS`` order."""
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    city, state, postal = rng.choice(_CITIES)
    total = f"{rng.randrange(899, 15999) / 100:.2f}"
    tracking = f"1Z{rng.randrange(10**15, 10**16)}" if shipped is not None else ""
    return (
        team, oid, digits_reversed(oid), goods, money, "MFN", "USD", total,
        total if money == "refunded" else "0", _iso(purchased),
        None if ship_by is None else _iso_cached(int(ship_by)),
        None if deliver_by is None else _iso_cached(int(deliver_by)),
        "Standard", name, city, state, postal, "US", f"{rng.randrange(1, 9999)} {rng.choice(_STREETS)}",
        "UPS" if shipped is not None else "", "", tracking, _iso(shipped), "", "",
        2 if goods != "unshipped" else 1, stamp, stamp,
    )  # fmt: skip


# ----------------------------------------------------------------------------- part 1


def _due_orders() -> list[tuple[str, str, int]]:
    """The 100 due orders, the same in both databases: (id, goods, ship-by epoch seconds)."""
    now = int(NOW.timestamp())
    due = []
    for j in range(DUE):
        oid = order_id(9_999_900 + j)  # ids the history (i < 9,999,900) never uses
        goods = "partially_shipped" if j % 10 == 9 else "unshipped"
        if j < DUE_LATE:
            ship_by = now - 3600 - j * 3600  # 1 to 40 hours ago
        else:
            ship_by = now + 1800 + (j - DUE_LATE) * 1200  # in 30 minutes to 20 hours
        due.append((oid, goods, ship_by))
    return due


def _query_rows(total: int, snoozed: float, stale: bool = False,
                seed: int = 20261121) -> Iterator[tuple[str, Any, list, list]]:  # fmt: skip
    """(id, orders row, alert ledger rows, snooze rows) in id order: ``total`` orders, 100 due.

    ``stale``: the orders that arrived stay "shipped" (only /delivered moves an order to
    "delivered"); their late-delivery alert went out once and is in the ledger.
    """
    rng = random.Random(seed)
    now = NOW.timestamp()
    stamp = _iso(now)
    ids = [(order_id(i), -1) for i in range(total - DUE)] + [(oid, j) for j, (oid, _, _) in enumerate(_due_orders())]
    ids.sort()
    due = _due_orders()
    day = 86400.0
    for oid, j in ids:
        alerts: list[tuple[Any, ...]] = []
        snoozes: list[tuple[Any, ...]] = []
        if j >= 0:
            _, goods, ship_by = due[j]
            row = _order(oid, QUERY_TEAM, goods, rng, purchased=ship_by - 2 * day, ship_by=ship_by,
                         deliver_by=ship_by + 5 * day, shipped=None, stamp=stamp)  # fmt: skip
            yield oid, row, alerts, snoozes
            continue
        r = rng.random()
        if r < 0.0055:  # unshipped, ship-by beyond the horizon (now + 48.5 h), bought in the last 3 days
            row = _order(oid, QUERY_TEAM, "unshipped", rng, purchased=now - rng.random() * 3 * day,
                         ship_by=now + 49 * 3600 + rng.random() * 8 * day, deliver_by=now + 12 * day,
                         shipped=None, stamp=stamp)  # fmt: skip
        elif r < 0.006:  # pending (payment not verified yet), bought in the last 2 days
            row = _order(oid, QUERY_TEAM, "pending", rng, purchased=now - rng.random() * 2 * day, ship_by=None,
                         deliver_by=None, shipped=None, stamp=stamp)  # fmt: skip
        else:
            if r < 0.020:  # shipped, in transit: latest delivery date still ahead
                purchased = now - day - rng.random() * 5 * day
                goods, money, deliver_by = "shipped", "none", now + 3600 + rng.random() * 6 * day
            else:  # the year's history
                purchased = now - 7 * day - rng.random() * 358 * day
                deliver_by = _day_0759(purchased, 8)
                s = rng.random()
                goods, money = (("cancelled", "none") if s < 0.035 else ("return_closed", "refunded") if s < 0.06
                                else ("lost", "refunded") if s < 0.062 else ("delivered", "none"))  # fmt: skip
                if stale and goods == "delivered":
                    goods = "shipped"
                    alerts.append((QUERY_TEAM, oid, "delivery_late",
                                   datetime.fromtimestamp(deliver_by, UTC).strftime("%Y-%m-%dT%H:%M"), _iso(deliver_by)))  # fmt: skip
            ship_by = _day_0759(purchased, 2)
            shipped = None if goods == "cancelled" else purchased + 3600 + rng.random() * 40 * 3600
            row = _order(oid, QUERY_TEAM, goods, rng, purchased=purchased, ship_by=ship_by, deliver_by=deliver_by,
                         shipped=shipped, money=money, stamp=stamp)  # fmt: skip
            # The ledger of its history: most orders got the 24 h warning, some the 4 h one
            # too, a few went out late; and now and then someone pressed 💤.
            key = datetime.fromtimestamp(ship_by, UTC).strftime("%Y-%m-%dT%H:%M")
            a = rng.random()
            created = _iso(ship_by - 24 * 3600)
            if a < 0.03:
                alerts.append((QUERY_TEAM, oid, "ship_late", key, created))
            if a < 0.60:
                alerts.append((QUERY_TEAM, oid, "ship_soon", f"{key}/24h", created))
            if a < 0.15:
                alerts.append((QUERY_TEAM, oid, "ship_soon", f"{key}/4h", created))
            if rng.random() < snoozed:
                snoozes.append((QUERY_TEAM, oid, _iso(ship_by - 20 * 3600), ADMIN_ID))
        yield oid, row, alerts, snoozes


async def build_query_db(path: Path, total: int, snoozed: float, stale: bool = False) -> dict[str, int]:
    await _new_db(path, [(QUERY_TEAM, "Bench team")], NOW - timedelta(days=400))
    filler = _Filler(path, ("orders", "alerts", "snoozes"))
    ledger: list[tuple[Any, ...]] = []
    snoozes: list[tuple[Any, ...]] = []

    def orders() -> Iterator[tuple[Any, ...]]:
        for _oid, row, alerts, pressed in _query_rows(total, snoozed, stale):
            ledger.extend(alerts)
            snoozes.extend(pressed)
            yield row

    filler.insert("orders", ORDER_COLUMNS, orders())
    # A year of daily digests, today's included (09:00 local): the check finds it sent.
    today = NOW.astimezone(ZoneInfo(TIMEZONE)).date()
    for days in range(365, -1, -1):
        day = today - timedelta(days=days)
        ledger.append((QUERY_TEAM, "*", "digest", day.isoformat(), _iso(NOW.timestamp() - 5 * 3600 - days * 86400)))
    filler.insert("alerts", ["team_id", "order_id", "kind", "due_key", "created_at"], ledger)
    filler.insert("snoozes", ["team_id", "order_id", "until", "by_user"], snoozes)
    filler.close()
    return {"orders": total, "alerts": len(ledger), "snoozes": len(snoozes)}


# ----------------------------------------------------------------------------- part 2


def _digest_team_ids(teams: int) -> list[tuple[int, str]]:
    return [(DIGEST_TEAM0 - k, f"Store {k + 1:02d}") for k in range(teams)]


async def build_digest_db(path: Path, teams: int, seed: int = 20261120) -> dict[str, int]:
    """``teams`` teams of ~300 orders and ~600 events each, as weeks of use leave them."""
    await _new_db(path, _digest_team_ids(teams), AT_DIGEST - timedelta(days=90))
    rng = random.Random(seed)
    at9 = AT_DIGEST.timestamp()
    stamp = _iso(at9 - 3600)
    day, hour = 86400.0, 3600.0
    ship_today = int(datetime(2026, 11, 21, 15, 59, tzinfo=UTC).timestamp())  # 23:59 in Shanghai
    orders: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    ledger: list[tuple[Any, ...]] = []
    for k, (team, _title) in enumerate(_digest_team_ids(teams)):
        for i in range(300):
            oid = order_id(k * 1000 + i)
            shipped = None
            if i < SHIP_TODAY:
                purchased = ship_today - 2 * day
                row = _order(oid, team, "unshipped", rng, purchased=purchased, ship_by=ship_today,
                             deliver_by=ship_today + 5 * day, shipped=None, stamp=stamp)  # fmt: skip
                ledger.append((team, oid, "ship_soon", "2026-11-21T15:59/24h", _iso(ship_today - 25 * hour)))
            elif i < 20:
                purchased = at9 - rng.random() * day
                row = _order(oid, team, "unshipped", rng, purchased=purchased, ship_by=at9 + 3 * day + i * hour,
                             deliver_by=at9 + 9 * day, shipped=None, stamp=stamp)  # fmt: skip
            else:
                if i < 50:  # in transit; 20 of them shipped yesterday (Shanghai), most by people
                    purchased = at9 - 2 * day - rng.random() * 3 * day
                    shipped = (at9 - 24 * hour + rng.random() * 14 * hour) if i < 40 else purchased + 20 * hour
                    goods, money, deliver_by = "shipped", "none", at9 + day + rng.random() * 5 * day
                else:
                    purchased = at9 - 5 * day - rng.random() * 55 * day
                    deliver_by = _day_0759(purchased, 8)
                    goods, money = (("delivered", "none") if i < 285 else ("cancelled", "none") if i < 295
                                    else ("return_closed", "refunded"))  # fmt: skip
                    if goods != "cancelled":  # ~3% go out after their ship-by
                        shipped = purchased + (
                            60 * hour if rng.random() < 0.03 else 2 * hour + rng.random() * 30 * hour
                        )
                row = _order(oid, team, goods, rng, purchased=purchased, ship_by=_day_0759(purchased, 2),
                             deliver_by=deliver_by, shipped=shipped, money=money, stamp=stamp)  # fmt: skip
            orders.append(row)
            events.append((team, oid, _iso(purchased + hour), "import", None, "unshipped-orders.txt", team,
                           "imported", None, row[3] if row[3] in ("unshipped", "pending") else "unshipped",
                           None, "none", json.dumps({"filename": "unshipped-orders.txt"})))  # fmt: skip
            if shipped is not None:
                who, name = _PEOPLE[rng.randrange(3)] if rng.random() < 0.9 else (None, "")
                events.append((team, oid, _iso(shipped), "user" if who else "import", who, name or "report",
                               team, "ship" if who else "amazon_shipped", "unshipped", "shipped", "none", "none",
                               json.dumps({"carrier": "UPS", "tracking": row[21]})))  # fmt: skip
            if row[3] == "cancelled":
                who, name = _PEOPLE[rng.randrange(3)]
                reason = "BuyerCanceled" if rng.random() < 0.6 else "NoInventory"
                events.append((team, oid, _iso(purchased + 5 * hour), "user", who, name, team, "cancel",
                               "unshipped", "cancelled", "none", "none", json.dumps({"reason": reason})))  # fmt: skip
    events.sort(key=lambda e: e[2])  # event ids in time order, as they would be
    filler = _Filler(path, ("orders", "events", "alerts"))
    orders.sort(key=lambda r: (r[0], r[1]))
    filler.insert("orders", ORDER_COLUMNS, orders)
    filler.insert("events", ["team_id", "order_id", "at", "actor_kind", "actor_id", "actor_name", "chat_id",
                             "action", "from_goods", "to_goods", "from_money", "to_money", "details"], events)  # fmt: skip
    filler.insert("alerts", ["team_id", "order_id", "kind", "due_key", "created_at"], ledger)
    filler.close()
    return {"teams": teams, "orders": len(orders), "events": len(events)}


# ============================================================================ part 1: the check


def _alerts_class() -> type:
    from bot.alerts import Alerts

    class DryRunAlerts(Alerts):
        """The real check; only the write at its end (ledger + outbox) is replaced by a count."""

        decided: tuple[int, int] = (0, 0)

        async def _record(self, team: Any, settled: Any, messages: list[dict[str, Any]], now: datetime) -> int:
            self.decided = (len(settled), len(messages))
            return len(messages)

    return DryRunAlerts


@dataclass
class QueryDB:
    label: str
    path: Path
    store: Any = None
    alerts: Any = None
    team: Any = None
    times: dict[str, list[float]] | None = None

    async def open(self) -> None:
        from bot import texts
        from bot.storage import Store

        self.store = Store(self.path)
        await self.store.open()
        self.alerts = _alerts_class()(self.store, lambda: NOW, texts.alert_messages, texts.digest_message)
        self.team = await self.store.team(QUERY_TEAM)
        self.times = {"check_team": [], "decision": [], "due_rows": []}

    def due_args(self) -> dict[str, Any]:
        """``due_rows``' arguments exactly as ``Alerts.check_team`` computes them."""
        from bot.alerts import BEFORE_QUIET, CONFIRM_WARN, CONFIRM_WITHIN, TeamRules

        rules = TeamRules.of(self.team)
        quiet_span = timedelta(hours=24) if rules.quiet else timedelta(0)
        return {"ship_horizon": NOW + rules.leads[0] + quiet_span + BEFORE_QUIET,
                "confirm_before": NOW - CONFIRM_WITHIN + CONFIRM_WARN, "pending_before": NOW - rules.pending_after}  # fmt: skip

    async def due_rows(self) -> list[Any]:
        return await self.alerts.alert_store.due_rows(QUERY_TEAM, NOW, **self.due_args())

    async def decision(self) -> tuple[list[Any], list[Any], list[Any]]:
        from bot.alerts import TeamRules, decide

        rows = await self.due_rows()
        already = await self.alerts.alert_store.already(QUERY_TEAM, [r.order_id for r in rows] + ["*"])
        announce, settled = decide(rows, TeamRules.of(self.team), NOW, already)
        return rows, announce, settled

    async def run(self, what: str) -> float:
        t0 = time.perf_counter()
        if what == "check_team":
            await self.alerts.check_team(self.team)
        elif what == "decision":
            await self.decision()
        else:
            await self.due_rows()
        elapsed = time.perf_counter() - t0
        assert self.times is not None
        self.times[what].append(elapsed)
        return elapsed

    async def captured_sql(self, call: Callable[[], Any]) -> list[tuple[str, Any]]:
        """The statements ``call`` sends through ``Store.fetchall``, with their parameters."""
        seen: list[tuple[str, Any]] = []
        original = self.store.fetchall

        async def spy(sql: str, params: Any = ()) -> list[Any]:
            seen.append((sql, params))
            return await original(sql, params)

        self.store.fetchall = spy
        try:
            await call()
        finally:
            del self.store.fetchall
        return seen


def _plan(con: sqlite3.Connection, sql: str, params: Any) -> list[str]:
    rows = con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    parents = {r[0]: r[1] for r in rows}

    def depth(node: int) -> int:
        d = 0
        while parents.get(node, 0):
            node, d = parents[node], d + 1
        return d

    return ["  " * depth(r[0]) + r[3] for r in rows]


def _time_sql(con: sqlite3.Connection, sql: str, params: Any, runs: int) -> float:
    for _ in range(5):
        con.execute(sql, params).fetchall()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        con.execute(sql, params).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _short(sql: str, width: int = 110) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 1] + "…"


async def query_bench(workdir: Path, big_n: int, small_n: int, runs: int, snoozed: float) -> None:
    print(f"\n== 1. The due-alert check: {big_n:,} orders vs {small_n:,} orders, the same {DUE} due, one team")
    dbs = []
    for label, n in ((f"{small_n:,}", small_n), (f"{big_n:,}", big_n)):
        path = workdir / f"orders-{n}.sqlite3"
        t0 = time.perf_counter()
        counts = await build_query_db(path, n, snoozed)
        print(f"built {label:>9}-order DB in {time.perf_counter() - t0:5.1f}s: {counts['alerts']:,} ledger rows, "
              f"{counts['snoozes']:,} snoozes, {path.stat().st_size / 2**20:,.0f} MB")  # fmt: skip
        dbs.append(QueryDB(label, path))
    small, big = dbs
    for db in dbs:
        await db.open()

    # Exactly the 100 planted orders are found, and all 100 are announced.
    want = {oid for oid, _, _ in _due_orders()}
    for db in dbs:
        rows, announce, _settled = await db.decision()
        assert {r.order_id for r in rows} == want and len(rows) == DUE, (db.label, len(rows))
        assert len(announce) == DUE and {a.order_id for a in announce} == want, (db.label, len(announce))
        queued = await db.alerts.check_team(db.team)
        # One message for the check, in parts of PER_MESSAGE orders.
        assert queued == -(-DUE // PER_MESSAGE) == db.alerts.decided[1], (db.label, queued)
        with sqlite3.connect(db.path) as con:  # and the dry run wrote nothing
            assert con.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    print(f"checked on both: due_rows returns exactly the {DUE} planted orders; decide announces all {DUE} "
          f"({DUE_LATE} late, {DUE - DUE_LATE} ship soon); check_team renders {queued} messages "
          f"and, its write replaced, queues nothing (outbox empty)")  # fmt: skip

    whats = ("check_team", "decision", "due_rows")
    for db in dbs:  # warm-up
        for what in whats:
            for _ in range(max(10, runs // 10)):
                await db.run(what)
        assert db.times is not None
        db.times = {w: [] for w in whats}
    chunk = 10
    for i in range(0, runs, chunk):  # interleaved: both databases see the same machine
        for db in dbs if (i // chunk) % 2 == 0 else dbs[::-1]:
            for what in whats:
                for _ in range(min(chunk, runs - i)):
                    await db.run(what)

    print(f"\nms per call, {runs} calls each, interleaved ({small.label} / {big.label} orders):")
    print(f"{'':28} {'median':>17} {'p90':>17} {'ratio median':>13} {'ratio p90':>10}")
    labels = {"check_team": "check_team (no write)", "decision": "due_rows+already+decide", "due_rows": "due_rows"}
    for what in whats:
        assert small.times is not None and big.times is not None
        sm, sp = _median_p90(small.times[what])
        bm, bp = _median_p90(big.times[what])
        print(f"{labels[what]:28} {sm * 1e3:7.2f} / {bm * 1e3:7.2f} {sp * 1e3:7.2f} / {bp * 1e3:7.2f} "
              f"{bm / sm:12.2f}x {bp / sp:9.2f}x")  # fmt: skip
    assert big.times is not None and small.times is not None
    rest = [statistics.median(db.times["check_team"]) - statistics.median(db.times["decision"])  # type: ignore[index]
            for db in dbs]  # fmt: skip
    print(f"check_team - decision, medians: {rest[0] * 1e3:.2f} / {rest[1] * 1e3:.2f} ms: rendering the "
          f"{queued} messages and reading the team's language, the same work on both")  # fmt: skip
    ratio = statistics.median(big.times["check_team"]) / statistics.median(small.times["check_team"])
    print(f"target (issue): {big.label} / {small.label} under 2x for the check -> {ratio:.2f}x "
          f"{'MET' if ratio < 2 else 'MISSED'}")  # fmt: skip

    # The statements, as the code ran them: plans on the big database, timings without aiosqlite.
    statements = await big.captured_sql(big.decision)
    digest_args = {"now": NOW, "day_start": datetime(2026, 11, 20, 16, tzinfo=UTC),
                   "day_end": datetime(2026, 11, 21, 16, tzinfo=UTC),
                   "yesterday_start": datetime(2026, 11, 19, 16, tzinfo=UTC)}  # fmt: skip
    digest_statements = await big.captured_sql(lambda: big.alerts.alert_store.digest_figures(QUERY_TEAM, **digest_args))
    names = ["due_rows: the UNION", "due_rows: snoozes", "already"]
    full_scans = []
    print(f"\nEXPLAIN QUERY PLAN on the {big.label}-order DB, and each statement alone in sqlite3 "
          f"(median of {runs}; {small.label} / {big.label}):")  # fmt: skip
    cons = [sqlite3.connect(f"file:{db.path}?mode=ro", uri=True) for db in dbs]
    try:
        for name, (sql, params) in zip(names, statements, strict=True):
            plan = _plan(cons[1], sql, params)
            scans = [line.strip() for line in plan if line.strip().startswith("SCAN")]
            full_scans += [(name, s) for s in scans]
            t_small, t_big = (_time_sql(c, sql, params, runs) for c in cons)
            print(f"- {name}: {t_small * 1e3:.3f} / {t_big * 1e3:.3f} ms = {t_big / t_small:.2f}x  {_short(sql)}")
            for line in plan:
                print(f"      {line}")
        print("  -> " + ("no part of them is a full SCAN" if not full_scans
                         else "FULL SCAN: " + "; ".join(f"{n}: {s}" for n, s in full_scans)))  # fmt: skip

        print(f"\ndiagnostic: digest_figures (once a day per team; no events in these DBs), "
              f"{small.label} / {big.label}:")  # fmt: skip
        for sql, params in digest_statements:
            plan = _plan(cons[1], sql, params)
            t_small, t_big = (_time_sql(c, sql, params, max(5, runs // 20)) for c in cons)
            print(f"- {t_small * 1e3:8.3f} / {t_big * 1e3:8.3f} ms = {t_big / t_small:6.1f}x  {_short(sql, 90)}")
            print("      " + " | ".join(line.strip() for line in plan))
    finally:
        for c in cons:
            c.close()
    for db in dbs:
        await db.store.close()


async def stale_bench(workdir: Path, small_n: int, big_n: int, runs: int, snoozed: float) -> None:
    """The same check when arrived orders stay "shipped" (the ``deliver_by < now`` part of the UNION)."""
    print(f"\n== 1b. The same check when past orders stay 'shipped': {big_n:,} vs {small_n:,} orders")
    print("   (only /delivered moves an order to 'delivered'; here nobody sent it, so every arrived order is "
          "'shipped' past its latest delivery date, its late-delivery alert long since in the ledger)")  # fmt: skip
    dbs: list[QueryDB] = []
    try:
        await _stale_measure(workdir, small_n, big_n, runs, snoozed, dbs)
    finally:  # an assertion or a measure that fails must not leave the stores open (it hung at exit)
        for db in dbs:
            await db.store.close()


async def _stale_measure(workdir: Path, small_n: int, big_n: int, runs: int, snoozed: float,
                         dbs: list[QueryDB]) -> None:  # fmt: skip
    for n in (small_n, big_n):
        path = workdir / f"stale-{n}.sqlite3"
        t0 = time.perf_counter()
        counts = await build_query_db(path, n, snoozed, stale=True)
        print(f"built {n:>9,}-order DB in {time.perf_counter() - t0:5.1f}s: {counts['alerts']:,} ledger rows")
        db = QueryDB(f"{n:,}", path)
        await db.open()
        dbs.append(db)
    want = {oid for oid, _, _ in _due_orders()}
    read = []
    for db in dbs:
        rows, announce, _settled = await db.decision()
        assert len(announce) == DUE and {a.order_id for a in announce} == want, (db.label, len(announce))
        read.append(len(rows))
    whats = ("check_team", "decision", "due_rows")
    for db in dbs:  # warm-up
        await db.run("check_team")
        db.times = {w: [] for w in whats}
    for i in range(runs):
        for db in dbs if i % 2 == 0 else dbs[::-1]:
            for what in whats:
                await db.run(what)
    print(f"each check announces the same {DUE}; due_rows returns {read[0]:,} / {read[1]:,} rows. "
          f"ms per call, median of {runs}:")  # fmt: skip
    for what in whats:
        s, b = (statistics.median(db.times[what]) for db in dbs)  # type: ignore[index]
        print(f"  {what:12} {s * 1e3:9.1f} / {b * 1e3:9.1f}  = {b / s:6.1f}x")
    extra_rows = read[1] - read[0]
    per_row = None
    if extra_rows:
        grown = statistics.median(dbs[1].times["check_team"]) - statistics.median(dbs[0].times["check_team"])  # type: ignore[index]
        per_row = grown / extra_rows
    union_sql, params = (await dbs[1].captured_sql(dbs[1].due_rows))[0]
    alone = []
    for db in dbs:
        with sqlite3.connect(f"file:{db.path}?mode=ro", uri=True) as con:
            alone.append(_time_sql(con, union_sql, params, runs))
        con.close()
    print(f"  {'(the UNION alone in sqlite3)':28} {alone[0] * 1e3:.1f} / {alone[1] * 1e3:.1f} ms; the rest is aiosqlite, "
          f"DueRow and its three datetimes per row, `already` in chunks of 900 ids, decide()")  # fmt: skip
    if per_row is None:
        print("  -> both databases read back the same orders: the check does not grow with the history")
    else:
        print(f"  -> {per_row * 1e6:.1f} µs per order read back; a year of 1,000,000 orders left 'shipped' would make "
              f"each check ~{per_row * 0.92 * 1_000_000:.0f} s")  # fmt: skip


# ============================================================================ part 2: digests


class DigestAPI(FakeBotAPI):
    """The fake server, noting when each message into a group arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_messages: list[tuple[float, int, str]] = []

    def _m_sendMessage(self, params: dict) -> dict:
        result = super()._m_sendMessage(params)
        if result["chat"]["id"] < 0:
            self.group_messages.append((time.perf_counter(), result["chat"]["id"], result.get("text", "")))
        return result


@dataclass(frozen=True)
class SenderConfig:
    kind: str  # "dingdan" | "baseline"
    token: str
    api_url: str
    file_url: str
    db_path: str
    interval: float
    messages: tuple[tuple[int, str], ...] = ()  # the baseline's (chat id, text)


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _sender_process(cfg: SenderConfig, conn: Any) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(_serve_sender(cfg, conn))
    finally:
        conn.close()


async def _serve_sender(cfg: SenderConfig, conn: Any) -> None:
    loop = asyncio.get_running_loop()
    if cfg.kind == "dingdan":
        import bot.app
        from bot.settings import Settings

        clock = MovableClock(BEFORE_DIGEST)
        settings = Settings(token=cfg.token, db_path=Path(cfg.db_path), timezone=TIMEZONE, api_url=cfg.api_url,
                            file_url=cfg.file_url, clock=clock, alert_interval=cfg.interval)  # fmt: skip
        async with bot.app.running(settings):
            conn.send(("ready", _cpu()))
            assert await loop.run_in_executor(None, conn.recv) == "go"
            cpu0 = _cpu()
            clock.now = AT_DIGEST  # the next tick finds 50 digests due
            assert await loop.run_in_executor(None, conn.recv) == "stop"
            cpu = _cpu() - cpu0
    else:
        from telegram import LinkPreviewOptions
        from telegram.constants import ParseMode
        from telegram.ext import AIORateLimiter, ApplicationBuilder, Defaults

        application = (
            ApplicationBuilder().token(cfg.token).base_url(cfg.api_url).base_file_url(cfg.file_url)
            .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
            .rate_limiter(AIORateLimiter(max_retries=2)).build()
        )  # fmt: skip
        await application.initialize()
        try:
            conn.send(("ready", _cpu()))
            assert await loop.run_in_executor(None, conn.recv) == "go"
            cpu0 = _cpu()
            for chat_id, text in cfg.messages:  # one after the other, as flush() sends
                await application.bot.send_message(chat_id, text)
            cpu = _cpu() - cpu0
            assert await loop.run_in_executor(None, conn.recv) == "stop"
        finally:
            await application.shutdown()
    conn.send(("stopped", cpu))


@dataclass
class DigestRun:
    kind: str
    seconds: float  # signal -> last of the 50 messages at the fake server
    first: float  # signal -> first message
    cpu: float  # the sender's process, from the signal to the stop (dingdan keeps ticking)
    texts: dict[int, str]


async def run_sender(kind: str, db_path: Path, teams: int, interval: float,
                     messages: tuple[tuple[int, str], ...] = ()) -> DigestRun:  # fmt: skip
    api = DigestAPI()
    await api.start()
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    cfg = SenderConfig(kind, api.token, api.base_url, api.base_file_url, str(db_path), interval, messages)
    process = ctx.Process(target=_sender_process, args=(cfg, child), name=f"bench-{kind}", daemon=True)
    loop = asyncio.get_running_loop()

    async def recv(expect: str, timeout: float = 60.0) -> float:
        deadline = loop.time() + timeout
        while not await loop.run_in_executor(None, conn.poll, 0.1):
            if not process.is_alive():
                raise RuntimeError(f"the {kind} process died (exit code {process.exitcode})")
            if loop.time() > deadline:
                raise TimeoutError(f"no {expect!r} from the {kind} process in {timeout:g}s")
        got, value = conn.recv()
        assert got == expect, (got, expect)
        return float(value)

    try:
        for team_id, title in _digest_team_ids(teams):
            group = api.group(team_id, title)
            group.add(api.user(ADMIN_ID, "Admin", language_code="en"), "creator")
        process.start()
        child.close()
        await recv("ready")
        if kind == "dingdan":  # a few ticks at 08:30: nothing is due, nothing is sent
            await asyncio.sleep(max(1.0, 5 * interval))
            assert not api.group_messages, api.group_messages[:3]
        t0 = time.perf_counter()
        conn.send("go")
        await api.wait_for(lambda: len(api.group_messages) >= teams, timeout=120, what=f"{teams} messages in groups")
        await asyncio.sleep(0.5)  # nothing more comes
        conn.send("stop")
        cpu = await recv("stopped")
        process.join(timeout=10)
    finally:
        if process.is_alive():
            process.terminate()  # our own child, by its handle
            process.join(timeout=5)
        conn.close()
        await api.stop()
    arrivals = api.group_messages
    chats = [chat for _, chat, _ in arrivals]
    assert len(arrivals) == teams and len(set(chats)) == teams, (
        f"{len(arrivals)} messages into {len(set(chats))} groups"
    )
    if api.errors:
        raise AssertionError(f"the fake server refused {len(api.errors)} calls, e.g. {api.errors[0]}")
    return DigestRun(kind, arrivals[-1][0] - t0, arrivals[0][0] - t0, cpu, {chat: text for _, chat, text in arrivals})


async def _check_in_process(db_path: Path, at: datetime) -> tuple[float, int, list[tuple[int, str]]]:
    """The real ``Alerts.check()`` here, no Telegram: seconds, messages queued, the outbox."""
    from bot import texts
    from bot.alerts import Alerts
    from bot.storage import Store

    store = Store(db_path)
    await store.open()
    try:
        alerts = Alerts(store, lambda: at, texts.alert_messages, texts.digest_message)
        t0 = time.perf_counter()
        queued = await alerts.check()
        seconds = time.perf_counter() - t0
        rows = await store.fetchall("SELECT chat_id, payload FROM outbox ORDER BY outbox_id")
    finally:
        await store.close()
    return seconds, queued, [(chat, json.loads(payload)["text"]) for chat, payload in rows]


async def digest_bench(workdir: Path, teams: int, repeat: int, interval: float) -> None:
    print(f"\n== 2. {teams} daily digests end to end, the fake Bot API, AIORateLimiter(max_retries=2) on both")
    template = workdir / "digest-template.sqlite3"
    t0 = time.perf_counter()
    counts = await build_digest_db(template, teams)
    print(f"built the DB in {time.perf_counter() - t0:.1f}s: {counts['teams']} teams, {counts['orders']:,} orders, "
          f"{counts['events']:,} events; {SHIP_TODAY} orders per team must ship today (their 24 h warning sent)")  # fmt: skip
    n = 0

    def fresh() -> Path:
        nonlocal n
        n += 1
        path = workdir / f"digest-{n}.sqlite3"
        shutil.copyfile(template, path)
        return path

    # In this process, no Telegram: what one tick's check costs.
    idle = [(await _check_in_process(fresh(), BEFORE_DIGEST)) for _ in range(5)]
    assert all(q == 0 for _, q, _ in idle)
    due = [(await _check_in_process(fresh(), AT_DIGEST)) for _ in range(3)]
    assert all(q == teams for _, q, _ in due)
    messages = tuple(due[0][2])
    assert len({chat for chat, _ in messages}) == teams and all(
        t.startswith("<b>Daily digest for ") for _, t in messages
    )
    lengths = [len(t) for _, t in messages]
    print(f"Alerts.check() in-process, {teams} teams: at 08:30 (nothing due) {statistics.median(s for s, _, _ in idle) * 1e3:.0f} ms "
          f"(median of 5); at 09:00 (queues {teams} digests) {statistics.median(s for s, _, _ in due) * 1e3:.0f} ms "
          f"(median of 3). Digest text {min(lengths)}-{max(lengths)} characters (HTML).")  # fmt: skip

    pairs: list[dict[str, DigestRun]] = []
    for i in range(repeat):
        order = ("baseline", "dingdan") if i % 2 == 0 else ("dingdan", "baseline")
        got = {}
        for kind in order:
            got[kind] = await run_sender(kind, fresh() if kind == "dingdan" else template, teams, interval,
                                         messages if kind == "baseline" else ())  # fmt: skip
        # What arrived: the same texts from both (dingdan rendered them at 09:00 in its process).
        assert got["dingdan"].texts == got["baseline"].texts, "dingdan's digests differ from the in-process ones"
        pairs.append(got)
        d, b = got["dingdan"], got["baseline"]
        print(f"run {i + 1}: baseline {b.seconds:.3f}s, dingdan {d.seconds:.3f}s (first digest after {d.first:.3f}s) "
              f"= {d.seconds / b.seconds:.2f}x   CPU: baseline {b.cpu * 1e3:.0f} ms, dingdan {d.cpu * 1e3:.0f} ms")  # fmt: skip

    def med(kind: str, what: str) -> float:
        return statistics.median(getattr(p[kind], what) for p in pairs)

    ratios = [p["dingdan"].seconds / p["baseline"].seconds for p in pairs]
    print(f"\n{'':40} {'baseline':>9} {'dingdan':>9} {'ratio':>6}")
    print(
        f"{f'{teams} messages in the groups, s (median)':40} {med('baseline', 'seconds'):9.3f} "
        f"{med('dingdan', 'seconds'):9.3f} {statistics.median(ratios):6.2f}  (per run {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(f"{'first message, s':40} {med('baseline', 'first'):9.3f} {med('dingdan', 'first'):9.3f}")
    print(f"{'messages/s':40} {teams / med('baseline', 'seconds'):9.1f} {teams / med('dingdan', 'seconds'):9.1f}")
    print(f"dingdan's time includes waiting for its next tick (alert_interval {interval:g}s, so {interval / 2:.2f}s "
          f"on average) and the whole Alerts.check() before the first send. Checked: every group got exactly one "
          f"message, the same text from both; dingdan sent nothing at 08:30.")  # fmt: skip


# ============================================================================ main


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the big database (1,000,000)")
    parser.add_argument("--small", type=int, default=10_000, help="orders in the small database (10,000)")
    parser.add_argument("--runs", type=int, default=300, help="timed calls per measure and database (300)")
    parser.add_argument(
        "--snoozed",
        type=float,
        default=0.01,
        help="share of past orders someone pressed 💤 on (their snoozes stay in the table; 0.01)",
    )
    parser.add_argument(
        "--stale",
        type=int,
        default=100_000,
        help="orders of the 'past orders stay shipped' check, beside --small (100,000; 0: skip)",
    )
    parser.add_argument("--stale-runs", type=int, default=5, help="timed calls of that check (5)")
    parser.add_argument("--teams", type=int, default=50, help="teams getting a digest (50)")
    parser.add_argument("--repeat", type=int, default=3, help="digest runs of each sender, alternating (3)")
    parser.add_argument("--interval", type=float, default=0.1, help="dingdan's alert_interval in seconds (0.1)")
    parser.add_argument("--only", choices=("query", "digest"), help="run one part only")
    args = parser.parse_args()
    if min(args.orders, args.small) < 10 * DUE or args.runs < 10:
        parser.error(f"need at least {10 * DUE} orders and 10 runs")

    import aiosqlite
    import telegram

    print(f"python-telegram-bot {telegram.__version__}, aiosqlite {aiosqlite.__version__}, SQLite "
          f"{sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
          f"load average before {os.getloadavg()[0]:.2f}")  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="dingdan-bench-alerts-"))
    started = time.perf_counter()
    try:
        if args.only != "digest":
            await query_bench(workdir, args.orders, args.small, args.runs, args.snoozed)
            if args.stale:
                await stale_bench(workdir, args.small, args.stale, args.stale_runs, args.snoozed)
        if args.only != "query":
            await digest_bench(workdir, args.teams, args.repeat, args.interval)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ntotal run {time.perf_counter() - started:.0f}s; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

"""Importing a big FBA customer returns report: dingdan's Importer against plain sqlite3, in one run.

    python bench/bench_returns.py [--orders 500000] [--returns 50000] [--no-trace]

A database of ``--orders`` orders in one team (500,000: ~89% delivered, ~10% ``shipped``,
~1% cancelled; one or two items each; one ``imported`` event per order) is built with plain
``sqlite3`` ``executemany`` into the real schema (``Store`` creates it; ``bench_alerts``'
``_Filler``). ``--returns`` of the orders (50,000) are ``shipped``; an FBA customer returns
report (``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``, the columns of
/work/shared/samples/fba-customer-returns.txt; tab separated, one row per shipped order,
deterministic) is written for them. Then, each on its own identical copy of the database:

  sqlite3   the baseline: the stdlib ``csv`` module reads the same file and, in one
            transaction (WAL, synchronous=NORMAL, foreign keys on, as ``Store``), one
            ``executemany`` of ``UPDATE orders SET goods='return_received', disposition=?,
            return_reason=?, version=version+1 WHERE team_id=? AND order_id=?`` and one of
            ``INSERT INTO events`` (the same ``receive_return`` rows, the same details),
            plus the ``imports`` row: the writes dingdan makes, without reading anything.
  dingdan   ``Importer(store, Lifecycle(), clock).import_file(team, bytes, filename=...,
            actor=Actor.importer("bench"))``, timed from reading the file's bytes to the
            end. It recognises the report and applies it through ``bot/importing/returns.py``.

Both are checked afterwards: exactly ``--returns`` orders ``return_received`` (with the
report's disposition and reason), each with exactly one ``receive_return`` event. Then the
same file is imported again into dingdan's database: it must change nothing (0 updated; the
orders per state, versions, items, events and imports the same). Peak memory: ``tracemalloc`` around each, in a third
copy for dingdan (tracing slows it, so that run is not timed; ``--no-trace`` skips it).

Takes ~3 minutes on 2 cores: ~26 s building the database, about a minute in the untimed
tracemalloc run of dingdan (skip it with ``--no-trace``). Everything is written
under a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "bench", ROOT):  # the root for bot/ and tests.support; works without `pip install -e .` too
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _reports import order_id
from bench_alerts import _day_0759, _Filler, _iso, _new_db, _order

from bot.storage import ORDER_COLUMNS

TEAM_ID = -1001234567890
#: The import's clock: a Saturday afternoon in Shanghai.
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
FILENAME = "fba-customer-returns.txt"
MB = 1024 * 1024

FBA_HEADER = ("return-date order-id sku asin fnsku product-name quantity fulfillment-center-id "
              "detailed-disposition reason status license-plate-number customer-comments").split()  # fmt: skip
_DISPOSITIONS = ["SELLABLE"] * 5 + ["CUSTOMER_DAMAGED", "DEFECTIVE", "DAMAGED", "CARRIER_DAMAGED", "EXPIRED"]
_REASONS = ["UNWANTED_ITEM", "DEFECTIVE", "NOT_AS_DESCRIBED", "ORDERED_WRONG_ITEM", "SWITCHEROO",
            "DAMAGED_BY_CARRIER", "MISSED_ESTIMATED_DELIVERY", "FOUND_BETTER_PRICE"]  # fmt: skip
_PRODUCTS = [("USB-MIC-01", "B0ABCDEF01", "X0012345AB", "USB Condenser Microphone", "24.99"),
             ("BT-SPK-02", "B0ABCDEF02", "X0012345AC", "Bluetooth Speaker, Wood", "39.90"),
             ("CABLE-C-2M", "B0ABCDEF03", "X0012345AD", "USB-C Cable 2 m (braided)", "8.99"),
             ("LAMP-LED-7", "B0ABCDEF04", "X0012345AE", "LED Desk Lamp — dimmable", "29.50"),
             ("MUG-CER-350", "B0ABCDEF05", "X0012345AF", "Ceramic Mug 350 ml «Morning»", "12.00")]  # fmt: skip
_COMMENTS = ["no longer needed", "crackling sound", "", "", "arrived late", "wrong colour", "不喜欢"]
_FCS = ["ONT8", "LGB3", "PHX6", "BFI4", "MDW2"]


# ============================================================================ the database


def _is_shipped(i: int, total: int, returns: int) -> bool:
    """Every (total // returns)-th order is in transit (``shipped``), ``returns`` of them."""
    step = total // returns
    return i % step == step - 1 and i // step < returns


def _rows(total: int, returns: int, seed: int = 20261121) -> Iterator[tuple[tuple[Any, ...], list, tuple]]:
    """(orders row, its order_items rows, its ``imported`` event) for every order, in id order."""
    rng = random.Random(seed)
    now = NOW.timestamp()
    day = 86400.0
    stamp = _iso(now - 7 * day)
    ids = sorted((order_id(i), i) for i in range(total))
    for oid, i in ids:
        if _is_shipped(i, total, returns):  # in transit, bought in the last 4 weeks
            purchased = now - 2 * day - rng.random() * 26 * day
            goods, deliver_by = "shipped", _day_0759(purchased, 30)
        else:  # the history
            purchased = now - 7 * day - rng.random() * 358 * day
            goods, deliver_by = ("cancelled" if rng.random() < 0.01 else "delivered"), _day_0759(purchased, 8)
        shipped = None if goods == "cancelled" else purchased + 3600 + rng.random() * 40 * 3600
        row = _order(oid, TEAM_ID, goods, rng, purchased=purchased, ship_by=_day_0759(purchased, 2),
                     deliver_by=deliver_by, shipped=shipped, stamp=stamp)  # fmt: skip
        items = []
        for k in range(1 if rng.random() < 0.8 else 2):
            sku, _asin, _fnsku, title, price = _PRODUCTS[(i + k) % len(_PRODUCTS)]
            items.append((TEAM_ID, oid, f"{i:014d}{k}", sku, title, 1, 0 if goods == "cancelled" else 1, price))
        event = (TEAM_ID, oid, _iso(purchased + 3600), "import", None, "unshipped-orders.txt", TEAM_ID, "imported",
                 None, "unshipped", None, "none", '{"file": "unshipped-orders.txt"}')  # fmt: skip
        yield row, items, event


async def build_db(path: Path, total: int, returns: int) -> dict[str, int]:
    await _new_db(path, [(TEAM_ID, "Bench team")], NOW - timedelta(days=400))
    filler = _Filler(path, ("orders", "order_items", "events"))
    items: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []

    def orders() -> Iterator[tuple[Any, ...]]:
        for row, its, event in _rows(total, returns):
            items.extend(its)
            events.append(event)
            yield row

    filler.insert("orders", ORDER_COLUMNS, orders())
    filler.insert("order_items", ["team_id", "order_id", "item_id", "sku", "title", "quantity", "quantity_shipped",
                                  "price"], items)  # fmt: skip
    events.sort(key=lambda e: e[2])  # event ids in time order, as they would be
    filler.insert("events", ["team_id", "order_id", "at", "actor_kind", "actor_id", "actor_name", "chat_id",
                             "action", "from_goods", "to_goods", "from_money", "to_money", "details"], events)  # fmt: skip
    filler.close()
    con = sqlite3.connect(path)
    counts = dict(con.execute("SELECT goods, count(*) FROM orders GROUP BY goods").fetchall())
    con.close()
    return {"orders": total, "items": len(items), "events": len(events), **counts}


def write_returns(path: Path, db: Path, seed: int = 20261122) -> list[str]:
    """The FBA customer returns report: one row per ``shipped`` order (its first item), shuffled."""
    con = sqlite3.connect(db)
    shipped = con.execute(
        "SELECT o.order_id, o.shipped_at, min(i.sku) FROM orders o JOIN order_items i USING (team_id, order_id) "
        "WHERE o.team_id = ? AND o.goods = 'shipped' GROUP BY o.order_id ORDER BY o.order_id", (TEAM_ID,)
    ).fetchall()  # fmt: skip
    con.close()
    products = {p[0]: p for p in _PRODUCTS}
    rng = random.Random(seed)
    rng.shuffle(shipped)
    lines = ["\t".join(FBA_HEADER)]
    for n, (oid, shipped_at, sku) in enumerate(shipped):
        _sku, asin, fnsku, title, _price = products[sku]
        arrived = datetime.fromisoformat(shipped_at) + timedelta(days=4 + rng.random() * 20)
        arrived = min(arrived, NOW - timedelta(hours=1))
        lines.append("\t".join((
            arrived.strftime("%Y-%m-%dT%H:%M:%S+00:00"), oid, sku, asin, fnsku, title, "1", rng.choice(_FCS),
            rng.choice(_DISPOSITIONS), rng.choice(_REASONS), "Unit returned to inventory", f"LPNRR{n:010d}",
            rng.choice(_COMMENTS),
        )))  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [oid for oid, _, _ in shipped]


# ============================================================================ the two imports


def baseline(report: Path, db: Path) -> dict[str, Any]:
    """csv + plain sqlite3: the same writes as dingdan (orders, events, the imports row), one transaction."""
    t0 = time.perf_counter()
    data = report.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    con = sqlite3.connect(db, isolation_level=None)
    con.executescript("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
    at = NOW.isoformat(timespec="seconds")
    updates: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    with open(report, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        col = {name: k for k, name in enumerate(next(reader))}
        oid_c, disp_c, reason_c = col["order-id"], col["detailed-disposition"], col["reason"]
        for line, row in enumerate(reader, start=2):
            oid, disposition, reason = row[oid_c], row[disp_c], row[reason_c]
            updates.append((disposition, reason, TEAM_ID, oid))
            details = json.dumps({"file": report.name, "report": "fba_returns", "line": line, "reason": reason,
                                  "disposition": disposition}, ensure_ascii=False)  # fmt: skip
            events.append((TEAM_ID, oid, at, "import", None, "bench", None, "receive_return", "shipped",
                           "return_received", "none", "none", details))  # fmt: skip
    con.execute("BEGIN")
    done = con.executemany("UPDATE orders SET goods = 'return_received', disposition = ?, return_reason = ?, "
                           "version = version + 1 WHERE team_id = ? AND order_id = ?", updates).rowcount  # fmt: skip
    con.executemany("INSERT INTO events (team_id, order_id, at, actor_kind, actor_id, actor_name, chat_id, action, "
                    "from_goods, to_goods, from_money, to_money, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    events)  # fmt: skip
    con.execute("INSERT INTO imports (team_id, sha256, kind, filename, at, actor_id, chat_id, rows, new, updated, "
                "unchanged, refused) VALUES (?, ?, 'fba_returns', ?, ?, NULL, NULL, ?, 0, ?, 0, 0)",
                (TEAM_ID, sha, report.name, at, len(updates), done))  # fmt: skip
    con.execute("COMMIT")
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "rows": len(updates), "updated": done}


async def dingdan(report: Path, db: Path) -> tuple[float, Any]:
    from bot.domain import Actor
    from bot.importing import Importer
    from bot.lifecycle import Lifecycle
    from bot.storage import Store

    store = Store(db)
    await store.open()
    try:
        importer = Importer(store, Lifecycle(), lambda: NOW)
        t0 = time.perf_counter()
        data = report.read_bytes()
        result = await importer.import_file(TEAM_ID, data, filename=report.name, actor=Actor.importer("bench"))
        seconds = time.perf_counter() - t0
    finally:
        await store.close()
    return seconds, result


def traced(fn: Any, *args: Any) -> tuple[Any, int]:
    """``fn(*args)`` (a coroutine function or not) under tracemalloc: its result and the peak in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        out = asyncio.run(fn(*args)) if asyncio.iscoroutinefunction(fn) else fn(*args)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ============================================================================ checks


def check(db: Path, returned: list[str], report: Path) -> dict[str, int]:
    """Exactly the report's orders are return_received, as the report says, one receive_return event each."""
    want = {}
    with open(report, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            want[row["order-id"]] = (row["detailed-disposition"], row["reason"])
    assert set(want) == set(returned) and len(want) == len(returned)
    con = sqlite3.connect(db)
    try:
        got = {oid: (d, r) for oid, d, r in con.execute(
            "SELECT order_id, disposition, return_reason FROM orders WHERE team_id = ? AND goods = 'return_received'",
            (TEAM_ID,))}  # fmt: skip
        assert got == want, f"{len(got)} orders return_received, {len(set(got) ^ set(want))} differ from the report"
        per_order = dict(con.execute(
            "SELECT order_id, count(*) FROM events WHERE team_id = ? AND action = 'receive_return' GROUP BY order_id",
            (TEAM_ID,)).fetchall())  # fmt: skip
        assert set(per_order) == set(want) and set(per_order.values()) == {1}, "not one receive_return event each"
        counts = dict(con.execute("SELECT goods, count(*) FROM orders GROUP BY goods").fetchall())
        assert "shipped" not in counts, counts
    finally:
        con.close()
    return {"return_received": len(got), "receive_return events": sum(per_order.values())}


def fingerprint(db: Path) -> dict[str, Any]:
    """What a write would move, cheaply: orders per state, summed versions, events and imports."""
    con = sqlite3.connect(db)
    try:
        return {
            "goods": dict(con.execute("SELECT goods, count(*) FROM orders GROUP BY goods").fetchall()),
            "versions": con.execute("SELECT sum(version), count(*) FROM orders").fetchone(),
            "events": con.execute("SELECT count(*), max(event_id) FROM events").fetchone(),
            "items": con.execute("SELECT count(*), sum(quantity_shipped) FROM order_items").fetchone(),
            "imports": con.execute("SELECT count(*) FROM imports").fetchone()[0],
        }
    finally:
        con.close()


# ============================================================================ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500_000, help="orders in the database (500,000)")
    parser.add_argument("--returns", type=int, default=50_000, help="shipped orders, one report row each (50,000)")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run of dingdan")
    args = parser.parse_args()
    if not 0 < args.returns <= args.orders // 2:
        parser.error("need 0 < --returns <= --orders / 2")

    print(
        f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="dingdan-bench-returns-"))
    started = time.perf_counter()
    try:
        template = workdir / "template.sqlite3"
        t0 = time.perf_counter()
        counts = asyncio.run(build_db(template, args.orders, args.returns))
        print(f"built the DB in {time.perf_counter() - t0:.1f}s: {counts['orders']:,} orders ({counts['shipped']:,} "
              f"shipped, {counts['delivered']:,} delivered, {counts.get('cancelled', 0):,} cancelled), "
              f"{counts['items']:,} items, {counts['events']:,} events; "
              f"{template.stat().st_size / MB:.0f} MB")  # fmt: skip
        report = workdir / FILENAME
        returned = write_returns(report, template)
        assert len(returned) == args.returns, len(returned)
        data = report.read_bytes()
        print(
            f"report: {len(returned):,} rows, {len(data) / MB:.1f} MB, sha256 {hashlib.sha256(data).hexdigest()[:12]}"
        )
        del data
        copies = {}
        for name in ("baseline", "dingdan") + (() if args.no_trace else ("traced",)):
            copies[name] = workdir / f"{name}.sqlite3"
            shutil.copyfile(template, copies[name])

        gc.collect()
        base = baseline(report, copies["baseline"])
        assert base["updated"] == args.returns, base
        gc.collect()
        seconds, result = asyncio.run(dingdan(report, copies["dingdan"]))
        assert result.kind == "fba_returns", result.kind
        assert (result.rows, result.new, result.updated, len(result.refused)) == (args.returns, 0, args.returns, 0), (
            result.rows, result.new, result.updated, result.refused[:3])  # fmt: skip
        print(f"\n{'':44} {'seconds':>8}")
        print(f"{'sqlite3 baseline (csv + 2 executemany)':44} {base['seconds']:8.2f}")
        print(f"{'dingdan Importer.import_file':44} {seconds:8.2f}   = {seconds / base['seconds']:.1f}x the baseline")
        print(f"  dingdan: rows={result.rows:,} new={result.new} updated={result.updated:,} "
              f"unchanged={result.unchanged} refused={len(result.refused)}")  # fmt: skip

        for name in ("baseline", "dingdan"):
            c = check(copies[name], returned, report)
            print(
                f"checked {name}: {c['return_received']:,} orders return_received (disposition and reason as in "
                f"the report), {c['receive_return events']:,} receive_return events, one each; none left shipped"
            )

        before = fingerprint(copies["dingdan"])
        again_s, again = asyncio.run(dingdan(report, copies["dingdan"]))
        after = fingerprint(copies["dingdan"])
        assert (again.updated, again.new, len(again.refused)) == (0, 0, 0), (again.updated, again.refused[:3])
        assert again.unchanged == args.returns and after == before, (again.unchanged, before, after)
        print(f"re-import of the same file: {again_s:.2f}s, updated={again.updated} new={again.new} "
              f"unchanged={again.unchanged:,} refused={len(again.refused)}; nothing written (orders per state, "
              f"versions, items, events {after['events'][0]:,}, imports {after['imports']} the same)")  # fmt: skip

        shutil.copyfile(template, copies["baseline"])
        _, base_peak = traced(baseline, report, copies["baseline"])
        line = f"tracemalloc peak: sqlite3 baseline {base_peak / MB:.1f} MB"
        if not args.no_trace:
            (_, traced_result), peak = traced(dingdan, report, copies["traced"])
            assert traced_result.updated == args.returns
            line += f", dingdan {peak / MB:.1f} MB (the file's bytes included; untimed run)"
        print(line)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ntotal run {time.perf_counter() - started:.0f}s; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

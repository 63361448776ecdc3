"""Carrier tracking: registering and polling 10,000 in-transit numbers against the fake 17TRACK.

    python bench/bench_tracking.py [--numbers 10000] [--rounds 3] [--big 1000000] [--runs 200]

1. **Registering and polling** ``--numbers`` orders shipped an hour ago (written straight into a
   real ``Store``'s database), through the real ``Tracker`` and ``SeventeenTrack`` client, against
   ``tests/support/faketrack.py`` on 127.0.0.1 (HTTP, JSON). The client's rate limit and back-off
   wait on virtual seconds (``TrackTime``), which the fake also counts its limit on (3 requests in
   any second, else HTTP 429), so the run takes real time only for the HTTP and the database.
   The first run registers every number (40 a request) and polls each once; then the clock moves
   three hours and the next ``--rounds`` runs poll them again. Printed: requests by operation,
   the numbers per request, the 429s the fake answered (the limit kept: 0), the most requests in
   any one second of 17TRACK's time, the virtual seconds a run takes at 3 requests a second, and
   the wall time.
2. **The poll query** (``bot.storage.tracking.DUE_QUERY``: 40 due numbers) on a tracking table
   of ``--numbers`` rows and of ``--big`` rows (all but 1% stopped, as after a year of shipping),
   ``--runs`` times each: median and p90 and the plan. Flat means the two are alike.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.lifecycle import Lifecycle  # noqa: E402
from bot.services import Desk  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.storage.tracking import DUE_QUERY  # noqa: E402
from bot.tracking import SeventeenTrack, Tracker  # noqa: E402
from tests.support.clock import START, FakeClock  # noqa: E402
from tests.support.faketrack import KEY, FakeTrack, Step, TrackTime, seed_shipped  # noqa: E402


async def registering_and_polling(numbers: int, rounds: int) -> None:
    clock = FakeClock(START)
    time_ = TrackTime()
    fake = FakeTrack(clock, monotonic=time_.monotonic, quota_total=numbers * 2)
    stamps: list[float] = []
    handle = fake.handle

    async def counted(request):  # type: ignore[no-untyped-def]
        stamps.append(time_.monotonic())
        return await handle(request)

    fake.handle = counted  # type: ignore[method-assign]
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        await store.open()
        try:
            shipped = seed_shipped(store.path, numbers, clock() - timedelta(hours=1))
            for number in shipped:
                fake.script(
                    number, Step(timedelta(minutes=30), "InTransit", "InTransit_PickedUp", "Shenzhen", "Picked up")
                )
            provider = SeventeenTrack(KEY, fake.url, monotonic=time_.monotonic, sleep=time_.sleep)
            tracker = Tracker(store, Desk(store, Lifecycle(), clock), provider, clock)
            for n in range(rounds + 1):
                before_requests, before_virtual = len(fake.requests), time_.monotonic()
                started = time.perf_counter()
                report = await tracker.run()
                wall = time.perf_counter() - started
                made = fake.requests[before_requests:]
                by_op: dict[str, list[int]] = {}
                for op, sent, _status in made:
                    by_op.setdefault(op, []).append(len(sent))
                print(f"run {n}: registered {report.registered}, polled {report.polled}; "
                      + ", ".join(f"{op} {len(sizes)} requests (max {max(sizes)} numbers)" for op, sizes in by_op.items())
                      + f"; 429s {sum(1 for *_, s in made if s == 429)}; virtual {time_.monotonic() - before_virtual:.1f} s;"
                      f" wall {wall:.2f} s")  # fmt: skip
                clock.advance(hours=3)
            busiest = max((sum(1 for t in stamps if s <= t < s + 1.0 - 1e-6) for s in stamps), default=0)
            print(f"all runs: {len(fake.requests)} requests, 429s {fake.answered('register').count(429)}"
                  f" (register) {fake.answered('gettrackinfo').count(429)} (gettrackinfo); most in any second: "
                  f"{busiest} (limit 3); quota used {fake.quota_used}")  # fmt: skip
        finally:
            await store.close()
            await fake.stop()


def _fill(db: Path, n: int, registered_share: float = 0.01) -> None:
    registered = max(int(n * registered_share), 40)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.executemany(
            "INSERT INTO tracking (team_id, order_id, number, shipped_at, state, next_check_at) VALUES "
            "(-1, ?, ?, '2026-11-01T00:00:00+00:00', ?, ?)",
            ((f"900-{k // 10_000_000:07d}-{k % 10_000_000:07d}", f"N{k}",
              "registered" if k % (n // registered) == 0 else "stopped",
              f"2026-11-{1 + k % 28:02d}T00:00:00+00:00" if k % (n // registered) == 0 else None) for k in range(n)),
        )  # fmt: skip
        conn.execute("ANALYZE")


async def poll_query(sizes: list[int], runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"q{n}.sqlite3"
            store = Store(path)
            await store.open()
            await store.close()
            _fill(path, n)
            with sqlite3.connect(path) as conn:
                params = ("2026-11-15T00:00:00+00:00", 40)
                plan = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {DUE_QUERY}", params)]
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    rows = conn.execute(DUE_QUERY, params).fetchall()
                    times.append((time.perf_counter() - started) * 1e6)
            times.sort()
            print(f"poll query on {n:>9,} tracked numbers: {len(rows)} rows, median {statistics.median(times):.0f} µs, "
                  f"p90 {times[int(len(times) * 0.9)]:.0f} µs; plan {plan}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(registering_and_polling(args.numbers, args.rounds))
    asyncio.run(poll_query([args.numbers, args.big], args.runs))


if __name__ == "__main__":
    main()

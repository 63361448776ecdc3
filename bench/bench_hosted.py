"""Hosted (issue 13): commands per second on SQLite, on PostgreSQL with one webhook process and with
three, in one run; and the read paths at 1M orders on PostgreSQL beside SQLite.

    python bench/bench_hosted.py [--members 60] [--groups 6] [--commands 10] [--repeat 3]
                                 [--sizes 10000,1000000] [--runs 15] [--only commands|reads] [--no-analyze]

A throwaway PostgreSQL is started on this machine for the run (``tests/support/pg.py``: Debian's
``postgresql`` package, fsync off, as the ``postgres`` user when run as root) and removed at the end.

1. Commands. ``--members`` people, members of ``--groups`` teams (one team each), each writing in
   their private chat with the bot (Telegram's 20 messages a minute into one group would be all we
   measured; dingdan's sender keeps that pace for groups whatever the limiter). Each person sends
   ``--commands`` commands one after another, each as soon as the previous answer arrived:
   ``/ship ORDER UPS 1Z…`` then ``/order ORDER`` (the card of the order just shipped), and so on.
   The fake Bot API has no flood limits and dingdan runs without its rate limiter (as
   bench_commands' "unlimited" pair: ``bot.app.DeskRateLimiter`` replaced by a function returning
   None inside the bot's process; nothing in bot/ changes). Three set-ups, each a real
   ``dingdan run`` process (``python -m bot run``) on a fresh copy of the same prepared database:

     a  SQLite, one process, long polling (the baseline);
     b  PostgreSQL, one process, ``--webhook … --listen … --no-set-webhook``;
     c  PostgreSQL, three such processes; the bench is the load balancer: it posts each update to
        the next replica in turn (round robin), at most 40 posts in flight (Telegram's default
        ``max_connections``), with the secret token header.

   Before each measured round every person sends one ``/order`` (not measured: first messages,
   membership look-ups, caches). Printed per set-up: commands/s (all commands over the time from
   the first sent to the last answer), p50/p95 latency per command, CPU seconds per command of
   the bot processes and of PostgreSQL, how busy the machine's cores were, the load average; then
   b/a and c/b. Everything is checked afterwards: every answer is the expected one, each order
   shipped once (one "ship" event) with the tracking number sent, the inbox all done.

2. Reads. bench_reads' cached databases (``bench/out/reads-N.sqlite3``; built when missing or
   when their schema is older than the code's, which takes long for 1M: the time is printed) are
   each copied into a new PostgreSQL database with ``python -m bot migrate`` (timed), then
   ``ANALYZE``d (timed; ``migrate`` leaves the statistics to autovacuum; ``--no-analyze`` times
   the reads as it leaves them). The same read paths bench_reads times are timed through the real
   ``Store`` on both databases of each size (median of ``--runs``), and the ratio of the biggest
   to the smallest is printed for both stores (target: flat, <= 2x). Last, the ``EXPLAIN`` of
   each statement the paths ran on PostgreSQL at the biggest size, a sequential scan of a big
   table marked.

The machine has 2 cores: the fake Bot API, the scripted people, PostgreSQL and up to three bots
share them. Read the load average beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "bench", ROOT):  # the root for bot/ and tests.support; works without `pip install -e .` too
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import aiohttp  # noqa: E402
from _reports import order_id, report_bytes  # noqa: E402

from tests.support.fakebotapi import FakeBotAPI  # noqa: E402

TIMEZONE = "Asia/Shanghai"
ADMIN_ID = 1000
FIRST_GROUP = -1001300000001
#: Telegram's default ``max_connections`` of a webhook: posts in flight at once, over all replicas.
MAX_CONNECTIONS = 40
#: ``dingdan run`` without its rate limiter (as bench_commands' unlimited pair), and nothing else changed.
LAUNCH = (
    # A class whose instances are None: the builder gets no limiter, and _post_init's
    # isinstance(limiter, DeskRateLimiter) still has a class to ask about.
    "import sys, bot.app; bot.app.DeskRateLimiter = type('NoLimiter', (), {'__new__': lambda c, *a, **k: None}); "
    "from bot.cli import main; sys.exit(main(sys.argv[1:]))"
)
SETUPS = (
    ("a", "SQLite, 1 process, polling", "sqlite", 1),
    ("b", "PostgreSQL, 1 process, webhook", "pg", 1),
    ("c", "PostgreSQL, 3 processes, webhook", "pg", 3),
)


def tracking_numbers(n: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_uppercase + string.digits
    found: dict[str, None] = {}
    while len(found) < n:
        found["1Z" + "".join(rng.choice(alphabet) for _ in range(16))] = None
    return list(found)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def card(oid: str) -> Callable[[str], bool]:
    """An order's card (what /order answers) starts with its number on a line of its own."""
    return lambda text: text.startswith(f"Order {oid}\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------- CPU, from /proc


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _machine() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Meter:
    """CPU of the bots, of PostgreSQL's processes (the postmaster's children), and of the machine."""

    def __init__(self, bots: list[int], postmaster: int | None) -> None:
        self.bots, self.postmaster = bots, postmaster
        self._pg: dict[int, float] = {}

    def _pg_cpu(self) -> float:
        if self.postmaster is None:
            return 0.0
        for pid in _children_of(self.postmaster):  # backends come and go: each one's last reading
            self._pg[pid] = _proc_cpu(pid) or self._pg.get(pid, 0.0)
        return sum(self._pg.values()) + _proc_cpu(self.postmaster)

    def read(self) -> tuple[float, float, tuple[float, float]]:
        return sum(_proc_cpu(p) for p in self.bots), self._pg_cpu(), _machine()


# ----------------------------------------------------------------------------- the fake and the balancer


class HostedAPI(FakeBotAPI):
    """The fake Bot API; when ``targets`` are set, also the load balancer: each update is posted to
    the next replica in turn (round robin) instead of waiting for getUpdates. Each reply to a
    private chat resolves that person's waiter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets: list[str] = []
        self.secret = ""
        #: A person's chat -> (what the awaited answer looks like, its future).
        self.waiters: dict[int, tuple[Callable[[str], bool], asyncio.Future[str]]] = {}
        self.replies: dict[int, list[str]] = {}
        self.post_retries = 0
        self._turn = 0
        self._posts: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def balance(self, targets: list[str], secret: str) -> None:
        self.targets, self.secret = targets, secret
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                                              timeout=aiohttp.ClientTimeout(total=60))  # fmt: skip

    async def stop(self) -> None:
        for task in list(self._posts):
            task.cancel()
        if self._session is not None:
            await self._session.close()
        await super().stop()

    def _enqueue(self, kind: str, payload: dict) -> dict:
        if not self.targets:
            return super()._enqueue(kind, payload)
        update = {"update_id": next(self._update_seq), kind: payload}
        target = self.targets[self._turn % len(self.targets)]
        self._turn += 1
        task = asyncio.get_running_loop().create_task(self._post(target, update))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)
        return update

    async def _post(self, url: str, update: dict) -> None:
        """As Telegram does: until answered 2xx (a refusal is retried after a pause)."""
        assert self._session is not None
        body = json.dumps(update, ensure_ascii=False).encode()
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret, "Content-Type": "application/json"}
        for _ in range(20):
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.post_retries += 1
            await asyncio.sleep(0.2)
        raise RuntimeError(f"update {update['update_id']} was never taken by {url}")

    def _m_sendMessage(self, params: dict) -> dict:
        result = super()._m_sendMessage(params)
        chat_id = result["chat"]["id"]
        if chat_id > 0:
            text = result.get("text", "")
            self.replies.setdefault(chat_id, []).append(text)
            waiter = self.waiters.get(chat_id)
            if waiter is not None and waiter[0](text) and not waiter[1].done():
                del self.waiters[chat_id]
                waiter[1].set_result(text)
        return result


# ----------------------------------------------------------------------------- the desk's processes


class Desk:
    """``dingdan run`` (without its rate limiter) as a child process."""

    def __init__(self, api: FakeBotAPI, target: str, log: Path, webhook: bool) -> None:
        self.port = free_port() if webhook else 0
        self.env = {
            "PATH": os.environ["PATH"], "DINGDAN_TOKEN": api.token, "DINGDAN_API_URL": api.base_url,
            "DINGDAN_FILE_URL": api.base_file_url, "DINGDAN_DB": target, "DINGDAN_ALERT_INTERVAL": "3600",
            "DINGDAN_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        args = ["run"]
        if webhook:
            args += ["--webhook", self.url, "--listen", f"127.0.0.1:{self.port}", "--no-set-webhook"]
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tg"

    async def ready(self, timeout: float = 90.0) -> None:
        """Webhook: /readyz answers 200. Polling: the process is up (the fake keeps the updates)."""
        deadline = time.monotonic() + timeout
        if not self.port:
            return
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"dingdan exited with {self.process.returncode} while starting")
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/readyz") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("a replica was not ready in time")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()  # our own child, by its handle
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# ----------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class Workload:
    groups: int
    members: int
    commands: int  # per person: /ship and /order alternately

    def team_of(self, k: int) -> int:
        return FIRST_GROUP - k % self.groups

    @property
    def ships_each(self) -> int:
        return (self.commands + 1) // 2

    @property
    def orders_per_team(self) -> int:
        per_team = -(-self.members // self.groups)
        return max(500, per_team * self.ships_each + 10)


async def prepare(target: Path | str, load: Workload) -> None:
    """What /start, an uploaded report and recent membership checks leave: the teams, their orders
    (through ``Importer``), alerts off (the generated ship-by dates fall due around now), the people."""
    from bot.alerts import KINDS
    from bot.domain import Actor
    from bot.importing import Importer
    from bot.lifecycle import Lifecycle
    from bot.storage import Store

    store = Store(target)
    await store.open()
    try:
        now = datetime.now(UTC)
        data = report_bytes(load.orders_per_team)
        for g in range(load.groups):
            team = FIRST_GROUP - g
            await store.create_team(team, f"Store {g + 1}", TIMEZONE, ADMIN_ID, now)
            result = await Importer(store, Lifecycle(), lambda: datetime.now(UTC)).import_file(
                team, data, filename="unshipped.txt", actor=Actor.importer("bench"))  # fmt: skip
            assert result.new == load.orders_per_team and not result.refused, result
            await store.update_team(team, kinds_off=",".join(KINDS), digest_at="")
        for k in range(load.members):
            uid = 10_000 + k
            await store.seen(user_id=uid, name=f"Member {uid}", username=None, telegram_language="en", chat_id=uid,
                             chat_kind="private", chat_title="", at=now)  # fmt: skip
            await store.set_member(load.team_of(k), uid, "member", now, active=True)
    finally:
        await store.close()


class Databases:
    """The prepared database of each store, and a fresh copy of it for each run."""

    def __init__(self, pg: Any, workdir: Path, load: Workload) -> None:
        self.pg, self.workdir, self.load = pg, workdir, load
        self.sqlite = workdir / "prepared.sqlite3"
        self.pg_template = ""
        self.made: list[str] = []

    async def prepare(self) -> None:
        started = time.perf_counter()
        await prepare(self.sqlite, self.load)
        mid = time.perf_counter()
        url = self.pg.create(schema=True)
        await prepare(url, self.load)
        self.pg_template = url.rpartition("/")[2]
        print(f"prepared: {self.load.groups} teams x {self.load.orders_per_team} orders, {self.load.members} people: "
              f"SQLite {mid - started:.1f} s, PostgreSQL {time.perf_counter() - mid:.1f} s", flush=True)  # fmt: skip

    def copy(self, kind: str) -> str:
        if kind == "sqlite":
            path = Path(tempfile.mkdtemp(dir=self.workdir)) / "desk.sqlite3"
            shutil.copyfile(self.sqlite, path)
            return str(path)
        import psycopg

        name = "run_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_template}"')
        self.made.append(name)
        return str(self.pg.url_of(name))


# ----------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    key: str
    commands: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    bot_cpu: float = 0.0
    pg_cpu: float = 0.0
    busy: float = 0.0  # of the machine's cores, 0..1
    load: tuple[float, float] = (0.0, 0.0)  # load average before, after
    retries: int = 0
    extra: int = 0  # messages to the people besides one answer per command (a reply sent twice)
    checked: str = ""

    @property
    def rate(self) -> float:
        return self.commands / self.seconds


def _count_rows(target: str, sql: str) -> list[tuple[Any, ...]]:
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    with sqlite3.connect(target) as conn:
        return conn.execute(sql).fetchall()


def verify(target: str, shipped: dict[tuple[int, str], str]) -> str:
    """Each order shipped once, with the tracking number sent; every update done."""
    events = {(team, oid): n for team, oid, n in _count_rows(
        target, "SELECT team_id, order_id, count(*) FROM events WHERE action = 'ship' GROUP BY team_id, order_id")}  # fmt: skip
    rows = {(team, oid): (goods, tracking) for team, oid, goods, tracking in _count_rows(
        target, "SELECT team_id, order_id, goods, tracking FROM orders WHERE goods != 'unshipped'")}  # fmt: skip
    problems = [f"{key}: {events.get(key, 0)} ship events" for key in shipped if events.get(key) != 1]
    problems += [
        f"{key}: {rows.get(key)}" for key, tracking in shipped.items() if rows.get(key) != ("shipped", tracking)
    ]
    if set(events) - set(shipped):
        problems.append(f"{len(set(events) - set(shipped))} orders shipped that nobody shipped")
    inbox = dict(_count_rows(target, "SELECT status, count(*) FROM inbox GROUP BY status"))
    if set(inbox) - {"done"}:
        problems.append(f"inbox not all done: {inbox}")
    if problems:
        raise AssertionError("database check failed:\n  " + "\n  ".join(problems[:20]))
    return f"{len(shipped)} orders shipped once each, {inbox.get('done', 0)} updates done"


async def run(key: str, kind: str, replicas: int, dbs: Databases, load: Workload, workdir: Path,
              postmaster: int | None) -> RunResult:  # fmt: skip
    from bot.settings import Settings

    api = HostedAPI()
    await api.start()
    target = dbs.copy(kind)
    desks: list[Desk] = []
    result = RunResult(key)
    try:
        people = []
        for k in range(load.members):
            person = api.user(10_000 + k, f"Member {10_000 + k}", language_code="en")
            api.group(load.team_of(k), f"Store {FIRST_GROUP - load.team_of(k) + 1}").add(person, "member")
            api.private(person)
            people.append(person)
        if kind == "pg":
            desks = [Desk(api, target, workdir / f"{key}-{i}.log", webhook=True) for i in range(replicas)]
            await asyncio.gather(*(d.ready() for d in desks))
            await api.balance([d.url for d in desks], Settings(token=api.token, db_path=Path("x")).webhook_secret_token)
        else:
            desks = [Desk(api, target, workdir / f"{key}.log", webhook=False)]

        async def ask(person: Any, text: str, answer: Callable[[str], bool]) -> tuple[str, float]:
            """Send ``text``, wait for the answer (another message, e.g. an earlier answer sent twice, is
            counted, not taken for it)."""
            waiter = asyncio.get_running_loop().create_future()
            api.waiters[person.id] = (answer, waiter)
            began = time.perf_counter()
            await api.send_text(person, person, text)
            answer = await asyncio.wait_for(waiter, 120)
            return answer, time.perf_counter() - began

        # Warm-up, not measured: each person's first message (who they are, the membership look-up).
        await asyncio.wait_for(asyncio.gather(*(ask(p, f"/order {order_id(0)}", card(order_id(0))) for p in people)),
                               180)  # fmt: skip

        numbers = tracking_numbers(load.members * load.ships_each)
        shipped: dict[tuple[int, str], str] = {}
        per_team: dict[int, int] = {}
        scripts: list[list[tuple[str, Callable[[str], bool]]]] = []
        for k, _person in enumerate(people):
            team = load.team_of(k)
            script = []
            for c in range(load.commands):
                if c % 2 == 0:
                    n = per_team.get(team, 0) + 1  # order 0 is the warm-up's card
                    per_team[team] = n
                    oid, tracking = order_id(n), numbers[len(shipped)]
                    shipped[(team, oid)] = tracking
                    confirmation = f"Order {oid} shipped with UPS, tracking number {tracking}."
                    script.append((f"/ship {oid} UPS {tracking}", confirmation.__eq__))
                else:
                    script.append((f"/order {oid}", card(oid)))
            scripts.append(script)

        async def person_loop(person: Any, script: list[tuple[str, Callable[[str], bool]]]) -> list[float]:
            out = []
            for text, expect in script:
                try:
                    _, seconds = await ask(person, text, expect)
                except TimeoutError:
                    got = api.replies.get(person.id, [])[-3:]
                    raise AssertionError(
                        f"{text!r}: no answer as expected in 120 s; the last messages: {got}"
                    ) from None
                out.append(seconds)
            return out

        meter = Meter([d.process.pid for d in desks], postmaster if kind == "pg" else None)
        load0 = os.getloadavg()[0]
        bot0, pg0, (busy0, total0) = meter.read()
        began = time.perf_counter()
        latencies = await asyncio.gather(*(person_loop(p, s) for p, s in zip(people, scripts, strict=True)))
        result.seconds = time.perf_counter() - began
        bot1, pg1, (busy1, total1) = meter.read()
        result.load = (load0, os.getloadavg()[0])
        result.latencies = [x for each in latencies for x in each]
        result.commands = len(result.latencies)
        result.bot_cpu, result.pg_cpu = bot1 - bot0, pg1 - pg0
        result.busy = (busy1 - busy0) / max(1, total1 - total0)
        result.retries = api.post_retries
        result.extra = sum(len(v) for v in api.replies.values()) - len(people) - result.commands
        if api.errors:
            raise AssertionError(f"the fake refused {len(api.errors)} calls, e.g. {api.errors[0]}")
        for d in desks:
            d.stop()
        result.checked = verify(target, shipped)
    finally:
        for d in desks:
            d.stop()
        await api.stop()
    return result


def _line(label: str, runs: list[RunResult]) -> tuple[float, float, float]:
    rate = statistics.median(r.rate for r in runs)
    p50 = statistics.median(statistics.median(r.latencies) for r in runs) * 1000
    p95 = statistics.median(pct(r.latencies, 0.95) for r in runs) * 1000
    bot = statistics.median(1000 * r.bot_cpu / r.commands for r in runs)
    pgc = statistics.median(1000 * r.pg_cpu / r.commands for r in runs)
    busy = statistics.median(r.busy for r in runs) * 100
    loads = ", ".join(f"{r.load[0]:.1f}->{r.load[1]:.1f}" for r in runs)
    rates = ", ".join(f"{r.rate:.0f}" for r in runs)
    print(f"{label:<36} {runs[0].commands:>5} {rate:>8.1f} {p50:>8.1f} {p95:>8.1f} {bot:>8.2f} {pgc:>7.2f} "
          f"{busy:>6.0f}%  ({rates}; load {loads})")  # fmt: skip
    return rate, p50, p95


async def commands(args: argparse.Namespace, pg: Any, workdir: Path) -> None:
    load = Workload(args.groups, args.members, args.commands)
    dbs = Databases(pg, workdir, load)
    await dbs.prepare()
    postmaster = None
    if pg._data:  # started here: its postmaster's pid (the first line of postmaster.pid)
        postmaster = int(Path(pg._data, "postmaster.pid").read_text().split()[0])
    results: dict[str, list[RunResult]] = {key: [] for key, *_ in SETUPS}
    for i in range(args.repeat):
        # Rotate which set-up goes first, so none always runs on a warmer (or busier) machine.
        order = SETUPS[i % 3 :] + SETUPS[: i % 3]
        for key, _label, kind, replicas in order:
            r = await run(key, kind, replicas, dbs, load, workdir, postmaster)
            results[key].append(r)
            print(f"  run {i + 1} {key}: {r.rate:.1f} commands/s, p50 {statistics.median(r.latencies) * 1000:.0f} ms, "
                  f"machine {r.busy * 100:.0f}% busy, load {r.load[0]:.1f}->{r.load[1]:.1f}; {r.checked}"
                  + (f"; {r.retries} posts retried" if r.retries else "")
                  + (f"; {r.extra} messages more than one answer per command" if r.extra else ""), flush=True)  # fmt: skip
    print(f"\n== Commands: {load.members} people in {load.groups} teams, {load.commands} commands each "
          f"(/ship, /order alternately, each when the last answer came), no flood limits, no rate limiter; "
          f"median of {args.repeat} runs")  # fmt: skip
    print(f"{'set-up':<36} {'cmds':>5} {'cmds/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'bot CPU':>8} {'pg CPU':>7} "
          f"{'busy':>7}  (per run; load average before->after)")  # fmt: skip
    print(f"{'':<36} {'':>5} {'':>8} {'':>8} {'':>8} {'ms/cmd':>8} {'ms/cmd':>7} {'2 cores':>7}")
    figures = {key: _line(f"{key}  {label}", results[key]) for key, label, *_ in SETUPS}
    (a, a50, a95), (b, b50, b95), (c, c50, c95) = figures["a"], figures["b"], figures["c"]
    print(f"\nb/a (PostgreSQL webhook / SQLite polling): {b / a:.2f}x commands/s, p50 {b50 / a50:.2f}x, "
          f"p95 {b95 / a95:.2f}x")  # fmt: skip
    print(f"c/b (3 replicas / 1): {c / b:.2f}x commands/s, p50 {c50 / b50:.2f}x, p95 {c95 / b95:.2f}x")
    print(f"{os.cpu_count()} CPUs; the fake, the people, PostgreSQL and the bots share them.")


# ----------------------------------------------------------------------------- reads


def _schema(con: sqlite3.Connection) -> tuple[dict[str, dict[str, tuple[Any, ...]]], dict[str, tuple[str, str]]]:
    """Each table's columns (name -> table_info row), and every index, trigger and table: name -> (kind, sql)."""
    objects = {name: (kind, sql) for kind, name, sql in con.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")}  # fmt: skip
    tables = [name for name, (kind, _) in objects.items() if kind == "table"]
    return {t: {c[1]: tuple(c) for c in con.execute(f"PRAGMA table_info({t})")} for t in tables}, objects


def _repair(path: Path) -> list[str]:
    """A cached database built before a migration script was changed in place lacks what the change
    added (the reads-N files built at 17:01 on 2026-11-30 lack 0009's later ``teams.stuck_days``,
    ``tracking.concern`` and the ``tracking_off`` table). Added here from today's schema: a missing
    table as created, a missing column with its type and default, a missing or changed index or
    trigger as created. What could not be (a column of a table that changed otherwise) is returned."""
    from bot.storage.db import _statements, migrations

    fresh = sqlite3.connect(":memory:")
    try:
        for _version, sql in migrations():
            for statement in _statements(sql):
                fresh.execute(statement)
        want_cols, want = _schema(fresh)
    finally:
        fresh.close()
    con = sqlite3.connect(path, isolation_level=None)
    left: list[str] = []
    try:
        have_cols, have = _schema(con)
        done = []
        for name, (kind, sql) in want.items():
            if kind == "table" and name not in have:
                con.execute(sql)
                done.append(f"table {name}")
            elif kind == "table":
                for col, (_cid, _n, ctype, notnull, default, pk) in want_cols[name].items():
                    if col in have_cols[name]:
                        continue
                    if pk:
                        left.append(f"{name}.{col}")
                        continue
                    extra = (" NOT NULL" if notnull else "") + (f" DEFAULT {default}" if default is not None else "")
                    con.execute(f"ALTER TABLE {name} ADD COLUMN {col} {ctype}{extra}")
                    done.append(f"{name}.{col}")
        for name, (kind, sql) in want.items():
            if kind in ("index", "trigger") and have.get(name) != (kind, sql):
                if name in have:
                    con.execute(f"DROP {kind.upper()} {name}")
                con.execute(sql)
                done.append(f"{kind} {name}")
        if done:
            print(f"{path.name}: brought up to today's schema: {', '.join(done)}", flush=True)
        return left
    finally:
        con.close()


def _pg_plan(url: str, sql: str, params: Any) -> list[str]:
    from bot.storage import pg

    conn = pg.Connection(url, application_name="bench")
    try:
        return [row[0] for row in conn.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()]
    finally:
        conn.close()


async def reads(args: argparse.Namespace, pg: Any) -> None:
    import bench_reads
    from bench_reads import Paths, db_path

    from bot.storage import Store

    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        path = db_path(size)
        if path.exists() and _repair(path):
            print(f"{path} is older than the schema (a migration changed since it was built): rebuilding", flush=True)
            await bench_reads.ensure([size], rebuild=True)
        else:
            await bench_reads.ensure([size], rebuild=False)  # prints how long, when it builds

    class PgPaths(Paths):
        def __init__(self, size: int, url: str) -> None:
            self.size, self.url = size, url
            self.store = Store(url)
            self.con = sqlite3.connect(db_path(size))  # only to find the deep pages' cursors (same rows)

    urls: dict[int, str] = {}
    for size in sizes:
        url = pg.create(schema=False)
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot", "migrate", "--from", str(db_path(size)), "--to", url],
                              cwd=ROOT, capture_output=True, text=True, env={**os.environ})  # fmt: skip
        took = time.perf_counter() - began
        if done.returncode != 0:
            raise RuntimeError(f"dingdan migrate failed ({done.returncode}): {done.stderr.strip()}")
        print(f"migrate {size:,} orders: {took:.1f} s ({done.stdout.strip()[:160]}…)", flush=True)
        if not args.no_analyze:
            import psycopg

            began = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE")
            print(f"  ANALYZE: {time.perf_counter() - began:.1f} s", flush=True)
        urls[size] = url

    bench_reads._capture_sql()
    lite = [Paths(size) for size in sizes]
    hosted = [PgPaths(size, urls[size]) for size in sizes]
    for p in lite + hosted:
        await p.open()
    try:
        names = list(lite[0].calls())
        times: dict[str, dict[str, list[float]]] = {"sqlite": {}, "pg": {}}
        for name in names:  # interleaved: a busy moment hits every size and both stores
            for store, paths in (("sqlite", lite), ("pg", hosted)):
                times[store][name] = [await p.time(p.calls()[name], args.runs) for p in paths]
        big, small = f"{sizes[-1]:,}", f"{sizes[0]:,}"
        print(f"\n== Reads, median of {args.runs} (ms); ratio {big} / {small} (target <= 2x)")
        print(f"| path | SQLite {small} | SQLite {big} | ratio | PostgreSQL {small} | PostgreSQL {big} | ratio |")
        print("|---|---|---|---|---|---|---|")
        for name in names:
            s, p = times["sqlite"][name], times["pg"][name]
            flag = "  ← over 2x" if p[-1] / p[0] > 2 else ""
            print(f"| {name} | {s[0]:.2f} | {s[-1]:.2f} | {s[-1] / s[0]:.2f}× | {p[0]:.2f} | {p[-1]:.2f} | "
                  f"{p[-1] / p[0]:.2f}×{flag} |")  # fmt: skip
        top = hosted[-1]
        print(f"\nPlans on PostgreSQL at {top.size:,} orders (EXPLAIN (COSTS OFF) of each statement the path ran):")
        for name in names:
            print(f"\n{name}:")
            seen = set()
            for sql, params in await top.statements(top.calls()[name]):
                if sql in seen:
                    continue
                seen.add(sql)
                steps = _pg_plan(top.url, sql, params)
                short = " ".join(sql.split())
                print(f"  {short[:150]}{'…' if len(short) > 150 else ''}")
                for step in steps:
                    scan = "Seq Scan on" in step and not any(t in step for t in ("teams", "order_counts", "team_hours"))
                    print(f"      {step}{'  ← SCAN' if scan else ''}")
    finally:
        for p in lite + hosted:
            await p.close()


# ----------------------------------------------------------------------------- main


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=60)
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--commands", type=int, default=10, help="per person, /ship and /order alternately (10)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=("commands", "reads"))
    parser.add_argument("--no-analyze", action="store_true", help="time the reads as `dingdan migrate` leaves them")
    args = parser.parse_args()

    from tests.support.pg import PgServer

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    started = time.perf_counter()
    pg = PgServer()
    pg.start()
    workdir = Path(tempfile.mkdtemp(prefix="dingdan-hosted-"))
    try:
        if args.only != "reads":
            await commands(args, pg, workdir)
        if args.only != "commands":
            await reads(args, pg)
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

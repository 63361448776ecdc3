"""kill -9 in the middle of work: after a restart every command is applied once and answered
once, and an interrupted import completes (issue 7, "Trust").

The real ``dingdan run`` process polls the fake Bot API; the test kills it with SIGKILL.
Telegram is made slow (the fake holds every sendMessage) while the burst is processed, so at
the kill some commands are done with their replies queued, some are half-way (their
transaction dies with the process), and some were fetched but not started; no reply is
half-sent. A reply cut exactly between Telegram taking it and the desk recording that is the
one case that can arrive twice (README, "What you can rely on").
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.db import opened
from tests.support.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
GROUP_ID = -1002223334445
PACKERS = 40

HEADER = (
    "order-id\torder-item-id\tpurchase-date\tpayments-date\treporting-date\tpromise-date\tdays-past-promise\t"
    "buyer-email\tbuyer-name\tbuyer-phone-number\tsku\tproduct-name\tquantity-purchased\tquantity-shipped\t"
    "quantity-to-ship\tship-service-level\trecipient-name\tship-address-1\tship-address-2\tship-address-3\t"
    "ship-city\tship-state\tship-postal-code\tship-country\tis-business-order\tpurchase-order-number\t"
    "price-designation"
)


def order_id(n: int) -> str:
    return f"113-{5000000 + n:07d}-{8000000 + n:07d}"


def tracking(n: int) -> str:
    return f"1Z999AA1{n:010d}"


def unshipped_report(count: int, start: int = 0) -> bytes:
    """An Unshipped Orders report of ``count`` one-item orders, bought now, due in ten days."""
    now = datetime.now(UTC).replace(microsecond=0)
    bought, due = now.isoformat(), (now + timedelta(days=10)).isoformat()
    lines = [HEADER]
    for n in range(start, start + count):
        lines.append("\t".join([
            order_id(n), f"7{n:013d}", bought, bought, bought, due, "0", f"b{n}@marketplace.amazon.com",
            f"Buyer {n}", "", f"SKU-{n % 7}", "Desk lamp", "1", "0", "1", "Standard", f"Buyer {n}",
            f"{n} Main St", "", "", "Springfield", "IL", "62704", "US", "false", "", "",
        ]))  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    fake = FakeBotAPI()  # real time: the bot runs in its own process
    await fake.start()
    try:
        yield fake
    finally:
        fake.release("sendMessage")
        fake.release("file")
        await fake.stop()


class Desk:
    """``dingdan run`` as a child process on one database."""

    def __init__(self, api: FakeBotAPI, db: Path | str, log: Path) -> None:
        self.env = {
            "PATH": os.environ["PATH"], "DINGDAN_TOKEN": api.token, "DINGDAN_API_URL": api.base_url,
            "DINGDAN_FILE_URL": api.base_file_url, "DINGDAN_DB": str(db),
        }  # fmt: skip
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@asynccontextmanager
async def running(desk: Desk) -> AsyncIterator[Desk]:
    desk.start()
    try:
        yield desk
    finally:
        # On a thread: the fake Bot API runs on this event loop, and the desk's shutdown waits for
        # its answers (its long poll); blocking the loop held each stop until the poll timed out.
        await asyncio.to_thread(desk.stop)


def count(db: Path | str, sql: str, *params: object) -> int:
    with opened(db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


async def test_kill_9_mid_burst_loses_and_doubles_nothing(
    api: FakeBotAPI, db_target: Path | str, tmp_path: Path
) -> None:
    db, log = db_target, tmp_path / "desk.log"
    desk = Desk(api, db, log)
    alice = api.user(1001, "Alice", language_code="en")
    group = api.group(GROUP_ID, "Store A").add(alice, "creator")
    packers = [api.user(6000 + n, f"Packer {n}", language_code="en") for n in range(PACKERS)]
    for p in packers:
        group.add(p)
    chats = [api.private(p) for p in packers]

    async with running(desk):
        await api.ask(group, alice, "/start", timeout=30)
        summary = await api.upload(group, alice, "unshipped.txt", unshipped_report(PACKERS), timeout=30)
        assert summary[0]["text"].startswith(f"Unshipped Orders report read (utf-8): {PACKERS} new,")

        # Telegram turns slow; forty packers each ship their order from a private chat.
        api.hold("sendMessage")
        await asyncio.gather(*(
            api.send_text(chat, p, f"/ship {order_id(n)} UPS {tracking(n)}")
            for n, (p, chat) in enumerate(zip(packers, chats, strict=True))
        ))  # fmt: skip
        await api.wait_for(lambda: count(db, "SELECT count(*) FROM events WHERE action = 'ship'") >= 12,
                           timeout=60, what="a third of the burst to be applied")  # fmt: skip
        desk.kill()
    applied_at_kill = count(db, "SELECT count(*) FROM events WHERE action = 'ship'")
    assert applied_at_kill < PACKERS, "the kill came too late to interrupt anything"
    assert all(len(api.sent(chat)) == 0 for chat in chats)
    # The requests the dead process had under way are dropped with its connections.
    await api.wait_for(lambda: api.held("sendMessage") == 0, what="the dead process's requests to end")
    api.release("sendMessage")

    async with running(desk):
        await api.wait_for(lambda: all(len(api.sent(chat)) >= 1 for chat in chats), timeout=90,
                           what="every packer to be answered after the restart")  # fmt: skip
        await api.wait_for(lambda: count(db, "SELECT count(*) FROM outbox WHERE status != 'sent'") == 0
                           and count(db, "SELECT count(*) FROM inbox WHERE status != 'done'") == 0,
                           timeout=30, what="the outbox and the inbox to be empty")  # fmt: skip
    for n, chat in enumerate(chats):
        assert [m["text"] for m in api.sent(chat)] == [
            f"Order {order_id(n)} shipped with UPS, tracking number {tracking(n)}."
        ]
    assert count(db, "SELECT count(*) FROM events WHERE action = 'ship'") == PACKERS
    assert count(db, "SELECT count(DISTINCT order_id) FROM events WHERE action = 'ship'") == PACKERS
    assert count(db, "SELECT count(*) FROM orders WHERE goods = 'shipped'") == PACKERS
    assert count(db, "SELECT count(*) FROM shipments") == PACKERS


async def test_an_import_interrupted_by_kill_9_completes_after_the_restart(
    api: FakeBotAPI, db_target: Path | str, tmp_path: Path
) -> None:
    db, log = db_target, tmp_path / "desk.log"
    desk = Desk(api, db, log)
    alice = api.user(1001, "Alice", language_code="en")
    group = api.group(GROUP_ID, "Store A").add(alice, "creator")
    async with running(desk):
        await api.ask(group, alice, "/start", timeout=30)
        api.hold("file")  # the download is under way when the process dies
        await api.upload_document(group, alice, "unshipped.txt", unshipped_report(500))
        await api.wait_for(lambda: api.held("file") == 1, timeout=30, what="the download to start")
        desk.kill()
    assert count(db, "SELECT count(*) FROM orders") == 0
    await api.wait_for(lambda: api.held("file") == 0, what="the dead process's download to end")
    api.release("file")
    sent = len(api.sent(group))
    async with running(desk):
        await api.wait_for(lambda: len(api.sent(group)) > sent, timeout=60, what="the import's summary")
        await api.wait_for(lambda: count(db, "SELECT count(*) FROM inbox WHERE status != 'done'") == 0, timeout=30)
    assert [m["text"] for m in api.sent(group)[sent:]] == [
        "Unshipped Orders report read (utf-8): 500 new, 0 updated, 0 unchanged."
    ]
    assert count(db, "SELECT count(*) FROM orders") == 500
    assert count(db, "SELECT count(*) FROM imports") == 1

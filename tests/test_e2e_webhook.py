"""Webhook mode (issue 13, point 2): Telegram posts each update to the desk, which keeps it in
its inbox before answering 200, then processes it exactly as a polled one.

The real Application runs in webhook mode on 127.0.0.1; the fake Bot API acts as Telegram:
after setWebhook it posts every update with the secret header and tries again until answered
2xx (tests/support/fakebotapi.py). Here the ``desk`` fixture is the webhook desk, so the
scenario's team (``team``) works through the webhook. The last test runs ``dingdan run
--webhook`` as a process, kills it right after an update was answered 200 and before it was
processed, and finds it processed after the restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram.ext import Application

from bot.app import running
from bot.settings import Settings
from tests.support.clock import FakeClock
from tests.support.desk import desk_settings, settled
from tests.support.fakebotapi import FakeBotAPI, user_entities
from tests.support.scenario import MIC, Team, says

ROOT = Path(__file__).resolve().parent.parent
HOOK_PATH = "/telegram/hook"
SHIPPED = f"Order {MIC} shipped with UPS, tracking number 1Z999AA10123456784."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_settings(api: FakeBotAPI, clock: FakeClock, db_target: Path | str) -> Settings:
    port = free_port()
    return replace(desk_settings(api, clock, db_target), webhook_url=f"http://127.0.0.1:{port}{HOOK_PATH}",
                   listen=f"127.0.0.1:{port}")  # fmt: skip


@pytest.fixture
async def desk(fake_api: FakeBotAPI, clock: FakeClock, db_target: Path | str) -> AsyncIterator[Application]:
    """The real dingdan Application in webhook mode (alerts off, as in conftest's ``desk``)."""
    async with running(webhook_settings(fake_api, clock, db_target)) as app:
        for job in app.job_queue.get_jobs_by_name("alerts"):
            job.schedule_removal()
        yield app


def origin(app: Application) -> str:
    settings: Settings = app.bot_data["services"].settings
    host, _ = settings.listen_address
    return f"http://{host}:{app.bot_data['webhook'].port}"


def inbox(t: Team) -> list[tuple[int, str]]:
    with t.db() as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT update_id, status FROM inbox ORDER BY update_id")]


def handmade(api: FakeBotAPI, chat: Any, user: Any, text: str, update_id: int) -> dict[str, Any]:
    """An update as Telegram would post it, made here (the fake does not queue it)."""
    message: dict[str, Any] = {"message_id": 900_000 + update_id % 1000, "from": user.to_dict(),
                               "chat": chat.to_dict(), "date": api._now(), "text": text}  # fmt: skip
    entities = user_entities(text)
    if entities:
        message["entities"] = entities
    return {"update_id": update_id, "message": message}


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


# --- a team works through the webhook -------------------------------------------------


async def test_a_team_works_through_the_webhook_and_every_update_is_kept_before_the_200(team) -> None:
    t = team
    api, app = t.api, t.app
    settings: Settings = app.bot_data["services"].settings
    [hook] = api.calls_of("setWebhook")
    assert hook["url"] == settings.webhook_url
    assert hook["secret_token"] == settings.webhook_secret_token
    assert len(hook["secret_token"]) == 64 and hook["secret_token"] != settings.token
    assert hook["drop_pending_updates"] is False
    assert "message" in hook["allowed_updates"] and "callback_query" in hook["allowed_updates"]
    assert api.calls_of("getUpdates") == []  # webhook mode never polls
    assert api.texts(t.group)[0].startswith("dingdan is now this team's order desk.")

    assert await t.say(t.alice, f"/ship {MIC[-7:]} UPS 1Z999AA10123456784") == SHIPPED
    dm = api.private(t.carol)
    hello = await t.say(t.carol, "/start", chat=dm)
    assert hello.startswith(says("zh_Hant", "Hello! Here you work the orders of {team}.", team="Store A"))
    assert (await t.say(t.carol, f"/order {MIC[-7:]}", chat=dm)).startswith(
        says("zh_Hant", "<b>Order {order}</b>", order=MIC)
    )
    await settled(api, app)

    assert [e["action"] for e in t.events(MIC)][-1] == "ship"
    assert t.goods(MIC) == "shipped"
    posted = [u for u, status in api.webhook_posts if status == 200]
    assert len(posted) == len(set(posted)) == 5  # every update posted once, answered 200 once
    assert inbox(t) == [(u, "done") for u in sorted(posted)]


# --- what the webhook refuses ----------------------------------------------------------


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(team) -> None:
    t = team
    await settled(t.api, t.app)
    before, sent = (inbox(t), t.snapshot()), len(t.api.sent(t.group))
    update = handmade(t.api, t.group, t.alice, f"/ship {MIC[-7:]} UPS 1Z999AA10123456784", 700_000_001)
    assert await t.api.post_update(update, secret="not-the-secret") == 403
    assert await t.api.post_update(update, secret="") == 403  # no header at all
    wrong_length = t.app.bot_data["services"].settings.webhook_secret_token + "x"
    assert await t.api.post_update(update, secret=wrong_length) == 403
    await settled(t.api, t.app)
    assert (inbox(t), t.snapshot()) == before
    assert len(t.api.sent(t.group)) == sent
    assert t.goods(MIC) == "unshipped"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2, 3]", b'"text"', b"{}", b'{"update_id": "7"}', b'{"update_id": 700000002, "message": 7}',
     b'{"update_id": 700000003, "message": {"text": "/orders"}}'],
    ids=["not-json", "a-list", "a-string", "no-update-id", "update-id-not-a-number", "message-not-an-object",
         "message-without-chat"],
)  # fmt: skip
async def test_a_body_that_is_not_an_update_is_refused_with_400_and_nothing_is_stored(team, body: bytes) -> None:
    t = team
    await settled(t.api, t.app)
    before = (inbox(t), t.snapshot())
    assert await t.api.post_update(body=body, headers={"Content-Type": "application/json"}) == 400
    assert (inbox(t), t.snapshot()) == before


async def test_a_body_over_1_mb_is_refused_with_413(team) -> None:
    t = team
    await settled(t.api, t.app)
    before = inbox(t)
    big = handmade(t.api, t.group, t.bob, "/orders", 700_000_004)
    big["message"]["padding"] = "x" * (1024 * 1024)
    assert await t.api.post_update(big) == 413
    assert inbox(t) == before


async def test_only_post_with_the_secret_reaches_the_inbox(team) -> None:
    t = team
    status, _ = await get(origin(t.app) + HOOK_PATH)
    assert status == 405
    status, _ = await get(origin(t.app) + "/telegram/other")
    assert status == 404


# --- the same update twice -------------------------------------------------------------


async def test_the_same_update_posted_twice_is_applied_and_answered_once(team) -> None:
    t = team
    await settled(t.api, t.app)
    sent = len(t.api.sent(t.group))
    ship = handmade(t.api, t.group, t.alice, f"/ship {MIC[-7:]} UPS 1Z999AA10123456784", 700_000_010)
    # Telegram's retry races the first delivery (its 200 was lost), then comes once more later.
    assert await asyncio.gather(t.api.post_update(ship), t.api.post_update(ship)) == [200, 200]
    await settled(t.api, t.app)
    assert await t.api.post_update(ship) == 200
    await settled(t.api, t.app)

    assert [m["text"] for m in t.api.sent(t.group)[sent:]] == [SHIPPED]
    assert [e["action"] for e in t.events(MIC)].count("ship") == 1
    assert (700_000_010, "done") in inbox(t)
    with t.db() as conn:
        assert conn.execute("SELECT count(*) FROM shipments WHERE order_id = ?", (MIC,)).fetchone()[0] == 1


async def test_an_update_the_desk_could_not_store_is_answered_500_and_telegram_delivers_it_again(team) -> None:
    t = team
    await settled(t.api, t.app)
    store = t.app.bot_data["services"].store
    real = store.store_updates
    failures = []

    async def failing(updates: Any, now: Any) -> set[int]:
        if not failures:
            failures.append(updates[0][0])
            raise sqlite3.OperationalError("disk I/O error")
        return await real(updates, now)

    store.store_updates = failing
    try:
        assert await t.say(t.alice, f"/ship {MIC[-7:]} UPS 1Z999AA10123456784") == SHIPPED
    finally:
        store.store_updates = real
    await settled(t.api, t.app)
    statuses = [status for u, status in t.api.webhook_posts if u == failures[0]]
    assert statuses == [500, 200]
    assert [e["action"] for e in t.events(MIC)].count("ship") == 1


# --- health and readiness --------------------------------------------------------------


async def test_healthz_and_readyz_answer_without_the_secret_and_say_nothing_of_anyone(team) -> None:
    t = team
    base = origin(t.app)
    assert await get(base + "/healthz") == (200, "ok")
    assert await get(base + "/readyz") == (200, "ready")

    store = t.app.bot_data["services"].store
    real = store.inbox_status

    async def broken(update_id: int) -> str | None:
        raise sqlite3.OperationalError("database is locked")

    store.inbox_status = broken  # the database stops answering
    try:
        assert await get(base + "/readyz") == (503, "not ready")
        assert await get(base + "/healthz") == (200, "ok")  # the process itself still answers
    finally:
        store.inbox_status = real
    assert await get(base + "/readyz") == (200, "ready")


async def test_readyz_is_503_once_the_application_stops(fake_api, clock, tmp_path) -> None:
    settings = webhook_settings(fake_api, clock, tmp_path / "desk.sqlite3")
    async with running(settings) as app:
        base = origin(app)
        assert await get(base + "/readyz") == (200, "ready")
        await app.stop()
        assert await get(base + "/readyz") == (503, "not ready")
        assert await get(base + "/healthz") == (200, "ok")


# --- polling after a webhook -----------------------------------------------------------


async def test_a_desk_started_with_polling_after_a_webhook_takes_the_updates_by_polling(
    fake_api, clock, tmp_path
) -> None:
    api, db = fake_api, tmp_path / "desk.sqlite3"
    async with running(webhook_settings(api, clock, db)):
        pass
    assert api.webhook is not None  # a stopped replica leaves the webhook to the others
    async with running(desk_settings(api, clock, db)) as app:
        alice = api.user(1001, "Alice", language_code="en")
        group = api.group(-1001234567890, "Store A").add(alice, "creator")
        reply = (await api.ask(group, alice, "/start"))[0]["text"]
        assert reply.startswith("dingdan is now this team's order desk.")
        await settled(api, app)
    assert api.webhook is None
    assert len(api.calls_of("deleteWebhook")) == 1  # PTB's start_polling; not doubled
    assert [p["drop_pending_updates"] for p in api.calls_of("deleteWebhook")] == [False]


async def test_no_set_webhook_leaves_telegram_alone(fake_api, clock, tmp_path) -> None:
    settings = replace(webhook_settings(fake_api, clock, tmp_path / "desk.sqlite3"), set_webhook=False)
    async with running(settings) as app:
        assert await get(origin(app) + "/readyz") == (200, "ready")
    assert fake_api.calls_of("setWebhook") == []
    assert fake_api.calls_of("deleteWebhook") == []


async def test_a_port_in_use_stops_start_up_with_one_line(fake_api, clock, tmp_path) -> None:
    from bot.settings import StartupError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = replace(desk_settings(fake_api, clock, tmp_path / "desk.sqlite3"),
                           webhook_url=f"http://127.0.0.1:{port}/hook", listen=f"127.0.0.1:{port}")  # fmt: skip
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with running(settings):
                pass
    assert fake_api.calls_of("setWebhook") == []


# --- stopped right after the 200: processed after the restart ---------------------------


class WebhookDesk:
    """``dingdan run --webhook`` as a child process on one SQLite file, logging at DEBUG."""

    def __init__(self, api: FakeBotAPI, db: Path, log: Path) -> None:
        self.port = free_port()
        self.env = {
            "PATH": os.environ["PATH"], "DINGDAN_TOKEN": api.token, "DINGDAN_API_URL": api.base_url,
            "DINGDAN_FILE_URL": api.base_file_url, "DINGDAN_DB": str(db), "DINGDAN_LOG_LEVEL": "DEBUG",
        }  # fmt: skip
        self.args = ["--webhook", f"http://127.0.0.1:{self.port}/tg", "--listen", f"127.0.0.1:{self.port}"]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run", *self.args], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None


def status_of(db: Path, update_id: int) -> str | None:
    with sqlite3.connect(db, timeout=10) as conn:
        row = conn.execute("SELECT status FROM inbox WHERE update_id = ?", (update_id,)).fetchone()
    return row[0] if row else None


async def test_an_update_answered_200_then_killed_is_processed_after_the_restart(tmp_path: Path) -> None:
    api = FakeBotAPI()  # real time: the desk runs in its own process
    await api.start()
    db, log = tmp_path / "desk.sqlite3", tmp_path / "desk.log"
    desk = WebhookDesk(api, db, log)
    alice = api.user(1001, "Alice", language_code="en")
    bob = api.user(1002, "Bob", language_code="en")
    group = api.group(-1001234567890, "Store A").add(alice, "creator").add(bob)
    try:
        desk.start()
        assert (await api.ask(group, alice, "/start", timeout=30))[0]["text"].startswith(
            "dingdan is now this team's order desk."
        )
        # Bob's first command: the desk asks Telegram whether he is a member, and Telegram stalls.
        api.hold("getChatMember")
        await api.send_text(group, bob, "/orders")
        await api.wait_for(lambda: api.held("getChatMember") == 1, timeout=30, what="the membership look-up")
        [(update_id, status)] = [(u, s) for u, s in api.webhook_posts if u == max(api.deliveries)]
        assert status == 200 and api.pending_updates == []  # Telegram will not deliver it again
        desk.kill()
        assert status_of(db, update_id) == "new"
        assert len(api.sent(group)) == 1
        await api.wait_for(lambda: api.held("getChatMember") == 0, what="the dead process's requests to end")
        api.release("getChatMember")

        desk.start()
        await api.wait_for(lambda: len(api.sent(group)) == 2, timeout=30, what="Bob's answer after the restart")
        await api.wait_for(lambda: status_of(db, update_id) == "done", what="the update done")
        assert api.sent(group)[1]["text"] == "No orders in this list."
        # Waited for on a thread: the fake Bot API runs on this event loop, and the desk may still
        # be starting (its setWebhook comes after the updates it recovered). Blocking the loop
        # left that call unanswered until the desk gave up (exit 3 on a fast machine).
        assert await asyncio.to_thread(desk.stop) == 0
    finally:
        desk.stop()
        api.release("getChatMember")
        await api.stop()

    assert [s for u, s in api.webhook_posts if u == update_id] == [200]
    assert len(api.calls_of("setWebhook")) == 2
    text = log.read_text(encoding="utf-8")
    secret = api.calls_of("setWebhook")[0]["secret_token"]
    assert "setWebhook" in text  # PTB logged the call (DEBUG), its parameters redacted
    assert api.token not in text and api.token.split(":")[1] not in text
    assert secret not in text
    assert json.dumps(secret) not in text


# --- the settings --------------------------------------------------------------------


def test_the_webhook_is_configured_from_the_environment_and_every_replica_derives_the_same_secret() -> None:
    from bot.settings import ConfigError

    base = {"DINGDAN_TOKEN": "123:abc"}
    polling = Settings.from_env(base)
    assert (polling.webhook_url, polling.listen, polling.set_webhook) == ("", "0.0.0.0:8443", True)
    hooked = Settings.from_env({**base, "DINGDAN_WEBHOOK_URL": "https://bot.example.com/tg/hook",
                                "DINGDAN_LISTEN": "[::]:8080", "DINGDAN_SET_WEBHOOK": "0"})  # fmt: skip
    assert (hooked.webhook_path, hooked.listen_address, hooked.set_webhook) == ("/tg/hook", ("::", 8080), False)
    # The same token, the same secret (replicas agree); another token, another secret.
    assert hooked.webhook_secret_token == Settings.from_env(base).webhook_secret_token
    assert hooked.webhook_secret_token != Settings.from_env({"DINGDAN_TOKEN": "123:abd"}).webhook_secret_token
    assert len(hooked.webhook_secret_token) == 64 and "abc" not in hooked.webhook_secret_token
    given = Settings.from_env({**base, "DINGDAN_WEBHOOK_SECRET": "Shared_secret-1"})
    assert given.webhook_secret_token == "Shared_secret-1"
    assert "Shared_secret-1" not in repr(given)

    for env, message in [
        ({"DINGDAN_WEBHOOK_URL": "http://bot.example.com/tg"}, "must be an https address"),
        ({"DINGDAN_WEBHOOK_URL": "https://user:pw@bot.example.com/tg"}, "must be an https address"),
        ({"DINGDAN_WEBHOOK_URL": "bot.example.com/tg"}, "must be an https address"),
        ({"DINGDAN_LISTEN": "8443"}, "is not host:port"),
        ({"DINGDAN_LISTEN": "0.0.0.0:99999"}, "is not host:port"),
        ({"DINGDAN_WEBHOOK_SECRET": "has spaces in it"}, "must be 1 to 256 of the characters"),
        ({"DINGDAN_WEBHOOK_SECRET": "x" * 257}, "must be 1 to 256 of the characters"),
        ({"DINGDAN_SET_WEBHOOK": "maybe"}, "use 1 or 0"),
    ]:
        with pytest.raises(ConfigError, match=message) as err:
            Settings.from_env({**base, **env})
        assert "pw@" not in str(err.value) and "has spaces" not in str(err.value)


def test_dingdan_run_takes_the_webhook_from_its_options_and_checks_them(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "DINGDAN_TOKEN": "123:abc", "DINGDAN_DB": str(tmp_path / "x.sqlite3")}
    result = subprocess.run([sys.executable, "-m", "bot", "run", "--webhook", "http://bot.example.com/tg"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("dingdan: The webhook address (DINGDAN_WEBHOOK_URL or --webhook) must be an https")
    assert len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run([sys.executable, "-m", "bot", "run", "--webhook", "https://bot.example.com/tg",
                             "--listen", "nowhere"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "(DINGDAN_LISTEN or --listen) 'nowhere' is not host:port" in result.stderr
    usage = subprocess.run([sys.executable, "-m", "bot", "run", "--help"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert (
        "--webhook URL" in usage.stdout and "--listen HOST:PORT" in usage.stdout and "--no-set-webhook" in usage.stdout
    )


async def test_a_webhook_address_telegram_refuses_stops_start_up_with_one_line(fake_api, clock, tmp_path) -> None:
    from bot.settings import StartupError

    settings = webhook_settings(fake_api, clock, tmp_path / "desk.sqlite3")
    fake_api.fail_next("setWebhook", 400, description="Bad Request: bad webhook: Failed to resolve host")
    with pytest.raises(StartupError, match="Telegram refused the webhook address http://127.0.0.1:") as err:
        async with running(settings):
            pass
    assert "(Bad webhook: failed to resolve host); check DINGDAN_WEBHOOK_URL or --webhook." in str(err.value)
    assert settings.webhook_secret_token not in str(err.value)

"""One ``dingdan run`` per database, as an operator meets it: the real process against the fake
Bot API, a second one started on the same database, the first killed with SIGKILL.

Two pollers on one database both get the updates their long polls overlap on: one ``/refund``
was refunded twice. The second run must stop at once with one line and its own exit code
(4), never touching Telegram; the first goes on answering. The lock is the kernel's, so a
process killed with ``kill -9`` leaves nothing to clean up. The database, its -wal and -shm
files and the lock file are readable by the bot's user only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fakebotapi import FakeBotAPI
from tests.support.scenario import GROUP_ID, sample, says

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes and SIGKILL are POSIX")


class Run:
    """One ``python -m bot run`` process; its output goes to a file (a full pipe would stall it)."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid


@pytest.fixture
async def runs(fake_api: FakeBotAPI, tmp_path: Path) -> AsyncIterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:  # whatever a failed assertion left running
        if run.process.returncode is None:
            run.process.kill()
            await run.process.wait()


def environment(api: FakeBotAPI, db: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "DINGDAN_TOKEN": api.token, "DINGDAN_DB": str(db),
            "DINGDAN_API_URL": api.base_url}  # fmt: skip


async def start(runs: list[Run], env: dict[str, str], log: Path) -> Run:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
                                                       stdin=subprocess.DEVNULL, stdout=out, stderr=out)  # fmt: skip
    run = Run(process, log)
    runs.append(run)
    return run


async def polling(api: FakeBotAPI, run: Run, since: int) -> None:
    """Until ``run`` asks for updates (``since``: how many Bot API calls there were before it started)."""

    def ready() -> bool:
        if run.process.returncode is not None:
            raise AssertionError(f"dingdan run exited with {run.process.returncode}:\n{run.log.read_text()}")
        return any(method == "getUpdates" for method, _params in api.calls[since:])

    await api.wait_for(ready, timeout=60, what="dingdan run polling")


async def dingdan(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """A command to its end, without blocking the loop the fake Bot API runs on: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
                                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                   stderr=subprocess.PIPE)  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def getme_calls(api: FakeBotAPI) -> int:
    return sum(1 for method, _params in api.calls if method == "getMe")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_second_run_on_the_same_database_stops_at_once_and_a_killed_one_leaves_no_lock(
    fake_api: FakeBotAPI, tmp_path: Path, runs: list[Run]
) -> None:
    db = tmp_path / "desk.sqlite3"
    env = environment(fake_api, db)
    alice = fake_api.user(1001, "Alice", language_code="en")
    dm = fake_api.private(alice)
    welcome = says("en", "Hello! I am dingdan, an order desk for Amazon seller teams. Add me to your team's group "
                   "and have an administrator send /start there; then you can also use me here.")  # fmt: skip

    first = await start(runs, env, tmp_path / "first.log")
    await polling(fake_api, first, 0)

    # The operator starts it again, by mistake, from another shell.
    said_who = getme_calls(fake_api)
    assert await dingdan("run", env=env) == (4, "", f"dingdan: another dingdan is already running on {db} (pid "
                                                    f"{first.pid}); stop it first, or set DINGDAN_DB to another "
                                                    "database.\n")  # fmt: skip
    assert getme_calls(fake_api) == said_who  # it never spoke to Telegram

    # The first still answers; `dingdan import` from the shell works beside it (it takes no lock).
    replies = await fake_api.ask(dm, alice, "/start", expect=1, timeout=30)
    assert replies[0]["text"] == welcome
    group = fake_api.group(GROUP_ID, "Store A")
    group.add(alice, "creator")
    await fake_api.ask(group, alice, "/start", expect=1, timeout=30)
    report = tmp_path / "unshipped.txt"
    report.write_bytes(sample("unshipped-orders-us.txt"))
    code, out, _err = await dingdan("import", str(report), env=env)
    assert (code, out) == (0, "Unshipped Orders report read (utf-8): 4 new, 0 updated, 0 unchanged.\n")

    # Only the bot's user may read the database, its WAL files and the lock.
    for suffix in ("", "-wal", "-shm", ".lock"):
        assert oct(mode(Path(f"{db}{suffix}"))) == oct(0o600), suffix
    assert (tmp_path / "desk.sqlite3.lock").read_text() == f"{first.pid}\n"

    (help_reply,) = await fake_api.ask(dm, alice, "/help", expect=1, timeout=30)
    help_before = help_reply["text"]
    assert help_before.startswith("dingdan works your Amazon orders from this chat.")

    # kill -9: no clean-up runs, yet the kernel released the lock and a new run starts.
    first.process.send_signal(signal.SIGKILL)
    assert await first.process.wait() == -signal.SIGKILL
    for suffix in ("", "-wal", "-shm"):  # what a killed run leaves behind, as private as ever
        assert oct(mode(Path(f"{db}{suffix}"))) == oct(0o600), suffix
    calls = len(fake_api.calls)
    third = await start(runs, env, tmp_path / "third.log")
    await polling(fake_api, third, calls)
    replies = await fake_api.ask(dm, alice, "/help", expect=1, timeout=30)
    assert replies[0]["text"] == help_before
    third.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(third.process.wait(), 30) == 0
    assert "Traceback" not in third.log.read_text()
    assert oct(mode(db)) == oct(0o600)


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    from bot.storage import Store

    db = tmp_path / "old.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").write_bytes(b"")
        os.chmod(f"{db}{suffix}", 0o644)

    async def open_and_close() -> None:
        store = Store(db)
        await store.open()
        await store.close()

    asyncio.run(open_and_close())
    assert oct(mode(db)) == oct(0o600)
    for suffix in ("-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        assert not path.exists() or oct(mode(path)) == oct(0o600)

"""Several ``dingdan run --webhook`` processes on one PostgreSQL database, and the test as the
load balancer in front of them (issue 13, "How it is checked").

``Replica`` is one process (the venv's ``dingdan``, its own port on 127.0.0.1, ``--no-set-webhook``:
nobody tells the fake Bot API an address, so the fake keeps what people send). ``Dispatcher``
plays Telegram and the balancer: it takes each update the fake holds and POSTs it, with the
secret, to a replica chosen by a seeded random generator, about one in four a second time (to
another replica or the same one, at once or after the first answer). A post that finds no
replica listening (it was killed) goes to another one, as Telegram tries again.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "replicas-test-secret_1"
HOOK = "/tg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dingdan() -> list[str]:
    """The venv's ``dingdan`` (its console script beside this Python), else ``python -m bot``."""
    script = Path(sys.executable).with_name("dingdan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class Replica:
    """One ``dingdan run --webhook`` process; started again on the same port after a kill."""

    def __init__(self, n: int, api: FakeBotAPI, db_url: str, log: Path, env: dict[str, str]) -> None:
        self.n = n
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{HOOK}"
        self.env = {
            "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DINGDAN_TOKEN": api.token,
            "DINGDAN_API_URL": api.base_url, "DINGDAN_FILE_URL": api.base_file_url, "DINGDAN_DB": db_url,
            "DINGDAN_WEBHOOK_SECRET": SECRET, "DINGDAN_LOG_LEVEL": "INFO", **env,
        }  # fmt: skip
        self.args = ["run", "--webhook", self.url, "--listen", f"127.0.0.1:{self.port}", "--no-set-webhook"]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.lives = 0

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        self.lives += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== replica {self.n}, life {self.lives} =====\n".encode())
            out.flush()
            self.process = subprocess.Popen([*dingdan(), *self.args], cwd=ROOT, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)  # fmt: skip

    async def ready(self, deadline: float = 60.0) -> None:
        """Wait (polling /readyz, with a deadline) until the process takes updates."""
        end = time.monotonic() + deadline
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"replica {self.n} exited with {self.process.returncode}; see {self.log}")
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/readyz") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                if time.monotonic() > end:
                    raise AssertionError(f"replica {self.n} not ready after {deadline} s; see {self.log}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None


@dataclass
class Post:
    update_id: int
    replica: int
    status: int  # HTTP status, 0: no replica answered (connection refused or reset)
    copy: int  # 1: the first delivery, 2: the second


@dataclass
class Dispatcher:
    """Telegram and the load balancer: every update the fake holds is posted to random replicas."""

    api: FakeBotAPI
    replicas: list[Replica]
    seed: int = 13
    twice: float = 0.25
    posts: list[Post] = field(default_factory=list)
    doubled: set[int] = field(default_factory=set)
    #: (chat id, message id) -> the update that carried the message
    ids: dict[tuple[int, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self.api._notify()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    @property
    def busy(self) -> bool:
        """Updates the fake holds or that are on their way to a replica."""
        return bool(self.api.pending_updates) or bool(self._inflight)

    def replicas_of(self, update_id: int) -> list[int]:
        """The replicas that answered 200 for ``update_id``."""
        return [p.replica for p in self.posts if p.update_id == update_id and p.status == 200]

    async def _run(self) -> None:
        while not self._stopping:
            updates = [u for u in self.api._updates if self.api._allowed(u)]
            if not updates:
                await self.api._wait_change(1.0)
                continue
            self.api._updates = [u for u in self.api._updates if u not in updates]
            for update in updates:
                message = update.get("message")
                if isinstance(message, dict):
                    self.ids[(message["chat"]["id"], message["message_id"])] = int(update["update_id"])
                task = asyncio.create_task(self._deliver(update))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _deliver(self, update: dict[str, Any]) -> None:
        first = self.random.randrange(len(self.replicas))
        again = self.random.random() < self.twice
        second = self.random.randrange(len(self.replicas))
        together = self.random.random() < 0.5
        body = json.dumps(copy.deepcopy(update), ensure_ascii=False).encode()
        update_id = int(update["update_id"])
        if not again:
            await self._until_taken(update_id, body, first, 1)
            return
        self.doubled.add(update_id)
        if together:
            await asyncio.gather(self._until_taken(update_id, body, first, 1),
                                 self._until_taken(update_id, body, second, 2))  # fmt: skip
        else:
            await self._until_taken(update_id, body, first, 1)
            await self._until_taken(update_id, body, second, 2)

    async def _until_taken(self, update_id: int, body: bytes, start: int, copy_no: int) -> None:
        """POST until a replica answers 2xx: ``start`` first, then the next ones in turn."""
        n, pause = start, 0.05
        while True:
            status = await self._post(self.replicas[n], body)
            self.posts.append(Post(update_id, n, status, copy_no))
            self.api._notify()
            if 200 <= status < 300:
                self.api.deliveries[update_id] = self.api.deliveries.get(update_id, 0) + 1
                return
            n = (n + 1) % len(self.replicas)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def _post(self, replica: Replica, body: bytes) -> int:
        assert self._session is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        try:
            async with self._session.post(replica.url, data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            return 0

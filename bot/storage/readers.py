"""The reader connections: a heavy read holds one of them, the other reads go to the rest.

With one reader, every read waited behind the one before it: while ``/orders all`` ran for 6 s
on a big history, another person's card took 9 s (issue 11). A read goes to an idle reader;
when none is idle, to the one whose running read began last: a heavy read is the one that
has been running longest, so nothing is queued behind it while another reader serves. Reads
sent to one reader run one after the other on its thread, so a burst of small reads is
pipelined (one thread hop each, not a wait for a free connection each).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from bot.storage.errors import NotOpen


class _Reader:
    """A reader connection and when each read sent to it started, oldest first."""

    __slots__ = ("conn", "started", "held")

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.started: deque[float] = deque()
        self.held = False  # lent out whole (``Readers.holding``): no other read goes to it


class Readers:
    """The pool of reader connections of one database file."""

    def __init__(self) -> None:
        self._all: list[_Reader] = []
        #: Set when a held reader is given back (a read may be waiting for one).
        self._given_back = asyncio.Event()

    def add(self, conn: aiosqlite.Connection) -> None:
        self._all.append(_Reader(conn))

    async def close(self) -> None:
        readers, self._all = self._all, []
        for reader in readers:
            await reader.conn.close()

    async def rows(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Iterable[Any]:
        """The rows of one query, on the reader :meth:`_choose` picks."""
        reader = self._choose() or await self._wait()
        reader.started.append(time.monotonic())
        try:
            return await reader.conn.execute_fetchall(sql, params)
        finally:
            # Reads finish in the order they were sent; a cancelled one leaves early, which
            # only blurs which start time is the oldest.
            reader.started.popleft()

    async def run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """``work(connection)`` on the thread of the reader :meth:`_choose` picks: several
        statements in one hop (an order and its items)."""
        reader = self._choose() or await self._wait()
        reader.started.append(time.monotonic())
        try:
            return await reader.conn._execute(work, reader.conn._conn)
        finally:
            reader.started.popleft()

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[aiosqlite.Connection]:
        """One reader lent out whole, for several statements; other reads go elsewhere."""
        reader = self._choose() or await self._wait()
        reader.held = True
        try:
            yield reader.conn
        finally:
            reader.held = False
            self._given_back.set()

    def _choose(self) -> _Reader | None:
        """An idle reader, else the one whose running read began last; None when every
        reader is held."""
        if not self._all:
            raise NotOpen("Store.open() first")
        best: _Reader | None = None
        for reader in self._all:
            if reader.held:
                continue
            if not reader.started:
                return reader
            if best is None or reader.started[0] > best.started[0]:
                best = reader
        return best

    async def _wait(self) -> _Reader:
        while True:
            self._given_back.clear()
            await self._given_back.wait()
            reader = self._choose()
            if reader is not None:
                return reader

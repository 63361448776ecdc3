"""Counting the calls into the database (issue 11 point 4).

A call is one piece of work handed to a connection: a statement or a whole transaction. On
SQLite small work runs on the event loop's own thread (``Database.run_inline``), the rest hops
into a connection's thread (aiosqlite's ``_execute``: a queue, a thread woken, the loop woken
again). PostgreSQL's calls always hop. :class:`Calls` records both, in order, with who made
them: the task's coroutine, and whether an update was being processed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.storage import current_unit
from bot.storage.db import Database


@dataclass(frozen=True)
class Call:
    task: str  # the coroutine of the task that made it, e.g. "Sender._deliver"
    hop: bool  # it went into a connection's thread (else: on the event loop's thread)
    in_update: bool  # made while an update was processed


def _in_update() -> bool:
    unit = current_unit()
    return unit is not None and not unit.closed


def _task_name() -> str:
    task = asyncio.current_task()
    return getattr(task.get_coro(), "__qualname__", "") if task is not None else ""


class Calls:
    """Records every call into the database from now on (``monkeypatch`` undoes it)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.all: list[Call] = []
        hop, inline = aiosqlite.Connection._execute, Database.run_inline

        async def spy_hop(conn: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.all.append(Call(_task_name(), True, _in_update()))
            return await hop(conn, fn, *args, **kwargs)

        def spy_inline(db: Database, work: Any, *, near: bool) -> Any:
            self.all.append(Call(_task_name(), False, _in_update()))
            return inline(db, work, near=near)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", spy_hop)
        monkeypatch.setattr(Database, "run_inline", spy_inline)

    def clear(self) -> None:
        self.all.clear()

    @property
    def in_update(self) -> list[Call]:
        """The calls made while an update was processed."""
        return [c for c in self.all if c.in_update]

    def by(self, prefix: str) -> list[Call]:
        """The calls made by tasks whose coroutine's name starts with ``prefix``."""
        return [c for c in self.all if c.task.startswith(prefix)]

"""Leases: named pieces of work a replica holds for a while (its heartbeat, a shard of the
teams), so that several replicas on one database never do the same work at once.

A lease is a row (name, holder, until). Taking it is one upsert: a new name is inserted; a
name already there changes hands only when its holder takes it again (a renewal) or its
``until`` has passed. The statement's row count says whether the caller holds it now, so two
replicas racing for a free lease cannot both win: the database decides, in one statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from bot.storage.db import Database
from bot.storage.values import iso


class Lease(NamedTuple):
    name: str
    holder: str
    until: datetime


class LeaseTables(Database):
    """The ``leases`` table (part of ``Store``). Times are the replicas' wall clock, UTC."""

    async def take(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Hold ``name`` until ``until`` if it is free, expired (before ``now``) or already ours."""
        changed = await self.execute_write(
            "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until "
            "WHERE leases.holder = excluded.holder OR leases.until < ?",
            (name, holder, iso(until), iso(now)),
        )
        return changed > 0

    async def release(self, names: list[str], holder: str) -> int:
        """Give up leases we hold (a clean stop, or more shards than our share); others' are untouched."""
        if not names:
            return 0
        marks = ", ".join("?" * len(names))
        return await self.execute_write(f"DELETE FROM leases WHERE holder = ? AND name IN ({marks})", (holder, *names))

    async def release_all(self) -> int:
        """Forget every lease, and every claim on the outbox's messages (``bot.storage.outbox``):
        only for a database one process uses alone (SQLite, under its lock), where a lease left
        by a crash would otherwise keep the restarted process waiting."""
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE status = 'pending' "
                "AND claimed_by IS NOT NULL"
            )
            return (await tx.execute("DELETE FROM leases")).rowcount

    async def release_claims(self, holder: str) -> int:
        """Give up ``holder``'s claims on the outbox's messages (a clean stop after its sender
        stopped, or a past life of this process): whoever sends to those chats next need not
        wait for the claims to run out."""
        return await self.execute_write(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE status = 'pending' AND claimed_by = ?",
            (holder,),
        )

    async def holders(self, now: datetime) -> list[Lease]:
        """The leases still running at ``now``, by name."""
        rows = await self.fetchall("SELECT name, holder, until FROM leases WHERE until >= ? ORDER BY name", (iso(now),))
        return [Lease(name, holder, datetime.fromisoformat(until)) for name, holder, until in rows]

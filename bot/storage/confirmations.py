"""Questions the desk asked with Yes/No buttons (a refund, a tracking correction), kept until answered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.storage.db import Database
from bot.storage.values import dumps, iso

#: An expired question is kept this long after it expired, then cleared.
EXPIRED_QUESTIONS_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class Confirmation:
    """A question asked with Yes/No buttons: who may answer it, about what, until when."""

    token: str
    team_id: int
    user_id: int
    chat_id: int
    order_id: str
    action: str
    details: dict[str, Any]
    expires_at: datetime


class ConfirmationTables(Database):
    """The confirmations table (part of ``Store``)."""

    async def add_confirmation(self, c: Confirmation, now: datetime) -> None:
        async with self.transaction() as tx:
            # Expired questions stay a day, so a late press is told "expired", not "answered".
            await tx.execute("DELETE FROM confirmations WHERE expires_at < ?", (iso(now - EXPIRED_QUESTIONS_KEPT),))
            await tx.execute(
                "INSERT INTO confirmations (token, team_id, user_id, chat_id, order_id, action, details, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.token, c.team_id, c.user_id, c.chat_id, c.order_id, c.action, dumps(c.details), iso(now),
                 iso(c.expires_at)),
            )  # fmt: skip

    async def take_confirmation(self, token: str) -> Confirmation | None:
        """The question and its answer are used once: the row goes as it is read."""
        async with self.transaction() as tx:
            async with tx.execute(
                "SELECT token, team_id, user_id, chat_id, order_id, action, details, expires_at FROM confirmations "
                "WHERE token = ?",
                (token,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            await tx.execute("DELETE FROM confirmations WHERE token = ?", (token,))
        return _confirmation_from_row(row)

    async def peek_confirmation(self, token: str) -> Confirmation | None:
        row = await self.fetchone(
            "SELECT token, team_id, user_id, chat_id, order_id, action, details, expires_at FROM confirmations "
            "WHERE token = ?",
            (token,),
        )
        return _confirmation_from_row(row) if row else None


def _confirmation_from_row(row: Sequence[Any]) -> Confirmation:
    token, team_id, user_id, chat_id, order_id, action, details, expires_at = row
    return Confirmation(
        token, team_id, user_id, chat_id, order_id, action, json.loads(details), datetime.fromisoformat(expires_at)
    )

"""Who may use the desk: a group is a team once an admin starts it there; its members act
on its orders, in the group and in their private chat with the bot. Nobody else sees any
order data.

Telegram is asked through an injected ``status_of(chat_id, user_id)`` so this module
stays free of the transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.domain import Refusal
from bot.storage import Store

MEMBER = frozenset({"creator", "administrator", "member", "restricted"})
ADMIN = frozenset({"creator", "administrator"})
#: How long a membership answer from Telegram is trusted before asking again.
MEMBERSHIP_TTL = timedelta(minutes=10)
#: A private chat with no known team asks Telegram about at most this many teams.
_MAX_PROBES = 20

StatusOf = Callable[[int, int], Awaitable[str]]


class Access:
    def __init__(self, store: Store, status_of: StatusOf, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.status_of = status_of
        self.clock = clock
        self._fresh: dict[tuple[int, int], datetime] = {}

    async def team_for(self, chat_id: int, private: bool, user_id: int) -> int:
        """The team whose orders this person acts on from this chat, or a refusal."""
        if not private:
            if await self.store.team(chat_id) is None:
                raise Refusal("not_a_team")
            # Only members can write in a group: what they typed proves membership.
            await self._remember(chat_id, user_id, "member", active=True)
            return chat_id
        user = await self.store.user(user_id)
        candidates: list[int] = []
        if user is not None and user.active_team is not None:
            candidates.append(user.active_team)
        candidates += [t for t in await self.store.teams_of(user_id) if t not in candidates]
        if not candidates:
            candidates = [t.team_id for t in await self.store.teams()][:_MAX_PROBES]
        for team_id in candidates:
            if await self.is_member(team_id, user_id):
                return team_id
        raise Refusal("not_a_member")

    async def is_member(self, team_id: int, user_id: int) -> bool:
        known = await self.store.member(team_id, user_id)
        now = self.clock()
        if known is not None and now - known[1] < MEMBERSHIP_TTL:
            return known[0] in MEMBER
        status = await self._ask(team_id, user_id)
        await self._remember(team_id, user_id, status, active=status in MEMBER, force=True)
        return status in MEMBER

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        return await self._ask(chat_id, user_id) in ADMIN

    async def _ask(self, chat_id: int, user_id: int) -> str:
        try:
            return await self.status_of(chat_id, user_id)
        except Exception:  # noqa: BLE001 - the bot left that group, or Telegram is unsure: not a member
            return "left"

    async def _remember(self, team_id: int, user_id: int, status: str, *, active: bool, force: bool = False) -> None:
        now = self.clock()
        last = self._fresh.get((team_id, user_id))
        if not force and last is not None and now - last < MEMBERSHIP_TTL:
            return
        if await self.store.team(team_id) is None:
            return
        await self.store.set_member(team_id, user_id, status, now, active=active)
        self._fresh[(team_id, user_id)] = now

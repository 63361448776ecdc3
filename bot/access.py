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
from bot.refusal_codes import AccessCode
from bot.storage import Store

MEMBER = frozenset({"creator", "administrator", "member", "restricted"})
ADMIN = frozenset({"creator", "administrator"})
#: How long a membership answer from Telegram is trusted before asking again (the default of
#: DINGDAN_MEMBERSHIP_TTL). Short: a person who leaves without the desk hearing of it (no
#: chat_member update) loses access within it.
MEMBERSHIP_TTL = timedelta(minutes=1)
#: A private chat with no known team asks Telegram about at most this many teams.
_MAX_PROBES = 20

StatusOf = Callable[[int, int], Awaitable[str]]


class Access:
    """Membership is verified with Telegram, never assumed from being seen in a group: in a
    public supergroup anyone can press a button, and a discussion group may let non-members
    write. Leaving the group (a ``chat_member`` update or the service message) revokes access
    at once; otherwise an answer is trusted for ``trust``."""

    def __init__(self, store: Store, status_of: StatusOf, clock: Callable[[], datetime],
                 trust: timedelta = MEMBERSHIP_TTL) -> None:  # fmt: skip
        self.store = store
        self.status_of = status_of
        self.clock = clock
        self.trust = trust

    async def team_for(self, chat_id: int, private: bool, user_id: int) -> int:
        """The team whose orders this person acts on from this chat, or a refusal."""
        if not private:
            if await self.store.team(chat_id) is None:
                raise Refusal(AccessCode.not_a_team)
            if not await self.is_member(chat_id, user_id):
                raise Refusal(AccessCode.not_a_member)
            return chat_id
        user = await self.store.user(user_id)
        first = user.active_team if user is not None else None
        # One read for the candidates, the person's membership in each and the teams.
        for team_id in await self.store.teams_to_try(user_id, first, _MAX_PROBES):
            if await self.is_member(team_id, user_id):
                return team_id
        raise Refusal(AccessCode.not_a_member)

    async def is_member(self, team_id: int, user_id: int) -> bool:
        known = await self.store.member(team_id, user_id)
        if known is not None and self.clock() - known[1] < self.trust:
            return known[0] in MEMBER
        status = await self._ask(team_id, user_id)
        if status:
            await self.record(team_id, user_id, status)
        return status in MEMBER

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        status = await self._ask(chat_id, user_id)
        if status:
            await self.record(chat_id, user_id, status)
        return status in ADMIN

    async def record(self, team_id: int, user_id: int, status: str) -> None:
        """What Telegram said of this person in a team's group (nothing for other chats)."""
        if await self.store.team(team_id) is None:
            return
        await self.store.set_member(team_id, user_id, status, self.clock(), active=status in MEMBER)

    async def _ask(self, chat_id: int, user_id: int) -> str:
        """Telegram's status of the person in the chat; "" when Telegram could not say (the bot
        left that group, or an error): not a member this time, and nothing is recorded."""
        try:
            return await self.status_of(chat_id, user_id)
        except Exception:  # noqa: BLE001 - not verified means no access, never an error in the chat
            return ""

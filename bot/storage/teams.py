"""Teams, chats, people and who is a member of which team."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from bot.storage import pg
from bot.storage.db import Database
from bot.storage.unit import _UNIT
from bot.storage.values import dumps, iso
from bot.team_settings import SETTING_NAMES, InvalidSetting, TeamSettings, format_hours, format_time


@dataclass(frozen=True)
class Team:
    """A group that works as a team, with its settings read and typed."""

    team_id: int  # the group's Telegram chat id
    title: str
    settings: TeamSettings
    unreachable_since: str | None = None  # the bot was removed or blocked then
    started_by: int | None = None
    started_at: str | None = None

    @property
    def timezone(self) -> str:
        """The team's time zone name: dates and times are shown in it."""
        return self.settings.timezone


#: Team settings a group administrator may change with /alerts (each a ``teams`` column).
TEAM_SETTINGS = frozenset(SETTING_NAMES)
_TEAM_COLUMNS = ", ".join(("team_id", "title", *SETTING_NAMES, "unreachable_since", "started_by", "started_at"))
_TEAM_COLUMNS_OF_T = ", ".join(f"t.{c}" for c in _TEAM_COLUMNS.split(", "))
#: Telegram's statuses of a member (``bot.access.MEMBER``; ``teams_of`` names them in its SQL).
_MEMBER = frozenset({"creator", "administrator", "member", "restricted"})
#: The teams a private chat with no known team asks about (``bot.access._MAX_PROBES``; a
#: ``teams_to_try`` with other ``probes`` reads again).
_PROBES = 20
#: Who wrote where is written again after this long even when nothing of it changed.
SEEN_AGAIN = timedelta(minutes=10)


def _candidates(db: Any, user_id: int, first: int | None, probes: int) -> tuple[list[Any], list[Any]]:
    """What ``TeamTables.teams_to_try`` reads, in one go on ``db``: the person's membership
    checks, the most recent first, and the rows of the teams to try (``first`` and those they
    are a member of; else the first ``probes`` teams)."""
    checks = db.execute(
        "SELECT team_id, status, checked_at FROM members WHERE user_id = ? ORDER BY checked_at DESC", (user_id,)
    ).fetchall()
    mine = [t for t, status, _ in checks if status in _MEMBER]
    ids = list(dict.fromkeys(([] if first is None else [first]) + mine))
    if ids:
        rows = db.execute(f"SELECT {_TEAM_COLUMNS} FROM teams WHERE team_id IN ({', '.join('?' * len(ids))})", ids)
    else:
        rows = db.execute(f"SELECT {_TEAM_COLUMNS} FROM teams ORDER BY started_at LIMIT ?", (probes,))
    return list(checks), list(rows.fetchall())


def _team_from_row(row: Sequence[Any]) -> Team:
    team_id, title, *rest = row
    settings = _settings(team_id, tuple(rest[: len(SETTING_NAMES)]))
    unreachable_since, started_by, started_at = rest[len(SETTING_NAMES) :]
    return Team(team_id, title, settings, unreachable_since, started_by, started_at)


@functools.lru_cache(maxsize=1024)
def _settings(team_id: int, stored: tuple[Any, ...]) -> TeamSettings:
    """A team's settings are read on every command and every alert check, and seldom change:
    each stored form is parsed once (the value is immutable, so it is shared)."""
    return TeamSettings.readable(dict(zip(SETTING_NAMES, stored, strict=True)), team_id=team_id)


def _columns(settings: TeamSettings, names: Sequence[str] = SETTING_NAMES) -> dict[str, object]:
    """Settings as the ``teams`` table keeps them: the same text the /alerts buttons carry."""
    every: dict[str, object] = {
        "timezone": settings.timezone,
        "lead_hours": ",".join(format_hours(h) for h in settings.lead_hours),
        "digest_at": "" if settings.digest_at is None else format_time(settings.digest_at),
        # No quiet hours are kept as an empty window (equal times), as they always were.
        "quiet_from": "00:00" if settings.quiet_from is None else format_time(settings.quiet_from),
        "quiet_until": "00:00" if settings.quiet_until is None else format_time(settings.quiet_until),
        "pending_days": settings.pending_days,
        "kinds_off": ",".join(sorted(settings.kinds_off)),
        "default_carrier": settings.default_carrier,
        "stuck_days": settings.stuck_days,
    }
    return {name: every[name] for name in names}


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    username: str | None
    telegram_language: str | None
    language: str | None
    active_team: int | None


@dataclass(frozen=True)
class TeamMove:
    """What following a group's upgrade to a supergroup did (see :meth:`Store.move_team`)."""

    moved: bool  # the team moved now; False: nothing (left) to move, or the supergroup is taken
    orders: int  # the orders it has (took along, or left behind when the supergroup is taken)
    occupied: bool = False  # the supergroup already is a team with orders: nothing was merged
    first: bool = False  # ... and this is the first time it was found so (the group was told)


#: Tables holding a team's rows by ``team_id``: all of them follow the team to its new chat id.
TEAM_TABLES = ("members", "orders", "order_items", "events", "shipments", "imports", "confirmations", "alerts",
               "snoozes", "outbox", "amazon_accounts", "team_hours", "tracking", "tracking_off")  # fmt: skip
#: Of those, the tables whose ``chat_id`` says where something happened: the group's id there
#: becomes the supergroup's, so history and questions stay with the group.
_CHAT_IN_TEAM_TABLES = ("events", "imports", "confirmations")


async def _give_way_pg(tx: Any, table: str, both: dict[str, int]) -> None:
    """PostgreSQL's form of SQLite's ``UPDATE OR REPLACE members`` / ``UPDATE OR IGNORE`` (``table``)
    from the team ``:new`` to ``:old``: a membership replaces the old one; another row that would
    clash with one the old team has stays behind (and goes with the empty team's row)."""
    if table == "members":
        await tx.execute("DELETE FROM members WHERE team_id = :old AND user_id IN "
                         "(SELECT user_id FROM members WHERE team_id = :new)", both)  # fmt: skip
        await tx.execute("UPDATE members SET team_id = :old WHERE team_id = :new", both)
        return
    for (row,) in await tx.execute_fetchall(f"SELECT ctid::text FROM {table} WHERE team_id = :new", both):
        await tx.execute("SAVEPOINT give_way")
        try:
            await tx.execute(f"UPDATE {table} SET team_id = :old WHERE ctid = CAST(:row AS tid)", {**both, "row": row})
        except pg.UniqueViolation:
            await tx.execute("ROLLBACK TO SAVEPOINT give_way")
        await tx.execute("RELEASE SAVEPOINT give_way")


class TeamTables(Database):
    """The teams, chats, people and membership tables (part of ``Store``).

    Every update reads who wrote and for which team, so some of it is kept in memory: the
    person and the team for the rest of the update (``Unit.reads``, forgotten at its first
    write), and, across updates, membership checks, a person's teams and chats' languages,
    which only this class writes (one process per database) and forgets when it does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._members: dict[tuple[int, int], tuple[str, datetime] | None] = {}
        self._teams_of: dict[int, list[int]] = {}
        self._chat_languages: dict[int, str | None] = {}
        #: What ``seen`` last wrote of a person (what they are called, and their row as it
        #: returned it) and of a chat, and when: the same again within :data:`SEEN_AGAIN` is
        #: not written again (SQLite, where this process is the only one writing people).
        self._seen_people: dict[int, tuple[tuple[Any, ...], datetime, tuple[Any, ...]]] = {}
        self._seen_chats: dict[int, tuple[tuple[Any, ...], datetime]] = {}
        #: Moves on at every change of what is kept: a read that overlapped one keeps nothing.
        self._generation = 0

    def _keeps(self, generation: int) -> bool:
        """Whether a read begun at ``generation`` may be kept: nothing changed meanwhile, and it
        did not read through an update's unfinished transaction."""
        return generation == self._generation and self._writing_unit() is None

    def _changed(self, forget: Callable[[], None]) -> None:
        """What is kept changes: forget it now, and again once the update's transaction (if
        the change joined one) has committed, so nothing read in between stays."""
        self._generation += 1
        forget()
        unit = self._writing_unit()
        if unit is not None:

            async def again() -> None:
                self._generation += 1
                forget()

            unit.later(again)

    def _update_reads(self) -> dict[tuple[Any, ...], Any] | None:
        """What the update being processed has read (see ``Unit.reads``), if there is one."""
        unit = _UNIT.get()
        return unit.reads if unit is not None and unit.store is self and not unit.closed else None

    def _forget_memberships(self) -> None:
        def forget() -> None:
            self._members.clear()
            self._teams_of.clear()
            self._chat_languages.clear()
            self._seen_people.clear()
            self._seen_chats.clear()

        self._changed(forget)

    async def create_team(self, team_id: int, title: str, timezone: str, by: int, at: datetime) -> bool:
        """Make a group a team with the default settings in ``timezone``; False when it already
        was one (its settings are kept). :class:`InvalidSetting` for a zone that does not exist."""
        settings = _columns(TeamSettings(timezone))
        async with self.transaction() as tx:
            async with tx.execute("SELECT 1 FROM teams WHERE team_id = ?", (team_id,)) as cur:
                existed = await cur.fetchone() is not None
            if existed:
                await tx.execute("UPDATE teams SET title = ? WHERE team_id = ?", (title, team_id))
            else:
                await tx.execute(
                    f"INSERT INTO teams (team_id, title, {', '.join(settings)}, started_by, started_at) "
                    f"VALUES (?, ?, {', '.join('?' * len(settings))}, ?, ?)",
                    (team_id, title, *settings.values(), by, iso(at)),
                )
        return not existed

    async def team(self, team_id: int) -> Team | None:
        reads, key = self._update_reads(), ("team", team_id)
        if reads is not None and key in reads:
            return cast("Team | None", reads[key])
        row = await self.fetchone(f"SELECT {_TEAM_COLUMNS} FROM teams WHERE team_id = ?", (team_id,))
        team = _team_from_row(row) if row else None
        if reads is not None:
            reads[key] = team
        return team

    async def teams(self) -> list[Team]:
        rows = await self.fetchall(f"SELECT {_TEAM_COLUMNS} FROM teams ORDER BY started_at")
        return [_team_from_row(r) for r in rows]

    async def update_team(self, team_id: int, **changes: object) -> None:
        """Change some of a team's settings, given as text (what was typed or pressed) or values.

        Each value is checked as :class:`TeamSettings` checks it; :class:`InvalidSetting` (and
        nothing written) for a name that is not a setting or a value that does not fit. Only the
        settings named are written, so two administrators changing two settings both win.
        """
        if ("quiet_from" in changes) != ("quiet_until" in changes):
            raise InvalidSetting("quiet_from" if "quiet_from" in changes else "quiet_until",
                                 changes.get("quiet_from", changes.get("quiet_until")),
                                 "quiet hours begin and end together")  # fmt: skip
        if not changes:
            return
        # Checked against the defaults: each setting stands on its own (the quiet pair together).
        columns = _columns(TeamSettings("UTC").changed(**changes), list(changes))
        sets = ", ".join(f"{name} = ?" for name in columns)
        async with self.transaction() as tx:
            await tx.execute(f"UPDATE teams SET {sets} WHERE team_id = ?", (*columns.values(), team_id))

    async def team_language(self, team_id: int) -> tuple[str | None, str | None, str | None]:
        """(the group's language, the starter's chosen language, the starter's Telegram language)."""
        row = await self.fetchone(
            "SELECT c.language, u.language, u.telegram_language FROM teams t LEFT JOIN chats c ON c.chat_id = t.team_id "
            "LEFT JOIN users u ON u.user_id = t.started_by WHERE t.team_id = ?",
            (team_id,),
        )
        return (row[0], row[1], row[2]) if row else (None, None, None)

    async def forget_team(self, team_id: int) -> None:
        async with self.transaction() as tx:
            await tx.execute("DELETE FROM teams WHERE team_id = ?", (team_id,))
        self._forget_memberships()

    async def move_team(
        self,
        old_id: int,
        new_id: int,
        *,
        title: str | None,
        now: datetime,
        moved_notice: Callable[[int], dict[str, Any]],
        occupied_notice: Callable[[int], dict[str, Any]],
    ) -> TeamMove:
        """A basic group became a supergroup, with a new chat id: the team follows it, whole.

        Telegram says so twice (a service message in each chat), and again on every send to
        the old id (ChatMigrated): the first signal moves the team in one transaction and
        queues ``moved_notice(orders)`` for the supergroup; later signals find nothing to move.
        An empty team that an administrator started in the supergroup meanwhile gives way
        (its newer membership checks and queued messages are kept); a supergroup that already
        is a team with orders is never merged into: the old team's messages are held, and
        ``occupied_notice(orders)`` is queued there the first time. Otherwise, messages queued
        for the old chat go to the new one (without quoting: the old messages are gone).
        """
        old, new, at = {"old": old_id}, {"new": new_id}, iso(now)
        self._forget_memberships()
        both = {**old, **new}
        retarget = (
            "UPDATE outbox SET chat_id = :new, payload = json_remove(payload, '$.reply_to'), claimed_by = NULL, "
            "claimed_until = NULL WHERE chat_id = :old AND status IN ('pending', 'held')"
        )
        async with self.transaction() as tx:
            async with tx.execute(
                "SELECT unreachable_since, (SELECT coalesce(sum(n), 0) FROM order_counts WHERE team_id = :old) "
                "FROM teams "
                "WHERE team_id = :old", old,
            ) as cur:  # fmt: skip
                found = await cur.fetchone()
            if found is None:  # moved already, or never a team: only stray messages follow
                await tx.execute(retarget, both)
                return TeamMove(moved=False, orders=0)
            unreachable_since, orders = found
            async with tx.execute(
                "SELECT EXISTS (SELECT 1 FROM orders WHERE team_id = :new) FROM teams WHERE team_id = :new", new
            ) as cur:
                occupant = await cur.fetchone()
            if occupant is not None and occupant[0]:
                first = unreachable_since is None
                if first:
                    await tx.execute("UPDATE teams SET unreachable_since = ? WHERE team_id = ?", (at, old_id))
                    await tx.execute(
                        "UPDATE outbox SET status = 'held', last_error = ?, claimed_by = NULL, claimed_until = NULL "
                        "WHERE status = 'pending' AND (team_id = ? OR chat_id = ?)",
                        (f"migrated to {new_id}, another team", old_id, old_id),
                    )
                    await tx.execute(
                        "INSERT INTO outbox (team_id, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                        (new_id, new_id, dumps(occupied_notice(orders)), at, at),
                    )
                return TeamMove(moved=False, orders=orders, occupied=True, first=first)
            # Children point at the team by its id and no key cascades on update: the checks
            # wait for the commit, when every row points at the new id.
            await tx.execute("PRAGMA defer_foreign_keys = ON")
            if occupant is not None:
                # The empty team gives way; what it learnt since (fresher membership checks,
                # messages on their way) joins the old team first. Its digest ledger and the
                # like lose to the old team's, and go with the empty team's row.
                await tx.execute("UPDATE users SET active_team = :old WHERE active_team = :new", both)
                for table in TEAM_TABLES:
                    if self.dialect == "pg":
                        await _give_way_pg(tx, table, both)
                        continue
                    verb = "UPDATE OR REPLACE" if table == "members" else "UPDATE OR IGNORE"
                    await tx.execute(f"{verb} {table} SET team_id = :old WHERE team_id = :new", both)
                await tx.execute("DELETE FROM teams WHERE team_id = :new", new)
            # The bot is in the supergroup (Telegram copied the members, and told it there or in
            # the old group): whatever was held for an unreachable group is sent again, and the
            # sender holds it anew if that was wrong.
            await tx.execute(
                "UPDATE teams SET team_id = :new, title = coalesce(:title, title), unreachable_since = NULL "
                "WHERE team_id = :old",
                {**both, "title": title},
            )
            for table in TEAM_TABLES:
                if table in _CHAT_IN_TEAM_TABLES:
                    sets = "team_id = :new, chat_id = CASE chat_id WHEN :old THEN :new ELSE chat_id END"
                else:
                    sets = "team_id = :new"
                await tx.execute(f"UPDATE {table} SET {sets} WHERE team_id = :old", both)
            await tx.execute(retarget, both)
            await tx.execute(
                "UPDATE outbox SET status = 'pending', not_before = :at WHERE team_id = :new AND status = 'held'",
                {**new, "at": at},
            )
            await tx.execute("UPDATE users SET active_team = :new WHERE active_team = :old", both)
            # The group's language: the old group's choice, else one made in the supergroup.
            await tx.execute(
                "INSERT INTO chats (chat_id, kind, title, language, updated_at) "
                "SELECT :new, 'supergroup', title, language, :at FROM chats WHERE chat_id = :old "
                "ON CONFLICT (chat_id) DO UPDATE SET kind = 'supergroup', "
                "language = coalesce(excluded.language, chats.language), updated_at = excluded.updated_at",
                {**both, "at": at},
            )
            await tx.execute("DELETE FROM chats WHERE chat_id = :old", old)
            await tx.execute(
                "INSERT INTO outbox (team_id, chat_id, payload, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                (new_id, new_id, dumps(moved_notice(orders)), at, at),
            )
        self._forget_memberships()
        return TeamMove(moved=True, orders=orders)

    async def seen(
        self,
        *,
        user_id: int,
        name: str,
        username: str | None,
        telegram_language: str | None,
        chat_id: int,
        chat_kind: str,
        chat_title: str,
        at: datetime,
    ) -> None:
        """Remember who wrote where (one transaction, two statements, one hop). In a private
        chat, what the access check reads next (``teams_to_try``) is read in the same hop.
        Someone writing again where they wrote in the last :data:`SEEN_AGAIN`, under the same
        name, is not written again (a transaction a command saved). This process remembers what
        it wrote; what it does not know yet (a person's first message since it started) is read
        first, in the same transaction, and written only if it changed or is older than
        :data:`SEEN_AGAIN`: a restart does not write everyone again."""
        stamp = iso(at)
        generation = self._generation
        ahead: list[Any] = []
        who, where = (name, username, telegram_language), (chat_kind, chat_title)
        person, chat = self._seen_people.get(user_id), self._seen_chats.get(chat_id)
        if (self.inline and person is not None and chat is not None and person[0] == who and chat[0] == where
                and timedelta(0) <= at - person[1] < SEEN_AGAIN and timedelta(0) <= at - chat[1] < SEEN_AGAIN):  # fmt: skip
            reads = self._update_reads()
            if reads is not None:
                reads["user", user_id] = User(*person[2])
            return
        # Not known to this process (its first message since the start): the stored rows decide.
        check = self.inline and (person is None or chat is None)
        stored: list[datetime] = []  # when the rows kept as they were had been written

        def fresh(text: str) -> datetime | None:
            written = datetime.fromisoformat(text)
            return written if timedelta(0) <= at - written < SEEN_AGAIN else None

        def write(db: sqlite3.Connection) -> Any:
            row = None
            if check:
                known = db.execute(
                    "SELECT u.user_id, u.name, u.username, u.telegram_language, u.language, u.active_team, "
                    "u.updated_at, c.kind, c.title, c.updated_at FROM users u JOIN chats c ON c.chat_id = ? "
                    "WHERE u.user_id = ?",
                    (chat_id, user_id),
                ).fetchone()
                if known is not None and tuple(known[1:4]) == who and tuple(known[7:9]) == where:
                    person_seen, chat_seen = fresh(known[6]), fresh(known[9])
                    if person_seen is not None and chat_seen is not None:
                        stored.extend((person_seen, chat_seen))
                        row = known[:6]
            if row is None:
                # The person as written, for the rest of the update (see ``user``).
                row = db.execute(
                    "INSERT INTO users (user_id, name, username, telegram_language, updated_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, username = excluded.username, "
                    "telegram_language = excluded.telegram_language, updated_at = excluded.updated_at "
                    "RETURNING user_id, name, username, telegram_language, language, active_team",
                    (user_id, name, username, telegram_language, stamp),
                ).fetchone()
                db.execute(
                    "INSERT INTO chats (chat_id, kind, title, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (chat_id) DO UPDATE SET kind = excluded.kind, title = excluded.title, "
                    "updated_at = excluded.updated_at",
                    (chat_id, chat_kind, chat_title, stamp),
                )
            if chat_kind == "private":
                ahead.append(_candidates(db, user_id, row[5], _PROBES))
            return row

        # Kept as they were, the transaction wrote nothing: its commit writes no page.
        row = await self.write_in_one(write, standalone=True, changes=[("user", user_id)], small=True)
        if self.inline and self._keeps(generation):
            person_at, chat_at = stored if stored else (at, at)
            self._seen_people[user_id] = (who, person_at, tuple(row))
            self._seen_chats[chat_id] = (where, chat_at)
        reads = self._update_reads()
        if reads is not None:
            reads["user", user_id] = User(*row)
            if ahead:
                reads["candidates", user_id] = (row[5], _PROBES, generation, *ahead[0])

    async def user(self, user_id: int) -> User | None:
        reads, key = self._update_reads(), ("user", user_id)
        if reads is not None and key in reads:
            return cast("User | None", reads[key])
        # With the team they work for (most often the one the update is for: one read, not two).
        row = await self.fetchone(
            "SELECT u.user_id, u.name, u.username, u.telegram_language, u.language, u.active_team, "
            f"{_TEAM_COLUMNS_OF_T} FROM users u LEFT JOIN teams t ON t.team_id = u.active_team WHERE u.user_id = ?",
            (user_id,),
        )
        user = User(*row[:6]) if row else None
        if reads is not None:
            reads[key] = user
            if user is not None and user.active_team is not None:
                reads.setdefault(("team", user.active_team), _team_from_row(row[6:]) if row[6] is not None else None)
        return user

    async def chat_language(self, chat_id: int) -> str | None:
        if chat_id in self._chat_languages:
            return self._chat_languages[chat_id]
        generation = self._generation
        row = await self.fetchone("SELECT language FROM chats WHERE chat_id = ?", (chat_id,))
        language = row[0] if row else None
        if self._keeps(generation):
            self._chat_languages[chat_id] = language
        return language

    async def set_user_language(self, user_id: int, language: str | None) -> None:
        def forget() -> None:
            self._seen_people.pop(user_id, None)

        self._changed(forget)
        async with self.transaction() as tx:
            await tx.execute("UPDATE users SET language = ? WHERE user_id = ?", (language, user_id))
        self._changed(forget)

    async def set_chat_language(self, chat_id: int, language: str | None) -> None:
        def forget() -> None:
            self._chat_languages.pop(chat_id, None)

        self._changed(forget)
        async with self.transaction() as tx:
            await tx.execute("UPDATE chats SET language = ? WHERE chat_id = ?", (language, chat_id))
        self._changed(forget)

    async def set_member(self, team_id: int, user_id: int, status: str, at: datetime, *, active: bool) -> None:
        """Record a membership check; an active member's private chat then serves this team."""

        def forget() -> None:
            self._members.pop((team_id, user_id), None)
            self._teams_of.pop(user_id, None)
            self._seen_people.pop(user_id, None)  # its active team

        self._changed(forget)
        stamp = iso(at)

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO members (team_id, user_id, status, checked_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, user_id) DO UPDATE SET status = excluded.status, checked_at = excluded.checked_at",
                (team_id, user_id, status, stamp),
            )
            if active:
                db.execute("UPDATE users SET active_team = ? WHERE user_id = ?", (team_id, user_id))
            else:  # left or removed: their private chat no longer serves this team
                db.execute(
                    "UPDATE users SET active_team = NULL WHERE user_id = ? AND active_team = ?", (user_id, team_id)
                )

        await self.write_in_one(write, standalone=True, changes=[("user", user_id)], small=True)
        self._changed(forget)

    async def member(self, team_id: int, user_id: int) -> tuple[str, datetime] | None:
        """The last membership check of the person in the team: (Telegram's status, when)."""
        key = (team_id, user_id)
        if key in self._members:
            return self._members[key]
        generation = self._generation
        row = await self.fetchone(
            "SELECT status, checked_at FROM members WHERE team_id = ? AND user_id = ?", (team_id, user_id)
        )
        found = (row[0], datetime.fromisoformat(row[1])) if row else None
        if self._keeps(generation):
            self._members[key] = found
        return found

    async def teams_of(self, user_id: int) -> list[int]:
        """Teams the user was last seen a member of, the most recently checked first."""
        if user_id in self._teams_of:
            return list(self._teams_of[user_id])
        generation = self._generation
        rows = await self.fetchall(
            "SELECT team_id FROM members WHERE user_id = ? AND status IN ('creator','administrator','member','restricted') "
            "ORDER BY checked_at DESC",
            (user_id,),
            small=True,
        )
        teams = [r[0] for r in rows]
        if self._keeps(generation):
            self._teams_of[user_id] = teams
        return list(teams)

    async def teams_to_try(self, user_id: int, first: int | None, probes: int) -> list[int]:
        """The teams a person's private chat may serve, in the order to check them: ``first``
        (their active team), then those they were last seen a member of (``teams_of``); for
        someone seen a member of none, the first ``probes`` teams. One read, which also keeps
        what the checks that follow read: the person's membership in each (``member``) and
        each team, for the rest of the update (``team``)."""
        mine = self._teams_of.get(user_id)
        if mine is not None:
            candidates = list(dict.fromkeys([*([] if first is None else [first]), *mine]))
            if candidates and all((t, user_id) in self._members for t in candidates):
                return candidates
        reads = self._update_reads()
        ahead = reads.pop(("candidates", user_id), None) if reads is not None else None
        if ahead is not None and ahead[:2] == (first, probes):  # read with who wrote (``seen``)
            generation, checks, rows = ahead[2:]
        else:
            generation = self._generation
            checks, rows = await self.read_in_one(lambda db: _candidates(db, user_id, first, probes), small=True)
        mine = [t for t, status, _ in checks if status in _MEMBER]
        candidates = list(dict.fromkeys([*([] if first is None else [first]), *mine]))
        if not candidates:
            candidates = [row[0] for row in rows]
        if self._keeps(generation):
            self._teams_of[user_id] = mine
            checked = {t: (status, datetime.fromisoformat(at)) for t, status, at in checks}
            for team_id in candidates:
                self._members[team_id, user_id] = checked.get(team_id)
        if reads is not None:
            teams = {row[0]: row for row in rows}
            for team_id in candidates:
                reads["team", team_id] = _team_from_row(teams[team_id]) if team_id in teams else None
        return candidates

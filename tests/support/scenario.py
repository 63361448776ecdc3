"""A seller team for the end-to-end tests: a group, its people, and what the desk stored.

Alice (English) is the group's owner, Bob writes Simplified Chinese, Carol Traditional
Chinese; Dave is not in the team. The team's store starts from the sample Unshipped
Orders report.
"""

from __future__ import annotations

import html
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import i18n
from tests.support.db import connect

#: Seller Central reports the tests own (the same columns and encodings as Amazon's).
SAMPLES = Path(__file__).resolve().parent.parent / "data"
GROUP_ID = -1001234567890

# The sample orders by their tails.
MIC = "113-4417305-6689831"  # 1 item, ship by 2026-11-20 07:59 UTC
SPEAKER = "113-9081726-1122334"  # 1 item, quantity 2
FAN = "114-5551234-7654321"  # 2 items
KETO = "111-2223334-4445556"  # 1 item, quantity 3


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_with_ids(order_ids: list[str]) -> bytes:
    """The sample Unshipped Orders report's first order, once per id in ``order_ids``."""
    lines = sample("unshipped-orders-us.txt").decode("utf-8").splitlines()
    header, row = lines[0], lines[1].split("\t")
    out = [header]
    for n, oid in enumerate(order_ids):
        cells = list(row)
        cells[0], cells[1] = oid, f"7000000000000{n}"
        out.append("\t".join(cells))
    return ("\n".join(out) + "\n").encode()


def plain(text: str) -> str:
    """What a person reads: the catalog text without HTML, entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\u202f", " ")


def says(locale: str, message: str, **params: Any) -> str:
    """The exact sentence the desk says in ``locale``, as a person reads it."""
    with i18n.using(locale):
        return plain(i18n._(message, **params))


def says_n(locale: str, singular: str, plural: str, n: int, **params: Any) -> str:
    """The exact counted sentence the desk says in ``locale``."""
    with i18n.using(locale):
        return plain(i18n.ngettext(singular, plural, n, **params))


@dataclass
class Team:
    api: Any
    app: Any
    group: Any
    alice: Any
    bob: Any
    carol: Any
    dave: Any
    db_path: Path | str

    def db(self) -> Any:
        """The desk's database (either store): rows by position or column name; ``with`` closes it."""
        return connect(self.db_path)

    def goods(self, order_id: str) -> str:
        with self.db() as conn:
            return conn.execute("SELECT goods FROM orders WHERE order_id = ?", (order_id,)).fetchone()[0]

    def order_row(self, order_id: str) -> sqlite3.Row:
        with self.db() as conn:
            return conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()

    def events(self, order_id: str | None = None) -> list[sqlite3.Row]:
        with self.db() as conn:
            if order_id is None:
                return conn.execute("SELECT * FROM events ORDER BY event_id").fetchall()
            return conn.execute("SELECT * FROM events WHERE order_id = ? ORDER BY event_id", (order_id,)).fetchall()

    def snapshot(self) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """Everything an action could change: orders, items, events."""
        with self.db() as conn:
            return (
                [tuple(r) for r in conn.execute("SELECT * FROM orders ORDER BY order_id")],
                [tuple(r) for r in conn.execute("SELECT * FROM order_items ORDER BY order_id, item_id")],
                [tuple(r) for r in conn.execute("SELECT * FROM events ORDER BY event_id")],
            )

    async def say(self, user: Any, text: str, *, chat: Any = None, expect: int = 1) -> str:
        """``user`` types ``text`` (in the group unless ``chat``); the bot's one reply, as read."""
        replies = await self.api.ask(chat or self.group, user, text, expect=expect)
        # CLDR puts a narrow no-break space before AM/PM; people read it as a space.
        return replies[0]["text"].replace("\u202f", " ")


async def make_team(api: Any, app: Any, db_path: Path | str) -> Team:
    """Alice, Bob and Carol in Store A's group, Dave outside; Alice (the owner) has sent /start."""
    alice = api.user(1001, "Alice", language_code="en", username="alice")
    bob = api.user(1002, "Bob", language_code="zh-hans", username="bob")
    carol = api.user(1003, "Carol", language_code="zh-hant")
    dave = api.user(1004, "Dave", language_code="en")
    group = api.group(GROUP_ID, "Store A")
    group.add(alice, "creator").add(bob).add(carol)
    await api.ask(group, alice, "/start")
    return Team(api, app, group, alice, bob, carol, dave, db_path)

"""What the tests read of a desk's database directly, on either store (SQLite file or PostgreSQL URL).

``connect(target)`` gives a connection with ``sqlite3``'s face on both: ``execute`` with ``?``
parameters, rows read by position or column name. Tests use it instead of ``sqlite3.connect``
so that the same test checks both stores (issue 13).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import Any

from bot.storage import pg


def is_pg(target: Path | str) -> bool:
    return pg.is_url(target)


def connect(target: Path | str) -> Any:
    """A connection to the desk's database, rows read as ``sqlite3.Row`` (by position or name)."""
    if pg.is_url(target):
        conn: Any = pg.Connection(str(target), application_name="dingdan-test")
    else:
        conn = sqlite3.connect(target)
    conn.row_factory = sqlite3.Row
    return conn


def opened(target: Path | str) -> AbstractContextManager[Any]:
    """``with opened(target) as conn:`` closes the connection afterwards (``sqlite3``'s own ``with``
    only commits)."""
    return closing(connect(target))


def scalar(target: Path | str, sql: str, params: Any = ()) -> Any:
    with opened(target) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row is not None else None

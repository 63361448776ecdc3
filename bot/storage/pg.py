"""PostgreSQL under the same store: a connection that behaves like ``sqlite3.Connection``.

The store's SQL is written once, in the subset both databases speak (``?`` parameters, ``ON
CONFLICT`` upserts, ``coalesce``...). On PostgreSQL, each connection is a psycopg connection
run on a worker thread of its own, exactly as aiosqlite runs a ``sqlite3.Connection``: the
same ``Database`` code (the write lock, a unit of work's one transaction, a whole transaction
in one hop into the connection's thread) works unchanged. What differs is said here:

- :func:`translate` rewrites a statement for PostgreSQL (parameters, ``INSERT OR IGNORE``,
  ``IS`` comparisons, two-argument ``max``/``min``, planner hints PostgreSQL has no use for);
- ``BEGIN IMMEDIATE`` is SQLite's one writer: here it is ``BEGIN`` and a transaction-scoped
  advisory lock (:data:`WRITER_LOCK`), so the write transactions of every process sharing
  the database (replicas) take turns as SQLite's do, and what a transaction read is still
  true when it commits. Reads take no lock and see committed data only;
- the schema has its own scripts (``bot/storage/schema/pg``), run whole;
- booleans are stored as the integers SQLite would store, and ``numeric`` results (PostgreSQL's
  ``sum`` of integers) come back as ``int`` when they are whole.

Why psycopg rather than asyncpg: the store runs whole transactions as one synchronous function
on the connection's thread (issue 11: one hop per transaction, not one per statement); with a
synchronous driver on a thread that code is shared by both databases instead of written twice.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import adapt, pq
from psycopg.rows import tuple_row
from psycopg.types.numeric import Int8Dumper

#: The advisory lock a write transaction holds (``'ding'``): one writer at a time across processes.
WRITER_LOCK = 0x64696E67
#: The advisory lock every ``dingdan run`` holds for its life (``'poll'``): alone when it polls (Telegram
#: allows one poller per bot), shared by webhook replicas (:func:`poller_lock`).
POLLER_LOCK = 0x706F6C6C
#: How long a process starting waits for the lock a process that just stopped still holds (s).
LOCK_GRACE = 1.0

#: What a database URL of ours starts with.
SCHEMES = ("postgresql://", "postgres://")

#: What psycopg raises; the store turns it into ``DatabaseUnusable`` at start.
Error = psycopg.Error
#: A row that would repeat a unique key (SQLite's ``OR IGNORE`` has no PostgreSQL twin in an UPDATE).
UniqueViolation = psycopg.errors.UniqueViolation


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(SCHEMES)


# ----------------------------------------------------------------------------- translation

_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<comment>--[^\n]*)
  | (?P<named>(?<![:\w]):[A-Za-z_]\w*)
  | (?P<qmark>\?)
  | (?P<percent>%)
    """,
    re.VERBOSE,
)


def _placeholders(sql: str) -> str:
    """``?`` and ``:name`` to psycopg's ``%s`` and ``%(name)s``; a literal ``%`` doubled."""

    def one(m: re.Match[str]) -> str:
        kind = m.lastgroup
        text = m.group()
        if kind == "qmark":
            return "%s"
        if kind == "named":
            return f"%({text[1:]})s"
        if kind == "percent":
            return "%%"
        if kind == "string":
            return text.replace("%", "%%")
        return text

    return _TOKEN.sub(one, sql)


def _outside_strings(sql: str, rewrite: Any) -> str:
    """Apply ``rewrite`` to the parts of ``sql`` outside string literals."""
    parts = re.split(r"('(?:[^']|'')*')", sql)
    return "".join(p if i % 2 else rewrite(p) for i, p in enumerate(parts))


def _close_paren(sql: str, start: int) -> int:
    """The index of the parenthesis closing the one at ``start``."""
    depth = 0
    in_string = False
    for i in range(start, len(sql)):
        c = sql[i]
        if in_string:
            if c == "'":
                in_string = False
            continue
        if c == "'":
            in_string = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced parentheses in {sql!r}")


def _top_level_commas(inner: str) -> int:
    depth = 0
    in_string = False
    commas = 0
    for c in inner:
        if in_string:
            in_string = c != "'"
            continue
        if c == "'":
            in_string = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            commas += 1
    return commas


_SCALAR = re.compile(r"\b(max|min)\s*\(", re.IGNORECASE)


def _scalar_max_min(sql: str) -> str:
    """SQLite's two-argument ``max(a, b)``/``min(a, b)`` are PostgreSQL's ``greatest``/``least``."""
    out, pos = [], 0
    for m in _SCALAR.finditer(sql):
        if m.start() < pos:
            continue
        open_at = m.end() - 1
        close = _close_paren(sql, open_at)
        if _top_level_commas(sql[open_at + 1 : close]):
            out.append(sql[pos : m.start()])
            out.append("greatest(" if m.group(1).lower() == "max" else "least(")
            pos = open_at + 1
    out.append(sql[pos:])
    return "".join(out)


_FROM_SUBQUERY = re.compile(r"\b(FROM|JOIN)\s*\(\s*(?=SELECT\b)", re.IGNORECASE)
_ALIAS_AFTER = re.compile(r"\s*(AS\b|[A-Za-z_]\w*)", re.IGNORECASE)
_NOT_ALIAS = {"WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "ON", "JOIN", "LEFT", "INNER", "CROSS", "HAVING",
              "EXCEPT", "INTERSECT", "OFFSET", "WINDOW", "USING"}  # fmt: skip


def _alias_subqueries(sql: str, counter: list[int] | None = None) -> str:
    """PostgreSQL (before 16) wants a name for every subquery in FROM; SQLite does not."""
    counter = counter if counter is not None else [0]
    out, pos = [], 0
    while (m := _FROM_SUBQUERY.search(sql, pos)) is not None:
        open_at = sql.index("(", m.start())
        close = _close_paren(sql, open_at)
        out.append(sql[pos : open_at + 1])
        out.append(_alias_subqueries(sql[open_at + 1 : close], counter))
        out.append(")")
        after = _ALIAS_AFTER.match(sql, close + 1)
        if after is None or after.group(1).upper() in _NOT_ALIAS:
            counter[0] += 1
            out.append(f" AS _q{counter[0]}")
        pos = close + 1
    out.append(sql[pos:])
    return "".join(out)


_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE)
_IS = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE)
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_HINTS = re.compile(r"\s+NOT\s+INDEXED\b|\s+INDEXED\s+BY\s+\w+", re.IGNORECASE)
_UNARY_PLUS = re.compile(r"(?<=[\s(,])\+(?=[A-Za-z_])")
_JSON_EXTRACT = re.compile(r"\bjson_extract\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE)
_JSON_REMOVE = re.compile(r"\bjson_remove\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE)


def _rewrite(part: str) -> str:
    part = _HINTS.sub("", part)
    part = _IS_NOT.sub("IS DISTINCT FROM ", part)
    part = _IS.sub("IS NOT DISTINCT FROM ", part)
    part = _UNARY_PLUS.sub("", part)
    part = re.sub(r"\bifnull\(", "coalesce(", part, flags=re.IGNORECASE)
    part = re.sub(r"\bLIMIT\s+-1\b", "LIMIT ALL", part, flags=re.IGNORECASE)
    return part


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``sql``, written for both databases in SQLite's spelling, as PostgreSQL reads it."""
    text = _JSON_EXTRACT.sub(r"(\1::jsonb ->> '\2')", sql)
    text = _JSON_REMOVE.sub(r"((\1::jsonb - '\2')::text)", text)
    text = _outside_strings(text, _rewrite)
    if _OR_IGNORE.search(text):
        text = _OR_IGNORE.sub("INSERT INTO", text)
        returning = _RETURNING.search(text)
        if returning:
            text = f"{text[: returning.start()]}ON CONFLICT DO NOTHING {text[returning.start() :]}"
        else:
            text = text.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    text = _scalar_max_min(text)
    text = _alias_subqueries(text)
    return _placeholders(text)


# ----------------------------------------------------------------------------- types


class _BoolAsInt(Int8Dumper):
    """A Python bool is stored as SQLite stores it: 1 or 0 (the columns are integers)."""

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _WholeNumeric(adapt.Loader):
    """``numeric`` (what PostgreSQL's ``sum`` of integers gives) as an ``int`` when it is whole."""

    def load(self, data: Any) -> Any:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


def _adapt(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_dumper(bool, _BoolAsInt)
    conn.adapters.register_loader("numeric", _WholeNumeric)


# ----------------------------------------------------------------------------- the connection


class KeyedRow(tuple):
    """A row read by position or by column name, as ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _keyed_row(cursor: Any) -> Any:
    names = tuple(d.name for d in cursor.description or ())

    def make(values: Sequence[Any]) -> KeyedRow:
        row = KeyedRow(values)
        row._names = names
        return row

    return make


class Cursor:
    """What the store reads of a ``sqlite3.Cursor``."""

    def __init__(self, conn: Connection, cursor: psycopg.Cursor[Any] | None) -> None:
        self.connection = conn
        self._cursor = cursor
        self.arraysize = 64
        self.row_factory = None
        self.lastrowid = None

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._cursor is not None else -1

    @property
    def description(self) -> Any:
        return self._cursor.description if self._cursor is not None else None

    def _rows(self) -> bool:
        return self._cursor is not None and self._cursor.description is not None

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        self._cursor = self.connection.execute(sql, parameters)._cursor
        return self

    def executemany(self, sql: str, seq: Any) -> Cursor:
        self._cursor = self.connection.executemany(sql, seq)._cursor
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._rows() else None  # type: ignore[union-attr]

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size or self.arraysize) if self._rows() else []  # type: ignore[union-attr]

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._rows() else []  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()


class Connection:
    """A psycopg connection that answers what the store asks of a ``sqlite3.Connection``.

    Autocommit, as ``sqlite3.connect(isolation_level=None)``: the store says BEGIN and COMMIT
    itself. Statements are translated (:func:`translate`) and prepared by psycopg once used a few times.
    """

    def __init__(self, url: str, *, application_name: str = "dingdan") -> None:
        self._conn = psycopg.connect(url, autocommit=True, application_name=application_name)
        _adapt(self._conn)
        self._row_factory: Any = None

    @property
    def row_factory(self) -> Any:
        return self._row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        """Any factory (``sqlite3.Row``) gives rows read by position and by column name."""
        self._row_factory = factory
        self._conn.row_factory = _keyed_row if factory is not None else tuple_row

    @property
    def backend_pid(self) -> int:
        """The server process serving this connection (what a notification it sent names)."""
        return int(self._conn.info.backend_pid)

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    def cursor(self) -> Cursor:
        return Cursor(self, None)

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        head = sql.lstrip()[:16].upper()
        if head.startswith("BEGIN"):
            cur = self._conn.execute("BEGIN")
            if "IMMEDIATE" in sql.upper() or "EXCLUSIVE" in sql.upper():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            return Cursor(self, cur)
        if head.startswith("PRAGMA"):
            if "defer_foreign_keys" in sql.lower():
                # The keys' checks wait for the commit (the schema's keys are DEFERRABLE for this).
                return Cursor(self, self._conn.execute("SET CONSTRAINTS ALL DEFERRED"))
            return Cursor(self, None)  # SQLite's settings; PostgreSQL's are the server's
        params: Any = parameters if isinstance(parameters, dict) else tuple(parameters)
        return Cursor(self, self._conn.execute(translate(sql), params))

    def executemany(self, sql: str, seq: Any) -> Cursor:
        cur = self._conn.cursor()
        rows = [r if isinstance(r, dict) else tuple(r) for r in seq]
        if rows:
            cur.executemany(translate(sql), rows)
        return Cursor(self, cur)

    def executescript(self, script: str) -> Cursor:
        """A script of PostgreSQL's own (a migration), run as it is."""
        return Cursor(self, self._conn.execute(script.encode("utf-8")))

    def commit(self) -> None:
        if self.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        """As ``with sqlite3.connect(...)``: commit (or roll back) what is open; then close, since
        a server connection left to the garbage collector holds a slot of the server's."""
        try:
            if kind is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()


@contextlib.contextmanager
def poller_lock(url: str, *, webhook: bool = False) -> Iterator[None]:
    """Held for this process's life on the desk in ``url``: how it takes updates, checked against
    the other processes on the database. A poller holds :data:`POLLER_LOCK` alone: Telegram allows
    one poller per bot, and a poller is alone on its database (its replicas' leases and claims
    are its own: a restart after a crash takes them back at once). A webhook replica holds it
    shared with the other replicas. So a second poller, a poller beside replicas, and a replica
    beside a poller are refused at start (exit code 4), as the file lock refuses a second process
    on a SQLite file. PostgreSQL drops the lock with the connection: a killed process holds
    nothing."""
    from bot.db_lock import AlreadyRunning

    try:
        conn = psycopg.connect(
            url, autocommit=True, application_name="dingdan-webhook" if webhook else "dingdan-poller"
        )
    except psycopg.Error as err:
        from bot.storage.errors import DatabaseUnusable

        raise DatabaseUnusable(f"cannot use the database {redact(url)}: {redact(str(err))}") from None
    try:
        take = "pg_try_advisory_lock_shared" if webhook else "pg_try_advisory_lock"
        row = conn.execute(f"SELECT {take}(%s)", (POLLER_LOCK,)).fetchone()
        deadline = time.monotonic() + LOCK_GRACE
        while not (row and row[0]) and time.monotonic() < deadline:
            # A process that just stopped (a restart) may not have been let go by the server yet:
            # its backend ends, and drops its locks, a moment after the connection closed.
            time.sleep(0.05)
            row = conn.execute(f"SELECT {take}(%s)", (POLLER_LOCK,)).fetchone()
        if not (row and row[0]):
            if webhook:
                raise AlreadyRunning(
                    f"a dingdan process polls Telegram with the database {redact(url)}; stop it first: "
                    "replicas in webhook mode cannot share a database with a poller."
                )
            polls = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND application_name = 'dingdan-poller' AND pid <> pg_backend_pid()").fetchone()  # fmt: skip
            if polls and polls[0]:
                raise AlreadyRunning(
                    f"another dingdan already polls Telegram with the database {redact(url)}; stop it first, or run "
                    "every process in webhook mode (--webhook) to serve the desk from several replicas."
                )
            raise AlreadyRunning(
                f"dingdan replicas in webhook mode serve the database {redact(url)}; run this one with --webhook "
                "too, or stop them before polling."
            )
        yield
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock_all()")  # at once, not when the server notices the close
        conn.close()


def redact(text: str) -> str:
    """``text`` without the password a database URL may carry (``postgresql://user:SECRET@host``)."""
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)

"""``dingdan migrate``: a team's SQLite database copied into an empty PostgreSQL database, and checked.

The target gets the desk's schema first (``Store(url).open()``, as a replica would), and must then be
empty. The copy is one PostgreSQL transaction:

- every table (but the replicas' leases), parents before children (the foreign keys' order), in batches (``COPY``), each column
  by name; generated columns are computed by PostgreSQL again;
- under ``SET LOCAL session_replication_role = replica``: no trigger fires, so the derived tables
  (``order_counts``, ``team_hours``) are taken as they are instead of being counted twice;
- the identity sequences set past the largest id copied;
- then checked before the commit: each table's row count equal on both sides, and every event equal
  (a SHA-256 of all event rows in ``event_id`` order, each value as text). A difference rolls all of it
  back: the target is left as it was.

The source must not change meanwhile: the caller holds its ``dingdan run`` lock.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bot.storage import pg
from bot.storage.backup import BackupRefused

#: Rows read from SQLite and written to PostgreSQL at a time.
BATCH = 5_000
#: Not copied: the target's schema wrote its own (the versions are compared instead); and the replicas'
#: leases, which say who runs now, not what the desk holds (a replica that ran on the new database
#: before the copy may have left some: they are neither copied nor counted as content).
SKIPPED = {"schema_migrations", "leases"}


@dataclass(frozen=True)
class Copied:
    """What was copied: rows per table in the order written, and the events' hash both sides agree on."""

    tables: tuple[tuple[str, int], ...]
    events_sha256: str

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.tables)


def _value(v: Any) -> str:
    """One value as the hash reads it, whichever database it came from."""
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).hex()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def rows_hash(rows: Iterable[Sequence[Any]]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\x1f".join(_value(v) for v in row).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the source


def _tables_in_fk_order(src: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in src.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    )]  # fmt: skip
    parents = {
        name: {r[2] for r in src.execute(f'PRAGMA foreign_key_list("{name}")')} & set(names) - {name} for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:  # a cycle: the rest in name order (the replica role defers no check, but none fires either)
            ready = [n for n in names if n not in ordered]
        ordered.extend(ready)
    return [n for n in ordered if n not in SKIPPED]


def _source_columns(src: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]


# ----------------------------------------------------------------------------- the target


def _target_columns(cur: psycopg.Cursor[Any], table: str) -> tuple[list[str], set[str]]:
    """The table's columns in order, and which of them PostgreSQL generates itself."""
    rows = cur.execute(
        "SELECT column_name, is_generated FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [r[0] for r in rows], {r[0] for r in rows if r[1] == "ALWAYS"}


def _target_tables(cur: psycopg.Cursor[Any]) -> set[str]:
    rows = cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def _non_empty(cur: psycopg.Cursor[Any], tables: Iterable[str]) -> list[str]:
    full = []
    for table in sorted(tables):
        if table in SKIPPED:
            continue
        row = cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))).fetchone()
        if row and row[0]:
            full.append(table)
    return full


def _reset_sequences(cur: psycopg.Cursor[Any], tables: Iterable[str]) -> None:
    """Each identity (or serial) column's sequence past the largest id copied."""
    for table in tables:
        for (column,) in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s AND (is_identity = 'YES' OR column_default LIKE 'nextval(%%')",
            (table,),
        ).fetchall():
            seq = cur.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()
            if not seq or not seq[0]:
                continue
            top = cur.execute(sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.Identifier(table)))
            biggest = top.fetchone()
            if biggest and biggest[0] is not None:
                cur.execute("SELECT setval(%s, %s, true)", (seq[0], int(biggest[0])))
            else:
                cur.execute("SELECT setval(%s, 1, false)", (seq[0],))


def _events(rows: Iterable[Sequence[Any]]) -> str:
    return rows_hash(rows)


def target_tables(url: str) -> tuple[set[str], bool]:
    """The PostgreSQL database's tables, and whether it is a dingdan database (has ``schema_migrations``)."""
    try:
        with psycopg.connect(url, autocommit=True, application_name="dingdan-migrate") as conn:
            tables = _target_tables(conn.cursor())
    except psycopg.Error as err:
        raise BackupRefused(f"cannot reach {pg.redact(url)}: {pg.redact(str(err).strip())}") from None
    return tables, "schema_migrations" in tables


# ----------------------------------------------------------------------------- the copy


def copy_sqlite_to_pg(source: Path, url: str, *, batch: int = BATCH,
                      progress: Callable[[str, int], None] = lambda table, n: None) -> Copied:  # fmt: skip
    """Copy every table of the SQLite ``source`` into the PostgreSQL database ``url`` (its schema already
    applied, no row in it), check it, and commit; or :class:`BackupRefused` with nothing written."""
    src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
    try:
        src_version = src.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        tables = _tables_in_fk_order(src)
        try:
            conn = psycopg.connect(url, application_name="dingdan-migrate")
        except psycopg.Error as err:
            raise BackupRefused(f"cannot reach {pg.redact(url)}: {pg.redact(str(err).strip())}") from None
        try:
            with conn.transaction(), conn.cursor() as cur:
                return _copy_all(src, cur, tables, int(src_version or 0), url, batch, progress)
        except psycopg.errors.InsufficientPrivilege as err:
            raise BackupRefused(
                f"the copy needs to set session_replication_role (so that no trigger counts the copied rows twice): "
                f"connect as the database's superuser, or GRANT SET ON PARAMETER session_replication_role to this "
                f"user; nothing was written ({pg.redact(str(err).strip())})"
            ) from None
        except psycopg.Error as err:
            raise BackupRefused(f"the copy into {pg.redact(url)} failed and was undone: "
                                f"{pg.redact(str(err).strip())}") from None  # fmt: skip
        finally:
            conn.close()
    finally:
        src.close()


def _copy_all(src: sqlite3.Connection, cur: psycopg.Cursor[Any], tables: list[str], src_version: int, url: str,
              batch: int, progress: Callable[[str, int], None]) -> Copied:  # fmt: skip
    row = cur.execute("SELECT max(version) FROM schema_migrations").fetchone()
    target_version = int(row[0]) if row and row[0] is not None else 0
    if target_version != src_version:
        raise BackupRefused(f"the source is at schema version {src_version} and {pg.redact(url)} at "
                            f"{target_version}: open both with this dingdan first.")  # fmt: skip
    present = _target_tables(cur)
    missing = [t for t in tables if t not in present]
    if missing:
        raise BackupRefused(f"{pg.redact(url)} has no table {', '.join(missing)}: its schema is not this dingdan's.")
    full = _non_empty(cur, present)
    if full:
        raise BackupRefused(f"{pg.redact(url)} is not empty (rows in {', '.join(full)}): migrate into a new database.")
    cur.execute("SET LOCAL session_replication_role = replica")
    counts: list[tuple[str, int]] = []
    for table in tables:
        theirs, generated = _target_columns(cur, table)
        ours = set(_source_columns(src, table))
        columns = [c for c in theirs if c not in generated]
        lacking = [c for c in columns if c not in ours]
        if lacking:
            raise BackupRefused(f"the table {table} of {pg.redact(url)} has column(s) the SQLite file lacks: "
                                f"{', '.join(lacking)}.")  # fmt: skip
        extra = sorted(ours - set(theirs))
        if extra:
            raise BackupRefused(f"the SQLite table {table} has column(s) {pg.redact(url)} lacks: {', '.join(extra)}.")
        listed = ", ".join(f'"{c}"' for c in columns)
        reading = src.execute(f'SELECT {listed} FROM "{table}"')  # noqa: S608 - names read from the schema
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        n = 0
        with cur.copy(statement) as copy:
            while chunk := reading.fetchmany(batch):
                for values in chunk:
                    copy.write_row(values)
                n += len(chunk)
                progress(table, n)
        counts.append((table, n))
    _reset_sequences(cur, tables)
    # The check, inside the transaction: a difference undoes the copy.
    for table, n in counts:
        theirs_count = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        mine = src.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
        if not theirs_count or int(theirs_count[0]) != mine or mine != n:
            got = theirs_count[0] if theirs_count else "?"
            raise BackupRefused(f"the check failed: {table} has {mine} row(s) in the SQLite file and {got} in "
                                f"{pg.redact(url)}; nothing was written.")  # fmt: skip
    columns = [c for c in _target_columns(cur, "events")[0]]
    listed = ", ".join(f'"{c}"' for c in columns)
    mine_hash = _events(src.execute(f"SELECT {listed} FROM events ORDER BY event_id"))  # noqa: S608
    with cur.connection.cursor(name="dingdan_migrate_events") as events:  # server-side: read in batches
        events.execute(sql.SQL("SELECT {} FROM events ORDER BY event_id").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns)))  # fmt: skip
        theirs_hash = _events(_batches(events, batch))
    if mine_hash != theirs_hash:
        raise BackupRefused(f"the check failed: the events in {pg.redact(url)} differ from the SQLite file's; "
                            "nothing was written.")  # fmt: skip
    return Copied(tuple(counts), theirs_hash)


def _batches(cur: psycopg.Cursor[Any], size: int) -> Iterable[Sequence[Any]]:
    while chunk := cur.fetchmany(size):
        yield from chunk

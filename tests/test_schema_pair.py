"""The two schemas are one (issue 13): SQLite's migrations and their PostgreSQL twins build the same tables.

Every SQLite script of ``bot/storage/schema`` is applied to a new file, every script of
``bot/storage/schema/pg`` to a new PostgreSQL database, and what each database says of itself is
put in the same words (:class:`Schema`): tables, columns in order (name, type class, NOT NULL,
default, primary key, generated, identity), primary keys, unique constraints, CHECKs, foreign
keys, indexes (with a partial one's WHERE) and triggers (event, columns and WHEN). The two must be
equal; a difference is listed line by line. Trigger bodies are compared by what they do: the same
writes on both leave the same counts and hours.

The twins' own rules (pg/0001_initial.sql) are checked by the words too: a PostgreSQL text column
is ``ctext`` (byte-wise order, as SQLite's), an integer is ``bigint``, and an identity is where
SQLite has AUTOINCREMENT. Two tests change each side on purpose and see the change reported."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bot.storage.db import migrations
from tests.support import pg

#: The store's own bookkeeping, made by code rather than by a migration.
BOOKKEEPING = {"schema_migrations"}


@dataclass
class Schema:
    """A database's shape, in words both databases can be put in."""

    tables: list[str] = field(default_factory=list)
    #: table -> [(name, type class, not null, default, pk position, generated, identity)], in order
    columns: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    primary_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    uniques: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    #: (table, the condition without spaces, brackets or case)
    checks: set[tuple[str, str]] = field(default_factory=set)
    #: (table, from columns, referenced table, to columns, on delete, on update)
    foreign_keys: set[tuple[Any, ...]] = field(default_factory=set)
    #: (name, table, columns, unique, the WHERE of a partial index in :func:`_predicate`'s words, or None)
    indexes: set[tuple[Any, ...]] = field(default_factory=set)
    #: (name, table, "AFTER UPDATE OF a, b", its WHEN in :func:`_when`'s words, or None)
    triggers: set[tuple[Any, ...]] = field(default_factory=set)

    def lines(self) -> list[str]:
        """One line per fact, sorted: what two schemas are compared by."""
        out = [f"table {t}" for t in self.tables]
        for table, cols in self.columns.items():
            out += [f"column {table}#{i} {col!r}" for i, col in enumerate(cols)]
        out += [f"primary key {t} {cols}" for t, cols in self.primary_keys.items()]
        out += [f"unique {u}" for u in self.uniques]
        out += [f"check {c}" for c in self.checks]
        out += [f"foreign key {fk}" for fk in self.foreign_keys]
        out += [f"index {ix}" for ix in self.indexes]
        out += [f"trigger {tr}" for tr in self.triggers]
        return sorted(out)


def differences(sqlite_side: Schema, pg_side: Schema) -> list[str]:
    """What one schema has that the other has not, line by line (empty when they are the same)."""
    a, b = set(sqlite_side.lines()), set(pg_side.lines())
    return [f"- sqlite only: {line}" for line in sorted(a - b)] + [f"+ pg only:     {line}" for line in sorted(b - a)]


# ----------------------------------------------------------------------------- SQLite's words


def _sqlite_type(declared: str) -> str:
    """SQLite's type affinity of a declared type (https://sqlite.org/datatype3.html, 3.1)."""
    t = declared.upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if not t or "BLOB" in t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


_TRIGGER_EVENT = re.compile(
    r"\bTRIGGER\s+\w+\s+(BEFORE|AFTER|INSTEAD\s+OF)\s+(INSERT|DELETE|UPDATE(?:\s+OF\s+\w+(?:\s*,\s*\w+)*)?)\s+ON\s+(\w+)"
    r"(.*?)\bBEGIN\b",
    re.IGNORECASE | re.DOTALL,
)


def _predicate(text: str) -> str:
    """A partial index's condition as both say it: PostgreSQL's casts dropped and its
    ``x = ANY (ARRAY[a, b])`` read as SQLite's ``x IN (a, b)``; no spaces, brackets or case."""
    text = re.sub(r"::[a-z]+(\[\])?", "", text.strip().rstrip(";"), flags=re.IGNORECASE)
    text = re.sub(r"=\s*ANY\s*\(\s*ARRAY\[(.*?)\]\s*\)", r" IN (\1)", text, flags=re.IGNORECASE)
    return _condition(text)


def _when(text: str) -> str:
    """A trigger's WHEN as both say it: SQLite's ``IS NOT`` and ``json_extract(x, '$.k')`` are
    PostgreSQL's ``IS DISTINCT FROM`` and ``x::jsonb ->> 'k'`` (:func:`_predicate` for the rest)."""
    text = re.sub(r"json_extract\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)", r"\1 ->> '\2'", text, flags=re.IGNORECASE)
    text = re.sub(r"::[a-z]+(\[\])?", "", text, flags=re.IGNORECASE)
    # PostgreSQL says `a IS NOT DISTINCT FROM b` as `NOT (a IS DISTINCT FROM b)`.
    operand = r"(\(?[\w.]+\)?)"
    text = re.sub(rf"\bNOT\s*\(\s*{operand}\s+IS\s+DISTINCT\s+FROM\s+{operand}\s*\)", r"\1 IS \2", text, flags=re.I)
    text = re.sub(r"\bIS\s+NOT\s+DISTINCT\s+FROM\b", "IS", text, flags=re.IGNORECASE)
    text = re.sub(r"\bIS\s+DISTINCT\s+FROM\b", "IS NOT", text, flags=re.IGNORECASE)
    return _predicate(text)


def _condition(text: str) -> str:
    return re.sub(r"[\s()]", "", text).lower()


def _sqlite_checks(sql: str) -> list[str]:
    """The CHECK conditions of a CREATE TABLE (balanced brackets; none of ours holds a string with one)."""
    found = []
    for m in re.finditer(r"\bCHECK\s*\(", sql, re.IGNORECASE):
        depth, i = 0, m.end() - 1
        for i in range(m.end() - 1, len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            if depth == 0:
                break
        found.append(_condition(sql[m.end() : i]))
    return found


def _event(timing: str, event: str, columns: list[str]) -> str:
    text = f"{timing.upper()} {event.upper()}"
    return f"{text} OF {', '.join(columns)}" if columns else text


def describe_sqlite(conn: sqlite3.Connection) -> Schema:
    s = Schema()
    master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
    s.tables = [n for kind, n, _, _ in master if kind == "table" and not n.startswith("sqlite_")]
    s.tables = [t for t in s.tables if t not in BOOKKEEPING]
    for table in s.tables:
        sql = next(q for kind, n, _, q in master if kind == "table" and n == table)
        autoincrement = "AUTOINCREMENT" in sql.upper()
        cols = []
        for _, name, declared, notnull, default, pk, hidden in conn.execute(f"PRAGMA table_xinfo({table})"):
            identity = bool(pk) and autoincrement
            # A key column is NOT NULL, said or not (PostgreSQL's keys are; SQLite's lets a one-column
            # TEXT key hold NULL, a quirk the desk never uses: it always gives the key).
            notnull = bool(notnull or pk)
            cols.append((name, _sqlite_type(declared), notnull, default, pk, hidden in (2, 3), identity))
        s.columns[table] = cols
        s.checks.update((table, check) for check in _sqlite_checks(sql))
        pk_cols = sorted((c[4], c[0]) for c in cols if c[4])
        s.primary_keys[table] = tuple(name for _, name in pk_cols)
        for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            names = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
            if origin == "u":
                s.uniques.add((table, names))
            elif origin == "c":
                where = None
                if partial:
                    sql = next(q for kind, n, _, q in master if kind == "index" and n == index)
                    where = _predicate(re.split(r"\bWHERE\b", sql, maxsplit=1, flags=re.IGNORECASE)[1])
                s.indexes.add((index, table, names, bool(unique), where))
        fks: dict[int, list[Any]] = {}
        for fid, _, ref, frm, to, on_update, on_delete, _ in conn.execute(f"PRAGMA foreign_key_list({table})"):
            fk = fks.setdefault(fid, [[], ref, [], on_delete, on_update])
            fk[0].append(frm)
            fk[2].append(to)
        for frm, ref, to, on_delete, on_update in fks.values():
            s.foreign_keys.add((table, tuple(frm), ref, tuple(to), on_delete, on_update))
    for kind, name, _, sql in master:
        if kind == "trigger":
            m = _TRIGGER_EVENT.search(sql)
            assert m is not None, f"cannot read trigger {name}: {sql}"
            timing, event, on, between = m.groups()
            parts = event.split(None, 2)
            columns = [c.strip() for c in parts[2].split(",")] if len(parts) > 2 else []
            when = re.split(r"\bWHEN\b", between, maxsplit=1, flags=re.IGNORECASE)
            s.triggers.add((name, on, _event(timing, parts[0], columns), _when(when[1]) if len(when) > 1 else None))
    return s


# ------------------------------------------------------------------------- PostgreSQL's words

_PG_TYPES = {
    "bigint": "integer",
    "ctext": "text",
    "bytea": "blob",
    "double precision": "real",
    # What the twin's rules forbid, named so that a difference says which rule is broken.
    "integer": "int4 (not bigint)",
    "smallint": "int2 (not bigint)",
    "text": "text (not ctext)",
    "real": "float4 (not double precision)",
}
_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _pg_default(expr: str | None) -> str | None:
    """``'24,4'::ctext`` as SQLite says it: ``'24,4'``."""
    if expr is None:
        return None
    return re.sub(r"::[a-z ]+$", "", expr.strip())


def _pg_columns(conn: Any, table_oid: int, numbers: list[int]) -> tuple[str, ...]:
    names = dict(conn.execute("SELECT attnum, attname FROM pg_attribute WHERE attrelid = %s", (table_oid,)).fetchall())
    return tuple(names[n] for n in numbers)


def describe_pg(conn: Any) -> Schema:
    s = Schema()
    tables = dict(
        conn.execute(
            "SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname"
        ).fetchall()
    )
    s.tables = [t for t in tables if t not in BOOKKEEPING]
    for table in s.tables:
        oid = tables[table]
        pk = conn.execute("SELECT conkey FROM pg_constraint WHERE conrelid = %s AND contype = 'p'", (oid,)).fetchone()
        pk_numbers = list(pk[0]) if pk else []
        cols = []
        for num, name, typ, notnull, default, generated, identity in conn.execute(
            "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attgenerated, a.attidentity "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (oid,),
        ).fetchall():
            position = pk_numbers.index(num) + 1 if num in pk_numbers else 0
            cols.append(
                (
                    name,
                    _PG_TYPES.get(typ, typ),
                    notnull,
                    None if generated else _pg_default(default),
                    position,
                    bool(generated),
                    bool(identity),
                )  # fmt: skip
            )
        s.columns[table] = cols
        s.primary_keys[table] = _pg_columns(conn, oid, pk_numbers)
        for (check,) in conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s AND contype = 'c'", (oid,)
        ).fetchall():
            s.checks.add((table, _condition(re.sub(r"^CHECK\s*", "", check))))
        for kind, key, ref_oid, ref_key, on_delete, on_update in conn.execute(
            "SELECT contype, conkey, confrelid, confkey, confdeltype, confupdtype FROM pg_constraint "
            "WHERE conrelid = %s AND contype IN ('u', 'f')",
            (oid,),
        ).fetchall():
            if kind == "u":
                s.uniques.add((table, _pg_columns(conn, oid, list(key))))
            else:
                ref = conn.execute("SELECT relname FROM pg_class WHERE oid = %s", (ref_oid,)).fetchone()[0]
                s.foreign_keys.add(
                    (
                        table,
                        _pg_columns(conn, oid, list(key)),
                        ref,
                        _pg_columns(conn, ref_oid, list(ref_key)),
                        _FK_ACTIONS[on_delete],
                        _FK_ACTIONS[on_update],
                    )  # fmt: skip
                )
        for name, key, unique, where in conn.execute(
            "SELECT c.relname, i.indkey::int2[], i.indisunique, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
            (oid,),
        ).fetchall():
            s.indexes.add((name, table, _pg_columns(conn, oid, list(key)), unique, where and _predicate(where)))
    update_columns: dict[str, list[str]] = {}
    for trigger, column in conn.execute(
        "SELECT t.tgname, a.attname FROM pg_trigger t, unnest(t.tgattr::int2[]) WITH ORDINALITY AS k(num, ord) "
        "JOIN pg_attribute a ON a.attnum = k.num WHERE a.attrelid = t.tgrelid AND NOT t.tgisinternal ORDER BY k.ord"
    ).fetchall():
        update_columns.setdefault(trigger, []).append(column)
    for name, table, tgtype, definition in conn.execute(
        "SELECT t.tgname, c.relname, t.tgtype, pg_get_triggerdef(t.oid) FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
    ).fetchall():
        assert tgtype & 1, f"trigger {name} is not FOR EACH ROW, as SQLite's are"
        timing = "BEFORE" if tgtype & 2 else "INSTEAD OF" if tgtype & 64 else "AFTER"
        events = [e for bit, e in ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"), (32, "TRUNCATE")) if tgtype & bit]
        assert len(events) == 1, f"trigger {name} fires on {events}: SQLite's fire on one event"
        when = re.search(r"\bWHEN\s*(.*)\s+EXECUTE\s+(?:FUNCTION|PROCEDURE)\b", definition, re.DOTALL)
        s.triggers.add((name, table, _event(timing, events[0], update_columns.get(name, [])), when and _when(when[1])))
    return s


# ----------------------------------------------------------------------------- the databases


def sqlite_schema(path: Path) -> Schema:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for _, script in migrations("sqlite"):
            conn.executescript(script)
        return describe_sqlite(conn)


def _create_database(pg_server: pg.PgServer) -> str:
    """A new empty database whose own collation is not byte order (ICU's en-US, where '~' sorts
    before digits and 'a' before 'B') when the server has ICU: ``ctext`` must make that moot."""
    import psycopg

    name = "pair_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.url_of("postgres"), autocommit=True) as admin:
        try:
            admin.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
            )
        except psycopg.Error:  # a server built without ICU: its default collation, then
            admin.execute(f'CREATE DATABASE "{name}"')
    return pg_server.url_of(name)


@pytest.fixture(scope="module")
def pg_database(pg_server: pg.PgServer) -> Iterator[str]:
    """A new PostgreSQL database holding every PostgreSQL migration, each run whole in a transaction of its own."""
    import psycopg

    url = _create_database(pg_server)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for version, script in migrations("pg"):
                try:
                    with conn.transaction():
                        conn.execute(script.encode("utf-8"))
                except psycopg.Error as err:
                    pytest.fail(f"pg/{version:04d} fails on PostgreSQL: {err}")
        yield url
    finally:
        pg_server.drop(url)


@pytest.fixture(scope="module")
def sqlite_side(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    return sqlite_schema(tmp_path_factory.mktemp("pair") / "desk.sqlite3")


def pg_schema(url: str) -> Schema:
    import psycopg

    with psycopg.connect(url) as conn:
        return describe_pg(conn)


# ----------------------------------------------------------------------------- the tests


def _scripts(package: str) -> list[str]:
    return sorted(e.name for e in resources.files(package).iterdir() if e.name.endswith(".sql"))


def test_the_same_migrations_on_both_sides() -> None:
    sqlite_names = _scripts("bot.storage.schema")
    pg_names = _scripts("bot.storage.schema.pg")
    assert pg_names == sqlite_names, "every SQLite migration has a PostgreSQL twin of the same number and name"
    assert [v for v, _ in migrations("pg")] == [v for v, _ in migrations("sqlite")]
    assert [v for v, _ in migrations("sqlite")] == list(range(1, len(sqlite_names) + 1)), "numbered 1, 2, 3..."


def test_the_postgresql_schema_is_the_sqlite_schema(sqlite_side: Schema, pg_database: str) -> None:
    pg_side = pg_schema(pg_database)
    diff = differences(sqlite_side, pg_side)
    assert not diff, "the two schemas differ:\n" + "\n".join(diff)
    # Not empty by mistake: the tables of the last migrations are there.
    assert {"orders", "events", "team_hours", "tracking", "leases"} <= set(sqlite_side.tables)
    assert len(sqlite_side.triggers) == 9 and len(sqlite_side.indexes) > 20
    assert sqlite_side.checks == {("tracking_cursor", "id=1")}


def test_a_changed_column_is_reported(sqlite_side: Schema, pg_database: str) -> None:
    """The comparison can fail: a column changed on the PostgreSQL side is named in the difference."""
    import psycopg

    with psycopg.connect(pg_database) as conn:
        conn.execute("ALTER TABLE teams ALTER COLUMN title DROP NOT NULL")
        conn.execute("ALTER TABLE orders ALTER COLUMN version TYPE integer")
        conn.execute("ALTER TABLE leases ALTER COLUMN holder TYPE text")
        conn.execute("DROP TRIGGER team_hours_reordered ON orders")
        conn.execute("DROP TRIGGER team_hours_ordered ON orders")
        conn.execute(
            "CREATE TRIGGER team_hours_ordered AFTER INSERT ON orders FOR EACH ROW "
            "WHEN (NEW.purchased_at IS DISTINCT FROM NEW.ship_by) EXECUTE FUNCTION team_hours_ordered()"
        )
        conn.execute("DROP INDEX tracking_due")
        conn.execute("CREATE INDEX tracking_due ON tracking (next_check_at)")
        changed = describe_pg(conn)
        conn.rollback()
    diff = "\n".join(differences(sqlite_side, changed))
    assert "- sqlite only: column teams#1 ('title', 'text', True, \"''\", 0, False, False)" in diff
    assert "+ pg only:     column teams#1 ('title', 'text', False, \"''\", 0, False, False)" in diff
    assert "('version', 'int4 (not bigint)', True, '1', 0, False, False)" in diff
    assert "('holder', 'text (not ctext)', True, None, 0, False, False)" in diff
    assert (
        "- sqlite only: trigger ('team_hours_reordered', 'orders', 'AFTER UPDATE OF purchased_at', "
        "'old.purchased_atisnotnew.purchased_at')" in diff
    )
    assert (
        "+ pg only:     trigger ('team_hours_ordered', 'orders', 'AFTER INSERT', 'new.purchased_atisnotnew.ship_by')"
        in diff
    )
    assert (
        "- sqlite only: index ('tracking_due', 'tracking', ('next_check_at',), False, \"state='registered'\")" in diff
    )
    assert "+ pg only:     index ('tracking_due', 'tracking', ('next_check_at',), False, None)" in diff
    # And the database is as the migrations left it.
    assert not differences(sqlite_side, pg_schema(pg_database))


def test_a_changed_sqlite_side_is_reported(tmp_path: Path, pg_database: str) -> None:
    """The SQLite side is read as closely: a foreign key's action and a default, changed there, are named."""
    path = tmp_path / "changed.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for _, script in migrations("sqlite"):
            conn.executescript(script)
        conn.executescript(
            "DROP TABLE leases; CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL DEFAULT 'x', "
            "until TEXT NOT NULL REFERENCES teams(team_id) ON DELETE SET NULL);"
        )
        changed = describe_sqlite(conn)
    diff = "\n".join(differences(changed, pg_schema(pg_database)))
    assert "- sqlite only: column leases#1 ('holder', 'text', True, \"'x'\", 0, False, False)" in diff
    assert "- sqlite only: foreign key ('leases', ('until',), 'teams', ('team_id',), 'SET NULL', 'NO ACTION')" in diff


#: Writes that go through every trigger and the list key, in SQL both databases speak.
WRITES = """
INSERT INTO teams (team_id, timezone, started_at) VALUES (-1002000000001, 'UTC', '2026-01-01T00:00:00Z');
INSERT INTO orders (team_id, order_id, digits_rev, goods, ship_by, purchased_at, created_at, updated_at) VALUES
    (-1002000000001, '111-0000001-0000001', '1', 'unshipped', '2026-03-02T10:00:00Z', '2026-03-01T09:15:00Z', 'x', 'x'),
    (-1002000000001, '111-0000002-0000002', '2', 'unshipped', '2026-03-02T08:00:00Z', '2026-03-01T09:45:00Z', 'x', 'x'),
    (-1002000000001, '111-0000003-0000003', '3', 'pending', NULL, '2026-03-01T11:00:00Z', 'x', 'x'),
    (-1002000000001, '111-0000004-0000004', '4', 'unshipped', '2026-03-02T08:00:00Z', NULL, 'x', 'x'),
    (-1002000000001, 'b-lower', '5', 'pending', NULL, NULL, 'x', 'x'),
    (-1002000000001, 'B-UPPER', '6', 'pending', NULL, NULL, 'x', 'x');
UPDATE orders SET purchased_at = '2026-03-01T12:30:00Z' WHERE order_id = '111-0000003-0000003';
UPDATE orders SET goods = 'shipped', shipped_at = '2026-03-02T11:00:00Z', carrier = 'UPS', tracking = '1Z999'
    WHERE order_id = '111-0000001-0000001';
UPDATE orders SET goods = 'shipped', shipped_at = '2026-03-02T07:00:00Z', carrier = 'Other', tracking = 'X1'
    WHERE order_id = '111-0000002-0000002';
UPDATE orders SET carrier = 'USPS' WHERE order_id = '111-0000002-0000002';
UPDATE orders SET goods = 'shipped', updated_at = '2026-03-02T09:20:00Z' WHERE order_id = '111-0000004-0000004';
UPDATE orders SET goods = 'canceled' WHERE order_id = '111-0000003-0000003';
INSERT INTO events (team_id, order_id, at, actor_kind, action, details) VALUES
    (-1002000000001, '111-0000003-0000003', 'x', 'user', 'cancel', '{"reason": "NoInventory"}'),
    (-1002000000001, '111-0000003-0000003', 'x', 'user', 'cancel', '{"reason": "BuyerCanceled"}'),
    (-1002000000001, '111-0000003-0000003', 'x', 'user', 'cancel', '{}');
DELETE FROM orders WHERE order_id = 'b-lower';
"""

READS = (
    "SELECT team_id, goods, n FROM order_counts ORDER BY team_id, goods",
    "SELECT team_id, hour, ordered, seller_cancelled, shipped, shipped_late, confirmed, tracking_valid "
    "FROM team_hours ORDER BY team_id, hour",
    "SELECT order_id, list_key FROM orders ORDER BY list_key",
    "SELECT order_id FROM orders ORDER BY order_id",
)


def test_the_triggers_and_the_text_order_agree(tmp_path: Path, pg_database: str) -> None:
    """The same writes leave the same counts, hours and list order on both: the trigger bodies and
    ``ctext``'s byte order are twins too, not only their names."""
    import psycopg

    with contextlib.closing(sqlite3.connect(tmp_path / "desk.sqlite3")) as lite:
        for _, script in migrations("sqlite"):
            lite.executescript(script)
        lite.executescript(WRITES)
        expected = [lite.execute(sql).fetchall() for sql in READS]
    with psycopg.connect(pg_database) as conn:
        conn.execute(WRITES.encode("utf-8"))
        got = [[tuple(row) for row in conn.execute(sql).fetchall()] for sql in READS]
        conn.rollback()
    assert got == expected
    counts, hours, listed, _ = expected
    assert {g: n for _, g, n in counts} == {"canceled": 1, "pending": 1, "shipped": 3, "unshipped": 0}
    assert hours == [
        (-1002000000001, "2026-03-01T09", 2, 0, 0, 0, 0, 0),
        (-1002000000001, "2026-03-01T11", 0, 0, 0, 0, 0, 0),
        (-1002000000001, "2026-03-01T12", 1, 2, 0, 0, 0, 0),
        (-1002000000001, "2026-03-02T07", 0, 0, 1, 0, 1, 1),
        (-1002000000001, "2026-03-02T09", 0, 0, 1, 1, 0, 0),
        (-1002000000001, "2026-03-02T11", 0, 0, 1, 1, 1, 1),
    ]
    assert [o for o, _ in listed] == [
        "111-0000004-0000004",  # the earliest ship-by, no purchase ('0') first
        "111-0000002-0000002",
        "111-0000001-0000001",
        "B-UPPER",  # no ship-by: last ('~' after digits)
        "111-0000003-0000003",
    ]

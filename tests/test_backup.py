"""``dingdan backup``, ``dingdan restore`` and ``dingdan migrate`` from the shell, as an operator uses them.

SQLite: a backup taken while a Store is open and writing is whole; a restore into a new path or over an
old database gives the backup's rows and events back, 0600, with no stale -wal/-shm; a file that is not
a dingdan database, or a bot holding the database, is refused in one line with nothing changed.
PostgreSQL: pg_dump and pg_restore round trip, the password never shown. Migrate: a desk database made
by the real Store and Importer copied into PostgreSQL, every table's count and every event equal.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.db_lock import database_lock
from bot.domain import Actor
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.parsing import parse_order_ref
from bot.services import Desk
from bot.storage import Store
from bot.storage.backup import backup_sqlite
from tests.support import db as testdb
from tests.support.scenario import sample, sample_with_ids

ROOT = Path(__file__).resolve().parent.parent
TEAM = -100777
AT = datetime(2026, 11, 21, 8, tzinfo=UTC)
#: Tables whose rows the comparisons read (every one the desk writes for a team's orders).
TABLES = ("teams", "orders", "order_items", "events", "imports", "shipments", "order_counts", "team_hours")


def dingdan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def order_ids(n: int, start: int = 0) -> list[str]:
    return [f"113-{4000000 + i:07d}-{6000000 + i:07d}" for i in range(start, start + n)]


async def fill(store: Store, *, orders: int = 30, shipped: int = 3) -> None:
    """A team, ``orders`` orders imported by the real Importer, ``shipped`` of them shipped through the Desk."""
    clock = lambda: AT  # noqa: E731
    await store.create_team(TEAM, "Store A", "Asia/Shanghai", 1, AT)
    await Importer(store, Lifecycle(), clock).import_file(TEAM, sample("unshipped-orders-us.txt"), filename="u.txt",
                                                          actor=Actor.importer("u.txt"))  # fmt: skip
    if orders:
        await Importer(store, Lifecycle(), clock).import_file(TEAM, sample_with_ids(order_ids(orders)),
                                                              filename="more.txt", actor=Actor.importer("more.txt"))  # fmt: skip
    desk = Desk(store, Lifecycle(), clock)
    for oid in order_ids(orders)[:shipped]:
        await desk.ship(TEAM, parse_order_ref(oid), Actor("user", 1, "Alice", TEAM), carrier="UPS", carrier_name="",
                        tracking="1Z999AA10123456784")  # fmt: skip


def make_desk(target: Path | str, **kw: Any) -> None:
    async def go() -> None:
        store = Store(target)
        await store.open()
        try:
            await fill(store, **kw)
        finally:
            await store.close()

    asyncio.run(go())


def rows(target: Path | str, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table``, each value as text (None as None), sorted: the same on both stores."""
    with testdb.opened(target) as conn:
        found = conn.execute(f"SELECT * FROM {table}").fetchall()
    return sorted((tuple(None if v is None else str(v) for v in r) for r in found), key=repr)


def snapshot(target: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    return {table: rows(target, table) for table in TABLES}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ----------------------------------------------------------------------------- SQLite: backup


async def test_a_backup_taken_while_a_store_is_open_and_writing_is_whole(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"
    store = Store(db)
    await store.open()
    try:
        await fill(store, orders=20)
        stop = asyncio.Event()

        async def keep_writing() -> int:
            clock = lambda: AT + timedelta(minutes=1)  # noqa: E731
            importer = Importer(store, Lifecycle(), clock)
            batches = 0
            while not stop.is_set() or batches < 3:
                ids = order_ids(50, start=1000 + 50 * batches)
                await importer.import_file(TEAM, sample_with_ids(ids), filename=f"b{batches}.txt",
                                           actor=Actor.importer(f"b{batches}.txt"))  # fmt: skip
                batches += 1
            return batches

        writer = asyncio.create_task(keep_writing())
        taken = []
        for n in range(3):  # while the writer imports, each a snapshot of one moment
            file = tmp_path / f"during-{n}.sqlite3"
            await asyncio.to_thread(backup_sqlite, db, file)
            taken.append(file)
        stop.set()
        batches = await writer
        # With the store still open: the command line's backup (another process, as an operator runs it).
        final = tmp_path / "backups" / "final.sqlite3"
        final.parent.mkdir()
        done = dingdan("backup", str(final), env={"DINGDAN_DB": str(db)})
        assert done.returncode == 0, done.stderr
        orders = 4 + 20 + 50 * batches  # the sample report holds 4
        assert re.fullmatch(
            rf"Backed up {re.escape(str(db))} to {re.escape(str(final))}: schema version \d+, 1 team\(s\), "
            rf"{orders} order\(s\), \d+ event\(s\)\.\n",
            done.stdout,
        ), done.stdout
    finally:
        await store.close()
    for file in [*taken, final]:
        assert mode(file) == 0o600
        assert not Path(f"{file}-wal").exists() and not Path(f"{file}-shm").exists()
        with sqlite3.connect(file) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
            # A whole moment: every order has its import event, and the counts agree with the orders.
            assert conn.execute("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM events e "
                                "WHERE e.team_id = o.team_id AND e.order_id = o.order_id)").fetchone()[0] == 0  # fmt: skip
            assert (
                conn.execute("SELECT sum(n) FROM order_counts").fetchone()[0]
                == conn.execute("SELECT count(*) FROM orders").fetchone()[0]
            )
    assert snapshot(final) == snapshot(db)
    assert sorted(p.name for p in final.parent.iterdir()) == ["final.sqlite3"]  # no temporary file left


def test_backup_refusals_change_nothing(tmp_path: Path) -> None:
    missing = dingdan("backup", str(tmp_path / "b.sqlite3"), env={"DINGDAN_DB": str(tmp_path / "none.sqlite3")})
    assert (missing.returncode, missing.stderr) == (
        2,
        f"dingdan: no database at {tmp_path / 'none.sqlite3'}: set DINGDAN_DB to the database to back up\n",
    )
    assert not (tmp_path / "b.sqlite3").exists()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n")
    refused = dingdan("backup", str(tmp_path / "b.sqlite3"), env={"DINGDAN_DB": str(junk)})
    assert (refused.returncode, refused.stderr) == (
        1,
        f"dingdan: {junk} is not a dingdan database (not an SQLite file).\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    db = tmp_path / "desk.sqlite3"
    make_desk(db, orders=0, shipped=0)
    itself = dingdan("backup", str(db), env={"DINGDAN_DB": str(db)})
    assert (itself.returncode, itself.stderr) == (
        1,
        f"dingdan: {db} is the database itself: name another file for the backup.\n",
    )


# ----------------------------------------------------------------------------- SQLite: restore


def test_restore_into_a_new_path_gives_the_same_rows_and_events(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"
    make_desk(db)
    backup = tmp_path / "desk-backup.sqlite3"
    assert dingdan("backup", str(backup), env={"DINGDAN_DB": str(db)}).returncode == 0
    new = tmp_path / "elsewhere" / "restored.sqlite3"
    new.parent.mkdir()
    done = dingdan("restore", str(backup), env={"DINGDAN_DB": str(new)})
    assert done.returncode == 0, done.stderr
    events = len(rows(db, "events"))
    assert done.stdout == (
        f"Restored {backup} into {new}: schema version {max_version()}, 1 team(s), 34 order(s), {events} event(s).\n"
    )
    assert snapshot(new) == snapshot(db)
    assert mode(new) == 0o600
    # The bot starts on it: the restored file is a database the store opens and writes.
    make_more(new)
    assert len(rows(new, "orders")) == 35


def test_restore_over_an_old_database_removes_its_stale_wal_and_shm(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"
    make_desk(db, orders=5, shipped=1)
    backup = tmp_path / "monday.sqlite3"
    assert dingdan("backup", str(backup), env={"DINGDAN_DB": str(db)}).returncode == 0
    before = snapshot(db)
    make_more(db)  # the database moves on after the backup
    assert snapshot(db) != before
    # As a crash leaves them: a -wal and -shm beside the database that must never be read into the new file.
    stale = sqlite3.connect(db)
    stale.execute("PRAGMA journal_mode=WAL")
    stale.execute("PRAGMA wal_autocheckpoint=0")
    stale.execute("UPDATE teams SET title = 'from the stale WAL'")
    stale.commit()
    assert Path(f"{db}-wal").stat().st_size > 0
    done = dingdan("restore", str(backup), env={"DINGDAN_DB": str(db)})
    stale.close()
    assert done.returncode == 0, done.stderr
    assert snapshot(db) == before
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert mode(db) == 0o600


def test_restore_refuses_a_file_that_is_not_a_dingdan_database_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"
    make_desk(db, orders=2, shipped=0)
    content = db.read_bytes()
    text = tmp_path / "orders.txt"
    text.write_bytes(sample("unshipped-orders-us.txt"))
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    other_conn = sqlite3.connect(other)
    other_conn.close()
    dump = tmp_path / "pg.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(64))
    expected = {
        text: f"{text} is not a dingdan database (not an SQLite file).",
        other: f"{other} is not a dingdan database (an SQLite file without dingdan's tables).",
        dump: f"{dump} is a PostgreSQL dump (pg_dump), not an SQLite database: restore it with DINGDAN_DB set to "
        "the PostgreSQL database's URL.",
        tmp_path / "gone.sqlite3": f"{tmp_path / 'gone.sqlite3'} does not exist.",
    }
    listing = sorted(p.name for p in tmp_path.iterdir())
    for file, line in expected.items():
        result = dingdan("restore", str(file), env={"DINGDAN_DB": str(db)})
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"dingdan: {line}\n"), file
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # not even a lock file


def test_restore_refuses_while_the_bot_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"
    make_desk(db, orders=2, shipped=0)
    backup = tmp_path / "b.sqlite3"
    assert dingdan("backup", str(backup), env={"DINGDAN_DB": str(db)}).returncode == 0
    make_more(db)
    content = db.read_bytes()
    with database_lock(db):  # as `dingdan run` holds it
        result = dingdan("restore", str(backup), env={"DINGDAN_DB": str(db)})
    assert result.returncode == 4
    assert result.stderr == (
        f"dingdan: another dingdan is already running on {db} (pid {os.getpid()}); stop it first, or set DINGDAN_DB "
        "to another database.\n"
    )
    assert db.read_bytes() == content


def make_more(target: Path | str) -> None:
    async def go() -> None:
        store = Store(target)
        await store.open()
        try:
            await Importer(store, Lifecycle(), lambda: AT).import_file(
                TEAM, sample_with_ids(order_ids(1, start=900)), filename="later.txt", actor=Actor.importer("later.txt")
            )
        finally:
            await store.close()

    asyncio.run(go())


def make_desk_schema(target: Path | str) -> None:
    async def go() -> None:
        store = Store(target)
        await store.open()
        await store.close()

    asyncio.run(go())


def max_version() -> int:
    from bot.storage import migrations

    return max(v for v, _ in migrations())


# ----------------------------------------------------------------------------- PostgreSQL


def with_password(url: str, password: str) -> str:
    """The URL with a password in it (the test server trusts every connection: it is never checked)."""
    return re.sub(r"^postgresql://([^@:/]+)@", rf"postgresql://\1:{password}@", url)


def test_postgresql_backup_and_restore_round_trip(pg_url: str, tmp_path: Path) -> None:
    secret = "S3cret-never-printed"
    url = with_password(pg_url, secret)
    make_desk(url)
    server = testdb.scalar(url, "SHOW server_version_num")
    dump_version = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout
    major = int(re.search(r"(\d+)\.", dump_version).group(1))  # type: ignore[union-attr]
    if major < int(server) // 10000:
        pytest.skip(f"pg_dump {major} is older than the server ({server}): pg_dump refuses a newer server")
    before = snapshot(url)
    file = tmp_path / "desk.dump"
    done = dingdan("backup", str(file), env={"DINGDAN_DB": url})
    assert done.returncode == 0, done.stderr
    shown = url.replace(secret, "***")
    assert done.stdout == (
        f"Backed up {shown} to {file}: schema version {pg_version(url)}, 1 team(s), 34 order(s), "
        f"{len(before['events'])} event(s).\n"
    )
    assert file.read_bytes().startswith(b"PGDMP")
    assert mode(file) == 0o600
    make_more(url)  # the database moves on
    assert snapshot(url) != before
    # A replica still connected: refused, nothing changed.
    from bot.storage import pg

    replica = pg.Connection(url)  # application_name 'dingdan', as a running replica's
    try:
        busy = dingdan("restore", str(file), env={"DINGDAN_DB": url})
    finally:
        replica.close()
    assert busy.returncode == 4
    assert busy.stderr == (
        f"dingdan: 1 dingdan connection(s) are open on {shown}: stop every replica (and any import or export) first.\n"
    )
    restored = dingdan("restore", str(file), env={"DINGDAN_DB": url})
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith(f"Restored {file} into {shown}: schema version {pg_version(url)}, 1 team(s), ")
    assert snapshot(url) == before
    # The desk writes on: the identity sequences came back with the rows.
    make_more(url)
    assert len(rows(url, "events")) == len(before["events"]) + 1
    for result in (done, busy, restored):
        assert secret not in result.stdout + result.stderr


def pg_version(url: str) -> int:
    return int(testdb.scalar(url, "SELECT max(version) FROM schema_migrations"))


def test_postgresql_restore_refuses_what_is_not_a_dingdan_dump(pg_url: str, tmp_path: Path) -> None:
    sqlite_file = tmp_path / "desk.sqlite3"
    make_desk(sqlite_file, orders=0, shipped=0)
    junk = tmp_path / "junk.dump"
    junk.write_text("hello\n")
    before = snapshot(pg_url)
    for file, line in (
        (sqlite_file, f"{sqlite_file} is an SQLite database, not a PostgreSQL dump: move it into PostgreSQL with "
                      "dingdan migrate --from FILE --to URL."),
        (junk, f"{junk} is not a dingdan backup (not a pg_dump --format=custom file)."),
    ):  # fmt: skip
        result = dingdan("restore", str(file), env={"DINGDAN_DB": pg_url})
        assert (result.returncode, result.stderr) == (1, f"dingdan: {line}\n")
    assert snapshot(pg_url) == before


def test_without_pg_dump_the_backup_says_what_to_install(pg_url: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "backup", str(tmp_path / "x.dump")], cwd=ROOT,
                            env={"PATH": str(tmp_path), "DINGDAN_DB": pg_url}, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "dingdan: pg_dump is not installed: install PostgreSQL's client programs (Debian: apt-get install "
        "postgresql-client; the Docker image has them), of the server's major version or newer.\n"
    )
    assert not (tmp_path / "x.dump").exists()


# ----------------------------------------------------------------------------- migrate


def test_migrate_copies_a_desk_database_into_postgresql_checked(pg_server: Any, tmp_path: Path) -> None:
    source = tmp_path / "desk.sqlite3"
    make_desk(source, orders=40, shipped=5)
    with sqlite3.connect(source) as conn:  # a file waiting in the outbox: bytes (BLOB -> BYTEA), tabs and newlines
        conn.execute("INSERT INTO outbox (team_id, chat_id, kind, payload, document, created_at, not_before) "
                     "VALUES (?, ?, 'file', ?, ?, ?, ?)", (TEAM, TEAM, '{"filename": "a\tb.txt"}',
                                                           bytes(range(256)) + b"\\N\n\t", AT.isoformat(), AT.isoformat()))  # fmt: skip
    conn.close()
    target = pg_server.create(schema=False)  # a new, empty database: migrate gives it the schema
    try:
        secret = "S3cret-never-printed"
        url = with_password(target, secret)
        before = snapshot(source)
        done = dingdan("migrate", "--from", str(source), "--to", url, env={})
        assert done.returncode == 0, done.stderr
        assert secret not in done.stdout + done.stderr
        assert re.fullmatch(
            rf"Copied {re.escape(str(source))} into {re.escape(url.replace(secret, '***'))}: \d+ row\(s\) \(.*"
            rf"orders 44, .*\)\. Checked: every table's row count is equal, and the events are equal "
            r"\(SHA-256 [0-9a-f]{16}…\)\.\n",
            done.stdout,
        ), done.stdout
        after = snapshot(url)
        assert rows(url, "outbox") == rows(source, "outbox")
        assert testdb.scalar(url, "SELECT document FROM outbox WHERE kind = 'file'") == bytes(range(256)) + b"\\N\n\t"
        # Every table the same, the derived ones (order_counts, team_hours) included: taken as they were,
        # not counted again by PostgreSQL's triggers.
        assert after == before
        with testdb.opened(source) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite%' AND name <> 'schema_migrations'")]  # fmt: skip
        for table in tables:
            assert testdb.scalar(url, f"SELECT count(*) FROM {table}") == testdb.scalar(
                source, f"SELECT count(*) FROM {table}"
            ), table
        # The desk carries on in PostgreSQL: new ids follow the copied ones (the sequences were set).
        make_more(url)
        assert testdb.scalar(url, "SELECT count(*) FROM orders") == 45
        assert testdb.scalar(url, "SELECT max(event_id) FROM events") == len(before["events"]) + 1
        assert testdb.scalar(url, "SELECT sum(n) FROM order_counts") == 45

        # A second migrate into the same (now non-empty) database: refused, nothing written.
        again = dingdan("migrate", "--from", str(source), "--to", url, env={})
        assert again.returncode == 1
        assert re.fullmatch(
            rf"dingdan: {re.escape(url.replace(secret, '***'))} is not empty \(rows in [a-z_, ]*orders[a-z_, ]*\): "
            r"migrate into a new database\.\n",
            again.stderr,
        ), again.stderr
        assert testdb.scalar(url, "SELECT count(*) FROM orders") == 45
    finally:
        pg_server.drop(target)


def test_migrate_refuses_while_a_bot_runs_on_the_source_and_what_is_not_a_dingdan_database(
    pg_server: Any, tmp_path: Path
) -> None:
    source = tmp_path / "desk.sqlite3"
    make_desk(source, orders=2, shipped=0)
    target = pg_server.create(schema=False)
    try:
        with database_lock(source):
            busy = dingdan("migrate", "--from", str(source), "--to", target, env={})
        assert busy.returncode == 4
        assert busy.stderr.startswith(f"dingdan: another dingdan is already running on {source}")
        junk = tmp_path / "junk.sqlite3"
        junk.write_text("no\n")
        refused = dingdan("migrate", "--from", str(junk), "--to", target, env={})
        assert (refused.returncode, refused.stderr) == (
            1,
            f"dingdan: {junk} is not a dingdan database (not an SQLite file).\n",
        )
        not_a_url = dingdan("migrate", "--from", str(source), "--to", str(tmp_path / "x.sqlite3"), env={})
        assert not_a_url.returncode == 2
        # Nothing was created in the target: not even the schema.
        assert (
            testdb.scalar(target, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == 0
        )
        # A replica started on the new database first: it made the schema and took a lease.
        make_desk_schema(target)
        with testdb.opened(target) as conn:
            conn.execute("INSERT INTO leases VALUES ('shard:3', 'host-1-abc', '2026-11-21T08:00:00Z')")
            conn.commit()
        from bot.storage import pg

        replica = pg.Connection(target)  # still connected: refused
        try:
            running = dingdan("migrate", "--from", str(source), "--to", target, env={})
        finally:
            replica.close()
        assert running.returncode == 4
        assert running.stderr == (
            f"dingdan: 1 dingdan connection(s) are open on {target}: stop every replica (and any import or export) "
            "first.\n"
        )
        # Stopped, it left its lease: that says who ran, not what the desk holds, and is no obstacle.
        done = dingdan("migrate", "--from", str(source), "--to", target, env={})
        assert done.returncode == 0, done.stderr
        assert testdb.scalar(target, "SELECT count(*) FROM orders") == 6
        assert testdb.scalar(target, "SELECT holder FROM leases") == "host-1-abc"
    finally:
        pg_server.drop(target)

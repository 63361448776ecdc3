"""The PostgreSQL store's own parts (bot/storage/pg.py): the SQL it is given in SQLite's spelling, the
write lock shared by processes, one poller per database, what a URL's password never shows in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.db_lock import AlreadyRunning
from bot.storage import Store, pg
from bot.storage.pg import poller_lock, redact, translate


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = %s AND c = %s"),
        (
            "UPDATE t SET a = :new WHERE a = :old AND b = 'x:y'",
            "UPDATE t SET a = %(new)s WHERE a = %(old)s AND b = 'x:y'",
        ),
        ("SELECT 1 FROM t WHERE a LIKE '50%' AND b = '?'", "SELECT 1 FROM t WHERE a LIKE '50%%' AND b = '?'"),
        ("INSERT OR IGNORE INTO t (a) VALUES (?)", "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"),
        (
            "INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING a",
            "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING a",
        ),
        (
            "SELECT max(a, b), max(c), min(coalesce(a, 1), ?) FROM t",
            "SELECT greatest(a, b), max(c), least(coalesce(a, 1), %s) FROM t",
        ),
        (
            "SELECT 1 FROM t WHERE a IS NOT ? AND b IS ? AND c IS NULL AND d IS NOT NULL",
            "SELECT 1 FROM t WHERE a IS DISTINCT FROM %s AND b IS NOT DISTINCT FROM %s AND c IS NULL AND d IS NOT NULL",
        ),
        (
            "SELECT * FROM orders o NOT INDEXED WHERE +confirmed_at IS NULL",
            "SELECT * FROM orders o WHERE confirmed_at IS NULL",
        ),
        (
            "SELECT * FROM (SELECT a FROM t LIMIT ?) UNION ALL SELECT * FROM (SELECT a FROM (SELECT 1 AS a))",
            "SELECT * FROM (SELECT a FROM t LIMIT %s) AS _q1 UNION ALL SELECT * FROM (SELECT a FROM (SELECT 1 AS a) AS _q2) AS _q3",
        ),
        ("SELECT * FROM (SELECT a FROM t) x", "SELECT * FROM (SELECT a FROM t) x"),
        (
            "SELECT json_extract(e.details, '$.reason') FROM events e",
            "SELECT (e.details::jsonb ->> 'reason') FROM events e",
        ),
        (
            "UPDATE outbox SET payload = json_remove(payload, '$.reply_to')",
            "UPDATE outbox SET payload = ((payload::jsonb - 'reply_to')::text)",
        ),
        ("SELECT a FROM t LIMIT -1 OFFSET ?", "SELECT a FROM t LIMIT ALL OFFSET %s"),
    ],
)
def test_sql_in_sqlites_spelling_is_translated_for_postgresql(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


def test_a_urls_password_never_shows() -> None:
    assert redact("cannot use postgresql://desk:s3cr3t@db:5432/dingdan now") == (
        "cannot use postgresql://desk:***@db:5432/dingdan now"
    )
    assert redact("postgresql://desk@db/dingdan") == "postgresql://desk@db/dingdan"


def test_a_second_poller_on_one_database_is_refused(pg_url: str) -> None:
    with poller_lock(pg_url):
        with pytest.raises(AlreadyRunning, match="already polls Telegram .* run every process in webhook mode"):
            with poller_lock(pg_url):
                pass
    with poller_lock(pg_url):  # released with the first
        pass


def test_a_poller_is_alone_on_its_database_and_replicas_share_it(pg_url: str) -> None:
    """A poller's replicas machinery is exclusive (a restart after kill -9 takes its leases and
    claims back at once), so neither a replica beside a poller nor a poller beside replicas starts."""
    with poller_lock(pg_url):
        with pytest.raises(AlreadyRunning, match="polls Telegram .* cannot share a database with a poller"):
            with poller_lock(pg_url, webhook=True):
                pass
    with poller_lock(pg_url, webhook=True), poller_lock(pg_url, webhook=True):  # replicas share it
        with pytest.raises(AlreadyRunning, match="replicas in webhook mode serve the database .* --webhook"):
            with poller_lock(pg_url):
                pass
    with poller_lock(pg_url):  # all of them gone: a poller starts
        pass


async def test_write_transactions_of_two_processes_take_turns(pg_url: str) -> None:
    """BEGIN IMMEDIATE is one writer across every store on the database, as SQLite's is across processes:
    a read-then-write in one transaction is never interleaved with another's."""
    first, second = Store(pg_url), Store(pg_url)
    await first.open()
    await second.open()
    try:
        now = datetime(2026, 11, 30, tzinfo=UTC)
        await first.create_team(1, "Store A", "Asia/Shanghai", 1, now)
        order: list[str] = []
        inside = asyncio.Event()

        async def slow() -> None:
            async with first.transaction() as tx:
                order.append("first in")
                inside.set()
                await asyncio.sleep(0.3)
                await tx.execute("UPDATE teams SET title = ? WHERE team_id = 1", ("first",))
                order.append("first out")

        async def quick() -> None:
            await inside.wait()
            async with second.transaction() as tx:
                order.append("second in")
                await tx.execute("UPDATE teams SET title = ? WHERE team_id = 1", ("second",))

        await asyncio.gather(slow(), quick())
        assert order == ["first in", "first out", "second in"]
        team = await first.team(1)
        assert team is not None and team.title == "second"
    finally:
        await first.close()
        await second.close()


def test_booleans_are_stored_as_sqlite_stores_them_and_whole_sums_are_ints(pg_url: str) -> None:
    conn = pg.Connection(pg_url)
    try:
        conn.execute("CREATE TEMP TABLE t (flag BIGINT, n BIGINT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(True, 1), (False, 2)])
        assert conn.execute("SELECT flag FROM t ORDER BY n").fetchall() == [(1,), (0,)]
        total, average = conn.execute("SELECT sum(n), avg(n) FROM t").fetchone()
        assert (total, type(total), average) == (3, int, 1.5)
    finally:
        conn.close()

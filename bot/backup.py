"""``dingdan backup FILE``, ``dingdan restore FILE`` and ``dingdan migrate --from FILE --to URL``: the
operator's side (which database, whether a bot holds it, one line said); the copying is
``bot.storage.backup`` and ``bot.storage.transfer``'s.

Exit codes as ``bot.cli`` says: 0 done; 1 refused (not a dingdan database, a non-empty target, a check
that failed), nothing changed; 2 the environment cannot do it (pg_dump missing, no database); 4 a bot
holds the database (restore, migrate).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.db_lock import AlreadyRunning, database_lock
from bot.settings import ConfigError, Settings
from bot.storage import pg
from bot.storage.backup import (
    BackupRefused,
    ToolMissing,
    backup_pg,
    backup_sqlite,
    pg_sessions,
    pg_summary,
    restore_pg,
    restore_sqlite,
    sqlite_summary,
)


def _target() -> Path | str:
    return Settings.from_env(need_token=False).db_path


def _refused(err: Exception) -> int:
    print(f"dingdan: {err}", file=sys.stderr)
    return 1


def _nobody_on(url: str) -> None:
    """No dingdan process is connected to the PostgreSQL database (a replica would write into the restore)."""
    others = pg_sessions(url)
    if others:
        raise AlreadyRunning(f"{others} dingdan connection(s) are open on {pg.redact(url)}: stop every replica "
                             "(and any import or export) first.")  # fmt: skip


def backup(file: Path) -> int:
    """Copy the database in DINGDAN_DB to ``file``; the bot may be running."""
    db = _target()
    try:
        if isinstance(db, str):
            summary = backup_pg(db, file)
            shown = pg.redact(db)
        else:
            if not db.exists():
                raise ConfigError(f"no database at {db}: set DINGDAN_DB to the database to back up")
            summary = backup_sqlite(db, file)
            shown = str(db)
    except ToolMissing as err:
        raise ConfigError(str(err)) from None
    except BackupRefused as err:
        return _refused(err)
    print(f"Backed up {shown} to {file}: {summary}.")
    return 0


def restore(file: Path) -> int:
    """Replace the database in DINGDAN_DB with the backup ``file``; refused while a bot runs on it."""
    db = _target()
    try:
        if isinstance(db, str):
            _nobody_on(db)
            restore_pg(file, db)
            summary = pg_summary(db)
            shown = pg.redact(db)
        else:
            sqlite_summary(file)  # refused before anything is touched, the lock file included
            with database_lock(db):
                summary = restore_sqlite(file, db)
            shown = str(db)
    except ToolMissing as err:
        raise ConfigError(str(err)) from None
    except BackupRefused as err:
        return _refused(err)
    print(f"Restored {file} into {shown}: {summary}.")
    return 0


def migrate(source: Path, target: str) -> int:
    """Copy the SQLite database ``source`` into the empty PostgreSQL database ``target``, checked."""
    import asyncio

    from bot.storage import Store
    from bot.storage.transfer import copy_sqlite_to_pg, target_tables

    if not pg.is_url(target):
        raise ConfigError("--to takes the PostgreSQL database's URL: postgresql://USER@HOST:PORT/DATABASE")

    async def bring_up_to_date(db: Path | str) -> None:
        store = Store(db)
        await store.open()  # the schema brought up to date (created, on an empty PostgreSQL database)
        await store.close()

    try:
        sqlite_summary(source)
        tables, ours = target_tables(target)
        if tables and not ours:
            raise BackupRefused(f"{pg.redact(target)} is not empty (tables that are not dingdan's: "
                                f"{', '.join(sorted(tables)[:5])}): migrate into a new database.")  # fmt: skip
        _nobody_on(target)  # a replica answering on an empty database while it is filled would mislead
        with database_lock(source):  # no bot writes into the source while it is copied
            asyncio.run(bring_up_to_date(source))
            asyncio.run(bring_up_to_date(target))
            copied = copy_sqlite_to_pg(source, target)
    except BackupRefused as err:
        return _refused(err)
    tables_line = ", ".join(f"{table} {n}" for table, n in copied.tables if n)
    print(f"Copied {source} into {pg.redact(target)}: {copied.rows} row(s) ({tables_line}). Checked: every "
          f"table's row count is equal, and the events are equal (SHA-256 {copied.events_sha256[:16]}…).")  # fmt: skip
    return 0

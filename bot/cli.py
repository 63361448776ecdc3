"""``dingdan run``, ``dingdan import FILE``, ``dingdan export``, ``dingdan rotate-secrets``, and the
operator's ``dingdan backup FILE``, ``dingdan restore FILE`` and ``dingdan migrate`` (``bot/backup.py``).

Exit codes: 0 done; 1 the command was refused (a file that is not a report, nothing to export,
secrets that cannot be decrypted, a backup that is not a dingdan database, a non-empty migration
target); 2 the environment is not a runnable configuration (pg_dump missing, too); 3 the bot
could not start (Telegram unreachable, the token refused); 4 another ``dingdan run`` already
runs on the same database (restore and migrate are refused while one runs); 5 the database
cannot be used (read-only, locked by another program, its folder not writable, not a database);
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib import metadata
from pathlib import Path

from bot import logs
from bot.db_lock import AlreadyRunning, database_lock
from bot.settings import ConfigError, Settings, StartupError, environment_help
from bot.storage.errors import DatabaseUnusable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dingdan", description="订单 dingdan: an Amazon order desk in Telegram",
        epilog=environment_help(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"dingdan {_version()}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the bot with long polling, or a webhook (token from DINGDAN_TOKEN)")
    run.add_argument("--webhook", metavar="URL", help="webhook mode: the https address Telegram posts updates to "
                     "(DINGDAN_WEBHOOK_URL)")  # fmt: skip
    run.add_argument("--listen", metavar="HOST:PORT", help="where the webhook server listens (DINGDAN_LISTEN; "
                     "default 0.0.0.0:8443)")  # fmt: skip
    run.add_argument("--no-set-webhook", action="store_true", help="do not call setWebhook at start (another "
                     "replica or the operator does)")  # fmt: skip
    imp = sub.add_parser("import", help="import a Seller Central order report into a team")
    imp.add_argument("file", type=Path)
    imp.add_argument("--team", type=int, help="the team's group chat id (default: the only team)")
    exp = sub.add_parser("export", help="write the Shipping Confirmation file of shipments made through the bot")
    exp.add_argument("--day", help="every shipment of this day (YYYY-MM-DD, team time) again")
    exp.add_argument("--team", type=int, help="the team's group chat id (default: the only team)")
    exp.add_argument("-o", "--output", type=Path, help="the file to write (default: shipping-confirmation-….txt here)")
    sub.add_parser("rotate-secrets", help="encrypt the stored Amazon credentials again with the first key of "
                   "DINGDAN_SECRET_KEY")  # fmt: skip
    bak = sub.add_parser("backup", help="copy the database in DINGDAN_DB to FILE (while the bot runs; pg_dump for "
                         "PostgreSQL)")  # fmt: skip
    bak.add_argument("file", type=Path)
    res = sub.add_parser("restore", help="replace the database in DINGDAN_DB with the backup FILE (the bot stopped)")
    res.add_argument("file", type=Path)
    mig = sub.add_parser("migrate", help="copy a team's SQLite database into an empty PostgreSQL database, checked")
    mig.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE", help="the SQLite database")
    mig.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://… (an empty database)")
    args = parser.parse_args(argv)
    if args.command is None:  # `dingdan` alone: what it can do and what it reads
        parser.print_help()
        return 0
    try:
        env_settings = Settings.from_env(need_token=False)
    except ConfigError as err:
        print(f"dingdan: {err}", file=sys.stderr)
        return 2
    logs.configure(env_settings.log_level, env_settings.log_format)
    try:
        if args.command == "run":
            settings = Settings.from_env(_run_options(args))
            from bot.app import serve

            if isinstance(settings.db_path, str):  # PostgreSQL: processes share it (replicas)
                from bot.storage.pg import poller_lock

                asyncio.run(_database_ready(settings.db_path))
                # Replicas take updates through the webhook; Telegram allows one poller per bot,
                # and a poller is alone on its database.
                with poller_lock(settings.db_path, webhook=bool(settings.webhook_url)):
                    asyncio.run(serve(settings))
                return 0
            # Before anything touches the database or Telegram: a second poller would double actions.
            with database_lock(settings.db_path):
                # The database is checked before Telegram is: a read-only or locked file is one line.
                asyncio.run(_database_ready(settings.db_path))
                asyncio.run(serve(settings))
            return 0
        if args.command in ("backup", "restore", "migrate"):
            from bot import backup

            if args.command == "migrate":
                return backup.migrate(args.source, args.target)
            return backup.backup(args.file) if args.command == "backup" else backup.restore(args.file)
        if args.command == "rotate-secrets":
            from bot.commandline import rotate_secrets

            return asyncio.run(rotate_secrets())
        if args.command == "export":
            from bot.commandline import export_file

            return asyncio.run(export_file(args.day, args.team, args.output))
        from bot.commandline import import_file

        return asyncio.run(import_file(args.file, args.team))
    except ConfigError as err:
        print(f"dingdan: {err}", file=sys.stderr)
        return 2
    except AlreadyRunning as err:
        print(f"dingdan: {err}", file=sys.stderr)
        return 4
    except DatabaseUnusable as err:
        print(f"dingdan: {err}", file=sys.stderr)
        return 5
    except StartupError as err:
        print(f"dingdan: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _run_options(args: argparse.Namespace) -> dict[str, str]:
    """The environment, with ``run``'s options in place of their variables (checked the same way)."""
    env = dict(os.environ)
    if args.webhook:
        env["DINGDAN_WEBHOOK_URL"] = args.webhook
    if args.listen:
        env["DINGDAN_LISTEN"] = args.listen
    if args.no_set_webhook:
        env["DINGDAN_SET_WEBHOOK"] = "0"
    return env


async def _database_ready(path: Path | str) -> None:
    """Open the database (its schema brought up to date) and close it, or raise DatabaseUnusable."""
    from bot.storage import Store

    store = Store(path)
    await store.open()
    await store.close()


def _version() -> str:
    try:
        return metadata.version("dingdan")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())

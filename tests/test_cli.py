"""``dingdan import FILE`` and ``dingdan run`` from the shell, as an operator would use them."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.storage import Store
from tests.support.scenario import sample

ROOT = Path(__file__).resolve().parent.parent


def dingdan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_import_from_the_command_line_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"

    async def make_team() -> None:
        store = Store(db)
        await store.open()
        await store.create_team(-100777, "Store A", "Asia/Shanghai", 1, datetime(2026, 11, 21, tzinfo=UTC))
        await store.close()

    asyncio.run(make_team())
    report = tmp_path / "unshipped.txt"
    report.write_bytes(sample("unshipped-orders-us.txt"))
    first = dingdan("import", str(report), env={"DINGDAN_DB": str(db)})
    assert (first.returncode, first.stdout) == (
        0,
        "Unshipped Orders report read (utf-8): 4 new, 0 updated, 0 unchanged.\n",
    )
    again = dingdan("import", str(report), env={"DINGDAN_DB": str(db)})
    assert again.returncode == 0
    assert again.stdout.startswith("Unshipped Orders report read (utf-8): 0 new, 0 updated, 4 unchanged.\n")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 4
        assert conn.execute("SELECT actor_name FROM events LIMIT 1").fetchone()[0] == "unshipped.txt (command line)"
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"PK\x03\x04" + bytes(100))
    refused = dingdan("import", str(junk), env={"DINGDAN_DB": str(db)})
    assert refused.returncode == 1
    assert refused.stderr.startswith("This is not a text report")


def test_run_without_a_token_says_what_to_do(tmp_path: Path) -> None:
    result = dingdan("run", env={"DINGDAN_DB": str(tmp_path / "x.sqlite3")})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dingdan: DINGDAN_TOKEN is not set. Create a bot with @BotFather and run: "
        "export DINGDAN_TOKEN='<the token BotFather gave you>'"
    )
    assert not (tmp_path / "x.sqlite3").exists()


def test_an_unreachable_bot_api_is_one_line_and_never_shows_the_token(tmp_path: Path) -> None:
    secret = "4242:NEVER-PRINT-THIS"
    result = dingdan("run", env={"DINGDAN_TOKEN": secret, "DINGDAN_API_URL": "http://127.0.0.1:9/bot",
                                 "DINGDAN_DB": str(tmp_path / "x.sqlite3")})  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "dingdan: cannot reach the Bot API at http://127.0.0.1:9 (NetworkError); check the network or DINGDAN_API_URL."
    )
    assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_export_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"

    async def ship_one() -> None:
        from bot.domain import Actor
        from bot.importing import Importer
        from bot.lifecycle import Lifecycle
        from bot.services import Desk

        store = Store(db)
        await store.open()
        at = lambda: datetime(2026, 11, 21, 8, tzinfo=UTC)  # noqa: E731
        await store.create_team(-100777, "Store A", "Asia/Shanghai", 1, at())
        await Importer(store, Lifecycle(), at).import_file(-100777, sample("unshipped-orders-us.txt"), filename="u.txt",
                                                           actor=Actor.importer("u.txt"))  # fmt: skip
        from bot.parsing import parse_order_ref

        await Desk(store, Lifecycle(), at).ship(-100777, parse_order_ref("6689831"), Actor("user", 1, "Alice", -100777),
                                                carrier="UPS", carrier_name="", tracking="1Z999AA10123456784")  # fmt: skip
        await store.close()

    asyncio.run(ship_one())
    out = tmp_path / "confirm.txt"
    first = dingdan("export", "-o", str(out), env={"DINGDAN_DB": str(db)})
    assert (first.returncode, first.stdout) == (0, f"{out}: 1 item line(s) for 1 order(s)\n")
    assert out.read_text(encoding="utf-8").splitlines()[1] == (
        "113-4417305-6689831\t62319586402671\t1\t2026-11-21\tUPS\t\t1Z999AA10123456784\t"
    )
    again = dingdan("export", "-o", str(out), env={"DINGDAN_DB": str(db)})
    assert again.returncode == 1
    assert again.stderr.startswith("Nothing to export")
    day = dingdan("export", "--day", "2026-11-21", "-o", str(tmp_path / "day.txt"), env={"DINGDAN_DB": str(db)})
    assert day.returncode == 0


def test_dingdan_alone_prints_the_help_with_every_variable_and_the_readme_lists_them(tmp_path: Path) -> None:
    from bot.settings import VARIABLES

    result = dingdan(env={"DINGDAN_DB": str(tmp_path / "x.sqlite3")})
    assert result.returncode == 0
    assert result.stdout.startswith("usage: dingdan")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") :]
    for variable in VARIABLES:
        for name in variable.name.replace(",", " ").split():
            full = name if name.startswith("DINGDAN_") else "DINGDAN_SPAPI" + name
            assert full in result.stdout or name in result.stdout, name
            assert f"`{full}`" in table, full
    version = dingdan("--version", env={})
    assert (version.returncode, version.stdout.strip()) == (0, "dingdan 0.1.0")


def test_a_setting_out_of_range_stops_with_one_line(tmp_path: Path) -> None:
    result = dingdan("run", env={"DINGDAN_TOKEN": "1:x", "DINGDAN_DB": str(tmp_path / "x.sqlite3"),
                                 "DINGDAN_ALERT_INTERVAL": "0.01"})  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dingdan: DINGDAN_ALERT_INTERVAL='0.01': not between 1 and 3600. Seconds between two alert checks."
    )
    assert not (tmp_path / "x.sqlite3").exists()


# --- a database that cannot be used; the log's format (issue 8 point 7) -------------------

UNUSABLE = 5


def test_a_locked_database_ends_run_with_one_line_and_its_own_exit_code(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")  # another program holds the file
        result = dingdan("run", env={"DINGDAN_TOKEN": "1:x", "DINGDAN_DB": str(db),
                                     "DINGDAN_API_URL": "http://127.0.0.1:9/bot"})  # fmt: skip
    finally:
        holder.close()
    assert result.returncode == UNUSABLE
    assert result.stderr.strip() == (
        f"dingdan: cannot use the database {db}: database is locked. Check that the file and its folder are "
        "writable by this user and that no other program holds it, or set DINGDAN_DB to another file."
    )


def test_a_file_that_is_not_a_database_or_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database\n" * 100)
    result = dingdan("run", env={"DINGDAN_TOKEN": "1:x", "DINGDAN_DB": str(junk)})
    assert result.returncode == UNUSABLE
    assert result.stderr.strip().startswith(f"dingdan: cannot use the database {junk}: file is not a database.")
    assert "Traceback" not in result.stderr
    missing = tmp_path / "no" / "such" / "folder" / "desk.sqlite3"
    result = dingdan("run", env={"DINGDAN_TOKEN": "1:x", "DINGDAN_DB": str(missing)})
    assert result.returncode == UNUSABLE
    assert result.stderr.strip() == (
        f"dingdan: cannot create the lock file {missing}.lock: No such file or directory; check that the "
        "database's folder exists and is writable by this user, or set DINGDAN_DB."
    )


def test_a_log_format_other_than_text_or_json_is_refused(tmp_path: Path) -> None:
    result = dingdan("run", env={"DINGDAN_TOKEN": "1:x", "DINGDAN_DB": str(tmp_path / "x.sqlite3"),
                                 "DINGDAN_LOG_FORMAT": "xml"})  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dingdan: DINGDAN_LOG_FORMAT='xml': not text or json. text, or json for one JSON object a line (for a log "
        "collector)."
    )


def test_json_log_lines_and_quiet_libraries() -> None:
    import json
    import logging

    from bot import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("INFO", "json")
        assert logging.getLogger("transitions").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("apscheduler.executors.default").getEffectiveLevel() == logging.WARNING
        record = logging.LogRecord("dingdan.updates", logging.INFO, __file__, 1, "update %s", (7,), None)
        record.team, record.outcome = -100777, "ok"
        line = json.loads(root.handlers[0].format(record))
        assert {k: line[k] for k in ("level", "logger", "message", "team", "outcome")} == {
            "level": "INFO", "logger": "dingdan.updates", "message": "update 7", "team": -100777, "outcome": "ok",
        }  # fmt: skip
        logs.configure("DEBUG", "text")
        assert logging.getLogger("transitions").getEffectiveLevel() == logging.DEBUG
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logs.quiet("INFO")

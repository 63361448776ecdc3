"""``dingdan import FILE``: the same import as a document in the chat, from the server's shell.

Useful for files over Telegram's 20 MB download limit. It needs no bot token.
"""

from __future__ import annotations

import html
import os
import sys
from pathlib import Path

from bot import i18n
from bot.domain import Actor, Refusal
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.refusal_codes import FileCode
from bot.settings import ConfigError, Settings, utc_now
from bot.storage import Store, Team


def _database() -> Path | str:
    db = Settings.from_env(need_token=False).db_path
    if isinstance(db, Path) and not db.exists():
        raise ConfigError(
            f"no database at {db}: run the bot and /start it in your team's group first (or set DINGDAN_DB)"
        )
    i18n.set_current(i18n.normalise(os.environ.get("LANG", "").split(".")[0]) or "en")
    return db


async def _team(store: Store, team_id: int | None) -> Team:
    teams = await store.teams()
    if team_id is None:
        if len(teams) != 1:
            names = ", ".join(f"{t.team_id} ({t.title})" for t in teams) or "none"
            raise ConfigError(f"say which team with --team; teams: {names}")
        return teams[0]
    found = [t for t in teams if t.team_id == team_id]
    if not found:
        raise ConfigError(f"no team {team_id}")
    return found[0]


async def import_file(path: Path, team_id: int | None) -> int:
    from bot import texts

    db = _database()
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    store = Store(db)
    await store.open()
    try:
        team = await _team(store, team_id)
        importer = Importer(store, Lifecycle(), utc_now)
        try:
            result = await importer.import_file(team.team_id, data, filename=path.name,
                                                actor=Actor.importer(f"{path.name} (command line)"))  # fmt: skip
        except Refusal as refusal:
            print(html.unescape(texts.refusal(refusal)), file=sys.stderr)
            return 1
        print(html.unescape(texts.import_summary(result, team.timezone)))
        return 0
    finally:
        await store.close()


async def export_file(day: str | None, team_id: int | None, output: Path | None) -> int:
    """Write the Shipping Confirmation file; the shipments in it count as exported."""
    from datetime import date

    from bot import texts
    from bot.amazon import Exporter

    db = _database()
    try:
        wanted = date.fromisoformat(day) if day else None
    except ValueError:
        print(html.unescape(texts.refusal(Refusal(FileCode.bad_export_day, text=day or ""))), file=sys.stderr)
        return 1
    store = Store(db)
    await store.open()
    try:
        team = await _team(store, team_id)
        exporter = Exporter(store, utc_now)
        taken = await exporter.take(team.team_id, team.timezone, wanted)
        if not taken.shipments:
            print(html.unescape(texts.refusal(Refusal(FileCode.nothing_to_export))), file=sys.stderr)
            return 1
        target = output or Path(taken.filename)
        try:
            target.write_bytes(taken.data)
        except OSError as err:
            await exporter.give_back(taken)
            raise ConfigError(f"cannot write {target}: {err.strerror}") from None
        print(f"{target}: {len(taken.shipments)} item line(s) for {taken.orders} order(s)")
        return 0
    finally:
        await store.close()


async def rotate_secrets() -> int:
    """Encrypt every stored Amazon secret again with the first key of DINGDAN_SECRET_KEY (the
    others only decrypt); secrets still in clear from an older version are encrypted too."""
    from bot.amazon import AmazonStore, SecretBox, install_log_redaction, reseal
    from bot.settings import KEY_COMMAND, secret_keys_from_env

    install_log_redaction()
    keys = secret_keys_from_env()
    if not keys:
        raise ConfigError(f"DINGDAN_SECRET_KEY is not set. Generate a key with: {KEY_COMMAND}; set "
                          "DINGDAN_SECRET_KEY to the new key, a comma, and the old key(s).")  # fmt: skip
    box = SecretBox(keys)
    db = _database()
    store = Store(db)
    await store.open()
    try:
        done = await reseal(AmazonStore(store), box, rotate=True)
    finally:
        await store.close()
    print(f"Re-encrypted the Amazon credentials of {len(done.resealed)} team(s) with the first key of "
          "DINGDAN_SECRET_KEY.")  # fmt: skip
    if done.unreadable:
        teams = ", ".join(map(str, done.unreadable))
        print(f"dingdan: the Amazon credentials of team(s) {teams} cannot be decrypted with any key in "
              "DINGDAN_SECRET_KEY and were left as they are: add the key they were saved with, or set them "
              "again with /amazon set.", file=sys.stderr)  # fmt: skip
        return 1
    return 0

"""Re-extract the catalogs and set Chinese translations, safely from several shells at once.

    python tools/translate.py FILE.json [FILE.json ...]
    python tools/translate.py --missing        # list what is still untranslated

FILE.json maps a msgid to its translations::

    {"Shipped {order}.": {"zh_Hans": "已发货 {order}。", "zh_Hant": "已出貨 {order}。"}}

A plural entry is keyed by its singular msgid and takes lists: ``{"zh_Hans": ["…"], "zh_Hant": ["…"]}``.
An existing translation is replaced. The run holds an exclusive lock on ``locales/.lock``, so
two people (or two helper sessions) never write the catalogs over each other.
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

from babel.messages.pofile import write_po

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogs import ROOT, extract, merged  # noqa: E402

CHINESE = ("zh_Hans", "zh_Hant")


def _apply(catalog, locale: str, wanted: dict) -> int:
    changed = 0
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        entry = wanted.get(key)
        if entry is None or locale not in entry:
            continue
        value = entry[locale]
        message.string = tuple(value) if isinstance(message.id, tuple) else value
        changed += 1
    return changed


def main(argv: list[str]) -> int:
    wanted: dict = {}
    show_missing = "--missing" in argv
    for name in (a for a in argv if a != "--missing"):
        wanted.update(json.loads(Path(name).read_text(encoding="utf-8")))
    lock = (ROOT / "locales" / ".lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        template = extract()
        with (ROOT / "locales" / "messages.pot").open("wb") as fh:
            write_po(fh, template, omit_header=False, no_location=True, sort_output=True)
        for locale in ("en", *CHINESE):
            catalog = merged(template, locale)
            changed = _apply(catalog, locale, wanted) if locale in CHINESE else 0
            path = ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
            with path.open("wb") as fh:
                write_po(fh, catalog, no_location=True, sort_output=True, width=120)
            missing = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.id, tuple) else m.string)]
            print(f"{locale}: {len(catalog)} messages, {changed} set, {len(missing)} untranslated")
            if show_missing:
                for msgid in missing:
                    print("   ", json.dumps(msgid, ensure_ascii=False))
        unknown = [k for k in wanted if not any((m.id if isinstance(m.id, str) else m.id[0]) == k for m in catalog)]
        for key in unknown:
            print("not in the source:", json.dumps(key, ensure_ascii=False))
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

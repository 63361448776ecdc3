"""Keep the message catalogs in step with the code.

    python tools/catalogs.py          # extract messages, merge into every locales/*/messages.po

English entries are filled with the source text; Chinese entries that are new are left
empty for a translator, and tests/test_i18n.py fails until they are translated.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = {"en": "en_US", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW"}
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    template = Catalog(project="dingdan", fuzzy=False)
    for package in ("bot", "handlers"):
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):  # fmt: skip
            template.add(message, None, [(f"{package}/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def merged(template: Catalog, locale: str) -> Catalog:
    path = ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=Locale.parse(LOCALES[locale]))
    else:
        catalog = Catalog(locale=Locale.parse(LOCALES[locale]), project="dingdan", fuzzy=False)
    catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
    catalog.obsolete.clear()
    if locale == "en":
        for message in catalog:
            if not message.id:
                continue
            if isinstance(message.id, str):
                message.string = message.string or message.id
            elif not all(message.string):
                message.string = tuple(message.id)
    return catalog


def main() -> int:
    template = extract()
    with (ROOT / "locales" / "messages.pot").open("wb") as fh:
        write_po(fh, template, omit_header=False, no_location=True, sort_output=True)
    for locale in LOCALES:
        catalog = merged(template, locale)
        path = ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, no_location=True, sort_output=True, width=120)
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{locale}: {len(catalog)} messages, {missing} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

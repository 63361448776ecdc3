"""Every user-facing string is translated, as a whole sentence with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import catalogs  # tools/catalogs.py (pytest's pythonpath holds tools/)
import pytest
from babel.messages.pofile import read_po

from bot import i18n

ROOT = Path(__file__).resolve().parent.parent

PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")
TAG = re.compile(r"</?\w+[^>]*>")
extracted = catalogs.extract()
SOURCE_IDS = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id}


def load(locale: str):
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def shape(text: str) -> tuple[list[str], list[str]]:
    return sorted(PLACEHOLDER.findall(text)), sorted(TAG.findall(text))


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_message_in_the_code_is_in_the_catalog(locale: str) -> None:
    catalog = load(locale)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    missing = sorted(SOURCE_IDS - ids)
    assert not missing, f"{locale}: not in the catalog (run python tools/catalogs.py, then translate): {missing[:10]}"


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_entry_is_translated_with_the_same_placeholders_and_tags(locale: str) -> None:
    problems = []
    for message in load(locale):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        for text in strings:
            if shape(text) != shape(ids[-1]) and shape(text) != shape(ids[0]):
                problems.append(f"placeholders or tags differ: {ids[0]!r} -> {text!r}")
    assert not problems, f"{locale}:\n" + "\n".join(problems[:20])


def test_chinese_catalogs_are_chinese_in_their_own_script() -> None:
    hans, hant = load("zh_Hans"), load("zh_Hant")
    assert hans.get("shipped").string == "已发货"
    assert hant.get("shipped").string == "已發貨"
    assert hans.get("return received").string == "退货已到"
    assert hant.get("return received").string == "退貨已到"


@pytest.mark.parametrize(
    ("telegram", "expected"),
    [("zh-hans", "zh_Hans"), ("zh-cn", "zh_Hans"), ("zh-sg", "zh_Hans"), ("zh", "zh_Hans"), ("zh-hant", "zh_Hant"),
     ("zh-tw", "zh_Hant"), ("zh-hk", "zh_Hant"), ("zh-Hant-TW", "zh_Hant"), ("en", "en"), ("en-GB", "en"),
     ("de", "en"), (None, "en")],
)  # fmt: skip
def test_telegram_language_resolution(telegram: str | None, expected: str) -> None:
    assert i18n.resolve(None, None, telegram) == expected


def test_own_choice_beats_chat_beats_telegram() -> None:
    assert i18n.resolve("zh_Hant", "zh_Hans", "en") == "zh_Hant"
    assert i18n.resolve(None, "zh_Hans", "en") == "zh_Hans"


def test_a_missing_catalog_stops_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(i18n, "locales_dir", lambda: tmp_path)
    i18n.translations.cache_clear()
    try:
        with pytest.raises(i18n.CatalogMissing):
            i18n.load_all()
    finally:
        i18n.translations.cache_clear()


def test_money_and_dates_follow_the_reader() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    moment = datetime(2026, 11, 20, 7, 59, tzinfo=UTC)
    with i18n.using("zh_Hans"):
        assert i18n.when(moment, "Asia/Shanghai") == "2026/11/20 15:59"
        assert i18n.money(Decimal("12.5"), "USD") == "US$12.50"
    with i18n.using("en"):
        assert i18n.money(Decimal("12.5"), "EUR") == "€12.50"
        assert i18n.day(moment, "America/Los_Angeles") == "Nov 19, 2026"

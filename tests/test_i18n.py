"""Every user-facing string is translated, as a whole sentence with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import catalogs  # tools/catalogs.py (pytest's pythonpath holds tools/)
import pytest
from babel.messages.pofile import read_po

from bot import i18n
from tests.support.scripts import foreign, not_taiwan, only

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
    assert hant.get("shipped").string == "已出貨"
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


def test_the_groups_language_is_its_setting_else_its_starters() -> None:
    # resolve(group setting, starter's choice, starter's Telegram language): alerts, the digest.
    assert i18n.resolve("zh_Hant", "zh_Hans", "en") == "zh_Hant"
    assert i18n.resolve(None, "zh_Hans", "en") == "zh_Hans"
    assert i18n.resolve(None, None, "zh-TW") == "zh_Hant"


@pytest.mark.parametrize(
    ("chosen", "telegram", "group", "expected"),
    [
        # A person's own language beats the group's, both ways.
        (None, "zh-CN", "zh_Hant", "zh_Hans"), (None, "zh-hans", "zh_Hant", "zh_Hans"),
        (None, "zh-hant", "zh_Hans", "zh_Hant"), (None, "zh-TW", "zh_Hans", "zh_Hant"),
        (None, "zh-HK", "zh_Hans", "zh_Hant"), (None, "zh-MO", "zh_Hans", "zh_Hant"),
        (None, "zh-SG", "zh_Hant", "zh_Hans"), (None, "en", "zh_Hans", "en"),
        # Plain zh names no script: Simplified, unless the group reads Traditional.
        (None, "zh", "zh_Hans", "zh_Hans"), (None, "zh", "zh_Hant", "zh_Hant"), (None, "zh", None, "zh_Hans"),
        (None, "ZH", "zh_Hant", "zh_Hant"), (None, "zh", "en", "zh_Hans"),
        # Unknown: the group's, else English.
        (None, None, "zh_Hant", "zh_Hant"), (None, "ru", "zh_Hans", "zh_Hans"), (None, "ru", None, "en"),
        (None, None, None, "en"),
        # A /lang choice beats everything.
        ("zh_Hant", "zh-CN", "zh_Hans", "zh_Hant"), ("en", "zh-TW", "zh_Hant", "en"),
    ],
)  # fmt: skip
def test_a_reply_is_in_the_persons_language(chosen, telegram, group, expected) -> None:
    assert i18n.person_language(chosen, telegram, group) == expected


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_chinese_lists_join_with_the_enumeration_comma(locale: str) -> None:
    with i18n.using(locale):
        assert i18n.listing(["24", "4"]) == "24、4"
        assert i18n.listing(["已发货 8", "已取消 2", "退货 1"]) == "已发货 8、已取消 2、退货 1"
        assert i18n.listing(["UPS"]) == "UPS"
        assert i18n.listing([]) == "—"
    with i18n.using("en"):
        assert i18n.listing(["24", "4"]) == "24 and 4"


def test_chinese_times_are_24_hour() -> None:
    from datetime import UTC, datetime

    afternoon = datetime(2026, 11, 20, 10, 44, tzinfo=UTC)
    with i18n.using("zh_Hant"):
        assert i18n.when(afternoon, "Asia/Taipei") == "2026/11/20 18:44"
    with i18n.using("zh_Hans"):
        assert i18n.when(afternoon, "Asia/Shanghai") == "2026/11/20 18:44"
    with i18n.using("en"):
        assert i18n.when(afternoon, "Asia/Taipei").replace("\u202f", " ") == "11/20/26, 6:44 PM"


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_each_chinese_catalog_is_in_its_own_script_only(locale: str) -> None:
    """No Simplified-only character in zh_Hant, no Traditional-only one in zh_Hans (OpenCC's tables)."""
    problems = []
    for message in load(locale):
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in strings:
            found = foreign(text or "", locale)
            if found:
                problems.append(f"{''.join(found)} in {text!r}")
    assert not problems, f"{locale}:\n" + "\n".join(problems)


def test_the_script_tables_know_what_both_scripts_share() -> None:
    simplified, traditional = only()["zh_Hans"], only()["zh_Hant"]
    assert {"发", "货", "单", "号", "运", "录", "组"} <= simplified
    assert {"發", "貨", "單", "號", "運", "錄", "組", "裡", "羣"} <= traditional
    # Written the same in Taiwan and on the mainland: in neither set.
    shared = set("出台后里干面只群于於着")
    assert not (shared & simplified) and not (shared & traditional)
    assert foreign("简体中文、繁體中文", "zh_Hant") == []


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


#: Words the glossary (docs/glossary.md, "For translators") replaces, per script: a word may
#: appear only where the English message itself quotes it (what people type, a header name).
AVOIDED = {
    "zh_Hans": {
        "承运商": "承运人", "(?<!延)迟发": "延迟发货", "客户": "买家", "退货中": "已申请退货",
        "信用决定": "natural wording", "近 30 天取消率": "配送前取消率",
        # 单号 alone is the tracking number's everyday word: 追踪编码（物流单号）once, then 追踪编码.
        "(?<![订尾改])(?<!（物流)单号": "追踪编码",
    },
    "zh_Hant": {
        "發貨": "出貨", "(?<!延)遲發": "延遲出貨", "訂單號(?!碼)": "訂單編號", "丟件": "遺失", "導出": "匯出",
        "聊天室": "對話 / 群組", "物流商": "承運商", "客戶": "買家", "退貨中": "已申請退貨", "預設語言": None,
        "默認": "預設", "信息": "訊息 / 資訊", "(?<!改)單號": "追蹤編號",
    },
}  # fmt: skip


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_the_catalogs_follow_the_translators_glossary(locale: str) -> None:
    problems = []
    for message in load(locale):
        if not message.id:
            continue
        ids = " ".join([message.id] if isinstance(message.id, str) else message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for word, use in AVOIDED[locale].items():
            if use is None:
                continue
            for text in strings:
                for m in re.finditer(word, text or ""):
                    if m.group(0) not in ids:
                        problems.append(f"{m.group(0)} (use {use}) in {text!r}")
    assert not problems, f"{locale}:\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_every_reason_name_is_a_word_the_parser_accepts(locale: str) -> None:
    """People copy a reason from the list the bot shows them: each Chinese name must read back as its code."""
    from bot.domain import Refusal
    from bot.parsing import resolve_cancel_reason, resolve_refund_reason
    from bot.texts.names import REASON_NAMES, REFUND_REASON_NAMES, reason_choices

    wrong = []
    with i18n.using(locale):
        for table, resolve, refund in ((REASON_NAMES, resolve_cancel_reason, False),
                                       (REFUND_REASON_NAMES, resolve_refund_reason, True)):  # fmt: skip
            names = reason_choices(list(table), refund=refund)
            assert not set(names) & set(table), f"codes shown to a Chinese reader: {set(names) & set(table)}"
            for code, name in zip(table, names, strict=True):
                try:
                    read = resolve(name)
                except Refusal:
                    read = None
                if read != code:
                    wrong.append(f"{name} → {read}, not {code}")
    assert not wrong, "\n".join(wrong)


def test_reason_lists_show_codes_in_english() -> None:
    from bot.texts.names import reason_choices

    with i18n.using("en"):
        assert reason_choices(["NoInventory", "BuyerCanceled"]) == ["NoInventory", "BuyerCanceled"]
    with i18n.using("zh_Hans"):
        assert reason_choices(["NoInventory", "BuyerCanceled"]) == ["缺货", "买家取消"]
    with i18n.using("zh_Hant"):
        assert reason_choices(["NoInventory", "BuyerCanceled"]) == ["缺貨", "買家取消"]


def test_traditional_is_written_in_taiwans_standard_forms() -> None:
    variants = not_taiwan()
    problems = []
    for message in load("zh_Hant"):
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in strings:
            problems += [f"{c} (Taiwan writes {variants[c]}) in {text!r}" for c in text or "" if c in variants]
    assert not problems, "\n".join(problems)

"""Languages: Babel catalogs from ``locales/``, the reader's locale per update, CLDR formatting.

The catalogs are compiled in memory from the ``.po`` files when the bot starts, so the
install-and-run path needs no separate compile step and a missing catalog fails at
start-up, not in the middle of a conversation.

``_("Order {order} shipped.", order=...)`` translates into the current reader's language
and fills named placeholders; values are HTML-escaped because replies use HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

DOMAIN = "messages"
LOCALES: tuple[str, ...] = ("en", "zh_Hans", "zh_Hant")
DEFAULT_LOCALE = "en"
#: CLDR locales used for formatting numbers and dates for each catalog.
_CLDR = {"en": "en_US", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW"}
#: How each language names itself (shown on the /lang buttons, never translated).
LANGUAGE_NAMES = {"en": "English", "zh_Hans": "简体中文", "zh_Hant": "繁體中文"}

_current: ContextVar[str] = ContextVar("dingdan_locale", default=DEFAULT_LOCALE)


def locales_dir() -> Path:
    """``locales/`` next to ``bot/`` (in the checkout and in an installed wheel alike)."""
    return Path(__file__).resolve().parent.parent / "locales"


class CatalogMissing(RuntimeError):
    pass


@cache
def translations(locale: str) -> Translations:
    po = locales_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        raise CatalogMissing(f"no message catalog for {locale!r} at {po}")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=Locale.parse(_CLDR[locale]))
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def load_all() -> None:
    """Compile every catalog now: a missing one stops the bot at start-up."""
    for locale in LOCALES:
        translations(locale)


def normalise(code: str | None) -> str | None:
    """Map a Telegram ``language_code`` or a typed choice to one of our catalogs.

    ``zh-hant``, ``zh-tw``, ``zh-hk`` (and ``zh-mo``) are Traditional; other ``zh`` is
    Simplified. Reducing ``zh-hant`` to ``zh`` would show Traditional readers the wrong
    script, so the region is looked at before the language.
    """
    if not code:
        return None
    c = code.strip().replace("_", "-").lower()
    if c in ("en",) or c.startswith("en-"):
        return "en"
    if c == "zh" or c.startswith("zh-"):
        parts = set(c.split("-")[1:])
        if parts & {"hant", "tw", "hk", "mo"}:
            return "zh_Hant"
        return "zh_Hans"
    aliases = {
        "english": "en", "简体": "zh_Hans", "简体中文": "zh_Hans", "中文": "zh_Hans", "cn": "zh_Hans",
        "hans": "zh_Hans", "繁體": "zh_Hant", "繁体": "zh_Hant", "繁體中文": "zh_Hant", "繁体中文": "zh_Hant",
        "hant": "zh_Hant", "tw": "zh_Hant", "hk": "zh_Hant",
    }  # fmt: skip
    return aliases.get(c)


def resolve(chosen: str | None, chat: str | None, telegram: str | None) -> str:
    """The first of ``chosen`` and ``chat`` that names a catalog, else ``telegram`` normalised, else English.

    The group's language for what the bot says to the whole group (alerts, the digest, Amazon's
    notices): the group's ``/lang group`` setting, else its starter's choice, else their app's.
    A person's reply uses :func:`person_language` instead.
    """
    for candidate in (chosen, chat):
        if candidate in LOCALES:
            return candidate
    return normalise(telegram) or DEFAULT_LOCALE


def person_language(chosen: str | None, telegram: str | None, group: str | None) -> str:
    """The language of a reply to one person, in a group or in private.

    Their own ``/lang`` choice, else their Telegram app's language, else the group's language
    (people whose language is unknown or one we do not speak), else English. In private, the
    group is the one of the person's team (``handlers.common``). A person's
    language beats the group's: a Traditional reader in a Simplified group reads Traditional.

    Plain ``zh`` (no script, no region) says Chinese but not which script: it reads as
    Simplified, unless the group's language is Traditional, where the group's script is the
    better guess for a Taiwan or Hong Kong team.
    """
    if chosen in LOCALES:
        return chosen
    own = normalise(telegram)
    if own is not None and telegram is not None and telegram.strip().lower() == "zh" and group == "zh_Hant":
        return "zh_Hant"
    if own is not None:
        return own
    if group in LOCALES:
        return group
    return DEFAULT_LOCALE


def group_matters(chosen: str | None, telegram: str | None) -> bool:
    """Whether the group's language can change :func:`person_language`'s answer for this
    person (else it need not be looked up)."""
    if chosen in LOCALES:
        return False
    return normalise(telegram) is None or (telegram is not None and telegram.strip().lower() == "zh")


def current() -> str:
    return _current.get()


def set_current(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextmanager
def using(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def _fill(text: str, params: dict[str, Any]) -> str:
    if not params:
        return text
    return text.format(**{k: _escape(v) for k, v in params.items()})


def _escape(value: Any) -> Any:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


class Raw:
    """A value already rendered as HTML (a translated fragment with its own markup)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def _(message: str, **params: Any) -> str:
    """Translate into the current reader's language and fill the named placeholders."""
    return _fill(translations(current()).ugettext(message), params)


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    params.setdefault("count", format_decimal(n, locale=cldr()))
    return _fill(translations(current()).ungettext(singular, plural, n), params)


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; translate it with ``_`` where it is shown."""
    return message


# --- CLDR formatting for the current reader ------------------------------------------


def cldr(locale: str | None = None) -> Locale:
    return Locale.parse(_CLDR[locale or current()])


#: Chinese lists join every item with the enumeration comma. CLDR's "a、b和c" glues the last
#: two items together when they are numbers or words without spaces ("提前 24和4 小时",
#: "已发货 8和已取消 2"), so Chinese never uses it.
_LIST_SEPARATOR = {"zh_Hans": "、", "zh_Hant": "、"}


def listing(items: list[str]) -> str:
    """Items joined the reader's way: "a, b, and c" (CLDR) in English, "a、b、c" in Chinese."""
    if not items:
        return "—"
    separator = _LIST_SEPARATOR.get(current())
    if separator is not None:
        return separator.join(items)
    return format_list(list(items), style="standard", locale=cldr())


def money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "—"
    if not currency:
        return format_decimal(amount, format="#,##0.00", locale=cldr())
    return format_currency(amount, currency, locale=cldr())


#: Chinese readers see 24-hour times (Seller Central and the ERPs do): CLDR's short format for
#: zh_Hant_TW is "2026/11/20 下午3:59". The date part is CLDR's short date for both scripts.
_DATETIME = {"zh_Hans": "y/M/d HH:mm", "zh_Hant": "y/M/d HH:mm"}


def when(moment: datetime | None, zone: str) -> str:
    """A moment in the team's time zone, in the reader's format (short date and time, 24-hour in Chinese)."""
    if moment is None:
        return "—"
    return format_datetime(moment, _DATETIME.get(current(), "short"), tzinfo=_zone(zone), locale=cldr())


def day(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "—"
    return format_date(moment.astimezone(_zone(zone)).date(), "medium", locale=cldr())


def duration(delta: timedelta, *, direction: bool = True) -> str:
    """'in 3 hours' / '5 hours ago' (or '3 hours' without direction), CLDR-worded."""
    return format_timedelta(delta, add_direction=direction, threshold=1.0, locale=cldr())


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)

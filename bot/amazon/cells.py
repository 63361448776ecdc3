"""One cell of a Seller Central flat file read into a value: dates, money, quantities.

Amazon writes dates a dozen ways (ISO 8601 with or without an offset, "15-Nov-2026 08:00
PST", "Nov 15, 2026", "15.11.2026"…), money in US or European style with or without a
currency sign, and quantities as Excel may have re-saved them ("2.0"). A cell that cannot
be read raises :class:`~bot.amazon.model.BadRow`, which its reader turns into a row error.

Money goes through the desk's one number grammar (:func:`bot.amounts.read_number`), the
same one that reads what a person types in the chat.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from bot.amazon.model import BadRow
from bot.amounts import read_number
from bot.domain import Refusal
from bot.refusal_codes import RowErrorCode

#: The fulfillment-channel column: who ships the order.
CHANNELS = {"amazon": "AFN", "afn": "AFN", "merchant": "MFN", "mfn": "MFN", "seller": "MFN"}
#: Yes in a yes/no column (is-prime, is-business-order).
TRUE_WORDS = frozenset(("true", "yes", "y", "1", "t"))


def clip(value: str) -> str:
    """A cell quoted back in a row error: never more than 60 characters."""
    return value if len(value) <= 60 else value[:59] + "…"


def fit_row(cells: list[str], ncols: int, need: int) -> tuple[RowErrorCode, dict[str, int]] | None:
    """Pad or trim a row that has not exactly ncols cells, or say why it cannot be read.

    Missing trailing cells are blanks unless a required column is among them; extra
    trailing cells must be blank (a stray tab inside a value would shift every column).
    Afterwards the row has ncols + 1 cells: the last, blank, stands for absent columns.
    """
    n = len(cells)
    if n < ncols:
        if n < need:
            return RowErrorCode.short_row, {"expected": ncols, "got": n}
        cells.extend([""] * (ncols + 1 - n))
        return None
    if any(c.strip() for c in cells[ncols:]):
        return RowErrorCode.long_row, {"expected": ncols, "got": n}
    del cells[ncols:]
    cells.append("")
    return None


# ---------------------------------------------------------------------------------------
# Dates

_TZ_MINUTES = {
    "Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60,
    "CEST": 120, "MEZ": 60, "MESZ": 120, "EET": 120, "EEST": 180, "MSK": 180,
    "IST": 330, "SGT": 480, "HKT": 480, "AWST": 480, "JST": 540, "KST": 540,
    "ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
    "BRT": -180, "ART": -180, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,  # US CST
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480,
    "HST": -600,
}  # fmt: skip
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "mär": 3,
    "mrz": 3, "apr": 4, "april": 4, "may": 5, "mai": 5, "jun": 6, "june": 6, "jul": 7,
    "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10,
    "october": 10, "okt": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
    "dez": 12,
}  # fmt: skip
_TIME = r"(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
_DATE_YMD_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME + r"\s*(.*)")
_DATE_DMONY_RE = re.compile(r"(\d{1,2})[- ./]([^\W\d_]{3,9})\.?[- ./,]+(\d{4})" + _TIME + r"\s*(.*)")
_DATE_MONDY_RE = re.compile(r"([^\W\d_]{3,9})\.? (\d{1,2}),? (\d{4})" + _TIME + r"\s*(.*)")
_DATE_DMY_RE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME + r"\s*(.*)")
_OFFSET_RE = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?")


def _offset(tail: str) -> timezone | None:
    tail = tail.strip().upper()
    if not tail:
        return UTC
    minutes = _TZ_MINUTES.get(tail)
    if minutes is not None:
        return timezone(timedelta(minutes=minutes))
    m = _OFFSET_RE.fullmatch(tail)
    if m and int(m[2]) <= 14 and int(m[3] or 0) < 60:
        minutes = int(m[2]) * 60 + int(m[3] or 0)
        return timezone(timedelta(minutes=-minutes if m[1] == "-" else minutes))
    return None


def parse_date(s: str) -> datetime | None:
    """An aware UTC datetime from the ways Amazon files write dates, or None."""
    found: datetime | None
    try:
        found = datetime.fromisoformat(s)
    except ValueError:
        found = _parse_date_slow(s)
        if found is None:
            return None
    else:
        found = found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return found if 1990 <= found.year <= 2100 else None


def _parse_date_slow(s: str) -> datetime | None:
    mo: int | None
    if m := _DATE_YMD_RE.fullmatch(s):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := _DATE_DMY_RE.fullmatch(s):
        y, mo, d = int(m[3]), int(m[2]), int(m[1])
    elif m := _DATE_DMONY_RE.fullmatch(s):
        mo = _MONTHS.get(m[2].lower())
        if mo is None:
            return None
        y, d = int(m[3]), int(m[1])
    elif m := _DATE_MONDY_RE.fullmatch(s):
        mo = _MONTHS.get(m[1].lower())
        if mo is None:
            return None
        y, d = int(m[3]), int(m[2])
    else:
        return None
    tz = _offset(m[7])
    if tz is None:
        return None
    try:
        local = datetime(y, mo, d, int(m[4] or 0), int(m[5] or 0), int(m[6] or 0), tzinfo=tz)
    except ValueError:
        return None
    return local.astimezone(UTC)


class Dates:
    """The date cells of one file: each distinct cell read once (a report repeats them)."""

    def __init__(self) -> None:
        self.read: dict[str, datetime] = {}

    def __call__(self, raw: str, column: str, required: bool) -> datetime | None:
        """The cell's date; None for a blank cell that may be blank; else ``BadRow``."""
        found = self.read.get(raw)
        if found is not None:
            return found
        s = raw.strip()
        if not s:
            if required:
                raise BadRow(RowErrorCode.missing_value, column=column)
            return None
        found = parse_date(s)
        if found is None:
            raise BadRow(RowErrorCode.bad_date, column=column, value=clip(s))
        self.read[raw] = found
        return found


# ---------------------------------------------------------------------------------------
# Money and quantities

_CURRENCY_SIGNS = "$€£¥￥₹₩ \u00a0\u202f"
_CURRENCY_AFFIX_RE = re.compile(r"^[A-Z]{3}(?=[\s0-9\-+(])|(?<=[0-9\s)])[A-Z]{3}$")
# Digits and the separators the number grammar knows (no-break spaces group like spaces).
_NUMBER_RE = re.compile(r"[0-9](?:[0-9.,' \u00a0\u202f]*[0-9])?")


def parse_money(s: str) -> Decimal | None:
    """39.99, 39,99, 1.234,56, 1,234.56, 1,234 (JPY), -5.00, (5.00), 5.00-, $5, 5 EUR -> Decimal.

    None when it is not an amount. The number itself is read as a person's is (both
    separators: the last is the decimal mark; a lone one before three digits groups
    thousands); a file may also write a currency code or sign, and a negative amount
    (a promotion discount, a refund), which a person's refund may not.
    """
    t = _CURRENCY_AFFIX_RE.sub("", s.strip()).strip(_CURRENCY_SIGNS)
    negative = False
    if t[:1] == "(" and t[-1:] == ")":
        negative, t = True, t[1:-1].strip(_CURRENCY_SIGNS)
    if t[:1] in ("-", "\u2212", "+"):
        negative, t = t[0] != "+", t[1:].strip(_CURRENCY_SIGNS)
    elif t[-1:] == "-":
        negative, t = True, t[:-1].strip(_CURRENCY_SIGNS)
    if not _NUMBER_RE.fullmatch(t):
        return None
    try:
        value = read_number(t.replace("\u00a0", " ").replace("\u202f", " "), t)
    except Refusal:
        return None
    return -value if negative else value


#: Quantities as written, read once: most cells are "1", "2" or "0".
QUANTITIES = {str(i): i for i in range(1000)}


def parse_quantity(s: str) -> int | None:
    q = QUANTITIES.get(s)
    if q is not None:
        return q
    t = s.strip()
    if t.isascii() and t.isdigit() and len(t) <= 7:
        return int(t)
    if t.endswith((".0", ".00")) and t.rstrip("0").rstrip(".").isdigit():  # 2.0 from Excel
        head = t.rstrip("0").rstrip(".")
        if head.isascii() and len(head) <= 7:
            return int(head)
    return None

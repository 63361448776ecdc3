"""Seller Central flat files read into plain values (DESIGN.md §5, amazon-formats.md).

Reads the reports a seller team uploads into the chat: the Unshipped Orders report, the
Order report, the FBA customer returns report and the MFN returns report. All are
tab-separated text with one header row, in UTF-8 (with or without BOM), UTF-16 (with BOM),
Windows-1252 (EU), CP932 / Windows-31J (JP) or ISO-8859-1, with LF, CRLF or CR line ends.

Pure: takes bytes, returns values. A file that cannot be read at all raises
:class:`bot.domain.Refusal` (``file_empty``, ``file_binary``, ``file_encoding``,
``file_not_report``); a row that cannot be read becomes a :class:`RowError`, and the order
it belongs to is left out entirely, so an import never half-imports an order.

Amazon's flat files are not quoted (a product name may contain ``"``), so rows are split
on tabs only. ``str.split("\\t")`` is used rather than ``csv.reader(delimiter="\\t",
quoting=csv.QUOTE_NONE)``: same result on these files, measured ~2.7x faster.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from bot.domain import Refusal

__all__ = [
    "KINDS",
    "REQUIRED",
    "ImportedItem",
    "ImportedOrder",
    "ImportedReturn",
    "ParsedReport",
    "RowError",
    "decode_report",
    "read_report",
]

UTC = timezone.utc


# ---------------------------------------------------------------------------------------
# Values


@dataclass(slots=True)
class ImportedItem:
    item_id: str
    sku: str
    title: str
    quantity: int
    quantity_shipped: int
    price: Decimal | None  # item-price of the row: Amazon's line total for all its units


@dataclass(slots=True)
class ImportedOrder:
    order_id: str
    lines: list[int]  # 1-based line numbers of its rows in the file (the header is line 1)
    # Goods state the report implies: explicit order-status when present; in an unshipped
    # report "unshipped" / "partially_shipped" / "shipped" from the shipped quantities;
    # None when the report does not say (an order report without a status column).
    status: str | None
    channel: str  # "MFN" unless the file says AFN (fulfillment-channel Amazon)
    purchased_at: datetime | None
    ship_by: datetime | None  # promise-date or latest-ship-date (earliest over its rows)
    deliver_by: datetime | None  # latest-delivery-date / delivery-end-date (latest over rows)
    currency: str | None
    # item-price + item-tax + shipping-price + shipping-tax - |promotion discounts| over
    # its rows; None when the report has no prices (or a row's item-price is blank).
    total: Decimal | None
    service_level: str
    buyer_name: str  # buyer-name, else recipient-name
    ship_city: str
    ship_state: str
    ship_postal_code: str
    ship_country: str
    ship_address: str  # ship-address-1..3 joined with ", "
    items: list[ImportedItem]
    is_business: bool = False
    is_prime: bool = False


@dataclass(slots=True)
class ImportedReturn:
    """One row of a returns report (returns rows stand alone: no grouping)."""

    order_id: str
    line: int
    sku: str
    quantity: int
    arrived: bool  # FBA: always True (the row means it reached the warehouse); MFN: delivered
    requested_at: datetime | None  # MFN "Return request date"; FBA: None
    arrived_at: datetime | None  # FBA return-date; MFN "Return delivery date"
    disposition: str  # FBA detailed-disposition (SELLABLE, CUSTOMER_DAMAGED...); MFN ""
    reason: str
    status: str
    comments: str  # FBA customer-comments; MFN ""
    rma: str  # the return's identity in its report: MFN Amazon RMA ID; FBA license-plate-number
    carrier: str  # MFN Return carrier
    tracking: str  # MFN Tracking ID
    refunded: Decimal | None  # MFN Refunded Amount
    currency: str | None  # MFN Currency code
    item_id: str  # MFN Order Item ID when present, else ""


@dataclass(slots=True)
class RowError:
    line: int
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ParsedReport:
    kind: str  # unshipped_orders | order_report | fba_returns | mfn_returns
    encoding: str
    orders: list[ImportedOrder]
    returns: list[ImportedReturn]
    errors: list[RowError]  # sorted by line
    rows: int  # data rows read (blank lines not counted)


# ---------------------------------------------------------------------------------------
# Report kinds: the columns each one is known by, and the ones it cannot do without.
# Column names are compared canonically: case-insensitive, trimmed, BOM and quotes
# stripped, spaces and underscores read as "-" ("Order ID" -> "order-id").


def _canon(name: str) -> str:
    name = name.replace("\ufeff", "").strip().strip('"').strip().lower()
    return "-".join(name.replace("_", " ").replace("-", " ").split())


_UNSHIPPED_COLUMNS = """order-id order-item-id purchase-date payments-date reporting-date
promise-date days-past-promise buyer-email buyer-name buyer-phone-number sku product-name
quantity-purchased quantity-shipped quantity-to-ship ship-service-level recipient-name
ship-address-1 ship-address-2 ship-address-3 ship-city ship-state ship-postal-code
ship-country is-business-order purchase-order-number price-designation is-iba
verge-of-cancellation verge-of-lateShipment payment-method cod-collectible-amount
already-paid payment-method-fee scheduled-delivery-start-date scheduled-delivery-end-date
points-granted is-prime""".split()

_ORDER_COLUMNS = """order-id order-item-id purchase-date payments-date buyer-email buyer-name
buyer-phone-number sku product-name quantity-purchased currency item-price item-tax
shipping-price shipping-tax ship-service-level recipient-name ship-address-1 ship-address-2
ship-address-3 ship-city ship-state ship-postal-code ship-country ship-phone-number
bill-address-1 bill-address-2 bill-address-3 bill-city bill-state bill-postal-code
bill-country item-promotion-discount item-promotion-id ship-promotion-discount
ship-promotion-id delivery-start-date delivery-end-date delivery-time-zone
delivery-Instructions sales-channel""".split()

_FBA_COLUMNS = """return-date order-id sku asin fnsku product-name quantity
fulfillment-center-id detailed-disposition reason status license-plate-number
customer-comments""".split()

_MFN_COLUMNS = [
    "Order ID", "Order date", "Return request date", "Return request status",
    "Amazon RMA ID", "Merchant RMA ID", "Label type", "Label cost", "Currency code",
    "Return carrier", "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime",
    "ASIN", "Merchant SKU", "Item Name", "Return quantity", "Return Reason", "In policy",
    "Return type", "Resolution", "Invoice number", "Return delivery date", "Order Amount",
    "Order quantity", "SafeT Action reason", "SafeT claim id", "SafeT claim state",
    "SafeT claim creation time", "SafeT claim reimbursement amount", "Refunded Amount",
    "Order Item ID",
]  # fmt: skip

KINDS = ("unshipped_orders", "order_report", "fba_returns", "mfn_returns")

#: Columns a file must have to be read as that kind, spelled as Amazon spells them.
REQUIRED: dict[str, list[str]] = {
    "unshipped_orders": [
        "order-id", "order-item-id", "purchase-date", "promise-date", "sku",
        "quantity-purchased",
    ],
    "order_report": [
        "order-id", "order-item-id", "purchase-date", "sku", "quantity-purchased",
        "currency", "item-price",
    ],
    "fba_returns": ["return-date", "order-id", "sku", "quantity", "detailed-disposition"],
    "mfn_returns": [
        "Order ID", "Return request date", "Amazon RMA ID", "Merchant SKU",
        "Return quantity", "Return delivery date",
    ],
}  # fmt: skip

# Columns used when present, whatever the kind says (some exports add them).
_ORDER_EXTRA = """order-status fulfillment-channel latest-ship-date latest-delivery-date
quantity-shipped quantity-to-ship item-tax shipping-price shipping-tax
item-promotion-discount ship-promotion-discount is-prime is-business-order""".split()

_KNOWN: dict[str, frozenset[str]] = {
    "unshipped_orders": frozenset(map(_canon, _UNSHIPPED_COLUMNS)),
    "order_report": frozenset(map(_canon, _ORDER_COLUMNS)),
    "fba_returns": frozenset(map(_canon, _FBA_COLUMNS)),
    "mfn_returns": frozenset(map(_canon, _MFN_COLUMNS)),
}
_REQUIRED_CANON = {k: [(_canon(c), c) for c in cols] for k, cols in REQUIRED.items()}

# Display names (as Amazon spells them) of canonical names, for row errors.
_DISPLAY = {_canon(c): c for c in _MFN_COLUMNS}
for _c in _UNSHIPPED_COLUMNS + _ORDER_COLUMNS + _FBA_COLUMNS + _ORDER_EXTRA:
    _DISPLAY.setdefault(_canon(_c), _c)


def _choose_kind(header: set[str]) -> str:
    """The kind the header is, or raise file_not_report naming what it lacks."""
    complete = []
    scored = []
    for order, kind in enumerate(KINDS):
        overlap = len(header & _KNOWN[kind])
        missing = [shown for canon, shown in _REQUIRED_CANON[kind] if canon not in header]
        if not missing:
            complete.append((-overlap, order, kind))
        scored.append((-overlap, len(missing), order, kind, missing))
    if complete:
        return min(complete)[2]
    best = min(scored)
    if -best[0] >= 2:  # shares at least two columns with a kind: name what that kind lacks
        raise Refusal("file_not_report", missing=best[4], kind=best[3])
    raise Refusal("file_not_report", missing=list(REQUIRED["order_report"]), kind=None)


# ---------------------------------------------------------------------------------------
# Decoding

_MAGIC = (
    b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08",  # zip, xlsx, docx, ods
    b"%PDF", b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff",  # pdf, png, gif, jpeg
    b"\xd0\xcf\x11\xe0",  # old Office (xls, doc)
    b"\x1f\x8b", b"BZh", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"\xfd7zXZ",  # archives
    b"RIFF", b"\x7fELF", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00",
    b"SQLite format 3",
)  # fmt: skip

# C0 control bytes that never occur in a text report (tab, LF, FF, CR and ESC spared).
_CTRL = bytes([*range(0x01, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_BLANK = b" \t\r\n\x0c\xef\xbb\xbf"
_CTRL_TEXT_RE = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
# Kana, CJK punctuation and full-width forms: a Windows-1252 file read as CP932 almost
# never produces these (their lead bytes 0x81-0x83 are rare punctuation in 1252 text).
_JP_STRONG_RE = re.compile("[\u3000-\u30ff\uff01-\uff5e]")
_KANJI_RUN_RE = re.compile("[\u4e00-\u9fff\uf900-\ufaff]{2,}")
_C1_BYTES = bytes(b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
_LETTER_BYTES = bytes(b for b in range(0xC0, 0x100) if b not in (0xD7, 0xF7))


def _control_share_too_high(sample: bytes) -> bool:
    controls = len(sample) - len(sample.translate(None, _CTRL))
    return controls > 0 and controls * 100 > len(sample)


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text saved without BOM: NULs at every other byte of mostly-ASCII text."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    half = len(sample) // 2
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    if odd_nul >= 0.9 * half and even_nul == 0:
        codec = "utf-16-le"
    elif even_nul >= 0.9 * half and odd_nul == 0:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if "\t" not in text or _CTRL_TEXT_RE.search(text):
        return None
    return text, codec


def _decode_bom(data: bytes, codec: str, name: str) -> tuple[str, str]:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise Refusal("file_encoding") from None
    if _CTRL_TEXT_RE.search(text):
        raise Refusal("file_binary")
    return text, name


def decode_report(data: bytes) -> tuple[str, str]:
    """The text of a report file and the encoding it was read with.

    Raises ``Refusal("file_empty")``, ``Refusal("file_binary")`` (NUL or control bytes,
    or a zip/xlsx/pdf/image signature) or ``Refusal("file_encoding")``.
    """
    if not data or not data[:4096].strip(_BLANK) and not data.strip(_BLANK):
        raise Refusal("file_empty")
    # Byte-order marks first: UTF-16/32 text is full of NUL bytes.
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return _decode_bom(data, "utf-32", "utf-32")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, name = _decode_bom(data, "utf-16", "utf-16")
        if not text.strip():
            raise Refusal("file_empty")
        return text, name
    if data.startswith(_MAGIC):
        raise Refusal("file_binary")
    if b"\x00" in data:
        found = _utf16_without_bom(data)
        if found is None:
            raise Refusal("file_binary")
        return found
    if _control_share_too_high(data[:65536]):
        raise Refusal("file_binary")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise Refusal("file_encoding") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode_legacy(data)


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Not UTF-8: CP932 (JP), Windows-1252 (EU) or ISO-8859-1, by plausibility."""
    sample = data[:262144].decode("utf-8", errors="replace")
    damaged = sample.count("\ufffd")
    valid_extra = len(sample.encode("utf-8")) - len(sample) - 2 * damaged
    if valid_extra >= 4 and valid_extra >= 8 * damaged:
        # Mostly valid UTF-8 with a few broken bytes: a damaged (truncated, mixed) UTF-8
        # file. Reading it as anything else would turn all its text into mojibake.
        raise Refusal("file_encoding")
    try:
        t932: str | None = data.decode("cp932")
    except UnicodeDecodeError:
        t932 = None
    # Kana, CJK punctuation or full-width forms: Japanese (see _JP_STRONG_RE).
    if t932 is not None and _JP_STRONG_RE.search(t932):
        return t932, "cp932"
    try:
        t1252: str | None = data.decode("cp1252")
    except UnicodeDecodeError:
        t1252 = None
    if t932 is not None:
        if t1252 is None:
            return t932, "cp932"
        if _KANJI_RUN_RE.search(t932):
            # Kanji only: Japanese read as 1252 is mostly C1 punctuation (ƒ ‚ “ † ...),
            # while a 1252 file that happens to be valid CP932 shows accented letters.
            glyphs = len(data) - len(data.translate(None, _C1_BYTES))
            letters = len(data) - len(data.translate(None, _LETTER_BYTES))
            if glyphs > letters:
                return t932, "cp932"
    if t1252 is not None:
        return t1252, "cp1252"
    # Only bytes 0x81 0x8D 0x8F 0x90 0x9D are undefined in 1252: a few strays are read as
    # ISO-8859-1; many mean the file is in an encoding we do not read.
    undefined = sum(data.count(b) for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))
    if undefined * 1000 <= len(data):
        return data.decode("iso-8859-1"), "iso-8859-1"
    raise Refusal("file_encoding")


# ---------------------------------------------------------------------------------------
# Values in cells

_ORDER_ID_RE = re.compile(r"[0-9]{3}-[0-9]{7}-[0-9]{7}")

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


def _parse_date(s: str) -> datetime | None:
    """An aware UTC datetime from the ways Amazon files write dates, or None."""
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        d = _parse_date_slow(s)
        if d is None:
            return None
    else:
        d = d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)
    return d if 1990 <= d.year <= 2100 else None


def _parse_date_slow(s: str) -> datetime | None:
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


_AMOUNT_RE = re.compile(r"[0-9][0-9.,]*")
_CURRENCY_SIGNS = "$€£¥￥₹₩ \u00a0\u202f"
_CURRENCY_AFFIX_RE = re.compile(r"^[A-Z]{3}(?=[\s0-9\-+(])|(?<=[0-9\s)])[A-Z]{3}$")


def _parse_amount(s: str) -> Decimal | None:
    """39.99, 39,99, 1.234,56, 1,234.56, 1,234 (JPY), -5.00, (5.00), $5, 5 EUR -> Decimal.

    None when it is not an amount. When both separators appear, the last one is the
    decimal point; a lone comma followed by exactly three digits groups thousands.
    """
    t = _CURRENCY_AFFIX_RE.sub("", s.strip()).strip(_CURRENCY_SIGNS)
    negative = False
    if t[:1] == "(" and t[-1:] == ")":
        negative, t = True, t[1:-1].strip(_CURRENCY_SIGNS)
    if t[:1] in ("-", "\u2212", "+"):
        negative, t = t[0] != "+", t[1:].strip(_CURRENCY_SIGNS)
    elif t[-1:] == "-":
        negative, t = True, t[:-1].strip(_CURRENCY_SIGNS)
    t = t.replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    if not _AMOUNT_RE.fullmatch(t):
        return None
    comma, dot = t.rfind(","), t.rfind(".")
    if comma >= 0 and dot >= 0:
        point = max(comma, dot)
        whole, frac = t[:point], t[point + 1 :]
        if not frac.isdigit() or not _grouped(whole, "." if point == comma else ","):
            return None
    elif comma < 0 and dot < 0:
        whole, frac = t, ""
    else:
        sep = "," if comma >= 0 else "."
        parts = t.split(sep)
        if len(parts) > 2 or (sep == "," and len(parts[1]) == 3 and parts[0] != "0"):
            if not _grouped(t, sep):  # 1,234 (JPY) or 1.234.567: thousands
                return None
            whole, frac = t, ""
        else:
            whole, frac = parts
            if not frac.isdigit():
                return None
    digits = whole.replace(",", "").replace(".", "")
    value = Decimal(f"{digits}.{frac}" if frac else digits)
    return -value if negative else value


def _grouped(whole: str, sep: str) -> bool:
    """Digits, optionally in thousands groups joined by sep (1,234,567)."""
    if sep not in whole:
        return whole.isdigit()
    groups = whole.split(sep)
    return (
        1 <= len(groups[0]) <= 3
        and all(len(g) == 3 for g in groups[1:])
        and all(g.isdigit() for g in groups)
    )


_QTY_CACHE = {str(i): i for i in range(1000)}


def _parse_quantity(s: str) -> int | None:
    q = _QTY_CACHE.get(s)
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


_STATUS = {
    "pending": "pending",
    "pendingavailability": "pending",
    "unshipped": "unshipped",
    "partiallyshipped": "partially_shipped",
    "shipped": "shipped",
    "invoiceunconfirmed": "shipped",
    "canceled": "cancelled",
    "cancelled": "cancelled",
}
_CHANNEL = {"amazon": "AFN", "afn": "AFN", "merchant": "MFN", "mfn": "MFN", "seller": "MFN"}
_TRUE = frozenset(("true", "yes", "y", "1", "t"))


def _clip(value: str) -> str:
    return value if len(value) <= 60 else value[:59] + "…"


class _Bad(Exception):
    """A row that cannot be read: its RowError code and params."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params


# ---------------------------------------------------------------------------------------
# Reading


def read_report(data: bytes) -> ParsedReport:
    """Read an uploaded report: its kind, orders or returns, and the rows refused.

    Raises :class:`Refusal` for a file that cannot be read at all (see decode_report, and
    ``file_not_report`` with ``missing`` columns and the ``kind`` the header resembles).
    """
    text, encoding = decode_report(data)
    lines = _split_lines(text)
    del text
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines):
        raise Refusal("file_empty")
    names = [_canon(cell) for cell in lines[start].split("\t")]
    cols: dict[str, int] = {}
    for index, name in enumerate(names):
        if name:
            cols.setdefault(name, index)
    kind = _choose_kind(set(cols))
    reader = _read_returns if kind in ("fba_returns", "mfn_returns") else _read_orders
    # A big report allocates millions of small objects that all stay alive: the cyclic
    # garbage collector would rescan them again and again (measured: >half the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return reader(kind, encoding, lines, start, cols, len(names))
    finally:
        if collecting:
            gc.enable()


def _split_lines(text: str) -> list[str]:
    """The lines of the text, ended by CRLF, LF or CR.

    The same list as ``text.replace("\r\n", "\n").replace("\r", "\n").split("\n")``
    without two more copies of a whole (maybe 100 MB) text alive at once: a line followed
    by LF loses the CR it ends with (CRLF), then any CR left is a line end of its own.
    """
    lines = text.split("\n")
    if "\r" not in text:
        return lines
    lone = False
    for index in range(len(lines) - 1):  # the last line has no LF after it
        line = lines[index]
        if line.endswith("\r"):
            line = lines[index] = line[:-1]
        if not lone and "\r" in line:
            lone = True
    if lone or "\r" in lines[-1]:
        split: list[str] = []
        for line in lines:
            if "\r" in line:
                split.extend(line.split("\r"))
            else:
                split.append(line)
        lines = split
    return lines


def _fit(cells: list[str], ncols: int, need: int) -> tuple[str, dict[str, int]] | None:
    """Pad or trim a row that has not exactly ncols cells, or say why it cannot be read.

    Missing trailing cells are blanks unless a required column is among them; extra
    trailing cells must be blank (a stray tab inside a value would shift every column).
    """
    n = len(cells)
    if n < ncols:
        if n < need:
            return "short_row", {"expected": ncols, "got": n}
        cells.extend([""] * (ncols + 1 - n))
        return None
    if any(c.strip() for c in cells[ncols:]):
        return "long_row", {"expected": ncols, "got": n}
    del cells[ncols:]
    cells.append("")
    return None


def _read_orders(kind: str, encoding: str, lines: list[str], start: int, cols: dict[str, int],
                 ncols: int) -> ParsedReport:
    # Every row is padded with one blank cell at index ncols: absent columns point there.
    absent = ncols

    def col(*names: str) -> int:
        return next((cols[n] for n in names if n in cols), absent)

    def name_of(*names: str) -> str:
        return next((n for n in names if n in cols), names[0])

    i_oid, i_item = cols["order-id"], cols["order-item-id"]
    i_purchase, i_sku, i_qty = cols["purchase-date"], cols["sku"], cols["quantity-purchased"]
    ship_by_cols = ("promise-date", "latest-ship-date")
    i_ship_by, n_ship_by = col(*ship_by_cols), name_of(*ship_by_cols)
    deliver_cols = ("latest-delivery-date", "delivery-end-date", "scheduled-delivery-end-date")
    i_deliver, n_deliver = col(*deliver_cols), name_of(*deliver_cols)
    i_status, i_channel = col("order-status"), col("fulfillment-channel")
    i_shipped, i_to_ship = col("quantity-shipped"), col("quantity-to-ship")
    has_status = i_status != absent
    has_shipped, has_to_ship = i_shipped != absent, i_to_ship != absent
    i_title, i_level = col("product-name"), col("ship-service-level")
    i_buyer, i_recipient = col("buyer-name"), col("recipient-name")
    i_city, i_state = col("ship-city"), col("ship-state")
    i_postal, i_country = col("ship-postal-code"), col("ship-country")
    i_addr = [cols[n] for n in ("ship-address-1", "ship-address-2", "ship-address-3") if n in cols]
    i_business, i_prime = col("is-business-order"), col("is-prime")
    priced = "item-price" in cols and "currency" in cols
    i_price, i_currency = col("item-price"), col("currency")
    i_plus = [cols[n] for n in ("item-tax", "shipping-price", "shipping-tax") if n in cols]
    i_minus = [cols[n] for n in ("item-promotion-discount", "ship-promotion-discount") if n in cols]
    ship_by_required = kind == "unshipped_orders"
    need = max(cols[canon] for canon, _ in _REQUIRED_CANON[kind]) + 1
    column_names = {index: _DISPLAY.get(name, name) for name, index in cols.items()}

    dates: dict[str, datetime] = {}
    amounts: dict[str, Decimal] = {}
    quantities = _QTY_CACHE
    order_id_ok = _ORDER_ID_RE.fullmatch

    def date(raw: str, column: str, required: bool) -> datetime | None:
        s = raw.strip()
        if not s:
            if required:
                raise _Bad("missing_value", column=column)
            return None
        d = _parse_date(s)
        if d is None:
            raise _Bad("bad_date", column=column, value=_clip(s))
        dates[raw] = d
        return d

    def amount(raw: str, index: int, signed: bool) -> Decimal | None:
        a = amounts.get(raw)
        if a is None:
            s = raw.strip()
            if not s:
                return None
            a = _parse_amount(s)
            if a is None:
                raise _Bad("bad_amount", column=column_names[index], value=_clip(s))
            amounts[raw] = a
        if a < 0 and not signed:
            raise _Bad("bad_amount", column=column_names[index], value=_clip(raw.strip()))
        return a

    def quantity(raw: str, column: str, required: bool) -> int | None:
        q = _parse_quantity(raw)
        if q is None:
            s = raw.strip()
            if s:
                raise _Bad("bad_quantity", column=column, value=_clip(s))
            if required:
                raise _Bad("missing_value", column=column)
        return q

    statuses: dict[str, str | None] = {}

    def status_of(raw: str) -> str | None:
        if raw not in statuses:
            statuses[raw] = _STATUS.get("".join(raw.split()).replace("_", "").lower())
        return statuses[raw]

    errors: list[RowError] = []
    orders: dict[str, ImportedOrder] = {}
    # order id -> [total so far or None, anything shipped, anything left to ship, status]
    tallies: dict[str, list[Any]] = {}
    bad: dict[str, int] = {}  # order id -> its first refused line
    seen: dict[str, int] = {}  # order id + tab + order item id -> line
    rows = 0

    # Repeated values (SKUs, titles, places, service levels) are kept once, not once a row.
    share = {}.setdefault

    for index in range(start + 1, len(lines)):
        raw = lines[index]
        lines[index] = ""  # read_report's own list: a row read is not kept twice in memory
        if not raw or raw.isspace():
            continue
        rows += 1
        line = index + 1
        cells = raw.split("\t")
        if len(cells) == ncols:
            cells.append("")
        else:
            problem = _fit(cells, ncols, need)
            if problem is not None:
                errors.append(RowError(line, *problem))
                oid = cells[i_oid].strip() if i_oid < len(cells) else ""
                if order_id_ok(oid) and oid not in bad:
                    bad[oid] = line
                continue
        oid = cells[i_oid].strip()
        if not order_id_ok(oid):
            if oid:
                errors.append(RowError(line, "bad_order_id", {"value": _clip(oid)}))
            else:
                errors.append(RowError(line, "missing_value", {"column": "order-id"}))
            continue
        try:
            item_id = cells[i_item].strip()
            if not item_id:
                raise _Bad("missing_value", column="order-item-id")
            key = oid + "\t" + item_id
            first = seen.get(key)
            if first is not None:
                errors.append(RowError(line, "duplicate_row", {"first_line": first}))
                continue
            seen[key] = line
            sku = cells[i_sku].strip()
            if not sku:
                raise _Bad("missing_value", column="sku")

            raw_date = cells[i_purchase]
            purchased_at = dates.get(raw_date) or date(raw_date, "purchase-date", True)
            raw_date = cells[i_ship_by]
            ship_by = dates.get(raw_date) or date(raw_date, n_ship_by, ship_by_required)
            raw_date = cells[i_deliver]
            deliver_by = (dates.get(raw_date) or date(raw_date, n_deliver, False)) if raw_date else None

            raw_qty = cells[i_qty]
            qty = quantities.get(raw_qty)
            if qty is None:
                qty = quantity(raw_qty, "quantity-purchased", True)
            shipped = to_ship = None
            if has_shipped:
                raw_qty = cells[i_shipped]
                shipped = quantities.get(raw_qty)
                if shipped is None:
                    shipped = quantity(raw_qty, "quantity-shipped", False)
                if shipped is not None and shipped > qty:
                    raise _Bad("bad_quantity", column="quantity-shipped", value=_clip(raw_qty.strip()))
            if has_to_ship:
                raw_qty = cells[i_to_ship]
                to_ship = quantities.get(raw_qty)
                if to_ship is None:
                    to_ship = quantity(raw_qty, "quantity-to-ship", False)
                if to_ship is not None and to_ship > qty:
                    raise _Bad("bad_quantity", column="quantity-to-ship", value=_clip(raw_qty.strip()))
            if shipped is None:
                shipped = qty - to_ship if to_ship is not None else 0
            left = to_ship if to_ship is not None else qty - shipped

            currency = price = line_total = None
            if priced:
                price = line_total = amount(cells[i_price], i_price, False)
                for i in i_plus:
                    a = amount(cells[i], i, False)
                    if a is not None and line_total is not None:
                        line_total += a
                for i in i_minus:
                    a = amount(cells[i], i, True)
                    if a is not None and line_total is not None:
                        line_total -= abs(a)
                currency = cells[i_currency].strip().upper() or None
                if currency is None and price is not None:
                    raise _Bad("missing_value", column="currency")

            order = orders.get(oid)
            if order is not None and currency and order.currency and currency != order.currency:
                raise _Bad("currency_mismatch", column="currency", value=_clip(currency),
                           expected=order.currency)
        except _Bad as refused:
            errors.append(RowError(line, refused.code, refused.params))
            if oid not in bad:
                bad[oid] = line
            continue

        title = cells[i_title].strip()
        item = ImportedItem(item_id, share(sku, sku), share(title, title), qty, shipped, price)
        status = status_of(cells[i_status]) if has_status else None
        if order is None:
            buyer = cells[i_buyer].strip() or cells[i_recipient].strip()
            address = ", ".join([a for a in [cells[i].strip() for i in i_addr] if a])
            level, city, state = cells[i_level].strip(), cells[i_city].strip(), cells[i_state].strip()
            postal, country = cells[i_postal].strip(), cells[i_country].strip()
            orders[oid] = ImportedOrder(
                oid, [line], None, _CHANNEL.get(cells[i_channel].strip().lower(), "MFN"),
                purchased_at, ship_by, deliver_by, currency and share(currency, currency), None,
                share(level, level), buyer, share(city, city), share(state, state), share(postal, postal),
                share(country, country), address, [item],
                cells[i_business].strip().lower() in _TRUE,
                cells[i_prime].strip().lower() in _TRUE,
            )
            tallies[oid] = [line_total, shipped > 0, left > 0, status]
        else:
            order.lines.append(line)
            order.items.append(item)
            if ship_by is not None and (order.ship_by is None or ship_by < order.ship_by):
                order.ship_by = ship_by
            if deliver_by is not None and (order.deliver_by is None or deliver_by > order.deliver_by):
                order.deliver_by = deliver_by
            if order.currency is None:
                order.currency = currency
            tally = tallies[oid]
            if tally[0] is not None:
                tally[0] = None if line_total is None else tally[0] + line_total
            if shipped > 0:
                tally[1] = True
            if left > 0:
                tally[2] = True
            if tally[3] is None:
                tally[3] = status

    for oid, bad_line in bad.items():
        order = orders.pop(oid, None)
        if order is not None:
            for line in order.lines:
                errors.append(RowError(line, "order_has_bad_row", {"bad_line": bad_line}))
    derive = kind == "unshipped_orders"
    for oid, order in orders.items():
        total, any_shipped, any_left, status = tallies[oid]
        order.total = total if priced else None
        if status is None and (derive or has_shipped or has_to_ship):
            if any_shipped:
                status = "partially_shipped" if any_left else "shipped"
            elif derive:
                status = "unshipped"
        order.status = status
    errors.sort(key=lambda e: e.line)
    return ParsedReport(kind, encoding, list(orders.values()), [], errors, rows)


def _read_returns(kind: str, encoding: str, lines: list[str], start: int, cols: dict[str, int],
                  ncols: int) -> ParsedReport:
    absent = ncols
    fba = kind == "fba_returns"

    def col(name: str) -> int:
        return cols.get(_canon(name), absent)

    if fba:
        i_oid, i_sku, i_qty = col("order-id"), col("sku"), col("quantity")
        n_oid, n_sku, n_qty = "order-id", "sku", "quantity"
        i_arrived, n_arrived = col("return-date"), "return-date"
        i_requested = absent
        i_disp, i_reason, i_status = col("detailed-disposition"), col("reason"), col("status")
        i_comments, i_rma = col("customer-comments"), col("license-plate-number")
        i_carrier = i_tracking = i_refund = i_currency = i_item = absent
    else:
        i_oid, i_sku, i_qty = col("Order ID"), col("Merchant SKU"), col("Return quantity")
        n_oid, n_sku, n_qty = "Order ID", "Merchant SKU", "Return quantity"
        i_arrived, n_arrived = col("Return delivery date"), "Return delivery date"
        i_requested = col("Return request date")
        i_disp, i_comments = absent, absent
        i_reason, i_status = col("Return Reason"), col("Return request status")
        i_rma, i_carrier, i_tracking = col("Amazon RMA ID"), col("Return carrier"), col("Tracking ID")
        i_refund, i_currency, i_item = col("Refunded Amount"), col("Currency code"), col("Order Item ID")
    need = max(cols[canon] for canon, _ in _REQUIRED_CANON[kind]) + 1
    dates: dict[str, datetime] = {}

    def date(raw: str, column: str, required: bool) -> datetime | None:
        d = dates.get(raw)
        if d is not None:
            return d
        s = raw.strip()
        if not s:
            if required:
                raise _Bad("missing_value", column=column)
            return None
        d = _parse_date(s)
        if d is None:
            raise _Bad("bad_date", column=column, value=_clip(s))
        dates[raw] = d
        return d

    errors: list[RowError] = []
    returns: list[ImportedReturn] = []
    seen: dict[tuple[str, ...], int] = {}
    rows = 0
    for index in range(start + 1, len(lines)):
        raw = lines[index]
        if not raw or raw.isspace():
            continue
        rows += 1
        line = index + 1
        cells = raw.split("\t")
        if len(cells) == ncols:
            cells.append("")
        else:
            problem = _fit(cells, ncols, need)
            if problem is not None:
                errors.append(RowError(line, *problem))
                continue
        oid = cells[i_oid].strip()
        try:
            if not oid:
                raise _Bad("missing_value", column=n_oid)
            if not _ORDER_ID_RE.fullmatch(oid):
                raise _Bad("bad_order_id", value=_clip(oid))
            sku = cells[i_sku].strip()
            if not sku:
                raise _Bad("missing_value", column=n_sku)
            rma = cells[i_rma].strip()
            arrived_at = date(cells[i_arrived], n_arrived, fba)
            requested_at = None if fba else date(cells[i_requested], "Return request date", True)
            key = (oid, sku, rma) if rma or not fba else (oid, sku, "", cells[i_arrived].strip())
            first = seen.get(key)
            if first is not None:
                raise _Bad("duplicate_row", first_line=first)
            qty_raw = cells[i_qty]
            qty = _parse_quantity(qty_raw)
            if qty is None or qty < 1:
                if not qty_raw.strip():
                    raise _Bad("missing_value", column=n_qty)
                raise _Bad("bad_quantity", column=n_qty, value=_clip(qty_raw.strip()))
            refunded = None
            refund_raw = cells[i_refund].strip()
            if refund_raw:
                refunded = _parse_amount(refund_raw)
                if refunded is None:
                    raise _Bad("bad_amount", column="Refunded Amount", value=_clip(refund_raw))
                refunded = abs(refunded)  # some exports write refunds negative
        except _Bad as refused:
            errors.append(RowError(line, refused.code, refused.params))
            continue
        seen[key] = line
        returns.append(ImportedReturn(
            oid, line, sku, qty, fba or arrived_at is not None, requested_at, arrived_at,
            cells[i_disp].strip().upper(), cells[i_reason].strip(), cells[i_status].strip(),
            cells[i_comments].strip(), rma, cells[i_carrier].strip(), cells[i_tracking].strip(),
            refunded, cells[i_currency].strip().upper() or None, cells[i_item].strip(),
        ))
    return ParsedReport(kind, encoding, [], returns, errors, rows)

"""What a person types, read into values: order references, amounts, reasons, keywords.

Staff type on phones with Chinese input methods, so full-width digits, dashes, colons and
spaces (``１１３－４４１７３０５``, ``：``, U+3000) are as normal as ASCII, and the same word
comes in Simplified and Traditional script. Everything here normalises first (NFKC, which
leaves CJK ideographs alone) and then reads.

Pure: no Telegram, no database. Wrong input raises :class:`bot.domain.Refusal`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Refusal

# Dashes an input method may produce where a person meant "-" (NFKC already folds the
# full-width hyphen-minus U+FF0D).
_DASHES = "‐‑‒–—―−﹣"
_DASH_RE = re.compile(f"[{_DASHES}]")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def split_args(text: str) -> list[str]:
    """Words of a message: split on any whitespace (U+3000 too), full-width forms folded."""
    return _nfkc(text).split()


# ---------------------------------------------------------------------------------------
# Order references

# ASCII digits only: Python's \d would also accept Arabic-Indic and other digits.
ORDER_ID_RE = re.compile(r"^[0-9]{3}-[0-9]{7}-[0-9]{7}$")

_TAIL_MIN, _TAIL_MAX = 4, 16


@dataclass(frozen=True)
class OrderRef:
    """An order as a person named it: its full Amazon id, or the last digits of one."""

    full: str | None = None
    tail: str | None = None


def parse_order_ref(text: str) -> OrderRef:
    """``113-4417305-6689831``, the same 17 digits without dashes, or a tail like ``9831``."""
    typed = (text or "").strip()
    candidate = _DASH_RE.sub("-", _nfkc(typed)).strip().removeprefix("#")
    if ORDER_ID_RE.match(candidate):
        return OrderRef(full=candidate)
    digits = candidate.replace("-", "")
    if digits.isascii() and digits.isdigit():
        if len(digits) == 17:
            return OrderRef(full=f"{digits[:3]}-{digits[3:10]}-{digits[10:]}")
        if _TAIL_MIN <= len(digits) <= _TAIL_MAX:
            return OrderRef(tail=digits)
    raise Refusal("bad_order_ref", text=typed)


# ---------------------------------------------------------------------------------------
# Amounts

_CENT = Decimal("0.01")

# Currency markers a person may put before or after the number, lower-cased. A marker
# several currencies share ($, ¥, kr) gives None: guessing would refund in the wrong one.
_CURRENCY_MARKERS: dict[str, str | None] = {
    "$": None,
    "us$": "USD",
    "usd": "USD",
    "美元": "USD",
    "美金": "USD",
    "c$": "CAD",
    "ca$": "CAD",
    "cad": "CAD",
    "加元": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "aud": "AUD",
    "澳元": "AUD",
    "mx$": "MXN",
    "mxn": "MXN",
    "r$": "BRL",
    "brl": "BRL",
    "s$": "SGD",
    "sgd": "SGD",
    "€": "EUR",
    "eur": "EUR",
    "欧元": "EUR",
    "歐元": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "英镑": "GBP",
    "英鎊": "GBP",
    "¥": None,  # NFKC folds the full-width ￥ into this
    "jp¥": "JPY",
    "jpy": "JPY",
    "円": "JPY",
    "日元": "JPY",
    "日圓": "JPY",
    "日币": "JPY",
    "日幣": "JPY",
    "cn¥": "CNY",
    "元": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "人民币": "CNY",
    "人民幣": "CNY",
    "块": "CNY",
    "塊": "CNY",
    "kr": None,
    "sek": "SEK",
    "zł": "PLN",
    "pln": "PLN",
    "₺": "TRY",
    "try": "TRY",
    "₹": "INR",
    "inr": "INR",
    "aed": "AED",
    "sar": "SAR",
    "egp": "EGP",
    "hkd": "HKD",
    "hk$": "HKD",
    "港币": "HKD",
    "港幣": "HKD",
    "twd": "TWD",
    "nt$": "TWD",
    "新台币": "TWD",
    "新台幣": "TWD",
}

# Sign, currency marker, number, currency marker. Spaces inside the number are only
# allowed as digit-group separators ("1 234,56"); the group check below enforces it.
_MONEY_RE = re.compile(
    r"""
    (?P<sign>[-+]?)\s*
    (?P<pre>[^\d\s.,+-]*)\s*
    (?P<sign2>[-+]?)
    (?P<number>[\d.,' ]*\d)
    \s*(?P<post>[^\d\s.,+-]*)
    """,
    re.VERBOSE,
)


def _marker_currency(marker: str, typed: str) -> str | None:
    """The currency a marker names, if only one; anything that is not a marker is refused."""
    if not marker:
        return None
    key = marker.casefold()
    if key not in _CURRENCY_MARKERS:
        raise Refusal("bad_amount", text=typed)
    return _CURRENCY_MARKERS[key]


def _read_number(number: str, typed: str) -> Decimal:
    """Digits with ``.``/``,``/space/``'`` separators, US or European style, as a Decimal."""
    decimal_mark = ""
    if "." in number and "," in number:
        # Both present: whichever comes last is the decimal mark ("1,234.56", "1.234,56").
        decimal_mark = "." if number.rfind(".") > number.rfind(",") else ","
    elif "." in number or "," in number:
        mark = "." if "." in number else ","
        head, _, fraction = number.rpartition(mark)
        # A lone mark before exactly three digits groups thousands ("1,234", "1.234"): no
        # marketplace currency has three decimals. Repeated marks always group.
        grouping = number.count(mark) > 1 or (
            len(fraction) == 3 and head.replace(" ", "").replace("'", "").strip("0") != ""
        )
        decimal_mark = "" if grouping else mark

    if decimal_mark:
        integer, _, fraction = number.rpartition(decimal_mark)
        if not re.fullmatch(r"[0-9]{1,2}", fraction):
            raise Refusal("bad_amount", text=typed)
    else:
        integer, fraction = number, ""

    # Whatever separators remain group thousands, and there may be only one kind of them
    # ("1 234,56" in French, "1'234.56" in Swiss, "1.234.567" in German).
    group_marks = set(re.sub(r"[0-9]", "", integer))
    if len(group_marks) > 1:
        raise Refusal("bad_amount", text=typed)
    if group_marks:
        head, *groups = integer.split(group_marks.pop())
        if not re.fullmatch(r"[0-9]{1,3}", head) or not all(len(g) == 3 and g.isdigit() for g in groups):
            raise Refusal("bad_amount", text=typed)
        integer = head + "".join(groups)
    if not integer and not fraction:
        raise Refusal("bad_amount", text=typed)
    return Decimal(f"{integer or '0'}.{fraction or '0'}")


def parse_money(text: str) -> tuple[Decimal, str | None]:
    """A positive amount to the cent and the currency the text names, when it names one.

    Accepts ``12.5``, ``12,50``, ``$12.50``, ``US$12.50``, ``12.50 USD``, ``€12,50``,
    ``¥1200``, ``1,234.56``, ``1.234,56``, ``1 234,56``, ``12.50元``. Bare ``$`` and ``¥``
    are shared by several currencies, so they give None.
    """
    typed = (text or "").strip()
    normalised = _DASH_RE.sub("-", _nfkc(typed)).strip()
    match = _MONEY_RE.fullmatch(normalised)
    if not match:
        raise Refusal("bad_amount", text=typed)
    if "-" in (match["sign"], match["sign2"]) or (match["sign"] and match["sign2"]):
        raise Refusal("bad_amount", text=typed)

    pre = _marker_currency(match["pre"], typed)
    post = _marker_currency(match["post"], typed)
    if pre and post and pre != post:
        raise Refusal("bad_amount", text=typed)
    currency = pre or post

    amount = _read_number(match["number"], typed)
    if amount <= 0 or amount != amount.quantize(_CENT):
        raise Refusal("bad_amount", text=typed)
    return amount.quantize(_CENT), currency


def parse_amount(text: str) -> Decimal:
    """A positive amount to the cent; see :func:`parse_money` for what is accepted."""
    return parse_money(text)[0]


# ---------------------------------------------------------------------------------------
# Cancellation reasons

# Amazon's cancellation reason codes. BuyerCanceled is the only one that does not count
# against the seller's cancellation rate.
CANCEL_REASONS: tuple[str, ...] = (
    "BuyerCanceled",
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "PricingError",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
)

_CANCEL_ALIASES: dict[str, tuple[str, ...]] = {
    "BuyerCanceled": (
        "buyer cancelled", "buyer cancel", "customer canceled", "customer cancelled",
        "买家取消", "買家取消", "客户取消", "客戶取消", "顾客取消", "顧客取消",
        "买家要求取消", "買家要求取消",
    ),
    "NoInventory": (
        "out of stock", "oos", "no stock", "sold out",
        "缺货", "缺貨", "没货", "沒貨", "无库存", "無庫存", "库存不足", "庫存不足", "断货", "斷貨",
    ),
    "ShippingAddressUndeliverable": (
        "address undeliverable", "undeliverable", "bad address", "wrong address", "address",
        "地址无法送达", "地址無法送達", "地址错误", "地址錯誤", "地址不对", "地址不對",
        "无法送达", "無法送達", "地址", "改地址", "地址变更", "地址變更",
    ),
    "CustomerExchange": ("exchange", "换货", "換貨", "客户换货", "客戶換貨"),
    "PricingError": (
        "price error", "wrong price", "mispriced",
        "价格错误", "價格錯誤", "标错价", "標錯價", "价格标错", "價格標錯", "定价错误", "定價錯誤",
    ),
    "GeneralAdjustment": ("general", "adjustment", "other", "一般调整", "一般調整", "其他", "其它"),
    "CarrierCreditDecision": ("carrier credit", "承运商信用", "承運商信用"),
    "RiskAssessmentInformationNotValid": (
        "risk", "risk assessment", "风险评估", "風險評估", "风控", "風控",
    ),
    "CarrierCoverageFailure": (
        "carrier coverage", "no carrier coverage",
        "物流不覆盖", "物流不覆蓋", "承运商不覆盖", "承運商不覆蓋", "不在配送范围", "不在配送範圍",
    ),
    "CustomerReturn": ("return", "客户退货", "客戶退貨", "买家退货", "買家退貨"),
    "MerchandiseNotReceived": (
        "not received", "未收到货", "未收到貨", "没收到货", "沒收到貨", "买家未收到", "買家未收到",
    ),
}


def _word_key(text: str) -> str:
    """A word once case, width, spaces, dashes and underscores stop mattering."""
    return re.sub(r"[\s\-_]+", "", _DASH_RE.sub("-", _nfkc(text)).casefold())


def _key_table(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for value, words in aliases.items():
        for word in (value, *words):
            key = _word_key(word)
            if table.get(key, value) != value:  # pragma: no cover - table typo
                raise ValueError(f"{word!r} means both {table[key]} and {value}")
            table[key] = value
    return table


_CANCEL_KEYS = _key_table(_CANCEL_ALIASES)


def resolve_cancel_reason(text: str) -> str:
    """Amazon's cancellation reason code for an English code/phrase or a Chinese name."""
    typed = (text or "").strip()
    if not typed:
        raise Refusal("missing_reason")
    code = _CANCEL_KEYS.get(_word_key(typed))
    if code is None:
        raise Refusal("unknown_reason", text=typed, choices=list(CANCEL_REASONS))
    return code


# ---------------------------------------------------------------------------------------
# Decisions on a received return

RETURN_DECISIONS: tuple[str, ...] = ("restock", "dispose", "send_back")

_DECISION_ALIASES: dict[str, tuple[str, ...]] = {
    "restock": (
        "re-stock", "resell", "sellable", "back to stock", "return to stock",
        "重新入库", "重新入庫", "入库", "入庫", "上架", "重新上架", "可售",
    ),
    "dispose": (
        "disposal", "destroy", "discard", "scrap", "throw away",
        "销毁", "銷毀", "弃置", "棄置", "丢弃", "丟棄", "报废", "報廢",
    ),
    "send_back": (
        "send back", "return to supplier", "return to vendor", "return to sender",
        "退回", "寄回", "退回供应商", "退回供應商", "送回",
    ),
}

_DECISION_KEYS = _key_table(_DECISION_ALIASES)


def resolve_decision(text: str) -> str:
    """What to do with a returned item: ``restock``, ``dispose`` or ``send_back``."""
    typed = (text or "").strip()
    decision = _DECISION_KEYS.get(_word_key(typed))
    if decision is None:
        raise Refusal("unknown_decision", text=typed)
    return decision


# ---------------------------------------------------------------------------------------
# Chinese keyword messages

# Telegram command names are Latin, so Chinese speakers may start a plain message with
# one of these words instead (DESIGN.md §3).
KEYWORDS: dict[str, str] = {}
for _command, _words in {
    "ship": ("发货", "發貨", "已发货", "已發貨"),
    "cancel": ("取消", "取消订单", "取消訂單"),
    "refund": ("退款",),
    "return": ("退货", "退貨", "退货申请", "退貨申請"),
    "received": ("收到退货", "收到退貨", "已收到退货", "已收到退貨", "退货已到", "退貨已到"),
    "delivered": ("送达", "送達", "已送达", "已送達", "签收", "簽收", "已签收", "已簽收"),
    "lost": ("丢件", "丟件", "丢失", "丟失"),
    "address": ("改地址", "修改地址", "地址变更", "地址變更"),
    "order": ("查询", "查詢", "查单", "查單", "查询订单", "查詢訂單"),
    "orders": ("订单", "訂單", "订单列表", "訂單列表"),
    "history": ("历史", "歷史", "记录", "記錄"),
    "help": ("帮助", "幫助"),
    "lang": ("语言", "語言"),
    "alerts": ("提醒", "提醒设置", "提醒設定"),
    "export": ("导出", "導出", "导出发货", "導出發貨"),
    "correct": ("改单号", "改單號", "更正单号", "更正單號", "修改单号", "修改單號"),
}.items():
    for _word in _words:
        KEYWORDS[_word] = _command
del _command, _words, _word

# Longest first, so "收到退货" wins over nothing shorter and "退货已到" never reads as "退货".
_KEYWORDS_LONGEST_FIRST = sorted(KEYWORDS, key=len, reverse=True)


def match_keyword(text: str) -> tuple[str, list[str]] | None:
    """(command, arguments) if ``text`` starts with a Chinese action keyword, else None.

    The keyword must stand alone, or be followed by a space, a colon or a digit
    ("发货113-…"): "取消了吗" is chatter, not a cancellation.
    """
    message = _nfkc(text).lstrip()
    for keyword in _KEYWORDS_LONGEST_FIRST:
        if not message.startswith(keyword):
            continue
        rest = message[len(keyword):]
        if rest.startswith(":"):
            rest = rest[1:]
        elif rest and not (rest[0].isspace() or rest[0] in "0123456789"):
            return None
        return KEYWORDS[keyword], split_args(rest)
    return None

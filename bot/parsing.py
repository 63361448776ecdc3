"""What a person types, read into values: order references, amounts, reasons, keywords.

Staff type on phones with Chinese input methods, so full-width digits, dashes, colons and
spaces (``１１３－４４１７３０５``, ``：``, U+3000) are as normal as ASCII, and the same word
comes in Simplified and Traditional script. Everything here normalises first (NFKC, which
leaves CJK ideographs alone) and then reads.

Pure: no Telegram, no database. Wrong input raises :class:`bot.domain.Refusal`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.amounts import read_number, spoken_to_decimal
from bot.domain import ORDER_ID_RE, Refusal
from bot.refusal_codes import LookupCode, ReasonCode, RefundCode

# Dashes an input method may produce where a person meant "-" (NFKC already folds the
# full-width hyphen-minus U+FF0D).
_DASHES = "‐‑‒–—―−﹣"
_DASH_RE = re.compile(f"[{_DASHES}]")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def split_args(text: str) -> list[str]:
    """Words of a message: split on any whitespace (U+3000 too), full-width forms folded."""
    return _nfkc(text).split()


# Separators a Chinese keyboard types between the parts of a command: 、；always separate,
# and so do "," and ";" (the full-width ，；fold to them) except between two digits, where a
# comma is a decimal or thousands mark ("12,50"). 。 between digits is a decimal point
# ("12。5"), elsewhere the end of a sentence.
_SEPARATOR_RE = re.compile(r"[、;]|(?<![0-9]),|,(?![0-9])")
_FULL_STOP_RE = re.compile(r"(?<=[0-9])[。｡](?=[0-9])")


def read_args(text: str) -> list[str]:
    """Words of a command as people type them on phones: ``发货：1000006，云途，YT…``.

    Whitespace (U+3000 too), Chinese commas, enumeration commas and semicolons separate;
    full-width forms fold; the Chinese full stop is a decimal point between digits and
    otherwise dropped (``1000001。``).
    """
    folded = _FULL_STOP_RE.sub(".", _nfkc(text)).replace("。", " ")
    return _SEPARATOR_RE.sub(" ", folded).split()


# ---------------------------------------------------------------------------------------
# Order references

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
    raise Refusal(LookupCode.bad_order_ref, text=typed)


# ---------------------------------------------------------------------------------------
# Amounts

_CENT = Decimal("0.01")

#: Quoted back at most this long in a refusal.
_SHOWN_CHARS = 40

# Currency markers a person may put before or after the number, lower-cased. A marker
# several currencies share ($, ¥, kr) gives None: guessing would refund in the wrong one.
# What they may mean is in _SHARED_MARKERS, so an order in any other currency refuses them.
_CURRENCY_MARKERS: dict[str, str | None] = {
    "$": None,
    "dollar": None,
    "dollars": None,
    "刀": None,  # sellers' slang for dollars
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
    "euro": "EUR",
    "euros": "EUR",
    "yen": "JPY",
    "yuan": "CNY",
}
_SHARED_MARKERS: dict[str, tuple[str, ...]] = {
    "$": ("USD", "CAD", "MXN", "AUD", "SGD", "HKD", "TWD", "NZD"),
    "¥": ("JPY", "CNY"),
    "kr": ("SEK", "NOK", "DKK"),
}
_SHARED_MARKERS.update(dict.fromkeys(("dollar", "dollars", "刀"), _SHARED_MARKERS["$"]))

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


def _marker_currencies(marker: str, typed: str) -> tuple[str, ...]:
    """Every currency a marker may name (several for ``$``, ``¥``, ``kr``); () without one.

    Anything that is not a marker is refused.
    """
    if not marker:
        return ()
    key = marker.casefold()
    if key not in _CURRENCY_MARKERS:
        raise Refusal(RefundCode.bad_amount, text=_shown(typed))
    code = _CURRENCY_MARKERS[key]
    return (code,) if code else _SHARED_MARKERS[key]


def _shown(typed: str) -> str:
    """What was typed, short enough to quote back (a 400-digit "amount" is not quoted whole)."""
    return typed if len(typed) <= _SHOWN_CHARS else typed[: _SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True)
class TypedAmount:
    """An amount as a person typed it: the number, and what its currency sign or word says."""

    amount: Decimal
    #: Every currency the marker may name: () without a marker, several for ``$``, ``¥``, ``kr``.
    currencies: tuple[str, ...] = ()
    #: The sign or word as typed ("¥", "元", "USD"), to name it back in a refusal.
    marker: str = ""


def read_amount(text: str, *, strict: bool = False) -> TypedAmount:
    """A positive amount to the cent, with the currencies its marker may mean.

    ``strict`` is for money about to move: ``12.345`` is refused as ambiguous rather than read
    as 12345, ``12.345`` or ``0.125`` name their own reason, and zero or a negative amount is
    refused as such (``amount_not_positive``) rather than as "not an amount".
    """
    typed = (text or "").strip()
    shown = _shown(typed)
    normalised = spoken_to_decimal(_DASH_RE.sub("-", _nfkc(typed)).strip())
    match = _MONEY_RE.fullmatch(normalised)
    if not match:
        raise Refusal(RefundCode.bad_amount, text=shown)
    pre = _marker_currencies(match["pre"], typed)
    post = _marker_currencies(match["post"], typed)
    currencies = tuple(c for c in pre if c in post) if pre and post else pre or post
    if pre and post and not currencies:  # "€12,50 USD"
        raise Refusal(RefundCode.bad_amount, text=shown)
    negative = "-" in (match["sign"], match["sign2"])
    if negative or (match["sign"] and match["sign2"]):
        if strict and negative and not (match["sign"] and match["sign2"]):
            raise Refusal(RefundCode.amount_not_positive, text=shown)
        raise Refusal(RefundCode.bad_amount, text=shown)

    amount = read_number(match["number"], shown, strict=strict)
    if amount <= 0:
        raise Refusal(RefundCode.amount_not_positive if strict else RefundCode.bad_amount, text=shown)
    if amount != amount.quantize(_CENT):
        raise Refusal(RefundCode.bad_amount, text=shown)
    marker = (match["pre"] or match["post"]) if not (match["pre"] and match["post"]) else match["post"]
    return TypedAmount(amount.quantize(_CENT), currencies, marker)


def parse_money(text: str) -> tuple[Decimal, str | None]:
    """A positive amount to the cent and the currency the text names, when it names one.

    Accepts ``12.5``, ``12,50``, ``$12.50``, ``US$12.50``, ``12.50 USD``, ``€12,50``,
    ``¥1200``, ``1,234.56``, ``1.234,56``, ``1 234,56``, ``12.50元``. Bare ``$`` and ``¥``
    are shared by several currencies, so they give None.
    """
    typed = read_amount(text)
    return typed.amount, typed.currencies[0] if len(typed.currencies) == 1 else None


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
        "buyer cancelled",
        "buyer cancel",
        "customer canceled",
        "customer cancelled",
        "买家取消",
        "買家取消",
        "客户取消",
        "客戶取消",
        "顾客取消",
        "顧客取消",
        "买家要求取消",
        "買家要求取消",
        "客人取消",
        "买家不要了",
        "買家不要了",
        "重复下单",
        "重複下單",
        "重复订单",
        "重複訂單",
        "duplicate order",
    ),
    "NoInventory": (
        "out of stock",
        "oos",
        "no stock",
        "sold out",
        "缺货",
        "缺貨",
        "没货",
        "沒貨",
        "无库存",
        "無庫存",
        "库存不足",
        "庫存不足",
        "断货",
        "斷貨",
        "无货",
        "無貨",
        "没有库存",
        "沒有庫存",
        "没库存",
        "沒庫存",
        "缺库存",
        "缺庫存",
        "卖完了",
        "賣完了",
        "售罄",
    ),
    "ShippingAddressUndeliverable": (
        "address undeliverable",
        "undeliverable",
        "bad address",
        "wrong address",
        "address",
        "地址无法送达",
        "地址無法送達",
        "地址错误",
        "地址錯誤",
        "地址不对",
        "地址不對",
        "地址有误",
        "地址有誤",
        "地址错了",
        "地址錯了",
        "无法送达",
        "無法送達",
        "地址",
        "改地址",
        "地址变更",
        "地址變更",
    ),
    "CustomerExchange": ("exchange", "换货", "換貨", "客户换货", "客戶換貨"),
    "PricingError": (
        "price error",
        "wrong price",
        "mispriced",
        "价格错误",
        "價格錯誤",
        "标错价",
        "標錯價",
        "价格标错",
        "價格標錯",
        "定价错误",
        "定價錯誤",
        "价格错了",
        "價格錯了",
        "标价错误",
        "標價錯誤",
        "价格有误",
        "價格有誤",
    ),
    "GeneralAdjustment": ("general", "adjustment", "other", "一般调整", "一般調整", "其他", "其它"),
    "CarrierCreditDecision": ("carrier credit", "承运商信用", "承運商信用", "承运人赔付", "承運商理賠"),
    "RiskAssessmentInformationNotValid": (
        "risk",
        "risk assessment",
        "风险评估",
        "風險評估",
        "风控",
        "風控",
        "风险评估信息无效",
        "風險評估資訊無效",
    ),
    "CarrierCoverageFailure": (
        "carrier coverage",
        "no carrier coverage",
        "物流不覆盖",
        "物流不覆蓋",
        "承运商不覆盖",
        "承運商不覆蓋",
        "不在配送范围",
        "不在配送範圍",
    ),
    "CustomerReturn": ("return", "客户退货", "客戶退貨", "买家退货", "買家退貨"),
    "MerchandiseNotReceived": (
        "not received",
        "未收到货",
        "未收到貨",
        "没收到货",
        "沒收到貨",
        "买家未收到",
        "買家未收到",
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
        raise Refusal(ReasonCode.missing_reason)
    code = _CANCEL_KEYS.get(_word_key(typed))
    if code is None:
        raise Refusal(ReasonCode.unknown_reason, text=typed, choices=list(CANCEL_REASONS))
    return code


# ---------------------------------------------------------------------------------------
# Refunds: how much, and why

#: Amazon's reasons for a refund (the AdjustmentReason of an order adjustment). Left out:
#: TransactionRecord, which records a refund made elsewhere rather than giving a reason.
REFUND_REASONS: tuple[str, ...] = (
    "CustomerReturn",
    "GeneralAdjustment",
    "DifferentItem",
    "CouldNotShip",
    "NoInventory",
    "ProductOutofStock",
    "CustomerCancel",
    "PriceError",
    "CustomerAddressIncorrect",
    "Undeliverable",
    "RefusedDelivery",
    "Abandoned",
    "Exchange",
    "CarrierCreditDecision",
    "CarrierCoverageFailure",
    "RiskAssessmentInformationNotValid",
    "Other",
)

_REFUND_REASON_ALIASES: dict[str, tuple[str, ...]] = {
    "CustomerReturn": (
        "return",
        "returned",
        "customer return",
        "buyer return",
        "退货",
        "退貨",
        "客户退货",
        "客戶退貨",
        "买家退货",
        "買家退貨",
        "已退货",
        "已退貨",
    ),
    # A faulty item the buyer keeps, with money back: Amazon has no reason of its own for
    # it, sellers use GeneralAdjustment (CustomerReturn when it comes back).
    "GeneralAdjustment": (
        "general",
        "adjustment",
        "general adjustment",
        "goodwill",
        "compensation",
        "defective",
        "damaged",
        "broken",
        "faulty",
        "lost",
        "一般调整",
        "一般調整",
        "补偿",
        "補償",
        "质量问题",
        "質量問題",
        "品質問題",
        "次品",
        "瑕疵",
        "破损",
        "破損",
        "损坏",
        "損壞",
        "坏了",
        "壞了",
        "丢件",
        "丟件",
        "丢失",
        "遺失",
    ),
    "DifferentItem": (
        "different item",
        "wrong item",
        "wrong product",
        "different item sent",
        "发错货",
        "發錯貨",
        "发错",
        "發錯",
        "错发",
        "錯發",
        "发错商品",
        "寄错商品",
        "寄錯商品",
        "商品不符",
    ),
    "CouldNotShip": (
        "could not ship",
        "cannot ship",
        "can't ship",
        "cant ship",
        "无法发货",
        "無法發貨",
        "無法出貨",
        "发不了货",
        "發不了貨",
    ),
    "NoInventory": (
        "no inventory",
        "out of stock",
        "oos",
        "no stock",
        "缺货",
        "缺貨",
        "没货",
        "沒貨",
        "无库存",
        "無庫存",
    ),
    "ProductOutofStock": ("product out of stock", "商品缺货", "商品缺貨", "产品缺货", "產品缺貨"),
    "CustomerCancel": (
        "customer cancel",
        "customer cancelled",
        "customer canceled",
        "buyer cancel",
        "buyer cancelled",
        "buyer canceled",
        "买家取消",
        "買家取消",
        "客户取消",
        "客戶取消",
    ),
    "PriceError": (
        "price error",
        "pricing error",
        "wrong price",
        "mispriced",
        "价格错误",
        "價格錯誤",
        "标错价",
        "標錯價",
        "价格标错",
        "價格標錯",
    ),
    "CustomerAddressIncorrect": (
        "address incorrect",
        "customer address incorrect",
        "wrong address",
        "bad address",
        "address",
        "地址错误",
        "地址錯誤",
        "地址不对",
        "地址不對",
        "地址有误",
        "地址有誤",
        "客户地址错误",
        "客戶地址錯誤",
    ),
    "Undeliverable": ("无法投递", "無法投遞", "无法送达", "無法送達", "投递失败", "投遞失敗"),
    "RefusedDelivery": ("refused", "refused delivery", "delivery refused", "拒收", "买家拒收", "買家拒收"),
    "Abandoned": ("abandoned", "parcel abandoned", "弃件", "棄件", "包裹被弃", "包裹遭棄置", "无人领取", "無人領取"),
    "Exchange": ("customer exchange", "换货", "換貨"),
    "CarrierCreditDecision": (
        "carrier credit",
        "承运商赔付",
        "物流商理賠",
        "承运商赔付决定",
        "物流商理賠決定",
        "承运人赔付",
        "承運商理賠",
    ),
    "CarrierCoverageFailure": (
        "carrier coverage",
        "物流不覆盖",
        "物流不覆蓋",
        "不在配送范围",
        "不在配送範圍",
        "物流商無法配送",
    ),
    "RiskAssessmentInformationNotValid": (
        "risk",
        "risk assessment",
        "风控",
        "風控",
        "风险评估",
        "風險評估",
        "风险评估信息无效",
        "風險評估資訊無效",
    ),
    "Other": ("其他", "其它"),
}

# Words that say how much rather than why. "部分" (part) needs an amount beside it.
_FULL, _PARTIAL, _FILLER = "in full", "in part", "filler"
_REFUND_HOW_MUCH: dict[str, tuple[str, ...]] = {
    _FULL: ("full", "in full", "all", "whole", "full refund", "全额", "全額", "全部", "全款", "全退", "全额退款", "全額退款",
            "全部退款", "全款退款"),
    _PARTIAL: ("part", "in part", "partial", "partly", "partial refund", "部分", "部份", "部分退款", "部份退款", "退部分"),
    _FILLER: ("refund", "退款"),
}  # fmt: skip

_REFUND_KEYS = _key_table(_REFUND_REASON_ALIASES)
for _meaning, _words in _REFUND_HOW_MUCH.items():
    for _word in _words:
        if _word_key(_word) in _REFUND_KEYS:  # pragma: no cover - table typo
            raise ValueError(f"{_word!r} is both a reason and {_meaning!r}")
        _REFUND_KEYS[_word_key(_word)] = _meaning
del _meaning, _words, _word

#: The longest reason or phrase, in words ("customer address incorrect").
_LONGEST_PHRASE = 4

# Amounts written in words: the bot reads digits only, and says so.
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand half "
    "dozen and a dollar dollars cents cent bucks".split()
)
_CHINESE_NUMBER_RE = re.compile(r"[零〇一二两兩三四五六七八九十百千万萬壹贰貳叁參肆伍陆陸柒捌玖拾佰仟点點半]+"
                                r"(?:元|块|塊|美元|美金|刀|毛|角)?")  # fmt: skip


@dataclass(frozen=True)
class RefundRequest:
    """A refund as a person asked for it: how much (None: in full), in what, and why."""

    amount: Decimal | None = None
    #: Every currency the typed sign or word may name (() when none was typed).
    currencies: tuple[str, ...] = ()
    #: That sign or word as typed, to name it back.
    marker: str = ""
    #: Amazon's reason code (see :data:`REFUND_REASONS`), or "".
    reason: str = ""
    #: Free words after the reason, kept as typed.
    note: str = ""


def read_refund(words: Sequence[str]) -> RefundRequest:
    """What follows the order in ``/refund ORDER …``, in any order.

    ``12.50``, ``defective 12.50``, ``部分 10``, ``10 部分``, ``部分10``, ``12,50``, ``$12.50``,
    ``12.50 USD``, ``US$ 12.50``, ``全额``, ``CustomerReturn``, ``退货 10 box crushed``. A
    note may follow a reason; any other word that is neither an amount nor a reason is
    refused with what to type, so that it never becomes a refund in full.
    """
    queue = split_args(" ".join(words))
    amount: TypedAmount | None = None
    amount_typed = stated_marker = ""
    stated: tuple[str, ...] = ()
    full = partial = reason = ""
    note: list[str] = []
    i = 0
    while i < len(queue):
        length, meaning = _refund_phrase(queue, i)
        if meaning is not None:
            typed = " ".join(queue[i : i + length])
            if meaning == _FULL:
                full = full or typed
            elif meaning == _PARTIAL:
                partial = partial or typed
            elif meaning in REFUND_REASONS:
                if reason:  # a second reason reads as part of the note
                    note.append(typed)
                else:
                    reason = meaning
            i += length
            continue
        word = queue[i]
        length, found, refused = _amount_at(queue, i)
        if found is not None:
            typed = " ".join(queue[i : i + length])
            if amount is not None:
                raise Refusal(RefundCode.refund_two_amounts, first=amount_typed, second=_shown(typed))
            amount, amount_typed = found, _shown(typed)
            i += length
            continue
        glued = _unglue(word)
        if glued:
            queue[i : i + 1] = glued
            continue
        if word.casefold() in _CURRENCY_MARKERS:  # "退款 6689831 全额 美元": the currency, no amount
            stated = _marker_currencies(word, word)
            stated_marker = word
            i += 1
            continue
        if refused is not None and (refused.code != RefundCode.bad_amount or not reason):
            raise refused
        if _in_words(word):
            raise Refusal(RefundCode.amount_in_words, text=_shown(word))
        if not reason:
            raise Refusal(RefundCode.refund_unknown_word, text=_shown(word), choices=list(REFUND_REASONS))
        note.append(word)
        i += 1

    if full and amount is not None:
        raise Refusal(RefundCode.refund_full_and_amount, text=full, typed=amount_typed)
    if partial and amount is None:
        raise Refusal(RefundCode.refund_partial_needs_amount, text=partial)
    currencies = amount.currencies if amount is not None else ()
    marker = amount.marker if amount is not None else ""
    if stated:
        if currencies and not set(stated) & set(currencies):
            raise Refusal(RefundCode.bad_amount, text=f"{amount_typed} {stated_marker}")
        currencies = tuple(c for c in currencies if c in stated) or stated
        marker = marker or stated_marker
    return RefundRequest(
        amount=amount.amount if amount is not None else None, currencies=currencies, marker=marker,
        reason=reason, note=" ".join(note),
    )  # fmt: skip


def resolve_refund_reason(text: str) -> str:
    """Amazon's refund reason code for an English code or phrase or a Chinese name."""
    typed = (text or "").strip()
    code = _REFUND_KEYS.get(_word_key(typed))
    if code not in REFUND_REASONS:
        raise Refusal(RefundCode.refund_unknown_word, text=_shown(typed), choices=list(REFUND_REASONS))
    return code


def _refund_phrase(words: Sequence[str], start: int) -> tuple[int, str | None]:
    """The longest known reason or how-much phrase starting at ``start``: (its length, its meaning)."""
    for length in range(min(_LONGEST_PHRASE, len(words) - start), 0, -1):
        meaning = _REFUND_KEYS.get(_word_key(" ".join(words[start : start + length])))
        if meaning is not None:
            return length, meaning
    return 0, None


def _amount_at(words: Sequence[str], start: int) -> tuple[int, TypedAmount | None, Refusal | None]:
    """An amount at ``start``, with a currency word of its own beside it ("12.50 USD", "US$ 12.50").

    Gives (words used, the amount, None), or (0, None, why the word is not an amount).
    """
    word = words[start]
    if start + 1 < len(words) and (_is_marker(word) or _is_marker(words[start + 1])):
        try:
            return 2, read_amount(f"{word} {words[start + 1]}", strict=True), None
        except Refusal:
            pass
    try:
        return 1, read_amount(word, strict=True), None
    except Refusal as refusal:
        return 0, None, refusal if any(ch.isdigit() for ch in word) else None


def _is_marker(word: str) -> bool:
    return word.casefold() in _CURRENCY_MARKERS


def _unglue(word: str) -> list[str] | None:
    """A word and an amount typed without a space, as Chinese is: "部分10" → ["部分", "10"]."""
    if len(word) > _SHOWN_CHARS or not any(ch.isdigit() for ch in word):
        return None
    for cut in range(1, len(word)):
        left, right = word[:cut], word[cut:]
        for phrase, number in ((left, right), (right, left)):
            if _REFUND_KEYS.get(_word_key(phrase)) is None:
                continue
            try:
                read_amount(number, strict=True)
            except Refusal:
                continue
            return [left, right]
    return None


def _in_words(word: str) -> bool:
    parts = [p for p in re.split(r"[-\s]+", word.casefold()) if p]
    if parts and all(p in _NUMBER_WORDS for p in parts) and any(p not in ("a", "and") for p in parts):
        return True
    return bool(_CHINESE_NUMBER_RE.fullmatch(word))


# ---------------------------------------------------------------------------------------
# Decisions on a received return

RETURN_DECISIONS: tuple[str, ...] = ("restock", "dispose", "send_back")

_DECISION_ALIASES: dict[str, tuple[str, ...]] = {
    "restock": (
        "re-stock",
        "resell",
        "sellable",
        "back to stock",
        "return to stock",
        "重新入库",
        "重新入庫",
        "入库",
        "入庫",
        "上架",
        "重新上架",
        "可售",
    ),
    "dispose": (
        "disposal",
        "destroy",
        "discard",
        "scrap",
        "throw away",
        "销毁",
        "銷毀",
        "弃置",
        "棄置",
        "丢弃",
        "丟棄",
        "报废",
        "報廢",
    ),
    "send_back": (
        "send back",
        "return to supplier",
        "return to vendor",
        "return to sender",
        "退回",
        "寄回",
        "退回供应商",
        "退回供應商",
        "送回",
    ),
}

_DECISION_KEYS = _key_table(_DECISION_ALIASES)


def resolve_decision(text: str) -> str:
    """What to do with a returned item: ``restock``, ``dispose`` or ``send_back``."""
    typed = (text or "").strip()
    decision = _DECISION_KEYS.get(_word_key(typed))
    if decision is None:
        raise Refusal(ReasonCode.unknown_decision, text=typed)
    return decision


# ---------------------------------------------------------------------------------------
# Chinese keyword messages


class KeywordMatcher:
    """Reads a plain message that starts with an action keyword (DESIGN.md §3).

    Telegram command names are Latin, so Chinese speakers may start a plain message with
    one of a command's keywords instead; the table of them is the command table's
    (``handlers.commands``). A keyword must stand alone, or be followed by a space, a colon,
    a comma or a digit ("发货113-…", "发货：1000006，云途，YT…"): "取消了吗" is chatter, not a
    cancellation.
    """

    def __init__(self, keywords: Mapping[str, str]) -> None:
        self.keywords = dict(keywords)
        # Longest first, so "收到退货" wins over "退货" and "退货已到" never reads as "退货".
        self._longest_first = sorted(self.keywords, key=len, reverse=True)

    def __call__(self, text: str) -> tuple[str, list[str]] | None:
        """(command, arguments) if ``text`` starts with a keyword, else None."""
        matched = self.match(text)
        return None if matched is None else (matched[0], matched[2])

    def match(self, text: str) -> tuple[str, str, list[str]] | None:
        """(command, the keyword as in the table, arguments) if ``text`` starts with a keyword."""
        message = _nfkc(text).lstrip()
        for keyword in self._longest_first:
            if not message.startswith(_nfkc(keyword)):
                continue
            rest = message[len(_nfkc(keyword)) :]
            if rest[:1] in (":", ",", "、", ";"):
                rest = rest[1:]
            elif rest and not (rest[0].isspace() or rest[0] in "0123456789"):
                return None
            return self.keywords[keyword], keyword, read_args(rest)
        return None

    def near(self, text: str) -> str | None:
        """The keyword a message that is not a command seems to start with, if any: one glued
        to more text ("发货了 1000006 …"), or one mistyped ("发获 1000006")."""
        message = _nfkc(text).lstrip()
        head = re.split(r"[\s:,;、0-9]", message, maxsplit=1)[0]
        if not head:
            return None
        for keyword in self._longest_first:
            if head.startswith(_nfkc(keyword)):
                return keyword
        close = difflib.get_close_matches(head, [k for k in self.keywords if len(k) > 1], n=1, cutoff=0.6)
        return close[0] if close else None


_ORDERISH_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    + ORDER_ID_RE.pattern.removeprefix(r"\A").removesuffix(r"\Z")
    + r"|[0-9]{5,17})(?![0-9A-Za-z])"
)


def named_order(text: str) -> str | None:
    """An order a message seems to name (a full Amazon id, or 5 to 17 digits), as typed."""
    found = _ORDERISH_RE.search(_DASH_RE.sub("-", _nfkc(text)))
    return found.group(0) if found else None


def is_command_line(text: str) -> bool:
    """Whether a line of a message starts like a command: a slash or an order reference."""
    words = read_args(text)
    if not words:
        return False
    if words[0].startswith("/"):
        return True
    try:
        parse_order_ref(words[0])
    except Refusal:
        return False
    return True


# ---------------------------------------------------------------------------------------
# Languages by name

_LANGUAGE_WORDS: dict[str, str] = {
    "en": "en", "english": "en", "英文": "en", "英语": "en", "英語": "en",
    "zh_hans": "zh_Hans", "简体": "zh_Hans", "简体中文": "zh_Hans", "簡體": "zh_Hans", "簡體中文": "zh_Hans",
    "简中": "zh_Hans", "簡中": "zh_Hans", "中文": "zh_Hans", "普通话": "zh_Hans", "简体字": "zh_Hans",
    "zh_hant": "zh_Hant", "繁体": "zh_Hant", "繁體": "zh_Hant", "繁体中文": "zh_Hant", "繁體中文": "zh_Hant",
    "繁中": "zh_Hant", "正體": "zh_Hant", "正體中文": "zh_Hant", "繁體字": "zh_Hant", "台灣": "zh_Hant",
}  # fmt: skip
_LANGUAGE_KEYS = {_word_key(word): locale for word, locale in _LANGUAGE_WORDS.items()}


def resolve_language(text: str) -> str | None:
    """A language named in words, English or Chinese (``英文``, ``繁體``, ``简体中文``), or None."""
    return _LANGUAGE_KEYS.get(_word_key(text))

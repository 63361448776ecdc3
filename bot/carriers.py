"""Carriers as Amazon names them, the names sellers type for them, and tracking shapes.

Amazon wants an exact, case-sensitive carrier code in the shipping confirmation: a wrong
one leaves the order unconfirmed and raises the late-shipment rate, and a tracking number
of the wrong shape counts against the valid-tracking rate (over 95% required). So the
team may type ``顺丰``, ``sf`` or ``順豐`` and the bot stores ``SF Express``; and a
tracking number that cannot belong to the carrier is refused before Amazon sees it.

Pure: no Telegram, no database. Wrong input raises :class:`bot.domain.Refusal`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from bot.domain import Refusal
from bot.refusal_codes import ShippingCode


@dataclass(frozen=True)
class Carrier:
    """A carrier as Amazon's shipping confirmation wants it.

    ``code`` goes in the carrier-code column; ``name`` in carrier-name, which Amazon
    requires when the code is ``Other`` (for known carriers it is the code itself);
    ``example`` is a tracking number of the right shape, shown when one is refused.
    """

    code: str
    name: str
    example: str


OTHER = "Other"

# UPU S10: two letters, 8 digits and a check digit, two-letter country (EA123456789US).
_S10 = r"[A-Z]{2}[0-9]{9}[A-Z]{2}"


@dataclass(frozen=True)
class _Spec:
    code: str
    example: str
    # Full-match patterns on the normalised number; empty means "no known shape".
    shapes: tuple[str, ...]
    # What a person may type, besides the code itself in any case / spacing.
    aliases: tuple[str, ...]


_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "USPS",
        "9400111899223344556677",
        (r"[0-9]{20,22}", r"[A-Z]{2}[0-9]{9}US"),
        ("us postal service", "united states postal service", "美国邮政", "美國郵政", "美邮", "美郵"),
    ),
    _Spec(
        "UPS",
        "1Z999AA10123456784",
        (r"1Z[0-9A-Z]{16}",),
        ("united parcel service", "联合包裹", "聯合包裹"),
    ),
    _Spec(
        "FedEx",
        "123456789012",
        (r"[0-9]{12}", r"[0-9]{15}", r"[0-9]{20}"),
        ("fed ex", "federal express", "联邦快递", "聯邦快遞", "联邦", "聯邦"),
    ),
    # DHL Express air waybills are 10 digits. In the EU marketplaces code DHL is also
    # DHL Paket, whose numbers are 12 or 20 digits; refusing those would block EU teams.
    _Spec(
        "DHL",
        "1234567890",
        (r"[0-9]{10}", r"[0-9]{12}", r"[0-9]{20}"),
        ("dhl express", "敦豪", "敦豪快递", "敦豪快遞"),
    ),
    _Spec(
        "DHL eCommerce",
        "GM2951173225174494",
        (),
        ("dhl ecom", "dhl e-commerce", "dhlecommerce", "dhl电商", "dhl電商"),
    ),
    _Spec("OnTrac", "C12345678901234", (), ("on trac",)),
    _Spec("Royal Mail", "AB123456789GB", (), ("皇家邮政", "皇家郵政", "英国邮政", "英國郵政")),
    _Spec("Deutsche Post", "RR123456789DE", (), ("德国邮政", "德國郵政")),
    _Spec("DPD", "01234567890123", (), ()),
    _Spec("GLS", "12345678901", (), ()),
    _Spec("Hermes", "1234567890123456", (), ()),
    _Spec("La Poste", "6A12345678901", (), ("法国邮政", "法國郵政")),
    _Spec("Chronopost", "XA123456789FR", (), ()),
    _Spec("Poste Italiane", "RR123456789IT", (), ("意大利邮政", "意大利郵政", "義大利郵政")),
    _Spec("Canada Post", "1234567890123456", (), ("加拿大邮政", "加拿大郵政")),
    _Spec(
        "Australia Post",
        "RR123456789AU",
        (),
        ("auspost", "澳洲邮政", "澳洲郵政", "澳大利亚邮政", "澳大利亞郵政"),
    ),
    _Spec("Japan Post", "EJ123456789JP", (), ("日本邮政", "日本郵政", "日本郵便")),
    _Spec(
        "Yamato Transport",
        "123456789012",
        (),
        ("yamato", "黑猫", "黑貓", "黑猫宅急便", "黑貓宅急便", "大和运输", "大和運輸", "ヤマト運輸"),
    ),
    _Spec("Sagawa Express", "123456789012", (), ("sagawa", "佐川", "佐川急便")),
    # EMS and ePacket (e邮宝) are China Post services and carry China Post numbers.
    _Spec(
        "China Post",
        "LX123456789CN",
        (r"[A-Z]{2}[0-9]{9}CN",),
        (
            "ems",
            "china ems",
            "epacket",
            "中国邮政",
            "中國郵政",
            "邮政",
            "郵政",
            "中邮",
            "中郵",
            "邮政小包",
            "郵政小包",
            "e邮宝",
            "e郵寶",
        ),
    ),
    _Spec(
        "SF Express",
        "SF1234567890123",
        (r"SF[0-9]{12,15}",),
        ("sf", "顺丰", "順豐", "顺丰速运", "順豐速運", "顺丰快递", "順豐快遞"),
    ),
    # Yanwen hands parcels to China Post and to foreign posts, so its numbers are UPU
    # S10 numbers whose last two letters are not always CN.
    _Spec("Yanwen", "LY123456789CN", (_S10,), ("燕文", "燕文物流")),
    _Spec(
        "Yun Express",
        "YT1234567890123456",
        (r"YT[0-9]{16}",),
        ("yun", "云途", "雲途", "云途物流", "雲途物流"),
    ),
    _Spec("4PX", "4PX3001234567890CN", (), ("递四方", "遞四方")),
)

_OTHER_SPEC = _Spec(OTHER, "ABC123456", (), ("其他", "其它"))

# Carriers with no known shape still get a sanity check: Amazon's tracking numbers are
# letters and digits, and nobody's is shorter than 6 or longer than 40.
_GENERIC_SHAPE = r"[0-9A-Z]{6,40}"

CARRIER_CODES: tuple[str, ...] = tuple(spec.code for spec in _SPECS) + (OTHER,)

CARRIERS: dict[str, Carrier] = {
    spec.code: Carrier(spec.code, spec.code, spec.example) for spec in (*_SPECS, _OTHER_SPEC)
}

_SHAPES: dict[str, tuple[re.Pattern[str], ...]] = {
    spec.code: tuple(re.compile(shape) for shape in (spec.shapes or (_GENERIC_SHAPE,)))
    for spec in (*_SPECS, _OTHER_SPEC)
}

# Prefixes that introduce a carrier Amazon has no code for: "Other:Evri", "其他：中通".
_OTHER_PREFIX = re.compile(r"^(?:other|其他|其它)\s*:(?P<name>.*)$", re.IGNORECASE | re.DOTALL)


def _alias_key(text: str) -> str:
    """What an alias looks like once case, width and spacing stop mattering."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\-_.·・]+", "", text)


def _build_aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in (*_SPECS, _OTHER_SPEC):
        for alias in (spec.code, *spec.aliases):
            key = _alias_key(alias)
            if table.get(key, spec.code) != spec.code:  # pragma: no cover - table typo
                raise ValueError(f"carrier alias {alias!r} names two carriers")
            table[key] = spec.code
    return table


_ALIASES: dict[str, str] = _build_aliases()


def resolve_carrier(text: str) -> Carrier:
    """The carrier a person means by ``text``: an Amazon code, an alias or a Chinese name.

    ``Other:<name>`` (also ``其他:``/``其它:``, full-width colon too) is a carrier Amazon
    has no code for; Amazon then needs its name.
    """
    typed = (text or "").strip()
    if not typed:
        raise Refusal(ShippingCode.missing_carrier)
    normalised = unicodedata.normalize("NFKC", typed).strip()

    other = _OTHER_PREFIX.match(normalised)
    if other:
        name = " ".join(other.group("name").split())
        if not name:
            raise Refusal(ShippingCode.missing_carrier_name, text=typed)
        return Carrier(OTHER, name, _OTHER_SPEC.example)

    key = _alias_key(normalised)
    code = _ALIASES.get(key)
    if code == OTHER:
        # A bare "Other" is not enough: Amazon rejects code Other without a carrier-name.
        raise Refusal(ShippingCode.missing_carrier_name, text=typed)
    if code is not None:
        return CARRIERS[code]
    raise Refusal(ShippingCode.unknown_carrier, text=typed, suggestions=_suggest(key))


def _suggest(key: str) -> list[str]:
    """Up to three carrier codes whose names are closest to what was typed."""
    if not key:
        return []
    suggestions: list[str] = []
    for alias in difflib.get_close_matches(key, list(_ALIASES), n=len(_ALIASES), cutoff=0.6):
        code = _ALIASES[alias]
        if code not in suggestions:
            suggestions.append(code)
        if len(suggestions) == 3:
            break
    return suggestions


def normalise_tracking(tracking: str) -> str:
    """A tracking number as carriers print it: no spaces or dashes, capital letters."""
    text = unicodedata.normalize("NFKC", tracking or "")
    text = re.sub(r"[\s\-‐‑‒–—―−]+", "", text)
    return text.upper()


def check_tracking(carrier: Carrier, tracking: str) -> str:
    """The normalised tracking number, if it has a shape ``carrier`` can issue."""
    typed = (tracking or "").strip()
    number = normalise_tracking(typed)
    if not number:
        raise Refusal(ShippingCode.missing_tracking, carrier=carrier.code)
    shapes = _SHAPES.get(carrier.code) or _SHAPES[OTHER]
    # isascii(): NFKC leaves letters like "É" that [0-9A-Z] must not be fooled by.
    if not (number.isascii() and any(shape.fullmatch(number) for shape in shapes)):
        raise Refusal(ShippingCode.bad_tracking, carrier=carrier.code, tracking=typed, example=carrier.example)
    return number

"""Carriers as Amazon names them, the names sellers type for them, and tracking shapes.

Amazon wants an exact, case-sensitive carrier code in the shipping confirmation: a wrong
one leaves the order unconfirmed and raises the late-shipment rate, and a tracking number
of the wrong shape counts against the valid-tracking rate (over 95% required). So the
team may type ``顺丰``, ``sf`` or ``順豐`` and the bot stores ``SF Express``; and a
tracking number that cannot belong to the carrier is refused before Amazon sees it.

Three kinds of carrier are known here:

- Amazon's codes (``CARRIER_CODES``): stored as the code.
- Cross-border carriers Amazon has no code for (万邦, 出口易, 三态 …): stored as ``Other``
  with their name, as Amazon asks.
- Chinese domestic couriers (中通, 圆通 …): they carry the parcel to the forwarder only,
  so their number never confirms an Amazon order; naming one is refused with the reason.

:func:`detect` names the carrier from the number's shape where only one carrier issues it
(``YT`` + 16 digits is Yun Express); :func:`label` shows a carrier in the reader's language
(``顺丰（SF Express）``).

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
    ``domestic``: a courier inside China, whose number must never confirm an order.
    """

    code: str
    name: str
    example: str
    domestic: bool = False

    @property
    def stored(self) -> str:
        """How a setting keeps it: the code, or ``Other:NAME``."""
        return f"{OTHER}:{self.name}" if self.code == OTHER else self.code


OTHER = "Other"

# UPU S10: two letters, 8 digits and a check digit, two-letter country (EA123456789US).
_S10 = r"[A-Z]{2}[0-9]{9}[A-Z]{2}"


@dataclass(frozen=True)
class _Spec:
    code: str
    example: str
    # Full-match patterns on the normalised number; empty means "no known shape".
    shapes: tuple[str, ...]
    # What a person may type, besides the code (or name) itself in any case / spacing.
    aliases: tuple[str, ...]
    # The Chinese name shown in Chinese replies: (Simplified, Traditional); "" for none.
    zh: tuple[str, str] = ("", "")
    # For a carrier Amazon has no code for: the name that goes with code Other.
    name: str = ""
    # A courier inside China: it carries the parcel to the forwarder, never to the buyer.
    domestic: bool = False

    @property
    def key(self) -> str:
        return self.name or self.code

    def carrier(self) -> Carrier:
        return Carrier(self.code, self.name or self.code, self.example, self.domestic)


_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "USPS",
        "9400111899223344556677",
        (r"[0-9]{20,22}", r"[A-Z]{2}[0-9]{9}US"),
        ("us postal service", "united states postal service", "美国邮政", "美國郵政", "美邮", "美郵"),
        ("美国邮政", "美國郵政"),
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
        ("联邦快递", "聯邦快遞"),
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
    _Spec(
        "Royal Mail", "AB123456789GB", (), ("皇家邮政", "皇家郵政", "英国邮政", "英國郵政"), ("皇家邮政", "皇家郵政")
    ),
    _Spec("Deutsche Post", "RR123456789DE", (), ("德国邮政", "德國郵政"), ("德国邮政", "德國郵政")),
    _Spec("DPD", "01234567890123", (), ()),
    _Spec("GLS", "12345678901", (), ()),
    _Spec("Hermes", "1234567890123456", (), ()),
    _Spec("La Poste", "6A12345678901", (), ("法国邮政", "法國郵政"), ("法国邮政", "法國郵政")),
    _Spec("Chronopost", "XA123456789FR", (), ()),
    _Spec(
        "Poste Italiane",
        "RR123456789IT",
        (),
        ("意大利邮政", "意大利郵政", "義大利郵政"),
        ("意大利邮政", "義大利郵政"),
    ),
    _Spec("Canada Post", "1234567890123456", (), ("加拿大邮政", "加拿大郵政"), ("加拿大邮政", "加拿大郵政")),
    _Spec(
        "Australia Post",
        "RR123456789AU",
        (),
        ("auspost", "澳洲邮政", "澳洲郵政", "澳大利亚邮政", "澳大利亞郵政"),
        ("澳洲邮政", "澳洲郵政"),
    ),
    _Spec("Japan Post", "EJ123456789JP", (), ("日本邮政", "日本郵政", "日本郵便"), ("日本邮政", "日本郵政")),
    # 黑猫 / 黑貓 is Yamato in Japan and T-Cat in Taiwan: see _BLACK_CAT.
    _Spec(
        "Yamato Transport",
        "123456789012",
        (),
        ("yamato", "大和运输", "大和運輸", "ヤマト運輸"),
        ("大和运输", "大和運輸"),
    ),
    _Spec("Sagawa Express", "123456789012", (), ("sagawa", "佐川", "佐川急便"), ("佐川急便", "佐川急便")),
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
        ("中国邮政", "中國郵政"),
    ),
    # 顺丰国际 is SF Express's cross-border service: the same code and numbers.
    _Spec(
        "SF Express",
        "SF1234567890123",
        (r"SF[0-9]{12,15}",),
        (
            "sf",
            "顺丰",
            "順豐",
            "顺丰速运",
            "順豐速運",
            "顺丰快递",
            "順豐快遞",
            "顺丰国际",
            "順豐國際",
            "sf international",
        ),
        ("顺丰", "順豐"),
    ),
    # Yanwen hands parcels to China Post and to foreign posts, so its numbers are UPU
    # S10 numbers whose last two letters are not always CN.
    _Spec("Yanwen", "LY123456789CN", (_S10,), ("燕文", "燕文物流"), ("燕文", "燕文")),
    _Spec(
        "Yun Express",
        "YT1234567890123456",
        (r"YT[0-9]{16}",),
        ("yun", "云途", "雲途", "云途物流", "雲途物流"),
        ("云途", "雲途"),
    ),
    _Spec("4PX", "4PX3001234567890CN", (), ("递四方", "遞四方"), ("递四方", "遞四方")),
)

# Cross-border carriers Amazon has no code for: code Other with their name.
_NAMED_OTHERS: tuple[_Spec, ...] = (
    _Spec(OTHER, "SFC1234567890", (), ("sfc", "三态", "三態", "三态速递", "三態速遞", "三态物流", "三態物流"),
          ("三态速递", "三態速遞"), name="SFC"),
    _Spec(OTHER, "WB1234567890", (), ("wanb", "wanbexpress", "万邦", "萬邦", "万邦速达", "萬邦速達"),
          ("万邦速达", "萬邦速達"), name="WanB Express"),
    _Spec(OTHER, "CK1234567890", (), ("chukou1", "ck1", "出口易"), ("出口易", "出口易"), name="Chukou1"),
    _Spec(OTHER, "FT1234567890", (), ("flyt", "flytexpress", "飞特", "飛特", "飞特物流", "飛特物流"),
          ("飞特物流", "飛特物流"), name="Flyt Express"),
    _Spec(OTHER, "HH1234567890", (), ("huahan", "华翰", "華翰", "华翰物流", "華翰物流"), ("华翰物流", "華翰物流"),
          name="Hua Han Logistics"),
    # Taiwan's 黑貓宅急便 (President Transnet); only by marketplace or its own name.
    _Spec(OTHER, "123456789012", (), ("tcat", "t cat", "統一速達", "统一速达"), ("黑猫宅急便", "黑貓宅急便"),
          name="T-Cat"),
)  # fmt: skip

# Couriers inside China. Their numbers: 圆通 YT + 13 digits (Yun Express is YT + 16), 极兔
# JT + 13 digits, 京东 JD + letters and digits, 德邦 DPK + 12 digits; 中通, 韵达 and 申通
# numbers are 12 to 15 digits, which FedEx and DHL also issue, so they are not guessed.
_DOMESTIC: tuple[_Spec, ...] = (
    _Spec(OTHER, "", (r"[0-9]{12,15}",), ("zto", "中通", "中通快递", "中通快遞"), ("中通快递", "中通快遞"),
          name="ZTO Express", domestic=True),
    _Spec(OTHER, "", (r"YT[0-9]{13}",), ("yto", "圆通", "圓通", "圆通速递", "圓通速遞", "圆通快递", "圓通快遞"),
          ("圆通速递", "圓通速遞"), name="YTO Express", domestic=True),
    _Spec(OTHER, "", (r"[0-9]{13,15}",), ("yunda", "韵达", "韻達", "韵达快递", "韻達快遞"), ("韵达快递", "韻達快遞"),
          name="Yunda Express", domestic=True),
    _Spec(OTHER, "", (r"[0-9]{12,15}",), ("sto", "申通", "申通快递", "申通快遞"), ("申通快递", "申通快遞"),
          name="STO Express", domestic=True),
    _Spec(OTHER, "", (r"JT[0-9]{13}",), ("j&t", "jt", "jtexpress", "极兔", "極兔", "极兔速递", "極兔速遞"),
          ("极兔速递", "極兔速遞"), name="J&T Express", domestic=True),
    _Spec(OTHER, "", (r"DPK[0-9]{12}",), ("deppon", "德邦", "德邦快递", "德邦快遞", "德邦物流"),
          ("德邦快递", "德邦快遞"), name="Deppon Express", domestic=True),
    _Spec(OTHER, "", (r"JD[A-Z]{0,2}[0-9]{11,15}",), ("jd", "jdl", "京东", "京東", "京东物流", "京東物流", "京东快递",
          "京東快遞"), ("京东物流", "京東物流"), name="JD Logistics", domestic=True),
)  # fmt: skip

_OTHER_SPEC = _Spec(OTHER, "ABC123456", (), ("其他", "其它"))

# 黑猫 / 黑貓: Yamato Transport in Japan, T-Cat in Taiwan. Which one is read from the
# marketplace; elsewhere the bot asks.
_BLACK_CAT = ("黑猫", "黑貓", "黑猫宅急便", "黑貓宅急便", "宅急便", "宅急便", "black cat")
_BLACK_CAT_BY_MARKETPLACE = {"JP": "Yamato Transport", "TW": "T-Cat"}

# Carriers with no known shape still get a sanity check: Amazon's tracking numbers are
# letters and digits, and nobody's is shorter than 6 or longer than 40.
_GENERIC_SHAPE = r"[0-9A-Z]{6,40}"

CARRIER_CODES: tuple[str, ...] = tuple(spec.code for spec in _SPECS) + (OTHER,)

CARRIERS: dict[str, Carrier] = {
    spec.code: Carrier(spec.code, spec.code, spec.example) for spec in (*_SPECS, _OTHER_SPEC)
}

#: Every carrier known by name: Amazon's codes, the named Others and the domestic couriers.
_BY_KEY: dict[str, _Spec] = {spec.key: spec for spec in (*_SPECS, *_NAMED_OTHERS, *_DOMESTIC, _OTHER_SPEC)}

_SHAPES: dict[str, tuple[re.Pattern[str], ...]] = {
    spec.code: tuple(re.compile(shape) for shape in (spec.shapes or (_GENERIC_SHAPE,)))
    for spec in (*_SPECS, _OTHER_SPEC)
}
_DOMESTIC_SHAPES: tuple[tuple[re.Pattern[str], _Spec], ...] = tuple(
    (re.compile(shape), spec) for spec in _DOMESTIC for shape in spec.shapes if not shape.startswith("[0-9]")
)

# Number shapes only one carrier issues, for detect(): the carrier's key.
_DETECT: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(shape), key)
    for shape, key in (
        (r"1Z[0-9A-Z]{16}", "UPS"),
        (r"YT[0-9]{16}", "Yun Express"),
        (r"SF[0-9]{12,15}", "SF Express"),
        (r"4PX[0-9A-Z]{8,20}", "4PX"),
        (r"9[0-9]{19,21}", "USPS"),
        (r"[A-Z]{2}[0-9]{9}CN", "China Post"),
        (r"[A-Z]{2}[0-9]{9}US", "USPS"),
        (r"[A-Z]{2}[0-9]{9}GB", "Royal Mail"),
        (r"[A-Z]{2}[0-9]{9}DE", "Deutsche Post"),
        (r"[A-Z]{2}[0-9]{9}JP", "Japan Post"),
        (r"[A-Z]{2}[0-9]{9}AU", "Australia Post"),
        (r"[A-Z]{2}[0-9]{9}IT", "Poste Italiane"),
    )
)

# Prefixes that introduce a carrier Amazon has no code for: "Other:Evri", "其他：中通".
_OTHER_PREFIX = re.compile(r"^(?:other|其他|其它)\s*:(?P<name>.*)$", re.IGNORECASE | re.DOTALL)


def _alias_key(text: str) -> str:
    """What an alias looks like once case, width and spacing stop mattering."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\-_.·・]+", "", text)


def _build_aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in (*_SPECS, *_NAMED_OTHERS, *_DOMESTIC, _OTHER_SPEC):
        for alias in (spec.key, *spec.aliases):
            key = _alias_key(alias)
            if table.get(key, spec.key) != spec.key:  # pragma: no cover - table typo
                raise ValueError(f"carrier alias {alias!r} names two carriers")
            table[key] = spec.key
    return table


_ALIASES: dict[str, str] = _build_aliases()
_BLACK_CAT_KEYS = frozenset(_alias_key(word) for word in _BLACK_CAT)


def resolve_carrier(text: str, marketplace: str | None = None) -> Carrier:
    """The carrier a person means by ``text``: an Amazon code, an alias or a Chinese name.

    ``Other:<name>`` (also ``其他:``/``其它:``, full-width colon too) is a carrier Amazon
    has no code for; Amazon then needs its name. A domestic courier comes back as such
    (``domestic``): :func:`check_tracking` refuses it with the reason. ``marketplace`` (a
    country code such as ``JP``) tells 黑貓 apart; without it, 黑貓 is asked about.
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
        known = _BY_KEY.get(_ALIASES.get(_alias_key(name), ""))
        if known is not None and known.key != OTHER and (known.code == OTHER or known.domestic):
            return known.carrier()  # "Other:万邦" is WanB Express; "其他:中通" is still domestic
        return Carrier(OTHER, name, _OTHER_SPEC.example)

    key = _alias_key(normalised)
    if key in _BLACK_CAT_KEYS:
        meant = _BLACK_CAT_BY_MARKETPLACE.get((marketplace or "").upper())
        if meant is None:
            raise Refusal(ShippingCode.carrier_unclear, text=typed, choices=["Yamato Transport", "Other:T-Cat"])
        return _BY_KEY[meant].carrier()
    found = _ALIASES.get(key)
    if found == OTHER:
        # A bare "Other" is not enough: Amazon rejects code Other without a carrier-name.
        raise Refusal(ShippingCode.missing_carrier_name, text=typed)
    if found is not None:
        return _BY_KEY[found].carrier()
    raise Refusal(ShippingCode.unknown_carrier, text=typed, suggestions=_suggest(key))


#: Shown when nothing typed is close to a carrier's name: never an empty "such as —".
_COMMON = ["UPS", "USPS", "FedEx"]


def _suggest(key: str) -> list[str]:
    """Up to three carriers whose names are closest to what was typed (common ones if none is)."""
    suggestions: list[str] = []
    if key:
        for alias in difflib.get_close_matches(key, list(_ALIASES), n=len(_ALIASES), cutoff=0.6):
            spec = _BY_KEY[_ALIASES[alias]]
            if spec.domestic or spec.key == OTHER or spec.key in suggestions:
                continue
            suggestions.append(spec.key)
            if len(suggestions) == 3:
                break
    return suggestions or list(_COMMON)


def normalise_tracking(tracking: str) -> str:
    """A tracking number as carriers print it: no spaces or dashes, capital letters."""
    text = unicodedata.normalize("NFKC", tracking or "")
    text = re.sub(r"[\s\-‐‑‒–—―−]+", "", text)
    return text.upper()


def _domestic_of(number: str) -> _Spec | None:
    for shape, spec in _DOMESTIC_SHAPES:
        if shape.fullmatch(number):
            return spec
    return None


def check_tracking(carrier: Carrier, tracking: str) -> str:
    """The normalised tracking number, if it has a shape ``carrier`` can issue.

    A domestic courier, or a number only a domestic courier issues, is refused with the
    reason: it would confirm the order with a number that never reaches the buyer.
    """
    typed = (tracking or "").strip()
    number = normalise_tracking(typed)
    if carrier.domestic:
        raise Refusal(ShippingCode.domestic_carrier, carrier=carrier.name, tracking=typed)
    if not number:
        raise Refusal(ShippingCode.missing_tracking, carrier=carrier.code)
    spec = _BY_KEY.get(carrier.name if carrier.code == OTHER else carrier.code)
    shapes = _SHAPES.get(carrier.code) or _SHAPES[OTHER]
    if spec is not None and spec.code == OTHER and spec.shapes:
        shapes = tuple(re.compile(s) for s in spec.shapes)
    # isascii(): NFKC leaves letters like "É" that [0-9A-Z] must not be fooled by.
    if not (number.isascii() and any(shape.fullmatch(number) for shape in shapes)):
        domestic = _domestic_of(number)
        if domestic is not None:
            raise Refusal(ShippingCode.domestic_carrier, carrier=domestic.key, tracking=typed)
        raise Refusal(ShippingCode.bad_tracking, carrier=carrier.name, tracking=typed, example=carrier.example)
    return number


def detect(number: str, marketplace: str | None = None) -> Carrier | None:
    """The carrier whose number this is, when its shape names one carrier; None otherwise.

    ``YT`` + 16 digits is Yun Express, ``1Z…`` UPS, ``SF`` + 12–15 digits SF Express, a UPU
    number ending in CN China Post. A shape only a domestic courier issues (圆通's ``YT`` +
    13 digits) gives that courier, which :func:`check_tracking` then refuses. Numbers of
    digits only are issued by several carriers and give None. ``marketplace`` (a country
    code) is accepted for the shapes that differ by country; none do yet.
    """
    del marketplace  # no shape differs by marketplace yet
    normalised = normalise_tracking(number)
    if not normalised.isascii():
        return None
    for shape, key in _DETECT:
        if shape.fullmatch(normalised):
            return _BY_KEY[key].carrier()
    domestic = _domestic_of(normalised)
    return domestic.carrier() if domestic is not None else None


def split_glued(word: str, marketplace: str | None = None) -> tuple[Carrier, str] | None:
    """A carrier's name typed against its number, as Chinese is typed: ``顺丰SF1234567890123``.

    The longest name that leaves a number of that carrier's shape wins; None if none does.
    """
    text = unicodedata.normalize("NFKC", word or "").strip()
    for cut in range(len(text) - 1, 0, -1):
        name, number = text[:cut], text[cut:]
        if not number[0].isascii() or not number[0].isalnum():
            continue
        if _alias_key(name) not in _ALIASES and _alias_key(name) not in _BLACK_CAT_KEYS:
            continue
        try:
            carrier = resolve_carrier(name, marketplace)
        except Refusal:
            continue
        if carrier.domestic:
            return carrier, number
        try:
            return carrier, check_tracking(carrier, number)
        except Refusal:
            continue
    return None


def from_stored(text: str) -> Carrier:
    """A carrier kept as :attr:`Carrier.stored` (a team's default carrier)."""
    return resolve_carrier(text)


def label(code: str, name: str = "", locale: str = "en") -> str:
    """A carrier as a reader sees it: ``SF Express``, or ``顺丰（SF Express）`` in Chinese."""
    english = name if code == OTHER and name else (code or name)
    spec = _BY_KEY.get(english)
    if spec is None and locale == "zh_Hant" and code == OTHER and name:
        return _traditional(name)
    if spec is None or not locale.startswith("zh"):
        return english
    chinese = spec.zh[1] if locale == "zh_Hant" else spec.zh[0]
    return f"{chinese}（{english}）" if chinese and chinese != english else english


#: Characters only Simplified script writes, from the carrier table's (Simplified, Traditional) names.
_SIMPLIFIED_ONLY = frozenset("".join(s.zh[0] for s in _BY_KEY.values())) - frozenset(
    "".join(s.zh[1] for s in _BY_KEY.values())
)


def _traditional(name: str) -> str:
    """A name typed after ``Other:`` in Simplified (``顺丰国际``), as Traditional readers write it
    (``順豐國際``) where the carrier table lists that name with its Traditional form right after it."""
    if not _SIMPLIFIED_ONLY & set(name):
        return name
    for spec in _BY_KEY.values():
        for simplified, traditional in zip(spec.aliases, spec.aliases[1:], strict=False):
            if simplified == name and len(traditional) == len(name) and not _SIMPLIFIED_ONLY & set(traditional):
                return traditional
    return name

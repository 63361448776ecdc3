"""What staff type into the group, read the way they meant it — or refused with a reason.

Alice works in Shenzhen with a Simplified Chinese input method, Bob in Taipei with a
Traditional one, Carol in Seattle in English. They all name the same carriers, orders,
amounts and reasons; the bot must hear the same thing from each of them.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from bot import carriers, parsing
from bot.carriers import (
    CARRIER_CODES,
    CARRIERS,
    Carrier,
    check_tracking,
    resolve_carrier,
)
from bot.domain import Refusal
from bot.parsing import (
    CANCEL_REASONS,
    ORDER_ID_RE,
    REFUND_REASONS,
    OrderRef,
    RefundRequest,
    parse_amount,
    parse_money,
    parse_order_ref,
    read_refund,
    resolve_cancel_reason,
    resolve_decision,
    resolve_refund_reason,
    split_args,
)
from handlers.commands import KEYWORD
from handlers.commands import KEYWORDS as KEYWORD_TABLE


def refusal(excinfo: pytest.ExceptionInfo[Refusal]) -> tuple[str, dict[str, object]]:
    return excinfo.value.code, excinfo.value.params


# ---------------------------------------------------------------------------------------
# Carriers


AMAZON_CODES = [
    "USPS",
    "UPS",
    "FedEx",
    "DHL",
    "DHL eCommerce",
    "OnTrac",
    "Royal Mail",
    "Deutsche Post",
    "DPD",
    "GLS",
    "Hermes",
    "La Poste",
    "Chronopost",
    "Poste Italiane",
    "Canada Post",
    "Australia Post",
    "Japan Post",
    "Yamato Transport",
    "Sagawa Express",
    "China Post",
    "SF Express",
    "Yanwen",
    "Yun Express",
    "4PX",
    "Other",
]


def test_the_table_holds_exactly_amazons_codes():
    assert list(CARRIER_CODES) == AMAZON_CODES
    assert set(CARRIERS) == set(AMAZON_CODES)


@pytest.mark.parametrize("code", [c for c in AMAZON_CODES if c != "Other"])
def test_each_amazon_code_resolves_to_itself_in_any_case_and_spacing(code):
    assert resolve_carrier(code) == Carrier(code, code, CARRIERS[code].example)
    assert resolve_carrier(code.lower()).code == code
    assert resolve_carrier(code.upper()).code == code
    assert resolve_carrier(code.replace(" ", "")).code == code
    assert resolve_carrier(code.replace(" ", "-").lower()).code == code
    assert resolve_carrier(f"  {code}  ").code == code


ENGLISH_ALIASES = [
    ("fedex", "FedEx"),
    ("Fed Ex", "FedEx"),
    ("federal express", "FedEx"),
    ("usps", "USPS"),
    ("US Postal Service", "USPS"),
    ("united states postal service", "USPS"),
    ("ups", "UPS"),
    ("United Parcel Service", "UPS"),
    ("dhl", "DHL"),
    ("DHL Express", "DHL"),
    ("dhl-ecommerce", "DHL eCommerce"),
    ("dhlecommerce", "DHL eCommerce"),
    ("DHL e-commerce", "DHL eCommerce"),
    ("dhl ecom", "DHL eCommerce"),
    ("ontrac", "OnTrac"),
    ("on trac", "OnTrac"),
    ("royalmail", "Royal Mail"),
    ("royal mail", "Royal Mail"),
    ("deutschepost", "Deutsche Post"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("hermes", "Hermes"),
    ("laposte", "La Poste"),
    ("chronopost", "Chronopost"),
    ("posteitaliane", "Poste Italiane"),
    ("canadapost", "Canada Post"),
    ("auspost", "Australia Post"),
    ("australia post", "Australia Post"),
    ("japanpost", "Japan Post"),
    ("yamato", "Yamato Transport"),
    ("sagawa", "Sagawa Express"),
    ("chinapost", "China Post"),
    ("ems", "China Post"),
    ("EMS", "China Post"),
    ("China EMS", "China Post"),
    ("ePacket", "China Post"),
    ("sf", "SF Express"),
    ("SF", "SF Express"),
    ("sfexpress", "SF Express"),
    ("sf-express", "SF Express"),
    ("yanwen", "Yanwen"),
    ("yunexpress", "Yun Express"),
    ("yun", "Yun Express"),
    ("YunExpress", "Yun Express"),
    ("4px", "4PX"),
]

CHINESE_NAMES = [
    # (Simplified, Traditional, code)
    ("顺丰", "順豐", "SF Express"),
    ("顺丰速运", "順豐速運", "SF Express"),
    ("顺丰快递", "順豐快遞", "SF Express"),
    ("中国邮政", "中國郵政", "China Post"),
    ("邮政", "郵政", "China Post"),
    ("中邮", "中郵", "China Post"),
    ("邮政小包", "郵政小包", "China Post"),
    ("e邮宝", "e郵寶", "China Post"),
    ("燕文", "燕文", "Yanwen"),
    ("燕文物流", "燕文物流", "Yanwen"),
    ("云途", "雲途", "Yun Express"),
    ("云途物流", "雲途物流", "Yun Express"),
    ("递四方", "遞四方", "4PX"),
    ("联邦快递", "聯邦快遞", "FedEx"),
    ("联邦", "聯邦", "FedEx"),
    ("美国邮政", "美國郵政", "USPS"),
    ("美邮", "美郵", "USPS"),
    ("敦豪", "敦豪", "DHL"),
    ("敦豪快递", "敦豪快遞", "DHL"),
    ("dhl电商", "dhl電商", "DHL eCommerce"),
    ("联合包裹", "聯合包裹", "UPS"),
    ("日本邮政", "日本郵政", "Japan Post"),
    ("日本郵便", "日本郵便", "Japan Post"),
    ("佐川", "佐川", "Sagawa Express"),
    ("佐川急便", "佐川急便", "Sagawa Express"),
    ("顺丰国际", "順豐國際", "SF Express"),
    ("大和运输", "大和運輸", "Yamato Transport"),
    ("ヤマト運輸", "ヤマト運輸", "Yamato Transport"),
    ("皇家邮政", "皇家郵政", "Royal Mail"),
    ("英国邮政", "英國郵政", "Royal Mail"),
    ("德国邮政", "德國郵政", "Deutsche Post"),
    ("法国邮政", "法國郵政", "La Poste"),
    ("意大利邮政", "義大利郵政", "Poste Italiane"),
    ("意大利邮政", "意大利郵政", "Poste Italiane"),
    ("加拿大邮政", "加拿大郵政", "Canada Post"),
    ("澳洲邮政", "澳洲郵政", "Australia Post"),
    ("澳大利亚邮政", "澳大利亞郵政", "Australia Post"),
]


@pytest.mark.parametrize(("typed", "code"), ENGLISH_ALIASES)
def test_english_aliases(typed, code):
    assert resolve_carrier(typed).code == code


@pytest.mark.parametrize(("simplified", "traditional", "code"), CHINESE_NAMES)
def test_chinese_names_in_both_scripts(simplified, traditional, code):
    assert resolve_carrier(simplified).code == code
    assert resolve_carrier(traditional).code == code


def test_every_alias_in_the_table_is_tested():
    tested = {carriers._alias_key(t) for t, _ in ENGLISH_ALIASES}
    tested |= {carriers._alias_key(n) for s, t, _ in CHINESE_NAMES for n in (s, t)}
    tested |= {carriers._alias_key(c) for c in AMAZON_CODES}
    tested |= {"其他", "其它"}  # bare "Other" in Chinese: see test_other_without_a_name_is_refused
    tested |= {carriers._alias_key(n) for row in NAMED_OTHERS + DOMESTIC for n in row[:-1]}
    tested |= {carriers._alias_key(n) for n in ("sf international", "黑猫", "黑貓")}
    assert set(carriers._ALIASES) <= tested


NAMED_OTHERS = [
    # cross-border carriers Amazon has no code for: typed names → the name stored with code Other
    ("三态", "三態", "sfc", "SFC"),
    ("三态速递", "三態速遞", "三态物流", "SFC"),
    ("三態物流", "三態速遞", "SFC", "SFC"),
    ("万邦", "萬邦", "wanb", "WanB Express"),
    ("万邦速达", "萬邦速達", "wanbexpress", "WanB Express"),
    ("出口易", "出口易", "chukou1", "Chukou1"),
    ("ck1", "Chukou1", "出口易", "Chukou1"),
    ("飞特", "飛特", "flyt", "Flyt Express"),
    ("飞特物流", "飛特物流", "flytexpress", "Flyt Express"),
    ("华翰", "華翰", "huahan", "Hua Han Logistics"),
    ("华翰物流", "華翰物流", "Hua Han Logistics", "Hua Han Logistics"),
    ("统一速达", "統一速達", "tcat", "T-Cat"),
    ("t cat", "T-Cat", "T-Cat", "T-Cat"),
]

DOMESTIC = [
    ("中通", "中通", "zto", "ZTO Express"),
    ("中通快递", "中通快遞", "ZTO Express", "ZTO Express"),
    ("圆通", "圓通", "yto", "YTO Express"),
    ("圆通速递", "圓通速遞", "圆通快递", "YTO Express"),
    ("圓通快遞", "圓通", "YTO Express", "YTO Express"),
    ("韵达", "韻達", "yunda", "Yunda Express"),
    ("韵达快递", "韻達快遞", "Yunda Express", "Yunda Express"),
    ("申通", "申通", "sto", "STO Express"),
    ("申通快递", "申通快遞", "STO Express", "STO Express"),
    ("极兔", "極兔", "j&t", "J&T Express"),
    ("极兔速递", "極兔速遞", "jtexpress", "J&T Express"),
    ("jt", "J&T Express", "jt", "J&T Express"),
    ("德邦", "德邦", "deppon", "Deppon Express"),
    ("德邦快递", "德邦快遞", "德邦物流", "Deppon Express"),
    ("Deppon Express", "德邦", "德邦", "Deppon Express"),
    ("京东", "京東", "jd", "JD Logistics"),
    ("京东物流", "京東物流", "jdl", "JD Logistics"),
    ("京东快递", "京東快遞", "JD Logistics", "JD Logistics"),
]


@pytest.mark.parametrize("row", NAMED_OTHERS)
def test_cross_border_carriers_without_an_amazon_code_are_other_with_their_name(row):
    *typed, name = row
    for word in typed:
        carrier = resolve_carrier(word)
        assert (carrier.code, carrier.name, carrier.domestic) == ("Other", name, False)
        assert carrier.stored == f"Other:{name}"
    assert resolve_carrier(f"Other:{typed[0]}").name == name


@pytest.mark.parametrize("row", DOMESTIC)
def test_domestic_couriers_are_known_and_refused_with_the_reason(row):
    *typed, name = row
    for word in typed:
        carrier = resolve_carrier(word)
        assert (carrier.code, carrier.name, carrier.domestic) == ("Other", name, True)
        with pytest.raises(Refusal) as excinfo:
            check_tracking(carrier, "75123456789012")
        assert refusal(excinfo) == ("domestic_carrier", {"carrier": name, "tracking": "75123456789012"})
    # Naming it as "Other:" does not get it past the check.
    assert resolve_carrier(f"其他:{typed[0]}").domestic


def test_full_width_carrier_names_are_read_as_ascii():
    assert resolve_carrier("ＦｅｄＥｘ").code == "FedEx"
    assert resolve_carrier("ＵＰＳ").code == "UPS"


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Other:Evri", "Evri"),
        ("other:Evri", "Evri"),
        ("OTHER: Blue  Dart ", "Blue Dart"),
        ("Other：Evri", "Evri"),  # full-width colon
        ("其他:嘉里物流", "嘉里物流"),
        ("其他：嘉里大通", "嘉里大通"),
        ("其它:菜鸟", "菜鸟"),
        ("其它：菜鳥", "菜鳥"),
    ],
)
def test_other_carries_the_carrier_name_amazon_requires(typed, name):
    carrier = resolve_carrier(typed)
    assert carrier.code == "Other"
    assert carrier.name == name
    assert carrier.example


@pytest.mark.parametrize("typed", ["Other", "other", "其他", "其它", "Other:", "其他：", "Other:   "])
def test_other_without_a_name_is_refused(typed):
    with pytest.raises(Refusal) as excinfo:
        resolve_carrier(typed)
    assert refusal(excinfo) == ("missing_carrier_name", {"text": typed.strip()})


def test_unknown_carrier_suggests_the_closest_codes():
    with pytest.raises(Refusal) as excinfo:
        resolve_carrier("fedx")
    assert refusal(excinfo) == ("unknown_carrier", {"text": "fedx", "suggestions": ["FedEx"]})


def test_unknown_carrier_suggests_at_most_three_distinct_codes():
    with pytest.raises(Refusal) as excinfo:
        resolve_carrier("Poste")
    code, params = refusal(excinfo)
    assert code == "unknown_carrier"
    assert params["text"] == "Poste"
    suggestions = params["suggestions"]
    assert 1 <= len(suggestions) <= 3
    assert len(set(suggestions)) == len(suggestions)
    assert set(suggestions) <= set(AMAZON_CODES)
    assert "La Poste" in suggestions


def test_an_unknown_carrier_far_from_any_name_suggests_common_ones_not_a_dash():
    with pytest.raises(Refusal) as excinfo:
        resolve_carrier("嘉里物流")
    assert refusal(excinfo) == ("unknown_carrier", {"text": "嘉里物流", "suggestions": ["UPS", "USPS", "FedEx"]})


@pytest.mark.parametrize("typed", ["", "   ", "\u3000"])
def test_missing_carrier(typed):
    with pytest.raises(Refusal) as excinfo:
        resolve_carrier(typed)
    assert refusal(excinfo) == ("missing_carrier", {})


# Tracking numbers ----------------------------------------------------------------------

VALID_TRACKING = [
    ("UPS", "1Z999AA10123456784"),
    ("UPS", "1ZA2B3C4D5E6F7G8H9"),
    ("USPS", "92055901755477000000000000"[:20]),
    ("USPS", "940011189922334455667"),
    ("USPS", "9400111899223344556677"),
    ("USPS", "EA123456789US"),
    ("USPS", "LZ123456789US"),
    ("FedEx", "123456789012"),
    ("FedEx", "123456789012345"),
    ("FedEx", "12345678901234567890"),
    ("DHL", "1234567890"),
    ("DHL", "123456789012"),  # DHL Paket (EU)
    ("DHL", "00340434161234567890"),  # DHL Paket (EU)
    ("SF Express", "SF123456789012"),
    ("SF Express", "SF1234567890123"),
    ("SF Express", "SF123456789012345"),
    ("Yun Express", "YT2212345678901234"),
    ("China Post", "LX123456789CN"),
    ("China Post", "EA123456789CN"),  # EMS
    ("Yanwen", "LY123456789CN"),
    ("Yanwen", "UG123456789YP"),
    ("OnTrac", "C12345678901234"),
    ("Royal Mail", "AB123456789GB"),
    ("4PX", "4PX3001234567890CN"),
    ("Hermes", "123456"),
    ("Other", "A" * 40),
]

INVALID_TRACKING = [
    ("UPS", "1Z999AA1012345678"),  # 15 after 1Z
    ("UPS", "1Z999AA101234567845"),  # 17 after 1Z
    ("UPS", "2Z999AA10123456784"),
    ("UPS", "123456789012"),
    ("USPS", "9400111899223344556"),  # 19 digits
    ("USPS", "94001118992233445566778"),  # 23 digits
    ("USPS", "EA123456789CN"),  # not a US number
    ("USPS", "EA12345678US"),
    ("FedEx", "12345678901"),
    ("FedEx", "1234567890123"),
    ("FedEx", "1234567890123456"),
    ("FedEx", "12345678901A"),
    ("DHL", "123456789"),
    ("DHL", "12345678901"),
    ("DHL", "JD1234567890"),
    ("SF Express", "SF12345678901"),  # 11 digits
    ("SF Express", "SF1234567890123456"),  # 16 digits
    ("SF Express", "1234567890123"),
    ("SF Express", "YT1234567890123456"),
    ("Yun Express", "YT123456789012345"),  # 15 digits
    ("Yun Express", "YT12345678901234567"),  # 17 digits
    ("Yun Express", "SF1234567890123"),
    ("China Post", "LX123456789US"),
    ("China Post", "LX12345678CN"),
    ("China Post", "123456789012"),
    ("Yanwen", "LY12345678CN"),
    ("Yanwen", "YT1234567890123456"),
    ("Royal Mail", "AB123"),  # under 6
    ("Other", "A" * 41),  # over 40
    ("4PX", "4PX 300/123"),
    ("Hermes", "顺丰123456"),
]


@pytest.mark.parametrize(("code", "tracking"), VALID_TRACKING)
def test_valid_tracking_shapes(code, tracking):
    assert check_tracking(CARRIERS[code], tracking) == tracking


@pytest.mark.parametrize(("code", "tracking"), INVALID_TRACKING)
def test_invalid_tracking_shapes_are_refused_with_an_example(code, tracking):
    carrier = CARRIERS[code]
    with pytest.raises(Refusal) as excinfo:
        check_tracking(carrier, tracking)
    assert refusal(excinfo) == (
        "bad_tracking",
        {"carrier": code, "tracking": tracking, "example": carrier.example},
    )


@pytest.mark.parametrize("code", AMAZON_CODES)
def test_every_example_passes_its_own_check(code):
    carrier = CARRIERS[code]
    assert check_tracking(carrier, carrier.example) == carrier.example


def test_tracking_is_normalised_before_it_is_checked():
    ups = resolve_carrier("ups")
    assert check_tracking(ups, "  1z 999 aa1-0123456784 ") == "1Z999AA10123456784"
    assert check_tracking(resolve_carrier("顺丰"), "sf 1234-5678-90123") == "SF1234567890123"
    assert check_tracking(resolve_carrier("云途"), "ＹＴ２２１２３４５６７８９０１２３４") == "YT2212345678901234"
    assert check_tracking(resolve_carrier("邮政"), "lx\u3000123456789cn") == "LX123456789CN"


def test_bad_tracking_reports_it_as_typed():
    with pytest.raises(Refusal) as excinfo:
        check_tracking(resolve_carrier("sf"), " sf-123 ")
    assert refusal(excinfo) == (
        "bad_tracking",
        {"carrier": "SF Express", "tracking": "sf-123", "example": "SF1234567890123"},
    )


def test_other_carrier_uses_the_generic_shape():
    evri = resolve_carrier("Other:Evri")
    assert check_tracking(evri, "h01abc1234567890") == "H01ABC1234567890"
    with pytest.raises(Refusal) as excinfo:
        check_tracking(evri, "abc")
    assert refusal(excinfo) == ("bad_tracking", {"carrier": "Evri", "tracking": "abc", "example": evri.example})


@pytest.mark.parametrize("tracking", ["", "   ", " - ", "\u3000"])
def test_missing_tracking(tracking):
    with pytest.raises(Refusal) as excinfo:
        check_tracking(resolve_carrier("UPS"), tracking)
    assert refusal(excinfo) == ("missing_tracking", {"carrier": "UPS"})


# ---------------------------------------------------------------------------------------
# Order references


@pytest.mark.parametrize(
    "typed",
    [
        "113-4417305-6689831",
        " 113-4417305-6689831 ",
        "11344173056689831",
        "１１３－４４１７３０５－６６８９８３１",  # full-width digits and dashes
        "113—4417305—6689831",  # a Chinese input method's dash
        "113–4417305–6689831",
        "#113-4417305-6689831",
    ],
)
def test_full_order_ids(typed):
    assert parse_order_ref(typed) == OrderRef(full="113-4417305-6689831", tail=None)


@pytest.mark.parametrize(
    ("typed", "tail"),
    [
        ("9831", "9831"),
        ("6689831", "6689831"),
        ("305-6689831", "3056689831"),
        ("4417305-6689831", "44173056689831"),
        ("１２３４", "1234"),
        ("0001", "0001"),
        ("1234567890123456", "1234567890123456"),
        ("#9831", "9831"),
        ("-9831", "9831"),
        ("9831-", "9831"),
    ],
)
def test_order_tails(typed, tail):
    assert parse_order_ref(typed) == OrderRef(full=None, tail=tail)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "123",
        "12-3",
        "abc",
        "113-4417305-668983x",
        "12345678901234567890",
        "113-4417305-66898311",
        "--",
        "98 31",
        "١٢٣٤٥",
        "顺丰",
        "SF1234567890123",
    ],
)
def test_bad_order_refs(typed):
    with pytest.raises(Refusal) as excinfo:
        parse_order_ref(typed)
    assert refusal(excinfo) == ("bad_order_ref", {"text": typed.strip()})


def test_order_id_pattern():
    assert ORDER_ID_RE.match("113-4417305-6689831")
    assert not ORDER_ID_RE.match("113-4417305-668983")
    assert not ORDER_ID_RE.match("11344173056689831")
    assert not ORDER_ID_RE.match("١١٣-٤٤١٧٣٠٥-٦٦٨٩٨٣١")  # only ASCII digits


# ---------------------------------------------------------------------------------------
# Amounts


AMOUNTS = [
    ("12.5", "12.50", None),
    ("12", "12.00", None),
    ("12,50", "12.50", None),
    ("12,5", "12.50", None),
    ("0.99", "0.99", None),
    (".5", "0.50", None),
    ("+12", "12.00", None),
    ("$12.50", "12.50", None),
    ("＄12.50", "12.50", None),
    ("US$12.50", "12.50", "USD"),
    ("us$ 12.50", "12.50", "USD"),
    ("12.50 USD", "12.50", "USD"),
    ("12.50usd", "12.50", "USD"),
    ("USD 12.50", "12.50", "USD"),
    ("$12.50 USD", "12.50", "USD"),
    ("12.50美元", "12.50", "USD"),
    ("C$12.50", "12.50", "CAD"),
    ("A$12.50", "12.50", "AUD"),
    ("€12,50", "12.50", "EUR"),
    ("12,50 €", "12.50", "EUR"),
    ("12,50 EUR", "12.50", "EUR"),
    ("£9.99", "9.99", "GBP"),
    ("9.99 GBP", "9.99", "GBP"),
    ("¥1200", "1200.00", None),
    ("￥1200", "1200.00", None),
    ("1200 JPY", "1200.00", "JPY"),
    ("1200円", "1200.00", "JPY"),
    ("1200日元", "1200.00", "JPY"),
    ("12.50元", "12.50", "CNY"),
    ("RMB 12.50", "12.50", "CNY"),
    ("12.50 CNY", "12.50", "CNY"),
    ("12.50人民币", "12.50", "CNY"),
    ("12.50人民幣", "12.50", "CNY"),
    ("1,234.56", "1234.56", None),
    ("1.234,56", "1234.56", None),
    ("1 234,56", "1234.56", None),
    ("1\u00a0234,56", "1234.56", None),  # NBSP, as a French keyboard types it
    ("1'234.56", "1234.56", None),
    ("1,234,567.89", "1234567.89", None),
    ("1.234.567,89", "1234567.89", None),
    ("1.234.567", "1234567.00", None),
    ("1,234", "1234.00", None),
    ("1.234", "1234.00", None),
    ("€1.234,56", "1234.56", "EUR"),
    ("１２．５０", "12.50", None),
    ("１２，５０元", "12.50", "CNY"),
]


@pytest.mark.parametrize(("typed", "amount", "currency"), AMOUNTS)
def test_amounts(typed, amount, currency):
    assert parse_money(typed) == (Decimal(amount), currency)
    result = parse_amount(typed)
    assert result == Decimal(amount)
    assert result.as_tuple().exponent == -2


BAD_AMOUNTS = [
    "",
    "   ",
    "abc",
    "twelve",
    "$",
    "元",
    "0",
    "0.00",
    "$0",
    "-5",
    "-12.50",
    "−5",
    "$-5",
    "- 5",
    "12.5.5",
    "1.234.56",
    "1,23,456",
    "12,",
    "12.",
    "1e5",
    "12 usd 5",
    "5 $ 6",
    "12 50",
    "0.125",
    "12.345,678",
    "€12,50 USD",
    "US$12 EUR",
    "12.50 XYZ",
    "12abc",
    "退款",
    "1/2",
    "١٢",
]


@pytest.mark.parametrize("typed", BAD_AMOUNTS)
def test_bad_amounts(typed):
    with pytest.raises(Refusal) as excinfo:
        parse_amount(typed)
    assert refusal(excinfo) == ("bad_amount", {"text": typed.strip()})
    with pytest.raises(Refusal):
        parse_money(typed)


# ---------------------------------------------------------------------------------------
# Cancellation reasons


@pytest.mark.parametrize("code", CANCEL_REASONS)
def test_every_amazon_reason_code_in_any_case(code):
    assert resolve_cancel_reason(code) == code
    assert resolve_cancel_reason(code.lower()) == code
    assert resolve_cancel_reason(code.upper()) == code


CANCEL_WORDS = [
    # English variants
    ("no inventory", "NoInventory"),
    ("duplicate order", "BuyerCanceled"),
    ("no_inventory", "NoInventory"),
    ("No-Inventory", "NoInventory"),
    ("out of stock", "NoInventory"),
    ("oos", "NoInventory"),
    ("OOS", "NoInventory"),
    ("buyer canceled", "BuyerCanceled"),
    ("buyer_cancelled", "BuyerCanceled"),
    ("customer cancelled", "BuyerCanceled"),
    ("Customer Canceled", "BuyerCanceled"),
    ("buyer cancel", "BuyerCanceled"),
    ("no stock", "NoInventory"),
    ("sold out", "NoInventory"),
    ("undeliverable", "ShippingAddressUndeliverable"),
    ("wrong address", "ShippingAddressUndeliverable"),
    ("address", "ShippingAddressUndeliverable"),
    ("wrong price", "PricingError"),
    ("mispriced", "PricingError"),
    ("general", "GeneralAdjustment"),
    ("adjustment", "GeneralAdjustment"),
    ("carrier credit", "CarrierCreditDecision"),
    ("risk", "RiskAssessmentInformationNotValid"),
    ("risk assessment", "RiskAssessmentInformationNotValid"),
    ("carrier coverage", "CarrierCoverageFailure"),
    ("no carrier coverage", "CarrierCoverageFailure"),
    ("return", "CustomerReturn"),
    ("shipping address undeliverable", "ShippingAddressUndeliverable"),
    ("address undeliverable", "ShippingAddressUndeliverable"),
    ("bad address", "ShippingAddressUndeliverable"),
    ("customer exchange", "CustomerExchange"),
    ("exchange", "CustomerExchange"),
    ("pricing error", "PricingError"),
    ("pricing_error", "PricingError"),
    ("price error", "PricingError"),
    ("general adjustment", "GeneralAdjustment"),
    ("other", "GeneralAdjustment"),
    ("carrier credit decision", "CarrierCreditDecision"),
    ("risk assessment information not valid", "RiskAssessmentInformationNotValid"),
    ("carrier coverage failure", "CarrierCoverageFailure"),
    ("customer return", "CustomerReturn"),
    ("merchandise not received", "MerchandiseNotReceived"),
    ("not received", "MerchandiseNotReceived"),
    ("ＮｏＩｎｖｅｎｔｏｒｙ", "NoInventory"),
]


@pytest.mark.parametrize(("typed", "code"), CANCEL_WORDS)
def test_english_reason_variants(typed, code):
    assert resolve_cancel_reason(typed) == code


CHINESE_REASONS = [
    # (Simplified, Traditional, code)
    ("买家取消", "買家取消", "BuyerCanceled"),
    ("客户取消", "客戶取消", "BuyerCanceled"),
    ("顾客取消", "顧客取消", "BuyerCanceled"),
    ("买家要求取消", "買家要求取消", "BuyerCanceled"),
    ("客人取消", "客人取消", "BuyerCanceled"),
    ("买家不要了", "買家不要了", "BuyerCanceled"),
    ("重复下单", "重複下單", "BuyerCanceled"),
    ("重复订单", "重複訂單", "BuyerCanceled"),
    ("无货", "無貨", "NoInventory"),
    ("没有库存", "沒有庫存", "NoInventory"),
    ("没库存", "沒庫存", "NoInventory"),
    ("缺库存", "缺庫存", "NoInventory"),
    ("卖完了", "賣完了", "NoInventory"),
    ("售罄", "售罄", "NoInventory"),
    ("地址有误", "地址有誤", "ShippingAddressUndeliverable"),
    ("地址错了", "地址錯了", "ShippingAddressUndeliverable"),
    ("价格错了", "價格錯了", "PricingError"),
    ("标价错误", "標價錯誤", "PricingError"),
    ("价格有误", "價格有誤", "PricingError"),
    ("承运人赔付", "承運商理賠", "CarrierCreditDecision"),
    ("风险评估信息无效", "風險評估資訊無效", "RiskAssessmentInformationNotValid"),
    ("缺货", "缺貨", "NoInventory"),
    ("没货", "沒貨", "NoInventory"),
    ("无库存", "無庫存", "NoInventory"),
    ("库存不足", "庫存不足", "NoInventory"),
    ("断货", "斷貨", "NoInventory"),
    ("地址无法送达", "地址無法送達", "ShippingAddressUndeliverable"),
    ("地址错误", "地址錯誤", "ShippingAddressUndeliverable"),
    ("地址不对", "地址不對", "ShippingAddressUndeliverable"),
    ("无法送达", "無法送達", "ShippingAddressUndeliverable"),
    ("地址", "地址", "ShippingAddressUndeliverable"),
    ("地址变更", "地址變更", "ShippingAddressUndeliverable"),
    ("改地址", "改地址", "ShippingAddressUndeliverable"),
    ("换货", "換貨", "CustomerExchange"),
    ("客户换货", "客戶換貨", "CustomerExchange"),
    ("价格错误", "價格錯誤", "PricingError"),
    ("标错价", "標錯價", "PricingError"),
    ("价格标错", "價格標錯", "PricingError"),
    ("定价错误", "定價錯誤", "PricingError"),
    ("一般调整", "一般調整", "GeneralAdjustment"),
    ("其他", "其他", "GeneralAdjustment"),
    ("其它", "其它", "GeneralAdjustment"),
    ("承运商信用", "承運商信用", "CarrierCreditDecision"),
    ("风险评估", "風險評估", "RiskAssessmentInformationNotValid"),
    ("风控", "風控", "RiskAssessmentInformationNotValid"),
    ("物流不覆盖", "物流不覆蓋", "CarrierCoverageFailure"),
    ("承运商不覆盖", "承運商不覆蓋", "CarrierCoverageFailure"),
    ("不在配送范围", "不在配送範圍", "CarrierCoverageFailure"),
    ("客户退货", "客戶退貨", "CustomerReturn"),
    ("买家退货", "買家退貨", "CustomerReturn"),
    ("未收到货", "未收到貨", "MerchandiseNotReceived"),
    ("没收到货", "沒收到貨", "MerchandiseNotReceived"),
    ("买家未收到", "買家未收到", "MerchandiseNotReceived"),
]


@pytest.mark.parametrize(("simplified", "traditional", "code"), CHINESE_REASONS)
def test_chinese_reasons_in_both_scripts(simplified, traditional, code):
    assert resolve_cancel_reason(simplified) == code
    assert resolve_cancel_reason(traditional) == code


def test_every_reason_alias_in_the_table_is_tested():
    tested = {parsing._word_key(c) for c in CANCEL_REASONS}
    tested |= {parsing._word_key(t) for t, _ in CANCEL_WORDS}
    tested |= {parsing._word_key(n) for s, t, _ in CHINESE_REASONS for n in (s, t)}
    assert set(parsing._CANCEL_KEYS) <= tested


@pytest.mark.parametrize("typed", ["foo", "cancel", "取消", "缺", "NoInventor", "because"])
def test_unknown_reason_lists_the_choices(typed):
    with pytest.raises(Refusal) as excinfo:
        resolve_cancel_reason(typed)
    assert refusal(excinfo) == ("unknown_reason", {"text": typed, "choices": list(CANCEL_REASONS)})


@pytest.mark.parametrize("typed", ["", "  ", "\u3000"])
def test_missing_reason(typed):
    with pytest.raises(Refusal) as excinfo:
        resolve_cancel_reason(typed)
    assert refusal(excinfo) == ("missing_reason", {})


def test_cancel_reasons_are_amazons():
    assert CANCEL_REASONS == (
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


# ---------------------------------------------------------------------------------------
# Refunds: the amount wherever it stands, Amazon's reasons, and nothing silently in full

USD_LIKE = ("USD", "CAD", "MXN", "AUD", "SGD", "HKD", "TWD", "NZD")

REFUNDS = [
    # (what follows the order, amount, currencies, reason, note)
    ("", None, (), "", ""),
    ("12.50", "12.50", (), "", ""),
    ("defective 12.50", "12.50", (), "GeneralAdjustment", ""),
    ("12.50 defective", "12.50", (), "GeneralAdjustment", ""),
    ("部分 10", "10.00", (), "", ""),
    ("部份 10", "10.00", (), "", ""),  # Taiwan's usual spelling
    ("10 部分", "10.00", (), "", ""),
    ("部分10", "10.00", (), "", ""),
    ("10部分", "10.00", (), "", ""),
    ("部分退款 10", "10.00", (), "", ""),
    ("partial 10", "10.00", (), "", ""),
    ("12,50", "12.50", (), "", ""),
    ("$12.50", "12.50", USD_LIKE, "", ""),
    ("12.50 USD", "12.50", ("USD",), "", ""),
    ("USD 12.50", "12.50", ("USD",), "", ""),
    ("US$12.50", "12.50", ("USD",), "", ""),
    ("US$ 12.50", "12.50", ("USD",), "", ""),
    ("12.50美元", "12.50", ("USD",), "", ""),
    ("10刀", "10.00", USD_LIKE, "", ""),
    ("12 dollars", "12.00", USD_LIKE, "", ""),
    ("€12,50", "12.50", ("EUR",), "", ""),
    ("¥12.5", "12.50", ("JPY", "CNY"), "", ""),
    ("12.5元", "12.50", ("CNY",), "", ""),
    ("12.5 元", "12.50", ("CNY",), "", ""),
    ("12.5块", "12.50", ("CNY",), "", ""),
    ("12.5塊", "12.50", ("CNY",), "", ""),
    ("人民币12.5", "12.50", ("CNY",), "", ""),
    ("人民幣 12.5", "12.50", ("CNY",), "", ""),
    ("RMB 12.5", "12.50", ("CNY",), "", ""),
    ("12.5 CNY", "12.50", ("CNY",), "", ""),
    ("1,234.56", "1234.56", (), "", ""),
    ("1.234,56", "1234.56", (), "", ""),
    ("全额", None, (), "", ""),
    ("全額", None, (), "", ""),
    ("全部", None, (), "", ""),
    ("全款", None, (), "", ""),
    ("in full", None, (), "", ""),
    ("全额 美元", None, ("USD",), "", ""),
    ("CustomerReturn", None, (), "CustomerReturn", ""),
    ("customer return", None, (), "CustomerReturn", ""),
    ("退货 10", "10.00", (), "CustomerReturn", ""),
    ("10 退貨", "10.00", (), "CustomerReturn", ""),
    ("退货10", "10.00", (), "CustomerReturn", ""),
    ("部分 10 发错货", "10.00", (), "DifferentItem", ""),
    ("部分 10 寄錯商品", "10.00", (), "DifferentItem", ""),
    ("12.50 DifferentItem wrong colour", "12.50", (), "DifferentItem", "wrong colour"),
    ("DifferentItem wrong colour 12.50", "12.50", (), "DifferentItem", "wrong colour"),
    ("wrong item 5", "5.00", (), "DifferentItem", ""),
    ("退货 10 箱子压坏了", "10.00", (), "CustomerReturn", "箱子压坏了"),
    ("CustomerReturn box3", None, (), "CustomerReturn", "box3"),
    ("refund 10", "10.00", (), "", ""),
    ("退款 10", "10.00", (), "", ""),
]


@pytest.mark.parametrize(("typed", "amount", "currencies", "reason", "note"), REFUNDS)
def test_refunds_are_read_wherever_the_amount_stands(typed, amount, currencies, reason, note):
    wanted = read_refund(typed.split())
    assert wanted.amount == (None if amount is None else Decimal(amount))
    assert (wanted.currencies, wanted.reason, wanted.note) == (currencies, reason, note)


def test_a_currency_sign_is_named_back_as_typed():
    assert read_refund(["¥12.5"]).marker == "¥"
    assert read_refund(["12.5", "RMB"]).marker == "RMB"
    assert read_refund(["12.5元"]).marker == "元"


REFUSED_REFUNDS = [
    # (what follows the order, the refusal)
    ("twelve", ("amount_in_words", {"text": "twelve"})),
    ("twelve-fifty", ("amount_in_words", {"text": "twelve-fifty"})),
    ("十二", ("amount_in_words", {"text": "十二"})),
    ("十块", ("amount_in_words", {"text": "十块"})),
    ("十塊", ("amount_in_words", {"text": "十塊"})),
    ("部分", ("refund_partial_needs_amount", {"text": "部分"})),
    ("部份", ("refund_partial_needs_amount", {"text": "部份"})),
    ("partial CustomerReturn", ("refund_partial_needs_amount", {"text": "partial"})),
    ("全额 10", ("refund_full_and_amount", {"text": "全额", "typed": "10"})),
    ("10 全額", ("refund_full_and_amount", {"text": "全額", "typed": "10"})),
    ("12.345", ("ambiguous_amount", {"text": "12.345", "thousands": "12345"})),
    ("12,345", ("ambiguous_amount", {"text": "12,345", "thousands": "12345"})),
    ("$1,234", ("ambiguous_amount", {"text": "$1,234", "thousands": "1234"})),
    ("0.125", ("amount_decimals", {"text": "0.125"})),
    ("12.3456", ("amount_decimals", {"text": "12.3456"})),
    ("0", ("amount_not_positive", {"text": "0"})),
    ("0.00", ("amount_not_positive", {"text": "0.00"})),
    ("-5", ("amount_not_positive", {"text": "-5"})),
    ("−5", ("amount_not_positive", {"text": "−5"})),
    ("$-5", ("amount_not_positive", {"text": "$-5"})),
    ("9" * 13, ("amount_too_large", {"text": "9" * 13})),
    ("9" * 30, ("amount_too_large", {"text": "9" * 30})),
    ("9" * 400, ("amount_too_large", {"text": "9" * 39 + "…"})),
    ("1" + "0" * 29 + ".00", ("amount_too_large", {"text": "1" + "0" * 29 + ".00"})),
    ("10 20", ("refund_two_amounts", {"first": "10", "second": "20"})),
    ("10 USD 20", ("refund_two_amounts", {"first": "10 USD", "second": "20"})),
    ("abc12", ("bad_amount", {"text": "abc12"})),
    ("12.5.5", ("bad_amount", {"text": "12.5.5"})),
]


@pytest.mark.parametrize(("typed", "expected"), REFUSED_REFUNDS)
def test_what_is_not_a_clear_amount_is_refused_with_its_reason(typed, expected):
    with pytest.raises(Refusal) as excinfo:
        read_refund(typed.split())
    assert refusal(excinfo) == expected


@pytest.mark.parametrize("typed", ["scratched", "scratched 10", "10 scratched", "部分 10 划痕",
                                   "buyer unhappy CustomerReturn", "半", "ok"])  # fmt: skip
def test_a_word_that_is_neither_amount_nor_reason_never_becomes_a_full_refund(typed):
    with pytest.raises(Refusal) as excinfo:
        read_refund(typed.split())
    code, params = refusal(excinfo)
    assert code in ("refund_unknown_word", "amount_in_words")
    if code == "refund_unknown_word":
        assert params["choices"] == list(REFUND_REASONS)


def test_absurd_numbers_never_raise_decimal_errors():
    for digits in (28, 29, 30, 60, 400, 5000):
        for typed in ("9" * digits, "0." + "9" * digits, "9" * digits + ".5", "1," + "000," * (digits // 4) + "000"):
            with pytest.raises(Refusal):
                read_refund([typed])
            with pytest.raises(Refusal):
                parse_money(typed)


REFUND_REASON_WORDS = [
    # (English, Simplified, Traditional, code)
    ("return", "退货", "退貨", "CustomerReturn"),
    ("customer return", "客户退货", "客戶退貨", "CustomerReturn"),
    ("defective", "质量问题", "品質問題", "GeneralAdjustment"),
    ("damaged", "损坏", "損壞", "GeneralAdjustment"),
    ("general adjustment", "一般调整", "一般調整", "GeneralAdjustment"),
    ("wrong item", "发错货", "發錯貨", "DifferentItem"),
    ("different item", "发错商品", "寄錯商品", "DifferentItem"),
    ("could not ship", "无法发货", "無法出貨", "CouldNotShip"),
    ("out of stock", "缺货", "缺貨", "NoInventory"),
    ("product out of stock", "商品缺货", "商品缺貨", "ProductOutofStock"),
    ("buyer cancelled", "买家取消", "買家取消", "CustomerCancel"),
    ("price error", "价格错误", "價格錯誤", "PriceError"),
    ("wrong address", "地址错误", "地址錯誤", "CustomerAddressIncorrect"),
    ("undeliverable", "无法投递", "無法投遞", "Undeliverable"),
    ("refused", "拒收", "拒收", "RefusedDelivery"),
    ("abandoned", "弃件", "棄件", "Abandoned"),
    ("exchange", "换货", "換貨", "Exchange"),
    ("carrier credit", "承运商赔付", "物流商理賠", "CarrierCreditDecision"),
    ("carrier coverage", "物流不覆盖", "物流不覆蓋", "CarrierCoverageFailure"),
    ("risk", "风控", "風控", "RiskAssessmentInformationNotValid"),
    ("other", "其他", "其他", "Other"),
]


@pytest.mark.parametrize(("english", "simplified", "traditional", "code"), REFUND_REASON_WORDS)
def test_refund_reasons_in_english_and_both_scripts(english, simplified, traditional, code):
    for typed in (english, english.upper(), simplified, traditional):
        assert resolve_refund_reason(typed) == code
        assert read_refund([*typed.split(), "12.50"]) == RefundRequest(Decimal("12.50"), reason=code)


@pytest.mark.parametrize("code", REFUND_REASONS)
def test_every_amazon_refund_reason_code_in_any_case(code):
    for typed in (code, code.lower(), code.upper()):
        assert resolve_refund_reason(typed) == code


def test_amazons_refund_reasons_have_display_names():
    from bot.texts import REFUND_REASON_NAMES

    assert set(REFUND_REASON_NAMES) == set(REFUND_REASONS)


# ---------------------------------------------------------------------------------------
# Decisions on a received return


DECISIONS = [
    ("restock", "restock"),
    ("Restock", "restock"),
    ("re-stock", "restock"),
    ("resell", "restock"),
    ("sellable", "restock"),
    ("back to stock", "restock"),
    ("return to stock", "restock"),
    ("重新入库", "restock"),
    ("重新入庫", "restock"),
    ("入库", "restock"),
    ("入庫", "restock"),
    ("上架", "restock"),
    ("重新上架", "restock"),
    ("可售", "restock"),
    ("dispose", "dispose"),
    ("DISPOSE", "dispose"),
    ("disposal", "dispose"),
    ("destroy", "dispose"),
    ("discard", "dispose"),
    ("throw away", "dispose"),
    ("scrap", "dispose"),
    ("销毁", "dispose"),
    ("銷毀", "dispose"),
    ("弃置", "dispose"),
    ("棄置", "dispose"),
    ("丢弃", "dispose"),
    ("丟棄", "dispose"),
    ("报废", "dispose"),
    ("報廢", "dispose"),
    ("send_back", "send_back"),
    ("send back", "send_back"),
    ("sendback", "send_back"),
    ("Send-Back", "send_back"),
    ("return to supplier", "send_back"),
    ("return to vendor", "send_back"),
    ("return to sender", "send_back"),
    ("退回", "send_back"),
    ("寄回", "send_back"),
    ("退回供应商", "send_back"),
    ("退回供應商", "send_back"),
    ("送回", "send_back"),
]


@pytest.mark.parametrize(("typed", "decision"), DECISIONS)
def test_return_decisions(typed, decision):
    assert resolve_decision(typed) == decision


def test_every_decision_alias_in_the_table_is_tested():
    assert set(parsing._DECISION_KEYS) <= {parsing._word_key(t) for t, _ in DECISIONS}


@pytest.mark.parametrize("typed", ["", "keep", "return", "退货", "好的"])
def test_unknown_decision(typed):
    with pytest.raises(Refusal) as excinfo:
        resolve_decision(typed)
    assert refusal(excinfo) == ("unknown_decision", {"text": typed})


# ---------------------------------------------------------------------------------------
# Chinese keyword messages

KEYWORDS = [
    # (Simplified, Traditional, command)
    ("发货", "發貨", "ship"),
    ("已发货", "已發貨", "ship"),
    ("确认发货", "確認發貨", "ship"),
    ("出货", "出貨", "ship"),
    ("已出货", "已出貨", "ship"),
    ("确认出货", "確認出貨", "ship"),
    ("妥投", "妥投", "delivered"),
    ("已妥投", "已妥投", "delivered"),
    ("丢包", "丟包", "lost"),
    ("遗失", "遺失", "lost"),
    ("查", "查", "order"),
    ("查看", "查看", "order"),
    ("纪录", "紀錄", "history"),
    ("匯出", "匯出", "export"),
    ("说明", "說明", "help"),
    ("菜单", "菜單", "help"),
    ("?", "？", "help"),
    ("入库", "入庫", "decide"),
    ("重新入库", "重新入庫", "decide"),
    ("销毁", "銷毀", "decide"),
    ("退回", "寄回", "decide"),
    ("默认承运人", "默認承運商", "carrier"),
    ("默认承运人", "預設承運商", "carrier"),
    ("默认物流", "默認物流", "carrier"),
    ("默认物流", "預設物流", "carrier"),
    ("取消", "取消", "cancel"),
    ("取消订单", "取消訂單", "cancel"),
    ("退款", "退款", "refund"),
    ("退货", "退貨", "return"),
    ("退货申请", "退貨申請", "return"),
    ("收到退货", "收到退貨", "received"),
    ("已收到退货", "已收到退貨", "received"),
    ("退货已到", "退貨已到", "received"),
    ("送达", "送達", "delivered"),
    ("已送达", "已送達", "delivered"),
    ("签收", "簽收", "delivered"),
    ("已签收", "已簽收", "delivered"),
    ("丢件", "丟件", "lost"),
    ("丢失", "丟失", "lost"),
    ("改地址", "改地址", "address"),
    ("修改地址", "修改地址", "address"),
    ("地址变更", "地址變更", "address"),
    ("查询", "查詢", "order"),
    ("查单", "查單", "order"),
    ("查询订单", "查詢訂單", "order"),
    ("订单", "訂單", "orders"),
    ("订单列表", "訂單列表", "orders"),
    ("历史", "歷史", "history"),
    ("记录", "記錄", "history"),
    ("帮助", "幫助", "help"),
    ("语言", "語言", "lang"),
    ("提醒", "提醒", "alerts"),
    ("提醒设置", "提醒設定", "alerts"),
    ("导出", "導出", "export"),
    ("导出发货", "導出發貨", "export"),
    ("改单号", "改單號", "correct"),
    ("更正单号", "更正單號", "correct"),
    ("修改单号", "修改單號", "correct"),
]


@pytest.mark.parametrize(("simplified", "traditional", "command"), KEYWORDS)
def test_keywords_in_both_scripts_with_and_without_space(simplified, traditional, command):
    for keyword in (simplified, traditional):
        assert KEYWORD(keyword) == (command, [])
        assert KEYWORD(f"{keyword} 9831") == (command, ["9831"])
        assert KEYWORD(f"{keyword}9831") == (command, ["9831"])
        assert KEYWORD(f"{keyword}\u30009831") == (command, ["9831"])
        assert KEYWORD(f"{keyword}：9831") == (command, ["9831"])
        assert KEYWORD(f"  {keyword}  113-4417305-6689831  ") == (command, ["113-4417305-6689831"])


def test_every_keyword_in_the_table_is_tested():
    tested = {k for s, t, _ in KEYWORDS for k in (s, t)} - {"？"}  # the full-width ？ folds to ?
    assert set(KEYWORD_TABLE) == tested


def test_a_whole_ship_message():
    assert KEYWORD("发货 113-4417305-6689831 顺丰 SF1234567890123") == (
        "ship",
        ["113-4417305-6689831", "顺丰", "SF1234567890123"],
    )
    assert KEYWORD("發貨113-4417305-6689831　雲途　YT2212345678901234") == (
        "ship",
        ["113-4417305-6689831", "雲途", "YT2212345678901234"],
    )
    assert KEYWORD("取消 9831 缺货") == ("cancel", ["9831", "缺货"])
    assert KEYWORD("退款 9831 12,50") == ("refund", ["9831", "12,50"])
    assert KEYWORD("退款 ９８３１ ￥１２") == ("refund", ["9831", "¥12"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("收到退货 9831", ("received", ["9831"])),
        ("收到退貨9831", ("received", ["9831"])),
        ("退货已到 9831", ("received", ["9831"])),
        ("退貨已到9831", ("received", ["9831"])),
        ("退货申请 9831", ("return", ["9831"])),
        ("退貨申請9831", ("return", ["9831"])),
        ("退货 9831", ("return", ["9831"])),
        ("已送达 9831", ("delivered", ["9831"])),
        ("订单列表", ("orders", [])),
        ("查询订单 9831", ("order", ["9831"])),
        ("取消订单 9831", ("cancel", ["9831"])),
    ],
)
def test_the_longest_keyword_wins(text, expected):
    assert KEYWORD(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "你好",
        "取消了吗",
        "取消吧",
        "发货了没有",
        "退货已到了吗",
        "退款成功",
        "订单好多",
        "帮助一下",
        "查询一下",
        "收到",
        "收到了",
        "hello 发货 9831",
        "今天发货 9831",
        "/ship 9831",
        "ship 9831",
        "退货a123",
        "历史上",
        "语言学",
    ],
)
def test_chatter_is_not_a_command(text):
    assert KEYWORD(text) is None


# ---------------------------------------------------------------------------------------
# Argument splitting


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("", []),
        ("   ", []),
        ("113-4417305-6689831 UPS 1Z999AA10123456784", ["113-4417305-6689831", "UPS", "1Z999AA10123456784"]),
        ("a\u3000b\u3000\u3000c", ["a", "b", "c"]),
        ("a\tb\nc\u00a0d", ["a", "b", "c", "d"]),
        ("１１３－４４１７３０５－６６８９８３１", ["113-4417305-6689831"]),
        ("其他：中通　ＺＴ１２３", ["其他:中通", "ZT123"]),
        ("顺丰 順豐 燕文", ["顺丰", "順豐", "燕文"]),
    ],
)
def test_split_args(text, args):
    assert split_args(text) == args


# ---------------------------------------------------------------------------------------
# Purity


@pytest.mark.parametrize("module", [parsing, carriers])
def test_parsers_import_neither_telegram_nor_aiosqlite(module):
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"telegram", "aiosqlite", "handlers"}


def test_the_readme_keyword_table_is_the_command_tables():
    from handlers.commands import keyword_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- keywords: generated by handlers.commands.keyword_table() -->\n")
    start = readme.index("\n", start) + 1
    end = readme.index("\n<!-- /keywords -->", start)
    assert readme[start:end] == keyword_table()


# ---------------------------------------------------------------------------------------
# What Chinese keyboards type (issue 9 point 2)


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("1000006，云途，YT1234567890123456", ["1000006", "云途", "YT1234567890123456"]),
        ("1000006、雲途、YT1234567890123456", ["1000006", "雲途", "YT1234567890123456"]),
        ("1000006；云途；YT1", ["1000006", "云途", "YT1"]),
        ("1000006, UPS, 1Z999AA10123456784", ["1000006", "UPS", "1Z999AA10123456784"]),
        ("9831 12,50", ["9831", "12,50"]),
        ("9831 1,234.56", ["9831", "1,234.56"]),
        ("1000001。", ["1000001"]),
        ("9831 12。5", ["9831", "12.5"]),
        ("9831 １２。５", ["9831", "12.5"]),
        ("其他：中通", ["其他:中通"]),
    ],
)
def test_read_args(text, args):
    assert parsing.read_args(text) == args


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("发货：1000006，云途，YT1234567890123456", ("ship", ["1000006", "云途", "YT1234567890123456"])),
        ("发货，1000006", ("ship", ["1000006"])),
        ("出貨、1000006", ("ship", ["1000006"])),
        ("查 1000001。", ("order", ["1000001"])),
        ("？", ("help", [])),
        ("?", ("help", [])),
    ],
)
def test_keywords_with_chinese_separators(text, expected):
    assert KEYWORD(text) == expected


def test_the_matched_keyword_is_given_for_decisions():
    assert KEYWORD.match("入库 6689831") == ("decide", "入库", ["6689831"])
    assert KEYWORD.match("銷毀6689831") == ("decide", "銷毀", ["6689831"])


@pytest.mark.parametrize(
    ("text", "near"),
    [("发货了 6689831", "发货"), ("取消了吗", "取消"), ("發獲 6689831", None), ("你好", None), ("", None)],
)
def test_a_keyword_a_message_seems_to_start_with(text, near):
    assert KEYWORD.near(text) == near


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("6689831 出了吗", "6689831"),
        ("看看 113-4417305-6689831", "113-4417305-6689831"),
        ("YT1234567890123456", None),
        ("1234", None),
        ("你好", None),
    ],
)
def test_an_order_a_message_names(text, order):
    assert parsing.named_order(text) == order


@pytest.mark.parametrize(
    ("typed", "locale"),
    [("英文", "en"), ("English", "en"), ("简体", "zh_Hans"), ("簡體中文", "zh_Hans"), ("繁體", "zh_Hant"),
     ("繁体中文", "zh_Hant"), ("正體", "zh_Hant"), ("法文", None)],
)  # fmt: skip
def test_languages_named_in_words(typed, locale):
    assert parsing.resolve_language(typed) == locale


@pytest.mark.parametrize(
    ("typed", "amount", "currencies"),
    [
        ("12块5", "12.50", ("CNY",)),
        ("12塊5", "12.50", ("CNY",)),
        ("12块50", "12.50", ("CNY",)),
        ("12块05", "12.05", ("CNY",)),
        ("12元5角", "12.50", ("CNY",)),
        ("12块5毛", "12.50", ("CNY",)),
        ("12元5角3分", "12.53", ("CNY",)),
        ("12。5", "12.50", ()),
        ("12刀", "12.00", ("USD", "CAD", "MXN", "AUD", "SGD", "HKD", "TWD", "NZD")),
        ("12刀5", "12.50", ("USD", "CAD", "MXN", "AUD", "SGD", "HKD", "TWD", "NZD")),
    ],
)
def test_amounts_as_chinese_is_spoken(typed, amount, currencies):
    read = parsing.read_amount(typed, strict=True)
    assert (read.amount, read.currencies) == (Decimal(amount), currencies)


@pytest.mark.parametrize("typed", ["12块567", "12角5元", "块"])
def test_spoken_amounts_that_do_not_read(typed):
    with pytest.raises(Refusal):
        parsing.read_amount(typed, strict=True)


def test_file_cells_stay_strict():
    from bot.amounts import read_number

    with pytest.raises(Refusal):
        read_number("12块5", "12块5")
    with pytest.raises(Refusal):
        read_number("12。5", "12。5")


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("YT1234567890123456", "Yun Express"),
        ("yt 1234 5678 9012 3456", "Yun Express"),
        ("1Z999AA10123456784", "UPS"),
        ("SF1234567890123", "SF Express"),
        ("LX123456789CN", "China Post"),
        ("EA123456789US", "USPS"),
        ("9400111899223344556677", "USPS"),
        ("4PX3001234567890CN", "4PX"),
    ],
)
def test_detect_the_carrier_from_the_number(number, code):
    carrier = carriers.detect(number)
    assert carrier is not None and carrier.code == code and not carrier.domestic


@pytest.mark.parametrize(
    ("number", "name"),
    [("YT1234567890123", "YTO Express"), ("JT1234567890123", "J&T Express"), ("JDVA12345678901", "JD Logistics"),
     ("DPK123456789012", "Deppon Express")],
)  # fmt: skip
def test_detect_names_a_domestic_courier_which_check_refuses(number, name):
    carrier = carriers.detect(number)
    assert carrier is not None and carrier.domestic and carrier.name == name
    with pytest.raises(Refusal) as excinfo:
        check_tracking(carrier, number)
    assert refusal(excinfo)[0] == "domestic_carrier"


@pytest.mark.parametrize("number", ["123456789012", "1234567890", "ABC", "", "顺丰"])
def test_detect_does_not_guess(number):
    assert carriers.detect(number) is None


def test_a_domestic_number_under_a_cross_border_carrier_is_refused_as_domestic():
    with pytest.raises(Refusal) as excinfo:
        check_tracking(resolve_carrier("云途"), "JT1234567890123")
    assert refusal(excinfo) == ("domestic_carrier", {"carrier": "J&T Express", "tracking": "JT1234567890123"})


@pytest.mark.parametrize(
    ("word", "code", "tracking"),
    [
        ("顺丰SF1234567890123", "SF Express", "SF1234567890123"),
        ("順豐SF1234567890123", "SF Express", "SF1234567890123"),
        ("云途YT1234567890123456", "Yun Express", "YT1234567890123456"),
        ("UPS1Z999AA10123456784", "UPS", "1Z999AA10123456784"),
    ],
)
def test_a_carrier_glued_to_its_number(word, code, tracking):
    carrier, number = carriers.split_glued(word)
    assert (carrier.code, number) == (code, tracking)


def test_black_cat_by_marketplace():
    assert resolve_carrier("黑貓", "JP").code == "Yamato Transport"
    assert resolve_carrier("黑猫宅急便", "TW").name == "T-Cat"
    for marketplace in (None, "US", "GB"):
        with pytest.raises(Refusal) as excinfo:
            resolve_carrier("黑貓", marketplace)
        assert refusal(excinfo) == ("carrier_unclear", {"text": "黑貓", "choices": ["Yamato Transport", "Other:T-Cat"]})


@pytest.mark.parametrize(
    ("code", "name", "locale", "shown"),
    [
        ("SF Express", "", "zh_Hans", "顺丰（SF Express）"),
        ("SF Express", "", "zh_Hant", "順豐（SF Express）"),
        ("SF Express", "", "en", "SF Express"),
        ("Yun Express", "", "zh_Hant", "雲途（Yun Express）"),
        ("UPS", "", "zh_Hans", "UPS"),
        ("Other", "WanB Express", "zh_Hans", "万邦速达（WanB Express）"),
        ("Other", "Evri", "zh_Hans", "Evri"),
        ("ZTO Express", "", "zh_Hant", "中通快遞（ZTO Express）"),
    ],
)
def test_carriers_shown_with_their_chinese_names(code, name, locale, shown):
    assert carriers.label(code, name, locale) == shown


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("云途", "Yun Express"), ("万邦", "Other:WanB Express"), ("Other:Evri", "Other:Evri"), ("off", ""), ("", ""),
     ("關", "")],
)  # fmt: skip
def test_the_default_carrier_setting_is_checked_when_written(typed, stored):
    from bot.team_settings import TeamSettings

    assert TeamSettings("UTC", default_carrier=typed).default_carrier == stored


@pytest.mark.parametrize("typed", ["中通", "京东", "no such carrier", "Other", "黑貓"])
def test_a_domestic_or_unknown_default_carrier_is_refused(typed):
    from bot.team_settings import InvalidSetting, TeamSettings

    with pytest.raises(InvalidSetting):
        TeamSettings("UTC").changed(default_carrier=typed)


def test_an_item_after_a_whole_tracking_number_is_never_glued_onto_it() -> None:
    """``DHL 1234567890 22``: 1234567890 is a DHL number by itself, so 22 is an item (a partial
    shipment), not the end of a DHL Paket number 123456789022; a number typed in groups still
    reads whole."""
    from handlers.fulfilment import split_shipment

    carrier, tracking, items = split_shipment(["DHL", "1234567890", "22"])
    assert (carrier.code, tracking, items) == ("DHL", "1234567890", ["22"])
    carrier, tracking, items = split_shipment(["UPS", "1Z", "999AA1", "0123456784"])
    assert (carrier.code, tracking, items) == ("UPS", "1Z999AA10123456784", [])

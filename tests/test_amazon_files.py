"""Reading Seller Central flat files: samples, encodings, row errors, file refusals."""

from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.amazon import GOODS_OF_STATUS, REQUIRED, ParsedReport, RowError, imported_order, read_report
from bot.amazon.encoding import decode_report
from bot.domain import Refusal
from bot.parsing import parse_amount

SAMPLES = Path(__file__).resolve().parent / "data"


def sample_text(name: str) -> str:
    return (SAMPLES / name).read_bytes().decode("utf-8")


def sample(name: str) -> bytes:
    return sample_text(name).encode("utf-8")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def refusal(data: bytes) -> Refusal:
    with pytest.raises(Refusal) as caught:
        read_report(data)
    return caught.value


def by_id(report: ParsedReport) -> dict:
    return {o.order_id: o for o in report.orders}


# --- building files like Amazon's ---------------------------------------------------------

UNSHIPPED_HEADER = (
    "order-id order-item-id purchase-date payments-date reporting-date promise-date "
    "days-past-promise buyer-email buyer-name buyer-phone-number sku product-name "
    "quantity-purchased quantity-shipped quantity-to-ship ship-service-level recipient-name "
    "ship-address-1 ship-address-2 ship-address-3 ship-city ship-state ship-postal-code "
    "ship-country is-business-order purchase-order-number price-designation"
).split()

ORDER_HEADER = (
    "order-id order-item-id purchase-date payments-date buyer-email buyer-name "
    "buyer-phone-number sku product-name quantity-purchased currency item-price item-tax "
    "shipping-price shipping-tax ship-service-level recipient-name ship-address-1 "
    "ship-address-2 ship-address-3 ship-city ship-state ship-postal-code ship-country "
    "ship-phone-number delivery-start-date delivery-end-date delivery-time-zone "
    "delivery-Instructions sales-channel"
).split()


def unshipped_row(
    order_id: str = "113-4417305-6689831", item_id: str = "62319586402671", **values: str
) -> dict[str, str]:
    row = {
        "order-id": order_id, "order-item-id": item_id,
        "purchase-date": "2026-11-18T03:12:44+00:00",
        "payments-date": "2026-11-18T03:12:44+00:00",
        "reporting-date": "2026-11-18T03:12:44+00:00",
        "promise-date": "2026-11-20T07:59:59+00:00", "days-past-promise": "0",
        "buyer-email": "x@marketplace.amazon.com", "buyer-name": "Jane Doe",
        "sku": "USB-MIC-01", "product-name": "USB Condenser Microphone",
        "quantity-purchased": "1", "quantity-shipped": "0", "quantity-to-ship": "1",
        "ship-service-level": "Standard", "recipient-name": "Jane Doe",
        "ship-address-1": "12 Elm St", "ship-city": "Springfield", "ship-state": "IL",
        "ship-postal-code": "62704", "ship-country": "US", "is-business-order": "false",
    }  # fmt: skip
    row.update({k.replace("_", "-"): v for k, v in values.items()})
    return row


def order_row(order_id: str = "113-4417305-6689831", item_id: str = "62319586402671", **values: str) -> dict[str, str]:
    row = {
        "order-id": order_id, "order-item-id": item_id,
        "purchase-date": "2026-11-18T03:12:44+00:00",
        "payments-date": "2026-11-18T03:12:44+00:00", "buyer-name": "Jane Doe",
        "sku": "USB-MIC-01", "product-name": "USB Condenser Microphone",
        "quantity-purchased": "1", "currency": "USD", "item-price": "39.99",
        "item-tax": "0.00", "shipping-price": "4.99", "shipping-tax": "0.00",
        "ship-service-level": "Standard", "recipient-name": "Jane Doe",
        "ship-address-1": "1 Main St", "ship-city": "Springfield", "ship-postal-code": "10001",
        "ship-country": "US", "sales-channel": "Amazon.com",
    }  # fmt: skip
    row.update({k.replace("_", "-"): v for k, v in values.items()})
    return row


def tsv(header: list[str], *rows: dict[str, str] | str, newline: str = "\n") -> bytes:
    lines = ["\t".join(header)]
    for row in rows:
        lines.append(row if isinstance(row, str) else "\t".join(row.get(c, "") for c in header))
    return (newline.join(lines) + newline).encode("utf-8")


def make_unshipped_report(orders: int, seed: int = 1) -> bytes:
    """An unshipped-orders report of `orders` orders, every other one with two items."""
    rnd = random.Random(seed)
    lines = ["\t".join(UNSHIPPED_HEADER)]
    item = 62319586400000
    for k in range(orders):
        oid = f"{110 + k % 9}-{1000000 + k:07d}-{rnd.randrange(10**7):07d}"
        day = 1 + k % 28
        bought = f"2026-11-{day:02d}T{k % 24:02d}:{k % 60:02d}:{k * 7 % 60:02d}+00:00"
        for j in range(1 if k % 2 else 2):
            item += 1
            qty = str(1 + (k + j) % 3)
            row = unshipped_row(
                oid, str(item), purchase_date=bought, payments_date=bought,
                reporting_date=bought, promise_date=f"2026-12-{day:02d}T07:59:59+00:00",
                buyer_name=f"Buyer {k}", sku=f"SKU-{(k + j) % 500}",
                product_name=f'Product "{(k + j) % 500}" 12" size', quantity_purchased=qty,
                quantity_to_ship=qty,
            )  # fmt: skip
            lines.append("\t".join(row.get(c, "") for c in UNSHIPPED_HEADER))
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- the samples --------------------------------------------------------------------------

UNSHIPPED_IDS = [
    "113-4417305-6689831", "113-9081726-1122334", "114-5551234-7654321",
    "111-2223334-4445556",
]  # fmt: skip


def check_unshipped_sample(report: ParsedReport) -> None:
    assert report.kind == "unshipped_orders"
    assert report.errors == []
    assert report.rows == 5
    assert report.returns == []
    assert [o.order_id for o in report.orders] == UNSHIPPED_IDS
    orders = by_id(report)
    assert {k: len(o.items) for k, o in orders.items()} == {
        "113-4417305-6689831": 1, "113-9081726-1122334": 1, "114-5551234-7654321": 2,
        "111-2223334-4445556": 1,
    }  # fmt: skip
    assert {k: o.ship_by for k, o in orders.items()} == {
        "113-4417305-6689831": at("2026-11-20T07:59:59+00:00"),
        "113-9081726-1122334": at("2026-11-21T07:59:59+00:00"),
        "114-5551234-7654321": at("2026-11-24T07:59:59+00:00"),
        "111-2223334-4445556": at("2026-11-23T07:59:59+00:00"),
    }
    assert {k: o.lines for k, o in orders.items()} == {
        "113-4417305-6689831": [2], "113-9081726-1122334": [3],
        "114-5551234-7654321": [4, 5], "111-2223334-4445556": [6],
    }  # fmt: skip
    for order in report.orders:
        assert order.status == "unshipped"
        assert order.channel == "MFN"
        assert order.total is None and order.currency is None
        assert order.deliver_by is None
    li = orders["114-5551234-7654321"]
    assert li.purchased_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert li.purchased_at.tzinfo is UTC
    assert [(i.item_id, i.sku, i.title, i.quantity, i.quantity_shipped, i.price) for i in li.items] == [
        ("62319586402673", "USB-FAN-03", "Desk USB Fan", 1, 0, None),
        ("62319586402674", "USB-MIC-01", "USB Condenser Microphone", 1, 0, None),
    ]
    assert (
        li.buyer_name,
        li.ship_address,
        li.ship_city,
        li.ship_state,
        li.ship_postal_code,
        li.ship_country,
        li.service_level,
    ) == ("Li Wei", "88 Market St", "San Francisco", "CA", "94103", "US", "Standard")
    carlos = orders["113-9081726-1122334"]
    assert carlos.service_level == "Expedited"
    assert carlos.ship_address == "400 Ocean Ave Apt 3"
    assert carlos.items[0].quantity == 2
    assert carlos.items[0].title == "Bluetooth Speaker, Wood"
    amy = orders["111-2223334-4445556"]
    assert amy.buyer_name == "Amy O'Neil"
    assert amy.items[0].quantity == 3
    assert amy.ship_postal_code == "04101"  # a string: the leading zero stays
    assert amy.is_business is False


def test_unshipped_sample():
    report = read_report(sample("unshipped-orders-us.txt"))
    assert report.encoding == "utf-8"
    check_unshipped_sample(report)


def test_order_report_sample_totals():
    report = read_report(sample("order-report-us.txt"))
    assert report.kind == "order_report"
    assert report.errors == [] and report.rows == 4
    orders = by_id(report)
    assert list(orders) == ["113-4417305-6689831", "113-9081726-1122334", "114-5551234-7654321"]
    # item-price + item-tax + shipping-price + shipping-tax, summed over the order's rows
    assert orders["113-4417305-6689831"].total == Decimal("39.99") + Decimal("4.99")
    assert orders["113-4417305-6689831"].total == Decimal("44.98")
    assert orders["113-9081726-1122334"].total == Decimal("64.97")  # 59.98 + 4.99
    assert orders["114-5551234-7654321"].total == Decimal("65.47")  # 15.50+4.99+39.99+4.99
    assert str(orders["114-5551234-7654321"].total) == "65.47"
    for order in report.orders:
        assert order.currency == "USD"
        assert order.status is None  # the order report does not say
        assert order.ship_by is None and order.deliver_by is None
        assert order.channel == "MFN"
    li = orders["114-5551234-7654321"]
    assert [(i.item_id, i.sku, i.quantity, i.price) for i in li.items] == [
        ("62319586402673", "USB-FAN-03", 1, Decimal("15.50")),
        ("62319586402674", "USB-MIC-01", 1, Decimal("39.99")),
    ]
    assert orders["113-9081726-1122334"].items[0].price == Decimal("59.98")  # 2 units
    assert li.lines == [4, 5]
    assert li.purchased_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def test_fba_returns_sample():
    report = read_report(sample("fba-customer-returns.txt"))
    assert report.kind == "fba_returns"
    assert report.orders == [] and report.errors == [] and report.rows == 2
    first, second = report.returns
    assert (first.order_id, first.line, first.sku, first.quantity) == ("113-4417305-6689831", 2, "USB-MIC-01", 1)
    assert first.arrived is True
    assert first.arrived_at == datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    assert first.requested_at is None
    assert first.disposition == "SELLABLE"
    assert first.reason == "UNWANTED_ITEM"
    assert first.status == "Unit returned to inventory"
    assert first.comments == "no longer needed"
    assert first.rma == "LPNRR1234567890"
    assert (first.refunded, first.currency, first.item_id, first.carrier) == (None, None, "", "")
    assert (second.order_id, second.line, second.disposition, second.reason) == (
        "113-9081726-1122334",
        3,
        "CUSTOMER_DAMAGED",
        "DEFECTIVE",
    )
    assert second.arrived_at == datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
    assert second.comments == "crackling sound"


def test_mfn_returns_sample():
    report = read_report(sample("mfn-returns.txt"))
    assert report.kind == "mfn_returns"
    assert report.errors == [] and report.rows == 1
    (ret,) = report.returns
    assert (ret.order_id, ret.line, ret.sku, ret.quantity) == ("114-5551234-7654321", 2, "USB-FAN-03", 1)
    assert ret.arrived is False and ret.arrived_at is None  # no Return delivery date
    assert ret.requested_at == datetime(2026, 11, 21, tzinfo=UTC)
    assert (ret.status, ret.reason, ret.rma) == ("Approved", "CR-DEFECTIVE", "DqVjhRRsRRMA")
    assert (ret.carrier, ret.tracking) == ("UPS", "1Z9999W99999999999")
    assert ret.currency == "USD" and ret.refunded is None
    assert ret.disposition == "" and ret.comments == "" and ret.item_id == ""


def test_mfn_return_delivered_and_refunded():
    text = sample_text("mfn-returns.txt")
    header, row = text.splitlines()[:2]
    names = header.split("\t")
    cells = row.split("\t")
    cells[names.index("Return delivery date")] = "25-Nov-2026"
    cells[names.index("Refunded Amount")] = "15.50"
    data = "\t".join([*names, "Order Item ID"]) + "\n" + "\t".join([*cells, "62319586402673"])
    (ret,) = read_report(data.encode()).returns
    assert ret.arrived is True
    assert ret.arrived_at == datetime(2026, 11, 25, tzinfo=UTC)
    assert ret.refunded == Decimal("15.50")
    assert ret.item_id == "62319586402673"


# --- encodings and line endings -------------------------------------------------------


def test_utf8_bom():
    data = b"\xef\xbb\xbf" + sample("unshipped-orders-us.txt")
    report = read_report(data)
    assert report.encoding == "utf-8-sig"
    check_unshipped_sample(report)


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_line_ends(newline):
    data = sample_text("unshipped-orders-us.txt").replace("\n", newline).encode()
    check_unshipped_sample(read_report(data))


def test_blank_lines_are_skipped_but_counted_as_lines():
    lines = sample_text("unshipped-orders-us.txt").splitlines()
    data = "\n".join([lines[0], lines[1], "", "   ", "\t\t", *lines[2:], "", ""]).encode()
    report = read_report(data)
    assert report.errors == [] and report.rows == 5
    assert by_id(report)["113-9081726-1122334"].lines == [6]  # physical line in the file


@pytest.mark.parametrize(
    ("codec", "prefix", "name"),
    [("utf-16", b"", "utf-16"), ("utf-16-be", b"\xfe\xff", "utf-16"),
     ("utf-16-le", b"\xff\xfe", "utf-16"), ("utf-16-le", b"", "utf-16-le")],
)  # fmt: skip
def test_utf16(codec, prefix, name):
    data = prefix + sample_text("unshipped-orders-us.txt").replace("\n", "\r\n").encode(codec)
    report = read_report(data)
    assert report.encoding == name
    check_unshipped_sample(report)


def test_cp1252_eu_file():
    text = sample_text("unshipped-orders-us.txt").replace("Carlos Ruiz", "José Müller")
    data = text.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = read_report(data)
    assert report.encoding == "cp1252"
    assert by_id(report)["113-9081726-1122334"].buyer_name == "José Müller"
    check_unshipped_sample(report)


def test_cp1252_that_is_also_valid_cp932_stays_cp1252():
    # "Hélène" and "Straße" happen to be valid CP932 bytes (two kanji, a half-width kana)
    text = sample_text("unshipped-orders-us.txt").replace("Carlos Ruiz", "Hélène Straße")
    data = text.encode("cp1252")
    data.decode("cp932")  # the trap
    report = read_report(data)
    assert report.encoding == "cp1252"
    assert by_id(report)["113-9081726-1122334"].buyer_name == "Hélène Straße"


def test_eu_order_report_with_decimal_commas():
    text = sample_text("order-report-us.txt")
    for price in ("39.99", "59.98", "15.50", "4.99", "0.00"):
        text = text.replace(f"\t{price}\t", f"\t{price.replace('.', ',')}\t")
    text = text.replace("\tUSD\t", "\tEUR\t").replace("Carlos Ruiz", "Zoë Brüggemann")
    assert "59,98" in text and "\t0,00\t" in text
    report = read_report(text.encode("cp1252"))
    assert report.encoding == "cp1252" and report.errors == []
    orders = by_id(report)
    assert orders["113-9081726-1122334"].buyer_name == "Zoë Brüggemann"
    assert orders["113-9081726-1122334"].currency == "EUR"
    assert [o.total for o in report.orders] == [Decimal("44.98"), Decimal("64.97"), Decimal("65.47")]


def test_cp932_japanese_file():
    title = "ワイヤレスマウス ① 静音"
    buyer = "髙橋 一郎"
    with pytest.raises(UnicodeEncodeError):
        (title + buyer).encode("shift_jis")  # plain Shift_JIS cannot: CP932 is needed
    text = (
        sample_text("unshipped-orders-us.txt")
        .replace("Desk USB Fan", title)
        .replace("Li Wei", buyer)
        .replace("\n", "\r\n")
    )
    data = text.encode("cp932")
    report = read_report(data)
    assert report.encoding == "cp932"
    order = by_id(report)["114-5551234-7654321"]
    assert order.items[0].title == title
    assert order.buyer_name == buyer
    assert decode_report(data) == (text, "cp932")


def test_cp932_kanji_only():
    text = sample_text("unshipped-orders-us.txt").replace("Jane Doe", "田中太郎")
    data = text.encode("cp932")
    data.decode("cp1252")  # also valid Windows-1252 ("“c’†‘¾˜Y")
    report = read_report(data)
    assert report.encoding == "cp932"
    assert by_id(report)["113-4417305-6689831"].buyer_name == "田中太郎"


def test_latin1_last_resort_for_a_stray_byte():
    text = sample_text("unshipped-orders-us.txt").replace("Jane Doe", "Renée Doe")
    data = text.encode("cp1252").replace(b"Ren\xe9e", b"Ren\xe9e\x81", 1)  # 1 in 1,800 bytes
    report = read_report(data)
    assert report.encoding == "iso-8859-1"
    assert by_id(report)["113-4417305-6689831"].buyer_name == "Renée\x81 Doe"


def test_decode_report_returns_text_and_encoding():
    assert decode_report(b"a\tb\n") == ("a\tb\n", "utf-8")
    assert decode_report(b"\xef\xbb\xbfa\tb") == ("a\tb", "utf-8-sig")
    assert decode_report("a\tb".encode("utf-16")) == ("a\tb", "utf-16")


# --- file refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\r\n  \t\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n", "\n".encode("utf-16")],
)
def test_empty_file(data):
    assert refusal(data) == Refusal("file_empty")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.txt", sample_text("unshipped-orders-us.txt"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(zip_bytes, id="zip"),
        pytest.param(lambda: b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml", id="xlsx"),
        pytest.param(lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", id="pdf"),
        pytest.param(lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", id="png"),
        pytest.param(lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF", id="jpeg"),
        pytest.param(lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", id="xls"),
        pytest.param(lambda: random.Random(7).randbytes(3000), id="random-bytes"),
        pytest.param(lambda: b"order-id\tsku\n113-4417305-6689831\x00\tA\n", id="nul"),
        pytest.param(lambda: b"order-id\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f", id="controls"),
    ],
)
def test_binary_file(data):
    assert refusal(data()) == Refusal("file_binary")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xef\xbb\xbforder-id\tsku\n\xff\xfe\xfa\n", id="utf8-bom-then-invalid"),
        pytest.param(b"\xff\xfe" + "order-id\tsku\n".encode("utf-16-le") + b"\x00\xd8", id="utf16-lone-surrogate"),
        pytest.param(
            "order-id\tbuyer-name\n113-4417305-6689831\t王小明 李雷 韩梅梅\n".encode() + b"\xff\n",
            id="damaged-utf8",
        ),
        pytest.param(b"order-id\tsku\n" + b"\x81\x8d\x8f\x90\x9d\xff\xfe" * 20, id="undecodable"),
        pytest.param(
            b"order-id\tbuyer-name\n113-4417305-6689831\t\xe7\x8e" + "王小明 李雷".encode(),
            id="damaged-utf8-first-character",
        ),
        pytest.param("order-id\tbuyer-name\n1\t王小明 李雷".encode()[:-1], id="truncated-utf8"),
    ],
)  # fmt: skip
def test_undecodable_file(data):
    assert refusal(data) == Refusal("file_encoding")


ORDER_REQUIRED = ["order-id", "order-item-id", "purchase-date", "sku", "quantity-purchased", "currency", "item-price"]


def test_random_text_is_not_a_report():
    refused = refusal(b"hello there\nthis is not a report\n")
    assert refused == Refusal("file_not_report", missing=ORDER_REQUIRED, kind=None)
    assert REQUIRED["order_report"] == ORDER_REQUIRED


def test_comma_separated_file_is_not_a_report():
    data = sample_text("unshipped-orders-us.txt").replace("\t", ",").encode()
    assert refusal(data) == Refusal("file_not_report", missing=ORDER_REQUIRED, kind=None)


def drop_column(text: str, column: str) -> bytes:
    rows = [line.split("\t") for line in text.splitlines()]
    index = rows[0].index(column)
    return "\n".join("\t".join(r[:index] + r[index + 1 :]) for r in rows).encode()


@pytest.mark.parametrize(
    ("name", "column", "kind"),
    [
        ("fba-customer-returns.txt", "detailed-disposition", "fba_returns"),
        ("fba-customer-returns.txt", "order-id", "fba_returns"),
        ("mfn-returns.txt", "Return delivery date", "mfn_returns"),
        ("mfn-returns.txt", "Merchant SKU", "mfn_returns"),
        ("unshipped-orders-us.txt", "promise-date", "unshipped_orders"),
        ("order-report-us.txt", "item-price", "order_report"),
    ],
)
def test_header_missing_a_required_column(name, column, kind):
    refused = refusal(drop_column(sample_text(name), column))
    assert refused == Refusal("file_not_report", missing=[column], kind=kind)


def test_header_missing_several_columns_names_them_for_the_closest_kind():
    text = sample_text("order-report-us.txt")
    data = drop_column(drop_column(text, "currency").decode(), "item-price")
    assert refusal(data) == Refusal("file_not_report", missing=["currency", "item-price"], kind="order_report")


def test_header_matching_is_case_insensitive_and_trimmed():
    text = sample_text("unshipped-orders-us.txt")
    header, rest = text.split("\n", 1)
    header = "\t".join(f" {name.upper()} " for name in header.split("\t"))
    check_unshipped_sample(read_report(f"\ufeff{header}\n{rest}".encode()))


def test_unknown_extra_columns_are_ignored():
    lines = sample_text("unshipped-orders-us.txt").splitlines()
    data = "\n".join(f"{line}\textra" for line in lines).encode()
    check_unshipped_sample(read_report(data))


def test_header_only_file_is_an_empty_report():
    report = read_report(("\t".join(UNSHIPPED_HEADER) + "\n").encode())
    assert (report.kind, report.orders, report.errors, report.rows) == ("unshipped_orders", [], [], 0)


# --- row errors ---------------------------------------------------------------------------

LI = "114-5551234-7654321"


def two_item_order(**second: str) -> list[dict[str, str]]:
    return [unshipped_row(LI, "62319586402673", sku="USB-FAN-03"), unshipped_row(LI, "62319586402674", **second)]


def read_unshipped(*rows: dict[str, str] | str) -> ParsedReport:
    return read_report(tsv(UNSHIPPED_HEADER, *rows))


def test_bad_row_refuses_its_whole_order_only():
    report = read_unshipped(
        unshipped_row(),  # line 2, fine
        *two_item_order(purchase_date="2026-13-45"),  # lines 3 (fine) and 4 (bad)
        unshipped_row(LI, "62319586402675", sku="X"),  # line 5: same order, after the bad row
    )
    assert [o.order_id for o in report.orders] == ["113-4417305-6689831"]
    assert report.errors == [
        RowError(3, "order_has_bad_row", {"bad_line": 4}),
        RowError(4, "bad_date", {"column": "purchase-date", "value": "2026-13-45"}),
        RowError(5, "order_has_bad_row", {"bad_line": 4}),
    ]
    assert report.rows == 4


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"order_id": "113-441730-6689831"}, ("bad_order_id", {"value": "113-441730-6689831"})),
        ({"order_id": "１１３-4417305-6689831"}, ("bad_order_id", {"value": "１１３-4417305-6689831"})),
        ({"order_id": ""}, ("missing_value", {"column": "order-id"})),
        ({"promise_date": ""}, ("missing_value", {"column": "promise-date"})),
        ({"purchase_date": " "}, ("missing_value", {"column": "purchase-date"})),
        ({"sku": ""}, ("missing_value", {"column": "sku"})),
        ({"item_id": ""}, ("missing_value", {"column": "order-item-id"})),
        ({"quantity_purchased": ""}, ("missing_value", {"column": "quantity-purchased"})),
        ({"promise_date": "soon"}, ("bad_date", {"column": "promise-date", "value": "soon"})),
        ({"purchase_date": "2026-11-20 07:59:59 XYZ"},
         ("bad_date", {"column": "purchase-date", "value": "2026-11-20 07:59:59 XYZ"})),
        ({"quantity_purchased": "two"},
         ("bad_quantity", {"column": "quantity-purchased", "value": "two"})),
        ({"quantity_purchased": "-1"},
         ("bad_quantity", {"column": "quantity-purchased", "value": "-1"})),
        ({"quantity_shipped": "1.5"}, ("bad_quantity", {"column": "quantity-shipped", "value": "1.5"})),
        ({"quantity_shipped": "3"}, ("bad_quantity", {"column": "quantity-shipped", "value": "3"})),
        ({"quantity_to_ship": "9"}, ("bad_quantity", {"column": "quantity-to-ship", "value": "9"})),
    ],
)  # fmt: skip
def test_row_error_codes(values, error):
    order_id = values.pop("order_id", "113-4417305-6689831")
    item_id = values.pop("item_id", "62319586402671")
    report = read_unshipped(
        unshipped_row(order_id, item_id, **values), unshipped_row("111-2223334-4445556", "62319586402675")
    )
    assert report.errors == [RowError(2, *error)]
    assert [o.order_id for o in report.orders] == ["111-2223334-4445556"]


def test_a_very_long_bad_value_is_clipped():
    report = read_unshipped(unshipped_row(promise_date="x" * 500))
    (error,) = report.errors
    assert error.code == "bad_date" and len(error.params["value"]) <= 60


def test_duplicate_row_keeps_the_first():
    report = read_unshipped(unshipped_row(), *two_item_order(), two_item_order()[1])
    assert report.errors == [RowError(5, "duplicate_row", {"first_line": 4})]
    assert {o.order_id: len(o.items) for o in report.orders} == {"113-4417305-6689831": 1, LI: 2}


def test_short_row():
    full = "\t".join(unshipped_row().get(c, "") for c in UNSHIPPED_HEADER)
    cut = "\t".join(full.split("\t")[:5])
    report = read_unshipped(cut, unshipped_row("111-2223334-4445556", "62319586402675"))
    assert report.errors == [RowError(2, "short_row", {"expected": 27, "got": 5})]
    assert [o.order_id for o in report.orders] == ["111-2223334-4445556"]


def test_short_row_refuses_the_rest_of_its_order():
    first, second = two_item_order()
    cut = "\t".join("\t".join(second.get(c, "") for c in UNSHIPPED_HEADER).split("\t")[:8])
    report = read_unshipped(first, cut)
    assert report.orders == []
    assert report.errors == [
        RowError(2, "order_has_bad_row", {"bad_line": 3}),
        RowError(3, "short_row", {"expected": 27, "got": 8}),
    ]


def test_row_without_trailing_empty_fields_is_fine():
    full = "\t".join(unshipped_row().get(c, "") for c in UNSHIPPED_HEADER)
    trimmed = full.rstrip("\t")  # purchase-order-number, price-designation left out
    assert len(trimmed.split("\t")) < len(UNSHIPPED_HEADER)
    report = read_unshipped(trimmed)
    assert report.errors == [] and len(report.orders) == 1
    trimmed = "\t".join(full.split("\t")[:24])  # up to ship-country: every column we use
    report = read_unshipped(trimmed)
    assert report.errors == [] and report.orders[0].ship_country == "US"


def test_long_row_with_values_beyond_the_header():
    full = "\t".join(unshipped_row().get(c, "") for c in UNSHIPPED_HEADER)
    report = read_unshipped(full + "\t\t", full.replace("62319586402671", "62319586402672") + "\tstray")
    assert report.errors == [
        RowError(2, "order_has_bad_row", {"bad_line": 3}),  # trailing blank cells are fine
        RowError(3, "long_row", {"expected": 27, "got": 28}),
    ]
    assert report.orders == []


def test_currency_mismatch_and_bad_amounts():
    report = read_report(tsv(
        ORDER_HEADER,
        order_row(),
        order_row(LI, "62319586402673"),
        order_row(LI, "62319586402674", currency="EUR"),
        order_row("111-2223334-4445556", "62319586402675", item_price="12.3.4"),
        order_row("113-9081726-1122334", "62319586402676", item_price="-5.00"),
        order_row("112-0000000-0000001", "62319586402677", shipping_tax="abc"),
        order_row("112-0000000-0000002", "62319586402678", currency=""),
    ))  # fmt: skip
    assert [o.order_id for o in report.orders] == ["113-4417305-6689831"]
    assert report.errors == [
        RowError(3, "order_has_bad_row", {"bad_line": 4}),
        RowError(4, "currency_mismatch", {"column": "currency", "value": "EUR", "expected": "USD"}),
        RowError(5, "bad_amount", {"column": "item-price", "value": "12.3.4"}),
        RowError(6, "bad_amount", {"column": "item-price", "value": "-5.00"}),
        RowError(7, "bad_amount", {"column": "shipping-tax", "value": "abc"}),
        RowError(8, "missing_value", {"column": "currency"}),
    ]


def test_returns_row_errors():
    text = sample_text("fba-customer-returns.txt")
    header, first, second = text.splitlines()
    bad_id = first.replace("113-4417305-6689831", "113-4417305")
    bad_qty = second.replace("\t1\tONT8", "\t0\tONT8").replace("LPNRR1234567891", "LPN-2")
    bad_date = second.replace("2026-11-20T16:30:00+00:00", "yesterday").replace("LPNRR1234567891", "LPN-3")
    data = "\n".join([header, first, second, first, bad_id, bad_qty, bad_date]).encode()
    report = read_report(data)
    assert [(r.line, r.rma) for r in report.returns] == [(2, "LPNRR1234567890"), (3, "LPNRR1234567891")]
    assert report.errors == [
        RowError(4, "duplicate_row", {"first_line": 2}),
        RowError(5, "bad_order_id", {"value": "113-4417305"}),
        RowError(6, "bad_quantity", {"column": "quantity", "value": "0"}),
        RowError(7, "bad_date", {"column": "return-date", "value": "yesterday"}),
    ]


def test_mfn_returns_row_errors():
    text = sample_text("mfn-returns.txt")
    header, row = text.splitlines()[:2]
    names = header.split("\t")

    def changed(**values: str) -> str:
        cells = row.split("\t")
        for column, value in values.items():
            cells[names.index(column.replace("_", " "))] = value
        return "\t".join(cells)

    data = "\n".join([
        header, row, row,
        changed(**{"Amazon RMA ID": "R2", "Return request date": ""}),
        changed(**{"Amazon RMA ID": "R3", "Return delivery date": "32-Nov-2026"}),
        changed(**{"Amazon RMA ID": "R4", "Refunded Amount": "lots"}),
        changed(**{"Amazon RMA ID": "R5", "Merchant SKU": ""}),
    ]).encode()  # fmt: skip
    report = read_report(data)
    assert [r.line for r in report.returns] == [2]
    assert report.errors == [
        RowError(3, "duplicate_row", {"first_line": 2}),
        RowError(4, "missing_value", {"column": "Return request date"}),
        RowError(5, "bad_date", {"column": "Return delivery date", "value": "32-Nov-2026"}),
        RowError(6, "bad_amount", {"column": "Refunded Amount", "value": "lots"}),
        RowError(7, "missing_value", {"column": "Merchant SKU"}),
    ]


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T07:59:59+00:00", "2026-11-20T07:59:59+00:00"),
        ("2026-11-20T07:59:59Z", "2026-11-20T07:59:59+00:00"),
        ("2026-11-20T07:59:59-08:00", "2026-11-20T15:59:59+00:00"),
        ("2026-11-20T07:59:59.250+09:00", "2026-11-19T22:59:59.250+00:00"),
        ("2026-11-20T07:59:59", "2026-11-20T07:59:59+00:00"),
        ("2026-11-20 07:59:59 PST", "2026-11-20T15:59:59+00:00"),
        ("2026-07-20 07:59:59 PDT", "2026-07-20T14:59:59+00:00"),
        ("2026-11-20 07:59:59 UTC", "2026-11-20T07:59:59+00:00"),
        ("2026-11-20 07:59:59 JST", "2026-11-19T22:59:59+00:00"),
        ("2026-11-20 07:59:59 CET", "2026-11-20T06:59:59+00:00"),
        ("2026/11/20 10:00:00 JST", "2026-11-20T01:00:00+00:00"),
        ("20-Nov-2026", "2026-11-20T00:00:00+00:00"),
        ("2026/11/20", "2026-11-20T00:00:00+00:00"),
        ("2026-11-20", "2026-11-20T00:00:00+00:00"),
        ("20.11.2026", "2026-11-20T00:00:00+00:00"),
        ("Nov 20, 2026", "2026-11-20T00:00:00+00:00"),
    ],
)
def test_date_formats(text, expected):
    report = read_unshipped(unshipped_row(promise_date=text))
    assert report.errors == []
    ship_by = report.orders[0].ship_by
    assert ship_by == datetime.fromisoformat(expected)
    assert ship_by.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("price", "expected"),
    [("39.99", "39.99"), ("39,99", "39.99"), ("1.234,56", "1234.56"),
     ("1,234.56", "1234.56"), ("1,234", "1234"), ("1234", "1234"), (" 7.5 ", "7.5"),
     ("$39.99", "39.99"), ("39,99 €", "39.99"), ("1.234.567,00", "1234567.00")],
)  # fmt: skip
def test_amount_formats(price, expected):
    report = read_report(tsv(ORDER_HEADER, order_row(item_price=price, shipping_price="")))
    assert report.errors == []
    assert report.orders[0].items[0].price == Decimal(expected)
    assert report.orders[0].total == Decimal(expected)


def test_total_subtracts_discounts_written_either_way():
    header = [*ORDER_HEADER, "item-promotion-discount", "ship-promotion-discount"]
    report = read_report(
        tsv(
            header,
            order_row(
                item_price="20.00",
                item_tax="1.60",
                shipping_price="5.00",
                shipping_tax="0.40",
                item_promotion_discount="-2.00",
                ship_promotion_discount="5.00",
            ),
        )
    )
    assert report.errors == []
    assert report.orders[0].total == Decimal("20.00")  # 20 + 1.60 + 5 + 0.40 - 2 - 5


def test_blank_item_price_makes_the_total_unknown():
    report = read_report(tsv(ORDER_HEADER, order_row(LI, "1", item_price=""), order_row(LI, "2")))
    assert report.errors == []
    assert report.orders[0].total is None
    assert [i.price for i in report.orders[0].items] == [None, Decimal("39.99")]


def test_partially_shipped_and_shipped_from_quantities():
    report = read_unshipped(
        unshipped_row(LI, "1", quantity_purchased="2", quantity_shipped="1", quantity_to_ship="1"),
        unshipped_row(LI, "2"),
        unshipped_row("111-2223334-4445556", "3", quantity_purchased="2", quantity_shipped="2",
                      quantity_to_ship="0"),
    )  # fmt: skip
    orders = by_id(report)
    assert orders[LI].status == "partially_shipped"
    assert [i.quantity_shipped for i in orders[LI].items] == [1, 0]
    assert orders["111-2223334-4445556"].status == "shipped"


def test_explicit_status_channel_and_optional_columns():
    header = [
        *ORDER_HEADER,
        "order-status",
        "fulfillment-channel",
        "latest-ship-date",
        "latest-delivery-date",
        "is-prime",
        "is-business-order",
        "quantity-shipped",
    ]
    statuses = {
        "111-0000000-0000001": ("Pending", "pending"),
        "111-0000000-0000002": ("Unshipped", "unshipped"),
        "111-0000000-0000003": ("PartiallyShipped", "partially_shipped"),
        "111-0000000-0000004": ("Shipped", "shipped"),
        "111-0000000-0000005": ("Canceled", "cancelled"),
        "111-0000000-0000006": ("Cancelled", "cancelled"),
    }
    rows = [
        order_row(oid, str(n), order_status=raw, fulfillment_channel="Amazon" if n % 2 else "Merchant",
                  latest_ship_date="2026-11-22T07:59:59Z", latest_delivery_date="2026-11-28T07:59:59Z",
                  is_prime="true", is_business_order="false")
        for n, (oid, (raw, _)) in enumerate(statuses.items())
    ]  # fmt: skip
    rows.append(order_row("111-0000000-0000007", "7", quantity_shipped="1"))
    report = read_report(tsv(header, *rows))
    assert report.errors == []
    orders = by_id(report)
    for oid, (_, state) in statuses.items():
        assert orders[oid].status == state
        assert orders[oid].ship_by == datetime(2026, 11, 22, 7, 59, 59, tzinfo=UTC)
        assert orders[oid].deliver_by == datetime(2026, 11, 28, 7, 59, 59, tzinfo=UTC)
        assert orders[oid].is_prime is True and orders[oid].is_business is False
    assert orders["111-0000000-0000001"].channel == "MFN"
    assert orders["111-0000000-0000002"].channel == "AFN"
    assert orders["111-0000000-0000007"].status == "shipped"  # 1 of 1 shipped


@pytest.mark.parametrize("amazon_status", sorted(GOODS_OF_STATUS))
def test_a_files_status_means_what_the_same_status_means_from_the_api(amazon_status):
    """One table of Amazon's statuses: an Order report's order-status column and the Orders
    API's OrderStatus are read alike ("Unfulfillable" too), whatever the file's spelling."""
    header = [*ORDER_HEADER, "order-status"]
    spellings = [amazon_status, amazon_status.upper(), re.sub(r"(?<=[a-z])(?=[A-Z])", " ", amazon_status)]
    rows = [order_row(f"111-0000000-000000{n}", str(n), order_status=s) for n, s in enumerate(spellings)]
    report = read_report(tsv(header, *rows))
    assert report.errors == []
    api = imported_order({"AmazonOrderId": "111-0000000-0000009", "OrderStatus": amazon_status})
    assert {o.status for o in report.orders} == {api.status} == {GOODS_OF_STATUS[amazon_status]}


#: Numbers as a person types them after /refund and as a report's money cells hold them.
SAME_NUMBERS = ["39.99", "39,99", "1.234,56", "1,234.56", "1 234,56", "1'234.56", "1,234", "1.234",
                "1.234.567,00", "0,5", "7"]  # fmt: skip
NOT_NUMBERS = ["12.3.4", "1,23,456", "1.234,5,6", "1 23", "12.345,678", "1..5", "abc"]


@pytest.mark.parametrize("number", SAME_NUMBERS)
def test_a_money_cell_is_read_by_the_same_grammar_as_a_typed_amount(number):
    report = read_report(tsv(ORDER_HEADER, order_row(item_price=number, shipping_price="")))
    assert report.errors == []
    assert report.orders[0].items[0].price == parse_amount(number)


@pytest.mark.parametrize("number", NOT_NUMBERS)
def test_what_the_chat_refuses_as_an_amount_a_file_refuses_too(number):
    with pytest.raises(Refusal):
        parse_amount(number)
    report = read_report(tsv(ORDER_HEADER, order_row(item_price=number, shipping_price="")))
    assert [(e.code, e.params["column"]) for e in report.errors] == [("bad_amount", "item-price")]


def test_one_order_id_pattern_for_people_files_and_the_api():
    from bot import domain, parsing
    from bot.amazon import model

    assert parsing.ORDER_ID_RE is domain.ORDER_ID_RE is model.ORDER_ID_RE
    for typed in ("113-4417305-6689831x", "113-4417305-6689831\n", "١١٣-٤٤١٧٣٠٥-٦٦٨٩٨٣١"):
        assert not domain.ORDER_ID_RE.match(typed) and not domain.ORDER_ID_RE.fullmatch(typed)
    report = read_report(tsv(ORDER_HEADER, order_row("113-4417305-6689831x")))
    assert [e.code for e in report.errors] == ["bad_order_id"]


def test_buyer_name_falls_back_to_recipient_and_address_lines_join():
    report = read_unshipped(
        unshipped_row(
            buyer_name="",
            recipient_name="Ann Lee",
            ship_address_1="Flat 2",
            ship_address_2="",
            ship_address_3="10 Downing St",
        )
    )
    order = report.orders[0]
    assert order.buyer_name == "Ann Lee"
    assert order.ship_address == "Flat 2, 10 Downing St"


def test_product_names_with_quotes_are_kept_verbatim():
    report = read_unshipped(unshipped_row(product_name='Monitor 27" "Pro" edition'))
    assert report.orders[0].items[0].title == 'Monitor 27" "Pro" edition'


def test_generated_report_reads_completely():
    report = read_report(make_unshipped_report(2_000))
    assert report.errors == []
    assert len(report.orders) == 2_000
    assert report.rows == 3_000
    assert sum(len(o.items) for o in report.orders) == 3_000
    assert report.orders[0].items[0].title == 'Product "0" 12" size'

"""Reading a sheet of shipments (bot/importing/shipments.py): headers as the ERPs and Seller
Central write them, encodings, cells Excel turned into numbers, and what is not a sheet."""

from __future__ import annotations

import io

import openpyxl
import pytest

from bot.domain import Refusal
from bot.importing.shipments import carrier_for, read_sheet
from bot.refusal_codes import FileCode, ShippingCode
from tests.support.scenario import sample

MIC = "113-4417305-6689831"


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        ("订单号,物流商,跟踪号", "utf-8"),  # 店小秘
        ("订单编号,物流渠道,运单号", "utf-8"),  # 马帮
        ("Amazon订单号,承运人,追踪号", "gb18030"),  # 领星, saved by Excel in China
        ("平台订单号,物流方式,物流单号", "gb18030"),  # 积加
        ("訂單編號,物流商,追蹤號", "utf-8"),
        ("order-id;carrier-code;tracking-number", "utf-8"),  # Excel in Europe: semicolons
        ("Order ID\tCarrier Name\tTracking Number", "utf-16"),
    ],
)
def test_headers_in_chinese_or_english(header: str, encoding: str) -> None:
    sep = ";" if ";" in header else "\t" if "\t" in header else ","
    text = f"{header}\n{sep.join([MIC, 'UPS', '1Z999AA10123456784'])}\n"
    sheet = read_sheet(text.encode(encoding), "x.csv")
    assert sheet is not None
    (row,) = sheet.rows
    assert (row.line, row.order, row.carrier or row.carrier_name, row.tracking) == (2, MIC, "UPS", "1Z999AA10123456784")


def test_an_xlsx_with_a_title_row_and_numbers_for_cells() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["发货单 2026-11-21"])
    sheet.append([])
    sheet.append(["订单号", "物流商", "跟踪号", "SKU", "数量"])
    sheet.append([MIC, "FedEx", 123456789012, "USB-MIC-01", 1.0])
    out = io.BytesIO()
    book.save(out)
    read = read_sheet(out.getvalue(), "a.xlsx")
    assert read is not None and read.encoding == "xlsx"
    (row,) = read.rows
    assert (row.line, row.tracking, row.sku, row.quantity) == (4, "123456789012", "USB-MIC-01", "1")


def test_amazon_reports_and_other_files_are_not_sheets() -> None:
    assert read_sheet(sample("unshipped-orders-us.txt"), "u.txt") is None
    assert read_sheet(sample("fba-customer-returns.txt"), "r.txt") is None
    assert read_sheet(b"hello\tworld\n", "notes.txt") is None


def test_a_csv_without_a_tracking_column_names_it() -> None:
    with pytest.raises(Refusal) as caught:
        read_sheet("订单号,物流商\n1,2\n".encode(), "a.csv")
    assert caught.value.code == FileCode.sheet_no_columns
    assert caught.value.params == {"missing": ["tracking-number / 跟踪号"]}


def test_a_zip_that_is_no_workbook_is_refused() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(Refusal) as caught:
        read_sheet(out.getvalue(), "a.docx")
    assert caught.value.code == FileCode.file_binary


def test_the_carrier_of_a_row() -> None:
    assert carrier_for("云途-全球专线挂号", "", "YT1234567890123456").code == "Yun Express"
    assert carrier_for("", "", "1Z999AA10123456784").code == "UPS"  # from the number's shape
    other = carrier_for("Other", "Evri", "H01ABC1234567890")
    assert (other.code, other.name) == ("Other", "Evri")
    with pytest.raises(Refusal) as caught:
        carrier_for("", "", "123456789012")  # digits only: several carriers issue them
    assert caught.value.code == ShippingCode.missing_carrier

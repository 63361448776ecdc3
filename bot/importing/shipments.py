"""A spreadsheet of shipments: the order, carrier and tracking columns Chinese ERPs export.

店小秘, 马帮, 领星 and 积加 export the day's parcels as .xlsx or .csv (GB18030 when Excel
saved it in China, UTF-8 with or without BOM otherwise); Seller Central's own shipping
confirmation template is tab-separated text. Each has a header row naming the order
(订单号, 订单编号, order-id), the carrier (物流商, 承运人, 物流渠道, carrier-code) and the
tracking number (跟踪号, 运单号, tracking-number), in Chinese or English, maybe a ship
date, and maybe the SKU and quantity of a partial shipment.

:func:`read_sheet` reads the file (``None`` when it is not a sheet of shipments: the
Amazon report import decides then); :func:`ship_sheet` ships its rows through the desk
(``bot.services.Desk``), so the lifecycle checks every one. Run inside an update, every
shipment joins the update's one transaction: they commit together or not at all. A row
whose order is already shipped with the same tracking number counts as done, so sending
the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot import carriers
from bot.amazon.encoding import decode_report
from bot.amazon.kinds import read_header
from bot.amazon.reports import split_lines
from bot.carriers import Carrier, check_tracking, normalise_tracking, resolve_carrier
from bot.domain import Actor, Goods, Order, Refusal
from bot.parsing import OrderRef, parse_order_ref
from bot.refusal_codes import FileCode, LookupCode, ShippingCode
from bot.services import Desk

__all__ = ["MAX_ROWS", "BatchResult", "Sheet", "SheetRow", "carrier_for", "read_sheet", "ship_sheet"]

#: Rows shipped from one file at most: a day's parcels, not a year's. They ship in one transaction, which
#: holds the write lock: measured, 3000 rows took 20 s on a loaded 2-core machine, so 1000 take about 7 s.
MAX_ROWS = 1000
#: An .xlsx (a zip) unpacks to at most this much: beyond it is no day's shipments (a zip bomb).
_MAX_UNPACKED = 64 * 1024 * 1024
#: A header row may follow a title row or two (ERPs print the shop and the date above it).
_HEADER_SEARCH = 10

ORDER, CARRIER, CARRIER_NAME, TRACKING, SHIP_DATE, SKU, ITEM, QUANTITY = (
    "order", "carrier", "carrier_name", "tracking", "ship_date", "sku", "item", "quantity",
)  # fmt: skip

#: What each column may be called, compared by :func:`_key` (case, width, spaces, dashes and
#: brackets do not matter). Seller Central's shipping confirmation template, then the ERPs.
_NAMES: dict[str, tuple[str, ...]] = {
    ORDER: (
        "order-id",
        "order id",
        "order number",
        "amazon order id",
        "amazon-order-id",
        "订单号",
        "订单编号",
        "訂單號",
        "訂單編號",
        "amazon订单号",
        "amazon訂單號",
        "amazon订单编号",
        "亚马逊订单号",
        "亞馬遜訂單號",
        "平台订单号",
        "平台訂單號",
        "平台单号",
        "平台單號",
        "销售单号",
        "銷售單號",
        "订单id",
    ),
    CARRIER: (
        "carrier-code",
        "carrier",
        "carrier code",
        "物流商",
        "物流公司",
        "承运人",
        "承運人",
        "承运商",
        "承運商",
        "物流渠道",
        "物流方式",
        "快递公司",
        "快遞公司",
        "货运商",
        "貨運商",
        "运输商",
        "運輸商",
    ),
    CARRIER_NAME: ("carrier-name", "carrier name", "承运人名称", "承運人名稱", "物流商名称", "物流商名稱"),
    TRACKING: (
        "tracking-number",
        "tracking number",
        "tracking no",
        "tracking",
        "tracking-id",
        "跟踪号",
        "跟蹤號",
        "追踪号",
        "追蹤號",
        "追踪编码",
        "追蹤編碼",
        "追踪编号",
        "追蹤編號",
        "运单号",
        "運單號",
        "物流单号",
        "物流單號",
        "快递单号",
        "快遞單號",
        "物流跟踪号",
        "物流跟蹤號",
        "货运单号",
        "貨運單號",
        "挂号",
        "掛號",
    ),
    SHIP_DATE: (
        "ship-date",
        "ship date",
        "发货日期",
        "發貨日期",
        "出货日期",
        "出貨日期",
        "发货时间",
        "發貨時間",
        "出貨時間",
    ),  # fmt: skip
    SKU: ("sku", "seller-sku", "seller sku", "msku", "商品sku", "卖家sku", "賣家sku", "产品sku", "產品sku"),
    ITEM: ("order-item-id", "order item id", "订单商品编号", "訂單商品編號"),
    QUANTITY: ("quantity", "qty", "quantity-shipped", "数量", "數量", "发货数量", "發貨數量", "出貨數量"),
}


def _key(name: Any) -> str:
    """A column name as it is compared: "Order ID", "order_id", "ORDER-ID" and "订单号：" alike."""
    text = unicodedata.normalize("NFKC", str(name if name is not None else "")).replace("\ufeff", "").casefold()
    return re.sub(r"[\s\-_.:：*()（）\[\]【】\"'#/]+", "", text)


_ROLE_OF: dict[str, str] = {_key(n): role for role, names in _NAMES.items() for n in names}


@dataclass(frozen=True)
class SheetRow:
    """One row of the sheet, its cells as text; ``line`` as a spreadsheet program numbers it."""

    line: int
    order: str
    tracking: str
    carrier: str = ""
    carrier_name: str = ""
    sku: str = ""
    item: str = ""
    quantity: str = ""


@dataclass(frozen=True)
class Sheet:
    """A sheet of shipments: how it was read (``xlsx`` or a text encoding) and its rows."""

    encoding: str
    rows: list[SheetRow]


@dataclass
class BatchResult:
    """What a sheet did: orders shipped now, already shipped with that number, rows refused."""

    encoding: str
    shipped: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[tuple[int, Refusal]] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------------


def read_sheet(data: bytes, filename: str = "") -> Sheet | None:
    """The sheet of shipments in ``data``, or None when it is something else (an Amazon report).

    Raises ``Refusal`` for a spreadsheet that cannot be read, a sheet of shipments without
    the columns it needs, or too many rows; text that cannot be decoded is refused as the
    report import refuses it (``decode_report``).
    """
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    text, encoding = _decode(data)
    lines = split_lines(text)
    for index, line in enumerate(lines[:_HEADER_SEARCH]):
        if not line.strip():
            continue
        try:
            read_header(line)
        except Refusal:
            pass
        else:
            return None  # an Amazon report: the report import reads it
        cells = _split(line)
        roles = _roles(cells)
        if roles is None:
            if index == 0 or not _looks_like_title(cells):
                break
            continue
        body = [(n + 1, _split(row)) for n, row in enumerate(lines[index + 1 :], start=index + 1) if row.strip()]
        return Sheet(encoding, _rows(roles, body))
    if filename.lower().endswith(".csv"):
        _missing(_split(next((line for line in lines if line.strip()), "")))
    return None


def _decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16/32 with BOM, GB18030 (Excel's "CSV" in China),
    else what the report import reads (CP932, Windows-1252)."""
    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in data:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            if re.search("[\u4e00-\u9fff]", text):
                return text, "gb18030"
    return decode_report(data)


def _split(line: str) -> list[str]:
    """One line's cells: tab-separated, else comma- or semicolon-separated with CSV quoting."""
    if "\t" in line:
        return [c.strip().strip('"').strip() for c in line.split("\t")]
    delimiter = ";" if line.count(";") > line.count(",") else ","
    return [c.strip() for c in next(csv.reader([line], delimiter=delimiter), [])]


def _roles(cells: Sequence[Any]) -> dict[str, int] | None:
    """Where each known column is, if the row is a header with an order and a tracking column."""
    roles: dict[str, int] = {}
    for index, cell in enumerate(cells):
        role = _ROLE_OF.get(_key(cell))
        if role is not None:
            roles.setdefault(role, index)
    if ORDER in roles and TRACKING in roles:
        return roles
    return None


def _looks_like_title(cells: Sequence[Any]) -> bool:
    """A title row above the header: one or two filled cells, none a known column."""
    filled = [c for c in cells if str(c if c is not None else "").strip()]
    return len(filled) <= 2 and not any(_key(c) in _ROLE_OF for c in filled)


def _missing(cells: Sequence[Any]) -> None:
    """Refuse a spreadsheet that is no sheet of shipments, naming the column it lacks."""
    found = {_ROLE_OF.get(_key(c)) for c in cells}
    missing = [name for role, name in ((ORDER, "order-id / 订单号"), (TRACKING, "tracking-number / 跟踪号"))
               if role not in found]  # fmt: skip
    raise Refusal(FileCode.sheet_no_columns, missing=missing or ["order-id / 订单号"])


def _cell(value: Any) -> str:
    """A cell as text: Excel keeps long numbers (a FedEx number, an order without dashes) as numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:  # beyond, Excel has already lost digits
            return str(int(value))
        return format(Decimal(repr(value)), "f") if abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _rows(roles: dict[str, int], body: Iterable[tuple[int, Sequence[Any]]]) -> list[SheetRow]:
    rows: list[SheetRow] = []
    for line, cells in body:
        texts = [_cell(c) for c in cells]
        if not any(texts):
            continue
        if len(rows) >= MAX_ROWS:
            raise Refusal(FileCode.sheet_too_many_rows, rows=f"{MAX_ROWS}+", max=MAX_ROWS)

        def get(role: str, texts: list[str] = texts) -> str:
            index = roles.get(role)
            return texts[index] if index is not None and index < len(texts) else ""

        rows.append(SheetRow(line, get(ORDER), get(TRACKING), get(CARRIER), get(CARRIER_NAME), get(SKU), get(ITEM),
                             get(QUANTITY)))  # fmt: skip
    if not rows:
        raise Refusal(FileCode.sheet_no_rows)
    return rows


def _read_xlsx(data: bytes) -> Sheet:
    """The first worksheet of an .xlsx workbook (openpyxl, read-only: rows streamed)."""
    from openpyxl import load_workbook  # imported on the first spreadsheet: most desks never get one

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise Refusal(FileCode.sheet_unreadable) from None
    if "xl/workbook.xml" not in names:
        raise Refusal(FileCode.file_binary)  # a zip, a .docx: not a spreadsheet
    if unpacked > _MAX_UNPACKED:
        raise Refusal(FileCode.sheet_too_many_rows, rows=f"{MAX_ROWS}+", max=MAX_ROWS)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a damaged workbook
        raise Refusal(FileCode.sheet_unreadable) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise Refusal(FileCode.sheet_unreadable)
        rows = sheet.iter_rows(values_only=True)
        first: Sequence[Any] | None = None
        for line, cells in enumerate(rows, start=1):
            if not any(_cell(c) for c in cells):
                continue
            first = first if first is not None else cells
            roles = _roles(cells)
            if roles is not None:
                return Sheet("xlsx", _rows(roles, ((n, c) for n, c in enumerate(rows, start=line + 1))))
            if line >= _HEADER_SEARCH or not _looks_like_title(cells):
                break
        _missing(first or [])
        raise AssertionError("unreachable")  # pragma: no cover - _missing raises
    except Refusal:
        raise
    except Exception:  # noqa: BLE001 - a damaged sheet fails while its rows are read
        raise Refusal(FileCode.sheet_unreadable) from None
    finally:
        workbook.close()


# --- the carrier of a row --------------------------------------------------------------


def carrier_for(
    typed: str, name: str, tracking: str, default: Callable[[str], Carrier | None] | None = None
) -> Carrier:
    """The carrier a row (or a reply with a tracking number) means.

    What is typed first ("云途", "YunExpress", code ``Other`` with its name), then the head of
    an ERP's channel name ("云途-全球专线挂号" is 云途), then the tracking number's shape
    (``bot.carriers.detect``), then ``default``; else the refusal of what
    was typed, or ``missing_carrier``.
    """
    typed, name = typed.strip(), name.strip()
    if typed.casefold() == "other" and name:
        typed = f"Other:{name}"
    if not typed and name:
        typed = name
    refused: Refusal | None = None
    if typed:
        try:
            return resolve_carrier(typed)
        except Refusal as refusal:
            refused = refusal
        head = re.split(r"[-_/|｜()（）\[\]【】\s·]+", unicodedata.normalize("NFKC", typed), maxsplit=1)[0]
        if head and head != typed:
            try:
                return resolve_carrier(head)
            except Refusal:
                pass
    found = detect(tracking)
    if found is None and default is not None:
        found = default(tracking)
    if found is not None:
        return found
    raise refused or Refusal(ShippingCode.missing_carrier)


def detect(tracking: str) -> Carrier | None:
    """The carrier a tracking number's shape names (``bot.carriers.detect``), or None."""
    try:
        return carriers.detect(normalise_tracking(tracking))
    except Refusal:
        return None


# --- shipping ---------------------------------------------------------------------------


@dataclass
class _Parcel:
    """Rows of one order with one tracking number: one shipment."""

    order_id: str
    carrier: Carrier
    tracking: str
    lines: list[int]
    items: list[str]
    whole: bool  # a row without SKU: the whole order


#: Where an order has not left (or not all of it).
_NOT_LEFT = frozenset({Goods.pending, Goods.unshipped, Goods.partially_shipped})


async def ship_sheet(
    desk: Desk, team_id: int, sheet: Sheet, actor: Actor, default: Callable[[str], Carrier | None] | None = None
) -> BatchResult:
    """Ship the sheet's rows through the desk; refused rows are listed by line.

    Inside an update every shipment joins its one transaction: they commit together with
    the reply, or not at all. ``default`` gives the team's default carrier for a row that
    names none and whose number's shape names none either.
    """
    result = BatchResult(sheet.encoding)
    read: list[tuple[SheetRow, OrderRef, Carrier, str]] = []
    for row in sheet.rows:
        try:
            read.append((row, *_read_row(row, default)))
        except Refusal as refusal:
            result.refused.append((row.line, refusal))
    # The orders named in full, in one read (a day's sheet names hundreds); tails one by one.
    known = await desk.store.orders_by_ids(team_id, sorted({ref.full for _r, ref, _c, _t in read if ref.full}))
    parcels: dict[tuple[str, str], _Parcel] = {}
    for row, ref, carrier, tracking in read:
        try:
            if ref.full is not None and ref.full not in known:
                raise Refusal(LookupCode.unknown_order, ref=ref.full)
            order_id = ref.full if ref.full is not None else await desk.find(team_id, ref)
        except Refusal as refusal:
            result.refused.append((row.line, refusal))
            continue
        item = row.item or row.sku
        items = [f"{item}:{row.quantity}" if row.quantity.isdigit() else item] if item else []
        key = (order_id, tracking)
        parcel = parcels.get(key)
        if parcel is None:
            parcels[key] = _Parcel(order_id, carrier, tracking, [row.line], items, whole=not item)
        elif parcel.carrier != carrier:
            result.refused.append((row.line, Refusal(ShippingCode.bad_tracking, carrier=carrier.code,
                                                     tracking=tracking, example=carrier.example)))  # fmt: skip
        else:
            parcel.lines.append(row.line)
            parcel.items += items
            parcel.whole = parcel.whole or not item
    for parcel in parcels.values():
        try:
            if await _already_shipped(desk, team_id, parcel, known.get(parcel.order_id)):
                result.already.append(parcel.order_id)
                continue
            carrier = parcel.carrier
            await desk.ship(
                team_id, OrderRef(full=parcel.order_id), actor, carrier=carrier.code,
                carrier_name=carrier.name if carrier.code == carriers.OTHER else "", tracking=parcel.tracking,
                items=() if parcel.whole else parcel.items,
            )  # fmt: skip
            result.shipped.append(parcel.order_id)
        except Refusal as refusal:
            result.refused += [(line, refusal) for line in parcel.lines]
    result.refused.sort(key=lambda pair: pair[0])
    return result


def _read_row(row: SheetRow, default: Callable[[str], Carrier | None] | None) -> tuple[OrderRef, Carrier, str]:
    """The row's order reference, carrier and tracking number, or the refusal of the first wrong one."""
    ref = parse_order_ref(row.order)
    if not row.tracking:
        raise Refusal(ShippingCode.missing_tracking, carrier=row.carrier or "")
    carrier = carrier_for(row.carrier, row.carrier_name, row.tracking, default)
    return ref, carrier, check_tracking(carrier, row.tracking)


async def _already_shipped(desk: Desk, team_id: int, parcel: _Parcel, order: Order | None) -> bool:
    """The order left with this tracking number already (the same file sent again).

    ``order`` is as it was before the sheet (None when named by a tail): one that had not
    left then is not asked for its shipments.
    """
    if order is not None and order.goods in (Goods.pending, Goods.unshipped):
        return False
    if order is None:
        order = await desk.store.order(team_id, parcel.order_id)
        if order is None:
            return False
    shipments = await desk.store.shipments_of(team_id, parcel.order_id)
    with_number = {s.item_id for s in shipments if s.tracking == parcel.tracking}
    if not with_number:  # shipped before the desk kept shipments, or by Amazon's word
        return order.tracking == parcel.tracking and order.goods not in _NOT_LEFT
    if parcel.whole:
        return True
    # Some items: done when those items left with this number.
    skus = {i.item_id: i.sku.casefold() for i in order.items}
    for typed in parcel.items:
        name = typed.rsplit(":", 1)[0]
        if not any(name == item or name.casefold() == skus.get(item) for item in with_number):
            return False
    return True

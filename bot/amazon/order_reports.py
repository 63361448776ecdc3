"""The order reports (Unshipped Orders, Order report): rows grouped into orders.

A report has one row per order item; the rows of one order are grouped into one
:class:`ImportedOrder`. A row that cannot be read is a :class:`RowError`, and the order it
belongs to is left out entirely (its other rows get ``order_has_bad_row``), so an import
never half-imports an order.

Each row is read in named steps: its cells (:meth:`_OrdersReader.cells_of`), its order id,
its values (:meth:`_OrdersReader.row_of`: item, dates, quantities, prices), then it is added
to its order (:meth:`_OrdersReader.add`). What an order's rows add up to (total, shipped
or not, status) is kept in a :class:`_Tally` and settled when every row is in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.amazon.cells import (
    CHANNELS,
    QUANTITIES,
    TRUE_WORDS,
    Dates,
    clip,
    fit_row,
    parse_money,
    parse_quantity,
)
from bot.amazon.kinds import Header
from bot.amazon.model import (
    ORDER_ID_RE,
    BadRow,
    ImportedItem,
    ImportedOrder,
    ParsedReport,
    RowError,
    goods_of_status,
)
from bot.domain import Goods
from bot.refusal_codes import RowErrorCode

__all__ = ["read_orders"]

_SHIP_BY = ("promise-date", "latest-ship-date")
_DELIVER_BY = ("latest-delivery-date", "delivery-end-date", "scheduled-delivery-end-date")
_ADDRESS = ("ship-address-1", "ship-address-2", "ship-address-3")
_ADDED = ("item-tax", "shipping-price", "shipping-tax")  # to the item price, into the total
_TAKEN_OFF = ("item-promotion-discount", "ship-promotion-discount")  # from it


def read_orders(header: Header, encoding: str, lines: list[str], start: int) -> ParsedReport:
    """The orders of the report whose header is ``lines[start]``.

    Empties ``lines`` as it goes (a row read is not kept twice in memory): the list is
    ``read_report``'s own.
    """
    reader = _OrdersReader(header)
    for index in range(start + 1, len(lines)):
        raw = lines[index]
        lines[index] = ""
        if raw and not raw.isspace():
            reader.read(index + 1, raw)
    return reader.report(encoding)


@dataclass(slots=True)
class _Tally:
    """What an order's rows add up to beyond its fields, settled once every row is read."""

    total: Decimal | None  # of the line totals so far; None once one is unknown
    any_shipped: bool
    any_left: bool  # something still to ship
    status: Goods | None  # the first status a row gave


@dataclass(slots=True)
class _Row:
    """One row's values, before they go to its order."""

    item: ImportedItem
    purchased_at: datetime | None
    ship_by: datetime | None
    deliver_by: datetime | None
    currency: str | None
    line_total: Decimal | None
    left: int  # units still to ship


class _OrdersReader:
    """Reads an order report row by row, grouping the rows into orders."""

    def __init__(self, header: Header) -> None:
        self.header = header
        h = header
        self.i_oid, self.i_item = h.index("order-id"), h.index("order-item-id")
        self.i_purchase, self.i_sku, self.i_qty = (
            h.index("purchase-date"),
            h.index("sku"),
            h.index("quantity-purchased"),
        )
        self.i_ship_by, self.n_ship_by = h.index(*_SHIP_BY), h.name_of(*_SHIP_BY)
        self.i_deliver, self.n_deliver = h.index(*_DELIVER_BY), h.name_of(*_DELIVER_BY)
        self.i_status, self.i_channel = h.index("order-status"), h.index("fulfillment-channel")
        self.i_shipped, self.i_to_ship = h.index("quantity-shipped"), h.index("quantity-to-ship")
        self.has_status = h.has("order-status")
        self.has_shipped, self.has_to_ship = h.has("quantity-shipped"), h.has("quantity-to-ship")
        self.i_title, self.i_level = h.index("product-name"), h.index("ship-service-level")
        self.i_buyer, self.i_recipient = h.index("buyer-name"), h.index("recipient-name")
        self.i_city, self.i_state = h.index("ship-city"), h.index("ship-state")
        self.i_postal, self.i_country = h.index("ship-postal-code"), h.index("ship-country")
        self.i_address = [h.index(n) for n in _ADDRESS if h.has(n)]
        self.i_business, self.i_prime = h.index("is-business-order"), h.index("is-prime")
        self.priced = h.has("item-price") and h.has("currency")
        self.i_price, self.i_currency = h.index("item-price"), h.index("currency")
        self.i_added = [h.index(n) for n in _ADDED if h.has(n)]
        self.i_taken_off = [h.index(n) for n in _TAKEN_OFF if h.has(n)]
        self.ship_by_required = h.kind == "unshipped_orders"
        self.need = h.need

        self.orders: dict[str, ImportedOrder] = {}
        self.tallies: dict[str, _Tally] = {}
        self.errors: list[RowError] = []
        self.bad: dict[str, int] = {}  # order id -> its first refused line
        self.seen: dict[str, int] = {}  # order id + tab + order item id -> line
        self.rows = 0
        # Cells repeat (dates, prices, statuses): each distinct one is read once. Repeated
        # values (SKUs, titles, places, service levels) are kept once, not once a row.
        self.date = Dates()
        self.amounts: dict[str, Decimal] = {}
        self.statuses: dict[str, Goods | None] = {}
        self.share: Callable[[Any, Any], Any] = {}.setdefault

    # --- one row, step by step ----------------------------------------------------------

    def read(self, line: int, raw: str) -> None:
        self.rows += 1
        cells = self.cells_of(line, raw)
        if cells is None:
            return
        oid = cells[self.i_oid].strip()
        if not ORDER_ID_RE.fullmatch(oid):
            if oid:
                self.errors.append(RowError(line, RowErrorCode.bad_order_id, {"value": clip(oid)}))
            else:
                self.errors.append(RowError(line, RowErrorCode.missing_value, {"column": "order-id"}))
            return
        try:
            row = self.row_of(oid, line, cells)
        except BadRow as refused:
            self.errors.append(RowError(line, refused.code, refused.params))
            self.bad.setdefault(oid, line)
            return
        if row is not None:
            self.add(oid, line, cells, row)

    def cells_of(self, line: int, raw: str) -> list[str] | None:
        """The row's cells, padded with the blank cell; None (and a row error) when its shape is wrong."""
        cells = raw.split("\t")
        if len(cells) == self.header.width:
            cells.append("")
            return cells
        problem = fit_row(cells, self.header.width, self.need)
        if problem is None:
            return cells
        self.errors.append(RowError(line, *problem))
        oid = cells[self.i_oid].strip() if self.i_oid < len(cells) else ""
        if ORDER_ID_RE.fullmatch(oid):
            self.bad.setdefault(oid, line)
        return None

    def row_of(self, oid: str, line: int, cells: list[str]) -> _Row | None:
        """The row's values; None for a row already read (a duplicate, reported)."""
        item_id = cells[self.i_item].strip()
        if not item_id:
            raise BadRow(RowErrorCode.missing_value, column="order-item-id")
        key = oid + "\t" + item_id
        first = self.seen.get(key)
        if first is not None:
            self.errors.append(RowError(line, RowErrorCode.duplicate_row, {"first_line": first}))
            return None
        self.seen[key] = line
        sku = cells[self.i_sku].strip()
        if not sku:
            raise BadRow(RowErrorCode.missing_value, column="sku")
        purchased_at = self.date(cells[self.i_purchase], "purchase-date", True)
        ship_by = self.date(cells[self.i_ship_by], self.n_ship_by, self.ship_by_required)
        raw_date = cells[self.i_deliver]
        deliver_by = self.date(raw_date, self.n_deliver, False) if raw_date else None
        quantity, shipped, left = self.quantities(cells)
        price, line_total, currency = self.prices(cells) if self.priced else (None, None, None)
        order = self.orders.get(oid)
        if order is not None and currency and order.currency and currency != order.currency:
            raise BadRow(
                RowErrorCode.currency_mismatch, column="currency", value=clip(currency), expected=order.currency
            )
        title = cells[self.i_title].strip()
        item = ImportedItem(item_id, self.share(sku, sku), self.share(title, title), quantity, shipped, price)
        return _Row(item, purchased_at, ship_by, deliver_by, currency, line_total, left)

    def add(self, oid: str, line: int, cells: list[str], row: _Row) -> None:
        """The row into its order: a new order, or one more item of one already started."""
        status = self.status(cells[self.i_status]) if self.has_status else None
        shipped = row.item.quantity_shipped
        order = self.orders.get(oid)
        if order is None:
            self.orders[oid] = self.new_order(oid, line, cells, row)
            self.tallies[oid] = _Tally(row.line_total, shipped > 0, row.left > 0, status)
            return
        order.lines.append(line)
        order.items.append(row.item)
        if row.ship_by is not None and (order.ship_by is None or row.ship_by < order.ship_by):
            order.ship_by = row.ship_by
        if row.deliver_by is not None and (order.deliver_by is None or row.deliver_by > order.deliver_by):
            order.deliver_by = row.deliver_by
        if order.currency is None:
            order.currency = row.currency
        tally = self.tallies[oid]
        if tally.total is not None:
            tally.total = None if row.line_total is None else tally.total + row.line_total
        tally.any_shipped = tally.any_shipped or shipped > 0
        tally.any_left = tally.any_left or row.left > 0
        if tally.status is None:
            tally.status = status

    def new_order(self, oid: str, line: int, cells: list[str], row: _Row) -> ImportedOrder:
        share = self.share
        buyer = cells[self.i_buyer].strip() or cells[self.i_recipient].strip()
        address = ", ".join([a for a in [cells[i].strip() for i in self.i_address] if a])
        level, city, state = cells[self.i_level].strip(), cells[self.i_city].strip(), cells[self.i_state].strip()
        postal, country = cells[self.i_postal].strip(), cells[self.i_country].strip()
        return ImportedOrder(
            oid, [line], None, CHANNELS.get(cells[self.i_channel].strip().lower(), "MFN"),
            row.purchased_at, row.ship_by, row.deliver_by, row.currency and share(row.currency, row.currency), None,
            share(level, level), buyer, share(city, city), share(state, state), share(postal, postal),
            share(country, country), address, [row.item],
            cells[self.i_business].strip().lower() in TRUE_WORDS,
            cells[self.i_prime].strip().lower() in TRUE_WORDS,
        )  # fmt: skip

    # --- cells ----------------------------------------------------------------------------

    def quantities(self, cells: list[str]) -> tuple[int, int, int]:
        """(purchased, shipped, left to ship): shipped and left from whichever columns the file has."""
        quantity = self.quantity(cells[self.i_qty], "quantity-purchased", True)
        assert quantity is not None  # required
        shipped = to_ship = None
        if self.has_shipped:
            raw = cells[self.i_shipped]
            shipped = self.quantity(raw, "quantity-shipped", False)
            if shipped is not None and shipped > quantity:
                raise BadRow(RowErrorCode.bad_quantity, column="quantity-shipped", value=clip(raw.strip()))
        if self.has_to_ship:
            raw = cells[self.i_to_ship]
            to_ship = self.quantity(raw, "quantity-to-ship", False)
            if to_ship is not None and to_ship > quantity:
                raise BadRow(RowErrorCode.bad_quantity, column="quantity-to-ship", value=clip(raw.strip()))
        if shipped is None:
            shipped = quantity - to_ship if to_ship is not None else 0
        return quantity, shipped, to_ship if to_ship is not None else quantity - shipped

    @staticmethod
    def quantity(raw: str, column: str, required: bool) -> int | None:
        found = QUANTITIES.get(raw)
        if found is None:
            found = parse_quantity(raw)
        if found is None:
            s = raw.strip()
            if s:
                raise BadRow(RowErrorCode.bad_quantity, column=column, value=clip(s))
            if required:
                raise BadRow(RowErrorCode.missing_value, column=column)
        return found

    def prices(self, cells: list[str]) -> tuple[Decimal | None, Decimal | None, str | None]:
        """(item price, the row's part of the order total, currency)."""
        price = line_total = self.amount(cells, self.i_price, False)
        for i in self.i_added:
            added = self.amount(cells, i, False)
            if added is not None and line_total is not None:
                line_total += added
        for i in self.i_taken_off:
            taken_off = self.amount(cells, i, True)
            if taken_off is not None and line_total is not None:
                line_total -= abs(taken_off)
        currency = cells[self.i_currency].strip().upper() or None
        if currency is None and price is not None:
            raise BadRow(RowErrorCode.missing_value, column="currency")
        return price, line_total, currency

    def amount(self, cells: list[str], index: int, signed: bool) -> Decimal | None:
        raw = cells[index]
        found = self.amounts.get(raw)
        if found is None:
            s = raw.strip()
            if not s:
                return None
            found = parse_money(s)
            if found is None:
                raise BadRow(RowErrorCode.bad_amount, column=self.header.shown(index), value=clip(s))
            self.amounts[raw] = found
        if found < 0 and not signed:
            raise BadRow(RowErrorCode.bad_amount, column=self.header.shown(index), value=clip(raw.strip()))
        return found

    def status(self, raw: str) -> Goods | None:
        if raw not in self.statuses:
            self.statuses[raw] = goods_of_status(raw.strip()) if raw.strip() else None
        return self.statuses[raw]

    # --- the orders -------------------------------------------------------------------------

    def report(self, encoding: str) -> ParsedReport:
        """Orders with a refused row left out; totals and statuses settled."""
        for oid, bad_line in self.bad.items():
            order = self.orders.pop(oid, None)
            if order is not None:
                for line in order.lines:
                    self.errors.append(RowError(line, RowErrorCode.order_has_bad_row, {"bad_line": bad_line}))
        # An Unshipped Orders report says what is shipped only through its quantities.
        derive = self.header.kind == "unshipped_orders"
        counted = derive or self.has_shipped or self.has_to_ship
        for oid, order in self.orders.items():
            tally = self.tallies[oid]
            order.total = tally.total if self.priced else None
            status = tally.status
            if status is None and counted:
                if tally.any_shipped:
                    status = Goods.partially_shipped if tally.any_left else Goods.shipped
                elif derive:
                    status = Goods.unshipped
            order.status = status
        self.errors.sort(key=lambda e: e.line)
        return ParsedReport(self.header.kind, encoding, list(self.orders.values()), [], self.errors, self.rows)

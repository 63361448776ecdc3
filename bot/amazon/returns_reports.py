"""The returns reports: FBA customer returns and MFN returns, one :class:`ImportedReturn` a row.

Returns rows stand alone (no grouping): a row that cannot be read is a :class:`RowError`
and the others are kept. A row repeated in the file (same order, SKU and return identity)
is read once.
"""

from __future__ import annotations

from bot.amazon.cells import (
    Dates,
    clip,
    fit_row,
    parse_money,
    parse_quantity,
)
from bot.amazon.kinds import Header, canon
from bot.amazon.model import ORDER_ID_RE, BadRow, ImportedReturn, ParsedReport, RowError
from bot.refusal_codes import RowErrorCode

__all__ = ["read_returns"]


def read_returns(header: Header, encoding: str, lines: list[str], start: int) -> ParsedReport:
    """The returns of the report whose header is ``lines[start]``."""
    reader = _ReturnsReader(header)
    for index in range(start + 1, len(lines)):
        raw = lines[index]
        if raw and not raw.isspace():
            reader.read(index + 1, raw)
    return ParsedReport(header.kind, encoding, [], reader.returns, reader.errors, reader.rows)


class _ReturnsReader:
    def __init__(self, header: Header) -> None:
        self.header = header
        self.fba = fba = header.kind == "fba_returns"
        absent = header.width

        def col(name: str) -> int:
            return header.index(canon(name))

        if fba:
            self.i_oid, self.i_sku, self.i_qty = col("order-id"), col("sku"), col("quantity")
            self.n_oid, self.n_sku, self.n_qty = "order-id", "sku", "quantity"
            self.i_arrived, self.n_arrived = col("return-date"), "return-date"
            self.i_requested = absent
            self.i_disp, self.i_reason, self.i_status = col("detailed-disposition"), col("reason"), col("status")
            self.i_comments, self.i_rma = col("customer-comments"), col("license-plate-number")
            self.i_carrier = self.i_tracking = self.i_refund = self.i_currency = self.i_item = absent
        else:
            self.i_oid, self.i_sku, self.i_qty = col("Order ID"), col("Merchant SKU"), col("Return quantity")
            self.n_oid, self.n_sku, self.n_qty = "Order ID", "Merchant SKU", "Return quantity"
            self.i_arrived, self.n_arrived = col("Return delivery date"), "Return delivery date"
            self.i_requested = col("Return request date")
            self.i_disp, self.i_comments = absent, absent
            self.i_reason, self.i_status = col("Return Reason"), col("Return request status")
            self.i_rma, self.i_carrier, self.i_tracking = (
                col("Amazon RMA ID"),
                col("Return carrier"),
                col("Tracking ID"),
            )
            self.i_refund, self.i_currency, self.i_item = (
                col("Refunded Amount"),
                col("Currency code"),
                col("Order Item ID"),
            )
        self.need = header.need
        self.date = Dates()
        self.errors: list[RowError] = []
        self.returns: list[ImportedReturn] = []
        self.seen: dict[tuple[str, ...], int] = {}
        self.rows = 0

    def read(self, line: int, raw: str) -> None:
        self.rows += 1
        cells = raw.split("\t")
        if len(cells) == self.header.width:
            cells.append("")
        else:
            problem = fit_row(cells, self.header.width, self.need)
            if problem is not None:
                self.errors.append(RowError(line, *problem))
                return
        try:
            found, key = self.return_of(line, cells)
        except BadRow as refused:
            self.errors.append(RowError(line, refused.code, refused.params))
            return
        self.seen[key] = line
        self.returns.append(found)

    def return_of(self, line: int, cells: list[str]) -> tuple[ImportedReturn, tuple[str, ...]]:
        """The row's return and the key that tells it from the file's other rows."""
        fba = self.fba
        oid = cells[self.i_oid].strip()
        if not oid:
            raise BadRow(RowErrorCode.missing_value, column=self.n_oid)
        if not ORDER_ID_RE.fullmatch(oid):
            raise BadRow(RowErrorCode.bad_order_id, value=clip(oid))
        sku = cells[self.i_sku].strip()
        if not sku:
            raise BadRow(RowErrorCode.missing_value, column=self.n_sku)
        rma = cells[self.i_rma].strip()
        arrived_at = self.date(cells[self.i_arrived], self.n_arrived, fba)
        requested_at = None if fba else self.date(cells[self.i_requested], "Return request date", True)
        key = (oid, sku, rma) if rma or not fba else (oid, sku, "", cells[self.i_arrived].strip())
        first = self.seen.get(key)
        if first is not None:
            raise BadRow(RowErrorCode.duplicate_row, first_line=first)
        qty_raw = cells[self.i_qty]
        qty = parse_quantity(qty_raw)
        if qty is None or qty < 1:
            if not qty_raw.strip():
                raise BadRow(RowErrorCode.missing_value, column=self.n_qty)
            raise BadRow(RowErrorCode.bad_quantity, column=self.n_qty, value=clip(qty_raw.strip()))
        refunded = None
        refund_raw = cells[self.i_refund].strip()
        if refund_raw:
            refunded = parse_money(refund_raw)
            if refunded is None:
                raise BadRow(RowErrorCode.bad_amount, column="Refunded Amount", value=clip(refund_raw))
            refunded = abs(refunded)  # some exports write refunds negative
        found = ImportedReturn(
            oid, line, sku, qty, fba or arrived_at is not None, requested_at, arrived_at,
            cells[self.i_disp].strip().upper(), cells[self.i_reason].strip(), cells[self.i_status].strip(),
            cells[self.i_comments].strip(), rma, cells[self.i_carrier].strip(), cells[self.i_tracking].strip(),
            refunded, cells[self.i_currency].strip().upper() or None, cells[self.i_item].strip(),
        )  # fmt: skip
        return found, key

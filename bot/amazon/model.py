"""What Amazon tells the desk, as plain values: orders and their lines, returns, and the
one reading of Amazon's order statuses. Shared by the flat files and the Selling Partner API.

Pure: no I/O, no Telegram, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain import ORDER_ID_RE, Goods
from bot.refusal_codes import RowErrorCode

__all__ = [
    "COUNTRY_CURRENCY",
    "GOODS_OF_STATUS",
    "ORDER_ID_RE",
    "BadRow",
    "ImportedItem",
    "ImportedOrder",
    "ImportedReturn",
    "ParsedReport",
    "RowError",
    "RowErrorCode",
    "goods_of_status",
]

#: Amazon's OrderStatus (Orders API v0; the order-status column of an Order report) as the
#: desk's goods state (DESIGN.md §2). PendingAvailability is a pre-order, not yet charged:
#: pending. InvoiceUnconfirmed means every item has shipped and only the invoice is
#: unconfirmed: shipped. Unfulfillable (multi-channel orders Amazon could not fulfil) is
#: unshipped: the goods have not left, and the team must ship them another way or cancel.
GOODS_OF_STATUS: dict[str, Goods] = {
    "Pending": Goods.pending,
    "PendingAvailability": Goods.pending,
    "Unshipped": Goods.unshipped,
    "PartiallyShipped": Goods.partially_shipped,
    "Shipped": Goods.shipped,
    "InvoiceUnconfirmed": Goods.shipped,
    "Canceled": Goods.cancelled,
    "Unfulfillable": Goods.unshipped,
}

#: The same statuses as files write them: any case, with spaces or underscores
#: ("Partially Shipped", "PARTIALLY_SHIPPED"), and the British "Cancelled".
_BY_KEY: dict[str, Goods] = {
    **{status.lower(): goods for status, goods in GOODS_OF_STATUS.items()},
    "cancelled": Goods.cancelled,
}


def goods_of_status(status: str) -> Goods | None:
    """The goods state an Amazon order status means; None for a status we do not know (the
    order then keeps its state, and a new one is stored as unshipped)."""
    found = GOODS_OF_STATUS.get(status)
    if found is None:
        found = _BY_KEY.get("".join(status.split()).replace("_", "").lower())
    return found


#: The currency of each country's marketplace. The Unshipped Orders report has no currency
#: column: until an Order report says otherwise, an order is in the currency of the country
#: it ships to.
COUNTRY_CURRENCY = {
    "US": "USD", "CA": "CAD", "MX": "MXN", "BR": "BRL", "GB": "GBP", "UK": "GBP", "DE": "EUR", "FR": "EUR",
    "IT": "EUR", "ES": "EUR", "NL": "EUR", "BE": "EUR", "AT": "EUR", "IE": "EUR", "SE": "SEK", "PL": "PLN",
    "TR": "TRY", "JP": "JPY", "AU": "AUD", "SG": "SGD", "IN": "INR", "AE": "AED", "SA": "SAR", "EG": "EGP",
}  # fmt: skip


@dataclass(slots=True)
class ImportedItem:
    item_id: str
    sku: str
    title: str
    quantity: int
    quantity_shipped: int
    price: Decimal | None  # item-price of the row: Amazon's line total for all its units


@dataclass(slots=True)
class ImportedOrder:
    order_id: str
    lines: list[int]  # 1-based line numbers of its rows in the file (the header is line 1)
    # Goods state Amazon says the order is in: the status column or OrderStatus when given;
    # in an unshipped report "unshipped" / "partially_shipped" / "shipped" from the shipped
    # quantities; None when Amazon does not say (an order report without a status column).
    status: Goods | None
    channel: str  # "MFN" unless Amazon says AFN (fulfillment-channel Amazon)
    purchased_at: datetime | None
    ship_by: datetime | None  # promise-date or latest-ship-date (earliest over its rows)
    deliver_by: datetime | None  # latest-delivery-date / delivery-end-date (latest over rows)
    currency: str | None
    # item-price + item-tax + shipping-price + shipping-tax - |promotion discounts| over
    # its rows; None when the report has no prices (or a row's item-price is blank).
    total: Decimal | None
    service_level: str
    buyer_name: str  # buyer-name, else recipient-name
    ship_city: str
    ship_state: str
    ship_postal_code: str
    ship_country: str
    ship_address: str  # ship-address-1..3 joined with ", "
    items: list[ImportedItem]
    is_business: bool = False
    is_prime: bool = False


@dataclass(slots=True)
class ImportedReturn:
    """One row of a returns report (returns rows stand alone: no grouping)."""

    order_id: str
    line: int
    sku: str
    quantity: int
    arrived: bool  # FBA: always True (the row means it reached the warehouse); MFN: delivered
    requested_at: datetime | None  # MFN "Return request date"; FBA: None
    arrived_at: datetime | None  # FBA return-date; MFN "Return delivery date"
    disposition: str  # FBA detailed-disposition (SELLABLE, CUSTOMER_DAMAGED...); MFN ""
    reason: str
    status: str
    comments: str  # FBA customer-comments; MFN ""
    rma: str  # the return's identity in its report: MFN Amazon RMA ID; FBA license-plate-number
    carrier: str  # MFN Return carrier
    tracking: str  # MFN Tracking ID
    refunded: Decimal | None  # MFN Refunded Amount
    currency: str | None  # MFN Currency code
    item_id: str  # MFN Order Item ID when present, else ""


@dataclass(slots=True)
class RowError:
    """A row of a file that was not applied: its line, why (a :class:`RowErrorCode`) and its parameters.

    A string code is taken too and turned into its member (``ValueError`` if it is none).
    """

    line: int
    code: RowErrorCode
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.code = RowErrorCode(self.code)


class BadRow(Exception):
    """A row that cannot be applied, raised while reading or importing it.

    The reader (or importer) of the row catches it at once and records a :class:`RowError`
    for the import's summary, so it never reaches a person as a reply: that is why it is
    not a ``bot.domain.Refusal``, and why its codes are row errors, not refusal codes.
    """

    def __init__(self, code: RowErrorCode, **params: Any) -> None:
        super().__init__(code)
        self.code = RowErrorCode(code)
        self.params: dict[str, Any] = params

    def __repr__(self) -> str:
        return f"BadRow({self.code.value!r}, {self.params!r})"


@dataclass(slots=True)
class ParsedReport:
    kind: str  # unshipped_orders | order_report | fba_returns | mfn_returns
    encoding: str
    orders: list[ImportedOrder]
    returns: list[ImportedReturn]
    errors: list[RowError]  # sorted by line
    rows: int  # data rows read (blank lines not counted)

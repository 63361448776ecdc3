"""The kinds of Seller Central report the desk reads, and how a header row says which it is.

Four kinds: the Unshipped Orders report, the Order report, the FBA customer returns report
and the MFN returns report (columns in amazon-formats.md). Column names are compared
canonically: case-insensitive, trimmed, BOM and quotes stripped, spaces and underscores
read as "-" ("Order ID" -> "order-id"). A header is the kind it has every required column
of and shares the most columns with; a file that is none of them is refused with the
columns it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Refusal
from bot.refusal_codes import FileCode

__all__ = ["KINDS", "ORDER_KINDS", "REQUIRED", "RETURNS_KINDS", "Header", "canon", "read_header"]


def canon(name: str) -> str:
    """A column name as it is compared: "Order ID", "order_id" and "ORDER-ID" are "order-id"."""
    name = name.replace("\ufeff", "").strip().strip('"').strip().lower()
    return "-".join(name.replace("_", " ").replace("-", " ").split())


_UNSHIPPED_COLUMNS = """order-id order-item-id purchase-date payments-date reporting-date
promise-date days-past-promise buyer-email buyer-name buyer-phone-number sku product-name
quantity-purchased quantity-shipped quantity-to-ship ship-service-level recipient-name
ship-address-1 ship-address-2 ship-address-3 ship-city ship-state ship-postal-code
ship-country is-business-order purchase-order-number price-designation is-iba
verge-of-cancellation verge-of-lateShipment payment-method cod-collectible-amount
already-paid payment-method-fee scheduled-delivery-start-date scheduled-delivery-end-date
points-granted is-prime""".split()

_ORDER_COLUMNS = """order-id order-item-id purchase-date payments-date buyer-email buyer-name
buyer-phone-number sku product-name quantity-purchased currency item-price item-tax
shipping-price shipping-tax ship-service-level recipient-name ship-address-1 ship-address-2
ship-address-3 ship-city ship-state ship-postal-code ship-country ship-phone-number
bill-address-1 bill-address-2 bill-address-3 bill-city bill-state bill-postal-code
bill-country item-promotion-discount item-promotion-id ship-promotion-discount
ship-promotion-id delivery-start-date delivery-end-date delivery-time-zone
delivery-Instructions sales-channel""".split()

_FBA_COLUMNS = """return-date order-id sku asin fnsku product-name quantity
fulfillment-center-id detailed-disposition reason status license-plate-number
customer-comments""".split()

_MFN_COLUMNS = [
    "Order ID", "Order date", "Return request date", "Return request status",
    "Amazon RMA ID", "Merchant RMA ID", "Label type", "Label cost", "Currency code",
    "Return carrier", "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime",
    "ASIN", "Merchant SKU", "Item Name", "Return quantity", "Return Reason", "In policy",
    "Return type", "Resolution", "Invoice number", "Return delivery date", "Order Amount",
    "Order quantity", "SafeT Action reason", "SafeT claim id", "SafeT claim state",
    "SafeT claim creation time", "SafeT claim reimbursement amount", "Refunded Amount",
    "Order Item ID",
]  # fmt: skip

KINDS = ("unshipped_orders", "order_report", "fba_returns", "mfn_returns")

#: Columns a file must have to be read as that kind, spelled as Amazon spells them.
REQUIRED: dict[str, list[str]] = {
    "unshipped_orders": [
        "order-id", "order-item-id", "purchase-date", "promise-date", "sku",
        "quantity-purchased",
    ],
    "order_report": [
        "order-id", "order-item-id", "purchase-date", "sku", "quantity-purchased",
        "currency", "item-price",
    ],
    "fba_returns": ["return-date", "order-id", "sku", "quantity", "detailed-disposition"],
    "mfn_returns": [
        "Order ID", "Return request date", "Amazon RMA ID", "Merchant SKU",
        "Return quantity", "Return delivery date",
    ],
}  # fmt: skip

# Columns used when present, whatever the kind says (some exports add them).
_ORDER_EXTRA = """order-status fulfillment-channel latest-ship-date latest-delivery-date
quantity-shipped quantity-to-ship item-tax shipping-price shipping-tax
item-promotion-discount ship-promotion-discount is-prime is-business-order""".split()

_KNOWN: dict[str, frozenset[str]] = {
    "unshipped_orders": frozenset(map(canon, _UNSHIPPED_COLUMNS)),
    "order_report": frozenset(map(canon, _ORDER_COLUMNS)),
    "fba_returns": frozenset(map(canon, _FBA_COLUMNS)),
    "mfn_returns": frozenset(map(canon, _MFN_COLUMNS)),
}
_REQUIRED_CANON = {k: [(canon(c), c) for c in cols] for k, cols in REQUIRED.items()}

# Display names (as Amazon spells them) of canonical names, for row errors.
_DISPLAY = {canon(c): c for c in _MFN_COLUMNS}
for _c in _UNSHIPPED_COLUMNS + _ORDER_COLUMNS + _FBA_COLUMNS + _ORDER_EXTRA:
    _DISPLAY.setdefault(canon(_c), _c)

#: The kinds that list orders, and the kinds that list returns.
ORDER_KINDS = frozenset({"unshipped_orders", "order_report"})
RETURNS_KINDS = frozenset({"fba_returns", "mfn_returns"})


@dataclass(frozen=True)
class Header:
    """A report's header row: its kind and where each column is.

    Rows are read padded with one blank cell at index ``width``: a column the file does not
    have points there, so reading it gives "".
    """

    kind: str
    columns: dict[str, int]  # canonical name -> index of its first occurrence
    width: int  # cells in the header row

    def index(self, *names: str) -> int:
        """Where the first of these canonical names that the file has is, else the blank cell."""
        return next((self.columns[n] for n in names if n in self.columns), self.width)

    def has(self, name: str) -> bool:
        return name in self.columns

    def name_of(self, *names: str) -> str:
        """The first of these names the file has (the first when none), to name it in a row error."""
        return next((n for n in names if n in self.columns), names[0])

    def shown(self, index: int) -> str:
        """The column at ``index`` as Amazon spells it, for row errors."""
        name = next(n for n, i in self.columns.items() if i == index)
        return _DISPLAY.get(name, name)

    @property
    def need(self) -> int:
        """Cells a row needs to hold every required column of its kind."""
        return max(self.columns[c] for c, _shown in _REQUIRED_CANON[self.kind]) + 1


def read_header(line: str) -> Header:
    """The header row of a tab-separated report, or raise ``file_not_report``."""
    names = [canon(cell) for cell in line.split("\t")]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name:
            columns.setdefault(name, index)
    return Header(_choose_kind(set(columns)), columns, len(names))


def _choose_kind(header: set[str]) -> str:
    """The kind the header is, or raise file_not_report naming what it lacks."""
    complete = []
    scored = []
    for order, kind in enumerate(KINDS):
        overlap = len(header & _KNOWN[kind])
        missing = [shown for canon, shown in _REQUIRED_CANON[kind] if canon not in header]
        if not missing:
            complete.append((-overlap, order, kind))
        scored.append((-overlap, len(missing), order, kind, missing))
    if complete:
        return min(complete)[2]
    best = min(scored)
    if -best[0] >= 2:  # shares at least two columns with a kind: name what that kind lacks
        raise Refusal(FileCode.file_not_report, missing=best[4], kind=best[3])
    raise Refusal(FileCode.file_not_report, missing=list(REQUIRED["order_report"]), kind=None)

"""Display names: states, actions, reasons, reports, alert kinds and dispositions (DESIGN.md §2)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain import Goods, Money
from bot.i18n import N_, _, current

# Translators: the states of the goods of an Amazon order (DESIGN.md §2).
STATE_NAMES: dict[str, str] = {
    Goods.pending: N_("pending"),
    Goods.unshipped: N_("unshipped"),
    Goods.partially_shipped: N_("partially shipped"),
    Goods.shipped: N_("shipped"),
    Goods.delivered: N_("delivered"),
    Goods.lost: N_("lost"),
    Goods.cancelled: N_("cancelled"),
    Goods.return_requested: N_("return requested"),
    Goods.return_received: N_("return received"),
    Goods.return_closed: N_("return closed"),
}
MONEY_NAMES: dict[str, str] = {
    Money.none: N_("not refunded"),
    Money.partially_refunded: N_("partially refunded"),
    Money.refunded: N_("refunded"),
}
# Translators: what happened to an order, as shown in its history.
ACTION_NAMES: dict[str, str] = {
    "imported": N_("imported from a report"),
    "import_update": N_("updated from a report"),
    "ship": N_("shipped"),
    "correct_tracking": N_("tracking corrected"),
    "cancel": N_("cancelled"),
    "deliver": N_("marked delivered"),
    "mark_lost": N_("marked lost"),
    "request_return": N_("return recorded"),
    "receive_return": N_("return arrived"),
    "restock": N_("restocked"),
    "dispose": N_("disposed of"),
    "send_back": N_("sent back"),
    "refund": N_("refunded"),
    "verify_payment": N_("payment verified by Amazon"),
    "amazon_partially_shipped": N_("partially shipped (Amazon)"),
    "amazon_shipped": N_("shipped (Amazon)"),
    "amazon_cancelled": N_("cancelled by Amazon"),
}
# Translators: Amazon's cancellation reasons.
REASON_NAMES: dict[str, str] = {
    "BuyerCanceled": N_("buyer cancelled"),
    "NoInventory": N_("out of stock"),
    "ShippingAddressUndeliverable": N_("address undeliverable"),
    "CustomerExchange": N_("customer exchange"),
    "PricingError": N_("pricing error"),
    "GeneralAdjustment": N_("general adjustment"),
    "CarrierCreditDecision": N_("carrier credit decision"),
    "RiskAssessmentInformationNotValid": N_("risk assessment information not valid"),
    "CarrierCoverageFailure": N_("carrier coverage failure"),
    "CustomerReturn": N_("customer return"),
    "MerchandiseNotReceived": N_("merchandise not received"),
}
# Translators: Amazon's reasons for a refund (order adjustments).
REFUND_REASON_NAMES: dict[str, str] = {
    "CustomerReturn": N_("customer return"),
    "GeneralAdjustment": N_("general adjustment"),
    "DifferentItem": N_("different item sent"),
    "CouldNotShip": N_("could not ship"),
    "NoInventory": N_("no inventory"),
    "ProductOutofStock": N_("product out of stock"),
    "CustomerCancel": N_("customer cancelled"),
    "PriceError": N_("price error"),
    "CustomerAddressIncorrect": N_("customer address incorrect"),
    "Undeliverable": N_("undeliverable"),
    "RefusedDelivery": N_("delivery refused"),
    "Abandoned": N_("parcel abandoned"),
    "Exchange": N_("exchange"),
    "CarrierCreditDecision": N_("carrier credit decision"),
    "CarrierCoverageFailure": N_("carrier coverage failure"),
    "RiskAssessmentInformationNotValid": N_("risk assessment information not valid"),
    "Other": N_("other"),
}
REPORT_NAMES: dict[str, str] = {
    "unshipped_orders": N_("Unshipped Orders report"),
    "order_report": N_("Order report"),
    "fba_returns": N_("FBA customer returns report"),
    "mfn_returns": N_("MFN returns report"),
}

# Translators: names of the alert kinds, as shown in /alerts.
ALERT_KIND_NAMES: dict[str, str] = {
    "ship_soon": N_("ship-by soon"),
    "ship_late": N_("late shipments"),
    "confirm_soon": N_("Amazon's 30-day deadline"),
    "pending_long": N_("pending too long"),
    "return_waiting": N_("returns waiting for a decision"),
    "delivery_late": N_("late deliveries"),
    "digest": N_("daily digest"),
}


# Translators: Amazon's dispositions of a returned item (FBA customer returns report).
DISPOSITION_NAMES: dict[str, str] = {
    "SELLABLE": N_("sellable, back in Amazon's inventory"),
    "DAMAGED": N_("damaged"),
    "CUSTOMER_DAMAGED": N_("damaged by the customer"),
    "DEFECTIVE": N_("defective"),
    "CARRIER_DAMAGED": N_("damaged by the carrier"),
    "DISTRIBUTOR_DAMAGED": N_("damaged at the warehouse"),
    "EXPIRED": N_("expired"),
}


def disposition_name(code: str) -> str:
    return _(DISPOSITION_NAMES[code]) if code in DISPOSITION_NAMES else code


def state_name(state: str | Goods) -> str:
    return _(STATE_NAMES.get(state, str(state)))


def action_name(action: str) -> str:
    return _(ACTION_NAMES.get(action, action))


def reason_name(code: str) -> str:
    return _(REASON_NAMES[code]) if code in REASON_NAMES else code


def refund_reason_name(code: str) -> str:
    return _(REFUND_REASON_NAMES[code]) if code in REFUND_REASON_NAMES else code


def reason_choices(codes: Iterable[str], *, refund: bool = False) -> list[str]:
    """Amazon's reasons the way the reader types them: the codes in English, their names in Chinese.

    Every Chinese name is also a word the cancel and refund parsers accept
    (tests/test_i18n.py), so a reader can copy one from the list.
    """
    if current() == "en":
        return list(codes)
    table = REFUND_REASON_NAMES if refund else REASON_NAMES
    return [_(table[code]) if code in table else code for code in codes]

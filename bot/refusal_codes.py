"""Why something was not done, as codes: one ``StrEnum`` per area, and the row errors of a report.

A refusal (``bot.domain.Refusal``) carries one member of a refusal enum; a row of a report
that is not applied (``bot.amazon.RowError``) carries a :class:`RowErrorCode`. Each member's
value is the code as it has always been written (``"unknown_order"``), so logs, tests
and anything stored keep reading the same; the name is the value, so a member hashes and
compares like its string. The sentences are in ``bot.texts.refusals`` (``REFUSALS``,
``ROW_ERRORS``), one per member, and tests/test_refusal_codes.py fails when one is missing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias

__all__ = [
    "REFUSAL_ENUMS", "AccessCode", "AlertCode", "AmazonCode", "CommandCode", "ConfirmationCode", "FileCode",
    "LifecycleCode", "LookupCode", "ReasonCode", "RefundCode", "RefusalCode", "RowErrorCode", "ShippingCode",
    "refusal_code",
]  # fmt: skip


class LookupCode(StrEnum):
    """The order a person named cannot be found, or is not an order number."""

    unknown_order = "unknown_order"
    ambiguous_order = "ambiguous_order"
    bad_order_ref = "bad_order_ref"


class LifecycleCode(StrEnum):
    """The order's state does not allow the action (``bot.lifecycle.REFUSALS``), or it changed meanwhile."""

    ship_pending = "ship_pending"
    ship_cancelled = "ship_cancelled"
    already_shipped = "already_shipped"
    already_shipped_by = "already_shipped_by"
    correct_not_shipped = "correct_not_shipped"
    correct_in_return = "correct_in_return"
    already_cancelled = "already_cancelled"
    cancel_after_shipment = "cancel_after_shipment"
    not_shipped_yet = "not_shipped_yet"
    order_cancelled = "order_cancelled"
    already_delivered = "already_delivered"
    in_return = "in_return"
    lost_but_delivered = "lost_but_delivered"
    already_lost = "already_lost"
    already_returning = "already_returning"
    already_received = "already_received"
    return_closed_already = "return_closed_already"
    return_not_received = "return_not_received"
    refund_before_shipment = "refund_before_shipment"
    refund_cancelled = "refund_cancelled"
    #: The action may not follow the state and no advice fits (the table names none).
    not_allowed = "not_allowed"
    changed_meanwhile = "changed_meanwhile"


class ShippingCode(StrEnum):
    """What to ship with whom: the carrier, the tracking number, the items."""

    unknown_carrier = "unknown_carrier"
    missing_carrier = "missing_carrier"
    missing_carrier_name = "missing_carrier_name"
    bad_tracking = "bad_tracking"
    missing_tracking = "missing_tracking"
    tracking_unchanged = "tracking_unchanged"
    unknown_item = "unknown_item"
    items_already_shipped = "items_already_shipped"
    domestic_carrier = "domestic_carrier"
    carrier_unclear = "carrier_unclear"
    carrier_not_detected = "carrier_not_detected"


class RefundCode(StrEnum):
    """A refund, and the amount typed for it (``bot.amounts``, ``bot.parsing``, the refund guards)."""

    already_refunded = "already_refunded"
    refund_amount_needed = "refund_amount_needed"
    refund_too_much = "refund_too_much"
    refund_currency = "refund_currency"
    refund_currency_decimals = "refund_currency_decimals"
    refund_changed = "refund_changed"
    refund_admin_in_group = "refund_admin_in_group"
    refund_unknown_word = "refund_unknown_word"
    refund_two_amounts = "refund_two_amounts"
    refund_full_and_amount = "refund_full_and_amount"
    refund_partial_needs_amount = "refund_partial_needs_amount"
    bad_amount = "bad_amount"
    amount_in_words = "amount_in_words"
    ambiguous_amount = "ambiguous_amount"
    amount_decimals = "amount_decimals"
    amount_too_large = "amount_too_large"
    amount_not_positive = "amount_not_positive"


class ReasonCode(StrEnum):
    """One of Amazon's cancel reasons, or a decision on a returned item, is missing or unknown."""

    unknown_reason = "unknown_reason"
    missing_reason = "missing_reason"
    unknown_decision = "unknown_decision"


class ConfirmationCode(StrEnum):
    """A yes/no question asked with buttons cannot be answered (any more, or by this person)."""

    confirmation_gone = "confirmation_gone"
    confirmation_not_yours = "confirmation_not_yours"
    confirmation_expired = "confirmation_expired"
    confirmation_admins_only = "confirmation_admins_only"


class AccessCode(StrEnum):
    """Who may use the desk: a team's group, its members, its administrators, under their own name."""

    not_a_team = "not_a_team"
    not_a_member = "not_a_member"
    not_admin = "not_admin"
    anonymous_admin = "anonymous_admin"
    sent_as_channel = "sent_as_channel"


class CommandCode(StrEnum):
    """A command, button or edit the desk does not act on."""

    unknown_command = "unknown_command"
    button_unknown = "button_unknown"
    edit_not_a_command = "edit_not_a_command"


class AmazonCode(StrEnum):
    """The connection to the Selling Partner API (``/amazon``)."""

    amazon_private_only = "amazon_private_only"
    amazon_secrets_in_group = "amazon_secrets_in_group"
    amazon_not_admin = "amazon_not_admin"
    amazon_bad_set = "amazon_bad_set"
    amazon_bad_marketplace = "amazon_bad_marketplace"
    amazon_bad_endpoint = "amazon_bad_endpoint"
    amazon_bad_endpoint_allowed = "amazon_bad_endpoint_allowed"
    amazon_no_secret_key = "amazon_no_secret_key"
    amazon_secrets_unreadable = "amazon_secrets_unreadable"
    amazon_address_refused = "amazon_address_refused"
    amazon_not_connected = "amazon_not_connected"
    amazon_unknown_command = "amazon_unknown_command"


class AlertCode(StrEnum):
    """The team's alert settings (``/alerts``)."""

    bad_alert_setting = "bad_alert_setting"


class FileCode(StrEnum):
    """A file sent to import, or an export asked for."""

    file_empty = "file_empty"
    file_binary = "file_binary"
    file_encoding = "file_encoding"
    file_not_report = "file_not_report"
    file_too_large = "file_too_large"
    import_busy = "import_busy"
    nothing_to_export = "nothing_to_export"
    bad_export_day = "bad_export_day"
    export_day_out_of_range = "export_day_out_of_range"
    # a spreadsheet of shipments (bot/importing/shipments.py)
    sheet_no_columns = "sheet_no_columns"
    sheet_too_many_rows = "sheet_too_many_rows"
    sheet_unreadable = "sheet_unreadable"
    sheet_no_rows = "sheet_no_rows"


#: Any refusal code: what ``Refusal(code, **params)`` takes.
RefusalCode: TypeAlias = (
    LookupCode | LifecycleCode | ShippingCode | RefundCode | ReasonCode | ConfirmationCode | AccessCode
    | CommandCode | AmazonCode | AlertCode | FileCode
)  # fmt: skip
#: Every refusal enum, in the order ``bot.texts.refusals.REFUSALS`` lists their sentences.
REFUSAL_ENUMS: tuple[type[RefusalCode], ...] = (
    LookupCode, LifecycleCode, ShippingCode, RefundCode, ReasonCode, ConfirmationCode, AccessCode, CommandCode,
    AmazonCode, AlertCode, FileCode,
)  # fmt: skip


class RowErrorCode(StrEnum):
    """Why a row of a report was not applied: it cannot be read, or its order cannot take it.

    A namespace of its own: ``bad_amount`` here is a cell of a file, not what a person typed.
    """

    bad_order_id = "bad_order_id"
    bad_date = "bad_date"
    bad_quantity = "bad_quantity"
    bad_amount = "bad_amount"
    missing_value = "missing_value"
    duplicate_row = "duplicate_row"
    short_row = "short_row"
    long_row = "long_row"
    currency_mismatch = "currency_mismatch"
    order_has_bad_row = "order_has_bad_row"
    # The returns importer: the row's order, or the lifecycle's refusal of it.
    unknown_order_row = "unknown_order_row"
    return_not_shipped = "return_not_shipped"
    refund_too_much = "refund_too_much"
    refund_currency = "refund_currency"
    refund_currency_decimals = "refund_currency_decimals"
    already_refunded = "already_refunded"
    #: Any other refusal of the row's change by the lifecycle (none is known to reach a row).
    change_refused = "change_refused"


_BY_VALUE: dict[str, RefusalCode] = {member.value: member for enum in REFUSAL_ENUMS for member in enum}


def refusal_code(code: str) -> RefusalCode:
    """The member for ``code``: a member stays itself, a string (as written before the enums,
    in a test or a log) is looked up; ``ValueError`` for a string that is no refusal code."""
    if isinstance(code, REFUSAL_ENUMS):
        return code
    try:
        return _BY_VALUE[code]
    except KeyError:
        raise ValueError(f"{code!r} is not a refusal code") from None

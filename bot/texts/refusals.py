"""Refusals: one whole sentence (with its advice) per code, in the reader's language.

Refusals arrive as codes with parameters (``bot.domain.Refusal``), row errors of a report
the same way (``bot.amazon.RowError``); the codes are the members of the enums in
``bot.refusal_codes``. ``REFUSALS`` and ``ROW_ERRORS`` are the one registry of their
sentences: tests/test_refusal_codes.py checks that every member has one, translated in
every catalog, so a person never sees a raw code. Should one be missing all the same, the
reply is a generic sentence and the log says which code.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_name

from bot.carriers import label as carrier_label
from bot.domain import Refusal
from bot.i18n import N_, _, cldr, current, listing, money, when
from bot.refusal_codes import (
    AccessCode,
    AlertCode,
    AmazonCode,
    CommandCode,
    ConfirmationCode,
    FileCode,
    LifecycleCode,
    LookupCode,
    ReasonCode,
    RefundCode,
    RefusalCode,
    RowErrorCode,
    ShippingCode,
)
from bot.texts.names import REPORT_NAMES, action_name, reason_choices, state_name

log = logging.getLogger(__name__)

REFUSALS: dict[RefusalCode, str] = {
    # the order named
    LookupCode.unknown_order: N_(
        "I can't find order {ref} in this team's orders. Check the number, or import the latest order report first."
    ),
    LookupCode.ambiguous_order: N_(
        "More than one order ends in {ref}: {candidates}. Type more digits or the full order number."
    ),
    LookupCode.bad_order_ref: N_(
        "“{text}” is not an order number. Type the full Amazon order number (like 113-4417305-6689831) or its last 4 or more digits."
    ),
    # the lifecycle: what may follow what
    LifecycleCode.ship_pending: N_(
        "Order {order} is still pending: Amazon has not verified the payment yet. Never ship a pending order; wait until it becomes unshipped."
    ),
    LifecycleCode.ship_cancelled: N_("Order {order} was cancelled, so it cannot be shipped."),
    LifecycleCode.already_shipped: N_(
        "Order {order} has already been shipped. To change its tracking number, send /correct ORDER CARRIER TRACKING."
    ),
    LifecycleCode.already_shipped_by: N_(
        "Order {order} was already shipped by {by} on {when}, with {carrier}, tracking number {tracking}. If that tracking number is wrong, correct it with /correct {order} CARRIER TRACKING."
    ),
    LifecycleCode.correct_not_shipped: N_(
        "Order {order} has not been shipped yet, so there is no tracking number to correct. Ship it with /ship."
    ),
    LifecycleCode.correct_in_return: N_(
        "Order {order} is being returned ({state}); its outbound tracking number can no longer be changed."
    ),
    LifecycleCode.already_cancelled: N_("Order {order} is already cancelled."),
    LifecycleCode.cancel_after_shipment: N_(
        "Order {order} has already been shipped and cannot be cancelled. Ask the buyer to refuse the delivery or return it, then refund."
    ),
    LifecycleCode.not_shipped_yet: N_("Order {order} has not been shipped yet ({state}); ship it first."),
    LifecycleCode.order_cancelled: N_("Order {order} was cancelled; there is nothing more to do with it."),
    LifecycleCode.already_delivered: N_("Order {order} is already marked delivered."),
    LifecycleCode.in_return: N_("Order {order} is being returned ({state}); this no longer applies."),
    LifecycleCode.lost_but_delivered: N_(
        "Order {order} was delivered, so it cannot be marked lost. If the buyer says it never arrived, refund with /refund."
    ),
    LifecycleCode.already_lost: N_(
        "Order {order} is already marked lost. If it turns up, mark it delivered with /delivered."
    ),
    LifecycleCode.already_returning: N_("A return is already recorded for order {order} ({state})."),
    LifecycleCode.already_received: N_(
        "The return of order {order} has already arrived. Decide what to do with it: restock, dispose or send back."
    ),
    LifecycleCode.return_closed_already: N_("The return of order {order} has already been dealt with."),
    LifecycleCode.return_not_received: N_(
        "The return of order {order} has not arrived yet ({state}). Record its arrival with /received first."
    ),
    LifecycleCode.refund_before_shipment: N_(
        "Order {order} has not been shipped ({state}): cancel it with /cancel instead of refunding."
    ),
    LifecycleCode.refund_cancelled: N_(
        "Order {order} was cancelled before shipment; Amazon does not charge the buyer, so there is nothing to refund."
    ),
    LifecycleCode.not_allowed: N_("That can't be done to order {order} while it is {state}."),
    LifecycleCode.changed_meanwhile: N_(
        "Someone changed order {order} at the same moment; nothing was done. Look at it with /order and try again."
    ),
    # carriers, tracking numbers, items
    ShippingCode.unknown_carrier: N_(
        "I don't know the carrier “{text}”. Use an Amazon carrier code such as {suggestions}, a Chinese name such as 顺丰 or 云途, or Other:NAME."
    ),
    ShippingCode.missing_carrier: N_(
        "Say which carrier ships it. Example: /ship 113-4417305-6689831 UPS 1Z999AA10123456784"
    ),
    ShippingCode.missing_carrier_name: N_(
        "With Other, name the carrier too, for example Other:Cainiao (Amazon needs the carrier's name)."
    ),
    ShippingCode.bad_tracking: N_(
        "“{tracking}” does not look like a {carrier} tracking number (for example {example}). Check it and send the command again."
    ),
    ShippingCode.missing_tracking: N_(
        "A tracking number is needed to ship with {carrier}. Example: /ship 113-4417305-6689831 UPS 1Z999AA10123456784"
    ),
    ShippingCode.tracking_unchanged: N_("Order {order} already has tracking number {tracking}; nothing to change."),
    ShippingCode.unknown_item: N_(
        "Order {order} has no item “{item}”. Its items are {items}; name them by SKU, like USB-FAN-03 or USB-FAN-03:2 for two."
    ),
    ShippingCode.items_already_shipped: N_(
        "These items are already shipped, or fewer were bought: {items}. Look at the order with /order."
    ),
    ShippingCode.domestic_carrier: N_(
        "{carrier} is a courier inside China: its number “{tracking}” only reaches your forwarder, and confirming an Amazon order with it lowers your valid tracking rate. Nothing was shipped. Send the forwarder's international tracking number, for example 发货 6689831 云途 YT1234567890123456."
    ),
    ShippingCode.carrier_unclear: N_(
        "“{text}” can mean {choices}. Say which one, for example 发货 6689831 Yamato Transport 123456789012."
    ),
    ShippingCode.carrier_not_detected: N_(
        "I can't tell the carrier from “{tracking}”. Name it before the number, for example 发货 6689831 UPS 1Z999AA10123456784."
    ),
    # refunds and their amounts
    RefundCode.already_refunded: N_("Order {order} has already been refunded in full ({amount})."),
    RefundCode.refund_amount_needed: N_(
        "I don't know the total of order {order} (the report had no prices). Say how much to refund, for example: /refund {order} 12.50. To have its total, import the Order report or connect Amazon with /amazon: both carry prices."
    ),
    RefundCode.refund_too_much: N_("You can refund at most {refundable} on order {order}; {amount} is too much."),
    RefundCode.refund_currency: N_(
        "Order {order} is paid in {currency_name} ({currency}), so it is refunded in {currency}; {typed} is another currency. Type the amount in {currency}, or just the number."
    ),
    RefundCode.refund_currency_decimals: N_(
        "Amounts in {currency} are whole numbers, so {typed} cannot be refunded on order {order}. Type a whole amount."
    ),
    RefundCode.refund_changed: N_(
        "Order {order} changed after this question was asked: {refunded} is refunded now. Nothing was done; send the refund again to see the new figures."
    ),
    RefundCode.refund_admin_in_group: N_(
        "I don't know the total of order {order}, so an administrator of the group must confirm this refund. Send it in the group, where an administrator can confirm it, or first import the Order report or connect Amazon with /amazon to have its prices."
    ),
    RefundCode.refund_unknown_word: N_(
        "I don't understand “{text}” in a refund, so nothing was done. Type the amount in digits, or no amount to refund in full; one of Amazon's reasons may follow, and a note after the reason. For example: /refund 6689831 12.50 DifferentItem wrong colour, or 退款 6689831 部分 12.50 发错货. Reasons: {choices}."
    ),
    RefundCode.refund_two_amounts: N_("I see two amounts, “{first}” and “{second}”. Send one amount per refund."),
    RefundCode.refund_full_and_amount: N_(
        "“{text}” means the whole order, but you also typed {typed}. Send /refund ORDER for the whole order, or /refund ORDER AMOUNT for part of it."
    ),
    RefundCode.refund_partial_needs_amount: N_(
        "How much? “{text}” means part of the order, so add the amount, for example: 退款 6689831 部分 12.50 or /refund 6689831 12.50"
    ),
    RefundCode.bad_amount: N_("“{text}” is not an amount. Type it like 12.50, 12,50 or $12.50."),
    RefundCode.amount_in_words: N_("Type the amount in digits, like 12.50: I don't read “{text}” as an amount."),
    RefundCode.ambiguous_amount: N_(
        "“{text}” could mean {thousands} or an amount with three decimals. Type {thousands} without the separator if that is what you mean, or the amount with at most two decimals, like 12.50."
    ),
    RefundCode.amount_decimals: N_(
        "“{text}” has more decimals than money has. Type the amount with at most two, like 12.50."
    ),
    RefundCode.amount_too_large: N_("“{text}” is far too large to be an amount. Check it and type it again."),
    RefundCode.amount_not_positive: N_("A refund must be more than zero; “{text}” is not."),
    # Amazon's reasons, decisions on returns
    ReasonCode.unknown_reason: N_("I don't know the reason “{text}”. Use one of Amazon's reasons: {choices}."),
    ReasonCode.missing_reason: N_(
        "Amazon needs a reason to cancel. Example: /cancel 113-4417305-6689831 NoInventory (or 缺货)."
    ),
    ReasonCode.unknown_decision: N_(
        "Choose restock, dispose or send back for a returned item (“{text}” is none of them)."
    ),
    # questions with buttons
    ConfirmationCode.confirmation_gone: N_("This question has already been answered."),
    ConfirmationCode.confirmation_not_yours: N_("Only the person who sent the command can answer this question."),
    ConfirmationCode.confirmation_expired: N_("This question has expired; send the command again."),
    ConfirmationCode.confirmation_admins_only: N_(
        "Only an administrator of the group can confirm this refund, because the order's total is unknown."
    ),
    # who may use the desk
    AccessCode.not_a_team: N_(
        "This group is not using dingdan yet. A group administrator can start it by sending /start here."
    ),
    AccessCode.not_a_member: N_(
        "I only work for members of a team group that uses dingdan. Ask your team to add you to their group, then try again."
    ),
    AccessCode.not_admin: N_("Only an administrator of this group can do that."),
    AccessCode.anonymous_admin: N_(
        "You are writing anonymously as the group. I can show orders, but changes are made under a person's own name so that the history says who did them: turn off “Remain anonymous” in your administrator rights, or send it from your own account."
    ),
    AccessCode.sent_as_channel: N_(
        "You are writing as a channel. Send it from your own account: only members of the team act on its orders."
    ),
    # commands, buttons, edits
    CommandCode.unknown_command: N_("I don't know that command. Send /help to see what I can do."),
    CommandCode.button_unknown: N_("This button no longer works. Send the command again."),
    CommandCode.edit_not_a_command: N_(
        "Edits are not commands: nothing was done. Send the command again as a new message."
    ),
    # the Selling Partner API (/amazon): never repeat what was typed, it may be a secret
    AmazonCode.amazon_private_only: N_(
        "Amazon credentials are set up in a private chat with me, by an administrator of the team: open a private chat with me and send /amazon there."
    ),
    AmazonCode.amazon_secrets_in_group: N_(
        "Never post Amazon credentials in a group: everyone in it can read them. Send /amazon set to me in a private chat instead, and since the group has seen them, generate a new client secret and authorise the app again in Seller Central."
    ),
    AmazonCode.amazon_not_admin: N_(
        "Only an administrator of {team} can connect it to Amazon or change the connection."
    ),
    AmazonCode.amazon_bad_set: N_(
        "Send all four, separated by spaces: /amazon set MARKETPLACE CLIENT_ID CLIENT_SECRET REFRESH_TOKEN, for example /amazon set ATVPDKIKX0DER amzn1.application-oa2-client.… amzn1.oa2-cs.v1.… Atzr|… (an ENDPOINT may follow: na, eu, fe or an https address)."
    ),
    AmazonCode.amazon_bad_marketplace: N_(
        "The first value after /amazon set must be the marketplace id, for example ATVPDKIKX0DER (US), A1PA6795UKMFR9 (Germany) or A1VC38T7YXB528 (Japan)."
    ),
    AmazonCode.amazon_bad_endpoint: N_(
        "The last value is not an endpoint I may use, so I stored nothing. Leave it out to use your marketplace's region, or give na, eu or fe; an address must be https on one of Amazon's Selling Partner API hosts: {hosts}."
    ),
    AmazonCode.amazon_bad_endpoint_allowed: N_(
        "The last value is not an endpoint I may use, so I stored nothing. Leave it out to use your marketplace's region, or give na, eu or fe; an address must be https on one of Amazon's Selling Partner API hosts ({hosts}) or on a host this server allows: {allowed}."
    ),
    AmazonCode.amazon_no_secret_key: N_(
        "I stored nothing: this server has no key to encrypt Amazon credentials with. Whoever runs the bot must generate one with <code>{command}</code>, set it as DINGDAN_SECRET_KEY in the bot's environment and restart the bot. Then send /amazon set again."
    ),
    AmazonCode.amazon_secrets_unreadable: N_(
        "I cannot read the Amazon credentials stored for {team}: the server's secret key (DINGDAN_SECRET_KEY) is missing or is not the one they were saved with. Whoever runs the bot can restore the key, or send /amazon set again with the credentials."
    ),
    AmazonCode.amazon_address_refused: N_(
        "The Selling Partner API address stored for {team} is not one I may use: {endpoint}. Send /amazon set again, without an endpoint or with na, eu or fe."
    ),
    AmazonCode.amazon_not_connected: N_(
        "{team} is not connected to Amazon. Connect it with /amazon set MARKETPLACE CLIENT_ID CLIENT_SECRET REFRESH_TOKEN in a private chat with me."
    ),
    AmazonCode.amazon_unknown_command: N_(
        "Send /amazon for the connection's state, /amazon set … to connect, /amazon sync to sync now or /amazon off to disconnect."
    ),
    # alert settings
    AlertCode.bad_alert_setting: N_(
        "I don't understand “{text}”. Examples: /alerts lead 24 4 · /alerts digest 09:00 · /alerts digest off · /alerts quiet 23:00 08:00 · /alerts quiet off · /alerts tz Asia/Shanghai · /alerts pending 3"
    ),
    # files: imports and exports
    FileCode.file_empty: N_("The file is empty. Download the report from Seller Central again and send it here."),
    FileCode.file_binary: N_(
        "This is not a text report (it looks like a spreadsheet, archive or picture). Download the report from Seller Central as a tab-separated text file and send that."
    ),
    FileCode.file_encoding: N_(
        "I can't read the characters in this file. Save it as UTF-8 (or download it from Seller Central again) and send it again."
    ),
    FileCode.file_not_report: N_(
        "This is not an Amazon order report I know: it lacks the columns {missing}. Send an Unshipped Orders report or an Order report from Seller Central."
    ),
    FileCode.file_too_large: N_(
        "The file is {size}; Telegram lets bots download at most 20 MB. Split the report by date range, or import it on the server with: dingdan import FILE"
    ),
    FileCode.import_busy: N_(
        "The orders in this file kept changing while I imported it; nothing was imported. Send it again in a moment."
    ),
    FileCode.nothing_to_export: N_(
        "Nothing to export: every shipment made here is already in an earlier file. To send a day again: /export 2026-11-21"
    ),
    FileCode.bad_export_day: N_(
        "“{text}” is not a day. Send /export for what is new, or /export 2026-11-21 for one day again."
    ),
    FileCode.export_day_out_of_range: N_(
        "I can export a day from 2000-01-01 up to today ({today}); “{text}” is not one of them. Send /export for what is new, or /export {today} for today again."
    ),
    FileCode.sheet_no_columns: N_(
        "This spreadsheet has no {missing} column. A sheet of shipments needs a header row with the order number, the tracking number and the carrier, for example: order-id, carrier-code, tracking-number (or 订单号, 物流商, 跟踪号)."
    ),
    FileCode.sheet_too_many_rows: N_(
        "This sheet has {rows} rows; I ship at most {max} at once. Split it into smaller files and send them one by one."
    ),
    FileCode.sheet_unreadable: N_(
        "I can't open this spreadsheet. Save it again as .xlsx or as a UTF-8 .csv and send it again."
    ),
    FileCode.sheet_no_rows: N_("This sheet of shipments has a header row but no shipments under it."),
}

ROW_ERRORS: dict[RowErrorCode, str] = {
    # the rows of a file
    RowErrorCode.bad_order_id: N_("line {line}: “{value}” is not an Amazon order number"),
    RowErrorCode.bad_date: N_("line {line}: “{value}” in {column} is not a date"),
    RowErrorCode.bad_quantity: N_("line {line}: “{value}” in {column} is not a quantity"),
    RowErrorCode.bad_amount: N_("line {line}: “{value}” in {column} is not an amount"),
    RowErrorCode.missing_value: N_("line {line}: {column} is empty"),
    RowErrorCode.duplicate_row: N_("line {line}: repeats line {first_line}"),
    RowErrorCode.short_row: N_("line {line}: has {got} columns, the header has {expected}"),
    RowErrorCode.long_row: N_("line {line}: has {got} columns, the header only {expected} (a tab inside a value?)"),
    RowErrorCode.currency_mismatch: N_("line {line}: another currency than the order's other lines"),
    RowErrorCode.order_has_bad_row: N_("line {line}: skipped with its order, because line {bad_line} is wrong"),
    # the returns importer: the row's order, or the lifecycle's refusal of its change
    RowErrorCode.unknown_order_row: N_(
        "line {line}: order {value} is not in this team's orders (import its order report first)"
    ),
    RowErrorCode.return_not_shipped: N_(
        "line {line}: order {order} was never shipped ({state}), so it cannot come back"
    ),
    RowErrorCode.refund_too_much: N_(
        "line {line}: that refund is more than order {order} has left to refund ({refundable})"
    ),
    RowErrorCode.refund_currency: N_("line {line}: the refund is not in the currency of order {order}"),
    RowErrorCode.refund_currency_decimals: N_(
        "line {line}: the refund has more decimals than amounts in {currency} have (order {order})"
    ),
    RowErrorCode.already_refunded: N_("line {line}: order {order} is already refunded in full"),
    RowErrorCode.change_refused: N_("line {line}: skipped: its order cannot take this change now"),
}


def refusal(r: Refusal, *, zone: str = "UTC") -> str:
    """One clear reply for a refusal, in the reader's language."""
    template = REFUSALS.get(r.code)
    if template is None:  # never, tests/test_refusal_codes.py sees to it: never show the code
        log.error("No sentence for the refusal %s", r.code)
        return _("Sorry, something went wrong on my side and nothing was changed. Please try again in a moment.")
    params = _display_params(r.params, zone)
    if r.code in (ReasonCode.unknown_reason, RefundCode.refund_unknown_word) and "choices" in r.params:
        refund = r.code == RefundCode.refund_unknown_word
        params["choices"] = listing(reason_choices(r.params["choices"], refund=refund))
    try:
        text = _(template, **params)
    except (KeyError, IndexError):
        text = _(template, **{**_placeholders(template), **params})
    return text + _who_did_it(r.params, zone)


def _display_params(params: Mapping[str, Any], zone: str = "UTC") -> dict[str, Any]:
    out: dict[str, Any] = {}
    currency = params.get("currency")
    if currency:
        out["currency_name"] = get_currency_name(currency, locale=cldr())
    for key, value in params.items():
        if key == "state" and value:
            out[key] = state_name(value)
        elif key in ("amount", "refundable", "refunded") and isinstance(value, Decimal | int | float):
            out[key] = money(Decimal(value), currency)
        elif isinstance(value, datetime):
            out[key] = when(value, zone)
        elif key == "size" and isinstance(value, int):
            out[key] = _("{mb} MB", mb=f"{value / 1_000_000:.1f}")
        elif (
            key in ("suggestions", "choices", "candidates", "missing", "items", "hosts", "allowed")
            and isinstance(value, Sequence)
            and not isinstance(value, str)
        ):
            out[key] = listing([str(v) for v in value])
        elif key == "carrier" and isinstance(value, str):
            out[key] = carrier_label(value, "", current())
        elif key == "kind" and value in REPORT_NAMES:
            out[key] = _(REPORT_NAMES[value])
        else:
            out[key] = value
    return out


def _placeholders(template: str) -> dict[str, str]:
    return {name: "?" for _lit, name, _spec, _conv in string.Formatter().parse(template) if name}


def _who_did_it(params: Mapping[str, Any], zone: str) -> str:
    if not params.get("last_action") or not isinstance(params.get("when"), datetime):
        return ""
    what = action_name(params["last_action"])
    at = when(params["when"], zone)
    if params.get("by_kind") == "user" and params.get("by"):
        return " " + _("Last change: {what} by {who}, {when}.", what=what, who=params["by"], when=at)
    return " " + _("Last change: {what}, {when}.", what=what, when=at)


def row_error(err: Any) -> str:
    """One line of an import's summary for a row that was not applied (a ``RowError``)."""
    template = ROW_ERRORS.get(err.code)
    params = {"line": err.line, **_display_params(err.params)}
    if template is None:  # never, as for refusals
        log.error("No sentence for the row error %s", err.code)
        return _("line {line}: skipped", line=err.line)
    try:
        return _(template, **params)
    except (KeyError, IndexError):
        return _(template, **{**_placeholders(template), **params})

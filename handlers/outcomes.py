"""How an action's outcome reads: what was done, or the question to confirm it."""

from __future__ import annotations

from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts as render
from bot.buttons import Confirm, Decline, ReturnDecision
from bot.carriers import label as carrier_label
from bot.domain import Order, Refusal
from bot.i18n import _, current, listing, money
from bot.refusal_codes import CommandCode
from bot.services import Ask, Done
from bot.storage import Team
from handlers.common import answer
from handlers.context import DeskContext


async def usage(update: Update, context: DeskContext) -> None:
    """What to send instead, with an example: the running command's usage sentence."""
    command = context.command
    if command is None or command.usage is None:
        raise Refusal(CommandCode.unknown_command)
    await answer(update, _(command.usage))


def decision_buttons(order_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(_("Restock"), callback_data=ReturnDecision(order_id, "restock").encode()),
        InlineKeyboardButton(_("Dispose"), callback_data=ReturnDecision(order_id, "dispose").encode()),
        InlineKeyboardButton(_("Send back"), callback_data=ReturnDecision(order_id, "send_back").encode()),
    ]])  # fmt: skip


def done_text(done: Done, zone: str) -> str:
    order, d = done.order, done.event.details
    oid = order.order_id
    match done.change.action:
        case "ship":
            return _("Order {order} shipped with {carrier}, tracking number {tracking}.", order=oid,
                     carrier=carrier_label(order.carrier, order.carrier_name, current()), tracking=order.tracking)  # fmt: skip
        case "ship_part":
            shipped = listing([f"{n} × {_sku(order, item)}" for item, n in d.get("items", {}).items()])
            left = sum(i.quantity_to_ship for i in order.items)
            return _("Shipped {items} of order {order} with {carrier}, tracking number {tracking}; {left} still to ship.",
                     items=shipped, order=oid, carrier=carrier_label(order.carrier, order.carrier_name, current()), tracking=order.tracking,
                     left=left)  # fmt: skip
        case "correct_tracking":
            return _("Tracking number of order {order} corrected to {carrier} {tracking}.", order=oid,
                     carrier=carrier_label(order.carrier, order.carrier_name, current()), tracking=order.tracking)  # fmt: skip
        case "cancel":
            return _("Order {order} cancelled ({reason}). Remember to cancel it in Seller Central too if it was not cancelled there.",
                     order=oid, reason=render.reason_name(d.get("reason", "")))  # fmt: skip
        case "deliver":
            return _("Order {order} marked delivered.", order=oid)
        case "mark_lost":
            return _("Order {order} marked lost. Contact the carrier and refund the buyer with {command}.", order=oid,
                     command=suggest("refund", oid))  # fmt: skip
        case "request_return":
            return _("Return requested for order {order}. When the item arrives, send {command}.", order=oid,
                     command=suggest("received", oid))  # fmt: skip
        case "receive_return":
            return _("The return of order {order} has arrived. What should happen to the item?", order=oid)
        case "restock":
            return _("The return of order {order} is closed: the item goes back into stock.", order=oid)
        case "dispose":
            return _("The return of order {order} is closed: the item is disposed of.", order=oid)
        case "send_back":
            return _("The return of order {order} is closed: the item is sent back.", order=oid)
        case "refund":
            amount = money(Decimal(str(d["amount"])), order.currency)
            if order.total is None:
                return _("Refunded {amount} on order {order}.", order=oid, amount=amount)
            if order.money.value == "refunded":
                return _("Order {order} refunded in full: {amount}.", order=oid, amount=amount)
            return _("Refunded {amount} on order {order}; {left} can still be refunded.", order=oid, amount=amount,
                     left=money(order.refundable, order.currency))  # fmt: skip
    return _("Order {order} is now {state}.", order=oid, state=render.state_name(order.goods))


#: The Chinese keyword a reply suggests for a command: (Simplified, Traditional).
SUGGESTED_KEYWORDS = {
    "received": ("收到退货", "收到退貨"),
    "refund": ("退款", "退款"),
    "correct": ("改单号", "改單號"),
    "order": ("查询", "查詢"),
    "return": ("退货", "退貨"),
    "delivered": ("送达", "送達"),
}


def suggest(command: str, order_id: str) -> str:
    """What to send next, as the reader types it: ``收到退货 6689831`` in Chinese (the keyword and
    the short number), ``/received 113-4417305-6689831`` in English."""
    locale = current()
    words = SUGGESTED_KEYWORDS.get(command)
    if words is not None and locale.startswith("zh"):
        typed = f"{words[1] if locale == 'zh_Hant' else words[0]} {order_id[-7:]}"
    else:
        typed = f"/{command} {order_id}"
    return typed


def _sku(order: Order, item_id: str) -> str:
    return next((i.sku or i.item_id for i in order.items if i.item_id == item_id), item_id)


def ask_text(ask: Ask) -> str:
    order: Order = ask.order
    if ask.action == "refund":
        return refund_question(ask)
    return _(
        "Order {order} was shipped with {old_carrier} {old_tracking}. Replace that with {carrier} {tracking}?",
        order=order.order_id, old_carrier=carrier_label(order.carrier, order.carrier_name, current()), old_tracking=order.tracking,
        carrier=ask.details.get("carrier_name") or ask.details.get("carrier"), tracking=ask.details.get("tracking"),
    )  # fmt: skip


def refund_question(ask: Ask) -> str:
    """The amount in the order's currency, what was refunded before and what it comes to after."""
    order: Order = ask.order
    amount = Decimal(str(ask.details["amount"]))
    figures = {"order": order.order_id, "amount": money(amount, order.currency),
               "refunded": money(order.refunded, order.currency),
               "after": money(order.refunded + amount, order.currency)}  # fmt: skip
    lines = []
    if ask.code == "refund_before_return_arrives":
        lines.append(_("The return of order {order} is still on its way back. The usual advice is to refund when it "
                       "arrives.", order=order.order_id))  # fmt: skip
    if order.total is None:
        lines.append(_("Refund {amount} on order {order}?\nAlready refunded: {refunded}.\n"
                       "Refunded after this: {after}.", **figures))  # fmt: skip
    else:
        lines.append(_("Refund {amount} on order {order}?\nAlready refunded: {refunded} of {total}.\n"
                       "Refunded after this: {after} of {total}.", total=money(order.total, order.currency),
                       **figures))  # fmt: skip
    reason, note = ask.details.get("reason"), ask.details.get("note")
    if reason and note:
        lines.append(_("Reason: {reason} ({note}).", reason=render.refund_reason_name(reason), note=note))
    elif reason:
        lines.append(_("Reason: {reason}.", reason=render.refund_reason_name(reason)))
    if ask.admins_confirm:
        lines.append(_("I don't know the total of this order (the Unshipped Orders report has no prices), so I "
                       "cannot check the amount against what the buyer paid: an administrator of the group must "
                       "confirm. To have the prices, import the Order report or connect Amazon with "
                       "/amazon."))  # fmt: skip
    return "\n".join(lines)


def ask_buttons(ask: Ask) -> InlineKeyboardMarkup:
    if ask.code == "refund_before_return_arrives":
        yes, no = _("Refund now"), _("Wait for the return")
    elif ask.action == "refund":
        amount = money(Decimal(str(ask.details["amount"])), ask.order.currency)
        yes, no = _("Refund {amount}", amount=amount), _("Don't refund")
    else:
        yes, no = _("Replace the tracking number"), _("Keep it")
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(yes, callback_data=Confirm(ask.token).encode()),
        InlineKeyboardButton(no, callback_data=Decline(ask.token).encode()),
    ]])  # fmt: skip


async def reply_outcome(update: Update, context: DeskContext, team: Team, outcome: Done | Ask) -> None:
    if isinstance(outcome, Ask):
        await answer(update, ask_text(outcome), ask_buttons(outcome))
        return
    markup = decision_buttons(outcome.order.order_id) if outcome.change.action == "receive_return" else None
    await answer(update, done_text(outcome, team.timezone), markup)

"""Fulfilment: ship, correct tracking, cancel, delivered, lost, address changes."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts as render
from bot.buttons import AddressCancel
from bot.carriers import Carrier, check_tracking, resolve_carrier
from bot.domain import Goods, Refusal
from bot.i18n import _
from bot.parsing import parse_order_ref, resolve_cancel_reason
from handlers.common import actor_of, answer, handles_refusals, team_of
from handlers.context import DeskContext
from handlers.outcomes import reply_outcome, usage


@handles_refusals
async def ship(update: Update, context: DeskContext) -> None:
    """/ship ORDER CARRIER TRACKING (发货 ORDER 顺丰 SF…): confirm a shipment."""
    args = context.args or []
    if len(args) < 3:
        await usage(update, context)
        return
    team = await team_of(update, context)
    ref = parse_order_ref(args[0])
    carrier, tracking, items = split_shipment(args[1:])
    outcome = await context.services.desk.ship(
        team.team_id, ref, actor_of(update), carrier=carrier.code,
        carrier_name=carrier.name if carrier.code == "Other" else "", tracking=tracking, items=items,
    )  # fmt: skip
    await reply_outcome(update, context, team, outcome)


def split_shipment(words: list[str]) -> tuple[Carrier, str, list[str]]:
    """CARRIER TRACKING [ITEM…]: carrier names may have spaces ("Royal Mail", "DHL eCommerce"),
    and items (SKUs) may follow the tracking number for a partial shipment."""
    for end in range(1, len(words)):
        try:
            carrier = resolve_carrier(" ".join(words[:end]))
            return carrier, check_tracking(carrier, words[end]), words[end + 1 :]
        except Refusal:
            continue
    # Nothing fits: explain with the plain reading (tracking number last).
    carrier = resolve_carrier(" ".join(words[:-1]))
    return carrier, check_tracking(carrier, words[-1]), []


@handles_refusals
async def correct(update: Update, context: DeskContext) -> None:
    """/correct ORDER CARRIER TRACKING: replace a shipped order's tracking number (asks first)."""
    args = context.args or []
    if len(args) < 3:
        await usage(update, context)
        return
    team = await team_of(update, context)
    ref = parse_order_ref(args[0])
    carrier = resolve_carrier(" ".join(args[1:-1]))
    tracking = check_tracking(carrier, args[-1])
    outcome = await context.services.desk.act(
        team.team_id, ref, "correct_tracking", actor_of(update), carrier=carrier.code,
        carrier_name=carrier.name if carrier.code == "Other" else "", tracking=tracking,
    )  # fmt: skip
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def cancel(update: Update, context: DeskContext) -> None:
    """/cancel ORDER REASON (取消 ORDER 缺货): cancel before shipment with Amazon's reason."""
    args = context.args or []
    if len(args) < 2:
        await usage(update, context)
        return
    team = await team_of(update, context)
    ref = parse_order_ref(args[0])
    reason = resolve_cancel_reason(" ".join(args[1:]))
    outcome = await context.services.desk.act(team.team_id, ref, "cancel", actor_of(update), reason=reason)
    await reply_outcome(update, context, team, outcome)


async def _simple(update: Update, context: DeskContext, action: str) -> None:
    args = context.args or []
    if len(args) != 1:
        await usage(update, context)
        return
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, parse_order_ref(args[0]), action, actor_of(update))
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def delivered(update: Update, context: DeskContext) -> None:
    """/delivered ORDER (送达 ORDER): the carrier delivered it."""
    await _simple(update, context, "deliver")


@handles_refusals
async def lost(update: Update, context: DeskContext) -> None:
    """/lost ORDER (丢件 ORDER): the carrier lost it."""
    await _simple(update, context, "mark_lost")


@handles_refusals
async def address(update: Update, context: DeskContext) -> None:
    """/address ORDER (改地址 ORDER): the buyer wants another address; say what Amazon's policy allows."""
    args = context.args or []
    if len(args) != 1:
        await usage(update, context)
        return
    team = await team_of(update, context)
    order = await context.services.desk.load(team.team_id, parse_order_ref(args[0]))
    if order.goods in (Goods.pending, Goods.unshipped):
        text = _(
            "Order {order} has not shipped. Amazon does not let sellers change the address: cancel it with the "
            "reason “address undeliverable” and ask the buyer to order again with the right address.",
            order=order.order_id,
        )
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Cancel the order (address undeliverable)"),
                        callback_data=AddressCancel(order.order_id).encode(),
                    )
                ]
            ]
        )
        await answer(update, text, markup)
    elif order.goods in (Goods.shipped, Goods.partially_shipped):
        await answer(update, _(
            "Order {order} has already shipped with {carrier} {tracking} and cannot be redirected through Amazon. "
            "Ask {carrier} to intercept the parcel, or ask the buyer to refuse it and order again.",
            order=order.order_id, carrier=order.carrier_name or order.carrier, tracking=order.tracking,
        ))  # fmt: skip
    else:
        await answer(update, _(
            "Order {order} is {state}; changing its address no longer applies.",
            order=order.order_id, state=render.state_name(order.goods),
        ))  # fmt: skip


@handles_refusals
async def address_cancel_button(update: Update, context: DeskContext) -> None:
    """The one-tap cancel under the address advice."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, AddressCancel)
    order_id = button.order_id
    team = await team_of(update, context)
    outcome = await context.services.desk.act(
        team.team_id, order_id, "cancel", actor_of(update), reason="ShippingAddressUndeliverable"
    )
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply_outcome(update, context, team, outcome)

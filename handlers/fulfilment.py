"""Fulfilment: ship, correct tracking, cancel, delivered, lost, address changes."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts as render
from bot.buttons import AddressCancel
from bot.carriers import Carrier, check_tracking, detect, from_stored, resolve_carrier, split_glued
from bot.carriers import label as carrier_label
from bot.domain import Goods, Order, Refusal
from bot.i18n import _, current
from bot.parsing import OrderRef, parse_order_ref, resolve_cancel_reason, resolve_decision
from bot.refusal_codes import ShippingCode
from bot.storage import Team
from handlers.common import actor_of, answer, handles_refusals, team_of
from handlers.context import DeskContext
from handlers.outcomes import reply_outcome, usage


@handles_refusals
async def ship(update: Update, context: DeskContext) -> None:
    """/ship ORDER [CARRIER] TRACKING (发货 ORDER 顺丰 SF…): confirm a shipment.

    The carrier may be left out when the number's shape names it or the team has a default
    carrier; it may be typed against the number (顺丰SF…); the number may have spaces.
    """
    args = context.args or []
    if len(args) < 2:
        await usage(update, context)
        return
    team = await team_of(update, context)
    ref = parse_order_ref(args[0])
    carrier, tracking, items = await read_shipment(context, team, ref, args[1:])
    outcome = await context.services.desk.ship(
        team.team_id, ref, actor_of(update), carrier=carrier.code,
        carrier_name=carrier.name if carrier.code == "Other" else "", tracking=tracking, items=items,
    )  # fmt: skip
    await reply_outcome(update, context, team, outcome)


async def read_shipment(
    context: DeskContext, team: Team, ref: OrderRef, words: list[str]
) -> tuple[Carrier, str, list[str]]:
    """[CARRIER] TRACKING [ITEM…] as /ship and the 🚚 reply read them (:func:`split_shipment`),
    with the team's default carrier. 黑貓 is Yamato in Japan and T-Cat in Taiwan: when the
    carrier is unclear, the order's marketplace says which (or the refusal asks)."""
    default = team_default(team)
    try:
        return split_shipment(words, default=default)
    except Refusal as refusal:
        if refusal.code != ShippingCode.carrier_unclear:
            raise
    order = await context.services.desk.load(team.team_id, ref)
    return split_shipment(words, default=default, marketplace=marketplace_of(order))


def team_default(team: Team) -> Carrier | None:
    """The team's default carrier (``/carrier``), for a number whose shape names none; None
    when it has none, or one the desk no longer knows by that name."""
    stored = team.settings.default_carrier
    if not stored:
        return None
    try:
        return from_stored(stored)
    except Refusal:
        return None


def marketplace_of(order: Order) -> str | None:
    """The country an order was sold in, as far as its destination and currency tell."""
    if order.ship_country:
        return order.ship_country.upper()
    return {"JPY": "JP", "TWD": "TW", "USD": "US", "GBP": "GB", "CNY": "CN"}.get(order.currency)


def _tracking_from(carrier: Carrier, words: list[str]) -> tuple[str, int] | None:
    """The tracking number at the start of ``words``, typed whole or in groups with spaces
    ("1Z 999 AA1 …"), and how many words it took. A first word that is a number of
    ``carrier``'s shape by itself is the number: what follows it are items (``DHL 1234567890
    22`` ships SKU 22, never tracking 123456789022). Otherwise the longest run of words that
    makes such a number."""
    found: tuple[str, int] | None = None
    for end in range(1, len(words) + 1):
        piece = "".join(words[:end])
        if not piece.isascii() or not piece.replace("-", "").isalnum():
            break
        try:
            found = check_tracking(carrier, piece), end
        except Refusal as refusal:
            if refusal.code == ShippingCode.domestic_carrier:
                raise
            continue
        if end == 1:
            return found
    return found


def split_shipment(
    words: list[str], *, default: Carrier | None = None, marketplace: str | None = None
) -> tuple[Carrier, str, list[str]]:
    """[CARRIER] TRACKING [ITEM…]: carrier names may have spaces ("Royal Mail", "DHL eCommerce")
    or be glued to the number (顺丰SF…); the number may be typed in groups; the carrier may be
    left out when the number's shape names it (or the team has a default); items (SKUs) may
    follow the tracking number for a partial shipment. A domestic courier is refused."""
    for end in range(1, len(words)):
        try:
            carrier = resolve_carrier(" ".join(words[:end]), marketplace)
        except Refusal as refusal:
            if refusal.code == ShippingCode.carrier_unclear:
                raise
            continue
        if carrier.domestic:
            raise Refusal(ShippingCode.domestic_carrier, carrier=carrier.name, tracking=" ".join(words[end:]))
        found = _tracking_from(carrier, words[end:])
        if found is not None:
            tracking, used = found
            return carrier, tracking, words[end + used :]
    glued = split_glued(words[0], marketplace) if words else None
    if glued is not None:
        carrier, tracking = glued
        return carrier, check_tracking(carrier, tracking), words[1:]
    # No carrier named: the number's shape names it, or the team's default carrier ships it.
    for end in range(len(words), 0, -1):
        piece = "".join(words[:end])
        detected = detect(piece, marketplace)
        if detected is not None:
            return detected, check_tracking(detected, piece), words[end:]
    if default is not None:
        found = _tracking_from(default, words)
        if found is not None:
            tracking, used = found
            return default, tracking, words[used:]
    if len(words) == 1 or all(word.isascii() and word.isdigit() for word in words):
        # A number alone ("1234 5678 9012" too): no carrier was named and none can be told.
        raise Refusal(ShippingCode.carrier_not_detected, tracking=" ".join(words))
    # Nothing fits: explain with the plain reading (tracking number last).
    carrier = resolve_carrier(" ".join(words[:-1]), marketplace)
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
    carrier, tracking, _items = await read_shipment(context, team, ref, args[1:])
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
async def decide(update: Update, context: DeskContext) -> None:
    """/decide ORDER restock|dispose|send_back (入库 ORDER, 销毁 ORDER, 退回 ORDER): what happens
    to a returned item that arrived. The decision and the order may come in either order."""
    args = context.args or []
    if len(args) != 2:
        await usage(update, context)
        return
    try:
        decision, order = resolve_decision(args[0]), args[1]
    except Refusal:
        decision, order = resolve_decision(args[1]), args[0]
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, parse_order_ref(order), decision, actor_of(update))
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
            order=order.order_id, carrier=carrier_label(order.carrier, order.carrier_name, current()), tracking=order.tracking,
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

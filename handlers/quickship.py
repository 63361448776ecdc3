"""🚚 under an alert: ask only for the tracking number, as a Telegram ForceReply bound to the order.

The prompt's first line is ``🚚 <order id>``: a reply to that message (and to no other) is
the tracking number of that order, read as /ship reads what follows the order
(``handlers.fulfilment.read_shipment``): a carrier named before the number (黑貓 by the
order's marketplace), or the number's shape, or the team's default carrier; SKUs after the
number ship only those items. The reply is a command like any other: only a verified
member of the team acts, an edit never acts (it is another update), and the desk refuses an
order already shipped with who did it.
"""

from __future__ import annotations

import html
import re

from telegram import Message, Update
from telegram.ext import filters

from bot import carriers
from bot.buttons import ShipPrompt
from bot.domain import ORDER_ID_RE, Goods, Refusal
from bot.i18n import Raw, _
from bot.parsing import OrderRef
from bot.refusal_codes import LookupCode
from bot.storage import OutgoingMessage
from handlers.common import actor_of, handles_refusals, send_later, team_of
from handlers.context import DeskContext
from handlers.fulfilment import read_shipment
from handlers.outcomes import reply_outcome

#: The prompt's first line: the truck and the order id (``ORDER_ID_RE``), in every language.
_PROMPT_RE = re.compile(r"🚚 (\S+)")
#: States an order can still be shipped from.
_SHIPPABLE = frozenset({Goods.unshipped, Goods.partially_shipped})


def prompted_order(message: Message | None) -> str | None:
    """The order a message answers, when it replies to the desk's tracking-number prompt."""
    reply = message.reply_to_message if message is not None else None
    if reply is None or reply.from_user is None or not reply.text:
        return None
    try:
        if reply.from_user.id != reply.get_bot().id:
            return None
    except RuntimeError:  # a message built without its bot: nobody's reply to our prompt
        return None
    found = _PROMPT_RE.fullmatch(reply.text.split("\n", 1)[0].strip())
    return found.group(1) if found and ORDER_ID_RE.match(found.group(1)) else None


class _PromptReply(filters.MessageFilter):
    """A message that replies to the desk's tracking-number prompt."""

    def filter(self, message: Message) -> bool:
        return prompted_order(message) is not None


PROMPT_REPLY = _PromptReply(name="PromptReply")


@handles_refusals
async def ask_tracking(update: Update, context: DeskContext) -> None:
    """🚚 pressed: the order's tracking number is asked for, in a message to reply to."""
    query = update.callback_query
    chat, user = update.effective_chat, update.effective_user
    assert query is not None and chat is not None and user is not None and isinstance(context.button, ShipPrompt)
    team = await team_of(update, context)
    desk = context.services.desk
    order_id = context.button.order_id
    order = await desk.store.order(team.team_id, order_id)
    if order is None:
        raise Refusal(LookupCode.unknown_order, ref=order_id)
    if order.goods not in _SHIPPABLE:
        # Shipped meanwhile (by whom, with what), cancelled…: the desk's own refusal.
        await desk.act(team.team_id, order_id, "ship", actor_of(update), carrier="", carrier_name="", tracking="")
    await query.answer()
    person = f'<a href="tg://user?id={user.id}">{html.escape(user.full_name)}</a>'
    text = f"🚚 {order_id}\n" + _(
        "{person}, reply to this message with the tracking number of order {order}. I read the carrier from "
        "the number; to name it, put it first (云途 YT1234567890123456).",
        person=Raw(person), order=order_id,
    )  # fmt: skip
    payload = {"text": text, "force_reply": {"placeholder": _("Tracking number")}}
    await send_later(update, OutgoingMessage(chat.id, None, payload))


@handles_refusals
async def tracking_reply(update: Update, context: DeskContext) -> None:
    """A reply to the prompt: ship its order with the number (and the carrier named or read)."""
    message = update.effective_message
    order_id = prompted_order(message)
    assert message is not None and message.text is not None and order_id is not None
    team = await team_of(update, context)
    ref = OrderRef(full=order_id)
    # Read as /ship reads what follows the order: 黑貓 by the order's marketplace, the team's default carrier.
    carrier, tracking, items = await read_shipment(context, team, ref, message.text.split())
    outcome = await context.services.desk.ship(
        team.team_id, ref, actor_of(update), carrier=carrier.code,
        carrier_name=carrier.name if carrier.code == carriers.OTHER else "", tracking=tracking, items=items,
    )  # fmt: skip
    await reply_outcome(update, context, team, outcome)

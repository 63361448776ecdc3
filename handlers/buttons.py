"""Button presses, routed by the decoded button's type (``bot.buttons``).

Callback data comes from the client: data no button of this bot writes (old, truncated or
forged) gets one clear answer and reaches no handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot import buttons as b
from bot.domain import Refusal
from bot.refusal_codes import CommandCode
from handlers import aftersale, alerts, fulfilment, lookup, quickship, settings
from handlers.common import handles_refusals
from handlers.context import DeskContext

ROUTES: dict[type[b.Button], Callable[[Update, DeskContext], Awaitable[None]]] = {
    b.Confirm: aftersale.confirm_button,
    b.Decline: aftersale.decline_button,
    b.ReturnDecision: aftersale.decision_button,
    b.CancelReason: aftersale.cancel_reason_button,
    b.AddressCancel: fulfilment.address_cancel_button,
    b.Page: lookup.page_button,
    b.OrderPage: lookup.order_page_button,
    b.Language: settings.lang_button,
    b.ShipPrompt: quickship.ask_tracking,
    b.Snooze: alerts.snooze,
    b.ReturnPrompt: alerts.return_decision_prompt,
    b.MarkLost: alerts.mark_lost,
    b.AlertSetting: alerts.settings_button,
    b.DefaultCarrier: settings.carrier_button,
}


@handles_refusals
async def pressed(update: Update, context: DeskContext) -> None:
    """Any button: decode it, then run the handler of its kind."""
    query = update.callback_query
    assert query is not None
    try:
        button = b.decode(query.data)
    except b.BadButton:
        raise Refusal(CommandCode.button_unknown) from None
    context.button = button
    await ROUTES[type(button)](update, context)

"""After the sale: refunds, returns, arrivals and what to do with returned items."""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot import texts as render
from bot.buttons import CANCEL_CHOICES, CancelReason, Confirm, Decline, ReturnDecision
from bot.domain import Refusal
from bot.i18n import _
from bot.parsing import parse_order_ref, read_refund, resolve_decision
from bot.services import QUESTION_STILL_OPEN
from handlers import fulfilment
from handlers.common import actor_of, answer, drop_buttons, handles_refusals, team_of
from handlers.context import DeskContext
from handlers.outcomes import reply_outcome, usage


@handles_refusals
async def cancel(update: Update, context: DeskContext) -> None:
    """/cancel ORDER [REASON] (取消 ORDER 缺货): with the order alone, Amazon's reasons as buttons."""
    args = context.args or []
    if len(args) != 1:
        await fulfilment.cancel(update, context)
        return
    team = await team_of(update, context)
    desk = context.services.desk
    order = await desk.load(team.team_id, parse_order_ref(args[0]))
    if not desk.lifecycle.allowed("cancel", order.goods):
        # The lifecycle's own refusal (already shipped, already cancelled…), before any button.
        await desk.act(team.team_id, order.order_id, "cancel", actor_of(update), reason=CANCEL_CHOICES[0])
    buttons = [
        InlineKeyboardButton(render.reason_name(reason), callback_data=CancelReason(order.order_id, reason).encode())
        for reason in CANCEL_CHOICES
    ]
    markup = InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
    await answer(update, _("Why is order {order} cancelled? Choose Amazon's reason:", order=order.order_id), markup)


@handles_refusals
async def cancel_reason_button(update: Update, context: DeskContext) -> None:
    """A reason pressed under the question: cancel the order with it."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, CancelReason)
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, button.order_id, "cancel", actor_of(update),
                                              reason=button.reason)  # fmt: skip
    await query.answer()
    await drop_buttons(update, button.order_id)
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def refund(update: Update, context: DeskContext) -> None:
    """/refund ORDER [AMOUNT] [REASON [NOTE]] (退款 ORDER 部分 12.50): ask to refund a shipped order.

    In full without an amount. Nothing moves until the yes under the question.
    """
    args = context.args or []
    if not args:
        await usage(update, context)
        return
    team = await team_of(update, context)
    ref = parse_order_ref(args[0])
    wanted = read_refund(args[1:])
    outcome = await context.services.desk.refund(team.team_id, ref, actor_of(update), wanted,
                                                 is_admin=context.services.access.is_admin)  # fmt: skip
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def request_return(update: Update, context: DeskContext) -> None:
    """/return ORDER [REASON] (退货 ORDER): the buyer asked to return it."""
    args = context.args or []
    if not args:
        await usage(update, context)
        return
    team = await team_of(update, context)
    outcome = await context.services.desk.act(
        team.team_id, parse_order_ref(args[0]), "request_return", actor_of(update), reason=" ".join(args[1:])
    )
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def received(update: Update, context: DeskContext) -> None:
    """/received ORDER (收到退货 ORDER): the returned item arrived; ask what to do with it."""
    args = context.args or []
    if len(args) != 1:
        await usage(update, context)
        return
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, parse_order_ref(args[0]), "receive_return",
                                              actor_of(update))  # fmt: skip
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def decision_button(update: Update, context: DeskContext) -> None:
    """Restock / dispose / send back, pressed under a return-arrived message."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, ReturnDecision)
    order_id, decision = button.order_id, resolve_decision(button.decision)
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, order_id, decision, actor_of(update))
    await query.answer()
    await drop_buttons(update, order_id)
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def confirm_button(update: Update, context: DeskContext) -> None:
    """Yes to a question the desk asked (a refund, a tracking correction)."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, Confirm)
    team = await team_of(update, context)
    try:
        outcome = await context.services.desk.confirm(button.token, actor_of(update),
                                                      is_admin=context.services.access.is_admin)  # fmt: skip
    except Refusal as refusal:
        if refusal.code not in QUESTION_STILL_OPEN:
            await _close_question(query)
        raise
    await query.answer()
    await _close_question(query)
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def decline_button(update: Update, context: DeskContext) -> None:
    """No to a question: nothing is done."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, Decline)
    await team_of(update, context)
    try:
        asked = await context.services.desk.decline(button.token, actor_of(update),
                                                    is_admin=context.services.access.is_admin)  # fmt: skip
    except Refusal as refusal:
        if refusal.code not in QUESTION_STILL_OPEN:
            await _close_question(query)
        raise
    await query.answer()
    await _close_question(query)
    await answer(update, _("Nothing was done to order {order}.", order=asked.order_id))


async def _close_question(query: CallbackQuery) -> None:
    """An answered, expired or refused question loses its buttons."""
    try:
        await query.edit_message_reply_markup(None)
    except TelegramError:
        pass  # already taken off by the other tap

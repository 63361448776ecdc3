"""After the sale: refunds, returns, arrivals and what to do with returned items."""

from __future__ import annotations

from telegram import Update

from bot.app import DeskContext
from bot.i18n import _
from bot.parsing import parse_money, parse_order_ref, resolve_decision
from handlers.common import actor_of, answer, drop_buttons, handles_refusals, team_of
from handlers.outcomes import reply_outcome, usage

_CURRENCY_CODES = frozenset({"USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD", "MXN", "SEK", "PLN", "INR", "SGD", "AED"})


@handles_refusals
async def refund(update: Update, context: DeskContext) -> None:
    """/refund ORDER [AMOUNT] [REASON] (退款 ORDER 12.50): refund a shipped order, in full by default."""
    args = context.args or []
    if not args:
        await usage(update, "refund", args)
        return
    team = await team_of(update, context)
    ref = parse_order_ref(args[0])
    rest = args[1:]
    amount = currency = None
    if rest and _looks_like_amount(rest[0]):
        typed = rest.pop(0)
        if rest and rest[0].upper() in _CURRENCY_CODES:  # "12.50 USD"
            typed += " " + rest.pop(0)
        amount, currency = parse_money(typed)
    reason = " ".join(rest)
    outcome = await context.services.desk.act(
        team.team_id, ref, "refund", actor_of(update), amount=amount, currency=currency, reason=reason
    )
    await reply_outcome(update, context, team, outcome)


def _looks_like_amount(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


@handles_refusals
async def request_return(update: Update, context: DeskContext) -> None:
    """/return ORDER [REASON] (退货 ORDER): the buyer asked to return it."""
    args = context.args or []
    if not args:
        await usage(update, "return", args)
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
        await usage(update, "received", args)
        return
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, parse_order_ref(args[0]), "receive_return",
                                              actor_of(update))  # fmt: skip
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def decision_button(update: Update, context: DeskContext) -> None:
    """Restock / dispose / send back, pressed under a return-arrived message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, order_id, decision = query.data.split(":", 2)
    decision = resolve_decision(decision)
    team = await team_of(update, context)
    outcome = await context.services.desk.act(team.team_id, order_id, decision, actor_of(update))
    await query.answer()
    await drop_buttons(update, order_id)
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def confirm_button(update: Update, context: DeskContext) -> None:
    """Yes to a question the desk asked (refund before the return arrives, tracking correction)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    team = await team_of(update, context)
    outcome = await context.services.desk.confirm(query.data.split(":", 1)[1], actor_of(update))
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply_outcome(update, context, team, outcome)


@handles_refusals
async def decline_button(update: Update, context: DeskContext) -> None:
    """No to a question: nothing is done."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await team_of(update, context)
    asked = await context.services.desk.decline(query.data.split(":", 1)[1], actor_of(update))
    await query.answer()
    await query.edit_message_reply_markup(None)
    await answer(update, _("Nothing was done to order {order}.", order=asked.order_id))



"""Chinese keywords at the start of a plain message: 发货 …, 取消 …, 退款 …, 查询 ….

Telegram command names are Latin only; teams that type Chinese all day start a message
with the action instead. The keyword picks the same callback the command would.
"""

from __future__ import annotations

from telegram import Update

from bot.app import DeskContext
from bot.parsing import match_keyword
from handlers import aftersale, alerts, files, fulfilment, lookup, settings
from handlers.common import Callback

BY_COMMAND: dict[str, Callback] = {
    "ship": fulfilment.ship,
    "correct": fulfilment.correct,
    "cancel": fulfilment.cancel,
    "delivered": fulfilment.delivered,
    "lost": fulfilment.lost,
    "address": fulfilment.address,
    "refund": aftersale.refund,
    "return": aftersale.request_return,
    "received": aftersale.received,
    "order": lookup.show_order,
    "orders": lookup.list_orders,
    "history": lookup.history,
    "help": settings.show_help,
    "lang": settings.lang,
    "alerts": alerts.alerts_command,
    "export": files.export,
}


async def keyword(update: Update, context: DeskContext) -> None:
    """A plain message: act on it only if it starts with an action keyword; ignore chatter."""
    message = update.effective_message
    if message is None or not message.text:
        return
    matched = match_keyword(message.text)
    if matched is None:
        return
    command, args = matched
    callback = BY_COMMAND.get(command)
    if callback is None:
        return
    context.args = args
    await callback(update, context)

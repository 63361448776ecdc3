"""Chinese keywords at the start of a plain message: 发货 …, 取消 …, 退款 …, 查询 ….

Telegram command names are Latin only; teams that type Chinese all day start a message
with the action instead. The keyword picks the command from the command table
(``handlers.commands``), which runs as the slash command would.
"""

from __future__ import annotations

from telegram import Update

from handlers.commands import BY_NAME, KEYWORD
from handlers.context import DeskContext


async def keyword(update: Update, context: DeskContext) -> None:
    """A plain message: act on it only if it starts with an action keyword; ignore chatter."""
    message = update.effective_message
    if message is None or not message.text:
        return
    matched = KEYWORD(message.text)
    if matched is None:
        return
    name, args = matched
    command = BY_NAME[name]
    context.args = args
    context.command = command
    await command.callback(update, context)

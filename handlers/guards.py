"""Updates that never act: edited messages, and people joining or leaving a team's group.

An edit of ``/refund … 5`` into ``/refund … 6`` must not refund again: Telegram delivers
edits as their own updates, and the command handlers take only new messages. The person is
told once per message that edits are not commands.

Leaving the group revokes access at once: the ``chat_member`` update (sent to a bot that is
an administrator) and the "left the group" service message both record it, so neither a
button in the group nor a private chat serves that person any more.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus

from bot import texts as render
from bot.domain import Refusal
from bot.refusal_codes import CommandCode
from handlers.commands import KEYWORD
from handlers.common import answer
from handlers.context import DeskContext
from handlers.quickship import prompted_order


async def edited(update: Update, context: DeskContext) -> None:
    """An edited message: never acts; if it reads like a command, say so once."""
    message = update.edited_message
    if message is None or not message.text:
        return
    text = message.text.strip()
    if not (text.startswith("/") or KEYWORD(text) is not None or prompted_order(message) is not None):
        return  # an edited chat message is nobody's business
    store = context.services.store
    if await store.first_edit_notice(message.chat_id, message.message_id, context.settings.clock()):
        await answer(update, render.refusal(Refusal(CommandCode.edit_not_a_command)))


async def member_changed(update: Update, context: DeskContext) -> None:
    """A ``chat_member`` update: someone joined, left, was removed or promoted in a group."""
    change = update.chat_member
    if change is None:
        return
    person = change.new_chat_member.user
    await context.services.access.record(change.chat.id, person.id, str(change.new_chat_member.status))


async def member_left(update: Update, context: DeskContext) -> None:
    """The "… left the group" / "… removed …" service message."""
    message = update.message
    if message is None or message.left_chat_member is None:
        return
    await context.services.access.record(message.chat_id, message.left_chat_member.id, ChatMemberStatus.LEFT)

"""The Telegram edge: parse what a person typed or pressed, call one service, answer.

All registration happens here, in order; the comments say why the order matters. The
commands come from one table (``handlers.commands``), the buttons from one codec
(``bot.buttons``), and the repeating jobs are scheduled here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram.ext import Application


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Every handler and repeating job of the desk, on ``application``."""
    # Imported here so that the package itself stays importable without Telegram.
    from telegram import Update
    from telegram.ext import (
        CallbackQueryHandler,
        ChatMemberHandler,
        CommandHandler,
        MessageHandler,
        TypeHandler,
        filters,
    )

    from handlers import (
        alerts,
        buttons,
        commands,
        common,
        files,
        guards,
        jobs,
        keywords,
        migration,
        quickship,
    )

    # Group -1 runs first for every update: who is this, in which chat, which language.
    application.add_handler(TypeHandler(Update, common.remember), group=-1)

    # Group 0: the first matching handler answers. Commands work as /ship and /ship@botname.
    # Only new messages act: an edit is its own update and never acts (guards.edited answers it).
    new_message = filters.UpdateType.MESSAGE
    for command in commands.COMMANDS:
        application.add_handler(CommandHandler(command.name, commands.runner(command), filters=new_message))

    # Buttons: their data is decoded and checked (bot.buttons) before any handler sees it.
    application.add_handler(CallbackQueryHandler(buttons.pressed))

    # Reports arrive as documents; Chinese keyword messages as plain text (they need the
    # bot to see group messages: privacy mode off, or the bot an administrator).
    application.add_handler(MessageHandler(new_message & filters.Document.ALL, files.document))
    # A reply to the 🚚 prompt is the tracking number of its order (before the keywords: it has none).
    application.add_handler(
        MessageHandler(new_message & filters.TEXT & ~filters.COMMAND & quickship.PROMPT_REPLY, quickship.tracking_reply)
    )
    application.add_handler(MessageHandler(new_message & filters.TEXT & ~filters.COMMAND, keywords.keyword))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, guards.edited))

    # People leaving a team's group lose access at once (a chat_member update reaches a bot
    # that is an administrator; the service message reaches every bot that sees the group).
    application.add_handler(ChatMemberHandler(guards.member_changed, ChatMemberHandler.CHAT_MEMBER))
    application.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, guards.member_left))

    # The bot removed from (or added back to) a team's group: hold or release its alerts.
    application.add_handler(ChatMemberHandler(alerts.membership, ChatMemberHandler.MY_CHAT_MEMBER))

    # A basic group upgraded to a supergroup (a new chat id): the team follows it. Telegram
    # says so in both chats; whichever message comes first moves the team.
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migration.migrated))

    application.add_error_handler(common.on_error)

    jobs.schedule(application)

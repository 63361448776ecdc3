"""The Telegram edge: parse what a person typed or pressed, call one service, answer.

All registration happens here, in order; the comments say why the order matters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram.ext import Application


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # Imported here so that the package itself stays importable without Telegram
    # (the command-line import only needs the wording in handlers.render).
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
        aftersale,
        alerts,
        amazon,
        common,
        files,
        fulfilment,
        guards,
        keywords,
        lookup,
        migration,
        settings,
    )

    # Group -1 runs first for every update: who is this, in which chat, which language.
    application.add_handler(TypeHandler(Update, common.remember), group=-1)

    # Group 0: the first matching handler answers. Commands work as /ship and /ship@botname.
    commands = {
        "start": settings.start,
        "help": settings.show_help,
        "lang": settings.lang,
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
        "alerts": alerts.alerts_command,
        "export": files.export,
        "amazon": amazon.amazon_command,
    }
    # Only new messages act: an edit is its own update and never acts (guards.edited answers it).
    new_message = filters.UpdateType.MESSAGE
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=new_message))

    # Buttons are routed by the prefix of their callback data (64 bytes at most).
    buttons = {
        "cf": aftersale.confirm_button,  # cf:<token>: yes to a question
        "cn": aftersale.decline_button,  # cn:<token>: no to a question
        "rd": aftersale.decision_button,  # rd:<order>:<restock|dispose|send_back>
        "ac": fulfilment.address_cancel_button,  # ac:<order>: cancel, address undeliverable
        "ol": lookup.page_button,  # ol:<list>:<page>
        "lg": settings.lang_button,  # lg:<me|chat>:<locale>
        "sp": alerts.ship_prompt,  # sp:<order>: how to ship it (under ship-by alerts)
        "sz": alerts.snooze,  # sz:<order>: remind again in 4 hours
        "rw": alerts.return_decision_prompt,  # rw:<order>: the decision buttons of a return
        "ml": alerts.mark_lost,  # ml:<order>: a late delivery is lost
        "al": alerts.settings_button,  # al:<what>:<value>: /alerts settings
    }
    for prefix, callback in buttons.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=f"^{prefix}:"))

    # Reports arrive as documents; Chinese keyword messages as plain text (they need the
    # bot to see group messages: privacy mode off, or the bot an administrator).
    application.add_handler(MessageHandler(new_message & filters.Document.ALL, files.document))
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

    application.add_error_handler(common.on_error)  # type: ignore[arg-type]

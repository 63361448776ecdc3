"""A basic group upgraded to a supergroup: the team follows it to its new chat id.

Telegram upgrades a group by itself (made public, many members...) and gives it a new id.
It tells the bot with a service message in each chat (``migrate_to_chat_id`` in the old
group, ``migrate_from_chat_id`` in the supergroup), and answers every later call naming the
old id with ``ChatMigrated``. Whichever signal comes first moves the team, with its orders,
settings, language, alerts and queued messages, and tells the group once; the others find
nothing left to move.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot import i18n
from bot.i18n import ngettext
from handlers.context import DeskContext, Services

log = logging.getLogger(__name__)


async def migrated(update: Update, context: DeskContext) -> None:
    """The service message of an upgrade, in the old group or in the new supergroup."""
    message = update.effective_message
    if message is None or "services" not in context.application.bot_data:
        return
    if message.migrate_to_chat_id:
        old_id, new_id = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old_id, new_id = message.migrate_from_chat_id, message.chat_id
    else:
        return
    await follow_migration(context.application, old_id, new_id, title=message.chat.title)


async def follow_migration(
    application: Application[Any, Any, Any, Any, Any, Any], old_chat_id: int, new_chat_id: int,
    *, title: str | None = None,
) -> bool:  # fmt: skip
    """Move the team of ``old_chat_id`` to ``new_chat_id``, once; later calls change nothing.

    True when messages for the old chat may go to the new one; False when the supergroup
    already is another team with orders (nothing is merged; the old team's messages wait).
    """
    services: Services = application.bot_data["services"]
    store = services.store
    team = await store.team(old_chat_id)
    # The bot speaks on its own here: in the group's language, else its starter's.
    locale = await services.alerts.locale_of(team) if team is not None else i18n.DEFAULT_LOCALE

    def moved_notice(orders: int) -> dict[str, Any]:
        with i18n.using(locale):
            return {"text": ngettext(
                "This group became a supergroup, and dingdan moved with it: {count} order, the settings and the "
                "alerts are kept.",
                "This group became a supergroup, and dingdan moved with it: {count} orders, the settings and the "
                "alerts are kept.",
                orders,
            )}  # fmt: skip

    def occupied_notice(orders: int) -> dict[str, Any]:
        with i18n.using(locale):
            return {"text": ngettext(
                "This group became a supergroup, but this supergroup already is a dingdan team with its own orders. "
                "I did not merge the old group's {count} order into it: it is kept apart and its alerts are paused.",
                "This group became a supergroup, but this supergroup already is a dingdan team with its own orders. "
                "I did not merge the old group's {count} orders into it: they are kept apart and their alerts are "
                "paused.",
                orders,
            )}  # fmt: skip

    result = await store.move_team(
        old_chat_id, new_chat_id, title=title, now=services.settings.clock(),
        moved_notice=moved_notice, occupied_notice=occupied_notice,
    )  # fmt: skip
    if result.moved:
        log.info("team %s followed its group to supergroup %s with %d orders", old_chat_id, new_chat_id, result.orders)
    elif result.occupied and result.first:
        log.error("team %s was not moved: its group became supergroup %s, which already is a team with orders; "
                  "its %d orders stay under the old id and its messages are held", old_chat_id, new_chat_id,
                  result.orders)  # fmt: skip
    return not result.occupied

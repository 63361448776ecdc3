"""What every handler is given: the callback context with the desk's services.

The composition root (``bot.app``) builds the services and puts them in ``bot_data``; the
handlers read them through :class:`DeskContext` (python-telegram-bot's
``contexttypesbot.py`` example) and never import the composition root.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot import i18n
from bot.access import Access
from bot.alerts import Alerts
from bot.amazon import AmazonSync, Exporter
from bot.buttons import Button
from bot.durable import Sender
from bot.importing import Importer
from bot.services import Desk
from bot.settings import Settings
from bot.storage import Store


@dataclass
class Services:
    """The desk's long-lived services, opened in ``post_init`` and closed in ``post_shutdown``."""

    settings: Settings
    store: Store
    desk: Desk
    importer: Importer
    access: Access
    alerts: Alerts
    exporter: Exporter
    amazon: AmazonSync  # the Selling Partner API sync
    sender: Sender  # delivers the outbox: replies, files, alerts (bot/durable.py)
    #: (user, name, username, language, chat, kind, title) already written: skip the write.
    seen: set[tuple[object, ...]] = field(default_factory=set)


class DeskContext(CallbackContext[ExtBot[None], dict, dict, dict]):
    """The callback context with the desk's services and what the early handler learnt."""

    def __init__(self, application: Application, chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.locale: str = i18n.DEFAULT_LOCALE
        #: The time zone of the team this update acts for, once known (replies show its times).
        self.zone: str | None = None
        #: The pressed button, decoded and checked (``bot.buttons``), for a callback query.
        self.button: Button | None = None
        #: The command being run, from the command table (``handlers.commands``).
        self.command: Command | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def settings(self) -> Settings:
        return self.services.settings


Callback = Callable[[Update, DeskContext], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Command:
    """One command: ``/name`` and its keywords run ``callback``."""

    name: str
    callback: Callback
    #: The line in Telegram's command menu (a message id, translated when the menu is set).
    menu: str
    #: What to send, with an example, when the arguments do not fit (a message id).
    usage: str | None = None
    #: Words that start a plain message meaning this command, both scripts.
    keywords: tuple[str, ...] = ()

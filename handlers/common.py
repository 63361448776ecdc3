"""What every handler shares: who is this, which team, which language, and how to answer.

The early ``remember`` handler (registered in a group before all others) records the
person and chat and sets the reader's language for the rest of the update.
"""

from __future__ import annotations

import html
import logging
import re
from functools import wraps
from typing import Any

from telegram import Chat, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import i18n, logs
from bot import texts as render
from bot.domain import Actor, Refusal
from bot.durable import expected_telegram_error, log_telegram_error
from bot.i18n import _
from bot.refusal_codes import AccessCode
from bot.storage import OutgoingMessage, Team, current_unit
from bot.texts import pages
from handlers.context import Callback, DeskContext

log = logging.getLogger("dingdan.handlers")


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


def actor_of(update: Update) -> Actor:
    """Who does this, for the order's history: a person under their own name, or a refusal."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    require_person(update)
    return Actor(kind="user", id=user.id, name=display_name(update), chat_id=chat.id)


def require_person(update: Update) -> None:
    """Changes are made under a person's own name: the history must say who did it.

    An anonymous group administrator writes as the group itself (``sender_chat`` is the
    group) and may look things up; someone writing as a channel is nobody the team knows.
    """
    sender = _sender_chat(update)
    if sender is None:
        return
    chat = update.effective_chat
    if chat is not None and sender.id == chat.id:
        raise Refusal(AccessCode.anonymous_admin)
    raise Refusal(AccessCode.sent_as_channel)


def _sender_chat(update: Update) -> Chat | None:
    message = update.effective_message
    if update.callback_query is not None or message is None:
        return None  # a button press always comes from a person
    return message.sender_chat


def display_name(update: Update) -> str:
    user = update.effective_user
    assert user is not None
    return user.full_name or (f"@{user.username}" if user.username else str(user.id))


async def remember(update: Update, context: DeskContext) -> None:
    """Record who wrote where, and set the reader's language for this update.

    Channel posts, and a linked channel's posts forwarded into its discussion group, are
    nobody's command: nothing else handles them.
    """
    user, chat = update.effective_user, update.effective_chat
    message = update.effective_message
    if chat is not None and chat.type == ChatType.CHANNEL:
        raise ApplicationHandlerStop
    if message is not None and message.is_automatic_forward:
        raise ApplicationHandlerStop
    if user is None or chat is None or "services" not in context.application.bot_data:
        return
    if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
        # A group's upgrade to a supergroup (handlers/migration.py) is nobody writing: the
        # supergroup's message is "from" GroupAnonymousBot, and recording the old group
        # would bring back the chat the team just left.
        return
    services = context.services
    store = services.store
    name = user.full_name or ""
    seen_as = (user.id, name, user.username, user.language_code, chat.id, chat.type, chat.title or "")
    # Bots are not people: an anonymous administrator writes as GroupAnonymousBot.
    if seen_as not in services.seen and not user.is_bot:
        # Written once per change of name, language or chat title, not once per message.
        await store.seen(
            user_id=user.id, name=name, username=user.username, telegram_language=user.language_code,
            chat_id=chat.id, chat_kind=chat.type, chat_title=chat.title or "", at=context.settings.clock(),
        )  # fmt: skip
        services.seen.add(seen_as)
    known = await store.user(user.id)
    chosen = known.language if known else None
    group = None
    if i18n.group_matters(chosen, user.language_code):  # else not needed: a read saved in private
        group = await _group_language(store, chat, user.id, known)
    context.locale = i18n.person_language(chosen, user.language_code, group)
    i18n.set_current(context.locale)


async def _group_language(store: Any, chat: Chat, user_id: int, known: Any) -> str | None:
    """The group's language for a reply here: this group's, or in private the group of the
    person's team (the one they last worked for), for people whose own language is unknown."""
    if chat.type != ChatType.PRIVATE:
        return await store.chat_language(chat.id)
    team_id = known.active_team if known is not None else None
    if team_id is None:
        teams = await store.teams_of(user_id)
        team_id = teams[0] if teams else None
    return await store.chat_language(team_id) if team_id is not None else None


async def team_of(update: Update, context: DeskContext) -> Team:
    """The team this person acts for from this chat, or a refusal (not a team, not a member).

    Membership is verified with Telegram (see ``bot.access``), for commands and buttons alike.
    """
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    services = context.services
    sender = _sender_chat(update)
    if sender is not None:
        if sender.id != chat.id:
            raise Refusal(AccessCode.sent_as_channel)
        # Only administrators can write as the group: an anonymous one may look things up.
        anonymous_team = await services.store.team(chat.id)
        if anonymous_team is None:
            raise Refusal(AccessCode.not_a_team)
        context.zone = anonymous_team.timezone
        logs.note(team=anonymous_team.team_id)
        return anonymous_team
    team_id = await services.access.team_for(chat.id, chat.type == ChatType.PRIVATE, user.id)
    team = await services.store.team(team_id)
    if team is None:
        raise Refusal(AccessCode.not_a_team)
    context.zone = team.timezone
    logs.note(team=team.team_id)
    return team


async def admin_team(update: Update, context: DeskContext) -> Team:
    """The team, when a person (not a channel or an anonymous administrator) who administers its group acts."""
    require_person(update)
    team = await team_of(update, context)
    user = update.effective_user
    assert user is not None
    if not await context.services.access.is_admin(team.team_id, user.id):
        raise Refusal(AccessCode.not_admin)
    return team


def zone_of(context: DeskContext, team: Team | None = None) -> str:
    return team.timezone if team is not None else context.settings.timezone


async def answer(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Reply in the chat the update came from (quoting the command in groups).

    The reply is queued with the update's effect and sent by the outbox sender: once an
    action is committed, its answer reaches the person even when Telegram fails for a while.
    """
    chat = update.effective_chat
    assert chat is not None
    payload: dict[str, Any] = {"text": fit(text)}
    if markup is not None:
        payload["markup"] = markup.to_dict()
    message = update.effective_message
    if update.callback_query is None and message is not None and chat.type != ChatType.PRIVATE:
        payload["reply_to"] = message.message_id
    await send_later(update, OutgoingMessage(chat.id, None, payload))


async def send_file(update: Update, filename: str, data: bytes, caption: str) -> None:
    """Send a file into the chat the update came from, through the outbox like a reply."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None
    payload: dict[str, Any] = {"filename": filename, "caption": pages.fit(caption, pages.CAPTION_LIMIT)}
    if message is not None and update.callback_query is None and chat.type != ChatType.PRIVATE:
        payload["reply_to"] = message.message_id
    await send_later(update, OutgoingMessage(chat.id, None, payload, kind="file", document=data))


async def send_later(update: Update, message: OutgoingMessage) -> None:
    """Queue ``message`` with the current update; outside an update, send it now."""
    unit = current_unit()
    if unit is not None and not unit.closed:
        unit.queue(message)
        return
    payload = message.payload
    markup = InlineKeyboardMarkup.de_json(payload["markup"], None) if payload.get("markup") else None
    if message.kind == "file":
        await update.get_bot().send_document(message.chat_id, InputFile(message.document or b"",
                                             filename=payload["filename"]), caption=payload.get("caption"))  # fmt: skip
    else:
        await update.get_bot().send_message(message.chat_id, payload["text"], reply_markup=markup)


async def drop_buttons(update: Update, order_id: str) -> None:
    """Take the pressed order's buttons off the message; an alert's other orders keep theirs."""
    query = update.callback_query
    message = query.message if query is not None else None
    if query is None or message is None or not isinstance(message, Message):
        return
    markup = message.reply_markup
    rows = [] if markup is None else [
        [b for b in row if not (b.callback_data and order_id in str(b.callback_data))]
        for row in markup.inline_keyboard
    ]  # fmt: skip
    rows = [row for row in rows if row]
    try:
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    except TelegramError:
        pass  # already changed by someone else's tap


async def edit_in_place(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Show ``text`` in the pressed message; pressing what is already shown changes nothing."""
    query = update.callback_query
    assert query is not None
    try:
        await query.edit_message_text(fit(text), reply_markup=markup)
    except BadRequest as err:
        if "not modified" not in err.message.lower():
            raise


def fit(text: str) -> str:
    """Telegram refuses messages over 4096 UTF-16 units after parsing; long answers are paged
    before this (``bot.texts.pages``), which only guards the rest without breaking the HTML."""
    return pages.fit(text, pages.TEXT_LIMIT)


def handles_refusals(func: Callback) -> Callback:
    """Turn a refusal anywhere in the handler into one clear reply in the reader's language."""

    @wraps(func)
    async def wrapper(update: Update, context: DeskContext) -> None:
        logs.note(command=func.__name__)  # what a keyword or a button ran (a /command is named already)
        try:
            await func(update, context)
        except Refusal as refusal:
            logs.note(outcome=f"refused:{refusal.code}")
            text = render.refusal(refusal, zone=context.zone or context.settings.timezone)
            if update.callback_query is not None:
                await _answer_callback(update, text)
            else:
                await answer(update, text)

    return wrapper


def plain(text: str) -> str:
    """Text for places without HTML (button pop-ups): tags dropped, entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


async def _answer_callback(update: Update, text: str) -> None:
    query = update.callback_query
    assert query is not None
    shown = plain(text)
    try:
        # A short refusal fits the pop-up; a long one also goes into the chat.
        await query.answer(shown[:200], show_alert=True)
    except TelegramError:
        pass
    if len(shown) > 200:
        await answer(update, text)


async def on_error(update: object, context: DeskContext) -> None:
    """Log what went wrong and tell the person politely; never show a traceback in the chat.

    Telegram's own expected errors (the bot removed from the group, a retry later, the
    network, a double tap) are one line naming the chat and the update; anything else keeps
    its traceback. Telegram saying the bot may no longer write to a team's group holds the
    group's messages (as the sender does when a reply meets the same answer).
    """
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    update_id = update.update_id if isinstance(update, Update) else None
    expected = expected_telegram_error(error)
    logs.note(outcome="error" if expected is None else "telegram error")
    if expected is None:
        log.error("error while handling update %s (chat %s)", update_id, chat.id if chat else None, exc_info=error)
    else:
        log_telegram_error(error, "handling the update", chat.id if chat else None, update_id)  # type: ignore[arg-type]
        if isinstance(error, Forbidden) and chat is not None and chat.type != ChatType.PRIVATE:
            await _group_removed(context, chat.id, expected)
            return  # nobody to tell there
        if isinstance(error, BadRequest) and any(
            known in error.message.lower() for known in ("not modified", "query is too old", "query id is invalid")
        ):
            return  # a double tap (nothing went wrong), or a button press too old to answer at all
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        i18n.set_current(getattr(context, "locale", i18n.DEFAULT_LOCALE))
        text = _("Sorry, something went wrong on my side and nothing was changed. Please try again in a moment.")
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        else:
            await answer(update, text)
    except TelegramError as err:  # Telegram refusing the apology too: one line
        log.warning("could not tell the person about the error (chat %s, update %s): %s",
                    chat.id if chat else None, update_id, err)  # fmt: skip
    except Exception:  # noqa: BLE001 - the error handler must not fail in turn
        log.warning("could not tell the person about the error", exc_info=True)


async def _group_removed(context: DeskContext, chat_id: int, error: str) -> None:
    """Telegram refused the bot in a team's group: hold its messages until the bot is back."""
    try:
        services = context.services
        team = await services.store.team(chat_id)
        if team is not None:
            await services.alerts.alert_store.unreachable(team.team_id, context.settings.clock(), error)
    except Exception:  # noqa: BLE001 - the error handler must not fail in turn
        log.warning("could not hold the messages of chat %s", chat_id, exc_info=True)


def code(value: Any) -> str:
    return f"<code>{html.escape(str(value))}</code>"

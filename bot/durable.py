"""Nothing lost, nothing doubled: the inbox, the unit of work per update, and the sender.

- **Inbox.** ``DeskBot.get_updates`` stores every update it received before it returns, so
  before the updater confirms Telegram's offset (PTB confirms it with the next getUpdates,
  before any handler ran). A webhook would do the same: store, then answer 200.
- **One update, one transaction.** ``DeskApplication.process_update`` runs the handlers
  inside ``Store.unit``: what they write, the replies they queue and the inbox's "done"
  commit together. A handler that raises leaves nothing behind (``process_error`` rolls the
  unit back before the error handler apologises). On start, updates a crash interrupted
  are processed again; the same update twice is harmless.
- **Sender.** Replies, files and alerts leave through the outbox: one queue per chat, in
  order, chats side by side, each message retried until Telegram takes it (429: its
  ``retry_after``; 5xx and network errors: growing back-off). A chat that removed or
  blocked the bot is held; a basic group that became a supergroup is followed.

Telegram calls that only change what is on screen (answering a button, removing buttons)
wait until the update committed, so the write lock is never held across the network.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, ReplyParameters, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ExtBot

from bot.storage import AlertStore, OutboxRow, Store, current_unit

log = logging.getLogger(__name__)

#: A crash that interrupts the same update this many times gives it up (it may be the cause).
MAX_ATTEMPTS = 3
#: Back-off after a server or network error: 5 s, 10 s, 20 s … at most 10 minutes.
BACKOFF_START, BACKOFF_MAX = 5.0, 600.0
#: A message Telegram refuses (400) is tried this many times before it is given up.
MAX_REFUSED = 3
#: Chats sent to at the same time; each chat's own messages go one after the other.
MAX_CHATS = 16
#: How often the sender looks for retries that fell due without anyone waking it (seconds).
IDLE = 1.0


class DeskBot(ExtBot[Any]):
    """The bot: stores updates before their offset is confirmed; defers screen changes."""

    _inbox: Store | None = None
    _clock: Callable[[], datetime] | None = None

    def attach_inbox(self, store: Store | None, clock: Callable[[], datetime] | None = None) -> None:
        self._inbox, self._clock = store, clock

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        updates = await super().get_updates(*args, **kwargs)
        if updates:
            if self._inbox is None or self._clock is None:
                # Raising keeps the offset where it is: Telegram delivers these again.
                raise RuntimeError("the inbox is not open; the updates are fetched again")
            await self._inbox.store_updates([(u.update_id, _for_inbox(u)) for u in updates], self._clock())
        return updates

    def _after_commit(self, call: Callable[[], Awaitable[Any]], method: str) -> bool:
        unit = current_unit()
        if unit is not None and unit.began and not unit.closed:
            chat_id, update_id = _UPDATE_CHAT.get(), unit.update_id

            async def guarded() -> Any:
                try:
                    return await call()
                except TelegramError as err:
                    # A courtesy after the commit (a button's answer, an edit): Telegram refusing
                    # it changes nothing stored. One line; a traceback only when unexpected.
                    log_telegram_error(err, method, chat_id, update_id)
                    if isinstance(err, Forbidden) and chat_id is not None and chat_id < 0 and self._inbox is not None:
                        # Out of the group: hold its messages, as the sender does on a 403.
                        now = self._clock() if self._clock is not None else datetime.now(UTC)
                        await AlertStore(self._inbox).unreachable(chat_id, now, f"403 {err.message}")
                    return None

            unit.later(guarded)
            return True
        return False

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        if self._after_commit(lambda: super(DeskBot, self).answer_callback_query(*args, **kwargs),
                              "answerCallbackQuery"):  # fmt: skip
            return True
        return await super().answer_callback_query(*args, **kwargs)

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Message | bool:
        if self._after_commit(lambda: super(DeskBot, self).edit_message_reply_markup(*args, **kwargs),
                              "editMessageReplyMarkup"):  # fmt: skip
            return True
        return await super().edit_message_reply_markup(*args, **kwargs)

    async def edit_message_text(self, *args: Any, **kwargs: Any) -> Message | bool:
        if self._after_commit(lambda: super(DeskBot, self).edit_message_text(*args, **kwargs), "editMessageText"):
            return True
        return await super().edit_message_text(*args, **kwargs)


class DeskApplication(Application):
    """Every update is processed as one unit of work of the store (see the module doc)."""

    @property
    def store(self) -> Store | None:
        services = self.bot_data.get("services")
        return None if services is None else services.store

    async def process_update(self, update: object) -> None:
        store = self.store
        if not isinstance(update, Update) or store is None:
            await super().process_update(update)
            return
        chat = update.effective_chat
        _UPDATE_CHAT.set(chat.id if chat is not None else None)
        async with store.unit(update.update_id) as unit:
            if unit is None:
                log.debug("update %s was handled already", update.update_id)
                return
            await super().process_update(update)

    async def process_error(self, update: object | None, error: Exception, *args: Any, **kwargs: Any) -> bool:
        unit = current_unit()
        if unit is not None and isinstance(update, Update) and update.update_id == unit.update_id and not unit.failed:
            # "Nothing was changed" must be true: undo the update's writes before apologising.
            await unit.fail()
        return await super().process_error(update, error, *args, **kwargs)


async def recover(application: Application) -> int:
    """Process again what a stop or crash left unfinished; returns how many."""
    store: Store = application.bot_data["services"].store
    pending = await store.unfinished_updates(MAX_ATTEMPTS)
    for update_id, payload in pending:
        try:
            update = Update.de_json(json.loads(payload), application.bot)
        except Exception:  # noqa: BLE001 - an update we cannot read again is logged, not retried forever
            log.error("update %s could not be read back from the inbox", update_id, exc_info=True)
            continue
        await application.update_queue.put(update)
    if pending:
        log.info("processing %d update(s) left unfinished by the last stop", len(pending))
    return len(pending)


def _for_inbox(update: Update) -> str:
    """The update as JSON, without secrets: ``/amazon set …`` carries Amazon credentials, which
    are stored only encrypted. Processed again after a crash, it reads as ``/amazon set`` and
    the person is asked to send it again."""
    data = update.to_dict()
    message = data.get("message")
    if isinstance(message, dict):
        words = str(message.get("text", "")).split()
        if words and words[0].split("@")[0].lower() == "/amazon" and len(words) > 2:
            message["text"] = " ".join(words[:2])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(words[0])}]
    return json.dumps(data, ensure_ascii=False)


FollowMigration = Callable[[int, int], Awaitable[bool]]


class Sender:
    """Delivers the outbox: per chat in order, chats side by side, until Telegram takes it."""

    def __init__(self, bot: ExtBot[None], store: AlertStore, clock: Callable[[], datetime],
                 follow_migration: FollowMigration | None = None) -> None:  # fmt: skip
        self.bot = bot
        self.store = store
        self.clock = clock
        self.follow_migration = follow_migration
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        """Something was queued: look now."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="dingdan-sender")

    async def stop(self) -> None:
        self._stopping = True
        self.kick()
        tasks = [t for t in (self._task, *self._busy.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._busy.clear()

    async def idle(self) -> None:
        """Wait until nothing is being sent (tests; a clean stop)."""
        while self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                rows = await self.store.due_messages(self.clock(), skip_chats=list(self._busy))
            except Exception:  # noqa: BLE001 - the sender outlives a failed read
                log.exception("could not read the outbox")
                rows = []
            by_chat: dict[int, list[OutboxRow]] = {}
            for row in rows:
                by_chat.setdefault(row.chat_id, []).append(row)
            for chat_id, chat_rows in by_chat.items():
                if len(self._busy) >= MAX_CHATS:
                    break
                self._busy[chat_id] = asyncio.create_task(self._deliver(chat_id, chat_rows))
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE)
            except TimeoutError:
                pass

    async def _deliver(self, chat_id: int, rows: list[OutboxRow]) -> None:
        try:
            for row in rows:
                if not await self._send(row):
                    break  # the chat's later messages wait for this one
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one chat's trouble never stops the others
            log.exception("sending to chat %s failed", chat_id)
        finally:
            self._busy.pop(chat_id, None)
            self.kick()

    async def _send(self, row: OutboxRow, chat_id: int | None = None) -> bool:
        """Send one message; True when the chat's next message may follow."""
        target = row.chat_id if chat_id is None else chat_id
        try:
            sent = await self._call(row, target)
        except RetryAfter as err:
            wait = _seconds(err)
            await self.store.retry(row.outbox_id, self.clock() + timedelta(seconds=wait), f"429 retry after {wait:g} s")
            return False
        except ChatMigrated as err:
            if self.follow_migration is not None and await self.follow_migration(target, err.new_chat_id):
                # The move re-addressed this message and the chat's others to the supergroup: its
                # queue sends them next. Sending from here as well would race that queue (it may
                # be busy with the supergroup already) and deliver the message twice.
                log.info("chat %s became supergroup %s; message %s follows it", target, err.new_chat_id, row.outbox_id)
                self.kick()
                return False
            await self.store.retry(row.outbox_id, self.clock() + _backoff(row.attempts), "chat migrated")
            return False
        except Forbidden as err:
            await self._hold(row, target, f"403 {err.message}")
            return False
        except BadRequest as err:
            text = err.message.lower()
            if "chat not found" in text:
                await self._hold(row, target, f"400 {err.message}")
                return False
            if row.attempts + 1 >= MAX_REFUSED:
                log.error("Telegram refuses message %s for chat %s: %s; given up", row.outbox_id, target, err.message)
                await self.store.give_up(row.outbox_id, f"400 {err.message}")
                return True
            log.warning("Telegram refused message %s for chat %s: %s", row.outbox_id, target, err.message)
            await self.store.retry(row.outbox_id, self.clock() + _backoff(row.attempts), f"400 {err.message}")
            return False
        except TelegramError as err:  # 5xx, time-outs, network errors
            log.info("sending message %s to chat %s failed (%s); retrying", row.outbox_id, target, err)
            await self.store.retry(row.outbox_id, self.clock() + _backoff(row.attempts), f"{type(err).__name__}: {err}")
            return False
        await self.store.sent(row.outbox_id, sent.message_id, self.clock())
        return True

    async def _hold(self, row: OutboxRow, chat_id: int, error: str) -> None:
        log.warning("the bot cannot write to chat %s (team %s): %s", chat_id, row.team_id, error)
        if chat_id < 0:
            # A group: hold everything for it until the bot is added back.
            await self.store.unreachable(row.team_id or chat_id, self.clock(), error)
        else:
            # A person who blocked the bot (or never started it): nothing to wait for.
            await self.store.give_up(row.outbox_id, error)

    async def _call(self, row: OutboxRow, chat_id: int) -> Message:
        payload = row.payload
        reply = None
        if payload.get("reply_to"):
            reply = ReplyParameters(message_id=int(payload["reply_to"]), allow_sending_without_reply=True)
        markup = _markup(payload)
        if row.kind == "file":
            return await self.bot.send_document(
                chat_id, InputFile(row.document or b"", filename=payload.get("filename") or "file.txt"),
                caption=payload.get("caption") or None, reply_parameters=reply, reply_markup=markup,
            )  # fmt: skip
        return await self.bot.send_message(chat_id, payload["text"], reply_markup=markup, reply_parameters=reply)


def _markup(payload: dict[str, Any]) -> InlineKeyboardMarkup | None:
    if payload.get("markup"):
        return InlineKeyboardMarkup.de_json(payload["markup"], None)
    if payload.get("buttons"):
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in line] for line in payload["buttons"]]
        )
    return None


def _seconds(err: RetryAfter) -> float:
    # PTB 22 warns on reading retry_after as seconds; its own limiter reads the timedelta.
    delay = getattr(err, "_retry_after", None)
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay or 1)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_START * 2**attempts, BACKOFF_MAX))


# --- Telegram's own errors in the update path ---------------------------------------------

#: The chat of the update the current task processes (for log lines about deferred calls).
_UPDATE_CHAT: contextvars.ContextVar[int | None] = contextvars.ContextVar("dingdan_update_chat", default=None)

#: Telegram's 400s that are part of normal life (a double tap, a slow answer, a deleted message).
EXPECTED_BAD_REQUESTS = (
    "message is not modified", "query is too old", "query id is invalid", "message to edit not found",
    "message can't be edited", "message to delete not found", "message can't be deleted", "chat not found",
    "not enough rights", "have no rights", "need administrator rights", "replied message not found",
    "message to be replied not found", "group chat was upgraded", "user is deactivated",
)  # fmt: skip


def expected_telegram_error(error: BaseException | None) -> str | None:
    """One line for a Telegram error that is part of normal life (removed from a chat, a
    retry later, a double tap, the network), or None: unexpected, keep its traceback."""
    if isinstance(error, RetryAfter):
        return f"429 retry after {_seconds(error):g} s"
    if isinstance(error, ChatMigrated):
        return f"chat migrated to {error.new_chat_id}"
    if isinstance(error, Forbidden):
        return f"403 {error.message}"
    if isinstance(error, BadRequest):  # a NetworkError to PTB, but Telegram's own answer
        text = error.message.lower()
        return f"400 {error.message}" if any(known in text for known in EXPECTED_BAD_REQUESTS) else None
    if isinstance(error, NetworkError):  # time-outs included
        return f"{type(error).__name__}: {error.message}"
    return None


def log_telegram_error(error: BaseException, what: str, chat_id: int | None, update_id: int | None) -> None:
    """An expected Telegram error as one line naming the chat and the update; anything else
    with its traceback."""
    line = expected_telegram_error(error)
    if line is None:
        log.error("%s failed (chat %s, update %s)", what, chat_id, update_id, exc_info=error)
    elif "not modified" in line:
        log.info("%s: %s (chat %s, update %s)", what, line, chat_id, update_id)
    else:
        log.warning("%s: %s (chat %s, update %s)", what, line, chat_id, update_id)

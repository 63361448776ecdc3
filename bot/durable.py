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
import html
import json
import logging
import re
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import FloodLimit, MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, BaseRateLimiter, BaseUpdateProcessor, ExtBot

from bot import i18n
from bot.i18n import _
from bot.logs import handled_update, note
from bot.replicas import EVERYTHING, Partition, Replicas
from bot.storage import AlertStore, OutboxRow, Queued, Store, current_unit
from bot.storage.outbox import CLAIM, Claim
from bot.storage.values import utc_now

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
#: At most this many messages found pending, and the sender's next read of the whole outbox runs on the
#: event loop's thread (small work, bot/storage/db.py); more, and it runs on a reader's thread.
FEW_PENDING = 64
#: Telegram's pace into one group: 20 messages a minute. The sender keeps each group's own
#: pace (a bucket of 20 that empties by one every 3 s, the model PTB's limiter uses) instead of
#: waiting on a shared limiter, so a group at its limit never holds a slot another chat needs.
GROUP_BURST, GROUP_PERIOD = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP, 60.0
#: A group that has used this much of its minute gets what waits for it merged into one message.
MERGE_FROM = GROUP_BURST // 2
#: Merged replies at most this long, as Telegram counts (UTF-16 units of the text it shows).
MERGED_MAX = MessageLimit.MAX_TEXT_LENGTH
#: A 429 asking to wait at most this long is waited out inside the request (by that request only).
SHORT_RETRY = 1.0
#: Updates of one chat handled at the same time; the other chats keep the rest of the slots.
PER_CHAT_UPDATES = 2


#: Set while the sender sends a text (``DeskBot.send_text``): Telegram's answer is read for the
#: message's id only, which is put here.
_ID_ONLY: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("dingdan_id_only", default=None)


class DeskBot(ExtBot[Any]):
    """The bot: stores updates before their offset is confirmed; defers screen changes."""

    _inbox: Store | None = None
    _clock: Callable[[], datetime] | None = None
    #: The last getUpdates' updates as the inbox stores them, made from Telegram's own JSON
    #: (cheaper than ``Update.to_dict()`` again), by update id.
    _received: dict[int, str] = {}

    def attach_inbox(self, store: Store | None, clock: Callable[[], datetime] | None = None) -> None:
        self._inbox, self._clock = store, clock

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        updates = await super().get_updates(*args, **kwargs)
        if updates:
            if self._inbox is None or self._clock is None:
                # Raising keeps the offset where it is: Telegram delivers these again.
                raise RuntimeError("the inbox is not open; the updates are fetched again")
            received, self._received = self._received, {}
            await self._inbox.store_updates(
                [(u.update_id, received.get(u.update_id) or _for_inbox(u)) for u in updates], self._clock()
            )
        return updates

    async def send_text(self, chat_id: int, text: str, *, reply_markup: Any = None,
                        reply_parameters: ReplyParameters | None = None) -> int:  # fmt: skip
        """``sendMessage`` as :meth:`send_message` sends it (the defaults, the rate limiter, the
        keyboard), answering the sent message's id only: the sender keeps nothing else of it,
        and reading Telegram's answer into a ``Message`` cost ~0.25 ms of the event loop a reply."""
        box: list[int] = []
        token = _ID_ONLY.set(box)
        try:
            sent = await self.send_message(chat_id, text, reply_markup=reply_markup, reply_parameters=reply_parameters)
        finally:
            _ID_ONLY.reset(token)
        return box[0] if box else int(sent.message_id)

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, *args, **kwargs)
        if endpoint == "sendMessage" and isinstance(result, dict) and isinstance(result.get("message_id"), int):
            box = _ID_ONLY.get()
            if box is not None:
                box.append(result["message_id"])
                return True  # as Telegram answers a call that returns no message: PTB reads nothing
        if endpoint == "getUpdates" and isinstance(result, list):
            # Before PTB reads them into Updates: the JSON as Telegram sent it, as the inbox keeps it.
            self._received = {
                u["update_id"]: _inbox_json(u)
                for u in result
                if isinstance(u, dict) and isinstance(u.get("update_id"), int)
            }
        return result

    def _after_commit(self, call: Callable[[], Awaitable[Any]], method: str) -> bool:
        unit = current_unit()
        if unit is not None and unit.began and not unit.closed:
            chat_id, update_id = _UPDATE_CHAT.get(), unit.update_id

            async def guarded() -> Any:
                try:
                    return await _screen_change(call)
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


_screen_retries: set[asyncio.Task[None]] = set()


async def _screen_change(call: Callable[[], Awaitable[Any]], attempts: int = 3) -> None:
    """A screen change after the update committed. Telegram asking to wait (the group is at
    its limit) is waited out in the background: the update's slot is free for the next one."""
    try:
        await call()
    except RetryAfter as err:
        if attempts <= 1:
            raise
        wait = _seconds(err)

        async def later() -> None:
            await asyncio.sleep(wait)
            try:
                await _screen_change(call, attempts - 1)
            except Exception:  # noqa: BLE001 - a screen change is a courtesy
                log.debug("a screen change failed after waiting", exc_info=True)

        task = asyncio.create_task(later(), name="dingdan-screen-retry")
        _screen_retries.add(task)
        task.add_done_callback(_screen_retries.discard)


class DeskRateLimiter(BaseRateLimiter[int]):
    """Telegram's overall limit (30 messages a second) for every request that names a chat.

    Unlike PTB's ``AIORateLimiter`` it never waits on a group's 20 a minute (the sender keeps
    each chat's pace, and a screen change must not queue behind a busy group's replies), and a
    429 never pauses every other request: a short ``retry_after`` is waited out by the request
    that got it, a longer one goes back to the caller (the sender re-queues that chat's message).
    """

    def __init__(self, max_retries: int = 0, overall_per_second: float = FloodLimit.MESSAGES_PER_SECOND) -> None:
        self.max_retries = max_retries
        self.overall_per_second = overall_per_second
        self._overall = AsyncLimiter(overall_per_second, 1)

    def share(self, replicas: int) -> None:
        """Several replicas send for one bot: each keeps its share of Telegram's overall limit
        (``bot.replicas`` tells the number of live replicas when it changes)."""
        self._overall = AsyncLimiter(self.overall_per_second / max(replicas, 1), 1)

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            try:
                if data.get("chat_id") is not None:
                    async with self._overall:
                        return await callback(*args, **kwargs)
                return await callback(*args, **kwargs)
            except RetryAfter as err:
                wait = _seconds(err)
                if attempt >= retries or wait > SHORT_RETRY:
                    raise
                attempt += 1
                log.debug("%s: Telegram asks to wait %g s; retrying", endpoint, wait)
                await asyncio.sleep(wait + 0.1)


def _chat_key(update: object) -> Hashable:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


class FairUpdates(BaseUpdateProcessor):
    """Updates side by side, fairly: at most ``limit`` at once, and at most ``per_chat`` of one
    chat, the waiting chats taking turns. A hundred commands in one group take a few slots; a
    command from another team starts at once instead of queueing behind them."""

    def __init__(self, limit: int, per_chat: int = PER_CHAT_UPDATES) -> None:
        # PTB's own semaphore only backs this one up: updates waiting here hold no slot.
        super().__init__(max(limit, 1) * 64)
        self.limit = max(limit, 1)
        self.per_chat = max(1, min(per_chat, self.limit))
        self._running: Counter[Hashable] = Counter()
        self._total = 0
        self._waiting: OrderedDict[Hashable, deque[asyncio.Future[None]]] = OrderedDict()

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        await self._enter(key)
        try:
            await coroutine
        finally:
            self._leave(key)

    async def _enter(self, key: Hashable) -> None:
        if self._total < self.limit and self._running[key] < self.per_chat and key not in self._waiting:
            self._take(key)
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave(key)  # the slot was handed over just as the wait was cancelled
            raise

    def _take(self, key: Hashable) -> None:
        self._running[key] += 1
        self._total += 1

    def _leave(self, key: Hashable) -> None:
        self._running[key] -= 1
        if self._running[key] <= 0:
            del self._running[key]
        self._total -= 1
        self._hand_over()

    def _hand_over(self) -> None:
        """Free slots go round the waiting chats, one each in turn."""
        moved = True
        while moved and self._total < self.limit:
            moved = False
            for key in list(self._waiting):
                if self._total >= self.limit:
                    break
                if self._running[key] >= self.per_chat:
                    continue
                queue = self._waiting[key]
                turn = queue.popleft()
                if queue:
                    self._waiting.move_to_end(key)
                else:
                    del self._waiting[key]
                moved = True
                if turn.done():
                    continue  # its wait was cancelled
                self._take(key)
                turn.set_result(None)


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
        with handled_update(update.update_id, chat.id if chat is not None else None, _update_kind(update)):
            await self._process_in_unit(update, store)

    async def _process_in_unit(self, update: Update, store: Store) -> None:
        async with store.unit(update.update_id) as unit:
            if unit is None:
                log.debug("update %s was handled already", update.update_id)
                note(outcome="done before")
                return
            await super().process_update(update)
            _note_who_asked(update, unit.messages)

    async def process_error(self, update: object | None, error: Exception, *args: Any, **kwargs: Any) -> bool:
        unit = current_unit()
        if unit is not None and isinstance(update, Update) and update.update_id == unit.update_id and not unit.failed:
            # "Nothing was changed" must be true: undo the update's writes before apologising.
            await unit.fail()
        return await super().process_error(update, error, *args, **kwargs)


async def recover(application: Application) -> int:
    """Process again what a stop or crash left unfinished; returns how many.

    Alone on its database (SQLite; the one process polling Telegram; the only live replica on
    PostgreSQL), this process takes every update still 'new'. A replica beside live ones (the
    webhook, several processes) takes none: the 'new' ones may be in progress elsewhere right
    now, and what a dead replica left is taken over by the inbox sweep (``bot.replicas.InboxSweep``)
    once it has stayed 'new' ``STALE_AFTER`` seconds; the sweep starts counting now."""
    services = application.bot_data["services"]
    store: Store = services.store
    replicas: Replicas | None = application.bot_data.get("replicas")
    webhook = bool(services.settings.webhook_url)  # a poller is alone: Telegram allows one per bot
    if replicas is not None and webhook and not replicas.exclusive and replicas.count > 1:
        if replicas.sweeper is not None:
            await replicas.sweeper.sweep()
        log.info("%d other replica(s) alive: updates left 'new' are left to the inbox sweep", replicas.count - 1)
        return 0
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


def _note_who_asked(update: Update, messages: list[Any]) -> None:
    """A reply quoting a person's message also says who that person is and in which language it
    was written: merged with other replies (see ``Sender``), it names the person instead."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None or user.is_bot:
        return
    for outgoing in messages:
        payload = outgoing.payload
        if payload.get("reply_to") == message.message_id and "text" in payload:
            payload["by"] = {"id": user.id, "name": user.full_name}
            payload["lang"] = i18n.current()


def _for_inbox(update: Update) -> str:
    """The update as JSON, without secrets: ``/amazon set …`` carries Amazon credentials, which
    are stored only encrypted. Processed again after a crash, it reads as ``/amazon set`` and
    the person is asked to send it again."""
    return _inbox_json(update.to_dict())


def _inbox_json(data: dict[str, Any]) -> str:
    """An update's JSON (``Update.to_dict()`` or Telegram's own) as the inbox keeps it (see
    :func:`_for_inbox`); ``data`` itself is left as it is."""
    message = data.get("message")
    if isinstance(message, dict):
        words = str(message.get("text", "")).split()
        if words and words[0].split("@")[0].lower() == "/amazon" and len(words) > 2:
            message = {**message, "text": " ".join(words[:2]),
                       "entities": [{"type": "bot_command", "offset": 0, "length": len(words[0])}]}  # fmt: skip
            data = {**data, "message": message}
    return json.dumps(data, ensure_ascii=False)


FollowMigration = Callable[[int, int], Awaitable[bool]]


class Pace:
    """One group's pace, as Telegram keeps it: a bucket of ``burst`` messages that empties by one
    every ``period / burst`` seconds (real time, not the desk's clock)."""

    def __init__(self, burst: int = GROUP_BURST, period: float = GROUP_PERIOD) -> None:
        self.burst, self.drain = burst, burst / period
        self.level, self.at = 0.0, 0.0
        self.resume = 0.0  # Telegram said to wait until then (429)

    def used(self, now: float) -> float:
        return max(0.0, self.level - (now - self.at) * self.drain)

    def next_send(self, now: float) -> float:
        """When the next message may go (``now`` when it may go now)."""
        over = self.used(now) + 1 - self.burst
        return max(now + (over / self.drain if over > 0 else 0.0), self.resume)

    def took(self, now: float) -> None:
        self.level, self.at = self.used(now) + 1, now

    def told_to_wait(self, now: float, seconds: float) -> None:
        self.level, self.at, self.resume = float(self.burst), now, now + seconds


class Sender:
    """Delivers the outbox: per chat in order, chats side by side, until Telegram takes it.

    Each group keeps its own pace (:class:`Pace`): a group at its 20 a minute is not sent to
    until its next message may go, so its queue never parks a slot other chats need. When a
    group's queue backs up (it used half its minute and several plain replies wait), what waits
    goes out merged, each reply naming the person it answers, in as few messages as fit; the
    merged replies are marked sent together, in one transaction.
    """

    def __init__(self, bot: ExtBot[None], store: AlertStore, clock: Callable[[], datetime],
                 follow_migration: FollowMigration | None = None) -> None:  # fmt: skip
        self.bot = bot
        self.store = store
        self.clock = clock
        self.follow_migration = follow_migration
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._paces: dict[int, Pace] = {}
        self._task: asyncio.Task[None] | None = None
        #: The context the sender's tasks run in: not the update's whose replies it takes (``kick``).
        self._context = contextvars.copy_context()
        self._stopping = False
        #: Kicks that left messages in the outbox so far: a chat's delivery that read its queue
        #: after the last one has seen it all.
        self._kicks = 0
        #: The last read of the outbox may have left chats out (MAX_CHATS were busy, or its limit).
        self._left_out = False
        #: The last read of the whole outbox found few messages: the next one is small work
        #: (bot/storage/db.py), not a backlog read on a thread.
        self._few = True
        #: Which chats are this process's to send to: all (one process), or a replica's shards
        #: (bot/replicas.py; set by the composition root). Another replica sends the rest.
        self.partition: Partition = EVERYTHING
        #: The wall clock the outbox's claims are dated by (they are about this replica being alive).
        self.claim_clock: Callable[[], datetime] = utc_now

    def _claim(self) -> Claim | None:
        """What the next read claims: nothing for a process alone on its database; a replica
        claims the messages it is about to send (bot/storage/outbox.py), so that no other replica
        sends them even while their chat's shard changes hands."""
        if self.partition.exclusive:
            return None
        return Claim(self.partition.id, self.claim_clock())

    def kick(self, queued: Sequence[Queued] = ()) -> None:
        """Something was queued: look now. An update's replies (``queued``, committed with nothing
        of their chat waiting before them) are taken from here, without reading the outbox for
        them: their delivery starts before anything else the event loop has to do (the next
        getUpdates), as a bot replying from its handler would. Only what is left in the outbox
        counts as a kick (``_kicks``): replies all handed over add nothing to any queue a delivery
        under way would have to read again (its own chat's are never handed to another)."""
        if not queued:
            self._kicks += 1
        elif self._take(queued):
            return  # all of it is on its way; the outbox holds nothing else new
        self._wake.set()

    def _take(self, queued: Sequence[Queued]) -> bool:
        """Start delivering ``queued`` chat by chat; whether all of it was taken, with no chat left
        out by the last read of the outbox (else the kick is counted, before the deliveries are
        handed its count). A chat being sent to, a group that must wait for its pace, and a
        replica's (which claims what it sends) are left to the next read of the outbox."""
        if self._stopping or self._task is None or not self.partition.exclusive:
            self._kicks += 1
            return False
        chats: dict[int, list[OutboxRow]] = {}
        for q in queued:
            m = q.message
            row = OutboxRow(q.outbox_id, m.team_id, m.chat_id, q.payload_json, 0, m.kind, q.update_id, m.document)
            row.__dict__["payload"] = m.payload  # as committed (``OutboxRow.payload`` would parse it again)
            chats.setdefault(m.chat_id, []).append(row)
        now, busy, taken = asyncio.get_running_loop().time(), len(self._busy), []
        for chat_id, rows in chats.items():
            pace = self._pace(chat_id)
            if (chat_id in self._busy or busy >= MAX_CHATS or (pace is not None and pace.next_send(now) > now)
                    or not self.partition.claim_chat(chat_id)):  # fmt: skip
                continue
            busy += 1
            taken.append((chat_id, rows))
        everything = len(taken) == len(chats) and not self._left_out
        if not everything:
            self._kicks += 1
        for chat_id, rows in taken:
            self._busy[chat_id] = asyncio.create_task(self._deliver(chat_id, rows, handed=self._kicks),
                                                      context=self._context.copy())  # fmt: skip
        return everything

    def start(self) -> None:
        self._stopping = False
        self._context = contextvars.copy_context()
        self._task = asyncio.create_task(self._run(), name="dingdan-sender")

    async def stop(self) -> None:
        self._stopping = True
        self.kick()
        # Screen changes still waiting out a 429 are dropped with the sender (courtesies).
        tasks = [t for t in (self._task, *self._busy.values(), *_screen_retries) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._busy.clear()

    async def idle(self) -> None:
        """Wait until nothing is being sent (tests; a clean stop)."""
        while self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    def _pace(self, chat_id: int) -> Pace | None:
        if chat_id >= 0:
            return None  # a person's chat: only the overall limit (the rate limiter's)
        pace = self._paces.get(chat_id)
        if pace is None:
            pace = self._paces[chat_id] = Pace()
        return pace

    def _waiting_chats(self, now: float) -> tuple[list[int], float | None]:
        """Groups that may not be sent to yet, and the soonest one of them may."""
        waiting, soonest = [], None
        for chat_id, pace in list(self._paces.items()):
            at = pace.next_send(now)
            if at > now:
                waiting.append(chat_id)
                soonest = at if soonest is None else min(soonest, at)
            elif pace.used(now) == 0 and pace.resume <= now:
                del self._paces[chat_id]  # idle long enough to forget
        return waiting, soonest

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._wake.clear()
            waiting, soonest = self._waiting_chats(loop.time())
            queues: list[list[OutboxRow]] = []
            self._left_out = True
            owned = self.partition.owned_shards()  # None: every chat is ours
            if len(self._busy) < MAX_CHATS and owned != []:
                chats = MAX_CHATS - len(self._busy)
                shards = None if owned is None else (self.partition.shards, owned)
                try:
                    queues = await self.store.due_queues(self.clock(), chats=chats, skip_chats=[*self._busy, *waiting],
                                                         shards=shards, claim=self._claim(), small=self._few)  # fmt: skip
                    self._left_out = len(queues) >= chats
                    self._few = not self._left_out and sum(map(len, queues)) <= FEW_PENDING
                except Exception:  # noqa: BLE001 - the sender outlives a failed read
                    log.exception("could not read the outbox")
            for rows in queues:
                chat_id = rows[0].chat_id
                if chat_id in self._busy or len(self._busy) >= MAX_CHATS:
                    continue
                # Still ours (a replica's share may have moved since the read), and kept ours
                # until this delivery ends: two replicas never send one chat's queue.
                if not self.partition.claim_chat(chat_id):
                    if not self.partition.exclusive:
                        await self._unclaim(chat_id)  # its next holder need not wait for the claim
                    continue
                self._busy[chat_id] = asyncio.create_task(self._deliver(chat_id, rows))
            timeout = IDLE if soonest is None else min(IDLE, max(soonest - loop.time(), 0.005))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _deliver(self, chat_id: int, rows: list[OutboxRow], *, handed: int | None = None) -> None:
        """Send the chat's ``rows`` in order, and what its queue holds after them. ``handed``: the
        rows were handed over by the commit that queued them (``kick``), with nothing of the chat
        waiting before them; the value of ``_kicks`` then. While nothing else was queued since
        (no kick), the chat's queue is known to be empty after them: the last one's mark comes
        without a read of the queue."""
        loop = asyncio.get_running_loop()
        seen_all = False  # the chat's queue was read after anything was last queued, and is empty
        claimed_at = loop.time()  # when ``rows`` were claimed (a replica's; see _claim)
        cancelled = failed = False
        try:
            while rows:
                pace = self._pace(chat_id)
                if pace is not None and pace.next_send(loop.time()) > loop.time():
                    break  # the rest waits in the outbox for the group's next turn
                if not self.partition.exclusive and loop.time() - claimed_at > CLAIM.total_seconds() / 2:
                    # This replica was held up (a long send, a stall): the claim is renewed before
                    # sending on, and what another replica took meanwhile is left to it.
                    queues = await self.store.due_queues(self.clock(), only_chat=chat_id, claim=self._claim())
                    rows, claimed_at = (queues[0] if queues else []), loop.time()
                    continue
                batch = self._batch(rows, pace, loop.time())
                # A group's queue is read again after each message (what arrived meanwhile joins
                # the next merge), anyone's when its last message went: in the hop that marks it.
                follow = pace is not None or len(batch) == len(rows)
                kicks = self._kicks
                known = follow and pace is None and handed == kicks  # nothing queued since the hand-over
                outcome = await self._send_batch(batch, follow=follow and not known)
                if outcome is False:
                    break  # the chat's later messages wait for this one
                if outcome is True:  # taken, or given up, without a look at the queue
                    rows = rows[len(batch) :]
                    if known and not rows:
                        seen_all = kicks == self._kicks  # and still nothing: the queue is empty
                    if pace is not None:
                        queues = await self.store.due_queues(self.clock(), only_chat=chat_id, claim=self._claim())
                        rows, claimed_at = (queues[0] if queues else []), loop.time()
                else:
                    rows, seen_all, claimed_at = outcome, not outcome and kicks == self._kicks, loop.time()
        except asyncio.CancelledError:
            cancelled = True  # a stop: the replica gives its claims back (Replicas.stop)
            raise
        except Exception:  # noqa: BLE001 - one chat's trouble never stops the others
            log.exception("sending to chat %s failed", chat_id)
            failed = True
        finally:
            if (rows or failed) and not cancelled and not self.partition.exclusive:
                # Claimed and not sent now (the group's pace, a retry, a failure): free for whoever
                # sends to the chat next, this replica or the next holder of its shard.
                await self._unclaim(chat_id)
            self._busy.pop(chat_id, None)
            self.partition.release_chat(chat_id)
            if not seen_all or self._left_out:
                # The outbox is read again: this chat's later messages, or chats left out.
                self._wake.set()

    def _batch(self, rows: list[OutboxRow], pace: Pace | None, now: float) -> list[OutboxRow]:
        """The messages to send next as one: the first alone, or, when the group's queue backs
        up, the plain replies at its head merged, as many as fit one message."""
        if pace is None or not _mergeable(rows[0]) or len(rows) < 2:
            return rows[:1]
        run = 0
        while run < len(rows) and _mergeable(rows[run]):
            run += 1
        if run < 2 or pace.used(now) + run <= MERGE_FROM:
            return rows[:1]
        batch, size = [rows[0]], _shown_length(_merged_line(rows[0]))
        for row in rows[1:run]:
            size += 1 + _shown_length(_merged_line(row))  # the line break between them
            if size > MERGED_MAX:
                break
            batch.append(row)
        return batch

    async def _send_batch(self, batch: list[OutboxRow], *, follow: bool = False) -> bool | list[OutboxRow]:
        """Send the batch as one message. False: the chat's later messages wait; True: they may
        follow; with ``follow``, once it was taken: the chat's due messages, read again."""
        if len(batch) == 1:
            return await self._send(batch[0], follow=follow)
        row, chat_id = batch[0], batch[0].chat_id
        text = "\n".join(_merged_line(r) for r in batch)
        try:
            message_id = await _send_text(self.bot, chat_id, text)
        except BadRequest as err:
            if "chat not found" in err.message.lower():
                await self._hold(row, chat_id, f"400 {err.message}")
                return False
            # Not the merging's fault to pass on: each reply goes on its own, as queued.
            log.warning("Telegram refused %d merged replies for chat %s (%s); sending the first alone",
                        len(batch), chat_id, err.message)  # fmt: skip
            return await self._send(row, follow=follow)
        except (RetryAfter, ChatMigrated, Forbidden, TelegramError) as err:
            return await self._failed(row, chat_id, err)
        self._took(chat_id)
        await self.store.sent_together([r.outbox_id for r in batch], message_id, self.clock())
        log.info("sent %d replies merged into one message to chat %s", len(batch), chat_id)
        if follow:
            queues = await self.store.due_queues(self.clock(), only_chat=chat_id, claim=self._claim())
            return queues[0] if queues else []
        return True

    async def _unclaim(self, chat_id: int) -> None:
        try:
            await self.store.unclaim(chat_id, self.partition.id)
        except Exception:  # noqa: BLE001 - the claim runs out by itself (CLAIM)
            log.warning("could not give back the claims on chat %s's messages", chat_id, exc_info=True)

    def _took(self, chat_id: int) -> None:
        pace = self._pace(chat_id)
        if pace is not None:
            pace.took(asyncio.get_running_loop().time())

    async def _send(
        self, row: OutboxRow, chat_id: int | None = None, *, follow: bool = False
    ) -> bool | list[OutboxRow]:
        """Send one message; True when the chat's next message may follow (with ``follow``: the
        chat's due messages, read in the same hop as marking this one sent)."""
        target = row.chat_id if chat_id is None else chat_id
        try:
            message_id = await self._call(row, target)
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
        except (RetryAfter, ChatMigrated, Forbidden, TelegramError) as err:
            return await self._failed(row, target, err)
        self._took(target)
        if follow:
            return await self.store.sent_then_due(row.outbox_id, message_id, self.clock(), target,
                                                  claim=self._claim())  # fmt: skip
        await self.store.sent(row.outbox_id, message_id, self.clock())
        return True

    async def _failed(self, row: OutboxRow, target: int, err: TelegramError) -> bool:
        """Telegram did not take the chat's next message: when to try again (False: not now)."""
        if isinstance(err, RetryAfter):
            wait = _seconds(err)
            pace = self._pace(target)
            if pace is not None:
                pace.told_to_wait(asyncio.get_running_loop().time(), wait)
            await self.store.retry(row.outbox_id, self.clock() + timedelta(seconds=wait), f"429 retry after {wait:g} s")
            return False
        if isinstance(err, ChatMigrated):
            if self.follow_migration is not None and await self.follow_migration(target, err.new_chat_id):
                # The move re-addressed this message and the chat's others to the supergroup: its
                # queue sends them next. Sending from here as well would race that queue (it may
                # be busy with the supergroup already) and deliver the message twice.
                log.info("chat %s became supergroup %s; message %s follows it", target, err.new_chat_id, row.outbox_id)
                self.kick()
                return False
            await self.store.retry(row.outbox_id, self.clock() + _backoff(row.attempts), "chat migrated")
            return False
        if isinstance(err, Forbidden):
            await self._hold(row, target, f"403 {err.message}")
            return False
        # 5xx, time-outs, network errors
        log.info("sending message %s to chat %s failed (%s); retrying", row.outbox_id, target, err)
        await self.store.retry(row.outbox_id, self.clock() + _backoff(row.attempts), f"{type(err).__name__}: {err}")
        return False

    async def _hold(self, row: OutboxRow, chat_id: int, error: str) -> None:
        log.warning("the bot cannot write to chat %s (team %s): %s", chat_id, row.team_id, error)
        if chat_id < 0:
            # A group: hold everything for it until the bot is added back.
            await self.store.unreachable(row.team_id or chat_id, self.clock(), error)
        else:
            # A person who blocked the bot (or never started it): nothing to wait for.
            await self.store.give_up(row.outbox_id, error)

    async def _call(self, row: OutboxRow, chat_id: int) -> int:
        """Send the row's message; the id Telegram gave it."""
        payload = row.payload
        reply = None
        if payload.get("reply_to"):
            reply = ReplyParameters(message_id=int(payload["reply_to"]), allow_sending_without_reply=True)
        markup = _markup(payload)
        if row.kind == "file":
            document = row.document if row.document is not None else await self.store.document(row.outbox_id)
            sent = await self.bot.send_document(
                chat_id, InputFile(document or b"", filename=payload.get("filename") or "file.txt"),
                caption=payload.get("caption") or None, reply_parameters=reply, reply_markup=markup,
            )  # fmt: skip
            return int(sent.message_id)
        return await _send_text(self.bot, chat_id, payload["text"], reply_markup=markup, reply_parameters=reply)


async def _send_text(bot: ExtBot[Any], chat_id: int, text: str, *, reply_markup: Any = None,
                     reply_parameters: ReplyParameters | None = None) -> int:  # fmt: skip
    """A text message's id, sent: without reading Telegram's answer into a ``Message`` when the
    bot is dingdan's (tests hand the sender stand-ins)."""
    if isinstance(bot, DeskBot):
        return await bot.send_text(chat_id, text, reply_markup=reply_markup, reply_parameters=reply_parameters)
    sent = await bot.send_message(chat_id, text, reply_markup=reply_markup, reply_parameters=reply_parameters)
    return int(sent.message_id)


def _mergeable(row: OutboxRow) -> bool:
    """A plain reply: text only, no buttons (a merged message has no one place to put them)."""
    if row.kind != "reply":
        return False
    payload = row.payload
    return (
        isinstance(payload.get("text"), str)
        and not payload.get("markup")
        and not payload.get("buttons")
        and not payload.get("force_reply")
    )


def _merged_line(row: OutboxRow) -> str:
    """A reply as a line of a merged message: the person it answers, then the reply (a reply
    quoted the person's message; merged, it names them: a mention, which notifies them too)."""
    payload = row.payload
    text = str(payload["text"]).strip()
    by = payload.get("by")
    if not isinstance(by, dict) or not by.get("id"):
        return text
    person = f'<a href="tg://user?id={int(by["id"])}">{html.escape(str(by.get("name") or by["id"]), quote=False)}</a>'
    with i18n.using(str(payload.get("lang") or i18n.DEFAULT_LOCALE)):
        return _("{person}: {reply}", person=i18n.Raw(person), reply=i18n.Raw(text))


_TAG = re.compile(r"<[^>]*>")


def _shown_length(text: str) -> int:
    """The length Telegram checks against its limit: the text it shows (tags gone, entities
    read), in UTF-16 code units."""
    shown = html.unescape(_TAG.sub("", text))
    return len(shown.encode("utf-16-le")) // 2


def _markup(payload: dict[str, Any]) -> InlineKeyboardMarkup | ForceReply | None:
    if payload.get("force_reply"):  # a question whose answer is a reply to it (handlers/quickship.py)
        return ForceReply(selective=True, input_field_placeholder=payload["force_reply"].get("placeholder"))
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


_COMMAND_WORD = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@\w+)?")


def _update_kind(update: Update) -> str:
    """What an update is, for its log line: ``/ship``, ``button:op``, ``document``; ``-`` for
    text (the handler names the keyword's command). Never what the person wrote after it."""
    if update.callback_query is not None:
        prefix = (update.callback_query.data or "").partition(":")[0]
        return f"button:{prefix}" if re.fullmatch(r"[a-z]{1,4}", prefix) else "button:?"
    message = update.effective_message
    if message is None:
        return next((k for k in ("my_chat_member", "chat_member") if getattr(update, k, None)), "-")
    if message.document is not None:
        return "document"
    words = (message.text or "").split(maxsplit=1)
    command = _COMMAND_WORD.fullmatch(words[0]) if words else None
    return f"/{command.group(1).lower()}" if command else "-"

"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

The real python-telegram-bot ``Application`` talks to it over real HTTP on 127.0.0.1:
point PTB's ``base_url`` at :attr:`FakeBotAPI.base_url` and ``base_file_url`` at
:attr:`FakeBotAPI.base_file_url`.  Scripted people (:meth:`FakeBotAPI.user`) write into
chats (:meth:`FakeBotAPI.group`, :meth:`FakeBotAPI.private`); what they write becomes
updates that the bot fetches with ``getUpdates``; what the bot sends is stored per chat
and can be awaited (:meth:`FakeBotAPI.ask`, :meth:`FakeBotAPI.click`, ...).

Webhook mode: after ``setWebhook`` the fake acts as Telegram does: it POSTs each update to
the URL with the ``X-Telegram-Bot-Api-Secret-Token`` header, one at a time and in order, drops
it once answered 2xx and tries it again later otherwise; ``getUpdates`` is then refused with
409. :meth:`FakeBotAPI.post_update` posts one body by hand (a wrong secret, a malformed body,
an update twice).

It implements the methods the desk calls (and python-telegram-bot calls for it): getMe,
getUpdates, setWebhook, deleteWebhook, getWebhookInfo, setMyCommands, sendMessage, sendDocument, editMessageText,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, getChatMember, getFile and
file downloads; any other method is answered 404, as an unknown one is by Telegram.

It behaves the way Telegram does where a bot can get it wrong: HTML text (the desk's
parse mode) is parsed into plain text plus entities and refused with Telegram's 400 when
it does not parse; texts over 4096 characters, captions over 1024, callback data over 64
bytes, downloads over 20 MB, replies to unknown messages, editing a message into what it
already is ("message is not modified"), answering a callback query twice, writing to a
chat the bot was removed from or to a person who never started the bot are all refused
as Telegram refuses them.

No pytest import here: ``bench/`` scripts import this module too.
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import math
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.support.server import LocalServer

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "ApiError",
    "ClickResult",
    "FakeBotAPI",
    "FakeChat",
    "FakeUser",
    "FloodLimits",
    "UploadedFile",
]

BOT_ID = 777000111
BOT_USERNAME = "dingdan_test_bot"
BOT_FIRST_NAME = "dingdan"
DEFAULT_TOKEN = "123456:TEST-token"
#: The sender Telegram shows for messages of anonymous administrators and for the first
#: (service) message of a group upgraded to a supergroup.
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024

MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
# Keys of stored messages that are ours, not Telegram's; stripped before a message is
# handed to the bot.
EXTRA_KEYS = frozenset({"content", "filename", "edits", "deleted", "params", "delivered"})

# Parameters (of the methods above) whose form value is a plain string even when it looks
# like JSON ("123", "true", "[x]"); every other form value is JSON-decoded, as PTB
# JSON-encodes all non-string values (see telegram/request/_requestparameter.py: json_value).
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "file_id",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "document",
        "thumbnail",
        "secret_token",
    }
)


def utf16len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description, optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class UploadedFile:
    """A file part of a multipart request, as the bot uploaded it."""

    filename: str | None
    content_type: str | None
    content: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.content)} bytes)"


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_size: int
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    language_code: str | None = None
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass(eq=False)
class FakeChat:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    username: str | None = None
    user: FakeUser | None = None  # the other person of a private chat
    api: FakeBotAPI | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or str(self.id)
            if self.username:
                data["username"] = self.username
        return data

    def add(self, user: FakeUser, status: str = "member") -> FakeChat:
        """Put ``user`` into this group with ``status``; returns the chat for chaining."""
        assert self.api is not None
        self.api.set_member(self.id, user, status)
        return self

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass
class ClickResult:
    """What the bot did after a button press (see :meth:`FakeBotAPI.click`)."""

    query_id: str
    message: dict  # the pressed message, current state (edits applied)
    messages: list[dict]  # new messages the bot sent into the chat
    edits: list[dict]  # edit records of the pressed message (see "edits" of a message)
    answered: bool
    answer: str | None  # text of answerCallbackQuery, if any
    show_alert: bool
    deleted: bool  # the pressed message was deleted

    @property
    def text(self) -> str | None:
        """Text of the pressed message now (after edits)."""
        return self.message.get("text", self.message.get("caption"))


# --------------------------------------------------------------------------------------
# parse_mode: Telegram turns formatted text into plain text + entities, or refuses it.


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^<>]*)?)\s*>")
_ATTR_RE = re.compile(r"""([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]+|#x[0-9A-Fa-f]+|lt|gt|amp|quot);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_html(source: str) -> tuple[str, list[dict]]:
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int, dict]] = []
    entities: list[dict] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            m = _TAG_RE.match(source, i)
            if not m:
                name = re.match(r"</?([^\s>]*)", source[i:]).group(1)  # type: ignore[union-attr]
                raise _bad(
                    f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}'
                )
            closing, name, attr_text = m.group(1), m.group(2).lower(), m.group(3) or ""
            if name not in _HTML_TAGS:
                raise _bad(
                    f"can't parse entities: Unsupported {'end' if closing else 'start'} tag "
                    f'"{name}" at byte offset {_byte_offset(source, i)}'
                )
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f'expected "</{stack[-1][0]}>", ' if stack else ""
                    raise _bad(
                        f"can't parse entities: Unmatched end tag at byte offset "
                        f'{_byte_offset(source, i)}, {expected}found "</{name}>"'
                    )
                tag, start, attrs = stack.pop()
                if pos16 > start:
                    ent: dict[str, Any] = {"type": _HTML_TAGS[tag], "offset": start, "length": pos16 - start}
                    if tag == "a":
                        ent["url"] = attrs.get("href", "")
                    if tag == "blockquote" and "expandable" in attrs:
                        ent["type"] = "expandable_blockquote"
                    if tag == "code" and "class" in attrs and stack and stack[-1][0] == "pre":
                        stack[-1][2]["language"] = attrs["class"].removeprefix("language-")
                        ent = {}
                    if tag == "pre" and attrs.get("language"):
                        ent["language"] = attrs["language"]
                    if tag == "tg-emoji":
                        ent["custom_emoji_id"] = attrs.get("emoji-id", "")
                    if ent:
                        entities.append(ent)
            else:
                attrs = {
                    a.group(1).lower(): html.unescape(next(g for g in a.groups()[1:] if g is not None))
                    for a in _ATTR_RE.finditer(attr_text)
                }
                if "expandable" in attr_text.split():
                    attrs["expandable"] = ""
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _bad(
                        'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(source, i)}"
                    )
                stack.append((name, pos16, attrs))
            i = m.end()
            continue
        if ch == "&":
            m = _HTML_ENTITY_RE.match(source, i)
            if m:
                ref = m.group(1)
                try:
                    if ref.startswith("#x"):
                        piece = chr(int(ref[1:].replace("x", "0x", 1), 0))
                    elif ref.startswith("#"):
                        piece = chr(int(ref[1:]))
                    else:
                        piece = _NAMED[ref]
                except (ValueError, OverflowError):
                    piece = m.group(0)
                out.append(piece)
                pos16 += utf16len(piece)
                i = m.end()
                continue
        out.append(ch)
        pos16 += utf16len(ch)
        i += 1
    if stack:
        raise _bad(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def format_text(text: str, parse_mode: str | None, entities: list | None = None) -> tuple[str, list[dict]]:
    """Plain text and entities of ``text`` as Telegram would store it; strips surrounding
    whitespace like Telegram does. Of the parse modes only HTML, the desk's, is read."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, ents = parse_html(text)
    elif mode:
        raise _bad(f"parse_mode {parse_mode!r} is not supported by this fake")
    else:
        plain, ents = text, [dict(e) for e in (entities or [])]
    stripped = plain.lstrip()
    cut = utf16len(plain) - utf16len(stripped)
    stripped = stripped.rstrip()
    total = utf16len(stripped)
    fixed = []
    for ent in ents:
        start = max(ent["offset"] - cut, 0)
        end = min(ent["offset"] + ent["length"] - cut, total)
        if end > start:
            fixed.append({**ent, "offset": start, "length": end - start})
    return stripped, fixed


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,64})?")
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@])@[A-Za-z0-9_]{5,32}")


def user_entities(text: str) -> list[dict]:
    """Entities Telegram attaches to what a person typed: bot_command (e.g. ``/ship`` or
    ``/ship@dingdan_test_bot``) and mention (``@username``), offsets in UTF-16 units."""
    found = []
    for regex, kind in ((_COMMAND_RE, "bot_command"), (_MENTION_RE, "mention")):
        for m in regex.finditer(text):
            found.append({"type": kind, "offset": utf16len(text[: m.start()]), "length": utf16len(m.group(0))})
    found.sort(key=lambda e: e["offset"])
    return found


def wire(message: dict) -> dict:
    """A stored message as Telegram sends it: without this fake's bookkeeping keys."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k not in EXTRA_KEYS}


def _client_gone(request: web.Request) -> bool:
    """Whether the HTTP client closed its end (a killed bot): the server may not have noticed
    yet, so look at the socket itself (a peek that reads end-of-file)."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    peek = socket.fromfd(sock.fileno(), sock.family, sock.type)
    try:
        return peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        peek.close()


def inline_buttons(message: dict) -> list[dict]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


# --------------------------------------------------------------------------------------


@dataclass
class FloodLimits:
    """Telegram's flood limits, for :class:`FakeBotAPI` (``flood=FloodLimits()``): at most
    ``group_burst`` messages into one group, refilled at ``group_burst`` a ``group_period`` (20 a
    minute), and ``overall_per_second`` messages a second overall; a message over a limit is
    refused with 429 and the whole seconds to wait, as Telegram does. Real (monotonic) time."""

    group_burst: int = 20
    group_period: float = 60.0
    overall_per_second: int = 30
    methods: frozenset[str] = frozenset({"sendmessage", "senddocument"})
    _levels: dict[int | None, tuple[float, float]] = field(default_factory=dict)
    refused: int = 0

    def _bucket(self, key: int | None, burst: int, per_second: float, now: float) -> float | None:
        level, at = self._levels.get(key, (0.0, now))
        level = max(0.0, level - (now - at) * per_second)
        if level + 1 > burst:
            return (level + 1 - burst) / per_second
        self._levels[key] = (level, now)
        return None

    def check(self, method: str, chat_id: int | None) -> None:
        """Count one message, or raise Telegram's 429."""
        if method not in self.methods:
            return
        now = time.monotonic()
        wait = self._bucket(None, self.overall_per_second, float(self.overall_per_second), now)
        if wait is None and chat_id is not None and chat_id < 0:
            wait = self._bucket(chat_id, self.group_burst, self.group_burst / self.group_period, now)
        if wait is not None:
            self.refused += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})
        for key in (None, chat_id) if chat_id is not None and chat_id < 0 else (None,):
            level, _at = self._levels[key]
            self._levels[key] = (level + 1, now)


class FakeBotAPI(LocalServer):
    """A Telegram Bot API server on 127.0.0.1 for one bot. See the module docstring."""

    bot_id = BOT_ID
    bot_username = BOT_USERNAME
    max_request = MAX_UPLOAD + 1024 * 1024

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        clock: Callable[[], datetime] | None = None,
        flood: FloodLimits | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.clock = clock
        self.flood = flood  # Telegram's flood limits, when given (off by default)
        self._closing = False

        # observation
        self.calls: list[tuple[str, dict]] = []
        self.errors: list[dict] = []  # every error answer: method, params, status, description, injected
        self.downloads: list[str] = []  # file paths the bot downloaded
        self.deliveries: dict[int, int] = {}  # update_id -> times handed out by getUpdates
        self.commands: dict[tuple[str, str], list[dict]] = {}  # (scope key, language_code) -> commands
        self.answers: dict[str, dict] = {}  # callback query id -> answerCallbackQuery params

        # world
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, FakeChat] = {}
        self._members: dict[int, dict[int, str]] = {}
        self._started: set[int] = set()
        self._migrated: dict[int, int] = {}  # basic group id -> the supergroup it became
        self._messages: dict[int, list[dict]] = {}
        self._by_id: dict[tuple[int, int], dict] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, FileRecord] = {}
        self._paths: dict[str, FileRecord] = {}
        self._file_seq = itertools.count(1)
        self._queries: dict[str, dict] = {}
        self._query_seq = itertools.count(1)

        # webhook mode (setWebhook): where updates are posted, and every post made
        self.webhook: dict[str, Any] | None = None
        self.webhook_posts: list[tuple[int | None, int]] = []  # (update_id, HTTP status or 0: no answer)
        self._pusher: asyncio.Task[None] | None = None

        # updates
        self._updates: list[dict] = []
        self._update_seq = itertools.count(100_000_001)
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0

        self._faults: dict[str, list[dict]] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._held: dict[str, int] = {}
        self._methods: dict[str, Callable[[dict], Any]] = {
            name[len("_m_") :].lower(): getattr(self, name) for name in dir(self) if name.startswith("_m_")
        }

    # ---------------------------------------------------------------- life cycle

    @property
    def base_url(self) -> str:
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.origin}/file/bot"

    async def start(self) -> Self:
        self._closing = False
        return await super().start()

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # long polls return [] at once
        pusher, self._pusher = self._pusher, None
        if pusher is not None:
            pusher.cancel()
            try:
                await pusher
            except asyncio.CancelledError:
                pass
        await super().stop()

    def describe(self) -> str:
        return self.transcript()

    # ---------------------------------------------------------------- the world

    def _now(self) -> int:
        if self.clock is not None:
            return int(self.clock().timestamp())
        return int(time.time())

    @property
    def bot_user(self) -> dict:
        return {"id": BOT_ID, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        person = FakeUser(user_id, first_name, language_code, username, last_name)
        self._users[user_id] = person
        return person

    def group(
        self,
        chat_id: int,
        title: str,
        *,
        type: str = "supergroup",  # Telegram's name for it
        username: str | None = None,
        bot_status: str = "member",
    ) -> FakeChat:
        if type not in ("group", "supergroup"):
            raise ValueError("type must be 'group' or 'supergroup'")
        if chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups: -100...)")
        chat = FakeChat(chat_id, type, title=title, username=username, api=self)
        self._chats[chat_id] = chat
        self._members.setdefault(chat_id, {})[BOT_ID] = bot_status
        return chat

    def private(self, user: FakeUser) -> FakeChat:
        """The private chat of ``user`` with the bot (chat id = user id); from now on the
        user counts as having started the bot, so the bot may write to them."""
        chat = self._chats.get(user.id)
        if chat is None:
            chat = FakeChat(user.id, "private", user=user, api=self)
            self._chats[user.id] = chat
        self._users.setdefault(user.id, user)
        self._started.add(user.id)
        return chat

    def set_member(self, chat_id: int | FakeChat, user: int | FakeUser, status: str) -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {MEMBER_STATUSES}")
        cid = self._cid(chat_id)
        if isinstance(user, FakeUser):
            self._users.setdefault(user.id, user)
            uid = user.id
        else:
            uid = user
        self._members.setdefault(cid, {})[uid] = status

    def member_status(self, chat_id: int | FakeChat, user: int | FakeUser) -> str:
        cid = self._cid(chat_id)
        uid = user.id if isinstance(user, FakeUser) else user
        chat = self._chats.get(cid)
        if chat is not None and chat.type == "private" and uid in (cid, BOT_ID):
            return "member"
        return self._members.get(cid, {}).get(uid, "left")

    def kick_bot(self, chat_id: int | FakeChat, *, by: FakeUser | None = None) -> None:
        """Remove the bot from a group (sends there then fail with 403). With ``by``, the bot
        also gets the ``my_chat_member`` update Telegram sends."""
        cid = self._cid(chat_id)
        chat = self._chats.get(cid)
        old = self.member_status(cid, BOT_ID)
        self._members.setdefault(cid, {})[BOT_ID] = "kicked"
        if by is not None and chat is not None:
            self._enqueue(
                "my_chat_member",
                {
                    "chat": chat.to_dict(),
                    "from": by.to_dict(),
                    "date": self._now(),
                    "old_chat_member": self._member_dict(cid, BOT_ID, old),
                    "new_chat_member": self._member_dict(cid, BOT_ID, "kicked"),
                },
            )
        self._notify()

    def add_bot(self, chat_id: int | FakeChat, *, by: FakeUser | None = None, status: str = "member") -> None:
        """(Re-)add the bot to a group; with ``by``, also deliver the ``my_chat_member`` update."""
        cid = self._cid(chat_id)
        old = self.member_status(cid, BOT_ID)
        self._members.setdefault(cid, {})[BOT_ID] = status
        chat = self._chats.get(cid)
        if by is not None and chat is not None:
            self._enqueue(
                "my_chat_member",
                {
                    "chat": chat.to_dict(),
                    "from": by.to_dict(),
                    "date": self._now(),
                    "old_chat_member": self._member_dict(cid, BOT_ID, old),
                    "new_chat_member": self._member_dict(cid, BOT_ID, status),
                },
            )
        self._notify()

    def member_leaves(self, chat: int | FakeChat, user: FakeUser, *, status: str = "left",
                      chat_member_update: bool = True, service_message: bool = True) -> None:  # fmt: skip
        """``user`` leaves the group (or is removed: ``status="kicked"``). Telegram then sends a
        ``chat_member`` update (only to a bot that is an administrator and asked for them) and
        a "left the group" service message."""
        target = self._chat_of(chat)
        old = self.member_status(target, user)
        self.set_member(target, user, status)
        if chat_member_update:
            self._enqueue("chat_member", {
                "chat": target.to_dict(), "from": user.to_dict(), "date": self._now(),
                "old_chat_member": self._member_dict(target.id, user.id, old),
                "new_chat_member": self._member_dict(target.id, user.id, status),
            })  # fmt: skip
        if service_message:
            message = self._store(target, {
                "message_id": self._new_message_id(target.id), "from": user.to_dict(), "chat": target.to_dict(),
                "date": self._now(), "left_chat_member": user.to_dict(),
            })  # fmt: skip
            message["delivered"] = True
            self._enqueue("message", wire(message))
        self._notify()

    async def edit_text(self, chat: int | FakeChat | FakeUser, message: dict | int, text: str) -> dict:
        """The author edits their message: Telegram delivers an ``edited_message`` update."""
        target = self._chat_of(chat)
        stored = self._message_of(target, message)
        stored.setdefault("edits", []).append({"text": stored.get("text")})
        stored["text"] = text.strip()
        stored["edit_date"] = self._now()
        entities = user_entities(stored["text"])
        if entities:
            stored["entities"] = entities
        else:
            stored.pop("entities", None)
        self._enqueue("edited_message", wire(stored))
        await asyncio.sleep(0)
        return stored

    async def send_anonymously(self, group: int | FakeChat, admin: FakeUser, text: str) -> dict:
        """An administrator with "Remain anonymous" writes: the message comes from
        GroupAnonymousBot on behalf of the group (``sender_chat`` is the group)."""
        target = self._chat_of(group)
        if self.member_status(target, admin) not in ("creator", "administrator"):
            raise AssertionError(f"{admin.first_name} is not an administrator of {target.title}")
        content: dict[str, Any] = {"text": text.strip()}
        entities = user_entities(text.strip())
        if entities:
            content["entities"] = entities
        message = self._store(target, {
            "message_id": self._new_message_id(target.id), "from": dict(GROUP_ANONYMOUS_BOT),
            "sender_chat": target.to_dict(), "chat": target.to_dict(), "date": self._now(), **content,
        })  # fmt: skip
        message["delivered"] = True
        self._enqueue("message", wire(message))
        await asyncio.sleep(0)
        return message

    def channel(self, chat_id: int, title: str, *, bot_status: str = "administrator") -> FakeChat:
        """A channel the bot administers (posts reach it as ``channel_post``)."""
        chat = FakeChat(chat_id, "channel", title=title, api=self)
        self._chats[chat_id] = chat
        self._members.setdefault(chat_id, {})[BOT_ID] = bot_status
        return chat

    async def post_in_channel(self, channel: FakeChat, text: str | None = None, *,
                              document: tuple[str, bytes] | None = None) -> dict:  # fmt: skip
        """A post in a channel (no ``from``; ``sender_chat`` is the channel)."""
        content: dict[str, Any] = {}
        if text is not None:
            content["text"] = text
            entities = user_entities(text)
            if entities:
                content["entities"] = entities
        if document is not None:
            record = self._new_file(document[1], document[0], "text/plain", "documents", None)
            content["document"] = self._document_dict(record)
        message = self._store(channel, {
            "message_id": self._new_message_id(channel.id), "sender_chat": channel.to_dict(),
            "chat": channel.to_dict(), "date": self._now(), **content,
        })  # fmt: skip
        message["from"] = {"id": 0}
        self._enqueue("channel_post", {k: v for k, v in wire(message).items() if k != "from"})
        await asyncio.sleep(0)
        return message

    def upgrade_to_supergroup(
        self, group: int | FakeChat, new_id: int, *, by: FakeUser, deliver: bool = True
    ) -> FakeChat:
        """Telegram upgrades a basic group to a supergroup (made public, many members, ...).

        The supergroup gets a new id (-100...), the same title, members and bot status, and
        an empty history; the old group is dead from then on: any call naming it is answered
        400 with ``parameters.migrate_to_chat_id`` (PTB raises ``ChatMigrated``). Telegram
        tells the bot twice: a message with ``migrate_to_chat_id`` in the old group (from
        ``by``), then one with ``migrate_from_chat_id`` in the supergroup (from
        GroupAnonymousBot, on behalf of the chat). With ``deliver=False`` both are stored but
        not handed to the bot (see :meth:`deliver`), as when the bot missed them.
        """
        old = self._chat_of(group)
        if old.type != "group":
            raise ValueError("only a basic group (type 'group') is upgraded to a supergroup")
        if not str(new_id).startswith("-100"):
            raise ValueError("supergroup ids start with -100")
        if old.id in self._migrated:
            raise ValueError(f"group {old.id} was upgraded already")
        new = FakeChat(new_id, "supergroup", title=old.title, username=old.username, api=self)
        self._chats[new_id] = new
        self._members[new_id] = dict(self._members.get(old.id, {}))
        self._migrated[old.id] = new_id
        now = self._now()
        told = [
            self._store(old, {"message_id": self._new_message_id(old.id), "from": by.to_dict(),
                              "chat": old.to_dict(), "date": now, "migrate_to_chat_id": new_id}),
            self._store(new, {"message_id": self._new_message_id(new_id), "from": dict(GROUP_ANONYMOUS_BOT),
                              "sender_chat": new.to_dict(), "chat": new.to_dict(), "date": now,
                              "migrate_from_chat_id": old.id}),
        ]  # fmt: skip
        for message in told:
            message["delivered"] = False
            if deliver:
                self.deliver(message)
        self._notify()
        return new

    def service_messages(self, chat: int | FakeChat) -> list[dict]:
        """The migration service messages of a chat (see :meth:`upgrade_to_supergroup`)."""
        return [m for m in self.messages(chat) if "migrate_to_chat_id" in m or "migrate_from_chat_id" in m]

    def deliver(self, message: dict) -> dict:
        """Hand the bot a stored message it has not received yet, or once more (a late or
        repeated update); returns the update."""
        message["delivered"] = True
        return self._enqueue("message", wire(message))

    def fail_next(
        self,
        method: str,
        status: int = 429,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail the Telegram way (429 carries
        ``parameters.retry_after``, 1 s unless given)."""
        if description is None:
            description = {
                400: "Bad Request: injected failure",
                403: "Forbidden: injected failure",
                409: "Conflict: injected failure",
                429: f"Too Many Requests: retry after {retry_after or 1}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, f"Error {status}")
        parameters = None
        if status == 429 or retry_after is not None:
            parameters = {"retry_after": retry_after or 1}
        self._faults.setdefault(method.lower(), []).append(
            {"status": status, "count": count, "description": description, "parameters": parameters}
        )

    # ---------------------------------------------------------------- observing

    def _cid(self, chat: int | FakeChat | FakeUser | dict) -> int:
        if isinstance(chat, FakeChat | FakeUser):
            return chat.id
        if isinstance(chat, dict):
            return chat["id"]
        return int(chat)

    def messages(self, chat: int | FakeChat) -> list[dict]:
        """Every message in the chat, from people and from the bot, in order."""
        return list(self._messages.get(self._cid(chat), []))

    def sent(self, chat: int | FakeChat) -> list[dict]:
        """Messages the bot sent into the chat, in order. They are the stored dicts: edits
        are applied in place (history under "edits"), deleted ones have "deleted": True,
        documents carry "content" (bytes) and "filename"."""
        return [m for m in self._messages.get(self._cid(chat), []) if m["from"]["id"] == BOT_ID]

    def last(self, chat: int | FakeChat) -> dict:
        sent = self.sent(chat)
        if not sent:
            raise AssertionError(f"the bot sent nothing to chat {self._cid(chat)}")
        return sent[-1]

    def texts(self, chat: int | FakeChat) -> list[str]:
        return [m.get("text", m.get("caption", "")) for m in self.sent(chat)]

    def calls_of(self, method: str) -> list[dict]:
        return [params for name, params in self.calls if name.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[dict]:
        """Updates not yet confirmed by the bot (via a later getUpdates offset, or a webhook's 2xx)."""
        return list(self._updates)

    def command_names(self, scope: str = "default", language_code: str = "") -> list[str]:
        return [c["command"] for c in self.commands.get((scope, language_code), [])]

    @staticmethod
    def buttons(message: dict) -> list[tuple[str, str | None]]:
        """(text, callback_data) of the message's inline buttons, row by row."""
        return [(b.get("text", ""), b.get("callback_data")) for b in inline_buttons(message)]

    def transcript(self, chat: int | FakeChat | None = None, last: int = 40) -> str:
        chats = [self._cid(chat)] if chat is not None else list(self._messages)
        lines = []
        for cid in chats:
            c = self._chats.get(cid)
            lines.append(f"--- chat {cid} ({c.title or c.type if c else '?'}):")
            for m in self._messages.get(cid, [])[-last:]:
                who = "BOT" if m["from"]["id"] == BOT_ID else m["from"].get("first_name")
                body = m.get("text") or m.get("caption") or ""
                if "document" in m:
                    body = f"[document {m['document'].get('file_name')}] {body}"
                flags = " (deleted)" if m.get("deleted") else ""
                flags += " (not delivered to the bot)" if m.get("delivered") is False else ""
                flags += f" buttons={self.buttons(m)}" if inline_buttons(m) else ""
                lines.append(f"  #{m['message_id']} {who}: {body!r}{flags}")
        if self.errors:
            lines.append("--- error answers given to the bot:")
            for err in self.errors[-10:]:
                lines.append(
                    f"  {err['method']} -> {err['status']} {err['description']}"
                    + (" (injected)" if err["injected"] else "")
                )
        return "\n".join(lines)

    # ---------------------------------------------------------------- simulated people

    def _enqueue(self, kind: str, payload: dict) -> dict:
        update = {"update_id": next(self._update_seq), kind: payload}
        self._updates.append(update)
        self._notify()
        return update

    def _store(self, chat: FakeChat, message: dict) -> dict:
        self._messages.setdefault(chat.id, []).append(message)
        self._by_id[(chat.id, message["message_id"])] = message
        return message

    def _new_message_id(self, chat_id: int) -> int:
        mid = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = mid + 1
        return mid

    def _chat_of(self, chat: int | FakeChat | FakeUser) -> FakeChat:
        if isinstance(chat, FakeUser):
            return self.private(chat)
        if isinstance(chat, FakeChat):
            return chat
        return self._chats[int(chat)]

    def _message_of(self, chat: FakeChat, message: dict | int) -> dict:
        mid = message if isinstance(message, int) else message["message_id"]
        found = self._by_id.get((chat.id, mid))
        if found is None:
            raise AssertionError(f"no message #{mid} in chat {chat.id}")
        return found

    def _person_message(self, chat: FakeChat, user: FakeUser, reply_to: dict | int | None, **content: Any) -> dict:
        self._users.setdefault(user.id, user)
        if chat.type == "private":
            if chat.id != user.id:
                raise AssertionError(f"{user.first_name} cannot write in the private chat of {chat.id}")
            self._started.add(user.id)
        else:
            if chat.id in self._migrated:
                raise AssertionError(f"{chat.title} was upgraded to the supergroup {self._migrated[chat.id]}")
            status = self.member_status(chat, user)
            if status in ("left", "kicked"):
                if user.id in self._members.get(chat.id, {}):
                    raise AssertionError(f"{user.first_name} is {status} in {chat.title}")
                self.set_member(chat, user, "member")
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat.id),
            "from": user.to_dict(),
            "chat": chat.to_dict(),
            "date": self._now(),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = wire(self._message_of(chat, reply_to))
            message["reply_to_message"].pop("reply_to_message", None)
        self._store(chat, message)
        if self._bot_receives(chat, message):
            message["delivered"] = True
            self._enqueue("message", wire(message))
        else:
            message["delivered"] = False
        return message

    def _bot_receives(self, chat: FakeChat, message: dict) -> bool:
        if chat.type == "private":
            return True
        # The desk runs with group privacy off (README, "Group privacy": its keywords are plain
        # messages): every message of a group reaches it while it is in the group.
        return self.member_status(chat, BOT_ID) not in ("left", "kicked")

    async def send_text(
        self, chat: int | FakeChat | FakeUser, user: FakeUser, text: str, *, reply_to: dict | int | None = None
    ) -> dict:
        """``user`` writes ``text`` into ``chat``; returns the stored message. A leading
        ``/command`` or ``/command@bot`` gets its bot_command entity, as in Telegram."""
        target = self._chat_of(chat)
        text = text.strip()  # Telegram trims what people send, too
        if not text:
            raise AssertionError("Telegram does not send empty messages")
        content: dict[str, Any] = {"text": text}
        entities = user_entities(text)
        if entities:
            content["entities"] = entities
        message = self._person_message(target, user, reply_to, **content)
        await asyncio.sleep(0)
        return message

    async def upload_document(
        self,
        chat: int | FakeChat | FakeUser,
        user: FakeUser,
        filename: str,
        content: bytes,
        mime_type: str = "text/plain",
        caption: str | None = None,
        *,
        file_size: int | None = None,
        reply_to: dict | int | None = None,
    ) -> dict:
        """``user`` sends a document; ``file_size`` overrides the reported size (e.g. 30 MB
        without sending 30 MB: getFile then refuses it like Telegram does over 20 MB)."""
        target = self._chat_of(chat)
        record = self._new_file(content, filename, mime_type, "documents", file_size)
        fields: dict[str, Any] = {"document": self._document_dict(record)}
        if caption:
            fields["caption"] = caption
            entities = user_entities(caption)
            if entities:
                fields["caption_entities"] = entities
        message = self._person_message(target, user, reply_to, **fields)
        message["content"] = content
        message["filename"] = filename
        await asyncio.sleep(0)
        return message

    async def press(
        self, chat: int | FakeChat | FakeUser, user: FakeUser, message: dict | int, data: str, *, forged: bool = False
    ) -> dict:
        """``user`` presses the inline button of ``message`` whose callback_data (or, failing
        that, whose text) is ``data``; returns the callback_query dict. ``forged``: a modified
        client sends ``data`` as the button's data, whatever the message's buttons say."""
        target = self._chat_of(chat)
        stored = self._message_of(target, message)
        if stored.get("deleted"):
            raise AssertionError(f"message #{stored['message_id']} was deleted; nothing to press")
        buttons = inline_buttons(stored)
        chosen = (
            {"callback_data": data} if forged else next((b for b in buttons if b.get("callback_data") == data), None)
        )
        if chosen is None:
            chosen = next((b for b in buttons if b.get("text") == data and "callback_data" in b), None)
        if chosen is None:
            raise AssertionError(
                f"message #{stored['message_id']} has no button with callback_data or text {data!r}; "
                f"buttons: {self.buttons(stored)}"
            )
        query_id = str(4_200_000_000_000_000_000 + next(self._query_seq))
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": wire(stored),
            "chat_instance": str(-(abs(target.id) * 7919 % 10**15) - 1),
            "data": chosen["callback_data"],
        }
        self._queries[query_id] = query
        self._enqueue("callback_query", query)
        await asyncio.sleep(0)
        return query

    # ---------------------------------------------------------------- conversations

    def _bot_count(self, chat_id: int) -> int:
        return sum(1 for m in self._messages.get(chat_id, []) if m["from"]["id"] == BOT_ID)

    async def _await_new(self, chat_id: int, base: int, expect: int, timeout: float, what: str) -> list[dict]:
        def arrived() -> bool:
            return self._bot_count(chat_id) - base >= expect

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not arrived():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {expect} new bot message(s) in chat {chat_id} after {what} within "
                    f"{timeout:g}s, got {self._bot_count(chat_id) - base}\n" + self.transcript(chat_id)
                )
            await self._wait_change(remaining)
        return self.sent(chat_id)[base : base + expect]

    async def ask(
        self,
        chat: int | FakeChat | FakeUser,
        user: FakeUser,
        text: str,
        expect: int = 1,
        timeout: float = 10.0,
        *,
        reply_to: dict | int | None = None,
    ) -> list[dict]:
        """send_text, then wait for ``expect`` new bot messages in that chat; returns exactly
        those. That nothing else follows is learnt from the bot's side (for the desk:
        ``tests.support.desk.settled``), never by waiting a while."""
        target = self._chat_of(chat)
        base = self._bot_count(target.id)
        await self.send_text(target, user, text, reply_to=reply_to)
        return await self._await_new(target.id, base, expect, timeout, f"{user.first_name}: {text!r}")

    async def upload(
        self,
        chat: int | FakeChat | FakeUser,
        user: FakeUser,
        filename: str,
        content: bytes,
        mime_type: str = "text/plain",
        caption: str | None = None,
        *,
        file_size: int | None = None,
        expect: int = 1,
        timeout: float = 10.0,
    ) -> list[dict]:
        target = self._chat_of(chat)
        base = self._bot_count(target.id)
        await self.upload_document(target, user, filename, content, mime_type, caption, file_size=file_size)
        return await self._await_new(target.id, base, expect, timeout, f"{user.first_name} uploading {filename!r}")

    async def click(
        self,
        chat: int | FakeChat | FakeUser,
        user: FakeUser,
        message: dict | int,
        data: str,
        expect: int = 1,
        timeout: float = 10.0,
        *,
        forged: bool = False,
    ) -> ClickResult:
        """press, then wait until the bot answered the callback query and did ``expect``
        things (new messages in the chat + edits of the pressed message + its deletion).
        ``expect=0``: just wait for the answer (e.g. a refusal shown as an alert)."""
        target = self._chat_of(chat)
        stored = self._message_of(target, message)
        base_msgs = self._bot_count(target.id)
        base_edits = len(stored.get("edits", []))
        was_deleted = bool(stored.get("deleted"))
        query = await self.press(target, user, stored, data, forged=forged)
        qid = query["id"]

        def effects() -> int:
            return (
                self._bot_count(target.id)
                - base_msgs
                + len(stored.get("edits", []))
                - base_edits
                + (1 if stored.get("deleted") and not was_deleted else 0)
            )

        await self.wait_for(
            lambda: qid in self.answers and effects() >= expect,
            timeout,
            f"the bot to answer the press of {data!r} on #{stored['message_id']} "
            f"and do {expect} thing(s) (answered={qid in self.answers}, done={effects()})",
        )
        answer = self.answers.get(qid, {})
        return ClickResult(
            query_id=qid,
            message=stored,
            messages=self.sent(target)[base_msgs:],
            edits=stored.get("edits", [])[base_edits:],
            answered=qid in self.answers,
            answer=answer.get("text"),
            show_alert=bool(answer.get("show_alert")),
            deleted=bool(stored.get("deleted")) and not was_deleted,
        )

    # ---------------------------------------------------------------- HTTP

    def hold(self, method: str) -> None:
        """Stall every call of ``method`` (``"file"``: downloads) until :meth:`release`: Telegram
        is slow. A call whose client goes away meanwhile (the bot was killed) never happens."""
        self._holds.setdefault(method.lower(), asyncio.Event())

    def release(self, method: str) -> None:
        gate = self._holds.pop(method.lower(), None)
        if gate is not None:
            gate.set()

    def held(self, method: str) -> int:
        """How many calls of ``method`` wait at the gate now."""
        return self._held.get(method.lower(), 0)

    async def _gate(self, method: str, request: web.Request) -> None:
        gate = self._holds.get(method.lower())
        if gate is None:
            return
        key = method.lower()
        self._held[key] = self._held.get(key, 0) + 1
        self._notify()
        try:
            await gate.wait()
        finally:
            self._held[key] -= 1
        if _client_gone(request):
            # The caller died while Telegram stalled: the call never happens.
            raise asyncio.CancelledError

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            await self._gate("file", request)
            return await self._serve_file(path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._json(exc.status, {"ok": False, "error_code": exc.status, "description": exc.description})
        await self._gate(method, request)
        if _client_gone(request):
            # A killed bot's call that reached Telegram only after its death (read from the socket
            # after a hold was released): Telegram was slow, so it never happens, as at the gate.
            raise asyncio.CancelledError
        self.calls.append((method, params))
        try:
            result = await self._call(method, params)
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            status = exc.status
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            self.errors.append(
                {
                    "method": method,
                    "params": params,
                    "status": exc.status,
                    "description": exc.description,
                    "injected": getattr(exc, "injected", False),
                }
            )
        finally:
            self._notify()
        return self._json(status, body)

    @staticmethod
    def _json(status: int, body: dict) -> web.Response:
        return web.Response(status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json")

    async def _read_params(self, request: web.Request) -> dict:
        raw: dict[str, Any] = dict(request.query)
        typed: dict[str, Any] = {}
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    typed = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        typed[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                    else:
                        raw[key] = value
        params = {key: self._decode(key, value) for key, value in raw.items()}
        params.update(typed)
        return params

    @staticmethod
    def _decode(key: str, value: Any) -> Any:
        if not isinstance(value, str) or key in STRING_PARAMS:
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value

    async def _call(self, method: str, params: dict) -> Any:
        name = method.lower()
        faults = self._faults.get(name)
        if faults:
            fault = faults[0]
            fault["count"] -= 1
            if fault["count"] <= 0:
                faults.pop(0)
            exc = ApiError(fault["status"], fault["description"], fault["parameters"])
            exc.injected = True  # type: ignore[attr-defined]
            raise exc
        handler = self._methods.get(name)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        if "chat_id" in params and name not in ("getupdates",):
            self._check_access(params["chat_id"])
        if self.flood is not None:
            chat_id = params.get("chat_id")
            self.flood.check(name, chat_id if isinstance(chat_id, int) else None)
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async def _serve_file(self, rest: str) -> web.Response:
        token, _, file_path = rest.partition("/")
        record = self._paths.get(file_path) if token == self.token else None
        if record is None:
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        self.downloads.append(file_path)
        self._notify()
        return web.Response(body=record.content, content_type="application/octet-stream")

    # ---------------------------------------------------------------- helpers for methods

    def _resolve_chat(self, chat_id: Any) -> FakeChat:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self._chats.values():
                if chat.username and chat.username.lower() == chat_id[1:].lower():
                    return chat
            raise _bad("chat not found")
        try:
            cid = int(chat_id)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        chat = self._chats.get(cid)
        if chat is None:
            if cid in self._users:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise _bad("chat not found")
        return chat

    def _check_access(self, chat_id: Any) -> FakeChat:
        chat = self._resolve_chat(chat_id)
        if chat.id in self._migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self._migrated[chat.id]})  # fmt: skip
        if chat.type == "private":
            if chat.id not in self._started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        else:
            status = self.member_status(chat, BOT_ID)
            if status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            if status == "left":
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _member_dict(self, chat_id: int, user_id: int, status: str) -> dict:
        if user_id == BOT_ID:
            user = self.bot_user
        elif user_id in self._users:
            user = self._users[user_id].to_dict()
        else:
            user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        data: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
                can_manage_topics=False,
            )
        elif status == "restricted":
            data.update(
                is_member=True,
                can_change_info=False,
                can_invite_users=False,
                can_pin_messages=False,
                can_send_messages=False,
                can_send_polls=False,
                can_send_other_messages=False,
                can_add_web_page_previews=False,
                can_manage_topics=False,
                until_date=0,
                can_send_audios=False,
                can_send_documents=False,
                can_send_photos=False,
                can_send_videos=False,
                can_send_video_notes=False,
                can_send_voice_notes=False,
                can_edit_tag=False,
                can_react_to_messages=False,
            )
        elif status == "kicked":
            data["until_date"] = 0
        return data

    def _new_file(
        self, content: bytes, filename: str | None, mime_type: str | None, folder: str, file_size: int | None = None
    ) -> FileRecord:
        n = next(self._file_seq)
        ext = ""
        if filename and "." in filename:
            ext = "." + filename.rsplit(".", 1)[1]
        record = FileRecord(
            file_id=f"BQACAgUAAxkBAAI{n:06d}fake",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{folder}/file_{n}{ext}",
            content=content,
            file_size=len(content) if file_size is None else file_size,
            file_name=filename,
            mime_type=mime_type,
        )
        self._files[record.file_id] = record
        self._paths[record.file_path] = record
        return record

    @staticmethod
    def _document_dict(record: FileRecord) -> dict:
        doc: dict[str, Any] = {"file_id": record.file_id, "file_unique_id": record.file_unique_id}
        if record.file_name:
            doc["file_name"] = record.file_name
        if record.mime_type:
            doc["mime_type"] = record.mime_type
        doc["file_size"] = record.file_size
        return doc

    @staticmethod
    def _check_markup(markup: Any, *, inline_only: bool = False) -> dict | None:
        if markup is None:
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('can\'t parse inline keyboard markup: field "inline_keyboard" must be an Array of Arrays')
            kinds = (
                "callback_data",
                "url",
                "switch_inline_query",
                "switch_inline_query_current_chat",
                "switch_inline_query_chosen_chat",
                "web_app",
                "login_url",
                "callback_game",
                "pay",
                "copy_text",
            )
            for row in rows:
                for button in row:
                    if not button.get("text"):
                        raise _bad("can't parse inline keyboard button: Text must be non-empty")
                    if not any(k in button for k in kinds):
                        raise _bad(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    data = button.get("callback_data")
                    if data is not None and not (1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA):
                        raise _bad("BUTTON_DATA_INVALID")
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise _bad("can't parse reply keyboard markup JSON object")
        return markup

    def _reply_target(self, chat: FakeChat, params: dict) -> dict | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        if not reply:
            return None
        target_chat = chat
        if reply.get("chat_id") is not None:
            target_chat = self._resolve_chat(reply["chat_id"])
        found = self._by_id.get((target_chat.id, reply.get("message_id")))
        if found is None or found.get("deleted"):
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        quoted = wire(found)
        quoted.pop("reply_to_message", None)
        return quoted

    def _bot_message(self, chat: FakeChat, params: dict, **fields: Any) -> dict:
        reply_to = self._reply_target(chat, params)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat.id),
            "from": self.bot_user,
            "chat": chat.to_dict(),
            "date": self._now(),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(fields)
        markup = self._check_markup(params.get("reply_markup"))
        # Only inline keyboards belong to the message; reply keyboards are client-side.
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        message["edits"] = []
        message["params"] = params
        return self._store(chat, message)

    def _editable(self, params: dict) -> dict:
        if params.get("inline_message_id"):
            raise _bad("inline messages are not supported by this fake")
        chat = self._resolve_chat(params.get("chat_id"))
        message = self._by_id.get((chat.id, params.get("message_id")))
        if message is None or message.get("deleted"):
            raise _bad("message to edit not found")
        if message["from"]["id"] != BOT_ID:
            raise _bad("message can't be edited")
        return message

    def _apply_edit(self, message: dict, method: str, params: dict, changes: dict) -> dict:
        current = {k: message.get(k) for k in changes}
        if current == changes:
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value is None or value == []:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = self._now()
        record = {"method": method, "date": message["edit_date"], "params": params, **changes}
        message.setdefault("edits", []).append(record)
        return wire(message)

    # ---------------------------------------------------------------- Bot API methods
    # Each _m_<name> implements Bot API method <name> (matched case-insensitively).

    def _m_getMe(self, params: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getUpdates(self, params: dict) -> list[dict]:
        offset = params.get("offset")
        limit = max(1, min(int(params.get("limit") or 100), 100))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                           "to delete the webhook first")  # fmt: skip
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if offset is not None:
            offset = int(offset)
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # wakes an abandoned earlier poll so it ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, 50.0)
        while True:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = [u for u in self._updates if self._allowed(u)][:limit]
            if batch:
                for update in batch:
                    self.deliveries[update["update_id"]] = self.deliveries.get(update["update_id"], 0) + 1
                return copy.deepcopy(batch)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait_change(remaining)

    def _allowed(self, update: dict) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in ("chat_member", "message_reaction", "message_reaction_count")

    def _m_deleteWebhook(self, params: dict) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    def _m_setWebhook(self, params: dict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._m_deleteWebhook(params)
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        self._poll_generation += 1  # a long poll under way ends (409)
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push())
        return True

    def _m_getWebhookInfo(self, params: dict) -> dict:
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self.webhook is not None:
            info["url"] = self.webhook["url"]
            info["max_connections"] = 40
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def post_update(self, update: dict | None = None, *, body: bytes | None = None, secret: str | None = None,
                          headers: dict[str, str] | None = None, url: str | None = None) -> int:  # fmt: skip
        """POST ``update`` (or the raw ``body``) to the webhook as Telegram would, with the secret
        setWebhook was given unless ``secret`` says otherwise ("" : no header); the HTTP status.
        ``url``: another address than setWebhook's (one replica of several behind it)."""
        if self.webhook is None:
            raise AssertionError("no webhook is set (setWebhook was not called)")
        secret = self.webhook["secret_token"] if secret is None else secret
        sent = dict(headers or {})
        if secret:
            sent["X-Telegram-Bot-Api-Secret-Token"] = secret
        if body is None:
            body = json.dumps(update, ensure_ascii=False).encode()
            sent.setdefault("Content-Type", "application/json")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.post(url or self.webhook["url"], data=body, headers=sent) as response:
                await response.read()
                status = response.status
        self.webhook_posts.append((update.get("update_id") if isinstance(update, dict) else None, status))
        self._notify()
        return status

    async def _push(self) -> None:
        """Telegram's side of a webhook: each update posted in order until answered 2xx; a
        refusal or no answer is retried after a growing pause (here 0.05 s up to 1 s)."""
        pause = 0.05
        while not self._closing and self.webhook is not None:
            batch = [u for u in self._updates if self._allowed(u)]
            if not batch:
                await self._wait_change(1.0)
                continue
            update = batch[0]
            try:
                status = await self.post_update(copy.deepcopy(update))
            except (TimeoutError, aiohttp.ClientError, OSError):
                status = 0
                self.webhook_posts.append((update["update_id"], 0))
            if 200 <= status < 300:
                pause = 0.05
                self.deliveries[update["update_id"]] = self.deliveries.get(update["update_id"], 0) + 1
                self._updates = [u for u in self._updates if u is not update]
                self._notify()
                continue
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    @staticmethod
    def _scope_key(scope: Any) -> str:
        scope = scope or {"type": "default"}
        parts = [scope.get("type", "default")]
        parts += [str(scope[k]) for k in ("chat_id", "user_id") if k in scope]
        return ":".join(parts)

    @staticmethod
    def _language(params: dict) -> str:
        code = params.get("language_code") or ""
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise _bad("invalid language code specified")
        return code

    def _m_setMyCommands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not (1 <= len(str(cmd.get("description", ""))) <= 256):
                raise _bad(
                    "command description is empty" if not cmd.get("description") else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
        key = (self._scope_key(params.get("scope")), self._language(params))
        if commands:
            self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.commands.pop(key, None)
        return True

    def _m_sendMessage(self, params: dict) -> dict:
        chat = self._resolve_chat(params.get("chat_id"))
        if "text" not in params:
            raise _bad("message text is empty")
        text, entities = format_text(str(params["text"]), params.get("parse_mode"), params.get("entities"))
        if not text:
            raise _bad("message text is empty")
        if utf16len(text) > MAX_TEXT:
            raise _bad("message is too long")
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        if params.get("link_preview_options"):
            fields["link_preview_options"] = params["link_preview_options"]
        return wire(self._bot_message(chat, params, **fields))

    def _m_sendDocument(self, params: dict) -> dict:
        chat = self._resolve_chat(params.get("chat_id"))
        document = params.get("document")
        if isinstance(document, UploadedFile):
            if not document.content:
                raise _bad("file must be non-empty")
            record = self._new_file(document.content, document.filename, document.content_type, "documents")
        elif isinstance(document, str) and document.startswith("attach://"):
            raise _bad("attach:// is not supported by this fake for sendDocument")
        elif isinstance(document, str) and document in self._files:
            record = self._files[document]
        elif isinstance(document, str) and document:
            raise _bad("wrong file identifier/HTTP URL specified")
        else:
            raise _bad("there is no document in the request")
        fields: dict[str, Any] = {"document": self._document_dict(record)}
        if params.get("caption"):
            caption, entities = format_text(
                str(params["caption"]), params.get("parse_mode"), params.get("caption_entities")
            )
            if utf16len(caption) > MAX_CAPTION:
                raise _bad("message caption is too long")
            if caption:
                fields["caption"] = caption
            if entities:
                fields["caption_entities"] = entities
        message = self._bot_message(chat, params, **fields)
        message["content"] = record.content
        message["filename"] = record.file_name
        return wire(message)

    def _m_editMessageText(self, params: dict) -> dict:
        message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = format_text(str(params.get("text") or ""), params.get("parse_mode"), params.get("entities"))
        if not text:
            raise _bad("message text is empty")
        if utf16len(text) > MAX_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message, "editMessageText", params, {"text": text, "entities": entities or None, "reply_markup": markup}
        )

    def _m_editMessageReplyMarkup(self, params: dict) -> dict:
        message = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        if markup is not None and not markup.get("inline_keyboard"):
            markup = None
        return self._apply_edit(message, "editMessageReplyMarkup", params, {"reply_markup": markup})

    def _delete(self, chat: FakeChat, message_id: Any) -> None:
        message = self._by_id.get((chat.id, message_id))
        if message is None or message.get("deleted"):
            raise _bad("message to delete not found")
        if (
            message["from"]["id"] != BOT_ID
            and chat.is_group
            and self.member_status(chat, BOT_ID) not in ("creator", "administrator")
        ):
            raise _bad("message can't be deleted")
        message["deleted"] = True

    def _m_deleteMessage(self, params: dict) -> bool:
        self._delete(self._resolve_chat(params.get("chat_id")), params.get("message_id"))
        return True

    def _m_answerCallbackQuery(self, params: dict) -> bool:
        qid = str(params.get("callback_query_id"))
        if qid not in self._queries or qid in self.answers:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self.answers[qid] = params
        return True

    def _m_getFile(self, params: dict) -> dict:
        record = self._files.get(str(params.get("file_id")))
        if record is None:
            raise _bad("invalid file_id")
        if record.file_size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.file_size,
            "file_path": record.file_path,
        }

    def _m_getChatMember(self, params: dict) -> dict:
        chat = self._resolve_chat(params.get("chat_id"))
        try:
            user_id = int(params.get("user_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("invalid user_id specified") from None
        return self._member_dict(chat.id, user_id, self.member_status(chat, user_id))

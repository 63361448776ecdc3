"""The fake Bot API, driven by a bare PTB Application over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from tests.support.fakebotapi import BOT_USERNAME, FakeBotAPI

MB = 1024 * 1024


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"hello {update.effective_user.first_name}")


async def echo_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text("echo: " + " ".join(context.args))


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Yes", callback_data="yes"), InlineKeyboardButton("No", callback_data="no")]]
    )
    await update.effective_message.reply_text("<b>Restock</b> order 1234?", parse_mode="HTML", reply_markup=keyboard)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer(f"got {query.data}")
    await query.edit_message_text(f"you chose {query.data}")


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_document(
        b"order-id\tcarrier\n113-1234567-1234567\tSF\n", filename="confirm.tsv", caption="shipping confirmation"
    )


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    doc = update.effective_message.document
    try:
        file = await doc.get_file()
    except BadRequest as exc:
        await update.effective_message.reply_text(f"refused: {exc.message}")
        return
    data = await file.download_as_bytearray()
    await update.effective_message.reply_text(f"{doc.file_name}: {len(data)} bytes")


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(update.effective_message.text)


async def note_handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("handled", []).append(update.update_id)


async def all_handled(fake_api: FakeBotAPI, app: Application) -> None:
    """Wait until the bot fetched every update and handled each (its replies are sent inside
    its handlers): what it sent then is all it sends."""
    await fake_api.wait_for(lambda: not fake_api.pending_updates
                            and set(fake_api.deliveries) <= set(app.bot_data.get("handled", [])),
                            what="every update handled")  # fmt: skip


async def post_init(app: Application) -> None:
    await app.bot.set_my_commands([BotCommand("start", "Start"), BotCommand("echo", "Echo")])
    await app.bot.set_my_commands([BotCommand("start", "开始")], language_code="zh")


@pytest.fixture
async def echo(fake_api: FakeBotAPI):
    app = (
        ApplicationBuilder()
        .token(fake_api.token)
        .base_url(fake_api.base_url)
        .base_file_url(fake_api.base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=1))
        .post_init(post_init)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("echo", echo_command))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CommandHandler("export", export))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo_text))
    app.add_handler(TypeHandler(Update, note_handled), group=1)  # after the handler that answered
    await app.initialize()
    if app.post_init:  # run_polling() does this; we start by hand
        await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
def team(fake_api: FakeBotAPI):
    alice = fake_api.user(1001, "Alice", language_code="en", username="alice")
    bob = fake_api.user(1002, "Bob", language_code="zh-hans")
    group = fake_api.group(-1001234, "Store A").add(alice, "creator").add(bob)
    return alice, bob, group


async def test_private_chat(fake_api, echo, team):
    alice, _, _ = team
    chat = fake_api.private(alice)
    [reply] = await fake_api.ask(chat, alice, "/start")
    assert reply["text"] == "hello Alice"
    assert reply["chat"] == {"id": 1001, "type": "private", "first_name": "Alice", "username": "alice"}
    assert "reply_to_message" not in reply  # PTB does not quote in private chats
    [reply] = await fake_api.ask(chat, alice, "  你好 👋  ")
    assert reply["text"] == "你好 👋"  # Telegram trims the text
    await all_handled(fake_api, echo)
    assert len(fake_api.sent(chat)) == 2


async def test_group_command_with_botname(fake_api, echo, team):
    alice, bob, group = team
    message = await fake_api.send_text(group, bob, f"/echo@{BOT_USERNAME} 顺丰 SF1")
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": len("/echo@" + BOT_USERNAME)}]
    [reply] = await fake_api.wait_for(lambda: fake_api.sent(group) or None)
    assert reply["text"] == "echo: 顺丰 SF1"
    # PTB quotes the command in groups: reply_parameters -> reply_to_message
    assert reply["reply_to_message"]["message_id"] == message["message_id"]
    assert fake_api.calls_of("sendMessage")[-1]["reply_parameters"]["message_id"] == message["message_id"]

    [reply] = await fake_api.ask(group, alice, "/echo 𝄞 emoji")
    assert reply["text"] == "echo: 𝄞 emoji"
    # a command for another bot is not ours, and not a plain text either
    await fake_api.send_text(group, alice, "/echo@other_bot hi")
    await all_handled(fake_api, echo)
    assert len(fake_api.sent(group)) == 2


async def test_button_press_edits_the_message(fake_api, echo, team):
    alice, bob, group = team
    [question] = await fake_api.ask(group, alice, "/menu")
    assert question["text"] == "Restock order 1234?"
    assert question["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert fake_api.buttons(question) == [("Yes", "yes"), ("No", "no")]

    result = await fake_api.click(group, bob, question, "Yes")  # by button text
    assert result.answer == "got yes" and not result.show_alert
    assert [e["text"] for e in result.edits] == ["you chose yes"]
    assert result.messages == []
    assert question["text"] == "you chose yes"  # edits are applied in place
    assert "reply_markup" not in question  # editMessageText without markup drops it
    with pytest.raises(AssertionError, match="no button"):
        await fake_api.press(group, bob, question, "no")


async def test_document_round_trip(fake_api, echo, team):
    alice, _, group = team
    content = b"amazon-order-id\tsku\n113-1234567-1234567\tA1\n"
    [reply] = await fake_api.upload(group, alice, "orders.txt", content)
    assert reply["text"] == f"orders.txt: {len(content)} bytes"
    assert len(fake_api.downloads) == 1

    [reply] = await fake_api.upload(group, alice, "huge.txt", b"x", file_size=30 * MB)
    assert reply["text"] == "refused: File is too big"
    assert len(fake_api.downloads) == 1

    [sent] = await fake_api.ask(group, alice, "/export")
    assert sent["document"]["file_name"] == "confirm.tsv"
    assert sent["filename"] == "confirm.tsv" and sent["caption"] == "shipping confirmation"
    assert sent["content"].startswith(b"order-id\tcarrier\n")
    # what the bot uploaded can be fetched back by file_id
    file = await echo.bot.get_file(sent["document"]["file_id"])
    assert bytes(await file.download_as_bytearray()) == sent["content"]


async def test_updates_are_confirmed_not_redelivered(fake_api, echo, team):
    alice, _, _ = team
    chat = fake_api.private(alice)
    for i in range(5):
        await fake_api.send_text(chat, alice, f"m{i}")
    await fake_api.wait_for(lambda: len(fake_api.sent(chat)) == 5)
    assert [m["text"] for m in fake_api.sent(chat)] == [f"m{i}" for i in range(5)]

    await echo.updater.stop()  # its last getUpdates confirms what it fetched
    assert fake_api.pending_updates == []
    assert set(fake_api.deliveries.values()) == {1}
    await echo.updater.start_polling(poll_interval=0.0, timeout=1)
    # Updates are handled in order: had m0…m4 come again, their echoes would come before m5's.
    await fake_api.ask(chat, alice, "m5")
    assert [m["text"] for m in fake_api.sent(chat)] == [f"m{i}" for i in range(6)]
    assert set(fake_api.deliveries.values()) == {1}


async def test_429_is_retried_by_the_rate_limiter(fake_api, echo, team):
    alice, _, _ = team
    chat = fake_api.private(alice)
    fake_api.fail_next("sendMessage", 429, retry_after=1)
    [reply] = await fake_api.ask(chat, alice, "/start")
    assert reply["text"] == "hello Alice"
    assert len(fake_api.calls_of("sendMessage")) == 2
    assert [(e["status"], e["injected"]) for e in fake_api.errors] == [(429, True)]
    assert fake_api.sent(chat) == [reply]


async def test_chat_members_and_chat(fake_api, echo, team):
    alice, bob, group = team
    carol = fake_api.user(1003, "Carol")
    dave = fake_api.user(1004, "Dave")
    erin = fake_api.user(1005, "Erin")
    frank = fake_api.user(1006, "Frank")
    group.add(carol, "administrator").add(dave, "restricted").add(erin, "left").add(frank, "kicked")
    bot = echo.bot
    expected = {
        alice: ("creator", ChatMemberOwner),
        bob: ("member", ChatMemberMember),
        carol: ("administrator", ChatMemberAdministrator),
        dave: ("restricted", ChatMemberRestricted),
        erin: ("left", ChatMemberLeft),
        frank: ("kicked", ChatMemberBanned),
    }
    for person, (status, cls) in expected.items():
        member = await bot.get_chat_member(group.id, person.id)
        assert (member.status, type(member), member.user.id) == (status, cls, person.id)
    assert (await bot.get_chat_member(group.id, 424242)).status == "left"
    assert (await bot.get_me()).can_join_groups


async def test_command_menus_are_stored(fake_api, echo, team):
    _, _, group = team
    assert fake_api.command_names() == ["start", "echo"]
    assert fake_api.commands[("default", "zh")] == [{"command": "start", "description": "开始"}]
    bot = echo.bot
    await bot.set_my_commands([BotCommand("ship", "Ship")], scope=BotCommandScopeChat(group.id), language_code="en")
    assert fake_api.command_names(f"chat:{group.id}", "en") == ["ship"]
    await bot.set_my_commands([], language_code="zh")  # an empty list deletes them
    assert ("default", "zh") not in fake_api.commands
    with pytest.raises(BadRequest, match="(?i)language code"):
        await bot.set_my_commands([BotCommand("ship", "发货")], language_code="zh-hans")
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("发货", "ship")])


async def test_kicked_bot_and_telegram_refusals(fake_api, echo, team):
    alice, _, group = team
    bot = echo.bot
    stranger = fake_api.user(1009, "Stranger")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "hi")
    with pytest.raises(BadRequest, match="(?i)Unsupported start tag"):
        await bot.send_message(group.id, "a <foo> b", parse_mode="HTML")
    with pytest.raises(BadRequest, match="not supported by this fake"):
        await bot.send_message(group.id, "*Total:* 12\\.50", parse_mode="MarkdownV2")  # the desk writes HTML
    sent = await bot.send_message(
        group.id, '<b>Total:</b> 12.50 <a href="https://x.test/a">link</a>', parse_mode="HTML"
    )
    assert sent.text == "Total: 12.50 link" and [e.type for e in sent.entities] == ["bold", "text_link"]
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(group.id, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            group.id, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d" * 65)]])
        )
    await bot.edit_message_text("x", chat_id=group.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("x", chat_id=group.id, message_id=sent.message_id)

    fake_api.kick_bot(group)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "still here?")
    message = await fake_api.send_text(group, alice, "/start")
    assert message["delivered"] is False
    assert fake_api.pending_updates == []  # nothing for the bot to fetch, so nothing to answer


async def test_raw_http_errors(fake_api):
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{fake_api.base_url}999:wrong/getMe")
        assert (r.status_code, r.json()) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        r = await client.post(f"{fake_api.base_url}{fake_api.token}/fooBar")
        assert r.status_code == 404
        assert r.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        fake_api.fail_next("getMe", 500)
        r = await client.get(f"{fake_api.base_url}{fake_api.token}/getMe")
        assert r.status_code == 500 and r.json()["ok"] is False
        r = await client.get(f"{fake_api.base_url}{fake_api.token}/getMe")
        assert r.json()["result"]["username"] == BOT_USERNAME


async def test_clock_dates_messages(fake_api, clock, team):
    alice, _, group = team
    message = await fake_api.send_text(group, alice, "hi")
    assert message["date"] == int(clock().timestamp())
    clock.advance(timedelta(hours=2))
    assert (await fake_api.send_text(group, alice, "later"))["date"] == message["date"] + 7200

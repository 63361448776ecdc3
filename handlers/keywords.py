"""Plain messages: Chinese keywords (发货 …, 取消 …, 查询 …), lists of commands, and what is
not understood.

Telegram command names are Latin only; teams that type Chinese all day start a message
with the action instead. The keyword picks the command from the command table
(``handlers.commands``), which runs as the slash command would.

A message of several lines, one command per line (a pasted list of shipments), runs each
line as its own action (each under its own savepoint: a refused line undoes only itself)
and is answered once, with a line of result per command. A line that does not start with
a command continues the one before it; a line that starts with an order under a command
line repeats that command (``发货`` then one ``ORDER CARRIER TRACKING`` per line).

A message that is not a command but seems meant as one (a keyword glued to more text, a
mistyped keyword, an order number) gets a short "did you mean"; in a private chat, every
message not understood gets one. Other chatter in a group is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatType

from bot import texts as render
from bot.domain import Refusal
from bot.i18n import Raw, _, ngettext
from bot.parsing import is_command_line, named_order, read_args
from bot.storage.unit import current_unit
from handlers.commands import BY_NAME, KEYWORD
from handlers.common import answer
from handlers.context import Command, DeskContext

#: Commands whose whole argument is one order: a lone order on the next line is another one.
_ONE_ORDER = frozenset({"delivered", "lost", "received", "order", "history", "address"})


@dataclass
class Line:
    """One command of a message: what was typed, the command, its arguments."""

    typed: str
    command: Command
    args: list[str]


def _read_line(text: str) -> Line | None:
    """A line that starts with a slash command or a keyword, read; else None."""
    stripped = text.strip()
    if stripped.startswith("/"):
        head, _sep, rest = stripped[1:].partition(" ")
        command = BY_NAME.get(head.split("@")[0].lower())
        if command is None:
            return None
        return Line(stripped, command, read_args(rest))
    matched = KEYWORD.match(stripped)
    if matched is None:
        return None
    name, keyword, args = matched
    command = BY_NAME[name]
    if name == "decide":  # 入库 / 销毁 / 退回: the keyword is the decision
        args = [keyword, *args]
    return Line(stripped, command, args)


def read_lines(text: str) -> list[Line] | None:
    """The commands of a message, one or more; None when its first line is not a command."""
    lines: list[Line] = []
    for typed in (t.strip() for t in text.splitlines()):
        if not typed:
            continue
        line = _read_line(typed)
        if line is not None:
            lines.append(line)
            continue
        if not lines:
            return None
        last = lines[-1]
        words = read_args(typed)
        repeats = is_command_line(typed) and (len(words) > 1 or not last.args or last.command.name in _ONE_ORDER)
        if repeats:
            if not last.args and last.command.name != "decide":  # a header line: "发货" alone
                lines.pop()
            elif last.command.name == "decide" and len(last.args) == 1:
                lines.pop()
                words = [last.args[0], *words]
            elif last.command.name == "decide":
                words = [last.args[0], *words]
            lines.append(Line(typed, last.command, words))
        else:  # the line goes on: "发货 1000006 云途" then the number on the next line
            last.typed += " " + typed
            last.args.extend(words)
    return lines


async def keyword(update: Update, context: DeskContext) -> None:
    """A plain message: act on it if it starts with a command; say "did you mean" when it
    seems meant as one; otherwise leave it alone."""
    message = update.effective_message
    if message is None or not message.text:
        return
    lines = read_lines(message.text)
    if lines is None:
        await not_understood(update, context, message)
        return
    if len(lines) > 1:
        await run_lines(update, context, lines)
        return
    line = lines[0]
    context.args = line.args
    context.command = line.command
    await line.command.callback(update, context)


async def run_lines(update: Update, context: DeskContext, lines: list[Line]) -> None:
    """Each line as its own action, answered once with a table of results."""
    unit = current_unit()
    results: list[str] = []
    done = 0
    for n, line in enumerate(lines, 1):
        context.args = list(line.args)
        context.command = line.command
        before = len(unit.messages) if unit is not None else 0
        refused = False
        callback = getattr(line.command.callback, "__wrapped__", line.command.callback)
        try:
            await callback(update, context)
        except Refusal as refusal:
            refused = True
            text = render.refusal(refusal, zone=context.zone or context.settings.timezone)
        else:
            text = ""
        said = unit.messages[before:] if unit is not None else []
        kept = [m for m in said if m.payload.get("markup")]  # a question with buttons stays its own message
        if unit is not None:
            del unit.messages[before:]
            unit.messages.extend(kept)
        replies = [m.payload.get("text", "") for m in said if not m.payload.get("markup")]
        if not text:
            text = " ".join(replies) or " ".join(m.payload.get("text", "") for m in kept)
            refused = line.command.usage is not None and text == _(line.command.usage)
        if kept and not refused:
            mark = "❓"
        elif refused:
            mark = "❌"
        else:
            mark = "✅"
            done += 1
        # The replies are HTML already: put in as they are, not escaped again.
        results.append(mark + " " + _("Line {n}: {result}", n=n, result=Raw(text)))
    header = ngettext("{done} of {total} line done:", "{done} of {total} lines done:", len(lines), done=done,
                      total=len(lines))  # fmt: skip
    await answer(update, "\n".join([header, *results]))


def _replying_to_bot(message: Message) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.is_bot


async def not_understood(update: Update, context: DeskContext, message: Message) -> None:
    """A short "did you mean" for a message that seems meant as a command (always in private)."""
    text = message.text or ""
    if _replying_to_bot(message):
        return  # an answer to the bot's own question (a tracking number for 🚚) is another handler's
    private = message.chat.type == ChatType.PRIVATE
    near = KEYWORD.near(text)
    order = named_order(text)
    starts_with_order = is_command_line(text)
    if near is not None and (order is not None or private):
        command = BY_NAME[KEYWORD.keywords[near]]
        hint = _("I didn't understand that. Did you mean {keyword}?", keyword=near)
        await answer(update, hint + (" " + _(command.usage) if command.usage else ""))
    elif order is not None and (starts_with_order or private):
        await answer(update, _(
            "I didn't understand that. To act on order {order}, start with what to do, for example /order {order} "
            "or /ship {order} CARRIER TRACKING. Send /help for the list.", order=order,
        ))  # fmt: skip
    elif private:
        await answer(update, _(
            "I didn't understand that. Start with what to do, for example /order 6689831 or /ship 6689831 UPS "
            "1Z999AA10123456784. Send /help for the list."
        ))  # fmt: skip

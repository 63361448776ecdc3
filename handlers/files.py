"""Files: Seller Central reports sent into the chat as documents."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import FileSizeLimit

from bot import texts as render
from bot.domain import Actor, Refusal
from bot.i18n import Raw, _, ngettext
from bot.importing.shipments import BatchResult, read_sheet, ship_sheet
from bot.refusal_codes import FileCode
from handlers.common import actor_of, answer, handles_refusals, send_file, team_of
from handlers.context import DeskContext
from handlers.fulfilment import team_default

#: Refused rows listed in a sheet's summary; the rest are counted.
SHOWN_REFUSED_ROWS = 20


@handles_refusals
async def document(update: Update, context: DeskContext) -> None:
    """A document in the chat: import it if it is an order report."""
    message = update.effective_message
    assert message is not None and message.document is not None
    team = await team_of(update, context)
    doc = message.document
    # Telegram lets bots download at most 20 MB; asking for more fails after a wait.
    if doc.file_size and doc.file_size > FileSizeLimit.FILESIZE_DOWNLOAD:
        raise Refusal(FileCode.file_too_large, size=doc.file_size)
    file = await doc.get_file()
    data = bytes(await file.download_as_bytearray())
    actor = actor_of(update)
    # A sheet of shipments (an ERP's export, Seller Central's shipping confirmation template)
    # ships its rows; anything else is read as an Amazon report.
    sheet = read_sheet(data, doc.file_name or "")
    if sheet is not None:
        default = team_default(team)
        batch = await ship_sheet(context.services.desk, team.team_id, sheet, actor, lambda _tracking: default)
        await answer(update, batch_summary(batch, team.timezone))
        return
    importer = context.services.importer
    result = await importer.import_file(
        team.team_id, data, filename=doc.file_name or "",
        actor=Actor.importer(doc.file_name or "report", chat_id=actor.chat_id, user_id=actor.id),
    )  # fmt: skip
    await answer(update, render.import_summary(result, team.timezone))


#: Days a person may name by a word, in English and Chinese: how many days before today.
DAY_WORDS = {"today": 0, "今天": 0, "今日": 0, "yesterday": 1, "昨天": 1, "昨日": 1}
#: The earliest day an export may name (the desk holds nothing older).
FIRST_EXPORT_DAY = date(2000, 1, 1)


def export_day(text: str, today: date) -> date:
    """The day ``/export DAY`` names: ``2026-11-21``, ``today``, ``yesterday`` (今天, 昨天), from
    2000-01-01 up to ``today`` (the team's); anything else is a refusal."""
    word = text.strip().lower()
    if word in DAY_WORDS:
        return today - timedelta(days=DAY_WORDS[word])
    try:
        day = date.fromisoformat(word)
    except ValueError:
        raise Refusal(FileCode.bad_export_day, text=text) from None
    if not FIRST_EXPORT_DAY <= day <= today:
        raise Refusal(FileCode.export_day_out_of_range, text=text, today=today.isoformat())
    return day


@handles_refusals
async def export(update: Update, context: DeskContext) -> None:
    """/export [DAY] (导出): the Shipping Confirmation file of what was shipped here, for Seller Central."""
    team = await team_of(update, context)
    args = context.args or []
    day = None
    if args:
        today = context.settings.clock().astimezone(ZoneInfo(team.timezone)).date()
        day = export_day(args[0], today)
    exporter = context.services.exporter
    taken = await exporter.take(team.team_id, team.timezone, day)
    if not taken.shipments:
        raise Refusal(FileCode.nothing_to_export)
    caption = ngettext(
        "Shipping confirmation for {orders} order ({count} line). Upload it in Seller Central: Orders → Upload order "
        "related files → Shipping confirmation.",
        "Shipping confirmation for {orders} orders ({count} lines). Upload it in Seller Central: Orders → Upload order "
        "related files → Shipping confirmation.",
        len(taken.shipments), orders=taken.orders,
    )  # fmt: skip
    # The file goes into the outbox with the shipments' "exported" mark, in one transaction:
    # if Telegram cannot take it now, the sender delivers it later; it is never lost between
    # the two, and the next /export does not repeat it.
    await send_file(update, taken.filename, taken.data, caption)


def batch_summary(result: BatchResult, zone: str) -> str:
    """Shipped N, already shipped M, refused K, and the refused rows by line with the reason."""
    lines = [
        _("Shipments read ({encoding}): {shipped} shipped, {already} already shipped, {refused} rows refused.",
          encoding=result.encoding, shipped=len(result.shipped), already=len(result.already),
          refused=len(result.refused)),
    ]  # fmt: skip
    for line, refusal in result.refused[:SHOWN_REFUSED_ROWS]:
        lines.append("• " + _("line {line}: {reason}", line=line, reason=Raw(render.refusal(refusal, zone=zone))))
    more = len(result.refused) - SHOWN_REFUSED_ROWS
    if more > 0:
        lines.append(ngettext("…and {count} more row.", "…and {count} more rows.", more))
    if result.refused:
        lines.append(_("Correct those rows and send the file again: orders already shipped are not shipped twice."))
    return "\n".join(lines)

"""Files: Seller Central reports sent into the chat as documents."""

from __future__ import annotations

from telegram import Update
from telegram.constants import FileSizeLimit

from bot.app import DeskContext
from bot.domain import Actor, Refusal
from bot.i18n import _, day, ngettext
from bot.importing import ImportResult
from handlers import render
from handlers.common import actor_of, answer, handles_refusals, team_of

#: Refused rows listed in the reply; the rest are counted.
SHOWN_ROW_ERRORS = 15


@handles_refusals
async def document(update: Update, context: DeskContext) -> None:
    """A document in the chat: import it if it is an order report."""
    message = update.effective_message
    assert message is not None and message.document is not None
    team = await team_of(update, context)
    doc = message.document
    # Telegram lets bots download at most 20 MB; asking for more fails after a wait.
    if doc.file_size and doc.file_size > FileSizeLimit.FILESIZE_DOWNLOAD:
        raise Refusal("file_too_large", size=doc.file_size)
    file = await doc.get_file()
    data = bytes(await file.download_as_bytearray())
    actor = actor_of(update)
    importer = context.services.importer
    result = await importer.import_file(
        team.team_id, data, filename=doc.file_name or "",
        actor=Actor.importer(doc.file_name or "report", chat_id=actor.chat_id, user_id=actor.id),
    )  # fmt: skip
    await answer(update, summary(result, team.timezone))


def summary(result: ImportResult, zone: str) -> str:
    lines = [
        _("{report} read ({encoding}): {new} new, {updated} updated, {unchanged} unchanged.",
          report=_(render.REPORT_NAMES.get(result.kind, result.kind)), encoding=result.encoding,
          new=result.new, updated=result.updated, unchanged=result.unchanged),
    ]  # fmt: skip
    if result.first_imported_at is not None and not result.new and not result.updated:
        lines.append(_("This file was already imported on {date}; nothing changed.",
                       date=day(result.first_imported_at, zone)))  # fmt: skip
    if result.refused:
        lines.append(ngettext("{count} row was refused:", "{count} rows were refused:", len(result.refused)))
        lines += ["• " + render.row_error(e) for e in result.refused[:SHOWN_ROW_ERRORS]]
        more = len(result.refused) - SHOWN_ROW_ERRORS
        if more > 0:
            lines.append(ngettext("…and {count} more row.", "…and {count} more rows.", more))
        lines.append(_("Correct those rows in the file and send it again; rows already imported will not be doubled."))
    return "\n".join(lines)

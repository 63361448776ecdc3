"""Files: Seller Central reports sent into the chat as documents."""

from __future__ import annotations

from telegram import Update
from telegram.constants import FileSizeLimit

from bot.app import DeskContext
from bot.domain import Actor, Refusal
from bot import texts as render
from handlers.common import actor_of, answer, handles_refusals, team_of

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
    await answer(update, render.import_summary(result, team.timezone))

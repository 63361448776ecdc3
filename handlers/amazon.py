"""/amazon: a team's connection to Amazon's Selling Partner API, and the repeating sync job.

The credentials are secrets that let anyone act on the seller's account: they are taken
only in a private chat, from an administrator of the team; the message that carries them
is deleted as soon as it is read (in a group too, where they are refused); no reply ever
repeats them or anything typed after ``/amazon set``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Update
from telegram.error import TelegramError

from bot import texts as render
from bot.amazon import (
    MARKETPLACES,
    REGION_ENDPOINTS,
    AuthError,
    Connection,
    SyncResult,
    endpoint_of,
    marketplace_ok,
    redact,
)
from bot.domain import Refusal
from bot.i18n import _, duration, when
from bot.refusal_codes import AmazonCode
from bot.storage import OutgoingMessage, Team, outside_unit
from handlers.common import answer, fit, is_private, send_later, team_of
from handlers.context import DeskContext

log = logging.getLogger("dingdan.amazon")

#: What may follow /amazon without carrying a secret; anything else may hold one.
_WITHOUT_SECRETS = {(), ("status",), ("sync",), ("off",)}


async def sync_tick(context: DeskContext) -> None:
    """The repeating job: sync every connected team (what goes to a group goes through the outbox)."""
    services = context.application.bot_data.get("services")
    if services is None:
        return
    await services.amazon.run_all()


async def amazon_command(update: Update, context: DeskContext) -> None:
    """/amazon, /amazon set MARKETPLACE CLIENT_ID CLIENT_SECRET REFRESH_TOKEN [ENDPOINT], /amazon sync,
    /amazon off: the team's Amazon connection (administrators, in a private chat)."""
    args = list(context.args or [])
    secrets = tuple(a.lower() for a in args) not in _WITHOUT_SECRETS
    # Read, then gone: whatever comes next, the secrets do not stay in the chat.
    deleted = await _delete(update, context) if secrets else None
    try:
        if not is_private(update):
            raise Refusal(AmazonCode.amazon_secrets_in_group if secrets else AmazonCode.amazon_private_only)
        with outside_unit():  # it waits on Amazon between its writes
            text = await _act(update, context, args)
    except Refusal as refusal:
        text = render.refusal(refusal, zone=context.settings.timezone)
    if deleted is not None:
        text += "\n\n" + (_("I deleted your message with the credentials.") if deleted else
                          _("I could not delete your message with the credentials: delete it yourself now."))  # fmt: skip
    if deleted:
        # Not a reply: the message it would quote is gone.
        chat = update.effective_chat
        assert chat is not None
        await send_later(update, OutgoingMessage(chat.id, None, {"text": fit(text)}))
    else:
        await answer(update, text)


async def _delete(update: Update, context: DeskContext) -> bool:
    message = update.effective_message
    if message is None:
        return False
    try:
        return bool(await context.bot.delete_message(message.chat_id, message.message_id))
    except TelegramError as err:
        # In a group the bot needs the right to delete messages.
        log.warning("could not delete a message with Amazon credentials in chat %s: %s", message.chat_id, err.message)
        return False


async def _act(update: Update, context: DeskContext, args: list[str]) -> str:
    user = update.effective_user
    assert user is not None
    team = await team_of(update, context)
    if not await context.services.access.is_admin(team.team_id, user.id):
        raise Refusal(AmazonCode.amazon_not_admin, team=_title(team))
    what = args[0].lower() if args else "status"
    if what == "set":
        return await _set(context, team, user.id, args[1:])
    if len(args) == 1 and what == "sync":
        return await _sync(context, team)
    if len(args) == 1 and what == "off":
        return await _off(context, team)
    if len(args) <= 1 and what == "status":
        return await status_text(context, team)
    # Never repeat what was typed: it may be a secret in the wrong place.
    raise Refusal(AmazonCode.amazon_unknown_command)


def _title(team: Team) -> str:
    return team.title or str(team.team_id)


async def _set(context: DeskContext, team: Team, user_id: int, rest: list[str]) -> str:
    if len(rest) not in (4, 5):
        raise Refusal(AmazonCode.amazon_bad_set)
    marketplace, client_id, client_secret, refresh_token = rest[0].upper(), rest[1], rest[2], rest[3]
    if not marketplace_ok(marketplace):
        raise Refusal(AmazonCode.amazon_bad_marketplace)
    endpoint = endpoint_of(marketplace)
    if len(rest) == 5:
        typed = rest[4].rstrip("/")
        endpoint = REGION_ENDPOINTS.get(typed.lower(), typed)
    amazon = context.services.amazon
    # Refused, with nothing stored, without DINGDAN_SECRET_KEY or for an endpoint not Amazon's.
    await amazon.configure(team.team_id, marketplace_id=marketplace, client_id=client_id, client_secret=client_secret,
                           refresh_token=refresh_token, endpoint=endpoint, by=user_id)  # fmt: skip
    error = await amazon.verify(team.team_id)
    shown = _marketplace(marketplace)
    if error is None:
        every = duration(timedelta(seconds=context.settings.sync_interval), direction=False)
        return _("Saved the Amazon credentials of {team} for marketplace {marketplace}, and Amazon accepted them. "
                 "I sync orders and confirm shipments every {interval}; /amazon shows how it went, and /amazon sync "
                 "syncs now.", team=_title(team), marketplace=shown, interval=every)  # fmt: skip
    if isinstance(error, AuthError):
        return _("Saved the Amazon credentials of {team}, but Amazon refused them: {error}. Check them in Seller "
                 "Central and send /amazon set again.", team=_title(team), error=redact(error.text))  # fmt: skip
    return _("Saved the Amazon credentials of {team}; I could not check them with Amazon just now ({error}). I will "
             "try again at the next sync; /amazon shows how it went.", team=_title(team), error=redact(error.text))  # fmt: skip


async def _sync(context: DeskContext, team: Team) -> str:
    try:
        result: SyncResult = await context.services.amazon.run_team(team.team_id)
    except Refusal as refusal:
        refusal.params.setdefault("team", _title(team))
        raise
    if result.error:
        return _("The sync with Amazon stopped: {error}. What was already synced stays; the next sync starts again "
                 "from where this one began.", error=redact(result.error))  # fmt: skip
    return _("Synced with Amazon. Orders: {new} new, {updated} updated, {unchanged} unchanged. Shipments confirmed: "
             "{confirmed}, refused: {refused}.", new=result.new, updated=result.updated, unchanged=result.unchanged,
             confirmed=result.confirmed, refused=result.refused)  # fmt: skip


async def _off(context: DeskContext, team: Team) -> str:
    removed, environment = await context.services.amazon.disconnect(team.team_id)
    if environment:
        if removed:
            return _("Deleted the Amazon credentials set here for {team}. It still syncs with the credentials in the "
                     "server's environment (DINGDAN_SPAPI_*); whoever runs the bot can remove them.", team=_title(team))  # fmt: skip
        return _("{team} syncs with the credentials in the server's environment (DINGDAN_SPAPI_*), not ones set here; "
                 "whoever runs the bot can remove them.", team=_title(team))  # fmt: skip
    if not removed:
        raise Refusal(AmazonCode.amazon_not_connected, team=_title(team))
    return _("{team} is disconnected from Amazon and its credentials are deleted. Orders already synced stay.",
             team=_title(team))  # fmt: skip


def _marketplace(marketplace_id: str | None) -> str:
    if not marketplace_id:
        return "—"
    country = MARKETPLACES.get(marketplace_id, ("", ""))[0]
    return f"{marketplace_id} ({country})" if country else marketplace_id


async def status_text(context: DeskContext, team: Team) -> str:
    """The connection as an administrator sees it: where the credentials come from, the
    marketplace, how the last sync went. Never a secret."""
    c: Connection = await context.services.amazon.connection(team.team_id)
    zone = team.timezone
    if not c.connected:
        return _("{team} is not connected to Amazon's Selling Partner API. To connect it, send me here: /amazon set "
                 "MARKETPLACE CLIENT_ID CLIENT_SECRET REFRESH_TOKEN (from your app in Seller Central, Apps and "
                 "Services → Develop Apps). I delete that message as soon as I have read it.", team=_title(team))  # fmt: skip
    lines = [_("<b>Amazon Selling Partner API for {team}</b>", team=_title(team))]
    if c.source == "env":
        lines.append(_("Connected with the credentials in the server's environment, marketplace {marketplace}.",
                       marketplace=_marketplace(c.marketplace_id)))  # fmt: skip
    else:
        lines.append(_("Connected with credentials set by an administrator, marketplace {marketplace}.",
                       marketplace=_marketplace(c.marketplace_id)))  # fmt: skip
    lines.append(_("Endpoint: {endpoint}", endpoint=c.endpoint or "—"))
    if c.synced_at is None:
        lines.append(_("Not synced yet."))
    elif c.status == "error":
        lines.append(_("Last sync: {when}; it failed: {error}", when=when(c.synced_at, zone),
                       error=redact(c.error or "")))  # fmt: skip
    else:
        lines.append(_("Last sync: {when}; it went well.", when=when(c.synced_at, zone)))
    if c.watermark is not None:
        lines.append(_("The next sync asks Amazon for orders updated since {when}.", when=when(c.watermark, zone)))
    lines += ["", _("/amazon sync syncs now · /amazon off disconnects · /amazon set … replaces the credentials.")]
    return "\n".join(lines)

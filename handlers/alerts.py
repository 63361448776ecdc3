"""Alerts at the Telegram edge: the repeating check, alert buttons, /alerts.

The check decides what is due (``bot.alerts``) and queues messages in the outbox; the
sender (``bot.durable.Sender``) delivers them with the replies. A group that removed the
bot is marked here (``my_chat_member``) and its messages are held until it is back.
"""

from __future__ import annotations

import logging
import time

from telegram import (
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatMemberStatus

from bot import alerts as rules
from bot import texts
from bot.buttons import AlertSetting, MarkLost, ReturnPrompt, ShipPrompt, Snooze
from bot.domain import Refusal
from bot.i18n import _, listing, when
from bot.refusal_codes import AlertCode, CommandCode
from bot.replicas import EVERYTHING
from bot.storage import Team
from bot.team_settings import InvalidSetting, format_hours, format_time
from bot.tracking.schedule import MAX_AGE
from handlers.common import (
    actor_of,
    admin_team,
    answer,
    drop_buttons,
    edit_in_place,
    handles_refusals,
    plain,
    team_of,
)
from handlers.context import DeskContext
from handlers.outcomes import decision_buttons, reply_outcome

log = logging.getLogger("dingdan.alerts")

#: The buttons under an alert, each naming one order.
OrderButton = ShipPrompt | Snooze | ReturnPrompt | MarkLost

#: How often the tick forgets what is past keeping (``Store.purge``), in seconds.
PURGE_EVERY = 3600.0


async def tick(context: DeskContext) -> None:
    """The repeating job: decide what is due, then send what is queued."""
    services = context.application.bot_data.get("services")
    if services is None:
        return
    await services.alerts.check()
    services.sender.kick()
    now = time.monotonic()
    bot_data = context.application.bot_data
    # One replica purges (the holder of shard 0, bot/replicas.py); one process alone always does.
    if not bot_data.get("replicas", EVERYTHING).owns_shard(0):
        return
    if now - bot_data.get("purged_at", float("-inf")) >= PURGE_EVERY:
        bot_data["purged_at"] = now
        purged = await services.store.purge()
        if any(purged.values()):
            log.info("purged old rows: %s", purged)


async def membership(update: Update, context: DeskContext) -> None:
    """The bot was removed from a team's group, or added back."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or "services" not in context.application.bot_data:
        return
    services = context.services
    team = await services.store.team(change.chat.id)
    if team is None:
        return
    status = change.new_chat_member.status
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        await services.alerts.alert_store.unreachable(team.team_id, context.settings.clock(), f"bot {status}")
    elif status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
        await services.alerts.alert_store.reachable(team.team_id, context.settings.clock())


# --- buttons under alerts ------------------------------------------------------------


@handles_refusals
async def snooze(update: Update, context: DeskContext) -> None:
    """💤 under an alert: remind again in 4 hours."""
    query = update.callback_query
    assert query is not None and isinstance(context.button, OrderButton)
    team = await team_of(update, context)
    order_id = context.button.order_id
    until = await context.services.alerts.snooze(team.team_id, order_id, actor_of(update).id or 0)
    await query.answer(plain(_("I will remind you about {order} again at {when}.", order=order_id,
                                          when=when(until, team.timezone))))  # fmt: skip


@handles_refusals
async def return_decision_prompt(update: Update, context: DeskContext) -> None:
    """'Decide' under a return alert: the restock / dispose / send back buttons for that order."""
    query = update.callback_query
    assert query is not None and isinstance(context.button, OrderButton)
    await team_of(update, context)
    order_id = context.button.order_id
    await query.answer()
    await answer(update, _("The return of order {order} has arrived. What should happen to the item?", order=order_id),
                 decision_buttons(order_id))  # fmt: skip


@handles_refusals
async def mark_lost(update: Update, context: DeskContext) -> None:
    """'Mark lost' under a late-delivery alert."""
    query = update.callback_query
    assert query is not None and isinstance(context.button, OrderButton)
    team = await team_of(update, context)
    order_id = context.button.order_id
    outcome = await context.services.desk.act(team.team_id, order_id, "mark_lost", actor_of(update))
    await query.answer()
    await drop_buttons(update, order_id)
    await reply_outcome(update, context, team, outcome)


# --- /alerts: a team's settings ------------------------------------------------------

_ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "Europe/London", "Europe/Berlin",
          "America/New_York", "America/Los_Angeles")  # fmt: skip


def settings_text(t: Team, tracking: bool = True, team_tracks: bool = True) -> str:
    s = t.settings
    kinds_on = [texts.ALERT_KIND_NAMES[k] for k in rules.KINDS
                if k not in s.kinds_off and (tracking or k != rules.DELIVERY_LATE)]  # fmt: skip
    lines = [
        _("<b>Alerts for {team}</b>", team=t.title),
        _("Time zone: {zone}", zone=s.timezone),
        _("Ship-by warnings: {hours} hours before", hours=listing([format_hours(h) for h in s.lead_hours])),
        _("Daily digest at {time}", time=format_time(s.digest_at) if s.digest_at else "—"),
        _("Quiet hours: {start}–{end}", start=format_time(s.quiet[0]), end=format_time(s.quiet[1]))
        if s.quiet
        else _("Quiet hours: none"),
        _("Pending too long after {days} days", days=s.pending_days),
        *(
            [_("Parcels stuck after {days} days without movement (/alerts stuck {days})", days=s.stuck_days)]
            if tracking
            else []
        ),  # fmt: skip
        *(
            [
                _("Carrier tracking: on (/alerts tracking off)")
                if team_tracks
                else _("Carrier tracking: off for this team (/alerts tracking on)")
            ]
            if tracking
            else []
        ),  # fmt: skip
        _("On: {kinds}", kinds=listing([_(k) for k in kinds_on])),
        *(
            []
            if tracking
            else [
                _(
                    "Late deliveries: off, because carrier tracking is off: without it I cannot "
                    "know that a parcel arrived, and every parcel would look late. The bot's "
                    "operator turns tracking on with a 17TRACK API key (DINGDAN_TRACKING_KEY)."
                )
            ]
        ),
        "",
        _(
            "Change with: /alerts lead 24 4 · /alerts digest 09:00 · /alerts quiet 23:00 08:00 · /alerts quiet off · "
            "/alerts tz Asia/Shanghai · /alerts pending 3 · or the buttons."
        ),
    ]
    return "\n".join(lines)


def settings_buttons(team: Team) -> InlineKeyboardMarkup:
    off = team.settings.kinds_off
    rows = []
    for kind in rules.KINDS:
        mark = "🔕" if kind in off else "🔔"
        rows.append(
            [
                InlineKeyboardButton(
                    f"{mark} {_(texts.ALERT_KIND_NAMES[kind])}", callback_data=AlertSetting("k", kind).encode()
                )
            ]
        )
    rows.append([InlineKeyboardButton(_("Warn {hours} h before", hours=listing(h.split(","))), callback_data=AlertSetting("l", h).encode())
                 for h in ("24,4", "12,2", "48,24,4")])  # fmt: skip
    rows.append(
        [
            InlineKeyboardButton(_("Digest {time}", time=h), callback_data=AlertSetting("d", h).encode())
            for h in ("08:00", "09:00", "10:00")
        ]
    )
    rows.append([InlineKeyboardButton(_("Quiet 23–08"), callback_data=AlertSetting("q", "23:00-08:00").encode()),
                 InlineKeyboardButton(_("Quiet 22–07"), callback_data=AlertSetting("q", "22:00-07:00").encode()),
                 InlineKeyboardButton(_("No quiet hours"), callback_data=AlertSetting("q", "off").encode())])  # fmt: skip
    rows.append(
        [
            InlineKeyboardButton(z.split("/")[1].replace("_", " "), callback_data=AlertSetting("z", z).encode())
            for z in _ZONES[:4]
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(z.split("/")[1].replace("_", " "), callback_data=AlertSetting("z", z).encode())
            for z in _ZONES[4:]
        ]
    )
    return InlineKeyboardMarkup(rows)


@handles_refusals
async def alerts_command(update: Update, context: DeskContext) -> None:
    """/alerts (提醒): show or change the team's alert settings (group administrators)."""
    team = await admin_team(update, context)
    args = context.args or []
    switch = _tracking_switch(args)
    if switch is not None:
        user = update.effective_user
        assert user is not None
        now = context.settings.clock()
        await context.services.store.set_tracking(team.team_id, switch, by=user.id, now=now, since=now - MAX_AGE)
    elif args:
        team = await _change(
            context, team, Refusal(AlertCode.bad_alert_setting, text=" ".join(args)), **parse_setting(args)
        )
    tracks = await context.services.store.tracking_enabled(team.team_id)
    await answer(update, settings_text(team, context.services.alerts.tracking, tracks), settings_buttons(team))


async def _change(context: DeskContext, team: Team, refusal: Refusal, **changes: object) -> Team:
    """Write ``changes`` (the store checks each value) and read the team back; a value that
    does not fit changes nothing and is answered with ``refusal``."""
    store = context.services.store
    try:
        await store.update_team(team.team_id, **changes)
    except InvalidSetting as bad:
        raise refusal from bad
    return await store.team(team.team_id) or team


def _tracking_switch(args: list[str]) -> bool | None:
    """`/alerts tracking on|off` (追踪 开|关): True or False; None for any other setting."""
    if len(args) == 2 and args[0].lower() in ("tracking", "追踪", "追蹤"):
        word = args[1].lower()
        if word in ("on", "开", "開"):
            return True
        if word in ("off", "关", "關"):
            return False
    return None


def parse_setting(args: list[str]) -> dict[str, object]:
    """`/alerts lead 24 4`, `digest 9:30`, `digest off`, `quiet 23:00 08:00`, `quiet off`, `tz Zone`,
    `pending 3` → the settings named, as typed (the store checks the values), or a refusal that
    shows the right form."""
    what, rest = args[0].lower(), args[1:]
    off = len(rest) == 1 and rest[0].lower() in ("off", "关", "關")
    if what in ("lead", "leads", "提前") and rest:
        return {"lead_hours": rest}
    if what in ("digest", "日报", "日報") and len(rest) == 1:
        return {"digest_at": None if off else rest[0]}
    if what in ("quiet", "免打扰", "免打擾") and rest:
        if off:
            return {"quiet_from": None, "quiet_until": None}
        parts = rest[0].replace("–", "-").split("-") if len(rest) == 1 else rest
        if len(parts) == 2:
            return {"quiet_from": parts[0], "quiet_until": parts[1]}
    if what in ("tz", "timezone", "时区", "時區") and len(rest) == 1:
        return {"timezone": rest[0]}
    if what == "pending" and len(rest) == 1:
        return {"pending_days": rest[0]}
    if what in ("stuck", "停滞", "停滯") and len(rest) == 1:
        return {"stuck_days": rest[0]}
    raise Refusal(AlertCode.bad_alert_setting, text=" ".join(args))


@handles_refusals
async def settings_button(update: Update, context: DeskContext) -> None:
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, AlertSetting)
    team = await admin_team(update, context)
    what, value = button.what, button.value
    changes: dict[str, object] = {}
    if what == "k":
        changes["kinds_off"] = team.settings.kinds_off ^ {value}
    elif what == "l":
        changes["lead_hours"] = value
    elif what == "d":
        changes["digest_at"] = None if value == "off" else value
    elif what == "q":
        start, end = (None, None) if value == "off" else value.split("-")
        changes.update(quiet_from=start, quiet_until=end)
    elif what == "z":
        changes["timezone"] = value
    # The data passed the button codec's shape, but a value no button writes (a zone that
    # does not exist, 0 hours) is forged or stale: it changes nothing.
    team = await _change(context, team, Refusal(CommandCode.button_unknown), **changes)
    await query.answer()
    tracks = await context.services.store.tracking_enabled(team.team_id)
    await edit_in_place(update, settings_text(team, context.services.alerts.tracking, tracks),
                        settings_buttons(team))  # fmt: skip

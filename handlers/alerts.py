"""Alerts at the Telegram edge: the repeating check, alert buttons, /alerts.

The check decides what is due (``bot.alerts``) and queues messages in the outbox; the
sender (``bot.durable.Sender``) delivers them with the replies. A group that removed the
bot is marked here (``my_chat_member``) and its messages are held until it is back.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram import (
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatMemberStatus

from bot import alerts as rules
from bot import texts
from bot.app import DeskContext
from bot.domain import Refusal
from bot.i18n import _, listing, when
from bot.storage import Team
from handlers.common import (
    actor_of,
    answer,
    drop_buttons,
    edit_in_place,
    handles_refusals,
    plain,
    require_person,
    team_of,
)
from handlers.outcomes import decision_buttons, reply_outcome

log = logging.getLogger("dingdan.alerts")

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
async def ship_prompt(update: Update, context: DeskContext) -> None:
    """🚚 under an alert: say exactly what to type to ship it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await team_of(update, context)
    order_id = query.data.split(":", 1)[1]
    await query.answer()
    await answer(update, _("To ship order {order}, send: /ship {order} CARRIER TRACKING (or 发货 {order} 顺丰 SF…)",
                           order=order_id))  # fmt: skip


@handles_refusals
async def snooze(update: Update, context: DeskContext) -> None:
    """💤 under an alert: remind again in 4 hours."""
    query = update.callback_query
    assert query is not None and query.data is not None
    team = await team_of(update, context)
    order_id = query.data.split(":", 1)[1]
    until = await context.services.alerts.snooze(team.team_id, order_id, actor_of(update).id or 0)
    await query.answer(plain(_("I will remind you about {order} again at {when}.", order=order_id,
                                          when=when(until, team.timezone))))  # fmt: skip


@handles_refusals
async def return_decision_prompt(update: Update, context: DeskContext) -> None:
    """'Decide' under a return alert: the restock / dispose / send back buttons for that order."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await team_of(update, context)
    order_id = query.data.split(":", 1)[1]
    await query.answer()
    await answer(update, _("The return of order {order} has arrived. What should happen to the item?", order=order_id),
                 decision_buttons(order_id))  # fmt: skip


@handles_refusals
async def mark_lost(update: Update, context: DeskContext) -> None:
    """'Mark lost' under a late-delivery alert."""
    query = update.callback_query
    assert query is not None and query.data is not None
    team = await team_of(update, context)
    order_id = query.data.split(":", 1)[1]
    outcome = await context.services.desk.act(team.team_id, order_id, "mark_lost", actor_of(update))
    await query.answer()
    await drop_buttons(update, order_id)
    await reply_outcome(update, context, team, outcome)


# --- /alerts: a team's settings ------------------------------------------------------

_ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "Europe/London", "Europe/Berlin",
          "America/New_York", "America/Los_Angeles")  # fmt: skip


def settings_text(t: Team) -> str:
    kinds_on = [texts.ALERT_KIND_NAMES[k] for k in rules.KINDS if k not in t.kinds_off.split(",")]
    lines = [
        _("<b>Alerts for {team}</b>", team=t.title),
        _("Time zone: {zone}", zone=t.timezone),
        _("Ship-by warnings: {hours} hours before", hours=listing(t.lead_hours.split(","))),
        _("Daily digest at {time}", time=t.digest_at or "—"),
        _("Quiet hours: {start}–{end}", start=t.quiet_from, end=t.quiet_until)
        if t.quiet_from != t.quiet_until else _("Quiet hours: none"),
        _("Pending too long after {days} days", days=t.pending_days),
        _("On: {kinds}", kinds=listing([_(k) for k in kinds_on])),
        "",
        _("Change with: /alerts lead 24 4 · /alerts digest 09:00 · /alerts quiet 23:00 08:00 · /alerts quiet off · "
          "/alerts tz Asia/Shanghai · /alerts pending 3 · or the buttons."),
    ]
    return "\n".join(lines)


def settings_buttons(team: Team) -> InlineKeyboardMarkup:
    off = set(team.kinds_off.split(","))
    rows = []
    for kind in rules.KINDS:
        mark = "🔕" if kind in off else "🔔"
        rows.append([InlineKeyboardButton(f"{mark} {_(texts.ALERT_KIND_NAMES[kind])}", callback_data=f"al:k:{kind}")])
    rows.append([InlineKeyboardButton(_("Warn {hours} h before", hours=listing(h.split(","))), callback_data=f"al:l:{h}")
                 for h in ("24,4", "12,2", "48,24,4")])  # fmt: skip
    rows.append([InlineKeyboardButton(_("Digest {time}", time=h), callback_data=f"al:d:{h}") for h in ("08:00", "09:00", "10:00")])
    rows.append([InlineKeyboardButton(_("Quiet 23–08"), callback_data="al:q:23:00-08:00"),
                 InlineKeyboardButton(_("Quiet 22–07"), callback_data="al:q:22:00-07:00"),
                 InlineKeyboardButton(_("No quiet hours"), callback_data="al:q:off")])  # fmt: skip
    rows.append([InlineKeyboardButton(z.split("/")[1].replace("_", " "), callback_data=f"al:z:{z}") for z in _ZONES[:4]])
    rows.append([InlineKeyboardButton(z.split("/")[1].replace("_", " "), callback_data=f"al:z:{z}") for z in _ZONES[4:]])
    return InlineKeyboardMarkup(rows)


async def _require_admin(update: Update, context: DeskContext) -> Team:
    require_person(update)
    team = await team_of(update, context)
    user = update.effective_user
    assert user is not None
    if not await context.services.access.is_admin(team.team_id, user.id):
        raise Refusal("not_admin")
    return team


@handles_refusals
async def alerts_command(update: Update, context: DeskContext) -> None:
    """/alerts (提醒): show or change the team's alert settings (group administrators)."""
    team = await _require_admin(update, context)
    args = context.args or []
    if args:
        changes = parse_setting(args)
        await context.services.store.update_team(team.team_id, **changes)
        team = await context.services.store.team(team.team_id) or team
    await answer(update, settings_text(team), settings_buttons(team))


def parse_setting(args: list[str]) -> dict[str, object]:
    """`/alerts lead 24 4`, `digest 9:30`, `digest off`, `quiet 23:00 08:00`, `quiet off`, `tz Zone`,
    `pending 3`, `on KIND`, `off KIND` → column values, or a refusal that shows the right form."""
    what, rest = args[0].lower(), args[1:]
    if what in ("lead", "leads", "提前") and rest:
        try:
            hours = sorted({float(h) for h in rest}, reverse=True)
        except ValueError:
            hours = []
        if hours and all(0 < h <= 168 for h in hours) and len(hours) <= 4:
            return {"lead_hours": ",".join(f"{h:g}" for h in hours)}
    elif what in ("digest", "日报", "日報") and len(rest) == 1:
        if rest[0].lower() in ("off", "关", "關"):
            return {"digest_at": ""}
        at = rules.parse_hhmm(rest[0])
        if at:
            return {"digest_at": at}
    elif what in ("quiet", "免打扰", "免打擾"):
        if len(rest) == 1 and rest[0].lower() in ("off", "关", "關"):
            return {"quiet_from": "00:00", "quiet_until": "00:00"}
        parts = rest[0].replace("–", "-").split("-") if len(rest) == 1 else rest
        if len(parts) == 2 and all(rules.parse_hhmm(p) for p in parts):
            return {"quiet_from": rules.parse_hhmm(parts[0]), "quiet_until": rules.parse_hhmm(parts[1])}
    elif what in ("tz", "timezone", "时区", "時區") and len(rest) == 1:
        try:
            ZoneInfo(rest[0])
            return {"timezone": rest[0]}
        except (ZoneInfoNotFoundError, ValueError):
            pass
    elif what in ("pending",) and len(rest) == 1 and rest[0].isdigit() and 1 <= int(rest[0]) <= 21:
        return {"pending_days": int(rest[0])}
    raise Refusal("bad_alert_setting", text=" ".join(args))


@handles_refusals
async def settings_button(update: Update, context: DeskContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    team = await _require_admin(update, context)
    _prefix, what, value = query.data.split(":", 2)
    store = context.services.store
    current = team.kinds_off.split(",")
    if what == "k":
        off = set(filter(None, current)) ^ {value}
        await store.update_team(team.team_id, kinds_off=",".join(sorted(off)))
    elif what == "l":
        await store.update_team(team.team_id, lead_hours=value)
    elif what == "d":
        await store.update_team(team.team_id, digest_at=value)
    elif what == "q":
        start, end = ("00:00", "00:00") if value == "off" else value.split("-")
        await store.update_team(team.team_id, quiet_from=start, quiet_until=end)
    elif what == "z":
        await store.update_team(team.team_id, timezone=value)
    team = await store.team(team.team_id) or team
    await query.answer()
    await edit_in_place(update, settings_text(team), settings_buttons(team))


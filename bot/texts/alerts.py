"""Alert messages and the daily digest, as they read on a phone.

One check sends one message per team (in parts when long): the kinds in ``URGENCY`` order,
each order once, a line each that fits a phone's width: its tail, what to pick and how long
is left, with the local time — ``…1000001 USB-MIC-01×1 ⏳3小时 (23:44)`` — and a row of two
half-width buttons under the message for each order listed.

Their numbers come from their owners (``bot.alerts``): how many orders a message holds,
how long a snooze lasts, Amazon's targets for the account's health.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_percent

from bot.alerts import (
    CANCELLATION_TARGET,
    LATE_SHIPMENT_TARGET,
    PER_MESSAGE,
    SHOWN_IN_DIGEST,
    SNOOZE,
    URGENCY,
    VALID_TRACKING_TARGET,
)
from bot.buttons import MarkLost, ReturnDecision, ReturnPrompt, ShipPrompt, Snooze
from bot.domain import Goods
from bot.i18n import N_, Raw, _, cldr, current, listing, ngettext
from bot.texts import tracking
from bot.texts.names import action_name, disposition_name, state_name
from bot.texts.pages import TEXT_LIMIT, measure

#: Items named on an order's line; more are counted ("+2").
SHOWN_ITEMS = 2
#: Chinese readers see 24-hour times; English ones CLDR's short time.
_CLOCK = {"zh_Hans": "HH:mm", "zh_Hant": "HH:mm"}


def _tail(order_id: str) -> str:
    return order_id[-7:]


def clock(moment: datetime, zone: str, now: datetime) -> str:
    """A moment as a phone line shows it: the local time, with the day when it is not today."""
    tz = ZoneInfo(zone)
    pattern = _CLOCK.get(current(), "h:mm a")
    if moment.astimezone(tz).date() != now.astimezone(tz).date():
        pattern = "M/d " + pattern
    return format_datetime(moment, pattern, tzinfo=tz, locale=cldr())


def span(delta: timedelta) -> str:
    """How long, in the unit a deadline is felt in: "90 minutes", "24 hours", "3 days" (a unit
    is used from 2 of it, so a day's warning reads "24 hours", never "1 day")."""
    return format_timedelta(delta, threshold=2.0, locale=cldr())


def picking(goods: Sequence[tuple[str, int]]) -> str:
    """What to pick: ``SKU×qty`` per item, the first few, then how many more."""
    shown = [f"{sku or '?'}×{qty}" for sku, qty in goods[:SHOWN_ITEMS]]
    if len(goods) > SHOWN_ITEMS:
        shown.append(f"+{len(goods) - SHOWN_ITEMS}")
    return listing(shown) if shown else ""


def order_line(kind: str, order_id: str, goods: Sequence[tuple[str, int]], deadline: datetime | None,
               zone: str, now: datetime, disposition: str = "", detail: Any = None) -> str:  # fmt: skip
    """One order on one line: its tail, what to pick, and what is due when."""
    head = "…" + _tail(order_id) + (" " + picking(goods) if goods else "")
    if detail is not None:  # carrier tracking: the number, its status and the carrier's last event
        return tracking.concern_line(head, detail, zone, lambda moment: clock(moment, zone, now))
    if deadline is None:
        if kind == "return_waiting" and disposition:
            return _("{order} · {disposition}", order=head, disposition=disposition_name(disposition))
        return _("{order}", order=head)
    at = clock(deadline, zone, now)
    match kind:
        case "ship_soon":
            return _("{order} ⏳{left} ({at})", order=head, left=span(deadline - now), at=at)
        case "ship_late":
            return _("{order} ⌛{late} late ({at})", order=head, late=span(now - deadline), at=at)
        case "confirm_soon" | "confirm_last":
            return _("{order} · cancelled by Amazon {at}", order=head, at=at)
        case "pending_long":
            return _("{order} · ordered {at}", order=head, at=at)
        case "delivery_late":
            return _("{order} · due {at}", order=head, at=at)
    return _("{order}", order=head)


def _size(text: str) -> int:
    """``pages.measure``, without its parser for a line with no tag and no entity (most lines)."""
    if "<" in text or "&" in text:
        return measure(text)
    return len(text.encode("utf-16-le")) // 2


def alert_messages(team: Any, due: list[Any], now: datetime, per_message: int = PER_MESSAGE) -> list[dict[str, Any]]:
    """One check's alerts for a team: one message, in parts of at most ``per_message`` orders
    (and Telegram's length) when long, the kinds in ``URGENCY`` order; a part that begins
    inside a kind repeats its heading. ``due`` holds each order once (``bot.alerts.most_urgent``)."""
    zone = team.timezone
    counts = {kind: sum(1 for d in due if d.kind == kind) for kind in URGENCY}
    parts: list[tuple[list[str], list[list[list[str]]]]] = []
    lines: list[str] = []
    buttons: list[list[list[str]]] = []
    kind_now = None
    # Room kept for what may end a part: its number and the advice under pending orders.
    room = TEXT_LIMIT - measure(_("(part {part} of {parts})", part=99, parts=99)) - 2
    room -= measure(_alert_advice("pending_long")) + 1 if counts["pending_long"] else 0
    length = 0  # of the part so far, lines and line ends, as Telegram counts it
    for item in sorted(due, key=lambda d: URGENCY.index(d.kind)):
        line = order_line(item.kind, item.order_id, item.goods, item.deadline, zone, now, item.disposition,
                          getattr(item, "detail", None))  # fmt: skip
        extra = [_alert_head(item.kind, counts[item.kind], team)] if item.kind != kind_now else []
        adding = sum(_size(x) + 1 for x in [*extra, line])
        if len(buttons) >= per_message or (lines and length + adding > room):
            parts.append((lines, buttons))
            lines, buttons, extra, length = [], [], [_alert_head(item.kind, counts[item.kind], team)], 0
            adding = sum(_size(x) + 1 for x in [*extra, line])
        lines += [*extra, line]
        length += adding
        kind_now = item.kind
        buttons.append(_alert_buttons(item.kind, item.order_id, item.disposition))
    if lines:
        parts.append((lines, buttons))
    messages = []
    for n, (text_lines, rows) in enumerate(parts, 1):
        if len(parts) > 1:
            text_lines = [*text_lines, _("(part {part} of {parts})", part=n, parts=len(parts))]
        if any(d.kind == "pending_long" for d in due) and n == len(parts):
            text_lines = [*text_lines, _alert_advice("pending_long")]
        if any(d.kind == "no_scan" for d in due) and n == len(parts):
            text_lines = [*text_lines, tracking.concern_advice("no_scan")]
        messages.append({"text": "\n".join(text_lines), "buttons": [row for row in rows if row]})
    return messages


def _alert_head(kind: str, n: int, team: Any = None) -> str:
    if kind in ("no_scan", "stuck", "track_exception"):
        return tracking.concern_head(kind, n, getattr(getattr(team, "settings", None), "stuck_days", 7))
    match kind:
        case "ship_soon":
            return ngettext("⏰ {count} order must ship soon:", "⏰ {count} orders must ship soon:", n)
        case "ship_late":
            return ngettext(
                "🚨 {count} order is past its ship-by time:", "🚨 {count} orders are past their ship-by time:", n
            )
        case "confirm_soon":
            return ngettext(
                "📅 {count} order is still unconfirmed; Amazon cancels it on its 30th day:",
                "📅 {count} orders are still unconfirmed; Amazon cancels them on their 30th day:",
                n,
            )
        case "confirm_last":
            return ngettext(
                "📅 Last day: Amazon cancels {count} unconfirmed order within 24 hours:",
                "📅 Last day: Amazon cancels {count} unconfirmed orders within 24 hours:",
                n,
            )
        case "pending_long":
            return ngettext(
                "ℹ️ {count} order has been pending for a long time:",
                "ℹ️ {count} orders have been pending for a long time:",
                n,
            )
        case "return_waiting":
            return ngettext(
                "📦 {count} returned item is waiting for a decision:",
                "📦 {count} returned items are waiting for a decision:",
                n,
            )
        case "delivery_late":
            return ngettext(
                "🚚 {count} shipped order is past its latest delivery date:",
                "🚚 {count} shipped orders are past their latest delivery date:",
                n,
            )
    return kind


def _alert_advice(kind: str) -> str:
    match kind:
        case "ship_soon":
            return _("Ship them with /ship before the time; a late shipment counts against the account.")
        case "ship_late":
            return _("Ship them now, or cancel what you cannot ship; late shipments raise the late shipment rate.")
        case "confirm_soon" | "confirm_last":
            return _("Confirm the shipment with /ship, or cancel the order, before Amazon cancels it.")
        case "pending_long":
            return _("Nothing to do yet: Amazon is still verifying the payment. Never ship a pending order.")
        case "return_waiting":
            return _("Decide for each: restock, dispose or send back. I will remind you once a day.")
        case "delivery_late":
            return _("Contact the carrier. If the parcel is lost, mark it lost and refund the buyer.")
    return ""


def _alert_buttons(kind: str, order_id: str, disposition: str = "") -> list[list[str]]:
    """A row of two half-width buttons naming the order by its tail (short enough not to be cut)."""
    tail = _tail(order_id)
    if kind == "return_waiting" and disposition == "SELLABLE":
        # Amazon put it back into sellable inventory: one tap closes the return as restocked.
        return [[_("✅ Restock {tail}", tail=tail), ReturnDecision(order_id, "restock").encode()],
                [_("📋 Decide {tail}", tail=tail), ReturnPrompt(order_id).encode()]]  # fmt: skip
    snooze = [_("💤 {hours}h {tail}", hours=SNOOZE // timedelta(hours=1), tail=tail), Snooze(order_id).encode()]
    match kind:
        case "ship_soon" | "ship_late" | "confirm_soon" | "confirm_last":
            return [[_("🚚 Ship {tail}", tail=tail), ShipPrompt(order_id).encode()], snooze]
        case "return_waiting":
            return [[_("📋 Decide {tail}", tail=tail), ReturnPrompt(order_id).encode()], snooze]
        case "delivery_late":
            return [[_("❓ Lost {tail}", tail=tail), MarkLost(order_id).encode()], snooze]
        case "pending_long":
            return [snooze]
        case "stuck":  # said once (a new stop is a new alert): no snooze
            return [[_("❓ Lost {tail}", tail=tail), MarkLost(order_id).encode()]]
    return []


def digest_message(team: Any, local_day: Any, figures: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The daily digest: the orders past their ship-by first, then today's, each on a line with
    its buttons; the orders in each state, one state a line; yesterday's work, one person a
    line; Amazon's account-health rates over Amazon's windows, each beside its target."""
    zone = team.timezone
    goods = figures.get("goods", {})
    lines = [_("<b>Daily digest for {team}, {day}</b>", team=team.title or str(team.team_id),
               day=format_date(local_day, "medium", locale=cldr()))]  # fmt: skip
    buttons: list[list[list[str]]] = []
    for kind, rows, count, head in (
        ("ship_late", figures["overdue"], figures["overdue_count"], N_("🚨 Past their ship-by: {count}")),
        ("ship_soon", figures["ship_today"], figures["ship_today_count"], N_("⏰ Must ship today: {count}")),
    ):
        if not count and kind == "ship_late":
            continue
        lines.append(_(head, count=count))
        shown = rows[:SHOWN_IN_DIGEST]
        for order_id, ship_by in shown:
            lines.append(order_line(kind, order_id, goods.get(order_id, ()), ship_by, zone, now))
            buttons.append(_alert_buttons(kind, order_id))
        if count > len(shown):
            lines.append(ngettext("…and {count} more.", "…and {count} more.", count - len(shown)))
    by_state = figures["by_state"]
    lines.append(_("📊 Orders by state:"))
    order = list(Goods)
    known = sorted((s for s in by_state if s in order), key=lambda s: order.index(Goods(s)))
    lines += [_("{state}: {count}", state=state_name(s), count=by_state[s]) for s in known] or [_("No orders yet.")]
    if figures["work"]:
        lines.append(_("👥 Yesterday's work:"))
        people: dict[str, list[str]] = {}
        for name, action, n in figures["work"]:
            people.setdefault(name, []).append(f"{action_name(action)} {n}")
        lines += [_("{who}: {what}", who=name, what=listing(parts)) for name, parts in people.items()]
    else:
        lines.append(_("👥 Yesterday's work: nothing recorded."))
    h = figures["health"]
    lines.append(_("📈 Account health (Amazon's targets):"))
    lines.append(_rate(N_("Late shipment rate, 10 days: {rate} ({part}/{whole}), target under {target}"),
                       h["late_10"], h["shipped_10"], LATE_SHIPMENT_TARGET))  # fmt: skip
    lines.append(_rate(N_("Late shipment rate, 30 days: {rate} ({part}/{whole}), target under {target}"),
                       h["late_30"], h["shipped_30"], LATE_SHIPMENT_TARGET))  # fmt: skip
    lines.append(_rate(N_("Pre-fulfilment cancel rate, 7 days: {rate} ({part}/{whole}), target under {target}"),
                       h["cancelled_7"], h["ordered_7"], CANCELLATION_TARGET))  # fmt: skip
    lines.append(_rate(N_("Valid tracking rate, 30 days: {rate} ({part}/{whole}), target over {target}"),
                       h["valid_30"], h["confirmed_30"], VALID_TRACKING_TARGET, over=True))  # fmt: skip
    if figures.get("tracking_quota"):
        lines.append(tracking.quota_line(*figures["tracking_quota"]))
    return {"text": "\n".join(lines), "buttons": [row for row in buttons if row]}


def _rate(template: str, part: int, whole: int, target: float, *, over: bool = False) -> str:
    """A rate beside Amazon's target, marked ✅ when it meets it and ⚠️ when it does not
    (with nothing to measure, it meets it: Amazon shows no rate either)."""
    if whole:
        ratio = part / whole
        met = ratio > target if over else ratio < target
    else:
        ratio, met = (1.0 if over else 0.0), True
    percent = format_percent(ratio, "#,##0.0%", locale=cldr())
    return ("✅ " if met else "⚠️ ") + _(template, rate=Raw(percent), part=part, whole=whole,
                                         target=format_percent(target, "#,##0.0%", locale=cldr()))  # fmt: skip

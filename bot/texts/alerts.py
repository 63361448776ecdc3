"""Alert messages and the daily digest, as they read on a phone.

Their numbers come from their owners (``bot.alerts``): how many orders a message holds,
how long a snooze lasts, Amazon's targets for the account's health.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date
from babel.numbers import format_percent

from bot.alerts import CANCELLATION_TARGET, LATE_SHIPMENT_TARGET, PER_MESSAGE, SNOOZE
from bot.buttons import MarkLost, ReturnDecision, ReturnPrompt, ShipPrompt, Snooze
from bot.domain import Goods
from bot.i18n import N_, _, cldr, duration, listing, ngettext, when
from bot.texts.names import action_name, disposition_name, state_name

#: Orders that must ship today listed by name in the digest; the rest are counted.
SHOWN_SHIP_TODAY = 10


def _tail(order_id: str) -> str:
    return order_id[-7:]


def alert_messages(team: Any, kind: str, due: list[Any], now: datetime,
                   per_message: int = PER_MESSAGE) -> list[dict[str, Any]]:  # fmt: skip
    """One alert kind for a team as messages of at most ``per_message`` orders, with buttons."""
    zone = team.timezone
    messages = []
    for start in range(0, len(due), per_message):
        page = due[start : start + per_message]
        lines = [_alert_head(kind, len(due))]
        buttons: list[list[list[str]]] = []
        for item in page:
            lines.append("• " + _alert_line(kind, item, zone, now))
            buttons.append(_alert_buttons(kind, item.order_id, item.disposition))
        if len(due) > per_message:
            lines.append(_("(part {part} of {parts})", part=start // per_message + 1,
                           parts=(len(due) + per_message - 1) // per_message))  # fmt: skip
        lines.append(_alert_advice(kind))
        messages.append({"text": "\n".join(lines), "buttons": [b for b in buttons if b]})
    return messages


def _alert_head(kind: str, n: int) -> str:
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
                "🚨 Last day: Amazon cancels {count} unconfirmed order within 24 hours:",
                "🚨 Last day: Amazon cancels {count} unconfirmed orders within 24 hours:",
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


def _alert_line(kind: str, item: Any, zone: str, now: datetime) -> str:
    order, deadline = item.order_id, item.deadline
    if kind == "ship_soon":
        return _("<code>{order}</code> · ship by {when} (in {left})", order=order, when=when(deadline, zone),
                 left=duration(deadline - now, direction=False))  # fmt: skip
    if kind == "ship_late":
        return _("<code>{order}</code> · ship-by was {when} ({late} ago)", order=order, when=when(deadline, zone),
                 late=duration(now - deadline, direction=False))  # fmt: skip
    if kind in ("confirm_soon", "confirm_last"):
        return _("<code>{order}</code> · Amazon cancels it on {when}", order=order, when=when(deadline, zone))
    if kind == "pending_long":
        return _("<code>{order}</code> · ordered {when}", order=order, when=when(deadline, zone))
    if kind == "delivery_late":
        return _("<code>{order}</code> · should have arrived by {when}", order=order, when=when(deadline, zone))
    if kind == "return_waiting" and item.disposition:
        return _("<code>{order}</code> · {disposition}", order=order, disposition=disposition_name(item.disposition))
    return _("<code>{order}</code>", order=order)


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
    tail = _tail(order_id)
    if kind == "return_waiting" and disposition == "SELLABLE":
        # Amazon put it back into sellable inventory: one tap closes the return as restocked.
        return [[_("✅ Restocked {tail}", tail=tail), ReturnDecision(order_id, "restock").encode()], [_("Decide {tail}", tail=tail),
                ReturnPrompt(order_id).encode()]]  # fmt: skip
    snooze = [_("💤 {hours} h {tail}", hours=SNOOZE // timedelta(hours=1), tail=tail), Snooze(order_id).encode()]
    match kind:
        case "ship_soon" | "ship_late" | "confirm_soon" | "confirm_last":
            return [[_("🚚 Ship {tail}", tail=tail), ShipPrompt(order_id).encode()], snooze]
        case "return_waiting":
            return [[_("Decide {tail}", tail=tail), ReturnPrompt(order_id).encode()], snooze]
        case "delivery_late":
            return [[_("Mark {tail} lost", tail=tail), MarkLost(order_id).encode()], snooze]
        case "pending_long":
            return [snooze]
    return []


def digest_message(team: Any, local_day: Any, figures: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The daily digest: the state of the desk, today's work, yesterday's, and the account's health."""
    lines = [_("<b>Daily digest for {team}, {day}</b>", team=team.title or str(team.team_id),
               day=format_date(local_day, "medium", locale=cldr()))]  # fmt: skip
    by_state = figures["by_state"]
    if by_state:
        order = list(Goods)
        counts = listing(
            [f"{state_name(s)} {n}" for s, n in sorted(by_state.items(), key=lambda kv: order.index(Goods(kv[0])))]
        )
        lines.append(_("Orders: {counts}", counts=counts))
    ship_today = figures["ship_today"]
    lines.append(ngettext("Must ship today: {count} order.", "Must ship today: {count} orders.", len(ship_today)))
    lines += [f"• <code>{html.escape(o)}</code>" for o in ship_today[:SHOWN_SHIP_TODAY]]
    if len(ship_today) > SHOWN_SHIP_TODAY:
        lines.append(ngettext("…and {count} more.", "…and {count} more.", len(ship_today) - SHOWN_SHIP_TODAY))
    waiting = by_state.get("return_received", 0)
    lines.append(
        ngettext("Returns waiting for a decision: {count}.", "Returns waiting for a decision: {count}.", waiting)
    )
    if figures["work"]:
        lines.append(_("Yesterday's work:"))
        people: dict[str, list[str]] = {}
        for name, action, n in figures["work"]:
            people.setdefault(name, []).append(f"{action_name(action)} {n}")
        lines += [_("• {who}: {what}", who=name, what=listing(parts)) for name, parts in people.items()]
    else:
        lines.append(_("Yesterday's work: nothing recorded."))
    lines.append(_rate(N_("Late shipment rate, last 30 days: {rate} ({part} of {whole}); Amazon's target is under {target}."),
                       figures["shipped_late"], figures["shipped"], LATE_SHIPMENT_TARGET))  # fmt: skip
    lines.append(_rate(N_("Cancellation rate, last 30 days: {rate} ({part} of {whole}); Amazon's target is under {target}."),
                       figures["seller_cancelled"], figures["orders"], CANCELLATION_TARGET))  # fmt: skip
    return {"text": "\n".join(lines), "buttons": []}


def _rate(template: str, part: int, whole: int, target: float) -> str:
    """A rate beside Amazon's target, marked when it is over."""
    ratio = part / whole if whole else 0.0
    mark = "✅" if ratio < target else "⚠️"
    return mark + " " + _(template, rate=format_percent(ratio, "#,##0.0%", locale=cldr()), part=part, whole=whole,
                          target=format_percent(target, "#,##0.0%", locale=cldr()))  # fmt: skip

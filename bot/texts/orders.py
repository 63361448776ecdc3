"""An order in a list, an event in its history, and what an import did."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.carriers import label as carrier_label
from bot.domain import Event, Goods, Order
from bot.i18n import Raw, _, current, day, money, ngettext, when
from bot.texts.names import REPORT_NAMES, action_name, reason_name, state_name
from bot.texts.refusals import row_error

if TYPE_CHECKING:
    from bot.importing import ImportResult


def order_line(order: Order, zone: str) -> str:
    """One order in a list: id, state, ship-by."""
    if order.goods in (Goods.unshipped, Goods.partially_shipped, Goods.pending) and order.ship_by:
        return _("<code>{order}</code> · {state} · ship by {ship_by}", order=order.order_id,
                 state=state_name(order.goods), ship_by=when(order.ship_by, zone))  # fmt: skip
    return _("<code>{order}</code> · {state}", order=order.order_id, state=state_name(order.goods))


def event_line(event: Event, zone: str) -> str:
    what = action_name(event.trigger)
    at = when(event.at, zone)
    extra = event_details(event)
    if event.actor.kind == "user":
        line = _("{when} · {what} · by {who}", when=at, what=what, who=event.actor.name)
    elif event.actor.kind == "import":
        line = _("{when} · {what} · from {source}", when=at, what=what, source=event.actor.name or "—")
    else:
        line = _("{when} · {what} · by the bot", when=at, what=what)
    return f"{line}{Raw(' · ' + extra) if extra else ''}"


def event_details(event: Event) -> str:
    d = event.details
    if event.trigger in ("ship", "correct_tracking") and d.get("tracking"):
        carrier = carrier_label(d.get("carrier") or "", d.get("carrier_name") or "", current())
        return html.escape(f"{carrier} {d['tracking']}".strip())
    if event.trigger == "refund" and d.get("amount") is not None:
        return money(Decimal(str(d["amount"])), d.get("currency"))
    if event.trigger == "cancel" and d.get("reason"):
        return html.escape(reason_name(d["reason"]))
    if event.trigger in ("request_return", "receive_return") and d.get("reason"):
        return html.escape(str(d["reason"]))
    return ""


#: Refused rows listed in an import's reply; the rest are counted.
SHOWN_ROW_ERRORS = 15


def import_summary(result: ImportResult, zone: str) -> str:
    lines = [
        _("{report} read ({encoding}): {new} new, {updated} updated, {unchanged} unchanged.",
          report=_(REPORT_NAMES.get(result.kind, result.kind)), encoding=result.encoding,
          new=result.new, updated=result.updated, unchanged=result.unchanged),
    ]  # fmt: skip
    if result.first_imported_at is not None and not result.new and not result.updated:
        lines.append(_("This file was already imported on {date}; nothing changed.",
                       date=day(result.first_imported_at, zone)))  # fmt: skip
    if result.refused:
        lines.append(ngettext("{count} row was refused:", "{count} rows were refused:", len(result.refused)))
        lines += ["• " + row_error(e) for e in result.refused[:SHOWN_ROW_ERRORS]]
        more = len(result.refused) - SHOWN_ROW_ERRORS
        if more > 0:
            lines.append(ngettext("…and {count} more row.", "…and {count} more rows.", more))
        lines.append(_("Correct those rows in the file and send it again; rows already imported will not be doubled."))
    return "\n".join(lines)

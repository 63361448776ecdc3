"""Carrier tracking as people read it: the status words (17TRACK's own Chinese ones), the card's
tracking line, and the concern of a parcel (what an alert says)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.i18n import N_, _, ngettext, when
from bot.tracking.provider import TrackStatus

if TYPE_CHECKING:
    from bot.storage.tracking import TrackedNumber

# Translators: a parcel's tracking status, as 17TRACK's Chinese site names them (已妥投, 运输途中,
# 查询不到, 可能异常, 运输过久, 投递失败).
STATUS_NAMES: dict[str, str] = {
    TrackStatus.not_found: N_("no carrier scan yet"),
    TrackStatus.info_received: N_("label created, not scanned yet"),
    TrackStatus.in_transit: N_("in transit"),
    TrackStatus.expired: N_("in transit too long"),
    TrackStatus.pickup: N_("waiting for pick-up"),
    TrackStatus.out_for_delivery: N_("out for delivery"),
    TrackStatus.delivery_failure: N_("delivery failed"),
    TrackStatus.delivered: N_("delivered by the carrier"),
    TrackStatus.exception: N_("possible exception"),
}


def status_name(status: str | None) -> str:
    return _(STATUS_NAMES[TrackStatus.of(status)])


def tracking_line(row: TrackedNumber, zone: str) -> str:
    """The card's line for one tracked number: its status and the carrier's last event."""
    number = row.number
    if row.state == "rejected":
        return _("Tracking {number}: the tracking service refused it ({error}).", number=number,
                 error=row.error or "?")  # fmt: skip
    if row.state == "to_register":
        return _("Tracking {number}: not registered with the tracking service yet.", number=number)
    status = status_name(row.status)
    if row.event_at is None:
        return _("Tracking {number}: {status}.", number=number, status=status)
    if row.event_place:
        return _("Tracking {number}: {status}; last event {when}, {place}: {text}", number=number, status=status,
                 when=when(row.event_at, zone), place=row.event_place,
                 text=row.event_text or "")  # fmt: skip
    return _("Tracking {number}: {status}; last event {when}: {text}", number=number, status=status,
             when=when(row.event_at, zone), text=row.event_text or "")  # fmt: skip


# --- alerts: what the tracking found wrong (kinds in bot.tracking.alerting) ------------------------


def concern_head(kind: str, n: int, days: int = 7) -> str:
    match kind:
        case "no_scan":
            return ngettext("🔍 {count} parcel has no carrier scan 48 hours after shipping:",
                            "🔍 {count} parcels have no carrier scan 48 hours after shipping:", n)  # fmt: skip
        case "stuck":
            return ngettext("🐢 {count} parcel has not moved for {days} days:",
                            "🐢 {count} parcels have not moved for {days} days:", n, days=days)  # fmt: skip
        case "track_exception":
            return ngettext("⚠️ The carrier reports a problem with {count} parcel:",
                            "⚠️ The carrier reports a problem with {count} parcels:", n)  # fmt: skip
    return kind


def concern_line(head: str, row: TrackedNumber, zone: str, clock: Callable[[datetime], str]) -> str:
    """One parcel of a tracking alert: the order, its number and the carrier's last word."""
    number = row.number
    status = status_name(row.status)
    if row.event_at is None:
        return _("{order} · {number} · {status}", order=head, number=number, status=status)
    if row.event_place:
        return _("{order} · {number} · {status}, {at} {place}: {text}", order=head, number=number, status=status,
                 at=clock(row.event_at), place=row.event_place,
                 text=row.event_text or "")  # fmt: skip
    return _("{order} · {number} · {status}, {at}: {text}", order=head, number=number, status=status,
             at=clock(row.event_at), text=row.event_text or "")  # fmt: skip


def concern_advice(kind: str) -> str:
    match kind:
        case "no_scan":
            return _("Amazon counts a tracking number as valid only once the carrier has scanned the parcel. Check "
                     "that the label was handed over, or correct the number with /correct.")  # fmt: skip
        case "stuck":
            return _("Ask the carrier. If the parcel is lost, mark it lost and refund the buyer.")
        case "track_exception":
            return _("Check with the carrier: a parcel returned to sender needs a refund or a new shipment.")
    return ""


def quota_line(total: int, remaining: int) -> str:
    """The digest's warning when the tracking service's quota runs low."""
    return _("📉 Carrier tracking: {remaining} of {total} numbers left in this month's 17TRACK quota; new shipments "
             "are not tracked once it runs out.", remaining=remaining, total=total)  # fmt: skip

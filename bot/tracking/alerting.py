"""Which tracking concerns become alerts, each once: pure, like ``bot.alerts.decide``.

A concern (``bot.tracking.schedule.concern``, stored by the run) becomes an alert of its kind,
identified as the other alerts are, by (order, kind, key): the key names the number and what
the alert is about, so it comes once, a restart does not repeat it, and a new fact (the parcel
moved and stopped again, another problem) is a new alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.storage.tracking import TrackedNumber

NO_SCAN = "no_scan"
STUCK = "stuck"
TRACK_EXCEPTION = "track_exception"
#: The alert kind of each concern.
KIND_OF_CONCERN = {"no_scan": NO_SCAN, "stuck": STUCK, "exception": TRACK_EXCEPTION}
KINDS = (TRACK_EXCEPTION, STUCK, NO_SCAN)


@dataclass(frozen=True)
class TrackingAlert:
    kind: str
    order_id: str
    key: str
    row: TrackedNumber


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else "-"


def alert_key(row: TrackedNumber) -> str:
    """What one alert is about: no first scan once per number; stuck once per stop (the last
    movement); a problem once per problem (the carrier's sub-status and event)."""
    match row.concern:
        case "no_scan":
            return row.number
        case "stuck":
            return f"{row.number}/{_stamp(row.moved_at or row.shipped_at)}"
        case _:
            return f"{row.number}/{row.sub_status or row.status}/{_stamp(row.event_at)}"


def decide_tracking(rows: Iterable[TrackedNumber], off: Iterable[str],
                    already: set[tuple[str, str, str]]) -> tuple[list[TrackingAlert], list[tuple[str, str, str]]]:  # fmt: skip
    """The alerts to send now (kinds not switched off, not sent before) and the keys they settle."""
    off = set(off)
    announce: list[TrackingAlert] = []
    settled: list[tuple[str, str, str]] = []
    for row in rows:
        kind = KIND_OF_CONCERN.get(row.concern or "")
        if kind is None or kind in off:
            continue
        key = alert_key(row)
        if (row.order_id, kind, key) in already:
            continue
        announce.append(TrackingAlert(kind, row.order_id, key, row))
        settled.append((row.order_id, kind, key))
    return announce, settled


def quota_low(total: int, remaining: int) -> bool:
    """The provider's quota is running low: the digest says so."""
    return remaining <= max(10, total // 10)


def order_ids(rows: Sequence[TrackedNumber]) -> list[str]:
    return sorted({row.order_id for row in rows})

"""When to ask about a number again, when to give up, and when a parcel is a concern: pure rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.tracking.provider import TrackStatus

#: A number is tracked at most this long after it shipped.
MAX_AGE = timedelta(days=60)
#: Asked often while a parcel is young (a missing first scan shows at 48 h), rarely later.
#: (age below, interval); older than the last: the last interval. 17TRACK itself asks the
#: carriers every few hours, so asking it more often brings nothing new.
INTERVALS: tuple[tuple[timedelta, timedelta], ...] = (
    (timedelta(days=3), timedelta(hours=3)),
    (timedelta(days=10), timedelta(hours=8)),
    (timedelta(days=30), timedelta(hours=24)),
)
LAST_INTERVAL = timedelta(hours=48)
#: No carrier scan this long after shipping: Amazon will not count the number as valid.
NO_SCAN_AFTER = timedelta(hours=48)
#: The carrier's last event this old, in transit: stuck (a team setting; this is its default).
STUCK_DAYS = 7


def interval(age: timedelta) -> timedelta:
    for below, every in INTERVALS:
        if age < below:
            return every
    return LAST_INTERVAL


def next_check(shipped_at: datetime, now: datetime) -> datetime:
    """When to ask again about a parcel shipped at ``shipped_at``: on the schedule, and at 48 hours
    exactly (a missing first scan is found then, not up to an interval later); never past its 60 days."""
    at = now + interval(now - shipped_at)
    if now < shipped_at + NO_SCAN_AFTER:
        at = min(at, shipped_at + NO_SCAN_AFTER)
    return min(at, shipped_at + MAX_AGE)


def expired(shipped_at: datetime, now: datetime) -> bool:
    return now - shipped_at >= MAX_AGE


def concern(status: TrackStatus | None, sub_status: str, shipped_at: datetime, moved_at: datetime | None,
            now: datetime, *, stuck_days: int = STUCK_DAYS) -> str | None:  # fmt: skip
    """What is wrong with a parcel, if anything: ``exception`` (returned to sender, refused,
    customs, a failed delivery), ``no_scan`` (no carrier scan 48 h after shipping) or ``stuck``
    (no movement for ``stuck_days`` in transit)."""
    if status in (TrackStatus.exception, TrackStatus.delivery_failure):
        return "exception"
    if status is None or not status.scanned:
        return "no_scan" if now - shipped_at >= NO_SCAN_AFTER else None
    if status in (TrackStatus.delivered,):
        return None
    if status is TrackStatus.expired:
        return "stuck"
    last = moved_at or shipped_at
    return "stuck" if now - last >= timedelta(days=stuck_days) else None

"""Carrier tracking (issue 12): the desk learns from the carrier when a parcel moves, arrives or stalls.

This face only re-exports. Inside:

- ``provider``: what the desk asks of a tracking provider (register, track, stop, retrack,
  quota), small enough for a second provider (AfterShip) beside the first;
- ``seventeen``: 17TRACK's Tracking API v2.2 over httpx, the first provider;
- ``schedule``: when to ask again (often while young, rarely later), when to give up (60 days),
  and what a parcel's concern is (an exception, no first scan at 48 h, stuck);
- ``tracker``: the run (register, stop, poll) and the one function that applies a status.

The numbers themselves live in ``bot.storage.tracking``.
"""

from bot.tracking.provider import (
    Accepted,
    Answer,
    Parcel,
    Quota,
    Rejected,
    Tracked,
    TrackEvent,
    TrackInfo,
    TrackingError,
    TrackingProvider,
    TrackStatus,
)
from bot.tracking.schedule import MAX_AGE, NO_SCAN_AFTER, STUCK_DAYS, concern, next_check
from bot.tracking.seventeen import BATCH, DEFAULT_URL, SeventeenTrack, carrier_code
from bot.tracking.tracker import TRACKING_ACTOR, RunReport, Tracker

__all__ = [
    "BATCH",
    "DEFAULT_URL",
    "MAX_AGE",
    "NO_SCAN_AFTER",
    "STUCK_DAYS",
    "TRACKING_ACTOR",
    "Accepted",
    "Answer",
    "Parcel",
    "Quota",
    "Rejected",
    "RunReport",
    "SeventeenTrack",
    "TrackEvent",
    "TrackInfo",
    "Tracked",
    "Tracker",
    "TrackingError",
    "TrackingProvider",
    "TrackStatus",
    "carrier_code",
    "concern",
    "next_check",
]

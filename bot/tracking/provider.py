"""What the desk asks of a tracking provider, whoever it is (17TRACK now; AfterShip could be another).

Four calls on batches of numbers, each answered number by number:

- ``register(parcels)``: start tracking; each number accepted (with the carrier the provider
  settled on) or rejected with the provider's code and message. A number the provider already
  tracks counts as accepted (``already`` set);
- ``track(parcels)``: the status and the carrier's last event of each number;
- ``stop(parcels)``: stop tracking (delivered, corrected away, too old);
- ``retrack(parcels)``: track a stopped number again;
- ``quota()``: how much of the plan is used, if the provider says.

A provider that cannot be reached, throttles for too long or fails on its side raises
:class:`TrackingError`; what it says about one number is never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class TrackStatus(StrEnum):
    """Where a parcel is, in the provider's main statuses (17TRACK's nine)."""

    not_found = "NotFound"  # 查询不到: no carrier scan (yet)
    info_received = "InfoReceived"  # the carrier has the label, not the parcel
    in_transit = "InTransit"  # 运输途中
    expired = "Expired"  # 运输过久
    pickup = "AvailableForPickup"
    out_for_delivery = "OutForDelivery"
    delivery_failure = "DeliveryFailure"  # 投递失败
    delivered = "Delivered"  # 已妥投
    exception = "Exception"  # 可能异常: returned, refused, customs, lost

    @classmethod
    def of(cls, text: str | None) -> TrackStatus:
        try:
            return cls(text or "NotFound")
        except ValueError:
            return cls.not_found

    @property
    def scanned(self) -> bool:
        """The carrier has scanned the parcel (what Amazon counts as valid tracking)."""
        return self not in (TrackStatus.not_found, TrackStatus.info_received)


#: Statuses that end the tracking of a number.
FINAL = frozenset({TrackStatus.delivered})


@dataclass(frozen=True)
class Parcel:
    """A number to ask about, with the provider's carrier code where the number alone is ambiguous."""

    number: str
    carrier: int | None = None
    tag: str = ""  # the order id, so the provider's dashboard shows it


@dataclass(frozen=True)
class Accepted:
    number: str
    carrier: int | None = None
    already: bool = False  # the provider was tracking it already


@dataclass(frozen=True)
class Rejected:
    number: str
    code: int
    message: str
    #: Worth asking again later as it is (the provider's side failed for this number).
    transient: bool = False


@dataclass(frozen=True)
class Answer:
    """What the provider did with each number of a batch."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class TrackEvent:
    """One thing the carrier said: when, where, what."""

    at: datetime | None
    place: str = ""
    text: str = ""


@dataclass(frozen=True)
class TrackInfo:
    """A number's status and the carrier's last event."""

    number: str
    status: TrackStatus
    sub_status: str = ""
    last_event: TrackEvent | None = None
    #: When the carrier delivered it (the delivered milestone, else the last event).
    delivered_at: datetime | None = None
    carrier: int | None = None


@dataclass(frozen=True)
class Tracked:
    """The answer to ``track``: what is known of each number, and the numbers refused."""

    infos: list[TrackInfo] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class Quota:
    total: int
    used: int
    remaining: int


class TrackingError(Exception):
    """The provider could not be asked (network, throttled too long, its side failed), or refused
    the whole request (a wrong key). ``str()`` never holds the key."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        self.status = status  # HTTP status; 0 when the provider could not be reached
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}" if message else f"{status} {code}")

    @property
    def transient(self) -> bool:
        return self.status in (0, 429) or self.status >= 500


class TrackingProvider(Protocol):
    """The provider's side; batches are at most ``batch`` numbers."""

    name: str
    batch: int

    async def register(self, parcels: Sequence[Parcel]) -> Answer: ...

    async def track(self, parcels: Sequence[Parcel]) -> Tracked: ...

    async def stop(self, parcels: Sequence[Parcel]) -> Answer: ...

    async def retrack(self, parcels: Sequence[Parcel]) -> Answer: ...

    async def quota(self) -> Quota | None: ...

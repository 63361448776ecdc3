"""What a button says, as typed values: the one place that writes and reads callback data.

A button's callback data comes back from the client, so it is input like any other: it may
be old (a message from before an update of the bot), truncated or forged. :func:`decode`
accepts only what :meth:`Button.encode` could have written and raises :class:`BadButton`
otherwise; the handlers act on the typed value. Telegram allows 64 bytes of data.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import ClassVar

#: Telegram's limit for callback data, in bytes.
MAX_DATA = 64

_ORDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")
_TOKEN = re.compile(r"[0-9a-f]{8,32}")
_WORD = re.compile(r"[a-z_]{1,24}")
_PAGE = re.compile(r"0|[1-9][0-9]{0,4}")  # as str(int) writes it
_HOURS = re.compile(r"[0-9]{1,3}(,[0-9]{1,3}){0,4}")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_DIGEST = re.compile(rf"{_TIME}|off")
_QUIET = re.compile(rf"{_TIME}-{_TIME}|off")
_ZONE = re.compile(r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+){1,2}")


class BadButton(ValueError):
    """Callback data that no button of this bot writes (old, truncated or forged)."""


@dataclass(frozen=True)
class Button(ABC):
    """A button's meaning; ``prefix`` routes it, the fields follow separated by ':'."""

    prefix: ClassVar[str]

    @abstractmethod
    def fields(self) -> tuple[str, ...]:
        """What follows the prefix, in order."""

    def encode(self) -> str:
        data = ":".join((self.prefix, *self.fields()))
        if len(data.encode()) > MAX_DATA:
            raise ValueError(f"callback data over {MAX_DATA} bytes: {data!r}")
        return data


@dataclass(frozen=True)
class Confirm(Button):
    """Yes to a question the desk asked (a refund, a tracking correction)."""

    prefix: ClassVar[str] = "cf"
    token: str

    def fields(self) -> tuple[str, ...]:
        return (self.token,)


@dataclass(frozen=True)
class Decline(Button):
    """No to a question: nothing is done."""

    prefix: ClassVar[str] = "cn"
    token: str

    def fields(self) -> tuple[str, ...]:
        return (self.token,)


DECISIONS = ("restock", "dispose", "send_back")


@dataclass(frozen=True)
class ReturnDecision(Button):
    """Restock, dispose or send back a returned item."""

    prefix: ClassVar[str] = "rd"
    order_id: str
    decision: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id, self.decision)


#: The cancel reasons offered as buttons when a cancel names none (Amazon's codes, the usual ones first).
CANCEL_CHOICES = ("NoInventory", "BuyerCanceled", "ShippingAddressUndeliverable", "CustomerExchange", "PricingError",
                  "GeneralAdjustment")  # fmt: skip


@dataclass(frozen=True)
class CancelReason(Button):
    """A reason pressed under "cancel ORDER" sent without one: cancel it with that reason."""

    prefix: ClassVar[str] = "cx"
    order_id: str
    reason: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id, self.reason)


@dataclass(frozen=True)
class AddressCancel(Button):
    """Cancel an unshipped order whose buyer wants another address."""

    prefix: ClassVar[str] = "ac"
    order_id: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id,)


@dataclass(frozen=True)
class Page(Button):
    """Another page of an order list: which list (its name), the page's number (0-based, for
    showing), and where it starts: right after, or right before, the order named (keyset
    paging: the list is read on from that order, never counted through from its start).
    No order: the list's first page."""

    prefix: ClassVar[str] = "ol"
    list_name: str
    page: int
    direction: str = "after"  # PAGE_DIRECTIONS
    order_id: str = ""

    def fields(self) -> tuple[str, ...]:
        return (self.list_name, str(self.page), self.direction[0], self.order_id)


#: Where a list page starts from the order its button names; written as the first letter.
PAGE_DIRECTIONS = ("after", "before")


#: What an order's pages show: its card or its history.
ORDER_VIEWS = ("card", "history")


@dataclass(frozen=True)
class OrderPage(Button):
    """◀ / ▶ under a long order card or history: which order, which view, which page (0-based)."""

    prefix: ClassVar[str] = "op"
    view: str
    order_id: str
    page: int

    def fields(self) -> tuple[str, ...]:
        return (self.view, self.order_id, str(self.page))


SCOPES = ("me", "chat")


@dataclass(frozen=True)
class Language(Button):
    """Choose a language for oneself (``me``) or as the group's default (``chat``)."""

    prefix: ClassVar[str] = "lg"
    scope: str
    locale: str

    def fields(self) -> tuple[str, ...]:
        return (self.scope, self.locale)


@dataclass(frozen=True)
class ShipPrompt(Button):
    """🚚 under an alert: how to ship this order."""

    prefix: ClassVar[str] = "sp"
    order_id: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id,)


@dataclass(frozen=True)
class Snooze(Button):
    """💤 under an alert: remind again later."""

    prefix: ClassVar[str] = "sz"
    order_id: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id,)


@dataclass(frozen=True)
class ReturnPrompt(Button):
    """ "Decide" under a return alert: the decision buttons for this order."""

    prefix: ClassVar[str] = "rw"
    order_id: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id,)


@dataclass(frozen=True)
class MarkLost(Button):
    """ "Mark lost" under a late-delivery alert."""

    prefix: ClassVar[str] = "ml"
    order_id: str

    def fields(self) -> tuple[str, ...]:
        return (self.order_id,)


#: The alert settings a button may change, and the shape of each value.
SETTING_SHAPES: dict[str, re.Pattern[str]] = {
    "k": _WORD,  # an alert kind switched on or off
    "l": _HOURS,  # lead hours before ship-by, "24,4"
    "d": _DIGEST,  # the digest's local time, or off
    "q": _QUIET,  # quiet hours "23:00-08:00", or off
    "z": _ZONE,  # the team's time zone
}


@dataclass(frozen=True)
class AlertSetting(Button):
    """One of the /alerts buttons: which setting (a letter of ``SETTING_SHAPES``) and its value."""

    prefix: ClassVar[str] = "al"
    what: str
    value: str

    def fields(self) -> tuple[str, ...]:
        return (self.what, self.value)


#: The carriers the /carrier buttons offer as a team's default ("off": none).
DEFAULT_CARRIER_CHOICES = ("Yun Express", "Yanwen", "SF Express", "China Post", "4PX", "UPS", "off")


@dataclass(frozen=True)
class DefaultCarrier(Button):
    """One of the /carrier buttons: the team's default carrier (one of ``DEFAULT_CARRIER_CHOICES``)."""

    prefix: ClassVar[str] = "dc"
    carrier: str

    def fields(self) -> tuple[str, ...]:
        return (self.carrier,)


def _order(value: str) -> str:
    if not _ORDER.fullmatch(value):
        raise BadButton(value)
    return value


def _read(cls: type[Button], rest: list[str]) -> Button:
    """The fields after the prefix, checked against what ``cls`` writes."""
    if cls in (Confirm, Decline):
        (token,) = rest
        if not _TOKEN.fullmatch(token):
            raise BadButton(token)
        return cls(token)
    if cls in (AddressCancel, ShipPrompt, Snooze, ReturnPrompt, MarkLost):
        (order_id,) = rest
        return cls(_order(order_id))
    if cls is CancelReason:
        order_id, reason = rest
        if reason not in CANCEL_CHOICES:
            raise BadButton(reason)
        return CancelReason(_order(order_id), reason)
    if cls is ReturnDecision:
        order_id, decision = rest
        if decision not in DECISIONS:
            raise BadButton(decision)
        return ReturnDecision(_order(order_id), decision)
    if cls is Page:
        list_name, page, way, order_id = rest
        direction = {d[0]: d for d in PAGE_DIRECTIONS}.get(way)
        if not (_WORD.fullmatch(list_name) and _PAGE.fullmatch(page)) or direction is None:
            raise BadButton(f"{list_name}:{page}:{way}")
        return Page(list_name, int(page), direction, _order(order_id) if order_id else "")
    if cls is OrderPage:
        view, order_id, page = rest
        if view not in ORDER_VIEWS or not _PAGE.fullmatch(page):
            raise BadButton(f"{view}:{page}")
        return OrderPage(view, _order(order_id), int(page))
    if cls is Language:
        scope, locale = rest
        if scope not in SCOPES or not re.fullmatch(r"[A-Za-z_]{2,8}", locale):
            raise BadButton(f"{scope}:{locale}")
        return Language(scope, locale)
    if cls is DefaultCarrier:
        (carrier,) = rest
        if carrier not in DEFAULT_CARRIER_CHOICES:
            raise BadButton(carrier)
        return DefaultCarrier(carrier)
    if cls is AlertSetting:
        what, value = rest[0], ":".join(rest[1:])  # times carry colons
        shape = SETTING_SHAPES.get(what)
        if shape is None or not shape.fullmatch(value):
            raise BadButton(f"{what}:{value}")
        return AlertSetting(what, value)
    raise BadButton(cls.prefix)


BUTTONS: dict[str, type[Button]] = {
    cls.prefix: cls
    for cls in (Confirm, Decline, ReturnDecision, AddressCancel, Page, Language, ShipPrompt, Snooze, ReturnPrompt,
                MarkLost, AlertSetting, CancelReason, OrderPage, DefaultCarrier)
}  # fmt: skip


def decode(data: str | None) -> Button:
    """The button that wrote ``data``, or :class:`BadButton`."""
    if not data or len(data.encode()) > MAX_DATA:
        raise BadButton(data or "")
    prefix, _, rest = data.partition(":")
    cls = BUTTONS.get(prefix)
    if cls is None or not rest:
        raise BadButton(data)
    fields = rest.split(":")
    if cls is not AlertSetting and len(fields) != len(dataclass_fields(cls)):
        raise BadButton(data)
    try:
        return _read(cls, fields)
    except ValueError as err:  # a wrong number of fields unpacks as ValueError too
        raise BadButton(data) from err

"""The order as the seller team sees it: goods state, money state, items, refusals.

Pure data: no Telegram, no database. The lifecycle rules live in ``bot.lifecycle``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from bot.refusal_codes import RefusalCode, refusal_code

#: An Amazon order id, 3-7-7 digits (``113-4417305-6689831``): what a person types, a flat
#: file holds and the Orders API sends. ASCII digits only: ``\d`` would also take
#: Arabic-Indic and other digits. Anchored, so ``match`` and ``fullmatch`` agree.
ORDER_ID_RE = re.compile(r"\A[0-9]{3}-[0-9]{7}-[0-9]{7}\Z")


class Goods(StrEnum):
    """Where the goods are. One state at a time (DESIGN.md §2)."""

    pending = "pending"
    unshipped = "unshipped"
    partially_shipped = "partially_shipped"
    shipped = "shipped"
    delivered = "delivered"
    lost = "lost"
    cancelled = "cancelled"
    return_requested = "return_requested"
    return_received = "return_received"
    return_closed = "return_closed"


class Money(StrEnum):
    """Where the money is. Refunds only grow and never exceed the order total."""

    none = "none"
    partially_refunded = "partially_refunded"
    refunded = "refunded"


class Refusal(Exception):
    """Why something a person asked was not done, as a code and its parameters.

    The code is a member of one of the refusal enums in ``bot.refusal_codes`` (a string of
    one is taken too, and turned into its member). The domain and the parsers never write
    sentences; the edge renders the code in the reader's language with the advice that
    goes with it (``bot.texts.refusals``). The one refusal exception: a row of a report
    that is not applied is a ``bot.amazon.BadRow`` instead, whose codes have no reply.
    """

    def __init__(self, code: RefusalCode, **params: Any) -> None:
        code = refusal_code(code)
        super().__init__(code)
        self.code: RefusalCode = code
        self.params: dict[str, Any] = params

    def __repr__(self) -> str:
        return f"Refusal({self.code.value!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Refusal) and (self.code, self.params) == (other.code, other.params)

    def __hash__(self) -> int:
        return hash(self.code)


@dataclass(frozen=True)
class Actor:
    """Who did something and from where: a person in a chat, an import, or the bot itself."""

    kind: str  # "user" | "import" | "bot"
    id: int | None = None
    name: str = ""
    chat_id: int | None = None

    @classmethod
    def importer(cls, source: str, chat_id: int | None = None, user_id: int | None = None) -> Actor:
        return cls(kind="import", id=user_id, name=source, chat_id=chat_id)


@dataclass(slots=True)
class OrderItem:
    item_id: str
    sku: str = ""
    title: str = ""
    quantity: int = 1
    quantity_shipped: int = 0
    price: Decimal | None = None  # item price (all units), when the report has it

    @property
    def quantity_to_ship(self) -> int:
        return max(self.quantity - self.quantity_shipped, 0)


@dataclass(slots=True)
class Order:
    team_id: int
    order_id: str
    goods: Goods = Goods.unshipped
    money: Money = Money.none
    channel: str = "MFN"
    currency: str = "USD"
    total: Decimal | None = None
    refunded: Decimal = Decimal("0")
    purchased_at: datetime | None = None
    ship_by: datetime | None = None
    deliver_by: datetime | None = None
    service_level: str = ""
    buyer_name: str = ""
    ship_city: str = ""
    ship_state: str = ""
    ship_postal_code: str = ""
    ship_country: str = ""
    ship_address: str = ""
    carrier: str = ""
    carrier_name: str = ""
    tracking: str = ""
    shipped_at: datetime | None = None
    return_reason: str = ""
    disposition: str = ""
    version: int = 0
    items: list[OrderItem] = field(default_factory=list)

    @property
    def refundable(self) -> Decimal | None:
        """What can still be refunded, or None when the total is not known yet."""
        if self.total is None:
            return None
        return max(self.total - self.refunded, Decimal("0"))

    def copy(self) -> Order:
        """The order and its items, to try actions on: every other field is an immutable value,
        so only the items are new objects (``copy.deepcopy`` costs ~20 times as much)."""
        twin = Order(*_ORDER_FIELDS(self))
        twin.items = [OrderItem(i.item_id, i.sku, i.title, i.quantity, i.quantity_shipped, i.price) for i in self.items]
        return twin


_ORDER_FIELDS = attrgetter(*(f.name for f in fields(Order)))


@dataclass(frozen=True, slots=True)
class Event:
    """One change to one order: who, when, from where, from state, to state, details."""

    team_id: int
    order_id: str
    at: datetime
    actor: Actor
    trigger: str
    from_goods: str | None
    to_goods: str | None
    from_money: str | None
    to_money: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

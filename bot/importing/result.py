"""What an import did, and the events it writes: shared by the order and returns imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.amazon import RowError
from bot.domain import Actor, Event, Goods, Money, Order

__all__ = ["ImportResult", "import_event"]


@dataclass
class ImportResult:
    kind: str
    encoding: str
    rows: int
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[RowError] = field(default_factory=list)
    first_imported_at: datetime | None = None  # the same file was imported before, at
    new_ids: list[str] = field(default_factory=list)


def import_event(order: Order, actor: Actor, at: datetime, action: str, before: Goods | None,
                 details: dict[str, Any], *, money_before: Money | None = None) -> Event:  # fmt: skip
    """The event of one change an import made to ``order`` (as it is now).

    ``before`` is None for a new order. ``money_before`` is the money state before the
    change when it moved (a refund); else the money is where it was.
    """
    if before is None:
        from_money = None
    else:
        from_money = (order.money if money_before is None else money_before).value
    return Event(
        team_id=order.team_id, order_id=order.order_id, at=at, actor=actor, trigger=action,
        from_goods=before.value if before else None, to_goods=order.goods.value,
        from_money=from_money, to_money=order.money.value, details=details,
    )  # fmt: skip

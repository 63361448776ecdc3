"""Orders, their items and their events as rows: the columns and the mapping both ways."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain import Actor, Event, Goods, Money, Order
from bot.storage.values import dec, dumps, from_iso, iso

ORDER_COLUMNS = (
    "team_id order_id digits_rev goods money channel currency total refunded purchased_at ship_by "
    "deliver_by service_level buyer_name ship_city ship_state ship_postal_code ship_country "
    "ship_address carrier carrier_name tracking shipped_at return_reason disposition version "
    "created_at updated_at"
).split()
ORDER_SELECT = ", ".join(ORDER_COLUMNS)
ORDER_INSERT = f"INSERT INTO orders ({ORDER_SELECT}) VALUES ({', '.join('?' * len(ORDER_COLUMNS))})"
ORDER_UPDATE_COLUMNS = [c for c in ORDER_COLUMNS if c not in ("team_id", "order_id", "digits_rev", "created_at")]
ORDER_UPDATE = (
    f"UPDATE orders SET {', '.join(f'{c} = ?' for c in ORDER_UPDATE_COLUMNS)} "
    "WHERE team_id = ? AND order_id = ? AND version = ?"
)


@functools.cache
def order_update(columns: tuple[str, ...]) -> str:
    """``ORDER_UPDATE`` for some of the columns (those an action changed; ``version`` and
    ``updated_at`` always). A column left out is not written: the indexes on it are not rewritten,
    and the triggers on it do not run (the full UPDATE rewrote every index on a date that had not
    moved, and tested every trigger's condition)."""
    return (
        f"UPDATE orders SET {', '.join(f'{c} = ?' for c in columns)} WHERE team_id = ? AND order_id = ? AND version = ?"
    )


ITEM_COLUMNS = "team_id, order_id, item_id, sku, title, quantity, quantity_shipped, price"
EVENT_COLUMNS = (
    "team_id, order_id, at, actor_kind, actor_id, actor_name, chat_id, action, "
    "from_goods, to_goods, from_money, to_money, details"
)


def digits_reversed(order_id: str) -> str:
    tail = order_id[::-1].replace("-", "")
    if tail.isdigit():  # an Amazon order id, ddd-ddddddd-ddddddd: every other character is a digit
        return tail
    return "".join(ch for ch in reversed(order_id) if ch.isdigit())


def order_row(order: Order, now: datetime) -> tuple[Any, ...]:
    """The order as an ``orders`` row, in ``ORDER_COLUMNS`` order."""
    stamp = iso(now)
    total = order.total
    return (
        order.team_id, order.order_id, digits_reversed(order.order_id), order.goods.value,
        order.money.value, order.channel, order.currency, None if total is None else str(total),
        str(order.refunded), iso(order.purchased_at), iso(order.ship_by), iso(order.deliver_by),
        order.service_level, order.buyer_name, order.ship_city, order.ship_state, order.ship_postal_code,
        order.ship_country, order.ship_address, order.carrier, order.carrier_name,
        order.tracking, iso(order.shipped_at), order.return_reason, order.disposition,
        order.version, stamp, stamp,
    )  # fmt: skip


def item_rows(order: Order) -> list[tuple[Any, ...]]:
    return [
        (order.team_id, order.order_id, i.item_id, i.sku, i.title, i.quantity, i.quantity_shipped, dec(i.price))
        for i in order.items
    ]


def event_row(event: Event, details: str | None = None) -> tuple[Any, ...]:
    """The event as an ``events`` row; ``details``: its details already serialised with ``dumps``."""
    a = event.actor
    return (
        event.team_id, event.order_id, iso(event.at), a.kind, a.id, a.name, a.chat_id, event.trigger,
        event.from_goods, event.to_goods, event.from_money, event.to_money,
        dumps(dict(event.details)) if details is None else details,
    )  # fmt: skip


def order_from_row(row: Sequence[Any]) -> Order:
    r = dict(zip(ORDER_COLUMNS, row, strict=True))
    return Order(
        team_id=r["team_id"], order_id=r["order_id"], goods=Goods(r["goods"]), money=Money(r["money"]),
        channel=r["channel"], currency=r["currency"],
        total=None if r["total"] is None else Decimal(r["total"]), refunded=Decimal(r["refunded"]),
        purchased_at=from_iso(r["purchased_at"]), ship_by=from_iso(r["ship_by"]),
        deliver_by=from_iso(r["deliver_by"]), service_level=r["service_level"],
        buyer_name=r["buyer_name"], ship_city=r["ship_city"], ship_state=r["ship_state"],
        ship_postal_code=r["ship_postal_code"], ship_country=r["ship_country"],
        ship_address=r["ship_address"], carrier=r["carrier"], carrier_name=r["carrier_name"],
        tracking=r["tracking"], shipped_at=from_iso(r["shipped_at"]), return_reason=r["return_reason"],
        disposition=r["disposition"], version=r["version"],
    )  # fmt: skip


def event_from_row(row: Sequence[Any]) -> Event:
    (event_id, team_id, order_id, at, kind, actor_id, actor_name, chat_id, action,
     from_goods, to_goods, from_money, to_money, details) = row  # fmt: skip
    return Event(
        id=event_id,
        team_id=team_id,
        order_id=order_id,
        at=datetime.fromisoformat(at),
        actor=Actor(kind=kind, id=actor_id, name=actor_name, chat_id=chat_id),
        trigger=action,
        from_goods=from_goods,
        to_goods=to_goods,
        from_money=from_money,
        to_money=to_money,
        details=json.loads(details),
    )

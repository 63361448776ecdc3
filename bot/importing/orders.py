"""Orders Amazon told us about (a report, or the Selling Partner API), applied to the desk.

A new order is stored with an ``imported`` event. A known order is compared with what
Amazon says: what changed is written with one event (actor: the import), and a status
Amazon gives moves the goods through the lifecycle when the lifecycle allows it. A report
older than what the team did in the chat (it still lists an order the team has shipped)
never moves an order back. Applying the same orders again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from bot.amazon import COUNTRY_CURRENCY, ImportedOrder
from bot.domain import Actor, Event, Goods, Order, OrderItem
from bot.importing.collector import collector_paused
from bot.importing.result import ImportResult, import_event
from bot.lifecycle import Lifecycle
from bot.storage import Store

__all__ = ["OrdersImport"]

#: What Amazon's status asks of an order we already know, as a lifecycle action.
STATUS_ACTION = {
    Goods.unshipped: "verify_payment",
    Goods.partially_shipped: "amazon_partially_shipped",
    Goods.shipped: "amazon_shipped",
    Goods.cancelled: "amazon_cancelled",
}
#: Order details Amazon may bring; empty values never erase what we know.
_DETAILS = (
    "channel", "purchased_at", "ship_by", "deliver_by", "currency", "total", "service_level", "buyer_name",
    "ship_city", "ship_state", "ship_postal_code", "ship_country", "ship_address",
)  # fmt: skip
_DETAILS_OF = attrgetter(*_DETAILS)
#: Where the quantities shipped may still grow.
_SHIPPED_GROWS = (Goods.pending, Goods.unshipped, Goods.partially_shipped)


class OrdersImport:
    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock

    async def apply(self, team_id: int, orders: Sequence[ImportedOrder], *, actor: Actor, source: dict[str, Any],
                    record: dict[str, Any], result: ImportResult | None = None) -> ImportResult:  # fmt: skip
        """New orders stored, known ones updated through the lifecycle, in one transaction.

        Raises ``OrderChangedMeanwhile`` when a person changed one of them meanwhile: call again.
        """
        now = self.clock()
        if result is None:
            result = ImportResult(kind=str(record.get("kind", "")), encoding="", rows=len(orders))
        known = await self.store.orders_by_ids(team_id, [o.order_id for o in orders])
        new: list[tuple[Order, Event]] = []
        changed: list[tuple[Order, list[Event]]] = []
        with collector_paused():
            for imported in orders:
                order = known.get(imported.order_id)
                if order is None:
                    order = new_order(team_id, imported)
                    new.append((order, import_event(order, actor, now, "imported", None, source)))
                    result.new_ids.append(order.order_id)
                    continue
                event = self.update(order, imported, actor, now, source)
                if event is not None:
                    changed.append((order, [event]))
                else:
                    result.unchanged += 1
        result.new, result.updated = len(new), len(changed)
        if new or changed:
            record = {
                "sha256": "", "kind": "", "filename": "", "rows": len(orders), **record, "actor_id": actor.id,
                "chat_id": actor.chat_id, "new": result.new, "updated": result.updated, "unchanged": result.unchanged,
                "refused": len(result.refused),
            }  # fmt: skip
            await self.store.write_import(team_id=team_id, new=new, changed=changed, record=record, now=now)
        return result

    def update(self, order: Order, imported: ImportedOrder, actor: Actor, now: datetime,
               source: dict[str, Any]) -> Event | None:  # fmt: skip
        """What Amazon says, written on a known order; its event, or None when nothing changed."""
        if unchanged(order, imported):
            return None
        before_goods = order.goods
        changes: dict[str, Any] = {}
        for name in _DETAILS:
            value = getattr(imported, name)
            if value in (None, ""):
                continue
            old = getattr(order, name)
            if value != old:
                changes[name] = [old, value]
                setattr(order, name, value)
        items = {i.item_id: i for i in order.items}
        for it in imported.items:
            mine = items.get(it.item_id)
            if mine is None:
                order.items.append(OrderItem(it.item_id, it.sku, it.title, it.quantity, it.quantity_shipped, it.price))
                changes.setdefault("items_added", []).append(it.item_id)
                continue
            for name in ("sku", "title", "quantity", "price"):
                value = getattr(it, name)
                if value not in (None, "") and value != getattr(mine, name):
                    changes.setdefault("items", {}).setdefault(it.item_id, {})[name] = [getattr(mine, name), value]
                    setattr(mine, name, value)
            # Quantities shipped only grow: an older report must not undo a shipment.
            if it.quantity_shipped > mine.quantity_shipped and order.goods in _SHIPPED_GROWS:
                changes.setdefault("items", {}).setdefault(it.item_id, {})["quantity_shipped"] = [
                    mine.quantity_shipped, it.quantity_shipped]  # fmt: skip
                mine.quantity_shipped = it.quantity_shipped
        action = "import_update"
        status = imported.status
        if status is not None and status != order.goods:
            wanted = STATUS_ACTION.get(status)
            if wanted and self.lifecycle.allowed(wanted, order.goods):
                self.lifecycle.fire(order, wanted)
                action = wanted
        if action == "import_update" and not changes:
            return None
        details = {**source, **({"changes": changes} if changes else {})}
        return import_event(order, actor, now, action, before_goods, details)


def unchanged(order: Order, imported: ImportedOrder) -> bool:
    """True when ``OrdersImport.update`` would find nothing to do (a report read again, mostly).

    The same rules as ``update``, without building its change list: no status to act on,
    no detail that is not blank in the report and differs, every item known and none of its
    details differing (blanks aside) nor more of it shipped while that may still grow.
    Whatever fails it goes through ``update``, which alone says what changed.
    """
    if imported.status and imported.status != order.goods:
        return False
    reported, stored = _DETAILS_OF(imported), _DETAILS_OF(order)
    if reported != stored:
        for value, old in zip(reported, stored, strict=True):
            if value != old and value is not None and value != "":
                return False
    items = {i.item_id: i for i in order.items}
    grows = order.goods in _SHIPPED_GROWS
    for it in imported.items:
        mine = items.get(it.item_id)
        if mine is None or (grows and it.quantity_shipped > mine.quantity_shipped):
            return False
        for value, old in ((it.sku, mine.sku), (it.title, mine.title), (it.quantity, mine.quantity),
                           (it.price, mine.price)):  # fmt: skip
            if value != old and value is not None and value != "":
                return False
    return True


def new_order(team_id: int, imported: ImportedOrder) -> Order:
    # The order reports list orders whose payment Amazon has verified: unshipped unless told.
    return Order(
        team_id=team_id, order_id=imported.order_id, goods=imported.status or Goods.unshipped,
        channel=imported.channel or "MFN",
        currency=imported.currency or COUNTRY_CURRENCY.get(imported.ship_country.upper(), ""), total=imported.total,
        purchased_at=imported.purchased_at, ship_by=imported.ship_by, deliver_by=imported.deliver_by,
        service_level=imported.service_level, buyer_name=imported.buyer_name, ship_city=imported.ship_city,
        ship_state=imported.ship_state, ship_postal_code=imported.ship_postal_code,
        ship_country=imported.ship_country, ship_address=imported.ship_address, version=1,
        items=[OrderItem(i.item_id, i.sku, i.title, i.quantity, i.quantity_shipped, i.price) for i in imported.items],
    )  # fmt: skip

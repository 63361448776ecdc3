"""Seller Central order reports into the desk: idempotent, atomic per file, through the lifecycle.

A new order is stored with an ``imported`` event. A known order is compared with the
report: what changed is written with one event (actor: the import), and a status the
report brings moves the goods through the lifecycle when the lifecycle allows it. A
report older than what the team did in the chat (it still lists an order the team has
shipped) never moves an order back. Re-importing a file changes nothing.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from bot.amazon_files import ImportedOrder, ParsedReport, RowError, read_report
from bot.domain import Actor, Event, Goods, Order, OrderItem, Refusal
from bot.lifecycle import Lifecycle
from bot.storage import Conflict, Store

ORDER_REPORTS = frozenset({"unshipped_orders", "order_report"})
RETURNS_REPORTS = frozenset({"fba_returns", "mfn_returns"})

#: What a report's status asks of an order we already know, as a lifecycle action.
_STATUS_ACTION = {
    Goods.unshipped: "verify_payment",
    Goods.partially_shipped: "amazon_partially_shipped",
    Goods.shipped: "amazon_shipped",
    Goods.cancelled: "amazon_cancelled",
}
#: Order details a report may bring; empty values in a report never erase what we know.
_DETAILS = (
    "channel", "purchased_at", "ship_by", "deliver_by", "currency", "total", "service_level", "buyer_name",
    "ship_city", "ship_state", "ship_postal_code", "ship_country", "ship_address",
)  # fmt: skip
_ATTEMPTS = 3
#: The Unshipped Orders report has no currency column: until an Order report says
#: otherwise, the order is in the currency of the country it ships to (its marketplace).
COUNTRY_CURRENCY = {
    "US": "USD", "CA": "CAD", "MX": "MXN", "BR": "BRL", "GB": "GBP", "UK": "GBP", "DE": "EUR", "FR": "EUR",
    "IT": "EUR", "ES": "EUR", "NL": "EUR", "BE": "EUR", "AT": "EUR", "IE": "EUR", "SE": "SEK", "PL": "PLN",
    "TR": "TRY", "JP": "JPY", "AU": "AUD", "SG": "SGD", "IN": "INR", "AE": "AED", "SA": "SAR", "EG": "EGP",
}  # fmt: skip
#: Goods by their value: ``Goods(value)`` goes through the enum machinery, ~10x slower.
_GOODS: dict[str, Goods] = {g.value: g for g in Goods}


def _goods(value: str) -> Goods:
    found = _GOODS.get(value)
    return found if found is not None else Goods(value)  # Goods(): ValueError for what is none


class _CollectorPaused:
    """The cyclic garbage collector paused while any import runs (imports may overlap).

    An import keeps millions of small objects alive (the parsed report, the orders, their
    rows): the collector would rescan them again and again (measured: a third of the time)
    and find nothing to collect. It runs again when the last import ends.
    """

    running = 0
    was_enabled = False

    def __enter__(self) -> None:
        cls = type(self)
        if cls.running == 0:
            cls.was_enabled = gc.isenabled()
            gc.disable()
        cls.running += 1

    def __exit__(self, *exc: object) -> None:
        cls = type(self)
        cls.running -= 1
        if cls.running == 0 and cls.was_enabled:
            gc.enable()


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


class Importer:
    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock

    async def import_file(self, team_id: int, data: bytes, *, filename: str, actor: Actor,
                          timezone: str = "UTC") -> ImportResult:  # fmt: skip
        """Read and apply one file; raises ``Refusal`` for a file that is not an order report."""
        with _CollectorPaused():
            return await self._import_file(team_id, data, filename=filename, actor=actor)

    async def _import_file(self, team_id: int, data: bytes, *, filename: str, actor: Actor) -> ImportResult:
        report = read_report(data)
        if report.kind not in ORDER_REPORTS | RETURNS_REPORTS:
            raise Refusal("file_not_report", missing=[], kind=None)
        sha = hashlib.sha256(data).hexdigest()
        for _attempt in range(_ATTEMPTS):
            try:
                if report.kind in RETURNS_REPORTS:
                    from bot.returns import ReturnsImporter  # it builds on this module

                    returns = ReturnsImporter(self.store, self.lifecycle, self.clock)
                    return await returns.apply(team_id, report, sha=sha, filename=filename, actor=actor)
                return await self._apply(team_id, report, sha, filename, actor)
            except Conflict:
                continue  # someone acted on one of these orders meanwhile: read again
        raise Refusal("import_busy")

    async def _apply(self, team_id: int, report: ParsedReport, sha: str, filename: str, actor: Actor) -> ImportResult:
        result = ImportResult(kind=report.kind, encoding=report.encoding, rows=report.rows,
                              refused=list(report.errors))  # fmt: skip
        result.first_imported_at = await self.store.imported_before(team_id, sha)
        record = {"sha256": sha, "kind": report.kind, "filename": filename, "rows": report.rows}
        return await self.apply_orders(team_id, report.orders, actor=actor, source={"file": filename, "report": report.kind},
                                       record=record, result=result)  # fmt: skip

    async def apply_orders(self, team_id: int, orders: Sequence[ImportedOrder], *, actor: Actor, source: dict[str, Any],
                           record: dict[str, Any], result: ImportResult | None = None) -> ImportResult:  # fmt: skip
        """Orders Amazon told us about (a report, or the Selling Partner API), applied in one
        transaction: new ones stored, known ones updated through the lifecycle.

        Raises ``Conflict`` when a person changed one of them meanwhile: call again.
        """
        now = self.clock()
        if result is None:
            result = ImportResult(kind=str(record.get("kind", "")), encoding="", rows=len(orders))
        known = await self.store.orders_by_ids(team_id, [o.order_id for o in orders])
        new: list[tuple[Order, Event]] = []
        changed: list[tuple[Order, list[Event]]] = []
        for imported in orders:
            order = known.get(imported.order_id)
            if order is None:
                order = _new_order(team_id, imported)
                new.append((order, _event(order, actor, now, "imported", None, order.goods, source)))
                result.new_ids.append(order.order_id)
                continue
            events = await self._update(order, imported, actor, now, source)
            if events:
                changed.append((order, events))
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

    async def _update(self, order: Order, imported: ImportedOrder, actor: Actor, now: datetime,
                      source: dict[str, Any]) -> list[Event]:  # fmt: skip
        if _unchanged(order, imported):
            return []
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
            if it.quantity_shipped > mine.quantity_shipped and order.goods in (Goods.pending, Goods.unshipped,
                                                                               Goods.partially_shipped):
                changes.setdefault("items", {}).setdefault(it.item_id, {})["quantity_shipped"] = [
                    mine.quantity_shipped, it.quantity_shipped]  # fmt: skip
                mine.quantity_shipped = it.quantity_shipped
        action = "import_update"
        status = _goods(imported.status) if imported.status else None
        if status is not None and status != order.goods:
            wanted = _STATUS_ACTION.get(status)
            if wanted and self.lifecycle.allowed(wanted, order.goods):
                await self.lifecycle.fire(order, wanted)
                action = wanted
        if action == "import_update" and not changes:
            return []
        details = {**source, **({"changes": changes} if changes else {})}
        return [_event(order, actor, now, action, before_goods, order.goods, details)]


_DETAILS_OF = attrgetter(*_DETAILS)
_SHIPPED_GROWS = (Goods.pending, Goods.unshipped, Goods.partially_shipped)


def _unchanged(order: Order, imported: ImportedOrder) -> bool:
    """True when ``Importer._update`` would find nothing to do (a report read again, mostly).

    The same rules as ``_update``, without building its change list: no status to act on,
    no detail that is not blank in the report and differs, every item known and none of its
    details differing (blanks aside) nor more of it shipped while that may still grow.
    Whatever fails it goes through ``_update``, which alone says what changed.
    """
    if imported.status and _goods(imported.status) is not order.goods:
        return False
    reported, stored = _DETAILS_OF(imported), _DETAILS_OF(order)
    if reported != stored:
        for value, old in zip(reported, stored):
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


def _new_order(team_id: int, imported: ImportedOrder) -> Order:
    # The order reports list orders whose payment Amazon has verified: unshipped unless told.
    goods = _goods(imported.status) if imported.status else Goods.unshipped
    return Order(
        team_id=team_id, order_id=imported.order_id, goods=goods, channel=imported.channel or "MFN",
        currency=imported.currency or COUNTRY_CURRENCY.get(imported.ship_country.upper(), ""), total=imported.total, purchased_at=imported.purchased_at,
        ship_by=imported.ship_by, deliver_by=imported.deliver_by, service_level=imported.service_level,
        buyer_name=imported.buyer_name, ship_city=imported.ship_city, ship_state=imported.ship_state,
        ship_postal_code=imported.ship_postal_code, ship_country=imported.ship_country,
        ship_address=imported.ship_address, version=1,
        items=[OrderItem(i.item_id, i.sku, i.title, i.quantity, i.quantity_shipped, i.price) for i in imported.items],
    )  # fmt: skip


def _event(order: Order, actor: Actor, at: datetime, action: str, before: Goods | None, after: Goods,
           details: dict[str, Any]) -> Event:  # fmt: skip
    return Event(
        team_id=order.team_id, order_id=order.order_id, at=at, actor=actor, trigger=action,
        from_goods=before.value if before else None, to_goods=after.value,
        from_money=order.money.value if before else None, to_money=order.money.value, details=details,
    )  # fmt: skip

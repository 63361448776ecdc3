"""The order desk's services: find an order, fire an action, save it with its event.

Each action runs under a per-order lock (two people on one order go one after the
other) and is saved with a version check (a second process cannot overwrite it
silently). The loser is told what happened and who did it.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.domain import Actor, Event, Goods, Order, Refusal
from bot.lifecycle import Change, Lifecycle, confirmation_needed
from bot.parsing import OrderRef
from bot.storage import Confirmation, Shipment, Store

#: A question asked with buttons stays answerable this long.
CONFIRMATION_TTL = timedelta(hours=24)

#: Refusals that mean "someone already did something to this order": the reply names who.
_NAMES_WHO = frozenset({
    "already_shipped", "already_cancelled", "already_refunded", "already_delivered", "already_lost",
    "already_received", "already_returning", "return_closed_already", "cancel_after_shipment",
    "ship_cancelled", "refund_cancelled", "order_cancelled", "return_not_received", "tracking_unchanged",
})  # fmt: skip


@dataclass(frozen=True)
class Done:
    """An action that happened: the order as saved and its event."""

    order: Order
    change: Change
    event: Event


@dataclass(frozen=True)
class Ask:
    """An action that needs a yes first (``code`` says why); answer with the token."""

    order: Order
    code: str
    token: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)


class Desk:
    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._waiting: dict[tuple[int, str], int] = {}

    # --- finding orders -------------------------------------------------------------

    async def find(self, team_id: int, ref: OrderRef) -> str:
        """The order id a person meant, or a refusal naming the candidates."""
        if ref.full is not None:
            ids = await self.store.find_order_ids(team_id, full=ref.full)
            if not ids:
                raise Refusal("unknown_order", ref=ref.full)
            return ids[0]
        assert ref.tail is not None
        ids = await self.store.find_order_ids(team_id, tail=ref.tail, limit=6)
        if not ids:
            raise Refusal("unknown_order", ref=ref.tail)
        if len(ids) > 1:
            raise Refusal("ambiguous_order", ref=ref.tail, candidates=ids[:5], more=len(ids) > 5)
        return ids[0]

    async def load(self, team_id: int, ref: OrderRef) -> Order:
        order_id = await self.find(team_id, ref)
        order = await self.store.order(team_id, order_id)
        if order is None:  # deleted between the two reads
            raise Refusal("unknown_order", ref=order_id)
        return order

    async def card(self, team_id: int, ref: OrderRef, *, events: int = 5) -> tuple[Order, list[Event]]:
        order = await self.load(team_id, ref)
        recent = await self.store.events(team_id, order.order_id, limit=events, newest_first=True)
        return order, recent

    async def history(self, team_id: int, ref: OrderRef, *, limit: int = 200) -> tuple[Order, list[Event]]:
        order = await self.load(team_id, ref)
        return order, await self.store.events(team_id, order.order_id, limit=limit)

    async def orders(self, team_id: int, states: Iterable[Goods], *, page: int, per_page: int) -> tuple[list[Order], int]:
        return await self.store.list_orders(team_id, states, offset=page * per_page, limit=per_page)

    # --- acting on one order --------------------------------------------------------

    @asynccontextmanager
    async def _serialised(self, team_id: int, order_id: str) -> AsyncIterator[None]:
        key = (team_id, order_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]

    async def act(
        self,
        team_id: int,
        ref: OrderRef | str,
        action: str,
        actor: Actor,
        *,
        confirmed: bool = False,
        **asked: Any,
    ) -> Done | Ask:
        order_id = ref if isinstance(ref, str) else await self.find(team_id, ref)
        async with self._serialised(team_id, order_id):
            order = await self.store.order(team_id, order_id)
            if order is None:
                raise Refusal("unknown_order", ref=order_id)
            question = None if confirmed else confirmation_needed(action, order)
            if question and self.lifecycle.allowed(action, order.goods):
                # Refuse now what would be refused after the yes (e.g. too large a refund).
                await self._fire(copy.deepcopy(order), action, asked)
                return await self._ask(order, question, action, actor, asked)
            before = copy.deepcopy(order)
            change = await self._fire(order, action, asked)
            event = self._event(order, before, change, actor)
            shipments, supersede = await self._shipments(before, order, change, event.at)
            if not await self.store.save(order, event, now=event.at, shipments=shipments, supersede=supersede):
                # Another process saved this order since we read it.
                latest = await self.store.last_event(team_id, order_id)
                raise Refusal("changed_meanwhile", order=order_id, **_who(latest))
            return Done(order, change, event)

    async def _shipments(self, before: Order, after: Order, change: Change,
                         at: datetime) -> tuple[list[Shipment], str | None]:  # fmt: skip
        """What a shipment or a tracking correction tells Amazon, item by item."""
        if change.action in ("ship", "ship_part"):
            shipped = []
            previous = {i.item_id: i.quantity_shipped for i in before.items}
            for item in after.items:
                quantity = item.quantity_shipped - previous.get(item.item_id, 0)
                if quantity > 0:
                    shipped.append(Shipment(item.item_id, quantity, at, after.carrier, after.carrier_name,
                                            after.tracking))  # fmt: skip
            return shipped, None
        if change.action == "correct_tracking":
            old = [s for s in await self.store.shipments_of(after.team_id, after.order_id) if s.tracking == before.tracking]
            return [Shipment(s.item_id, s.quantity, s.shipped_at, after.carrier, after.carrier_name, after.tracking,
                             s.ship_method) for s in old], before.tracking  # fmt: skip
        return [], None

    async def ship(self, team_id: int, ref: OrderRef, actor: Actor, *, carrier: str, carrier_name: str,
                   tracking: str, items: Sequence[str] = ()) -> Done | Ask:  # fmt: skip
        """Ship all of the order, or the listed items (SKU or item id, ``SKU:2`` for two of them).

        On an order already shipped with other tracking, offer the correction instead.
        """
        details: dict[str, Any] = {"carrier": carrier, "carrier_name": carrier_name, "tracking": tracking}
        order_id = await self.find(team_id, ref)
        action = "ship"
        if items:
            order = await self.store.order(team_id, order_id)
            if order is None:
                raise Refusal("unknown_order", ref=order_id)
            chosen = pick_items(order, items)
            details["items"] = chosen
            remaining = {i.item_id: i.quantity_to_ship for i in order.items if i.quantity_to_ship}
            if chosen != remaining:  # some items only (or more than is left: the lifecycle refuses)
                action = "ship_part"
        try:
            return await self.act(team_id, order_id, action, actor, at=self.clock(), **details)
        except Refusal as refusal:
            if refusal.code != "already_shipped":
                raise
            order = await self.store.order(team_id, order_id)
            if order is None or (order.carrier, order.tracking) == (carrier, tracking):
                raise
            if not self.lifecycle.allowed("correct_tracking", order.goods):
                raise
            return await self.act(team_id, order_id, "correct_tracking", actor, **details)

    async def _fire(self, order: Order, action: str, asked: dict[str, Any]) -> Change:
        try:
            return await self.lifecycle.fire(order, action, **asked)
        except Refusal as refusal:
            if refusal.code in _NAMES_WHO:
                latest = await self.store.last_event(order.team_id, order.order_id)
                refusal.params.update(_who(latest))
            raise

    def _event(self, order: Order, before: Order, change: Change, actor: Actor) -> Event:
        details = {k: v for k, v in change.details.items() if k != "at" and v not in (None, "")}
        if change.action == "refund":
            details["amount"] = order.refunded - before.refunded
            details["currency"] = order.currency
        if change.action == "correct_tracking":
            details["previous"] = {"carrier": before.carrier, "tracking": before.tracking}
        return Event(
            team_id=order.team_id, order_id=order.order_id, at=self.clock(), actor=actor,
            trigger=change.action, from_goods=change.from_goods.value, to_goods=change.to_goods.value,
            from_money=change.from_money.value, to_money=change.to_money.value, details=details,
        )  # fmt: skip

    async def _ask(self, order: Order, question: str, action: str, actor: Actor, asked: dict[str, Any]) -> Ask:
        token = secrets.token_hex(6)
        details = {k: v for k, v in asked.items() if k != "at"}
        assert actor.id is not None and actor.chat_id is not None
        await self.store.add_confirmation(
            Confirmation(
                token=token, team_id=order.team_id, user_id=actor.id, chat_id=actor.chat_id,
                order_id=order.order_id, action=action, details=details,
                expires_at=self.clock() + CONFIRMATION_TTL,
            ),
            now=self.clock(),
        )  # fmt: skip
        return Ask(order, question, token, action, details)

    async def confirm(self, token: str, actor: Actor) -> Done | Ask:
        """The person said yes: do what they asked, if it is still theirs to confirm and still allowed."""
        pending = await self.store.peek_confirmation(token)
        if pending is None:
            raise Refusal("confirmation_gone")
        if pending.user_id != actor.id:
            raise Refusal("confirmation_not_yours")
        taken = await self.store.take_confirmation(token)
        if taken is None:  # a double tap: the first one took it
            raise Refusal("confirmation_gone")
        if taken.expires_at < self.clock():
            raise Refusal("confirmation_expired")
        details = _revive(taken.details)
        at = {"at": self.clock()} if taken.action == "ship" else {}
        return await self.act(taken.team_id, taken.order_id, taken.action, actor, confirmed=True, **details, **at)

    async def decline(self, token: str, actor: Actor) -> Confirmation:
        pending = await self.store.peek_confirmation(token)
        if pending is None:
            raise Refusal("confirmation_gone")
        if pending.user_id != actor.id:
            raise Refusal("confirmation_not_yours")
        taken = await self.store.take_confirmation(token)
        if taken is None:
            raise Refusal("confirmation_gone")
        return taken


def pick_items(order: Order, typed: Sequence[str]) -> dict[str, int]:
    """Items a person listed, by SKU (any case) or order item id, ``SKU:2`` / ``SKUx2`` for a quantity."""
    chosen: dict[str, int] = {}
    for word in typed:
        name, quantity = word, None
        for sep in (":", "×", "*", "x", "X"):
            head, mark, tail = word.rpartition(sep)
            if mark and head and tail.isdigit():
                name, quantity = head, int(tail)
                break
        matches = [i for i in order.items if name in (i.item_id,) or name.casefold() == i.sku.casefold()]
        if len(matches) != 1:
            raise Refusal("unknown_item", item=word, order=order.order_id, items=[i.sku or i.item_id for i in order.items])
        item = matches[0]
        chosen[item.item_id] = chosen.get(item.item_id, 0) + (quantity if quantity is not None else item.quantity_to_ship)
    return chosen


def _who(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {}
    return {"by": event.actor.name, "by_kind": event.actor.kind, "when": event.at, "last_action": event.trigger}


def _revive(details: dict[str, Any]) -> dict[str, Any]:
    """Details come back from JSON: amounts were decimal strings."""
    out = dict(details)
    if out.get("amount") is not None:
        out["amount"] = Decimal(out["amount"])
    return out

"""The order desk's services: find an order, fire an action, save it with its event.

Each action runs under a per-order lock (two people on one order go one after the
other) and is saved with a version check (a second process cannot overwrite it
silently). The loser is told what happened and who did it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.domain import Actor, Event, Goods, Order, Refusal
from bot.lifecycle import Change, Lifecycle, confirmation_needed
from bot.parsing import OrderRef, RefundRequest
from bot.refusal_codes import ConfirmationCode, LifecycleCode, LookupCode, RefundCode, RefusalCode, ShippingCode
from bot.storage import Confirmation, Shipment, Store

#: A question asked with buttons stays answerable this long.
CONFIRMATION_TTL = timedelta(hours=24)
#: A refund question, shorter: the yes is given to the amounts the prompt shows, and money
#: should move on a fresh look at the order, not on a prompt found in the chat next morning.
REFUND_CONFIRMATION_TTL = timedelta(minutes=15)
#: Refusals after which the question still stands (someone else pressed); any other answer
#: to a press uses the question up, and its buttons go.
QUESTION_STILL_OPEN = frozenset({ConfirmationCode.confirmation_not_yours, ConfirmationCode.confirmation_admins_only})

#: ``is_admin(team_id, user_id)``: asked of Telegram when a button is pressed.
IsAdmin = Callable[[int, int], Awaitable[bool]]

# What a question keeps beside the action's own details (confirmations.details), never
# passed to the action.
_ASKED_BY = "asked_by"  # the asker's name, for the event when someone else confirms
_CONFIRMED_BY = "confirmed_by"  # "admin": any administrator of the group confirms

#: Refusals that mean "someone already did something to this order": the reply names who.
_NAMES_WHO: frozenset[RefusalCode] = frozenset({
    LifecycleCode.already_shipped, LifecycleCode.already_cancelled, RefundCode.already_refunded,
    LifecycleCode.already_delivered, LifecycleCode.already_lost, LifecycleCode.already_received,
    LifecycleCode.already_returning, LifecycleCode.return_closed_already, LifecycleCode.cancel_after_shipment,
    LifecycleCode.ship_cancelled, LifecycleCode.refund_cancelled, LifecycleCode.order_cancelled,
    LifecycleCode.return_not_received, ShippingCode.tracking_unchanged,
})  # fmt: skip


#: Details of an action that are for checking it, not for its event.
_NOT_IN_EVENT = frozenset({"at", "marker", "refunded_before"})


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
    #: The order's total is unknown: an administrator of the group must say yes.
    admins_confirm: bool = False


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
                raise Refusal(LookupCode.unknown_order, ref=ref.full)
            return ids[0]
        assert ref.tail is not None
        ids = await self.store.find_order_ids(team_id, tail=ref.tail, limit=6)  # the open ones first
        if not ids:
            raise Refusal(LookupCode.unknown_order, ref=ref.tail)
        if len(ids) > 1:
            # A tail is what people type for the order in front of them, an open one: when only
            # one open order ends so, it is that one, however many old ones share its digits.
            open_ids = await self.store.find_order_ids(team_id, tail=ref.tail, limit=2, open_only=True)
            if len(open_ids) == 1:
                return open_ids[0]
            raise Refusal(LookupCode.ambiguous_order, ref=ref.tail, candidates=ids[:5], more=len(ids) > 5)
        return ids[0]

    async def load(self, team_id: int, ref: OrderRef) -> Order:
        if ref.full is not None:  # no look-up first: the order itself, or nothing
            found = await self.store.order(team_id, ref.full)
            if found is None:
                raise Refusal(LookupCode.unknown_order, ref=ref.full)
            return found
        order_id = await self.find(team_id, ref)
        order = await self.store.order(team_id, order_id)
        if order is None:  # deleted between the two reads
            raise Refusal(LookupCode.unknown_order, ref=order_id)
        return order

    async def card(self, team_id: int, ref: OrderRef, *, events: int = 5) -> tuple[Order, list[Event]]:
        order = await self.load(team_id, ref)
        recent = await self.store.events(team_id, order.order_id, limit=events, newest_first=True)
        return order, recent

    async def history(self, team_id: int, ref: OrderRef, *, limit: int = 200) -> tuple[Order, list[Event]]:
        order = await self.load(team_id, ref)
        return order, await self.store.events(team_id, order.order_id, limit=limit)

    async def orders(
        self,
        team_id: int,
        states: Iterable[Goods],
        *,
        per_page: int,
        after: str | None = None,
        before: str | None = None,
        ship_by: tuple[datetime | None, datetime | None] = (None, None),
    ) -> tuple[list[Order], int]:
        """A page of a list (after or before the order a page button names) and how many in all."""
        states = tuple(states)
        page = await self.store.list_orders(team_id, states, limit=per_page, after=after, before=before,
                                            ship_by=ship_by)  # fmt: skip
        return page, await self.store.count_orders(team_id, states, ship_by=ship_by)

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
        # A full order number needs no look-up first: reading the order says whether it exists.
        order_id = ref if isinstance(ref, str) else ref.full or await self.find(team_id, ref)
        async with self._serialised(team_id, order_id):
            # Another process (or an import) may save the order between our read and our
            # write. Then read it again and fire once more: the person learns exactly what
            # happened ("already shipped by Alice at …") or it succeeds on the new version.
            for _attempt in range(2):
                order = await self.store.order(team_id, order_id)
                if order is None:
                    raise Refusal(LookupCode.unknown_order, ref=order_id)
                question = None if confirmed else confirmation_needed(action, order)
                if question and self.lifecycle.allowed(action, order.goods):
                    # Refuse now what would be refused after the yes (e.g. too large a refund).
                    await self._fire(order.copy(), action, asked)
                    return await self._ask(order, question, action, actor, asked)
                before = order.copy()
                change = await self._fire(order, action, asked)
                event = self._event(order, before, change, actor)
                shipments, supersede = await self._shipments(before, order, change, event.at)
                if await self.store.save(order, event, now=event.at, shipments=shipments, supersede=supersede,
                                         before=before):  # fmt: skip
                    return Done(order, change, event)
            latest = await self.store.last_event(team_id, order_id)
            raise Refusal(LifecycleCode.changed_meanwhile, order=order_id, **_who(latest))

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
            old = [
                s for s in await self.store.shipments_of(after.team_id, after.order_id) if s.tracking == before.tracking
            ]
            return [Shipment(s.item_id, s.quantity, s.shipped_at, after.carrier, after.carrier_name, after.tracking,
                             s.ship_method) for s in old], before.tracking  # fmt: skip
        return [], None

    async def ship(self, team_id: int, ref: OrderRef, actor: Actor, *, carrier: str, carrier_name: str,
                   tracking: str, items: Sequence[str] = ()) -> Done | Ask:  # fmt: skip
        """Ship all of the order, or the listed items (SKU or item id, ``SKU:2`` for two of them).

        On an order already shipped the refusal says who shipped it, when and with what; a
        tracking number is only ever replaced with /correct. (Offering the correction here
        once offered every loser of a /ship race to overwrite the winner's tracking.)
        """
        details: dict[str, Any] = {"carrier": carrier, "carrier_name": carrier_name, "tracking": tracking}
        order_id = ref.full or await self.find(team_id, ref)  # a full number: reading the order checks it
        action = "ship"
        if items:
            order = await self.store.order(team_id, order_id)
            if order is None:
                raise Refusal(LookupCode.unknown_order, ref=order_id)
            chosen = pick_items(order, items)
            details["items"] = chosen
            remaining = {i.item_id: i.quantity_to_ship for i in order.items if i.quantity_to_ship}
            if chosen != remaining:  # some items only (or more than is left: the lifecycle refuses)
                action = "ship_part"
        return await self.act(team_id, order_id, action, actor, at=self.clock(), **details)

    async def refund(self, team_id: int, ref: OrderRef, actor: Actor, wanted: RefundRequest, *,
                     is_admin: IsAdmin) -> Done | Ask:  # fmt: skip
        """Ask to refund what the person typed; the refund itself happens on their yes.

        Where the total is unknown an administrator must say yes. Asked in a private chat by
        someone who is not one, nobody could see the question: refuse it, and say where to ask.
        (Telegram is asked before anything is written, so no write waits on it.)
        """
        asked: dict[str, Any] = {"amount": wanted.amount, "currency": list(wanted.currencies) or None, "marker": wanted.marker,
                 "reason": wanted.reason, "note": wanted.note}  # fmt: skip
        order = await self.load(team_id, ref)
        if order.total is None and actor.chat_id != team_id:
            assert actor.id is not None
            await self._fire(order.copy(), "refund", asked)  # what is refused anyway is said first
            if not await is_admin(team_id, actor.id):
                raise Refusal(RefundCode.refund_admin_in_group, order=order.order_id)
        return await self.act(team_id, order.order_id, "refund", actor, **asked)

    async def _fire(self, order: Order, action: str, asked: dict[str, Any]) -> Change:
        try:
            return self.lifecycle.fire(order, action, **asked)
        except Refusal as refusal:
            if refusal.code == LifecycleCode.already_shipped:
                shipped = await self._shipped_by(order)
                if shipped is not None:
                    raise shipped from None
            if refusal.code in _NAMES_WHO:
                latest = await self.store.last_event(order.team_id, order.order_id)
                refusal.params.update(_who(latest))
            raise

    async def _shipped_by(self, order: Order) -> Refusal | None:
        """Who shipped the order, when and with what, when a person did it here."""
        shipped = await self.store.last_event(order.team_id, order.order_id, ("ship", "ship_part"))
        if shipped is None or shipped.actor.kind != "user" or not order.tracking:
            return None
        return Refusal(LifecycleCode.already_shipped_by, order=order.order_id, by=shipped.actor.name, when=shipped.at,
                       carrier=order.carrier_name or order.carrier, tracking=order.tracking)  # fmt: skip

    def _event(self, order: Order, before: Order, change: Change, actor: Actor) -> Event:
        details = {k: v for k, v in change.details.items() if k not in _NOT_IN_EVENT and v not in (None, "")}
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
        details = {k: v for k, v in asked.items() if k != "at" and v not in (None, "")}
        ttl, admins = CONFIRMATION_TTL, False
        if action == "refund":
            # The yes is given to what the prompt shows: this amount (the rest, for a refund
            # in full), on top of what was refunded by then.
            if details.get("amount") is None:
                details["amount"] = order.refundable
            details["refunded_before"] = order.refunded
            ttl, admins = REFUND_CONFIRMATION_TTL, order.total is None
        assert actor.id is not None and actor.chat_id is not None
        kept = {**details, _ASKED_BY: actor.name, **({_CONFIRMED_BY: "admin"} if admins else {})}
        await self.store.add_confirmation(
            Confirmation(
                token=token, team_id=order.team_id, user_id=actor.id, chat_id=actor.chat_id,
                order_id=order.order_id, action=action, details=kept, expires_at=self.clock() + ttl,
            ),
            now=self.clock(),
        )  # fmt: skip
        return Ask(order, question, token, action, details, admins_confirm=admins)

    async def confirm(self, token: str, actor: Actor, *, is_admin: IsAdmin | None = None) -> Done | Ask:
        """Someone said yes: do what was asked, if it is theirs to confirm, still fresh and still allowed.

        A question is answered once: of two taps on yes, the second is told it was answered.
        """
        pending = await self._answerable(token, actor, is_admin)
        taken = await self.store.take_confirmation(token)
        if taken is None:  # a double tap: the first one took it
            raise Refusal(ConfirmationCode.confirmation_gone)
        details = _revive(taken.details)
        asker = details.pop(_ASKED_BY, "")
        details.pop(_CONFIRMED_BY, None)
        if pending.user_id != actor.id and asker:
            details[_ASKED_BY] = asker  # an administrator confirmed someone else's question
        at = {"at": self.clock()} if taken.action == "ship" else {}
        return await self.act(taken.team_id, taken.order_id, taken.action, actor, confirmed=True, **details, **at)

    async def decline(self, token: str, actor: Actor, *, is_admin: IsAdmin | None = None) -> Confirmation:
        """Someone said no: the question is used up and nothing is done."""
        await self._answerable(token, actor, is_admin, declining=True)
        taken = await self.store.take_confirmation(token)
        if taken is None:
            raise Refusal(ConfirmationCode.confirmation_gone)
        return taken

    async def _answerable(self, token: str, actor: Actor, is_admin: IsAdmin | None, *,
                          declining: bool = False) -> Confirmation:  # fmt: skip
        """The question, if ``actor`` may answer it now; an expired one is used up.

        The asker may always take their question back; only an administrator says yes where
        one must.
        """
        pending = await self.store.peek_confirmation(token)
        if pending is None:
            raise Refusal(ConfirmationCode.confirmation_gone)
        if pending.expires_at < self.clock():
            await self.store.take_confirmation(token)
            raise Refusal(ConfirmationCode.confirmation_expired)
        if pending.details.get(_CONFIRMED_BY) == "admin" and not (declining and pending.user_id == actor.id):
            # Checked with Telegram at the press: an administrator then, not when asked.
            if actor.id is None or is_admin is None or not await is_admin(pending.team_id, actor.id):
                raise Refusal(ConfirmationCode.confirmation_admins_only)
        elif pending.user_id != actor.id:
            raise Refusal(ConfirmationCode.confirmation_not_yours)
        return pending


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
            raise Refusal(
                ShippingCode.unknown_item,
                item=word,
                order=order.order_id,
                items=[i.sku or i.item_id for i in order.items],
            )
        item = matches[0]
        chosen[item.item_id] = chosen.get(item.item_id, 0) + (
            quantity if quantity is not None else item.quantity_to_ship
        )
    return chosen


def _who(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {}
    return {"by": event.actor.name, "by_kind": event.actor.kind, "when": event.at, "last_action": event.trigger}


def _revive(details: dict[str, Any]) -> dict[str, Any]:
    """Details come back from JSON: amounts were decimal strings."""
    out = dict(details)
    for key in ("amount", "refunded_before"):
        if out.get(key) is not None:
            out[key] = Decimal(out[key])
    return out

"""The order lifecycle: one table a seller can read, one machine for the whole process.

The table says which action may follow which goods state, what must hold for it
(small named guards), and which state it leads to. Refusals say *why* in a code the
Telegram edge turns into a sentence with advice. Nothing here does I/O: the service
fires an action on a detached ``Order`` and then stores the order and its event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from babel.numbers import get_currency_precision
from transitions import EventData, Machine

from bot.domain import Goods, Money, Order, Refusal
from bot.refusal_codes import LifecycleCode, ReasonCode, RefundCode, ShippingCode

P, U, PS, S, D, L, C = (
    Goods.pending,
    Goods.unshipped,
    Goods.partially_shipped,
    Goods.shipped,
    Goods.delivered,
    Goods.lost,
    Goods.cancelled,
)
RQ, RR, RC = Goods.return_requested, Goods.return_received, Goods.return_closed
LC = LifecycleCode  # the refusals table below reads as one

#: States in which the goods have left the seller (some or all of them).
AFTER_SHIPMENT = frozenset({PS, S, D, L, RQ, RR, RC})
#: States in which a return is under way or done.
RETURNING = frozenset({RQ, RR, RC})


# --- guards: small named predicates over the order and what the person asked -------


@dataclass(frozen=True)
class Guard:
    """A named condition. When it fails, the action is refused with ``refusal``."""

    name: str
    holds: Callable[[Order, Mapping[str, Any]], bool]
    refusal: Callable[[Order, Mapping[str, Any]], Refusal]


def _refund_amount(order: Order, asked: Mapping[str, Any]) -> Decimal | None:
    amount = asked.get("amount")
    return order.refundable if amount is None else amount


has_tracking = Guard(
    "has_tracking",
    lambda o, a: bool(a.get("carrier")) and bool(a.get("tracking")),
    lambda o, a: Refusal(ShippingCode.missing_tracking, carrier=a.get("carrier") or ""),
)
has_cancel_reason = Guard(
    "has_cancel_reason",
    lambda o, a: bool(a.get("reason")),
    lambda o, a: Refusal(ReasonCode.missing_reason),
)
not_fully_refunded = Guard(
    "not_fully_refunded",
    lambda o, a: o.money is not Money.refunded,
    lambda o, a: Refusal(RefundCode.already_refunded, amount=o.refunded, currency=o.currency),
)
refund_amount_known = Guard(
    "refund_amount_known",
    # Unshipped Orders reports carry no prices: then the person must say how much.
    lambda o, a: _refund_amount(o, a) is not None,
    lambda o, a: Refusal(RefundCode.refund_amount_needed, order=o.order_id),
)
refund_positive = Guard(
    "refund_positive",
    # Refunds only grow: a zero or negative amount is never a refund.
    lambda o, a: _refund_amount(o, a) is None or (_refund_amount(o, a) or Decimal(0)) > 0,
    lambda o, a: Refusal(RefundCode.bad_amount, text=str(_refund_amount(o, a))),
)
refund_within_total = Guard(
    "refund_within_total",
    lambda o, a: o.refundable is None or (_refund_amount(o, a) or Decimal(0)) <= o.refundable,
    lambda o, a: Refusal(
        RefundCode.refund_too_much,
        amount=_refund_amount(o, a),
        refundable=o.refundable,
        currency=o.currency,
    ),
)


def _typed_currencies(asked: Mapping[str, Any]) -> tuple[str, ...]:
    """The currencies the person's sign or word may mean: "¥" is JPY or CNY, "元" only CNY."""
    typed = asked.get("currency")
    if not typed:
        return ()
    return (typed,) if isinstance(typed, str) else tuple(typed)


refund_in_order_currency = Guard(
    "refund_in_order_currency",
    # Whatever the sign ("¥", "元", "RMB", "CNY", "$"…), it must be able to mean the order's
    # currency; "¥12.5" on a USD order once refunded US$12.50.
    lambda o, a: not _typed_currencies(a) or not o.currency or o.currency in _typed_currencies(a),
    lambda o, a: Refusal(RefundCode.refund_currency, order=o.order_id, currency=o.currency,
                         typed=a.get("marker") or "/".join(_typed_currencies(a))),
)  # fmt: skip
refund_in_currency_units = Guard(
    "refund_in_currency_units",
    # Yen have no cents: ¥12.50 cannot be paid back.
    lambda o, a: not isinstance(a.get("amount"), Decimal) or not o.currency
    or a["amount"] == a["amount"].quantize(Decimal(1).scaleb(-get_currency_precision(o.currency))),
    lambda o, a: Refusal(RefundCode.refund_currency_decimals, order=o.order_id, currency=o.currency,
                         typed=str(a.get("amount")), decimals=get_currency_precision(o.currency)),
)  # fmt: skip
refund_as_asked = Guard(
    "refund_as_asked",
    # The yes was given to a prompt that showed what had been refunded so far; if someone
    # refunded meanwhile, the prompt's totals are wrong and the yes no longer holds.
    lambda o, a: a.get("refunded_before") is None or o.refunded == a["refunded_before"],
    lambda o, a: Refusal(RefundCode.refund_changed, order=o.order_id, refunded=o.refunded, currency=o.currency),
)


def _over_shipped(o: Order, a: Mapping[str, Any]) -> list[str]:
    remaining = {i.item_id: i.quantity_to_ship for i in o.items}
    return [item for item, qty in a.get("items", {}).items() if qty < 1 or qty > remaining.get(item, 0)]


def _sku(o: Order, item_id: str) -> str:
    return next((i.sku or i.item_id for i in o.items if i.item_id == item_id), item_id)


items_can_ship = Guard(
    "items_can_ship",
    # Each listed item is in the order and not shipped more often than it was bought.
    lambda o, a: bool(a.get("items")) and not _over_shipped(o, a),
    lambda o, a: Refusal(
        ShippingCode.items_already_shipped, items=[_sku(o, i) for i in _over_shipped(o, a) or a.get("items", {})]
    ),
)
leaves_items_to_ship = Guard(
    "leaves_items_to_ship",
    lambda o, a: sum(i.quantity_to_ship for i in o.items) > sum(a.get("items", {}).values()),
    lambda o, a: Refusal(LifecycleCode.not_allowed, action="ship_part", state=o.goods.value),
)
tracking_changes = Guard(
    "tracking_changes",
    lambda o, a: (a.get("carrier"), a.get("tracking")) != (o.carrier, o.tracking),
    lambda o, a: Refusal(ShippingCode.tracking_unchanged, tracking=o.tracking),
)


# --- effects: what an allowed action writes on the order (pure mutations) -----------


def _ship(order: Order, asked: Mapping[str, Any]) -> None:
    order.carrier = asked["carrier"]
    order.carrier_name = asked.get("carrier_name", "") or ""
    order.tracking = asked["tracking"]
    order.shipped_at = asked.get("at") or order.shipped_at
    for item in order.items:
        item.quantity_shipped = item.quantity


def _ship_items(order: Order, asked: Mapping[str, Any]) -> None:
    order.carrier = asked["carrier"]
    order.carrier_name = asked.get("carrier_name", "") or ""
    order.tracking = asked["tracking"]
    order.shipped_at = asked.get("at") or order.shipped_at
    for item in order.items:
        item.quantity_shipped += asked["items"].get(item.item_id, 0)


def _correct_tracking(order: Order, asked: Mapping[str, Any]) -> None:
    order.carrier = asked["carrier"]
    order.carrier_name = asked.get("carrier_name", "") or ""
    order.tracking = asked["tracking"]


def _refund(order: Order, asked: Mapping[str, Any]) -> None:
    amount = _refund_amount(order, asked)
    assert amount is not None  # guarded by refund_amount_known
    order.refunded += amount
    if order.total is not None and order.refunded >= order.total:
        order.money = Money.refunded
    else:
        order.money = Money.partially_refunded


def _return(order: Order, asked: Mapping[str, Any]) -> None:
    if asked.get("reason"):
        order.return_reason = asked["reason"]


def _receive(order: Order, asked: Mapping[str, Any]) -> None:
    _return(order, asked)
    if asked.get("disposition"):
        order.disposition = asked["disposition"]


def _amazon_shipped(order: Order, asked: Mapping[str, Any]) -> None:
    for item in order.items:
        item.quantity_shipped = item.quantity


def _nothing(order: Order, asked: Mapping[str, Any]) -> None:
    return None


# --- the table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset[Goods]
    dest: Goods | None  # None: the goods stay where they are (a money or detail change)
    guards: tuple[Guard, ...] = ()
    effect: Callable[[Order, Mapping[str, Any]], None] = _nothing


def rule(
    action: str,
    sources: Iterable[Goods],
    dest: Goods | None,
    guards: Iterable[Guard] = (),
    effect: Callable[[Order, Mapping[str, Any]], None] = _nothing,
) -> Rule:
    return Rule(action, frozenset(sources), dest, tuple(guards), effect)


# fmt: off
RULES: tuple[Rule, ...] = (
    #     action               may follow                      leads to  must hold                                   and writes
    # People in the chat
    rule("ship",              {U, PS},                         S,        [has_tracking],                             _ship),
    rule("ship_part",         {U, PS},                         PS,       [has_tracking, items_can_ship,
                                                                          leaves_items_to_ship],                     _ship_items),
    rule("correct_tracking",  {PS, S, D, L},                   None,     [has_tracking, tracking_changes],           _correct_tracking),
    rule("cancel",            {P, U},                          C,        [has_cancel_reason]),
    rule("deliver",           {S, L},                          D),
    rule("mark_lost",         {S},                             L),
    rule("request_return",    {PS, S, D, L},                   RQ,       [],                                         _return),
    rule("receive_return",    {PS, S, D, L, RQ},               RR,       [],                                         _receive),
    rule("restock",           {RR},                            RC),
    rule("dispose",           {RR},                            RC),
    rule("send_back",         {RR},                            RC),
    rule("refund",            AFTER_SHIPMENT,                  None,     [not_fully_refunded, refund_as_asked,
                                                                          refund_in_order_currency,
                                                                          refund_in_currency_units,
                                                                          refund_amount_known, refund_positive,
                                                                          refund_within_total],                      _refund),
    # Amazon says so (order reports, later the Selling Partner API)
    rule("verify_payment",    {P},                             U),
    rule("amazon_partially_shipped", {P, U},                   PS),
    rule("amazon_shipped",    {P, U, PS},                      S,        [],                                         _amazon_shipped),
    rule("amazon_cancelled",  {P, U, PS},                      C),
)
# fmt: on

RULES_BY_ACTION: dict[str, Rule] = {r.action: r for r in RULES}
ACTIONS = frozenset(RULES_BY_ACTION)

#: Why an action is refused in a state it may not follow; the edge adds the advice.
_AFTER = dict.fromkeys(AFTER_SHIPMENT - {PS}, LC.already_shipped)
REFUSALS: dict[str, dict[Goods, LifecycleCode]] = {
    "ship": {P: LC.ship_pending, C: LC.ship_cancelled, **_AFTER},
    "ship_part": {P: LC.ship_pending, C: LC.ship_cancelled, **_AFTER},
    "correct_tracking": {
        P: LC.correct_not_shipped,
        U: LC.correct_not_shipped,
        C: LC.ship_cancelled,
        RQ: LC.correct_in_return,
        RR: LC.correct_in_return,
        RC: LC.correct_in_return,
    },
    "cancel": {C: LC.already_cancelled, **dict.fromkeys(AFTER_SHIPMENT, LC.cancel_after_shipment)},
    "deliver": {
        P: LC.not_shipped_yet,
        U: LC.not_shipped_yet,
        PS: LC.not_shipped_yet,
        C: LC.order_cancelled,
        D: LC.already_delivered,
        **dict.fromkeys(RETURNING, LC.in_return),
    },
    "mark_lost": {
        P: LC.not_shipped_yet,
        U: LC.not_shipped_yet,
        PS: LC.not_shipped_yet,
        C: LC.order_cancelled,
        D: LC.lost_but_delivered,
        L: LC.already_lost,
        **dict.fromkeys(RETURNING, LC.in_return),
    },
    "request_return": {
        P: LC.not_shipped_yet,
        U: LC.not_shipped_yet,
        C: LC.order_cancelled,
        **dict.fromkeys(RETURNING, LC.already_returning),
    },
    "receive_return": {
        P: LC.not_shipped_yet,
        U: LC.not_shipped_yet,
        C: LC.order_cancelled,
        RR: LC.already_received,
        RC: LC.return_closed_already,
    },
    **{
        decision: {RC: LC.return_closed_already, **{s: LC.return_not_received for s in Goods if s not in (RR, RC)}}
        for decision in ("restock", "dispose", "send_back")
    },
    "refund": {P: LC.refund_before_shipment, U: LC.refund_before_shipment, C: LC.refund_cancelled},
}

#: Allowed, but the person must confirm first. Money never moves without a yes; while the
#: goods are on their way back the usual advice is to wait, and the question says so.
CONFIRM: dict[tuple[str, Goods], str] = {
    **{("refund", s): "confirm_refund" for s in AFTER_SHIPMENT - {RQ}},
    ("refund", RQ): "refund_before_return_arrives",
    **{("correct_tracking", s): "confirm_tracking_correction" for s in (PS, S, D, L)},
}


def refusal_for(action: str, order: Order) -> Refusal:
    code = REFUSALS.get(action, {}).get(order.goods, LifecycleCode.not_allowed)
    return Refusal(code, order=order.order_id, state=order.goods.value, action=action)


def confirmation_needed(action: str, order: Order) -> str | None:
    return CONFIRM.get((action, order.goods))


@dataclass(frozen=True)
class Change:
    """What one action did to one order: the lifecycle's part of an event."""

    action: str
    from_goods: Goods
    to_goods: Goods
    from_money: Money
    to_money: Money
    details: Mapping[str, Any] = field(default_factory=dict)


class Lifecycle:
    """The one process-wide machine. It never holds an order: each action is applied to the
    order it is given, for that call only.

    ``transitions`` runs the table: the event's transitions from the order's state, their
    guards in order, the new state, the effect. It is the synchronous ``Machine`` with no
    model attached (``model=None``): ``Event.trigger(order, ...)`` takes the order for that
    one call, so nothing is bound onto it, added to a list or left to the garbage collector.
    Nothing here awaits, so two actions never interleave inside the machine; the services
    serialise per order across their awaits and check a version when saving.
    """

    def __init__(self) -> None:
        transitions = []
        for r in RULES:
            transitions.append(
                {
                    "trigger": r.action,
                    "source": sorted(s.name for s in r.sources),
                    "dest": r.dest.name if r.dest is not None else None,  # None: internal
                    "conditions": [self._check(g) for g in r.guards],
                    "after": [self._apply(r.effect)],
                }
            )
        self.machine = Machine(
            model=None,
            states=Goods,
            transitions=transitions,
            initial=None,
            auto_transitions=False,
            send_event=True,
            model_attribute="goods",
        )

    @staticmethod
    def _check(guard: Guard) -> Callable[[EventData], bool]:
        def condition(event: EventData) -> bool:
            order, asked, outcome = cast(Order, event.model), event.kwargs["asked"], event.kwargs["outcome"]
            if guard.holds(order, asked):
                return True
            # The first failing guard in the table is the reason given (the machine stops there).
            if outcome.refusal is None:
                outcome.refusal = guard.refusal(order, asked)
                outcome.refusal.params.setdefault("order", order.order_id)
            return False

        condition.__name__ = guard.name
        return condition

    @staticmethod
    def _apply(effect: Callable[[Order, Mapping[str, Any]], None]) -> Callable[[EventData], None]:
        def after(event: EventData) -> None:
            effect(cast(Order, event.model), event.kwargs["asked"])
            event.kwargs["outcome"].applied = True

        return after

    def allowed(self, action: str, goods: Goods) -> bool:
        rule_ = RULES_BY_ACTION.get(action)
        return rule_ is not None and goods in rule_.sources

    def fire(self, order: Order, action: str, **asked: Any) -> Change:
        """Apply ``action`` to ``order`` in place, or raise the ``Refusal`` that says why not."""
        if action not in RULES_BY_ACTION:
            raise Refusal(LifecycleCode.not_allowed, order=order.order_id, state=order.goods.value, action=action)
        if not self.allowed(action, order.goods):
            raise refusal_for(action, order)
        before_goods, before_money = order.goods, order.money
        outcome = _Outcome()
        self.machine.events[action].trigger(order, asked=asked, outcome=outcome)
        if not outcome.applied:
            raise outcome.refusal or refusal_for(action, order)
        return Change(action, before_goods, order.goods, before_money, order.money, dict(asked))


@dataclass(slots=True)
class _Outcome:
    """What one trigger did, filled in by the machine's callbacks."""

    refusal: Refusal | None = None
    applied: bool = False


def describe_table() -> list[tuple[str, list[str], str]]:
    """The table as plain rows (action, may follow, leads to), for docs and tests."""
    return [(r.action, sorted(s.value for s in r.sources), r.dest.value if r.dest else "(same)") for r in RULES]

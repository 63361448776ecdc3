"""The order lifecycle as a seller team knows it (DESIGN.md §2), cell by cell.

The expected tables below are written by hand from the design, not copied from
``bot.lifecycle.RULES``: if someone edits the table so that, say, a pending order can be
shipped or a shipped one cancelled, these tests say which Amazon rule broke.
"""

from __future__ import annotations

import ast
import copy
import gc
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from transitions import Machine

from bot.domain import Goods, Money, Order, OrderItem, Refusal
from bot.lifecycle import (
    CONFIRM,
    REFUSALS,
    RULES,
    RULES_BY_ACTION,
    Lifecycle,
    confirmation_needed,
)

ROOT = Path(__file__).resolve().parent.parent

P, U, PS, S, D, L, C = (
    Goods.pending, Goods.unshipped, Goods.partially_shipped, Goods.shipped,
    Goods.delivered, Goods.lost, Goods.cancelled,
)  # fmt: skip
RQ, RR, RC = Goods.return_requested, Goods.return_received, Goods.return_closed
SAME = None  # the goods stay where they are: a money or detail change

# ---------------------------------------------------------------------------------------
# The domain rules, by hand. For each action: the states it may follow, where it leads,
# and for every other state the reason the person is given.

#: Goods have left the seller (some or all of them): from here on it is refund, not cancel.
SHIPPED_SOMEHOW = {PS, S, D, L, RQ, RR, RC}

EXPECTED: dict[str, tuple[set[Goods], Goods | None, dict[Goods, str]]] = {
    # Only unshipped or partially shipped orders ship; pending ones never do.
    "ship": (
        {U, PS},
        S,
        {
            P: "ship_pending",
            C: "ship_cancelled",
            S: "already_shipped",
            D: "already_shipped",
            L: "already_shipped",
            RQ: "already_shipped",
            RR: "already_shipped",
            RC: "already_shipped",
        },
    ),
    # Some items of a multi-item order: the order stays partially shipped.
    "ship_part": (
        {U, PS},
        PS,
        {
            P: "ship_pending",
            C: "ship_cancelled",
            S: "already_shipped",
            D: "already_shipped",
            L: "already_shipped",
            RQ: "already_shipped",
            RR: "already_shipped",
            RC: "already_shipped",
        },
    ),
    # Correcting the tracking of something that went out is its own action.
    "correct_tracking": (
        {PS, S, D, L},
        SAME,
        {
            P: "correct_not_shipped",
            U: "correct_not_shipped",
            C: "ship_cancelled",
            RQ: "correct_in_return",
            RR: "correct_in_return",
            RC: "correct_in_return",
        },
    ),
    # Cancel only before shipment (the seller may cancel a pending order any time).
    "cancel": ({P, U}, C, {C: "already_cancelled", **dict.fromkeys(SHIPPED_SOMEHOW, "cancel_after_shipment")}),
    "deliver": (
        {S, L},
        D,
        {
            P: "not_shipped_yet",
            U: "not_shipped_yet",
            PS: "not_shipped_yet",
            C: "order_cancelled",
            D: "already_delivered",
            RQ: "in_return",
            RR: "in_return",
            RC: "in_return",
        },
    ),
    "mark_lost": (
        {S},
        L,
        {
            P: "not_shipped_yet",
            U: "not_shipped_yet",
            PS: "not_shipped_yet",
            C: "order_cancelled",
            D: "lost_but_delivered",
            L: "already_lost",
            RQ: "in_return",
            RR: "in_return",
            RC: "in_return",
        },
    ),
    "request_return": (
        {PS, S, D, L},
        RQ,
        {
            P: "not_shipped_yet",
            U: "not_shipped_yet",
            C: "order_cancelled",
            RQ: "already_returning",
            RR: "already_returning",
            RC: "already_returning",
        },
    ),
    # An arrival may be the first we hear of a return (a returns report says so).
    "receive_return": (
        {PS, S, D, L, RQ},
        RR,
        {
            P: "not_shipped_yet",
            U: "not_shipped_yet",
            C: "order_cancelled",
            RR: "already_received",
            RC: "return_closed_already",
        },
    ),
    # The three decisions on a returned item, each closing the return.
    **{
        decision: (
            {RR},
            RC,
            {
                RC: "return_closed_already",
                **{s: "return_not_received" for s in (P, U, PS, S, D, L, C, RQ)},
            },
        )
        for decision in ("restock", "dispose", "send_back")
    },
    # Refund only after shipment; before it, cancel instead.
    "refund": (
        SHIPPED_SOMEHOW,
        SAME,
        {P: "refund_before_shipment", U: "refund_before_shipment", C: "refund_cancelled"},
    ),
    # What Amazon's reports say happened. A person never types these; refused quietly.
    "verify_payment": ({P}, U, {}),
    "amazon_partially_shipped": ({P, U}, PS, {}),
    "amazon_shipped": ({P, U, PS}, S, {}),
    "amazon_cancelled": ({P, U, PS}, C, {}),
}
#: Actions only an import fires: their refusals are never shown to a person.
AMAZON_ACTIONS = {"verify_payment", "amazon_partially_shipped", "amazon_shipped", "amazon_cancelled"}

#: Allowed, but only after a yes: money never moves without one, and while the goods are on
#: their way back the usual advice is to wait (DESIGN.md §2).
EXPECTED_CONFIRM = {
    **{("refund", s): "confirm_refund" for s in (PS, S, D, L, RR, RC)},
    ("refund", RQ): "refund_before_return_arrives",
    **{("correct_tracking", s): "confirm_tracking_correction" for s in (PS, S, D, L)},
}

CELLS = [(action, state) for action in EXPECTED for state in Goods]
ALLOWED_CELLS = [(a, s) for a, s in CELLS if s in EXPECTED[a][0]]
REFUSED_CELLS = [(a, s) for a, s in CELLS if s not in EXPECTED[a][0]]


def cell_id(cell: tuple[str, Goods]) -> str:
    return f"{cell[0]}-from-{cell[1].value}"


def an_order(goods: Goods = U, **kw: Any) -> Order:
    kw.setdefault("order_id", "113-4417305-6689831")
    kw.setdefault("total", Decimal("20.00"))
    kw.setdefault("items", [OrderItem("it-1", "USB-MIC-01", "USB Microphone", quantity=2)])
    return Order(team_id=-1001, goods=goods, **kw)


#: What a person would have typed for each action, enough for every guard to hold.
ASKED: dict[str, dict[str, Any]] = {
    "ship": {"carrier": "UPS", "tracking": "1Z999AA10123456784"},
    "ship_part": {"carrier": "UPS", "tracking": "1Z999AA10123456784", "items": {"it-1": 1}},
    "correct_tracking": {"carrier": "UPS", "tracking": "1Z999AA10123456785"},
    "cancel": {"reason": "NoInventory"},
}


@pytest.fixture(scope="module")
def lc() -> Lifecycle:
    return Lifecycle()


def refused(lc: Lifecycle, order: Order, action: str, **asked: Any) -> Refusal:
    before = copy.deepcopy(order)
    with pytest.raises(Refusal) as excinfo:
        lc.fire(order, action, **asked)
    assert order == before, "a refused action changes nothing"
    return excinfo.value


# ---------------------------------------------------------------------------------------
# The table


def test_the_table_has_exactly_the_actions_the_design_names():
    assert [r.action for r in RULES] == list(RULES_BY_ACTION), "one rule per action"
    assert set(RULES_BY_ACTION) == set(EXPECTED)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_allowed_exactly_in_the_states_the_design_says(lc, action):
    sources, dest, _ = EXPECTED[action]
    assert {s for s in Goods if lc.allowed(action, s)} == sources
    assert RULES_BY_ACTION[action].sources == sources
    assert RULES_BY_ACTION[action].dest == dest


def test_unknown_actions_are_never_allowed(lc):
    assert not any(lc.allowed("teleport", s) for s in Goods)


@pytest.mark.parametrize("cell", ALLOWED_CELLS, ids=cell_id)
def test_each_allowed_action_moves_the_goods_where_the_design_says(lc, cell):
    action, state = cell
    order = an_order(state)
    change = lc.fire(order, action, **ASKED.get(action, {}))
    expected_dest = EXPECTED[action][1] or state
    assert order.goods is expected_dest
    assert (change.action, change.from_goods, change.to_goods) == (action, state, expected_dest)
    assert lc.machine.models == []


@pytest.mark.parametrize("cell", REFUSED_CELLS, ids=cell_id)
def test_each_refused_action_says_why_and_changes_nothing(lc, cell):
    action, state = cell
    order = an_order(state)
    refusal = refused(lc, order, action, **ASKED.get(action, {}))
    expected = EXPECTED[action][2].get(state, "not_allowed")
    assert refusal.code == expected
    assert refusal.params == {"order": order.order_id, "state": state.value, "action": action}


def test_every_refusal_a_person_can_meet_has_its_own_reason():
    # "each refusal must say why and what to do instead": never the generic code.
    for action, (sources, _dest, reasons) in EXPECTED.items():
        if action in AMAZON_ACTIONS:
            continue
        assert set(reasons) == set(Goods) - sources, action
        assert REFUSALS[action] == reasons, action


def test_an_unknown_action_is_refused_and_changes_nothing(lc):
    order = an_order(U)
    refusal = refused(lc, order, "teleport")
    assert (refusal.code, refusal.params["action"]) == ("not_allowed", "teleport")


def test_the_named_cases_read_like_the_sellers_day(lc):
    """Pending never ships; shipped never cancels; unshipped is cancelled, not refunded."""
    assert (refused(lc, an_order(P), "ship", **ASKED["ship"])).code == "ship_pending"
    assert (refused(lc, an_order(S), "cancel", reason="BuyerCanceled")).code == "cancel_after_shipment"
    assert (refused(lc, an_order(U), "refund")).code == "refund_before_shipment"
    assert (refused(lc, an_order(PS), "cancel", reason="NoInventory")).code == "cancel_after_shipment"


# ---------------------------------------------------------------------------------------
# Guards: ship and tracking


@pytest.mark.parametrize(
    "asked",
    [{}, {"carrier": "UPS"}, {"tracking": "1Z999AA10123456784"}, {"carrier": "", "tracking": "1Z9"}],
    ids=["nothing", "carrier-only", "tracking-only", "empty-carrier"],
)
def test_ship_needs_a_carrier_and_a_tracking_number(lc, asked):
    order = an_order(U)
    refusal = refused(lc, order, "ship", **asked)
    assert refusal.code == "missing_tracking"
    assert refusal.params == {"carrier": asked.get("carrier") or "", "order": order.order_id}


def test_shipping_records_carrier_tracking_time_and_every_item(lc):
    order = an_order(PS, items=[OrderItem("a", quantity=2, quantity_shipped=1), OrderItem("b", quantity=3)])
    lc.fire(order, "ship", carrier="SF Express", carrier_name="顺丰", tracking="SF1234567890123", at="T")
    assert (order.goods, order.carrier, order.carrier_name, order.tracking, order.shipped_at) == (
        S, "SF Express", "顺丰", "SF1234567890123", "T")  # fmt: skip
    assert [(i.quantity_shipped, i.quantity_to_ship) for i in order.items] == [(2, 0), (3, 0)]


def test_correcting_to_the_same_tracking_is_refused(lc):
    order = an_order(S, carrier="UPS", tracking="1Z999AA10123456784")
    refusal = refused(lc, order, "correct_tracking", carrier="UPS", tracking="1Z999AA10123456784")
    assert refusal.code == "tracking_unchanged"
    assert refusal.params == {"tracking": "1Z999AA10123456784", "order": order.order_id}


def test_correcting_needs_the_new_carrier_and_tracking(lc):
    order = an_order(S, carrier="UPS", tracking="1Z999AA10123456784")
    assert (refused(lc, order, "correct_tracking", carrier="UPS")).code == "missing_tracking"


def test_correcting_the_tracking_changes_it_and_nothing_else(lc):
    order = an_order(S, carrier="UPS", tracking="1Z999AA10123456784")
    change = lc.fire(order, "correct_tracking", carrier="USPS", tracking="9400111899223817576315")
    assert (order.goods, order.carrier, order.tracking) == (S, "USPS", "9400111899223817576315")
    assert change.details == {"carrier": "USPS", "tracking": "9400111899223817576315"}


def test_cancel_needs_one_of_amazons_reasons(lc):
    assert (refused(lc, an_order(U), "cancel")).code == "missing_reason"
    assert (refused(lc, an_order(P), "cancel", reason="")).code == "missing_reason"


# ---------------------------------------------------------------------------------------
# Guards: money. none -> partially_refunded -> refunded; never more than the total.


def test_a_refund_is_in_full_by_default(lc):
    order = an_order(S, total=Decimal("44.98"))
    change = lc.fire(order, "refund")
    assert (order.refunded, order.money, order.refundable) == (Decimal("44.98"), Money.refunded, Decimal(0))
    assert (change.from_money, change.to_money) == (Money.none, Money.refunded)
    assert order.goods is S


def test_partial_refunds_add_up_to_a_full_one(lc):
    order = an_order(D, total=Decimal("20.00"))
    lc.fire(order, "refund", amount=Decimal("5.50"))
    assert (order.refunded, order.money, order.refundable) == (
        Decimal("5.50"),
        Money.partially_refunded,
        Decimal("14.50"),
    )
    lc.fire(order, "refund", amount=Decimal("4.50"))
    assert (order.refunded, order.money) == (Decimal("10.00"), Money.partially_refunded)
    change = lc.fire(order, "refund")  # the rest
    assert (order.refunded, order.money) == (Decimal("20.00"), Money.refunded)
    assert (change.from_money, change.to_money) == (Money.partially_refunded, Money.refunded)


def test_a_partial_refund_of_exactly_the_rest_makes_it_refunded(lc):
    order = an_order(S, total=Decimal(20), refunded=Decimal(15), money=Money.partially_refunded)
    lc.fire(order, "refund", amount=Decimal("5.00"))
    assert order.money is Money.refunded


def test_refunding_more_than_the_total_is_refused_with_what_is_left(lc):
    order = an_order(S, total=Decimal("20.00"))
    refusal = refused(lc, order, "refund", amount=Decimal("20.01"))
    assert refusal.code == "refund_too_much"
    assert refusal.params == {
        "amount": Decimal("20.01"), "refundable": Decimal("20.00"), "currency": "USD", "order": order.order_id,
    }  # fmt: skip


def test_refunding_more_than_what_is_left_is_refused(lc):
    order = an_order(RR, total=Decimal("20.00"))
    lc.fire(order, "refund", amount=Decimal("12.00"))
    refusal = refused(lc, order, "refund", amount=Decimal("8.01"))
    assert (refusal.code, refusal.params["refundable"]) == ("refund_too_much", Decimal("8.00"))


def test_without_a_known_total_the_person_must_say_how_much(lc):
    # Unshipped Orders reports carry no prices.
    order = an_order(S, total=None)
    refusal = refused(lc, order, "refund")
    assert refusal == Refusal("refund_amount_needed", order=order.order_id)
    lc.fire(order, "refund", amount=Decimal("7.00"))
    assert (order.refunded, order.money) == (Decimal("7.00"), Money.partially_refunded)


def test_a_refunded_order_cannot_be_refunded_again(lc):
    order = an_order(S, total=Decimal("20.00"))
    lc.fire(order, "refund")
    refusal = refused(lc, order, "refund", amount=Decimal("1.00"))
    assert refusal == Refusal("already_refunded", amount=Decimal("20.00"), currency="USD", order=order.order_id)


def test_a_refund_in_another_currency_is_refused(lc):
    order = an_order(S, total=Decimal("20.00"), currency="USD")
    refusal = refused(lc, order, "refund", amount=Decimal(5), currency="EUR")
    assert refusal == Refusal("refund_currency", order=order.order_id, currency="USD", typed="EUR")
    lc.fire(order, "refund", amount=Decimal(5), currency="USD")
    assert order.refunded == Decimal(5)


@pytest.mark.parametrize(
    "amounts",
    [
        ["5", "5", "5", "5", "5"],
        ["19.99", "0.02", "0.01"],
        ["20.00", "0.01"],
        ["7", "7", "7"],
    ],
)
def test_refunds_never_exceed_the_total(lc, amounts):
    order = an_order(S, total=Decimal("20.00"))
    for amount in amounts:
        try:
            lc.fire(order, "refund", amount=Decimal(amount))
        except Refusal as refusal:
            assert refusal.code in {"refund_too_much", "already_refunded"}
        assert order.refunded <= order.total
        assert order.money is (Money.refunded if order.refunded == order.total else Money.partially_refunded)


@pytest.mark.parametrize("amount", ["-5.00", "0"])
def test_a_refund_is_a_positive_amount(lc, amount):
    """Money.refunded only grows: the domain itself must hold that, not just the parser."""
    order = an_order(S, total=Decimal("20.00"), refunded=Decimal("10.00"), money=Money.partially_refunded)
    with pytest.raises(Refusal):
        lc.fire(order, "refund", amount=Decimal(amount))
    assert (order.refunded, order.money) == (Decimal("10.00"), Money.partially_refunded)


@pytest.mark.parametrize("typed", ["¥", "元", "RMB", "CNY", "EUR", ["JPY", "CNY"]])
def test_any_other_currency_sign_is_refused_naming_the_orders(lc, typed):
    order = an_order(S)
    marker = typed if isinstance(typed, str) else "¥"
    refusal = refused(lc, order, "refund", amount=Decimal(5), currency=typed, marker=marker)
    assert refusal == Refusal("refund_currency", order=order.order_id, currency="USD", typed=marker)
    assert order.refunded == 0


def test_a_shared_sign_that_can_mean_the_orders_currency_is_fine(lc):
    order = an_order(S, currency="JPY", total=Decimal(5000))
    lc.fire(order, "refund", amount=Decimal(1200), currency=["JPY", "CNY"], marker="¥")
    assert order.refunded == Decimal(1200)


def test_yen_have_no_cents(lc):
    order = an_order(S, currency="JPY", total=Decimal(5000))
    refusal = refused(lc, order, "refund", amount=Decimal("12.50"))
    assert refusal == Refusal("refund_currency_decimals", order=order.order_id, currency="JPY", typed="12.50",
                              decimals=0)  # fmt: skip


def test_a_yes_to_an_outdated_prompt_is_refused(lc):
    """The prompt showed $5.00 refunded before; someone refunded meanwhile."""
    order = an_order(S, refunded=Decimal("7.00"), money=Money.partially_refunded)
    refusal = refused(lc, order, "refund", amount=Decimal(3), refunded_before=Decimal(5))
    assert refusal == Refusal("refund_changed", order=order.order_id, refunded=Decimal("7.00"), currency="USD")
    lc.fire(order, "refund", amount=Decimal(3), refunded_before=Decimal(7))
    assert order.refunded == Decimal(10)


def test_refund_reasons_are_checked_in_a_helpful_order(lc):
    # Already refunded says so, before complaining about the amount or the currency.
    order = an_order(S, total=Decimal("20.00"), refunded=Decimal("20.00"), money=Money.refunded)
    assert (refused(lc, order, "refund", amount=Decimal(99), currency="EUR")).code == "already_refunded"


# ---------------------------------------------------------------------------------------
# Confirmation


@pytest.mark.parametrize("cell", CELLS, ids=cell_id)
def test_confirmation_is_asked_exactly_where_the_design_says(cell):
    action, state = cell
    assert confirmation_needed(action, an_order(state)) == EXPECTED_CONFIRM.get(cell)


def test_a_confirmation_is_only_asked_for_something_allowed(lc):
    assert CONFIRM == EXPECTED_CONFIRM
    for action, state in CONFIRM:
        assert lc.allowed(action, state), (action, state)


# ---------------------------------------------------------------------------------------
# One machine for the whole process


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def test_firing_never_attaches_an_order_nor_builds_a_machine():
    lc = Lifecycle()
    machines = live(Machine)
    for n in range(60):
        order = an_order(U, order_id=f"113-0000000-{n:07d}")
        lc.fire(order, "ship", **ASKED["ship"])  # allowed
        with pytest.raises(Refusal):
            lc.fire(order, "cancel", reason="NoInventory")  # refused by state
        with pytest.raises(Refusal):
            lc.fire(order, "correct_tracking", **ASKED["ship"])  # refused by a guard
        lc.fire(order, "refund", amount=Decimal(1))
    assert lc.machine.models == []
    assert live(Machine) == machines, "firing never builds another machine"


def test_an_action_that_blows_up_midway_leaves_the_machine_working():
    lc = Lifecycle()
    order = an_order(S)
    with pytest.raises(TypeError):
        lc.fire(order, "refund", amount="twelve")  # not a Decimal: the guard raises
    assert lc.machine.models == []
    lc.fire(order, "refund", amount=Decimal(3))
    assert order.refunded == Decimal(3)


def test_one_machine_moves_many_orders_each_on_its_own():
    lc = Lifecycle()
    alice_order = an_order(U, order_id="113-4417305-6689831")
    bob_order = an_order(S, order_id="114-5551234-7654321")
    shipped = lc.fire(alice_order, "ship", **ASKED["ship"])
    refunded = lc.fire(bob_order, "refund", amount=Decimal("2.50"))
    assert (shipped.to_goods, alice_order.goods, bob_order.goods) == (S, S, S)
    assert (refunded.to_money, bob_order.refunded, alice_order.money) == (Money.partially_refunded, Decimal("2.50"),
                                                                          Money.none)  # fmt: skip
    orders = [an_order(U, order_id=f"113-0000000-{n:07d}") for n in range(100)]
    changes = [lc.fire(o, "ship", carrier="UPS", tracking=f"1Z{n}") for n, o in enumerate(orders)]
    assert [c.to_goods for c in changes] == [S] * 100
    assert [o.tracking for o in orders] == [f"1Z{n}" for n in range(100)]


def test_a_thousand_actions_leave_nothing_behind_even_without_the_garbage_collector():
    """Nothing is bound onto an order, so nothing waits for the collector to be freed: the
    importer may pause it for a big file and memory still stays flat."""
    lc = Lifecycle()

    def a_thousand_actions() -> None:
        for n in range(250):
            order = an_order(U, order_id=f"113-0000000-{n:07d}")
            lc.fire(order, "ship", **ASKED["ship"])
            lc.fire(order, "deliver")
            lc.fire(order, "refund", amount=Decimal(1))
            with pytest.raises(Refusal):
                lc.fire(order, "cancel", reason="NoInventory")

    collecting = gc.isenabled()
    tracemalloc.start()
    try:
        # The first thousand, traced, fill caches (the tracer's own): measure the next.
        a_thousand_actions()
        gc.disable()
        before = tracemalloc.get_traced_memory()[0]
        a_thousand_actions()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        if collecting:
            gc.enable()
    assert lc.machine.models == []
    # One order kept per action would be hundreds of KB here.
    assert grown < 64 * 1024, f"{grown} bytes kept after 1000 actions"


# ---------------------------------------------------------------------------------------
# The rules stay pure


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", ["bot/domain.py", "bot/lifecycle.py"])
def test_the_rules_know_nothing_of_telegram_or_the_database(module):
    imports = imported_modules(ROOT / module)
    roots = {name.split(".")[0] for name in imports}
    assert not roots & {"telegram", "aiosqlite", "sqlite3", "handlers"}, imports
    # Nor through the rest of the app: the rules may lean on the domain only (and its
    # refusal codes, which import nothing of the app: tests/test_refusal_codes.py).
    assert {n for n in imports if n.split(".")[0] == "bot"} <= {"bot.domain", "bot.refusal_codes"}, imports


def test_turning_amazons_deadline_off_silences_its_last_day_too() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.alerts import CONFIRM_SOON, TeamRules, decide
    from bot.storage import DueRow, Team
    from bot.team_settings import TeamSettings

    settings = TeamSettings("Asia/Shanghai", kinds_off=frozenset({CONFIRM_SOON}), quiet_from=None, quiet_until=None)
    rules = TeamRules.of(Team(-1, "A", settings))
    now = datetime(2026, 12, 20, 8, tzinfo=UTC)
    row = DueRow("113-0000000-0000001", "unshipped", now + timedelta(days=5), now - timedelta(days=29, hours=12), None)
    announce, _settled = decide([row], rules, now, set())
    assert [a.kind for a in announce] == []

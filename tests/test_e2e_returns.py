"""Amazon's returns reports sent into the chat: requests, arrivals, dispositions, refunds."""

from __future__ import annotations

import pytest

from tests.support.alerts import read, wait_alert
from tests.support.scenario import FAN, MIC, SPEAKER, sample


async def ship_all(t, *orders: str) -> None:
    dm = t.api.private(t.alice)
    for order in orders:
        await t.say(t.alice, f"/ship {order} UPS 1Z999AA10123456784", chat=dm)


async def test_fba_returns_report_records_arrivals_once(team) -> None:
    t = team
    await ship_all(t, MIC, SPEAKER)
    reply = (await t.api.upload(t.group, t.alice, "fba-returns.txt", sample("fba-customer-returns.txt")))[0]
    assert reply["text"] == "FBA customer returns report read (utf-8): 0 new, 2 updated, 0 unchanged."
    mic, speaker = t.order_row(MIC), t.order_row(SPEAKER)
    assert (mic["goods"], mic["disposition"], mic["return_reason"]) == ("return_received", "SELLABLE", "UNWANTED_ITEM")
    assert (speaker["goods"], speaker["disposition"]) == ("return_received", "CUSTOMER_DAMAGED")
    last = t.events(MIC)[-1]
    assert (last["action"], last["actor_kind"], last["actor_name"]) == ("receive_return", "import", "fba-returns.txt")
    card = await t.say(t.alice, f"/order {MIC}")
    assert "Return: UNWANTED_ITEM (sellable, back in Amazon's inventory)" in card
    before = t.snapshot()
    again = (await t.api.upload(t.group, t.alice, "fba-returns.txt", sample("fba-customer-returns.txt")))[0]
    assert again["text"] == (
        "FBA customer returns report read (utf-8): 0 new, 0 updated, 2 unchanged.\n"
        "This file was already imported on Nov 21, 2026; nothing changed."
    )
    assert t.snapshot() == before


async def test_mfn_returns_report_requests_arrivals_and_refunds(team) -> None:
    t = team
    await ship_all(t, FAN)
    reply = (await t.api.upload(t.group, t.alice, "mfn-returns.txt", sample("mfn-returns.txt")))[0]
    assert reply["text"] == "MFN returns report read (utf-8): 0 new, 1 updated, 0 unchanged."
    assert t.goods(FAN) == "return_requested"
    # Later the same return arrives and Amazon refunded 15.50.
    lines = sample("mfn-returns.txt").decode().splitlines()
    header, row = lines[0].split("\t"), lines[1].split("\t")
    row[header.index("Return delivery date")] = "23-Nov-2026"
    row[header.index("Refunded Amount")] = "15.50"
    body = ("\n".join([lines[0], "\t".join(row)]) + "\n").encode()
    reply = (await t.api.upload(t.group, t.alice, "mfn-returns-later.txt", body))[0]
    assert reply["text"] == "MFN returns report read (utf-8): 0 new, 1 updated, 0 unchanged."
    row_ = t.order_row(FAN)
    assert (row_["goods"], row_["money"], row_["refunded"]) == ("return_received", "partially_refunded", "15.50")
    assert [e["action"] for e in t.events(FAN)][-2:] == ["receive_return", "refund"]


async def test_returns_rows_that_cannot_apply_are_listed_and_the_rest_applied(team) -> None:
    t = team
    await ship_all(t, SPEAKER)  # MIC is not shipped: its return row cannot apply
    lines = sample("fba-customer-returns.txt").decode().splitlines()
    unknown = lines[1].replace(MIC, "113-0000000-0000000")
    body = ("\n".join([*lines, unknown]) + "\n").encode()
    reply = (await t.api.upload(t.group, t.alice, "fba.txt", body))[0]
    assert reply["text"] == "\n".join([
        "FBA customer returns report read (utf-8): 0 new, 1 updated, 1 unchanged.",
        "2 rows were refused:",
        f"• line 2: order {MIC} was never shipped (unshipped), so it cannot come back",
        "• line 4: order 113-0000000-0000000 is not in this team's orders (import its order report first)",
        "Correct those rows in the file and send it again; rows already imported will not be doubled.",
    ])  # fmt: skip
    assert (t.goods(MIC), t.goods(SPEAKER)) == ("unshipped", "return_received")


@pytest.mark.alerts
async def test_a_sellable_fba_return_closes_as_restocked_in_one_tap(alert_team, clock) -> None:
    t = alert_team
    await ship_all(t, MIC)
    await t.api.upload(t.group, t.alice, "fba.txt", sample("fba-customer-returns.txt"))
    alert = await wait_alert(t, "📦", since=t.start)
    assert read(alert).splitlines()[1] == "…6689831 USB-MIC-01×1 · sellable, back in Amazon's inventory"
    assert t.api.buttons(alert)[:2] == [("✅ Restock 6689831", f"rd:{MIC}:restock"), ("📋 Decide 6689831", f"rw:{MIC}")]
    click = await t.api.click(t.group, t.bob, alert, f"rd:{MIC}:restock", expect=1)
    await t.api.wait_for(lambda: t.goods(MIC) == "return_closed")
    assert t.events(MIC)[-1]["action"] == "restock"
    assert click.answered


async def test_a_returns_row_applies_whole_or_not_at_all(team) -> None:
    """An arrival whose refund is more than the order can take: the row is refused, nothing half-written."""
    t = team
    await t.api.upload(t.group, t.alice, "orders.txt", sample("order-report-us.txt"))  # FAN's total: 65.47
    await ship_all(t, FAN)
    lines = sample("mfn-returns.txt").decode().splitlines()
    header, row = lines[0].split("\t"), lines[1].split("\t")
    row[header.index("Return delivery date")] = "23-Nov-2026"
    row[header.index("Refunded Amount")] = "100.00"
    before = t.snapshot()
    reply = (await t.api.upload(t.group, t.alice, "mfn.txt", ("\n".join([lines[0], "\t".join(row)]) + "\n").encode()))[
        0
    ]
    assert reply["text"] == "\n".join([
        "MFN returns report read (utf-8): 0 new, 0 updated, 1 unchanged.",
        "1 row was refused:",
        f"• line 2: that refund is more than order {FAN} has left to refund ($65.47)",
        "Correct those rows in the file and send it again; rows already imported will not be doubled.",
    ])  # fmt: skip
    assert t.snapshot() == before

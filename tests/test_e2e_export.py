"""Shipment confirmations back to Amazon: /export after shipping through the bot."""

from __future__ import annotations

from tests.support.scenario import FAN, KETO, MIC, SPEAKER

HEADER = "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method"


async def test_export_lists_what_was_shipped_item_by_item_once(team) -> None:
    t = team
    dm = t.api.private(t.alice)
    await t.say(t.alice, f"/ship {MIC} UPS 1Z999AA10123456784", chat=dm)
    await t.say(t.alice, f"/ship {SPEAKER} Other:Cainiao LP00123456789", chat=dm)
    # FAN has two items; only the fan leaves today.
    assert await t.say(t.alice, f"/ship {FAN} 顺丰 SF1234567890123 usb-fan-03", chat=dm) == (
        f"Shipped 1 × USB-FAN-03 of order {FAN} with SF Express, tracking number SF1234567890123; 1 still to ship."
    )
    assert t.goods(FAN) == "partially_shipped"
    replies = await t.api.ask(dm, t.alice, "/export")
    doc = replies[0]
    assert doc["filename"].startswith("shipping-confirmation-2026-11-21-")
    assert doc["caption"] == (
        "Shipping confirmation for 3 orders (3 lines). Upload it in Seller Central: Orders → Upload order related "
        "files → Shipping confirmation."
    )
    lines = doc["content"].decode("utf-8").split("\r\n")
    assert lines == [
        HEADER,
        f"{MIC}\t62319586402671\t1\t2026-11-21\tUPS\t\t1Z999AA10123456784\t",
        f"{SPEAKER}\t62319586402672\t2\t2026-11-21\tOther\tCainiao\tLP00123456789\t",
        f"{FAN}\t62319586402673\t1\t2026-11-21\tSF Express\t\tSF1234567890123\t",
        "",
    ]
    # Nothing new: the second export is empty.
    assert await t.say(t.alice, "/export", chat=dm) == (
        "Nothing to export: every shipment made here is already in an earlier file. To send a day again: "
        "/export 2026-11-21"
    )
    # The rest of FAN ships; a tracking correction on MIC; both are in the next file.
    await t.say(t.alice, f"/ship {FAN} UPS 1Z999AA10123456785", chat=dm)
    assert t.goods(FAN) == "shipped"
    question = (await t.api.ask(dm, t.alice, f"/correct {MIC} FedEx 123456789012"))[0]
    await t.api.click(dm, t.alice, question, t.api.buttons(question)[0][1], expect=2)
    doc = (await t.api.ask(dm, t.alice, "/export"))[0]
    assert doc["content"].decode().split("\r\n")[1:-1] == [
        f"{MIC}\t62319586402671\t1\t2026-11-21\tFedEx\t\t123456789012\t",
        f"{FAN}\t62319586402674\t1\t2026-11-21\tUPS\t\t1Z999AA10123456785\t",
    ]
    # A whole day again, with the corrected tracking only.
    doc = (await t.api.ask(dm, t.alice, "/export 2026-11-21"))[0]
    assert len(doc["content"].decode().split("\r\n")[1:-1]) == 4
    assert "1Z999AA10123456784" not in doc["content"].decode()


async def test_export_refusals(team) -> None:
    t = team
    assert await t.say(t.alice, "/export someday") == (
        "“someday” is not a day. Send /export for what is new, or /export 2026-11-21 for one day again."
    )
    assert await t.say(t.alice, f"/ship {FAN} UPS 1Z999AA10123456784 NOPE") == (
        f"Order {FAN} has no item “NOPE”. Its items are USB-FAN-03 and USB-MIC-01; name them by SKU, like USB-FAN-03 "
        "or USB-FAN-03:2 for two."
    )
    assert await t.say(t.alice, f"/ship {FAN} UPS 1Z999AA10123456784 USB-FAN-03:5") == (
        "These items are already shipped, or fewer were bought: USB-FAN-03. Look at the order with /order."
    )
    assert t.goods(FAN) == "unshipped"
    assert t.goods(KETO) == "unshipped"

"""A spreadsheet of shipments (issue 9 point 2): an ERP's .xlsx or .csv, or Seller Central's
tab-separated template, ships its rows through the lifecycle in one transaction; the same
file again changes nothing; refused rows are listed by line; a bad file gets one answer."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from bot.importing.shipments import MAX_ROWS
from tests.support.desk import settled
from tests.support.scenario import FAN, KETO, MIC, SPEAKER, sample, says

GB18030_CSV = "shipments-gb18030.csv"
UTF8_BOM_CSV = "shipments-utf8-bom.csv"


def xlsx(rows: list[list[Any]], *, title: str | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def shipments(t: Any, order_id: str) -> list[tuple]:
    with t.db() as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT item_id, quantity, carrier, tracking FROM shipments WHERE order_id = ? ORDER BY shipment_id",
            (order_id,))]  # fmt: skip


def summary(locale: str, encoding: str, shipped: int, already: int, refused: int) -> str:
    return says(locale, "Shipments read ({encoding}): {shipped} shipped, {already} already shipped, {refused} rows "
                "refused.", encoding=encoding, shipped=shipped, already=already, refused=refused)  # fmt: skip


def row(locale: str, line: int, reason: str, **params: Any) -> str:
    return "• " + says(locale, "line {line}: {reason}", line=line, reason=says(locale, reason, **params))


async def upload(t: Any, user: Any, name: str, data: bytes) -> str:
    replies = await t.api.upload(t.group, user, name, data)
    await settled(t.api, t.app)
    return replies[0]["text"]


async def test_an_erp_xlsx_ships_its_rows_and_again_changes_nothing(team) -> None:
    """店小秘-style headers under a title row; a numeric FedEx cell; a partial shipment by SKU; an
    ERP channel name (云途-全球专线挂号) whose head is the carrier."""
    t = team
    data = xlsx([
        ["Amazon订单号", "物流渠道", "运单号", "SKU", "数量"],
        [MIC, "云途-全球专线挂号", "YT1234567890123456", None, None],
        [SPEAKER, "FedEx", 123456789012, None, None],
        [FAN, "UPS", "1Z999AA10123456784", "USB-FAN-03", 1],
    ], title="店铺A 发货单 2026-11-21")  # fmt: skip
    text = await upload(t, t.bob, "发货单.xlsx", data)
    assert text == summary("zh_Hans", "xlsx", 3, 0, 0)
    assert t.goods(MIC) == "shipped" and t.goods(SPEAKER) == "shipped" and t.goods(FAN) == "partially_shipped"
    assert t.order_row(MIC)["carrier"] == "Yun Express"
    assert shipments(t, SPEAKER) == [("62319586402672", 2, "FedEx", "123456789012")]
    assert shipments(t, FAN) == [("62319586402673", 1, "UPS", "1Z999AA10123456784")]
    assert [e["actor_name"] for e in t.events(MIC)][-1] == "Bob"

    before = t.snapshot()
    text = await upload(t, t.bob, "发货单.xlsx", data)
    assert text == summary("zh_Hans", "xlsx", 0, 3, 0)
    assert t.snapshot() == before


async def test_a_gb18030_csv_and_a_utf8_bom_csv(team) -> None:
    """Excel's "CSV" saved in China (GB18030), and a UTF-8 one with BOM whose carrier is Other with a quoted name."""
    t = team
    assert await upload(t, t.carol, GB18030_CSV, sample(GB18030_CSV)) == summary("zh_Hant", "gb18030", 1, 0, 0)
    assert (t.goods(MIC), t.order_row(MIC)["tracking"]) == ("shipped", "SF1234567890123")

    assert await upload(t, t.alice, UTF8_BOM_CSV, sample(UTF8_BOM_CSV)) == summary("en", "utf-8-sig", 1, 0, 0)
    row_ = t.order_row(KETO)
    assert (row_["carrier"], row_["carrier_name"], row_["tracking"]) == ("Other", "Evri, UK", "H01ABC1234567890")


async def test_seller_centrals_template_and_the_desks_own_export_read_as_shipments(team) -> None:
    t = team
    template = ("order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\t"
                "ship-method\n"
                f"{FAN}\t62319586402674\t1\t2026-11-21\tUSPS\t\t9400111899223344556677\t\n")  # fmt: skip
    assert await upload(t, t.alice, "confirm.txt", template.encode()) == summary("en", "utf-8", 1, 0, 0)
    assert t.goods(FAN) == "partially_shipped"
    assert shipments(t, FAN) == [("62319586402674", 1, "USPS", "9400111899223344556677")]


async def test_refused_rows_are_listed_by_line_and_the_rest_ship(team) -> None:
    t = team
    await t.say(t.alice, "/ship 6689831 UPS 1Z999AA10123456784")
    body = (
        "order-id,carrier,tracking-number\n"
        f"{SPEAKER},UPS,1Z999AA10123456785\n"  # ships
        "113-BAD,UPS,1Z999AA10123456786\n"  # not an order number
        f"{MIC},UPS,1Z999AA10123456799\n"  # already shipped with another number
        f"{KETO},Pigeon,PG12345678\n"  # unknown carrier, and the number does not say
        f"{FAN},UPS,\n"  # no tracking number
        "999-0000000-0000000,UPS,1Z999AA10123456788\n"  # not this team's order
    )
    text = await upload(t, t.alice, "mixed.csv", body.encode())
    first = text.split("\n")
    assert first[0] == summary("en", "utf-8", 1, 0, 5)
    assert first[1] == row("en", 3, "“{text}” is not an order number. Type the full Amazon order number (like "
                           "113-4417305-6689831) or its last 4 or more digits.", text="113-BAD")  # fmt: skip
    assert first[2].startswith(f"• line 4: Order {MIC} was already shipped by Alice")
    assert first[3].startswith("• line 5: I don't know the carrier “Pigeon”.")
    assert first[4] == row("en", 6, "A tracking number is needed to ship with {carrier}. Example: /ship "
                           "113-4417305-6689831 UPS 1Z999AA10123456784", carrier="UPS")  # fmt: skip
    assert first[5].startswith("• line 7: I can't find order 999-0000000-0000000")
    assert first[6] == "Correct those rows and send the file again: orders already shipped are not shipped twice."
    assert t.goods(SPEAKER) == "shipped" and t.goods(KETO) == "unshipped" and t.goods(FAN) == "unshipped"
    assert t.order_row(MIC)["tracking"] == "1Z999AA10123456784"


async def test_one_transaction_a_failure_midway_leaves_nothing(team, monkeypatch) -> None:
    """Nothing half-done: when the desk fails on the third order, the first two are undone too."""
    t = team
    desk = t.app.bot_data["services"].desk
    real = desk.ship

    async def failing(team_id, ref, *args, **kwargs):
        if ref.full == KETO:
            raise RuntimeError("disk full")
        return await real(team_id, ref, *args, **kwargs)

    monkeypatch.setattr(desk, "ship", failing)
    before = t.snapshot()
    body = (f"order-id,carrier,tracking-number\n{MIC},UPS,1Z999AA10123456784\n"
            f"{SPEAKER},UPS,1Z999AA10123456785\n{KETO},UPS,1Z999AA10123456786\n")  # fmt: skip
    text = await upload(t, t.alice, "three.csv", body.encode())
    assert text == says("en", "Sorry, something went wrong on my side and nothing was changed. Please try again in "
                        "a moment.")  # fmt: skip
    assert t.snapshot() == before


async def test_bad_sheets_get_one_clear_answer_and_change_nothing(team) -> None:
    t = team
    before = t.snapshot()
    no_tracking = xlsx([["订单号", "物流商"], [MIC, "UPS"]])
    assert await upload(t, t.bob, "a.xlsx", no_tracking) == says(
        "zh_Hans", "This spreadsheet has no {missing} column. A sheet of shipments needs a header row with the order "
        "number, the tracking number and the carrier, for example: order-id, carrier-code, tracking-number (or 订单号, "
        "物流商, 跟踪号).", missing="tracking-number / 跟踪号")  # fmt: skip
    broken = xlsx([["order-id", "tracking-number"], [MIC, "1Z999AA10123456784"]])[:-200]
    assert await upload(t, t.alice, "broken.xlsx", broken) == says(
        "en", "I can't open this spreadsheet. Save it again as .xlsx or as a UTF-8 .csv and send it again."
    )
    huge = "order-id,carrier,tracking-number\n" + f"{MIC},UPS,1Z999AA10123456784\n" * (MAX_ROWS + 1)
    assert await upload(t, t.alice, "huge.csv", huge.encode()) == says(
        "en", "This sheet has {rows} rows; I ship at most {max} at once. Split it into smaller files and send them "
        "one by one.", rows=f"{MAX_ROWS}+", max=MAX_ROWS)  # fmt: skip
    assert await upload(t, t.alice, "empty.csv", b"order-id,carrier,tracking-number\n") == says(
        "en", "This sheet of shipments has a header row but no shipments under it."
    )
    # UTF-8 with a broken byte: read as anything else it would be mojibake.
    damaged = ("订单号,物流商,跟踪号\n" + f"{MIC},顺丰,SF1234567890123\n" * 3).encode("utf-8") + b"\xff\n"
    assert await upload(t, t.alice, "damaged.csv", damaged) == says(
        "en", "I can't read the characters in this file. Save it as UTF-8 (or download it from Seller Central "
        "again) and send it again.")  # fmt: skip
    assert t.snapshot() == before


async def test_an_amazon_report_is_still_imported_as_a_report(team) -> None:
    t = team
    text = await upload(t, t.alice, "unshipped.txt", sample("unshipped-orders-us.txt"))
    assert text.startswith("Unshipped Orders report read (utf-8): 0 new, 0 updated, 4 unchanged.")


async def test_a_stranger_cannot_ship_with_a_sheet(team) -> None:
    t = team
    dm = t.api.private(t.dave)
    before = t.snapshot()
    replies = await t.api.upload(
        dm, t.dave, "s.csv", f"order-id,carrier,tracking-number\n{MIC},UPS,1Z999AA10123456784\n".encode()
    )
    await settled(t.api, t.app)
    assert "Shipments read" not in replies[0]["text"]
    assert t.snapshot() == before

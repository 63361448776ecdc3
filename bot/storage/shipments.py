"""Shipments (items that left with a carrier and tracking number) and their export marks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database
from bot.storage.values import from_iso, iso


@dataclass(frozen=True)
class Shipment:
    """Items of one order that left with one carrier and tracking number."""

    item_id: str
    quantity: int
    shipped_at: datetime
    carrier: str
    carrier_name: str
    tracking: str
    ship_method: str = ""
    order_id: str = ""
    shipment_id: int | None = None
    exported_at: datetime | None = None


class ShipmentTables(Database):
    """The shipments table and what Shipping Confirmation exports marked in it (part of ``Store``).

    Shipments are written with their order (``Store.save``); this reads them and marks exports.
    """

    async def take_for_export(self, team_id: int, export_id: str, now: datetime, *,
                              day: tuple[datetime, datetime] | None = None) -> list[Shipment]:  # fmt: skip
        """Shipments to write into a Shipping Confirmation file, marked as exported in the same
        transaction (two exports at once never both take a shipment). With ``day``
        (start, end), every current shipment of that day again, exported or not."""
        async with self.transaction() as tx:
            params: list[int | str | None]
            # Each reads one index range, never the history: what is not exported yet from
            # ``shipments_to_export``; a day from ``shipments_by_day`` (a leading "+" keeps a
            # column from choosing the index, the bigger ranges of the others; sorting the few
            # rows found beats walking a year of shipments in ``shipped_at`` order).
            if day is None:
                where, order, params = "superseded = 0 AND exported_at IS NULL", "+shipped_at", [team_id]
            else:
                where, order = "+superseded = 0 AND shipped_at >= ? AND shipped_at < ?", "shipped_at"
                params = [team_id, iso(day[0]), iso(day[1])]
            async with tx.execute(
                "SELECT shipment_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, tracking, "
                # Shipments already confirmed through the Selling Partner API are not told twice.
                f"ship_method FROM shipments WHERE team_id = ? AND +confirmed_at IS NULL AND {where} "
                f"ORDER BY {order}, order_id, item_id",
                params,
            ) as cur:
                rows = list(await cur.fetchall())
            await tx.executemany(
                "UPDATE shipments SET exported_at = coalesce(exported_at, ?), export_id = ? WHERE shipment_id = ?",
                [(iso(now), export_id, r[0]) for r in rows],
            )
        return [Shipment(r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6], r[7], r[8], order_id=r[1],
                         shipment_id=r[0]) for r in rows]  # fmt: skip

    async def untake_export(self, export_id: str, taken_at: datetime) -> None:
        """The file could not be delivered: what this export marked counts as not exported again."""
        async with self.transaction() as tx:
            await tx.execute(
                # ``shipments_by_export``: the export's own rows, not every exported one.
                "UPDATE shipments SET exported_at = NULL, export_id = NULL WHERE export_id = ? AND +exported_at = ?",
                (export_id, iso(taken_at)),
            )

    async def shipments_of(self, team_id: int, order_id: str) -> list[Shipment]:
        rows = await self.fetchall(
            "SELECT shipment_id, order_id, item_id, quantity, shipped_at, carrier, carrier_name, tracking, ship_method, "
            "exported_at FROM shipments WHERE team_id = ? AND order_id = ? AND superseded = 0 ORDER BY shipment_id",
            (team_id, order_id),
        )
        return [Shipment(r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6], r[7], r[8], order_id=r[1],
                         shipment_id=r[0], exported_at=from_iso(r[9])) for r in rows]  # fmt: skip

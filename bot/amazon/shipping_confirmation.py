"""Shipment confirmations to Amazon: the Shipping Confirmation flat file.

Tab-separated, UTF-8 (Amazon asks for UTF-8 uploads), one line per shipped item. The
carrier code is Amazon's exact, case-sensitive code; with ``Other`` the carrier's name
goes in carrier-name, which Amazon then requires.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.storage import Shipment, Store

COLUMNS = ("order-id", "order-item-id", "quantity", "ship-date", "carrier-code", "carrier-name", "tracking-number",
           "ship-method")  # fmt: skip


def _clean(value: str) -> str:
    # A tab or line break inside a value would shift Amazon's columns.
    return " ".join(str(value).split())


def confirmation_file(shipments: Sequence[Shipment], zone: str) -> bytes:
    """The file's bytes: a header line, then one line per shipped item."""
    tz = ZoneInfo(zone)
    lines = ["\t".join(COLUMNS)]
    for s in shipments:
        lines.append("\t".join(_clean(v) for v in (
            s.order_id, s.item_id, str(s.quantity), s.shipped_at.astimezone(tz).date().isoformat(), s.carrier,
            s.carrier_name if s.carrier == "Other" else "", s.tracking, s.ship_method,
        )))  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@dataclass(frozen=True)
class Export:
    export_id: str
    taken_at: datetime
    shipments: list[Shipment]
    data: bytes
    filename: str

    @property
    def orders(self) -> int:
        return len({s.order_id for s in self.shipments})


class Exporter:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    async def take(self, team_id: int, zone: str, day: date | None = None) -> Export:
        """Shipments not yet told to Amazon (or all of ``day``, again), marked as exported.

        If the file cannot be delivered, call :meth:`give_back`.
        """
        now = self.clock()
        export_id = secrets.token_hex(6)
        window = None
        if day is not None:
            tz = ZoneInfo(zone)
            start = datetime.combine(day, time(0), tzinfo=tz)
            window = (start, start + timedelta(days=1))
        shipments = await self.store.take_for_export(team_id, export_id, now, day=window)
        local = now.astimezone(ZoneInfo(zone))
        name = f"shipping-confirmation-{(day or local.date()).isoformat()}-{local:%H%M%S}.txt"
        return Export(export_id, now, shipments, confirmation_file(shipments, zone), name)

    async def give_back(self, export: Export) -> None:
        await self.store.untake_export(export.export_id, export.taken_at)

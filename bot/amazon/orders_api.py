"""The Orders API's JSON and the desk's values: orders in, shipment packages out.

``getOrders`` / ``getOrderItems`` JSON becomes :class:`ImportedOrder` (the same value a
report row gives, so one importer applies both); the team's shipments become the packages
``confirmShipment`` takes.

The Orders API gives no buyer name or street address without a Restricted Data Token: an
order synced from the API has its city, region, postal code and country only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.amazon.model import ImportedItem, ImportedOrder, goods_of_status
from bot.amazon.spapi import iso_z
from bot.storage import Shipment

__all__ = ["Package", "api_time", "imported_item", "imported_order", "packages"]


def api_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _amount(money: Any) -> Decimal | None:
    if not isinstance(money, dict) or money.get("Amount") in (None, ""):
        return None
    try:
        return Decimal(str(money["Amount"]))
    except InvalidOperation:
        return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def imported_item(raw: dict[str, Any]) -> ImportedItem:
    """An Orders API order item. ``ItemPrice`` is already the price of all its units."""
    return ImportedItem(
        item_id=str(raw.get("OrderItemId") or ""), sku=str(raw.get("SellerSKU") or ""),
        title=str(raw.get("Title") or ""), quantity=_int(raw.get("QuantityOrdered")),
        quantity_shipped=_int(raw.get("QuantityShipped")), price=_amount(raw.get("ItemPrice")),
    )  # fmt: skip


def imported_order(raw: dict[str, Any], items: Sequence[dict[str, Any]] = ()) -> ImportedOrder:
    """An Orders API order (and its items, when fetched) as the importer takes it.

    Without items, the items the desk knows are kept. An unknown OrderStatus gives no
    status: the order keeps its state (a new one is stored as unshipped).
    """
    total = raw.get("OrderTotal")
    address = raw.get("ShippingAddress") or {}
    return ImportedOrder(
        order_id=str(raw["AmazonOrderId"]), lines=[], status=goods_of_status(str(raw.get("OrderStatus") or "")),
        channel="AFN" if raw.get("FulfillmentChannel") == "AFN" else "MFN",
        purchased_at=api_time(raw.get("PurchaseDate")), ship_by=api_time(raw.get("LatestShipDate")),
        deliver_by=api_time(raw.get("LatestDeliveryDate")),
        currency=(total or {}).get("CurrencyCode") or None, total=_amount(total),
        service_level=str(raw.get("ShipServiceLevel") or ""), buyer_name="",
        ship_city=str(address.get("City") or ""), ship_state=str(address.get("StateOrRegion") or ""),
        ship_postal_code=str(address.get("PostalCode") or ""), ship_country=str(address.get("CountryCode") or ""),
        ship_address="", items=[imported_item(i) for i in items if i.get("OrderItemId")],
        is_business=bool(raw.get("IsBusinessOrder")), is_prime=bool(raw.get("IsPrime")),
    )  # fmt: skip


# --- shipments as packages --------------------------------------------------------------


@dataclass
class Package:
    """What one confirmShipment call says: the items of one order under one tracking number."""

    order_id: str
    carrier: str
    carrier_name: str
    tracking: str
    ship_method: str
    shipped_at: datetime
    items: dict[str, int]  # order item id -> quantity
    shipment_ids: list[int]

    @property
    def reference(self) -> str:
        # Amazon wants a positive number, unique per package within the order.
        return str(min(self.shipment_ids))

    def detail(self) -> dict[str, Any]:
        """The ``packageDetail`` of the request."""
        body: dict[str, Any] = {
            "packageReferenceId": self.reference,
            "carrierCode": self.carrier,
            "trackingNumber": self.tracking,
            "shipDate": iso_z(self.shipped_at),
            "orderItems": [{"orderItemId": item, "quantity": n} for item, n in sorted(self.items.items())],
        }
        if self.carrier == "Other":  # Amazon needs the name only with Other
            body["carrierName"] = self.carrier_name
        if self.ship_method:
            body["shippingMethod"] = self.ship_method
        return body


def packages(shipments: Sequence[Shipment]) -> list[Package]:
    """Shipments (item by item) grouped per order, carrier and tracking number, in shipping order."""
    found: dict[tuple[str, str, str, str], Package] = {}
    for s in shipments:
        assert s.shipment_id is not None
        key = (s.order_id, s.carrier, s.carrier_name, s.tracking)
        package = found.get(key)
        if package is None:
            package = found[key] = Package(s.order_id, s.carrier, s.carrier_name, s.tracking, s.ship_method,
                                           s.shipped_at, {}, [])  # fmt: skip
        package.items[s.item_id] = package.items.get(s.item_id, 0) + s.quantity
        package.shipment_ids.append(s.shipment_id)
        package.shipped_at = min(package.shipped_at, s.shipped_at)
    return list(found.values())

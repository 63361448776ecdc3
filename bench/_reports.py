"""Deterministic Seller Central "Unshipped Orders" reports for the benchmarks.

The columns are the ones Amazon's GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING report
has (see /work/shared/amazon-formats.md and the sample in /work/shared/samples/): tab
separated, one header row, one row per order item, UTF-8. The same ``seed`` gives the same
bytes, so figures from two runs are about the same file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = [
    "order-id", "order-item-id", "purchase-date", "payments-date", "reporting-date", "promise-date",
    "days-past-promise", "buyer-email", "buyer-name", "buyer-phone-number", "sku", "product-name",
    "quantity-purchased", "quantity-shipped", "quantity-to-ship", "ship-service-level", "recipient-name",
    "ship-address-1", "ship-address-2", "ship-address-3", "ship-city", "ship-state", "ship-postal-code",
    "ship-country", "is-business-order", "purchase-order-number", "price-designation",
]  # fmt: skip

_FIRST = ["Jane", "Carlos", "Li", "Maria", "John", "Aiko", "José", "Anna", "Mohammed", "Olivia", "Wei", "Zoë",
          "Liam", "Emma", "Noah", "Sofía", "Lucas", "Mia", "Ethan", "Chloé"]  # fmt: skip
_LAST = ["Doe", "Ruiz", "Wei", "Garcia", "Smith", "Tanaka", "Müller", "Nguyen", "Khan", "Brown", "Zhang",
         "O'Brien", "Johnson", "Martínez", "Lee", "Walker", "Hall", "Young", "King", "Wright"]  # fmt: skip
_STREETS = ["Elm St", "Ocean Ave", "Market St", "Main St", "Oak Dr", "Pine Rd", "Maple Ave", "Cedar Ln",
            "Lakeview Blvd", "Sunset Blvd"]  # fmt: skip
_CITIES = [("Springfield", "IL", "62704"), ("Miami", "FL", "33139"), ("San Francisco", "CA", "94103"),
           ("Austin", "TX", "78701"), ("Seattle", "WA", "98101"), ("Denver", "CO", "80202"),
           ("Boston", "MA", "02108"), ("Portland", "OR", "97201"), ("Chicago", "IL", "60601"),
           ("New York", "NY", "10001")]  # fmt: skip
_PRODUCTS = [("USB-MIC", "USB Condenser Microphone"), ("BT-SPK", "Bluetooth Speaker, Wood"),
             ("USB-FAN", "Desk USB Fan"), ("LED-LMP", "LED Desk Lamp 10\" Dimmable"),
             ("PH-CASE", "Phone Case – Clear"), ("HDMI-CBL", "HDMI Cable 2 m"),
             ("KB-MECH", "Mechanical Keyboard (Blue Switches)"), ("MS-WL", "Wireless Mouse"),
             ("CHG-65W", "65W USB-C Charger"), ("SSD-1TB", "Portable SSD 1 TB")]  # fmt: skip
_START = datetime(2026, 11, 1, tzinfo=UTC)


def order_id(i: int) -> str:
    """The i-th order id: ``ddd-ddddddd-ddddddd``, unique for i < 10**7 (4801 is prime to 10**7)."""
    return f"{111 + i % 4}-{(i * 7919 + 4417305) % 10**7:07d}-{(i * 4801 + 6689831) % 10**7:07d}"


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def rows(orders: int, seed: int = 20261121) -> Iterator[list[str]]:
    """Rows (header first) of a report with ``orders`` orders: 75% one item, 20% two, 5% three."""
    rng = random.Random(seed)
    yield HEADER
    item = 62319586400000
    for i in range(orders):
        oid = order_id(i)
        bought = _START + timedelta(seconds=rng.randrange(20 * 86400))
        promise = (bought + timedelta(days=2)).replace(hour=7, minute=59, second=59)
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        city, state, postal = rng.choice(_CITIES)
        street = f"{rng.randrange(1, 9999)} {rng.choice(_STREETS)}"
        apt = f"Apt {rng.randrange(1, 40)}" if rng.random() < 0.2 else ""
        level = "Expedited" if rng.random() < 0.15 else "Standard"
        business = "true" if rng.random() < 0.05 else "false"
        r = rng.random()
        n_items = 1 if r < 0.75 else 2 if r < 0.95 else 3
        for _ in range(n_items):
            item += 1
            sku, title = rng.choice(_PRODUCTS)
            qty = 1 if rng.random() < 0.85 else rng.randrange(2, 4)
            yield [
                oid, str(item), _iso(bought), _iso(bought), _iso(bought), _iso(promise), "0",
                f"{oid.replace('-', '')}@marketplace.amazon.com", name, "", f"{sku}-{rng.randrange(1, 20):02d}",
                title, str(qty), "0", str(qty), level, name, street, apt, "", city, state, postal, "US",
                business, "", "",
            ]  # fmt: skip


def report_bytes(orders: int, seed: int = 20261121) -> bytes:
    return "".join("\t".join(r) + "\r\n" for r in rows(orders, seed)).encode("utf-8")


def write_report(path: Path, orders: int, seed: int = 20261121) -> tuple[int, int]:
    """Write the report to ``path`` line by line (little memory); returns (data rows, bytes)."""
    n = -1
    with open(path, "w", encoding="utf-8", newline="") as f:
        for r in rows(orders, seed):
            f.write("\t".join(r) + "\r\n")
            n += 1
    return n, path.stat().st_size

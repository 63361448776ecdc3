"""How values are stored: times as UTC ISO text, amounts as decimal text, details as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

#: SQLite allows 32766 host parameters per statement; stay well below it.
CHUNK = 900


def iso(value: datetime | None) -> str | None:
    """Stored times are UTC, so that text order is time order (ship-by lists, alerts)."""
    if value is None:
        return None
    # An import formats ~5 times per order, mostly the same few values (its clock, the
    # report's ship-by dates): remember recent ones. Equal aware datetimes are the same
    # instant, hence the same UTC text; naive ones never get in (they raise below).
    text = _ISO_SEEN.get(value)
    if text is None:
        if value.tzinfo is None:
            raise ValueError("naive datetime: the desk stores aware UTC times only")
        text = (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat(timespec="seconds")
        if len(_ISO_SEEN) >= 4096:
            _ISO_SEEN.clear()
        _ISO_SEEN[value] = text
    return text


_ISO_SEEN: dict[datetime, str] = {}


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(details: Any) -> str:
    return json.dumps(details, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def utc_now() -> datetime:
    return datetime.now(UTC)

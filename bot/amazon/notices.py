"""What the group reads about its Amazon connection, posted by the sync through the outbox.

Written in the current language (``bot.i18n.using`` the group's), one whole sentence each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.amazon.orders_api import Package
from bot.i18n import _, ngettext

__all__ = ["auth_failure_message", "confirm_failures_messages", "unreadable_credentials_message"]

#: Packages listed in one failure message; more go into further messages (4096 characters).
_PER_MESSAGE = 15


def confirm_failures_messages(failures: Sequence[tuple[Package, str]]) -> list[dict[str, Any]]:
    """Confirmations Amazon refused, with its reasons, as outbox messages (in the current language)."""
    messages = []
    orders = len({p.order_id for p, _error in failures})
    for start in range(0, len(failures), _PER_MESSAGE):
        lines = [ngettext("⚠️ Amazon did not accept the shipment confirmation of {count} order:",
                          "⚠️ Amazon did not accept the shipment confirmations of {count} orders:", orders)]  # fmt: skip
        for package, error in failures[start : start + _PER_MESSAGE]:
            lines.append(_("• <code>{order}</code> · {carrier} {tracking}: {error}", order=package.order_id,
                           carrier=package.carrier_name or package.carrier, tracking=package.tracking, error=error))  # fmt: skip
        lines.append(_("Check the carrier and the tracking number. Correct them with /correct ORDER CARRIER TRACKING "
                       "and I will confirm again, or confirm the shipment in Seller Central."))  # fmt: skip
        messages.append({"text": "\n".join(lines), "buttons": []})
    return messages


def unreadable_credentials_message() -> dict[str, Any]:
    text = _("⚠️ I cannot read this team's Amazon credentials: the server's secret key (DINGDAN_SECRET_KEY) is "
             "missing or is not the one they were saved with. Orders are not synced and shipments are not confirmed "
             "until whoever runs the bot restores the key, or an administrator sends /amazon set … to me in a "
             "private chat again.")  # fmt: skip
    return {"text": text, "buttons": []}


def auth_failure_message(error: str) -> dict[str, Any]:
    text = _("⚠️ Amazon refused this team's Selling Partner API credentials ({error}): orders are not synced and "
             "shipments are not confirmed. An administrator can send /amazon set … to me in a private chat.",
             error=error)  # fmt: skip
    return {"text": text, "buttons": []}

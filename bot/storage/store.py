"""The SQLite store: every aggregate's tables, on one set of connections."""

from __future__ import annotations

from bot.storage.confirmations import ConfirmationTables
from bot.storage.inbox import InboxTables
from bot.storage.leases import LeaseTables
from bot.storage.orders import OrderTables
from bot.storage.shipments import ShipmentTables
from bot.storage.teams import TeamTables
from bot.storage.tracking import TrackingTables


class Store(TeamTables, OrderTables, ShipmentTables, ConfirmationTables, InboxTables, TrackingTables, LeaseTables):
    """The database. Open with :meth:`open`, close with :meth:`close`.

    Each base holds one aggregate's SQL (``bot.storage.teams``, ``.orders``, ``.shipments``,
    ``.confirmations``, ``.inbox``) over the connections of ``bot.storage.db.Database``; the
    services see it through ``bot.storage.protocol.DeskStore``. The alerts and the outbox
    have their own object on the same connections, ``AlertStore(store)``.
    """

"""Storage: SQLite through aiosqlite, the only package that speaks to the database.

This face only re-exports. Inside, one module per subject:

- ``db``: connections (a writer behind a lock, a pool of readers), transactions, migrations;
- ``unit``: one update's unit of work; ``values``: how times, amounts and details are stored;
- ``teams``, ``orders`` (with ``order_rows``), ``shipments``, ``confirmations``, ``inbox``: the
  aggregates, gathered into ``Store`` (``store``);
- ``alerts`` and ``outbox``: ``AlertStore``, on the same connections;
- ``protocol``: the seam the services use; ``errors``: what the storage raises;
- ``schema/``: the numbered SQL migrations.
"""

from bot.storage.alerts import AlertStore, DueRow
from bot.storage.confirmations import Confirmation
from bot.storage.db import Database, keep_private, migrations
from bot.storage.errors import (
    AlertDecidedMeanwhile,
    Conflict,
    DatabaseUnusable,
    NotOpen,
    OrderChangedMeanwhile,
    StorageError,
)
from bot.storage.inbox import INBOX_KEPT
from bot.storage.order_rows import ORDER_COLUMNS, digits_reversed
from bot.storage.outbox import OUTBOX_KEPT, OutboxRow
from bot.storage.protocol import AlertLedger, DeskStore, UnitOfWork
from bot.storage.shipments import Shipment
from bot.storage.store import Store
from bot.storage.teams import TEAM_SETTINGS, TEAM_TABLES, Team, TeamMove, User
from bot.storage.unit import OutgoingMessage, Queued, Unit, current_unit, outside_unit
from bot.storage.values import dumps, from_iso, iso

__all__ = [
    "INBOX_KEPT",
    "ORDER_COLUMNS",
    "OUTBOX_KEPT",
    "TEAM_SETTINGS",
    "TEAM_TABLES",
    "AlertDecidedMeanwhile",
    "AlertLedger",
    "AlertStore",
    "Confirmation",
    "Conflict",
    "Database",
    "DeskStore",
    "DueRow",
    "DatabaseUnusable",
    "NotOpen",
    "OrderChangedMeanwhile",
    "OutboxRow",
    "Queued",
    "OutgoingMessage",
    "Shipment",
    "StorageError",
    "Store",
    "Team",
    "TeamMove",
    "Unit",
    "UnitOfWork",
    "User",
    "current_unit",
    "digits_reversed",
    "dumps",
    "from_iso",
    "iso",
    "keep_private",
    "migrations",
    "outside_unit",
]

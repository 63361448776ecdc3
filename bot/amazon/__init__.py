"""Amazon: its flat files, its Selling Partner API, and the desk's connection to it.

This face only re-exports what the rest of the desk uses. Inside, one subject a module:

- ``model``: what Amazon tells the desk as plain values (orders, lines, returns), the one
  table of Amazon's order statuses as goods states, marketplace currencies;
- the flat files: ``reports`` (``read_report``: the entry) over ``encoding`` (bytes to
  text), ``kinds`` (which report a header is), ``cells`` (dates, money, quantities),
  ``order_reports`` and ``returns_reports`` (the rows);
- ``shipping_confirmation``: the Shipping Confirmation file the team uploads to Amazon;
- the Selling Partner API: ``spapi`` (the client), ``orders_api`` (its JSON and ours),
  ``sync`` (orders in, shipment confirmations out), ``accounts`` (a team's connection and
  what is left to confirm, in the database), ``secret_box`` (the credentials encrypted at
  rest) and ``redaction`` (secrets kept out of the logs).

The importer that applies what Amazon says to the desk is ``bot.importing``, beside this
package; the sync is given it (``AmazonSync(store, importer, settings)``), so neither
package imports the other both ways.
"""

from bot.amazon.accounts import AmazonAccount, AmazonStore
from bot.amazon.kinds import KINDS, ORDER_KINDS, REQUIRED, RETURNS_KINDS
from bot.amazon.model import (
    COUNTRY_CURRENCY,
    GOODS_OF_STATUS,
    BadRow,
    ImportedItem,
    ImportedOrder,
    ImportedReturn,
    ParsedReport,
    RowError,
    RowErrorCode,
    goods_of_status,
)
from bot.amazon.orders_api import Package, imported_order, packages
from bot.amazon.redaction import install_log_redaction, redact, remember_secrets
from bot.amazon.reports import read_report
from bot.amazon.secret_box import NoSecretKey, SecretBox, SecretUnreadable, reseal
from bot.amazon.shipping_confirmation import Export, Exporter, confirmation_file
from bot.amazon.spapi import (
    LOGIN_HOSTS,
    MARKETPLACES,
    REGION_ENDPOINTS,
    SPAPI_HOSTS,
    AuthError,
    Credentials,
    SpApiClient,
    SpApiError,
    endpoint_of,
    endpoint_ok,
    marketplace_ok,
    parse_allowed_host,
)
from bot.amazon.sync import AmazonSync, Connection, SyncResult

__all__ = [
    "COUNTRY_CURRENCY",
    "GOODS_OF_STATUS",
    "KINDS",
    "LOGIN_HOSTS",
    "MARKETPLACES",
    "ORDER_KINDS",
    "REGION_ENDPOINTS",
    "REQUIRED",
    "RETURNS_KINDS",
    "SPAPI_HOSTS",
    "AmazonAccount",
    "AmazonStore",
    "AmazonSync",
    "AuthError",
    "BadRow",
    "Connection",
    "Credentials",
    "Export",
    "Exporter",
    "ImportedItem",
    "ImportedOrder",
    "ImportedReturn",
    "NoSecretKey",
    "Package",
    "ParsedReport",
    "RowError",
    "RowErrorCode",
    "SecretBox",
    "SecretUnreadable",
    "SpApiClient",
    "SpApiError",
    "SyncResult",
    "confirmation_file",
    "endpoint_of",
    "endpoint_ok",
    "goods_of_status",
    "imported_order",
    "install_log_redaction",
    "marketplace_ok",
    "packages",
    "parse_allowed_host",
    "read_report",
    "redact",
    "remember_secrets",
    "reseal",
]

"""Storage of the Selling Partner API connection: a team's credentials, its sync watermark,
and the shipments still to confirm with Amazon.

Amazon's part of the database, on the ``Store``'s connections through its public
``fetchall``, ``fetchone`` and ``transaction()``. Times are ISO 8601 UTC text, so text
order is time order.

The client secret and the refresh token are stored as the caller gives them: encrypted by
``bot.amazon.secret_box`` (``fernet:…``), or in clear where a version before it wrote them. Credentials
from the environment are never written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.storage import Shipment, Store, from_iso, iso

_ACCOUNT_COLUMNS = (
    "team_id, source, marketplace_id, endpoint, client_id, client_secret, refresh_token, configured_by, "
    "configured_at, secrets_at, last_sync, synced_at, sync_status, sync_error"
)


@dataclass(frozen=True)
class AmazonAccount:
    """A team's connection as stored. For ``source == "env"`` the secrets are ``None`` here
    (they come from the environment)."""

    team_id: int
    source: str  # "chat" | "env"
    marketplace_id: str
    endpoint: str
    client_id: str | None = field(repr=False)
    client_secret: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    configured_by: int | None
    configured_at: datetime  # connected to this marketplace since
    secrets_at: datetime  # the credentials last set
    last_sync: datetime | None  # LastUpdatedAfter of the next getOrders
    synced_at: datetime | None
    sync_status: str  # "new" | "ok" | "error"
    sync_error: str | None


def _account(row: Sequence[Any]) -> AmazonAccount:
    (team_id, source, marketplace_id, endpoint, client_id, client_secret, refresh_token, configured_by,
     configured_at, secrets_at, last_sync, synced_at, sync_status, sync_error) = row  # fmt: skip
    return AmazonAccount(
        team_id, source, marketplace_id, endpoint, client_id, client_secret, refresh_token, configured_by,
        datetime.fromisoformat(configured_at), datetime.fromisoformat(secrets_at), from_iso(last_sync),
        from_iso(synced_at), sync_status, sync_error,
    )  # fmt: skip


class AmazonStore:
    """Queries and writes of the Amazon sync, on the ``Store``'s connections."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- the connection ------------------------------------------------------------

    async def account(self, team_id: int) -> AmazonAccount | None:
        row = await self.store.fetchone(f"SELECT {_ACCOUNT_COLUMNS} FROM amazon_accounts WHERE team_id = ?",
                                        (team_id,))  # fmt: skip
        return _account(row) if row is not None else None

    async def accounts(self) -> list[AmazonAccount]:
        rows = await self.store.fetchall(f"SELECT {_ACCOUNT_COLUMNS} FROM amazon_accounts ORDER BY team_id")
        return [_account(r) for r in rows]

    async def save_credentials(self, team_id: int, *, marketplace_id: str, endpoint: str, client_id: str,
                               client_secret: str, refresh_token: str, by: int | None, at: datetime) -> None:  # fmt: skip
        """Set (or replace) a team's credentials. Another marketplace or endpoint is another
        account: its watermark and the time it was connected start again; new secrets for the
        same one keep them (a shipment made before the secrets changed is still confirmed)."""
        await self._upsert(team_id, "chat", marketplace_id, endpoint, (client_id, client_secret, refresh_token), by, at)

    async def use_environment(self, team_id: int, *, marketplace_id: str, endpoint: str, at: datetime) -> None:
        """The environment's credentials serve this team: a row for its watermark, no secrets."""
        await self._upsert(team_id, "env", marketplace_id, endpoint, (None, None, None), None, at)

    async def _upsert(self, team_id: int, source: str, marketplace_id: str, endpoint: str,
                      secrets: tuple[str | None, str | None, str | None], by: int | None, at: datetime) -> None:  # fmt: skip
        async with self.store.transaction() as tx:
            await tx.execute(
                "INSERT INTO amazon_accounts (team_id, source, marketplace_id, endpoint, client_id, client_secret, "
                "refresh_token, configured_by, configured_at, secrets_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (team_id) DO UPDATE SET "
                "last_sync = CASE WHEN amazon_accounts.marketplace_id = excluded.marketplace_id "
                "AND amazon_accounts.endpoint = excluded.endpoint THEN amazon_accounts.last_sync END, "
                "configured_at = CASE WHEN amazon_accounts.marketplace_id = excluded.marketplace_id "
                "AND amazon_accounts.endpoint = excluded.endpoint "
                "THEN amazon_accounts.configured_at ELSE excluded.configured_at END, "
                "source = excluded.source, marketplace_id = excluded.marketplace_id, endpoint = excluded.endpoint, "
                "client_id = excluded.client_id, client_secret = excluded.client_secret, "
                "refresh_token = excluded.refresh_token, configured_by = excluded.configured_by, "
                "secrets_at = excluded.secrets_at, sync_status = 'new', sync_error = NULL",
                (team_id, source, marketplace_id, endpoint, *secrets, by, iso(at), iso(at)),
            )

    async def stored_secrets(self) -> list[tuple[int, tuple[str, str]]]:
        """(team, (client secret, refresh token)) as stored, of every team that set its own."""
        rows = await self.store.fetchall(
            "SELECT team_id, client_secret, refresh_token FROM amazon_accounts WHERE source = 'chat' "
            "AND client_secret IS NOT NULL AND refresh_token IS NOT NULL ORDER BY team_id"
        )
        return [(r[0], (r[1], r[2])) for r in rows]

    async def replace_secrets(self, changes: Sequence[tuple[int, tuple[str, str], tuple[str, str]]]) -> list[int]:
        """(team, old, new): the new stored form of the same secrets, where they are still the old
        (``/amazon set`` may have replaced them meanwhile). The teams changed."""
        done = []
        async with self.store.transaction() as tx:
            for team_id, (old_secret, old_token), (new_secret, new_token) in changes:
                cur = await tx.execute(
                    "UPDATE amazon_accounts SET client_secret = ?, refresh_token = ? WHERE team_id = ? "
                    "AND source = 'chat' AND client_secret = ? AND refresh_token = ?",
                    (new_secret, new_token, team_id, old_secret, old_token),
                )
                if cur.rowcount:
                    done.append(team_id)
        return done

    async def forget(self, team_id: int) -> bool:
        """Remove a team's credentials and sync state; False when there were none."""
        async with self.store.transaction() as tx:
            cur = await tx.execute("DELETE FROM amazon_accounts WHERE team_id = ?", (team_id,))
            return bool(cur.rowcount)

    async def synced(self, team_id: int, watermark: datetime, at: datetime) -> None:
        """A sync finished: the watermark moves forward (never back), the error is cleared."""
        async with self.store.transaction() as tx:
            await tx.execute(
                "UPDATE amazon_accounts SET last_sync = CASE WHEN last_sync IS NULL OR last_sync < ? THEN ? "
                "ELSE last_sync END, synced_at = ?, sync_status = 'ok', sync_error = NULL WHERE team_id = ?",
                (iso(watermark), iso(watermark), iso(at), team_id),
            )

    async def sync_failed(self, team_id: int, error: str, at: datetime) -> None:
        async with self.store.transaction() as tx:
            await tx.execute(
                "UPDATE amazon_accounts SET sync_status = 'error', sync_error = ?, synced_at = ? WHERE team_id = ?",
                (error, iso(at), team_id),
            )

    # --- shipments to confirm ----------------------------------------------------------

    async def to_confirm(self, team_id: int, since: datetime, limit: int = 500) -> list[Shipment]:
        """Shipments made in the chat since ``since`` that Amazon has not confirmed: current
        (not superseded by a correction), of orders the seller fulfils (MFN), not refused for
        good, and not written into a Shipping Confirmation file (that file tells Amazon)."""
        rows = await self.store.fetchall(
            "SELECT s.shipment_id, s.order_id, s.item_id, s.quantity, s.shipped_at, s.carrier, s.carrier_name, "
            "s.tracking, s.ship_method FROM shipments s JOIN orders o ON o.team_id = s.team_id "
            "AND o.order_id = s.order_id WHERE s.team_id = ? AND s.confirmed_at IS NULL AND s.superseded = 0 "
            "AND s.confirm_final = 0 AND s.exported_at IS NULL AND s.shipped_at >= ? AND o.channel = 'MFN' "
            "ORDER BY s.shipped_at, s.shipment_id LIMIT ?",
            (team_id, iso(since), limit),
        )
        return [Shipment(r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6], r[7], r[8], order_id=r[1],
                         shipment_id=r[0]) for r in rows]  # fmt: skip

    async def confirmed(self, shipment_ids: Sequence[int], at: datetime) -> None:
        async with self.store.transaction() as tx:
            await tx.executemany(
                "UPDATE shipments SET confirmed_at = ?, confirm_error = NULL WHERE shipment_id = ?",
                [(iso(at), sid) for sid in shipment_ids],
            )

    async def confirm_failed(self, shipment_ids: Sequence[int], error: str, *, final: bool) -> None:
        """Amazon did not confirm: ``final`` (a refusal) keeps them from being sent again."""
        async with self.store.transaction() as tx:
            await tx.executemany(
                "UPDATE shipments SET confirm_error = ?, confirm_final = ? WHERE shipment_id = ?",
                [(error, int(final), sid) for sid in shipment_ids],
            )

    async def confirm_states(self, team_id: int, order_id: str) -> list[tuple[int, str | None, str | None, int]]:
        """(shipment id, confirmed at, error, final) of an order's current shipments."""
        rows = await self.store.fetchall(
            "SELECT shipment_id, confirmed_at, confirm_error, confirm_final FROM shipments WHERE team_id = ? "
            "AND order_id = ? AND superseded = 0 ORDER BY shipment_id",
            (team_id, order_id),
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

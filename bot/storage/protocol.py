"""The seam between the services and the database, as protocols a server database can fill.

The SQLite ``Store`` and ``AlertStore`` satisfy them (tests/test_storage.py checks every
method's parameters). A PostgreSQL store (asyncpg) would implement the same methods with the
same meaning: writes of one update join its unit of work; an order is saved only at the
version it was read at; the alert ledger decides each (order, kind, deadline) once. Row
classes (``Team``, ``Shipment``...) and the exceptions of ``bot.storage.errors`` are shared.

Not part of the seam: ``transaction()`` and the reads by SQL (``fetchall``), which the
SQLite side's own modules use (``bot/amazon/accounts.py`` too, so a server store brings its
own Amazon tables).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.domain import Event, Goods, Order
    from bot.storage.alerts import DueRow
    from bot.storage.confirmations import Confirmation
    from bot.storage.leases import Lease
    from bot.storage.outbox import OutboxRow
    from bot.storage.shipments import Shipment
    from bot.storage.teams import Team, TeamMove, User
    from bot.storage.unit import OutgoingMessage


class UnitOfWork(Protocol):
    """One update being processed: what the edge may ask of it."""

    update_id: int
    began: bool  # it has written something (its transaction is open)
    closed: bool
    failed: bool

    def queue(self, message: OutgoingMessage) -> None: ...
    def later(self, call: Callable[[], Awaitable[Any]]) -> None: ...
    async def fail(self) -> None: ...


class TeamStore(Protocol):
    """Teams, chats, people and memberships."""

    async def create_team(self, team_id: int, title: str, timezone: str, by: int, at: datetime) -> bool: ...
    async def team(self, team_id: int) -> Team | None: ...
    async def teams(self) -> list[Team]: ...
    async def update_team(self, team_id: int, **changes: object) -> None: ...
    async def team_language(self, team_id: int) -> tuple[str | None, str | None, str | None]: ...
    async def forget_team(self, team_id: int) -> None: ...
    async def move_team(self, old_id: int, new_id: int, *, title: str | None, now: datetime,
                        moved_notice: Callable[[int], dict[str, Any]],
                        occupied_notice: Callable[[int], dict[str, Any]]) -> TeamMove: ...  # fmt: skip
    async def seen(self, *, user_id: int, name: str, username: str | None, telegram_language: str | None,
                   chat_id: int, chat_kind: str, chat_title: str, at: datetime) -> None: ...  # fmt: skip
    async def user(self, user_id: int) -> User | None: ...
    async def chat_language(self, chat_id: int) -> str | None: ...
    async def set_user_language(self, user_id: int, language: str | None) -> None: ...
    async def set_chat_language(self, chat_id: int, language: str | None) -> None: ...
    async def set_member(self, team_id: int, user_id: int, status: str, at: datetime, *, active: bool) -> None: ...
    async def member(self, team_id: int, user_id: int) -> tuple[str, datetime] | None: ...
    async def teams_of(self, user_id: int) -> list[int]: ...


class OrderStore(Protocol):
    """Orders with their items and events; imports."""

    async def find_order_ids(self, team_id: int, *, full: str | None = None, tail: str | None = None,
                             limit: int = 6, open_only: bool = False) -> list[str]: ...  # fmt: skip
    async def order(self, team_id: int, order_id: str) -> Order | None: ...
    async def orders_by_ids(self, team_id: int, order_ids: Sequence[str]) -> dict[str, Order]: ...
    async def save(self, order: Order, event: Event, *, now: datetime,
                   shipments: Sequence[Shipment] = (), supersede: str | None = None) -> bool: ...  # fmt: skip
    async def write_import(self, *, team_id: int, new: Sequence[tuple[Order, Event]],
                           changed: Sequence[tuple[Order, Sequence[Event]]], record: dict[str, Any],
                           now: datetime) -> None: ...  # fmt: skip
    async def list_orders(self, team_id: int, states: Iterable[Goods], *, limit: int, after: str | None = None,
                          before: str | None = None,
                          ship_by: tuple[datetime | None, datetime | None] = (None, None)) -> list[Order]: ...  # fmt: skip
    async def count_orders(self, team_id: int, states: Iterable[Goods], *,
                           ship_by: tuple[datetime | None, datetime | None] = (None, None)) -> int: ...  # fmt: skip
    async def count_by_state(self, team_id: int) -> dict[str, int]: ...
    async def events(
        self, team_id: int, order_id: str, *, limit: int = 50, newest_first: bool = False
    ) -> list[Event]: ...
    async def last_event(self, team_id: int, order_id: str, actions: Iterable[str] = ()) -> Event | None: ...
    async def imported_before(self, team_id: int, sha256: str) -> datetime | None: ...


class ShipmentStore(Protocol):
    """Shipments and what Shipping Confirmation exports took."""

    async def take_for_export(self, team_id: int, export_id: str, now: datetime, *,
                              day: tuple[datetime, datetime] | None = None) -> list[Shipment]: ...  # fmt: skip
    async def untake_export(self, export_id: str, taken_at: datetime) -> None: ...
    async def shipments_of(self, team_id: int, order_id: str) -> list[Shipment]: ...


class ConfirmationStore(Protocol):
    """Questions asked with Yes/No buttons."""

    async def add_confirmation(self, c: Confirmation, now: datetime) -> None: ...
    async def take_confirmation(self, token: str) -> Confirmation | None: ...
    async def peek_confirmation(self, token: str) -> Confirmation | None: ...


class InboxStore(Protocol):
    """Updates kept before their offset is confirmed, each processed as one unit of work."""

    def unit(self, update_id: int) -> AbstractAsyncContextManager[UnitOfWork | None]: ...
    async def store_updates(self, updates: Sequence[tuple[int, str]], now: datetime) -> set[int]: ...
    async def unfinished_updates(self, max_attempts: int) -> list[tuple[int, str]]: ...
    async def purge(self, now: datetime | None = None) -> dict[str, int]: ...
    async def inbox_status(self, update_id: int) -> str | None: ...
    async def first_edit_notice(self, chat_id: int, message_id: int, now: datetime) -> bool: ...
    async def new_updates(self, limit: int = 500) -> list[int]: ...
    async def take_over_updates(self, update_ids: Sequence[int], max_attempts: int) -> list[tuple[int, str]]: ...


class LeaseStore(Protocol):
    """Named leases several replicas share the work by (``bot.replicas``); taking one is atomic."""

    async def take(self, name: str, holder: str, until: datetime, now: datetime) -> bool: ...
    async def release(self, names: list[str], holder: str) -> int: ...
    async def release_all(self) -> int: ...
    async def holders(self, now: datetime) -> list[Lease]: ...


class DeskStore(TeamStore, OrderStore, ShipmentStore, ConfirmationStore, InboxStore, LeaseStore, Protocol):
    """Everything the services ask of the database (``bot.storage.Store`` is the SQLite one)."""

    #: Called when messages were queued in the outbox (the sender wakes up).
    on_queued: Callable[[], None]

    async def open(self) -> None: ...
    async def close(self) -> None: ...


class OutboxStore(Protocol):
    """What the sender reads and marks."""

    async def due_messages(self, now: datetime, limit: int = 64, *,
                           skip_chats: Iterable[int] = ()) -> list[OutboxRow]: ...  # fmt: skip
    async def due_queues(self, now: datetime, *, chats: int = 32, per_chat: int = 100, skip_chats: Iterable[int] = (),
                         only_chat: int | None = None,
                         shards: tuple[int, Sequence[int]] | None = None) -> list[list[OutboxRow]]: ...  # fmt: skip
    async def document(self, outbox_id: int) -> bytes | None: ...
    async def sent(self, outbox_id: int, message_id: int, now: datetime) -> None: ...
    async def sent_together(self, outbox_ids: Sequence[int], message_id: int, now: datetime) -> None: ...
    async def give_up(self, outbox_id: int, error: str) -> None: ...
    async def retry(self, outbox_id: int, not_before: datetime, error: str) -> None: ...
    async def unreachable(self, team_id: int, now: datetime, error: str) -> None: ...
    async def reachable(self, team_id: int, now: datetime) -> None: ...


class AlertLedger(OutboxStore, Protocol):
    """The alert check's reads and its ledger (``bot.storage.AlertStore`` is the SQLite one)."""

    async def due_rows(self, team_id: int, now: datetime, *, ship_horizon: datetime, confirm_before: datetime,
                       pending_before: datetime) -> list[DueRow]: ...  # fmt: skip
    async def already(self, team_id: int, order_ids: Sequence[str]) -> set[tuple[str, str, str]]: ...
    async def record(self, team_id: int, chat_id: int, decided: Sequence[tuple[str, str, str]],
                     messages: Sequence[dict[str, Any]], now: datetime) -> int: ...  # fmt: skip
    async def snooze(self, team_id: int, order_id: str, until: datetime, by: int, kinds: Iterable[str]) -> None: ...
    async def goods_of(self, team_id: int, order_ids: Sequence[str]) -> dict[str, list[tuple[str, int]]]: ...
    async def digest_figures(self, team_id: int, *, now: datetime, day_start: datetime, day_end: datetime,
                             yesterday_start: datetime, shown: int = 10) -> dict[str, Any]: ...  # fmt: skip

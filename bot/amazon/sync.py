"""Live sync with Amazon's Selling Partner API: orders in, shipment confirmations out.

For each team with credentials (set with ``/amazon`` in a private chat, or in the
environment for one team), one run:

1. confirms with ``confirmShipment`` what the team shipped in the chat since it connected:
   one package per order and tracking number, with its items and quantities. A refusal
   (4xx) is reported into the group once and not sent again until the shipment changes (a
   tracking correction makes new shipment rows); a throttle, an Amazon error (5xx) or the
   network leaves it for the next run;
2. asks ``getOrders`` for the orders updated since the watermark, page by page
   (``NextToken``), fetches the items of orders new to the desk (and of partially shipped
   ones, for the quantities), and applies each page like a report import, through the
   lifecycle (the importer's ``apply_orders``). Applying an order again changes nothing, so
   pages may overlap and a run may be repeated;
3. moves the watermark (``LastUpdatedAfter`` of the next run) only after every page was
   applied: to the newest ``LastUpdateDate`` seen, minus a few minutes for orders Amazon
   indexes late. A run that fails leaves it where it was, and the next run starts again
   from there.

Amazon's statuses are read as goods states by ``bot.amazon.model.GOODS_OF_STATUS``; the
Orders API's JSON is mapped in ``bot.amazon.orders_api``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import i18n
from bot.amazon.accounts import AmazonAccount, AmazonStore
from bot.amazon.model import ORDER_ID_RE, ImportedOrder
from bot.amazon.notices import (
    auth_failure_message,
    confirm_failures_messages,
    unreadable_credentials_message,
)
from bot.amazon.orders_api import Package, api_time, imported_order, packages
from bot.amazon.redaction import remember_secrets
from bot.amazon.secret_box import KEY_COMMAND, SecretBox, SecretUnreadable, reseal
from bot.amazon.spapi import (
    LOGIN_HOSTS,
    SPAPI_HOSTS,
    AuthError,
    Credentials,
    SpApiClient,
    SpApiError,
    endpoint_of,
    endpoint_ok,
)
from bot.domain import Actor, Refusal
from bot.refusal_codes import AmazonCode
from bot.replicas import EVERYTHING, Partition
from bot.storage import AlertDecidedMeanwhile, AlertStore, OrderChangedMeanwhile, Store

log = logging.getLogger("dingdan.sync")

ACTOR = Actor.importer("Amazon (SP-API)")
#: Orders Amazon indexes late still come: the next run looks back this far before the newest seen.
OVERLAP = timedelta(minutes=5)
# The first run of a new connection looks back DINGDAN_SYNC_LOOKBACK_DAYS (7 by default):
# long enough for every order still to ship; older history comes from an Order report.
_CONFLICT_ATTEMPTS = 3


class SyncSettings(Protocol):
    """What the sync reads from ``bot.settings.Settings``."""

    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def sync_lookback_days(self) -> int: ...
    @property
    def spapi_refresh_token(self) -> str: ...
    @property
    def spapi_client_id(self) -> str: ...
    @property
    def spapi_client_secret(self) -> str: ...
    @property
    def spapi_marketplace(self) -> str: ...
    @property
    def spapi_endpoint(self) -> str: ...
    @property
    def spapi_auth_url(self) -> str: ...
    @property
    def spapi_team(self) -> int | None: ...
    @property
    def spapi_allow_hosts(self) -> tuple[str, ...]: ...
    @property
    def secret_keys(self) -> tuple[str, ...]: ...


class Applied(Protocol):
    """What applying a page of orders did (``bot.importing.ImportResult``)."""

    @property
    def new(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def new_ids(self) -> list[str]: ...


class OrdersImporter(Protocol):
    """What the sync needs of the importer (``bot.importing.Importer``): Amazon's orders applied
    to the desk through the lifecycle, in one transaction, as a report's are."""

    async def apply_orders(self, team_id: int, orders: Sequence[ImportedOrder], *, actor: Actor,
                           source: dict[str, Any], record: dict[str, Any]) -> Applied: ...  # fmt: skip


# --- the service ----------------------------------------------------------------------------


@dataclass
class SyncResult:
    pages: int = 0
    orders: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    items_fetched: int = 0
    confirmed: int = 0
    refused: int = 0
    error: str | None = None
    new_ids: list[str] = field(default_factory=list)

    def add(self, applied: Applied) -> None:
        self.new += applied.new
        self.updated += applied.updated
        self.unchanged += applied.unchanged
        self.new_ids += applied.new_ids


@dataclass(frozen=True)
class Connection:
    """A team's connection as ``/amazon`` shows it: never a secret."""

    connected: bool
    source: str | None = None  # "chat" | "env"
    marketplace_id: str | None = None
    endpoint: str | None = None
    watermark: datetime | None = None
    synced_at: datetime | None = None
    status: str = "new"
    error: str | None = None
    env_available: bool = False  # the environment has credentials for this team


class SyncBusy(Exception):
    """The orders kept changing while a page was applied."""


class AmazonSync:
    def __init__(
        self,
        store: Store,
        importer: OrdersImporter,
        settings: SyncSettings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.accounts = AmazonStore(store)
        self.alert_store = AlertStore(store)
        self.importer = importer
        self.settings = settings
        self.clock = settings.clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.client_options = client_options or {}
        self._clients: dict[int, SpApiClient] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        #: The teams this process syncs on its own: all, or this replica's shards (``bot.replicas``).
        self.partition: Partition = EVERYTHING
        self._warned_env = False
        #: Teams whose stored credentials no key decrypts, already logged (once per set of credentials).
        self._unreadable_logged: set[tuple[int, datetime]] = set()
        self.box = SecretBox(settings.secret_keys)
        remember_secrets(self._env_secrets())

    # --- credentials -------------------------------------------------------------

    def _env_secrets(self) -> tuple[str, str, str]:
        s = self.settings
        return (s.spapi_client_id, s.spapi_client_secret, s.spapi_refresh_token)

    async def env_team(self) -> int | None:
        """The team the environment's credentials serve: DINGDAN_SPAPI_TEAM, else the only team."""
        s = self.settings
        if not all(self._env_secrets()) or not s.spapi_marketplace:
            return None
        if s.spapi_team is not None:
            return s.spapi_team if await self.store.team(s.spapi_team) is not None else None
        teams = await self.store.teams()
        if len(teams) == 1:
            return teams[0].team_id
        if teams and not self._warned_env:
            log.warning("Selling Partner API credentials in the environment, but %d teams: set DINGDAN_SPAPI_TEAM",
                        len(teams))  # fmt: skip
            self._warned_env = True
        return None

    async def _credentials(self, team_id: int) -> tuple[AmazonAccount, Credentials] | None:
        """The team's account and credentials: its own (set in the chat), else the environment's."""
        account = await self.accounts.account(team_id)
        auth_url = self.settings.spapi_auth_url
        if account is not None and account.source == "chat":
            assert account.client_id and account.client_secret and account.refresh_token
            client_secret, refresh_token = self.box.open(account.client_secret), self.box.open(account.refresh_token)
            remember_secrets((account.client_id, client_secret, refresh_token))
            return account, Credentials(account.endpoint, auth_url, account.client_id, client_secret, refresh_token)
        if await self.env_team() != team_id:
            return None
        s = self.settings
        endpoint = self.env_endpoint()
        if account is None or (account.marketplace_id, account.endpoint) != (s.spapi_marketplace, endpoint):
            await self.accounts.use_environment(team_id, marketplace_id=s.spapi_marketplace, endpoint=endpoint,
                                                at=self.clock())  # fmt: skip
            account = await self.accounts.account(team_id)
            assert account is not None
        return account, Credentials(endpoint, auth_url, s.spapi_client_id, s.spapi_client_secret,
                                    s.spapi_refresh_token)  # fmt: skip

    def env_endpoint(self) -> str:
        """DINGDAN_SPAPI_ENDPOINT, else the region of DINGDAN_SPAPI_MARKETPLACE."""
        return self.settings.spapi_endpoint or endpoint_of(self.settings.spapi_marketplace)

    def _client(self, team_id: int, credentials: Credentials) -> SpApiClient:
        """One client per team, kept between runs: its access token and rate limits carry over."""
        client = self._clients.get(team_id)
        if client is None or client.credentials != credentials:
            client = SpApiClient(credentials, monotonic=self.monotonic, sleep=self.sleep, **self.client_options)
            self._clients[team_id] = client
        return client

    def _lock(self, team_id: int) -> asyncio.Lock:
        return self._locks.setdefault(team_id, asyncio.Lock())

    def endpoint_allowed(self, endpoint: str) -> bool:
        """https on Amazon's Selling Partner API hosts, or a host the operator allowed."""
        return endpoint_ok(endpoint, SPAPI_HOSTS, self.settings.spapi_allow_hosts)

    def _refused_address(self, credentials: Credentials) -> str | None:
        """The endpoint or token URL the client must not send the secrets to (one stored by an
        older version, which took any address), if any."""
        allowed = self.settings.spapi_allow_hosts
        if not endpoint_ok(credentials.endpoint, SPAPI_HOSTS, allowed):
            return credentials.endpoint
        if not endpoint_ok(credentials.auth_url, LOGIN_HOSTS, allowed):
            return credentials.auth_url
        return None

    async def configure(self, team_id: int, *, marketplace_id: str, client_id: str, client_secret: str,
                        refresh_token: str, endpoint: str, by: int | None) -> None:  # fmt: skip
        """Store the team's credentials, the secrets encrypted. Refused, with nothing stored, when
        the server has no DINGDAN_SECRET_KEY or the endpoint is not one the client may call."""
        remember_secrets((client_id, client_secret, refresh_token))
        if not self.box.can_seal:
            raise Refusal(AmazonCode.amazon_no_secret_key, command=KEY_COMMAND)
        if not self.endpoint_allowed(endpoint):
            allowed = self.settings.spapi_allow_hosts
            raise Refusal(AmazonCode.amazon_bad_endpoint_allowed if allowed else AmazonCode.amazon_bad_endpoint,
                          hosts=sorted(SPAPI_HOSTS, key=lambda h: (h.startswith("sandbox."), h)),
                          allowed=list(allowed))  # fmt: skip
        sealed_secret, sealed_token = self.box.seal(client_secret), self.box.seal(refresh_token)
        async with self._lock(team_id):
            await self.accounts.save_credentials(
                team_id, marketplace_id=marketplace_id, endpoint=endpoint, client_id=client_id,
                client_secret=sealed_secret, refresh_token=sealed_token, by=by, at=self.clock(),
            )  # fmt: skip
            self._clients.pop(team_id, None)

    async def seal_stored_secrets(self) -> None:
        """At start-up: encrypt the secrets an older version stored in clear, or say they are."""
        done = await reseal(self.accounts, self.box, rotate=False)
        if done.resealed:
            log.info("encrypted the Amazon credentials of %d team(s) that were stored in clear", len(done.resealed))
        if done.clear:
            log.warning("the Amazon credentials of %d team(s) are stored in clear: set DINGDAN_SECRET_KEY (see the "
                        "README) and restart to encrypt them", len(done.clear))  # fmt: skip
        if done.unreadable:
            log.warning("the Amazon credentials of team(s) %s cannot be decrypted with DINGDAN_SECRET_KEY",
                        ", ".join(map(str, done.unreadable)))  # fmt: skip

    async def verify(self, team_id: int) -> SpApiError | None:
        """Ask Login with Amazon for a token with the team's credentials: None when it gave one."""
        try:
            found = await self._credentials(team_id)
        except SecretUnreadable:
            raise Refusal(AmazonCode.amazon_secrets_unreadable) from None
        if found is None:
            raise Refusal(AmazonCode.amazon_not_connected)
        client = self._client(team_id, found[1])
        try:
            async with client:
                await client.access_token()
        except SpApiError as err:
            return err
        return None

    async def disconnect(self, team_id: int) -> tuple[bool, bool]:
        """Forget the team's own credentials: (there were some, the environment's still serve it)."""
        async with self._lock(team_id):
            account = await self.accounts.account(team_id)
            removed = account is not None and account.source == "chat"
            if removed:
                await self.accounts.forget(team_id)
            self._clients.pop(team_id, None)
        return removed, await self.env_team() == team_id

    async def connection(self, team_id: int) -> Connection:
        env = await self.env_team() == team_id
        account = await self.accounts.account(team_id)
        if account is None or (account.source == "env" and not env):
            if env:
                s = self.settings
                return Connection(True, "env", s.spapi_marketplace, self.env_endpoint(), env_available=True)
            return Connection(False, env_available=env)
        return Connection(True, account.source, account.marketplace_id, account.endpoint, account.last_sync,
                          account.synced_at, account.sync_status, account.sync_error, env)  # fmt: skip

    # --- runs ------------------------------------------------------------------------------

    async def run_all(self) -> None:
        """The repeating job: every connected team; one team's trouble never stops the others."""
        team_ids = {a.team_id for a in await self.accounts.accounts() if a.source == "chat"}
        env = await self.env_team()
        if env is not None:
            team_ids.add(env)
        # Teams side by side: each has its own rate limits, and one waiting on Amazon's
        # must not hold up the others.
        await asyncio.gather(*(self._run_quietly(team_id) for team_id in sorted(team_ids)))

    async def _run_quietly(self, team_id: int) -> None:
        with self.partition.working(team_id) as mine:
            if mine:  # else another replica syncs it
                await self._run_one(team_id)

    async def _run_one(self, team_id: int) -> None:
        try:
            await self.run_team(team_id)
        except Refusal:
            pass  # disconnected meanwhile, or credentials it cannot use (reported by run_team)
        except Exception:
            log.exception("the Amazon sync of team %s failed", team_id)

    async def run_team(self, team_id: int) -> SyncResult:
        """Confirm the team's new shipments, then bring in the orders Amazon updated."""
        async with self._lock(team_id):
            try:
                found = await self._credentials(team_id)
            except SecretUnreadable:
                await self._credentials_unreadable(team_id)
                raise Refusal(AmazonCode.amazon_secrets_unreadable) from None
            if found is None:
                raise Refusal(AmazonCode.amazon_not_connected)
            account, credentials = found
            refused = self._refused_address(credentials)
            if refused is not None:
                log.warning(
                    "Amazon sync of team %s: %s is not an allowed Selling Partner API address", team_id, refused
                )
                await self.accounts.sync_failed(team_id, f"{refused} is not an allowed address", self.clock())
                raise Refusal(AmazonCode.amazon_address_refused, endpoint=html.escape(refused))
            client = self._client(team_id, credentials)
            result = SyncResult()
            try:
                async with client:
                    await self._confirm(account, client, result)
                    await self._sync_orders(account, client, result)
            except SpApiError as err:
                result.error = err.text
                log.warning("Amazon sync of team %s stopped: %s %s", team_id, err.operation, err.text)
                await self.accounts.sync_failed(team_id, err.text, self.clock())
                if isinstance(err, AuthError):
                    await self._report_auth_failure(account, err)
            except SyncBusy:
                result.error = "the orders kept changing while they were applied"
                await self.accounts.sync_failed(team_id, result.error, self.clock())
            return result

    async def _sync_orders(self, account: AmazonAccount, client: SpApiClient, result: SyncResult) -> None:
        team_id = account.team_id
        start = self.clock()
        after = account.last_sync or start - timedelta(days=self.settings.sync_lookback_days)
        newest: datetime | None = None
        next_token: str | None = None
        while True:
            page = await client.get_orders(account.marketplace_id, last_updated_after=after, next_token=next_token)
            result.pages += 1
            latest: dict[str, dict[str, Any]] = {}
            for raw in page.orders:
                order_id = str(raw.get("AmazonOrderId") or "")
                if not ORDER_ID_RE.fullmatch(order_id):
                    log.warning("skipped an order without a usable AmazonOrderId")
                    continue
                seen = latest.get(order_id)
                if seen is None or (api_time(raw.get("LastUpdateDate")) or start) >= (
                    api_time(seen.get("LastUpdateDate")) or start
                ):
                    latest[order_id] = raw
            known = await self.store.orders_by_ids(team_id, list(latest))
            imported = []
            for order_id, raw in latest.items():
                items: list[dict[str, Any]] = []
                if order_id not in known or raw.get("OrderStatus") == "PartiallyShipped":
                    items = await client.get_order_items(order_id)
                    result.items_fetched += 1
                imported.append(imported_order(raw, items))
                updated = api_time(raw.get("LastUpdateDate"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
            if imported:
                result.add(await self._apply(team_id, imported))
                result.orders += len(imported)
            next_token = page.next_token
            if not next_token:
                break
        # Every page is in: the next run starts a little before the newest change seen.
        watermark = after if newest is None else max(after, min(newest, start) - OVERLAP)
        await self.accounts.synced(team_id, watermark, self.clock())

    async def _apply(self, team_id: int, orders: list[ImportedOrder]) -> Applied:
        record = {"kind": "sp_api", "sha256": "", "filename": "", "rows": len(orders)}
        for _attempt in range(_CONFLICT_ATTEMPTS):
            try:
                return await self.importer.apply_orders(team_id, orders, actor=ACTOR, source={"api": "getOrders"},
                                                        record=record)  # fmt: skip
            except OrderChangedMeanwhile:
                continue  # someone acted on one of these orders meanwhile: read them again
        raise SyncBusy

    async def _confirm(self, account: AmazonAccount, client: SpApiClient, result: SyncResult) -> None:
        team_id = account.team_id
        # What was shipped before the team connected went to Amazon another way (a file,
        # Seller Central): only shipments from then on are confirmed through the API.
        shipments = await self.accounts.to_confirm(team_id, since=account.configured_at)
        refused: list[tuple[Package, str]] = []
        for package in packages(shipments):
            try:
                await client.confirm_shipment(package.order_id, account.marketplace_id, package.detail())
            except AuthError:
                raise
            except SpApiError as err:
                if err.transient:
                    # Amazon is busy or away: leave the rest for the next run.
                    await self.accounts.confirm_failed(package.shipment_ids, err.text, final=False)
                    log.warning("confirmShipment of %s: %s; trying again next run", package.order_id, err.text)
                    break
                refused.append((package, err.text))
                continue
            await self.accounts.confirmed(package.shipment_ids, self.clock())
            result.confirmed += 1
        if refused:
            await self._report_refusals(team_id, refused)
            for package, error in refused:
                await self.accounts.confirm_failed(package.shipment_ids, error, final=True)
            result.refused += len(refused)

    # --- telling the group ----------------------------------------------------------------

    async def _locale(self, team_id: int) -> str:
        chat, chosen, telegram = await self.store.team_language(team_id)
        return i18n.resolve(chat, chosen, telegram)

    async def _queue(self, team_id: int, decided: list[tuple[str, str, str]], messages: list[dict[str, Any]]) -> None:
        """Into the group's outbox, once per decided key (a restart between reporting and
        recording the refusal does not report it twice)."""
        try:
            await self.alert_store.record(team_id, team_id, decided, messages, self.clock())
        except AlertDecidedMeanwhile:
            pass  # already reported

    async def _report_refusals(self, team_id: int, refused: list[tuple[Package, str]]) -> None:
        with i18n.using(await self._locale(team_id)):
            messages = confirm_failures_messages(refused)
        decided = [(p.order_id, "amazon_confirm", f"{p.tracking}#{p.reference}") for p, _error in refused]
        await self._queue(team_id, decided, messages)

    async def _credentials_unreadable(self, team_id: int) -> None:
        """No key decrypts the team's credentials: the sync stops for this team only, says so in
        its status, and tells the group once per set of credentials."""
        account = await self.accounts.account(team_id)
        assert account is not None
        error = "the stored credentials cannot be decrypted with DINGDAN_SECRET_KEY"
        await self.accounts.sync_failed(team_id, error, self.clock())
        if (team_id, account.secrets_at) not in self._unreadable_logged:
            self._unreadable_logged.add((team_id, account.secrets_at))
            log.warning("Amazon sync of team %s stopped: %s", team_id, error)
        with i18n.using(await self._locale(team_id)):
            message = unreadable_credentials_message()
        await self._queue(team_id, [("*", "amazon_secrets", account.secrets_at.isoformat())], [message])

    async def _report_auth_failure(self, account: AmazonAccount, err: SpApiError) -> None:
        with i18n.using(await self._locale(account.team_id)):
            message = auth_failure_message(err.text)
        # Once per set of credentials and kind of refusal: new credentials may be refused again.
        key = f"{account.source}/{account.secrets_at.isoformat()}/{err.code}"
        await self._queue(account.team_id, [("*", "amazon_auth", key)], [message])

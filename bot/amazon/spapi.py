"""A small client of Amazon's Selling Partner API (Orders API v0) over httpx.

Only what the desk needs: a Login with Amazon (LWA) access token from the refresh token,
``getOrders`` with ``NextToken`` paging, ``getOrderItems`` and ``confirmShipment``.

Why not python-amazon-sp-api: its endpoint comes only from its ``Marketplaces`` enum (the
``Host`` header is cut from the endpoint as if it always began with ``https://``), the LWA
address is a class attribute, access tokens sit in a module-wide cache for a fixed 3,200 s
whatever ``expires_in`` says, and it logs request headers (the access token) at DEBUG. A
test transport (or a test server) and an injected clock need neither hack nor monkeypatch here.

Amazon's rules kept here:

- each operation has its own token bucket (getOrders about one request a minute with a
  burst of 20; getOrderItems 0.5/s, burst 30; confirmShipment 2/s, burst 10): requests
  wait for a token instead of being throttled;
- a 429 waits for ``Retry-After`` when Amazon sends it, else backs off (and empties the
  bucket, so the next request waits a whole refill); the same request is sent again, so a
  page is never skipped;
- a 5xx or a network error backs off and retries a bounded number of times;
- an access token lives ``expires_in`` seconds (an hour); it is refreshed a minute early,
  and once more when Amazon says it has expired.

Secrets (client secret, refresh token, access token) never go into a log line, an
exception message or a ``repr`` (:mod:`bot.amazon.redaction`).

Requests go through an httpx transport the caller may give (``transport=``): tests of the
client give an ``httpx.MockTransport`` and need no server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from bot.amazon.redaction import redact
from bot.backoff import TokenBucket, backoff_wait, retry_after

log = logging.getLogger("dingdan.spapi")

#: North America; Europe is sellingpartnerapi-eu, the Far East sellingpartnerapi-fe.
DEFAULT_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
DEFAULT_AUTH_URL = "https://api.amazon.com/auth/o2/token"
REGION_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
#: Marketplace ids (developer-docs.amazon.com/sp-api/docs/marketplace-ids): country, region.
MARKETPLACES: dict[str, tuple[str, str]] = {
    "A2EUQ1WTGCTBG2": ("CA", "na"), "ATVPDKIKX0DER": ("US", "na"), "A1AM78C64UM0Y8": ("MX", "na"),
    "A2Q3Y263D00KWC": ("BR", "na"), "A1RKKUPIHCS9HS": ("ES", "eu"), "A1F83G8C2ARO7P": ("GB", "eu"),
    "A13V1IB3VIYZZH": ("FR", "eu"), "AMEN7PMS3EDWL": ("BE", "eu"), "A1805IZSGTT6HS": ("NL", "eu"),
    "A1PA6795UKMFR9": ("DE", "eu"), "APJ6JRA9NG5V4": ("IT", "eu"), "A2NODRKZP88ZB9": ("SE", "eu"),
    "AE08WJ6YKNBMC": ("ZA", "eu"), "A1C3SOZRARQ6R3": ("PL", "eu"), "ARBP9OOSHTCHU": ("EG", "eu"),
    "A33AVAJ2PDY3EV": ("TR", "eu"), "A17E79C6D8DWNP": ("SA", "eu"), "A2VIGQ35RCS4UG": ("AE", "eu"),
    "A21TJRUUN4KGV": ("IN", "eu"), "A28R8C7NBKEWEA": ("IE", "eu"), "A19VAU5U5O7RUS": ("SG", "fe"),
    "A39IBJ37TRP1C6": ("AU", "fe"), "A1VC38T7YXB528": ("JP", "fe"),
}  # fmt: skip
_MARKETPLACE_RE = re.compile(r"A[0-9A-Z]{8,15}")

USER_AGENT = "dingdan/0.1 (Language=Python)"
#: Requests per second and burst of each operation (Orders API v0 usage plans).
LIMITS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "confirmShipment": (2.0, 10),
}
#: An access token is refreshed this long before Amazon says it expires.
_TOKEN_MARGIN = 60.0


def marketplace_ok(marketplace_id: str) -> bool:
    return marketplace_id in MARKETPLACES or bool(_MARKETPLACE_RE.fullmatch(marketplace_id))


def endpoint_of(marketplace_id: str) -> str:
    """The regional endpoint serving a marketplace (North America when unknown)."""
    _country, region = MARKETPLACES.get(marketplace_id, ("", "na"))
    return REGION_ENDPOINTS[region]


#: Amazon's own hosts. The client sends the seller's secrets and access token to them, so an
#: endpoint anyone could type (``/amazon set … http://127.0.0.1:9/x``) must be one of these,
#: over https; the operator may allow others (DINGDAN_SPAPI_ALLOW_HOSTS), the tests do.
SPAPI_HOSTS = frozenset(f"{sandbox}sellingpartnerapi-{region}.amazon.com"
                        for region in ("na", "eu", "fe") for sandbox in ("", "sandbox."))  # fmt: skip
#: Login with Amazon's token endpoints (https://…/auth/o2/token).
LOGIN_HOSTS = frozenset({"api.amazon.com", "api.amazon.co.uk", "api.amazon.co.jp"})


def parse_allowed_host(entry: str) -> str:
    """An operator's ``host`` or ``host:port`` (``[::1]:8443`` for IPv6), lower-cased; ValueError if neither."""
    from urllib.parse import urlsplit

    entry = entry.strip()
    if not entry or any(c in entry for c in "/?#@ \t"):
        raise ValueError(entry)
    parts = urlsplit(f"//{entry}")
    host, port = parts.hostname, parts.port  # .port raises ValueError for a bad port
    if not host:
        raise ValueError(entry)
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown


def endpoint_ok(endpoint: str, hosts: frozenset[str] = SPAPI_HOSTS, allowed: Iterable[str] = ()) -> bool:
    """https on one of Amazon's ``hosts`` (its default port), or http(s) on a host the operator
    ``allowed`` (``host`` any port, ``host:port`` that port). Never credentials, a query or a fragment."""
    try:
        url = httpx.URL(endpoint)
    except (httpx.InvalidURL, TypeError):
        return False
    if not url.host or url.query or url.fragment or url.userinfo or url.scheme not in ("http", "https"):
        return False
    if url.scheme == "https" and url.port in (None, 443) and url.host in hosts:
        return True
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    return any(entry in (host, f"{host}:{port}") for entry in allowed)


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with Z, as the Orders API writes and reads times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Credentials:
    """What it takes to call the API for one seller account: the LWA app and the seller's
    authorisation (refresh token). The secrets are left out of ``repr``."""

    endpoint: str
    auth_url: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)

    @property
    def secrets(self) -> tuple[str, str, str]:
        return (self.client_id, self.client_secret, self.refresh_token)


class SpApiError(Exception):
    """Amazon said no, or could not be reached. ``str()`` is Amazon's code and message only."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        self.operation = operation
        self.status = status  # HTTP status; 0 when Amazon could not be reached
        self.code = code
        self.message = redact(message)  # in case Amazon (or a wrong endpoint) repeats what it was sent
        super().__init__(self.text)

    @property
    def text(self) -> str:
        what = f"{self.code}: {self.message}" if self.message else self.code
        return f"{self.status} {what}" if self.status else what

    @property
    def transient(self) -> bool:
        """Worth trying again later as it is: throttled, Amazon's side, or the network."""
        return self.status in (0, 429) or self.status >= 500


class AuthError(SpApiError):
    """Login with Amazon refused the client id, client secret or refresh token."""


@dataclass
class OrdersPage:
    orders: list[dict[str, Any]]
    next_token: str | None


class SpApiClient:
    """One seller account's client. Use as ``async with client: ...`` (the HTTP connection
    lives for the block); the access token and the rate limiters outlive it."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        attempts: int = 5,
        throttled_attempts: int = 10,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 30.0,
        limits: dict[str, tuple[float, int]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        #: Where requests go: httpx's own network transport unless given one (tests give an
        #: ``httpx.MockTransport``, so the client is tested without a server). httpx closes it
        #: with each ``async with`` block: give one that works again after ``aclose()``.
        self.transport = transport
        self.monotonic = monotonic
        self.sleep = sleep
        self.attempts = attempts
        self.throttled_attempts = throttled_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.buckets = {op: TokenBucket(rate, burst, monotonic=monotonic, sleep=sleep)
                        for op, (rate, burst) in (limits or LIMITS).items()}  # fmt: skip
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"SpApiClient({self.credentials.endpoint!r})"

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(timeout=self.timeout, headers={"user-agent": USER_AGENT},
                                       transport=self.transport)  # fmt: skip
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None, "use the client as `async with client:`"
        return self._http

    # --- the operations ------------------------------------------------------------

    async def get_orders(self, marketplace_id: str, *, last_updated_after: datetime | None = None,
                         next_token: str | None = None, max_results: int = 100) -> OrdersPage:  # fmt: skip
        """One page of orders updated after ``last_updated_after`` (or the page ``next_token`` names)."""
        params: dict[str, str] = {"MarketplaceIds": marketplace_id}
        if next_token:
            params["NextToken"] = next_token
        else:
            assert last_updated_after is not None
            params["LastUpdatedAfter"] = iso_z(last_updated_after)
            params["MaxResultsPerPage"] = str(max_results)
        body = await self._json("getOrders", "GET", "/orders/v0/orders", params=params)
        payload = body.get("payload") or {}
        return OrdersPage(list(payload.get("Orders") or []), payload.get("NextToken") or None)

    async def get_order_items(self, order_id: str) -> list[dict[str, Any]]:
        """Every item of an order (following ``NextToken``)."""
        items: list[dict[str, Any]] = []
        next_token: str | None = None
        while True:
            params = {"NextToken": next_token} if next_token else None
            body = await self._json("getOrderItems", "GET", f"/orders/v0/orders/{order_id}/orderItems", params=params)
            payload = body.get("payload") or {}
            items += payload.get("OrderItems") or []
            next_token = payload.get("NextToken") or None
            if not next_token:
                return items

    async def confirm_shipment(self, order_id: str, marketplace_id: str, package: dict[str, Any]) -> None:
        """Tell Amazon one package of an order left (204 No Content on success)."""
        await self._call("confirmShipment", "POST", f"/orders/v0/orders/{order_id}/shipmentConfirmation",
                         json={"packageDetail": package, "marketplaceId": marketplace_id})  # fmt: skip

    async def access_token(self) -> str:
        """A valid access token, from Login with Amazon when the last one is (nearly) expired."""
        if self._token is not None and self.monotonic() < self._token_until:
            return self._token
        async with self._token_lock:
            if self._token is not None and self.monotonic() < self._token_until:
                return self._token
            return await self._refresh_token()

    # --- plumbing ----------------------------------------------------------------------

    def _wait(self, failures: int) -> float:
        return backoff_wait(failures, self.backoff, self.max_backoff)

    async def _refresh_token(self) -> str:
        creds = self.credentials
        form = {"grant_type": "refresh_token", "refresh_token": creds.refresh_token,
                "client_id": creds.client_id, "client_secret": creds.client_secret}  # fmt: skip
        failures = 0
        while True:
            try:
                response = await self.http.post(creds.auth_url, data=form)
            except httpx.TransportError as err:
                failures += 1
                if failures >= self.attempts:
                    raise SpApiError("login", 0, type(err).__name__, "Login with Amazon could not be reached") from None
                await self.sleep(self._wait(failures))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                failures += 1
                if failures >= self.attempts:
                    raise SpApiError("login", response.status_code, "LoginUnavailable", _reason(response)) from None
                await self.sleep(retry_after(response) or self._wait(failures))
                continue
            body = _body(response)
            if response.status_code != 200 or not body.get("access_token"):
                code = str(body.get("error") or "login_refused")
                raise AuthError("login", response.status_code, code, str(body.get("error_description") or ""))
            self._token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or 3600)
            self._token_until = self.monotonic() + max(lifetime - _TOKEN_MARGIN, lifetime / 2)
            log.info("new Selling Partner API access token, valid %d s", lifetime)
            return self._token

    async def _json(self, operation: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._call(operation, method, path, **kwargs)
        body = _body(response)
        if not isinstance(body, dict):
            raise SpApiError(operation, response.status_code, "BadResponse", "not a JSON object")
        return body

    async def _call(self, operation: str, method: str, path: str, *, params: dict[str, str] | None = None,
                    json: dict[str, Any] | None = None) -> httpx.Response:  # fmt: skip
        bucket = self.buckets[operation]
        url = self.credentials.endpoint.rstrip("/") + path
        failures = throttled = 0
        refreshed = False
        while True:
            await bucket.take()
            token = await self.access_token()
            headers = {"x-amz-access-token": token, "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}
            try:
                response = await self.http.request(method, url, params=params, json=json, headers=headers)
            except httpx.TransportError as err:
                failures += 1
                log.warning("%s: %s (attempt %d of %d)", operation, type(err).__name__, failures, self.attempts)
                if failures >= self.attempts:
                    raise SpApiError(operation, 0, type(err).__name__, "Amazon could not be reached") from None
                await self.sleep(self._wait(failures))
                continue
            status = response.status_code
            if status == 429:
                throttled += 1
                log.info("%s throttled by Amazon (%d of %d)", operation, throttled, self.throttled_attempts)
                if throttled >= self.throttled_attempts:
                    raise _error(operation, response)
                wait = retry_after(response)
                if wait is None:
                    # Amazon's bucket is empty: wait at least one refill, longer each time.
                    bucket.drain()
                    wait = max(self._wait(throttled), 1 / bucket.rate)
                await self.sleep(wait)
                continue
            if status >= 500:
                failures += 1
                log.warning("%s: HTTP %d from Amazon (attempt %d of %d)", operation, status, failures, self.attempts)
                if failures >= self.attempts:
                    raise _error(operation, response)
                await self.sleep(retry_after(response) or self._wait(failures))
                continue
            if status in (401, 403) and not refreshed and _token_refused(response):
                # Expired or revoked early: one new token, then the same request again.
                self._token = None
                refreshed = True
                continue
            if status >= 400:
                raise _error(operation, response)
            return response


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _reason(response: httpx.Response) -> str:
    return response.reason_phrase or f"HTTP {response.status_code}"


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = _body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error(operation: str, response: httpx.Response) -> SpApiError:
    """Amazon's first error (code, message, details), without anything we sent."""
    errors = _errors(response)
    if not errors:
        return SpApiError(operation, response.status_code, _reason(response), "")
    first = errors[0]
    message = " ".join(str(first.get(k) or "").strip() for k in ("message", "details")).strip()
    return SpApiError(operation, response.status_code, str(first.get("code") or _reason(response)), message[:500])


def _token_refused(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    text = " ".join(f"{e.get('code', '')} {e.get('message', '')} {e.get('details', '')}" for e in _errors(response))
    return "token" in text.lower() and ("expired" in text.lower() or "invalid" in text.lower())

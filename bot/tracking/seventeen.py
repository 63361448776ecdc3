"""17TRACK's Tracking API v2.2 over httpx: the first :class:`~bot.tracking.provider.TrackingProvider`.

From 17TRACK's public documentation (asset.17track.net/api/document/v2.2_en, and
help.17track.net's "Error Codes and Troubleshooting" and "Understanding Tracking Status"):

- every call is a JSON POST to ``{base}/{operation}`` with the key in the ``17token`` header;
  ``register``, ``gettrackinfo``, ``stoptrack`` and ``retrack`` take a list of at most 40
  ``{"number", "carrier"}`` objects (more is error -18010014);
- the answer is ``{"code": 0, "data": {"accepted": [...], "rejected": [...]}}``; a rejected
  entry is ``{"number", "error": {"code", "message"}}``: -18019901 "already registered",
  -18019902 "not registered yet", -18019903 "carrier cannot be detected", -18010003 "internal
  service error, try again later";
- ``gettrackinfo`` gives ``track_info.latest_status`` (``status``: one of nine main statuses,
  ``sub_status``), ``track_info.latest_event`` (``time_iso``/``time_utc``, ``location``,
  ``description``) and ``track_info.milestone`` (``key_stage``, ``time_utc``);
- ``getquota`` gives ``quota_total``, ``quota_used`` and ``quota_remain``;
- HTTP 401 is a wrong key (or an IP not allowed), 429 "access frequency exceeds limit"
  (3 requests a second), 500/503 the provider's side.

Limits and retries as the Selling Partner API client does them (:mod:`bot.amazon.spapi`): a
token bucket waits instead of being throttled; a 429 empties it and backs off, a 5xx or a
network error backs off, each a bounded number of times, and the same request goes again.
The key never goes into a log line or an exception (it is remembered as a secret).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.amazon.redaction import remember_secrets
from bot.backoff import TokenBucket, backoff_wait, retry_after
from bot.tracking.provider import (
    Accepted,
    Answer,
    Parcel,
    Quota,
    Rejected,
    Tracked,
    TrackEvent,
    TrackInfo,
    TrackingError,
    TrackStatus,
)

log = logging.getLogger("dingdan.tracking")

DEFAULT_URL = "https://api.17track.net/track/v2.2"
#: Numbers in one request.
BATCH = 40
#: Requests a second, and at once: one at a time, a third of a second apart (17TRACK counts 3 in any second).
RATE = (3.0, 1)

ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
CARRIER_UNKNOWN = -18019903
INTERNAL_ERROR = -18010003
_TRANSIENT = frozenset({INTERNAL_ERROR})
#: What is wrong with the number itself (or what was sent with it): asking again changes nothing.
#: Any other code of a rejected number (17TRACK's side, the month's quota spent) is tried again later.
_FOR_GOOD = frozenset({CARRIER_UNKNOWN, -18010010, -18010011, -18010012, -18010013, -18010015, -18010016,
                       -18010018, -18010019, -18010020})  # fmt: skip

#: 17TRACK's carrier codes for Amazon's carrier codes where the number alone is ambiguous
#: (17track.net/en/carriers); any other carrier is left to 17TRACK's detection.
CARRIER_CODES: dict[str, int] = {
    "DHL": 100001,
    "UPS": 100002,
    "FedEx": 100003,
    "USPS": 21051,
    "China Post": 3011,
}


def carrier_code(amazon_carrier: str) -> int | None:
    return CARRIER_CODES.get(amazon_carrier)


class SeventeenTrack:
    """One 17TRACK account. Use as ``async with client:`` (the connection lives for the block)."""

    name = "17track"
    batch = BATCH

    def __init__(
        self,
        key: str,
        url: str = DEFAULT_URL,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        attempts: int = 5,
        throttled_attempts: int = 10,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 30.0,
        rate: tuple[float, int] = RATE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        remember_secrets([key])
        self._key = key
        self.url = url.rstrip("/")
        self.monotonic = monotonic
        self.sleep = sleep
        self.attempts = attempts
        self.throttled_attempts = throttled_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.transport = transport
        self.bucket = TokenBucket(rate[0], rate[1], monotonic=monotonic, sleep=sleep)
        self._http: httpx.AsyncClient | None = None
        #: Requests sent, by operation (what the bench counts).
        self.sent: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"SeventeenTrack({self.url!r})"

    async def __aenter__(self) -> SeventeenTrack:
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=self.transport)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- the operations ----------------------------------------------------------------

    async def register(self, parcels: Sequence[Parcel]) -> Answer:
        body = [_parcel(p, tag=True) for p in parcels]
        data = await self._post("register", body)
        accepted = [Accepted(str(a.get("number", "")), _int(a.get("carrier"))) for a in _list(data, "accepted")]
        rejected = []
        for entry in _list(data, "rejected"):
            number, code, message = _rejection(entry)
            if code == ALREADY_REGISTERED:
                accepted.append(Accepted(number, None, already=True))
            else:
                rejected.append(Rejected(number, code, message, transient=code not in _FOR_GOOD))
        return Answer(accepted, rejected)

    async def track(self, parcels: Sequence[Parcel]) -> Tracked:
        data = await self._post("gettrackinfo", [_parcel(p) for p in parcels])
        infos = [_info(entry) for entry in _list(data, "accepted")]
        rejected = [Rejected(*_rejection(e), transient=_rejection(e)[1] in _TRANSIENT) for e in _list(data, "rejected")]
        return Tracked(infos, rejected)

    async def stop(self, parcels: Sequence[Parcel]) -> Answer:
        return await self._simple("stoptrack", parcels)

    async def retrack(self, parcels: Sequence[Parcel]) -> Answer:
        return await self._simple("retrack", parcels)

    async def quota(self) -> Quota | None:
        data = await self._post("getquota", None)
        if not isinstance(data, dict) or "quota_total" not in data:
            return None
        return Quota(_int(data.get("quota_total")) or 0, _int(data.get("quota_used")) or 0,
                     _int(data.get("quota_remain")) or 0)  # fmt: skip

    async def _simple(self, operation: str, parcels: Sequence[Parcel]) -> Answer:
        data = await self._post(operation, [_parcel(p) for p in parcels])
        accepted = [Accepted(str(a.get("number", "")), _int(a.get("carrier"))) for a in _list(data, "accepted")]
        rejected = []
        for entry in _list(data, "rejected"):
            number, code, message = _rejection(entry)
            if operation == "stoptrack" and code == NOT_REGISTERED:
                accepted.append(Accepted(number, None, already=True))  # nothing to stop
            else:
                rejected.append(Rejected(number, code, message, transient=code in _TRANSIENT))
        return Answer(accepted, rejected)

    # --- plumbing ----------------------------------------------------------------------

    def _wait(self, failures: int) -> float:
        return backoff_wait(failures, self.backoff, self.max_backoff)

    async def _post(self, operation: str, body: list[dict[str, Any]] | None) -> Any:
        if body is not None and len(body) > BATCH:
            raise ValueError(f"{operation}: at most {BATCH} numbers a request")
        assert self._http is not None, "use the client as `async with client:`"
        url = f"{self.url}/{operation}"
        headers = {"17token": self._key, "content-type": "application/json"}
        failures = throttled = 0
        while True:
            await self.bucket.take()
            self.sent[operation] = self.sent.get(operation, 0) + 1
            try:
                response = await self._http.post(url, json=body if body is not None else {}, headers=headers)
            except httpx.TransportError as err:
                failures += 1
                log.warning("17TRACK %s: %s (attempt %d of %d)", operation, type(err).__name__, failures, self.attempts)
                if failures >= self.attempts:
                    raise TrackingError(0, type(err).__name__, "17TRACK could not be reached") from None
                await self.sleep(self._wait(failures))
                continue
            status = response.status_code
            if status == 429:
                throttled += 1
                log.info("17TRACK %s: too frequent (%d of %d)", operation, throttled, self.throttled_attempts)
                if throttled >= self.throttled_attempts:
                    raise TrackingError(429, "TooFrequent", "17TRACK throttled every attempt")
                self.bucket.drain()
                await self.sleep(retry_after(response) or max(self._wait(throttled), 1 / self.bucket.rate))
                continue
            if status >= 500:
                failures += 1
                log.warning("17TRACK %s: HTTP %d (attempt %d of %d)", operation, status, failures, self.attempts)
                if failures >= self.attempts:
                    raise TrackingError(status, "ServerError", response.reason_phrase)
                await self.sleep(retry_after(response) or self._wait(failures))
                continue
            if status != 200:
                raise TrackingError(status, "Refused", "wrong key or address" if status in (401, 404) else "")
            try:
                payload = response.json()
            except ValueError:
                raise TrackingError(status, "BadResponse", "not JSON") from None
            code = payload.get("code") if isinstance(payload, dict) else None
            if code != 0:
                failures += 1
                if code in _TRANSIENT and failures < self.attempts:
                    await self.sleep(self._wait(failures))
                    continue
                data = payload.get("data") if isinstance(payload, dict) else None
                errors = data.get("errors") if isinstance(data, dict) else None
                message = ""
                if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                    message = str(errors[0].get("message") or "")
                raise TrackingError(status, str(code), message)
            return payload.get("data")


def _parcel(parcel: Parcel, *, tag: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"number": parcel.number}
    if parcel.carrier is not None:
        out["carrier"] = parcel.carrier
    if tag and parcel.tag:
        out["tag"] = parcel.tag
    return out


def _list(data: Any, key: str) -> list[dict[str, Any]]:
    value = data.get(key) if isinstance(data, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rejection(entry: dict[str, Any]) -> tuple[str, int, str]:
    error = _dict(entry.get("error"))
    return str(entry.get("number", "")), _int(error.get("code")) or 0, str(error.get("message") or "")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _info(entry: dict[str, Any]) -> TrackInfo:
    info = _dict(entry.get("track_info"))
    latest = _dict(info.get("latest_status"))
    status = TrackStatus.of(latest.get("status"))
    event_raw = _dict(info.get("latest_event"))
    event = None
    if event_raw:
        at = _time(event_raw.get("time_utc")) or _time(event_raw.get("time_iso"))
        event = TrackEvent(at, str(event_raw.get("location") or ""), str(event_raw.get("description") or ""))
    delivered_at = None
    if status is TrackStatus.delivered:
        for stage in info.get("milestone") or []:
            if isinstance(stage, dict) and stage.get("key_stage") == "Delivered":
                delivered_at = _time(stage.get("time_utc")) or _time(stage.get("time_iso"))
        if delivered_at is None and event is not None:
            delivered_at = event.at
    return TrackInfo(str(entry.get("number", "")), status, str(latest.get("sub_status") or ""), event, delivered_at,
                     _int(entry.get("carrier")))  # fmt: skip

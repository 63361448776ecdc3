"""The one back-off both HTTP clients (the SP-API's and 17TRACK's) retry through.

- :class:`TokenBucket`: a service's usage plan, ``rate`` requests a second and ``burst`` at once;
- :func:`backoff_wait`: how long to wait after the n-th failure (doubling, capped);
- :func:`retry_after`: what the server's ``Retry-After`` header asks (seconds or an HTTP date).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class TokenBucket:
    """A usage plan for one operation: ``rate`` requests a second, ``burst`` at once.

    ``take()`` waits until a request may go. The clock and the sleep are injected so tests
    can run a minute of the service's time in no time.
    """

    def __init__(self, rate: float, burst: int, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:  # fmt: skip
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.monotonic = monotonic
        self.sleep = sleep
        self.updated = monotonic()

    def _refill(self) -> None:
        now = self.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self) -> None:
        while True:
            self._refill()
            if self.tokens >= 1 - 1e-9:  # rounding must not leave a request waiting for a sliver
                self.tokens = max(self.tokens - 1, 0.0)
                return
            await self.sleep((1 - self.tokens) / self.rate)

    def drain(self) -> None:
        """The service throttled us: its bucket is empty whatever ours says."""
        self._refill()
        self.tokens = 0.0


def backoff_wait(failures: int, backoff: float, max_backoff: float) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: ``backoff``, doubling, at most ``max_backoff``."""
    return float(min(backoff * 2 ** (failures - 1), max_backoff))


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, IndexError):
        return None

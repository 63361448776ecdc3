"""The clock the tests move by hand, and where it starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

#: A Saturday, 16:00 in Shanghai: the sample orders' ship-by times are around it.
START = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


class FakeClock:
    """A clock the tests move by hand: ``clock()`` returns an aware UTC datetime."""

    def __init__(self, start: datetime = START) -> None:
        self._now = self._check(start)

    @staticmethod
    def _check(dt: datetime) -> datetime:
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("FakeClock needs an aware datetime")
        return dt.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """``clock.advance(timedelta(hours=2))`` or ``clock.advance(hours=2)``."""
        step = (delta or timedelta()) + timedelta(**kwargs)
        if step < timedelta():
            raise ValueError("time does not go backwards; use set()")
        self._now += step
        return self._now

    def set(self, dt: datetime) -> datetime:
        self._now = self._check(dt)
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"


class VirtualSeconds:
    """Virtual seconds for a client's rate limits and back-offs (the SP-API's, 17TRACK's): ``sleep``
    moves the clock instead of waiting, and remembers how long each wait was."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds
        await asyncio.sleep(0)

"""The HTTP server on 127.0.0.1 that a fake of someone else's service stands on (Telegram's
Bot API, Amazon's Selling Partner API): start and stop, its address, and waiting for what
the code under test does to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web


class LocalServer:
    """Serves :meth:`handle` for every method and path on 127.0.0.1, at a port the system picks.

    A fake calls :meth:`_notify` whenever its state changes (a request answered, a person
    writing); :meth:`wait_for` looks at its condition again then.
    """

    #: The largest request body accepted (aiohttp's default is 1 MB).
    max_request = 1024 * 1024

    def __init__(self) -> None:
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()

    # ---------------------------------------------------------------- life cycle

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started; await its start() first")
        return f"127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    async def start(self) -> Self:
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=self.max_request)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        # handler_cancellation: a request whose client went away (a killed bot) is not served on.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request: what the fake is a fake of."""
        raise NotImplementedError

    # ---------------------------------------------------------------- waiting

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_change(self, timeout: float) -> None:
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    def describe(self) -> str:
        """What a wait that timed out shows after its condition (the state of the fake)."""
        return ""

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str | None = None) -> Any:
        """Wait until ``predicate()`` is truthy (looked at after every change of the fake, and at
        least every 50 ms for predicates that read the code's database) and return its value;
        AssertionError after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = what or getattr(predicate, "__name__", "predicate")
                raise AssertionError(f"timed out after {timeout:g}s waiting for {name}\n" + self.describe())
            await self._wait_change(min(remaining, 0.05))

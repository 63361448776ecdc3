"""Webhook mode: Telegram posts each update to us, and it is kept before the 200 is answered.

A small ASGI app (Starlette, served by uvicorn inside the application's own event loop, as
python-telegram-bot's custom-webhook example does). It knows no Telegram types: the
composition root (``bot/app.py``) gives it ``deliver``, which reads the JSON as an update,
stores it in the inbox and hands it to the application exactly as polling does.

- ``POST <path>``: the ``X-Telegram-Bot-Api-Secret-Token`` header must be the secret (403
  otherwise, nothing stored); a body over 1 MB is refused (413), one that is not an update
  too (400). ``deliver`` returning means the update is in the inbox: 200. Storing failed: 500,
  and Telegram delivers it again.
- ``GET /healthz``: 200 while the event loop answers. ``GET /readyz``: 200 when the store
  answers a read and the application runs, else 503. Neither needs the secret; neither says
  anything about anyone's orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

#: The header Telegram sends the webhook's secret token in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Telegram's updates are a few kilobytes; anything larger is not one of them.
MAX_BODY = 1024 * 1024
#: How long /readyz waits for the store's answer (seconds).
READY_TIMEOUT = 5.0


class Malformed(Exception):
    """The body is JSON but not an update (``deliver`` raises it: 400, nothing stored)."""


#: Keeps one update (its JSON) in the inbox and hands it on; returns once it is stored.
Deliver = Callable[[dict[str, Any]], Awaitable[None]]
#: Whether the desk can take updates now (its store answers, the application runs).
Ready = Callable[[], Awaitable[bool]]


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_app(path: str, secret: str, deliver: Deliver, ready: Ready) -> Starlette:
    """The ASGI app: updates at ``path``, ``/healthz`` and ``/readyz``."""
    expected = secret.encode("utf-8")

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse("Forbidden", status_code=403)
        try:
            body = await _body(request)
        except _TooLarge:
            return PlainTextResponse("Payload Too Large", status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise Malformed
            await deliver(data)
        except (ValueError, Malformed):  # json's errors are ValueErrors
            log.warning("webhook: a body that is not an update was refused (%d bytes)", len(body))
            return PlainTextResponse("Bad Request", status_code=400)
        except Exception:  # noqa: BLE001 - not stored: Telegram is told to try again
            log.error("webhook: an update could not be stored; Telegram will deliver it again", exc_info=True)
            return PlainTextResponse("Internal Server Error", status_code=500)
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            ok = await asyncio.wait_for(ready(), READY_TIMEOUT)
        except Exception:  # noqa: BLE001 - any failure of the read means "not ready"
            ok = False
        return PlainTextResponse("ready" if ok else "not ready", status_code=200 if ok else 503)

    return Starlette(routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route(path, receive, methods=["POST"]),
    ])  # fmt: skip


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process's own handlers end it (bot/app.py ``serve``), which then stops this server.
        yield


class WebhookServer:
    """uvicorn serving :func:`webhook_app` as a task of the running event loop."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False,
                                timeout_graceful_shutdown=5)  # fmt: skip
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and start serving; an address that cannot be bound raises OSError here."""
        logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.getLogger().level))
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="webhook server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the webhook server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("webhook: listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop taking updates; requests under way are answered first."""
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""A fake 17TRACK Tracking API v2.2, written from 17TRACK's public documentation.

Sources: asset.17track.net/api/document/v2.2_en (the quick guide: JSON POSTs to
``/track/v2.2/{operation}`` with the key in a ``17token`` header, at most 40 numbers a request,
``{"code": 0, "data": {"accepted": [...], "rejected": [...]}}``), help.17track.net's "Error
Codes and Troubleshooting" (HTTP 401 / 429 / 500 / 503; -18010014 "tracking numbers exceed the
40 limit", -18019901 "already registered", -18019902 "not registered yet", -18019903 "carrier
cannot be detected") and "Understanding Tracking Status" (nine main statuses with
sub-statuses), and the published rate limit of 3 requests a second.

Served on 127.0.0.1 (``await fake.start()``; the desk's DINGDAN_TRACKING_URL is :attr:`url`):

- ``register``: each number accepted (with the carrier given or "detected") or rejected:
  already registered, or what :meth:`FakeTrack.reject` scripted; accepted numbers use the quota;
- ``gettrackinfo``: ``track_info.latest_status``, ``latest_event`` and ``milestone`` of each
  registered number, from the steps :meth:`FakeTrack.script` gave it, as of the fake clock;
- ``stoptrack`` / ``retrack``: a number stops or starts again (only a stopped one: -18019904);
- ``getquota``: ``quota_total``, ``quota_used``, ``quota_remain``;
- more than :attr:`rate` requests in a second of :attr:`monotonic` time is HTTP 429, and
  :meth:`fail_next` injects a 429 or a 5xx; a wrong key is 401.

Every request is recorded in :attr:`requests` (operation, numbers, HTTP status).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.support.clock import VirtualSeconds
from tests.support.server import LocalServer

KEY = "17TRACK-FAKE-KEY-9c1e4b7a2d5f8e3b6a0c"
PREFIX = "/track/v2.2/"
OPERATIONS = ("register", "gettrackinfo", "stoptrack", "retrack", "getquota")
#: Carrier codes the fake "detects" from a number's shape, like 17TRACK's auto-detection.
DETECT = (("1Z", 100002), ("LX", 3011), ("RR", 3011), ("YT", 190008))


@dataclass
class Step:
    """What the carrier says from ``after`` (since the number was registered) on."""

    after: timedelta
    status: str
    sub_status: str = ""
    place: str = ""
    text: str = ""


@dataclass
class Parcel:
    number: str
    carrier: int
    registered_at: datetime
    tag: str = ""
    stopped: bool = False
    steps: list[Step] = field(default_factory=list)


class TrackTime(VirtualSeconds):
    """Virtual seconds for the 17TRACK client's rate limit and back-offs (the fake counts on them too)."""

    def __init__(self) -> None:
        super().__init__(5000.0)


class FakeTrack(LocalServer):
    def __init__(self, clock: Callable[[], datetime] | None = None, *, monotonic: Callable[[], float] = time.monotonic,
                 quota_total: int = 100, rate: int = 3) -> None:  # fmt: skip
        super().__init__()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self.quota_total = quota_total
        self.quota_used = 0
        self.rate = rate
        self.parcels: dict[str, Parcel] = {}
        self.scripts: dict[str, list[Step]] = {}
        self.rejections: dict[str, tuple[int, str]] = {}
        self.faults: list[tuple[str | None, int]] = []
        #: (operation, numbers, HTTP status) of every request.
        self.requests: list[tuple[str, list[str], int]] = []
        self._recent: list[float] = []

    @property
    def url(self) -> str:
        return self.origin + PREFIX.rstrip("/")

    # ------------------------------------------------------------------ scripting

    def script(self, number: str, *steps: Step) -> None:
        """What the carrier will say about ``number``, step by step (before the first: not found)."""
        self.scripts[number] = list(steps)
        if number in self.parcels:
            self.parcels[number].steps = list(steps)

    def reject(self, number: str, code: int = -18019903, message: str = "") -> None:
        """``register`` rejects the number (carrier cannot be detected, unless told otherwise)."""
        self.rejections[number] = (code, message or "The carrier cannot be detected.")

    def fail_next(self, operation: str | None, status: int, count: int = 1) -> None:
        """The next ``count`` requests (of ``operation``, or any) answer ``status`` (429, 500, 503)."""
        self.faults += [(operation, status)] * count

    def answered(self, operation: str) -> list[int]:
        return [status for op, _numbers, status in self.requests if op == operation]

    def numbers(self, operation: str, status: int = 200) -> list[list[str]]:
        return [numbers for op, numbers, s in self.requests if op == operation and s == status]

    def describe(self) -> str:
        return f"requests: {[(op, len(n), s) for op, n, s in self.requests][-20:]}"

    # ------------------------------------------------------------------ serving

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        operation = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        try:
            body = await request.json() if request.can_read_body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        numbers = [str(e.get("number", "")) for e in body if isinstance(e, dict)] if isinstance(body, list) else []
        status, payload = self._answer(request, operation, body)
        self.requests.append((operation, numbers, status))
        self._notify()
        if status != 200:
            return web.json_response({"code": status}, status=status)
        return web.json_response(payload)

    def _answer(self, request: web.Request, operation: str, body: Any) -> tuple[int, dict[str, Any]]:
        if operation not in OPERATIONS:
            return 404, {}
        if request.headers.get("17token") != KEY:
            return 401, {}
        now = self.monotonic()
        self._recent = [t for t in self._recent if now - t < 1.0 - 1e-6]
        if len(self._recent) >= self.rate:
            return 429, {}
        self._recent.append(now)
        for n, (op, status) in enumerate(self.faults):
            if op in (None, operation):
                del self.faults[n]
                return status, {}
        if operation == "getquota":
            return 200, {"code": 0, "data": {"quota_total": self.quota_total, "quota_used": self.quota_used,
                                             "quota_remain": self.quota_total - self.quota_used,
                                             "today_used": self.quota_used, "max_track_daily": 10000}}  # fmt: skip
        if not isinstance(body, list) or not all(isinstance(e, dict) and e.get("number") for e in body):
            return 200, _error(-18010013, "Invalid submitted data.")
        if len(body) > 40:
            return 200, _error(-18010014, "Tracking numbers exceed the 40 limit.")
        accepted: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for entry in body:
            getattr(self, f"_{operation}")(entry, accepted, rejected)
        return 200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}

    def _register(self, entry: dict[str, Any], accepted: list[Any], rejected: list[Any]) -> None:
        number = str(entry["number"])
        if number in self.parcels:
            rejected.append(_rejected(number, -18019901, f"The tracking number '{number}' has been registered."))
            return
        if number in self.rejections:
            code, message = self.rejections[number]
            rejected.append(_rejected(number, code, message))
            return
        if self.quota_used >= self.quota_total:
            # The fake's own code: the published error list names none for an exhausted quota.
            rejected.append(_rejected(number, -18019908, "Insufficient quota."))
            return
        carrier = entry.get("carrier") or next((c for p, c in DETECT if number.startswith(p)), 100002)
        self.parcels[number] = Parcel(number, int(carrier), self.clock(), str(entry.get("tag") or ""),
                                      steps=list(self.scripts.get(number, [])))  # fmt: skip
        self.quota_used += 1
        accepted.append({"origin": 1, "number": number, "carrier": int(carrier), "tag": entry.get("tag")})

    def _gettrackinfo(self, entry: dict[str, Any], accepted: list[Any], rejected: list[Any]) -> None:
        number = str(entry["number"])
        parcel = self.parcels.get(number)
        if parcel is None:
            rejected.append(_rejected(number, -18019902, f"The tracking number '{number}' does not register."))
            return
        accepted.append({"number": number, "carrier": parcel.carrier, "param": None, "tag": parcel.tag,
                         "track_info": self._track_info(parcel)})  # fmt: skip

    def _stoptrack(self, entry: dict[str, Any], accepted: list[Any], rejected: list[Any]) -> None:
        number = str(entry["number"])
        parcel = self.parcels.get(number)
        if parcel is None:
            rejected.append(_rejected(number, -18019902, f"The tracking number '{number}' does not register."))
            return
        parcel.stopped = True
        accepted.append({"number": number, "carrier": parcel.carrier})

    def _retrack(self, entry: dict[str, Any], accepted: list[Any], rejected: list[Any]) -> None:
        number = str(entry["number"])
        parcel = self.parcels.get(number)
        if parcel is None or not parcel.stopped:
            rejected.append(_rejected(number, -18019904, "Only stopped numbers can be retracked."))
            return
        parcel.stopped = False
        accepted.append({"number": number, "carrier": parcel.carrier})

    def _track_info(self, parcel: Parcel) -> dict[str, Any]:
        now = self.clock()
        happened = [s for s in parcel.steps if parcel.registered_at + s.after <= now]
        if not happened:
            latest = {"status": "NotFound", "sub_status": "NotFound_Other", "sub_status_descr": None}
            return {"latest_status": latest, "latest_event": None, "milestone": [],
                    "tracking": {"providers": []}}  # fmt: skip
        events = [{"time_iso": (parcel.registered_at + s.after).isoformat(),
                   "time_utc": (parcel.registered_at + s.after).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "description": s.text, "location": s.place, "stage": s.status, "sub_status": s.sub_status}
                  for s in happened]  # fmt: skip
        last = happened[-1]
        milestone = [{"key_stage": s.status, "time_iso": e["time_iso"], "time_utc": e["time_utc"]}
                     for s, e in zip(happened, events, strict=True) if s.status in ("InfoReceived", "Delivered")]  # fmt: skip
        return {
            "latest_status": {"status": last.status, "sub_status": last.sub_status or f"{last.status}_Other",
                              "sub_status_descr": None},
            "latest_event": events[-1],
            "milestone": milestone,
            "tracking": {"providers": [{"provider": {"key": parcel.carrier}, "events": events[::-1]}]},
        }  # fmt: skip


def _rejected(number: str, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "data": {"errors": [{"code": code, "message": message}]}}


def seed_shipped(db_path: Any, n: int, shipped_at: datetime, *, team_id: int = -1009999999999, carrier: str = "UPS",
                 prefix: str = "1ZSEED", first: int = 0) -> list[str]:  # fmt: skip
    """``n`` orders of one team shipped at ``shipped_at``, one shipment each, written straight into a
    migrated database (benchmarks and batch tests; the e2e tests ship through the chat). Their numbers."""
    from tests.support.db import connect

    at = shipped_at.astimezone(UTC).isoformat(timespec="seconds")
    numbers = [f"{prefix}{k:010d}" for k in range(first, first + n)]
    conn = connect(db_path)
    try:
        with conn:
            conn.execute("INSERT OR IGNORE INTO teams (team_id, title, timezone, started_at) VALUES (?, 'Bench', "
                         "'Asia/Shanghai', ?)", (team_id, at))  # fmt: skip
            orders = [(team_id, f"900-{k // 10_000_000:07d}-{k % 10_000_000:07d}") for k in range(first, first + n)]
            conn.executemany(
                "INSERT INTO orders (team_id, order_id, digits_rev, goods, carrier, tracking, shipped_at, created_at, "
                "updated_at) VALUES (?, ?, ?, 'shipped', ?, ?, ?, ?, ?)",
                [(t, o, o.replace("-", "")[::-1], carrier, number, at, at, at)
                 for (t, o), number in zip(orders, numbers, strict=True)],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO order_items (team_id, order_id, item_id, quantity, quantity_shipped) VALUES (?, ?, ?, 1, 1)",
                [(t, o, f"1{k:013d}") for k, (t, o) in enumerate(orders, first)],
            )
            conn.executemany(
                "INSERT INTO shipments (team_id, order_id, item_id, quantity, shipped_at, carrier, tracking) "
                "VALUES (?, ?, ?, 1, ?, ?, ?)",
                [(t, o, f"1{k:013d}", at, carrier, number) for k, ((t, o), number) in enumerate(zip(orders, numbers, strict=True), first)],
            )  # fmt: skip
    finally:
        conn.close()
    return numbers

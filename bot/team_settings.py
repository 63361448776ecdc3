"""A team's settings (alerts, the default carrier) as typed values: checked when written, parsed once when read.

Settings arrive as text (``/alerts lead 24 4``, a button's ``24,4``, a database column) or as
values; :class:`TeamSettings` accepts either and keeps only what makes sense. A value that
would break the team (a time zone that does not exist, lead hours that are not hours) raises
:class:`InvalidSetting` before anything is written: one team's bad setting once stopped every
team's alerts (issue 8).

The defaults are written here only; the database's column defaults serve rows older than them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.carriers import resolve_carrier
from bot.domain import Refusal

log = logging.getLogger(__name__)

# The kinds of alerts (``bot.alerts`` decides them); all but CONFIRM_LAST can be turned off.
SHIP_SOON = "ship_soon"
SHIP_LATE = "ship_late"
CONFIRM_SOON = "confirm_soon"
CONFIRM_LAST = "confirm_last"  # Amazon's last day: follows CONFIRM_SOON's switch
PENDING_LONG = "pending_long"
RETURN_WAITING = "return_waiting"
DELIVERY_LATE = "delivery_late"
DIGEST = "digest"
#: Every kind a team can turn off, in the order the settings show them.
KINDS = (SHIP_SOON, SHIP_LATE, CONFIRM_SOON, PENDING_LONG, RETURN_WAITING, DELIVERY_LATE, DIGEST)

#: Ship-by warnings: at most this many, each at most a week before the ship-by time.
MOST_LEADS = 4
LONGEST_LEAD_HOURS = 168.0
#: Amazon verifies a pending payment for up to 21 days.
PENDING_DAYS = range(1, 22)
#: A parcel is stuck after this many days without movement (carrier tracking).
STUCK_DAYS = range(2, 31)
#: Where a stored zone cannot be read any more (written before settings were checked).
FALLBACK_ZONE = "UTC"


class InvalidSetting(ValueError):
    """A team setting refused as it was written (or found unreadable when read): which
    setting, the value given, and why. Nothing is written."""

    def __init__(self, name: str, value: object, why: str) -> None:
        super().__init__(f"{name} = {value!r}: {why}")
        self.name = name
        self.value = value
        self.why = why


@dataclass(frozen=True)
class TeamSettings:
    """What a group administrator sets with /alerts, typed. Give text or values; each field
    is checked and kept in its typed form (``TeamSettings("Asia/Shanghai", lead_hours="12,2")``)."""

    timezone: str  # a zone name Python's zoneinfo knows: dates and alert times are local to it
    lead_hours: tuple[float, ...] = (24.0, 4.0)  # ship-by warnings, hours before, longest first
    digest_at: time | None = time(9, 0)  # local time of the daily digest; None: no digest
    quiet_from: time | None = time(23, 0)  # quiet hours, local; both None: none
    quiet_until: time | None = time(8, 0)
    pending_days: int = 3  # a pending order is reported after this many days
    kinds_off: frozenset[str] = frozenset()  # alert kinds turned off (``KINDS``)
    default_carrier: str = ""  # ships a bare tracking number whose shape names no carrier ("" none)
    stuck_days: int = 7  # carrier tracking: a parcel in transit without movement this long is stuck

    def __post_init__(self) -> None:
        for name, parse in _PARSERS.items():
            object.__setattr__(self, name, parse(getattr(self, name)))
        if self.quiet_from is None or self.quiet_until is None or self.quiet_from == self.quiet_until:
            # An empty window is no window: equal times have always meant "no quiet hours".
            object.__setattr__(self, "quiet_from", None)
            object.__setattr__(self, "quiet_until", None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def quiet(self) -> tuple[time, time] | None:
        """The quiet hours (from, until), local; None when there are none."""
        if self.quiet_from is None or self.quiet_until is None:
            return None
        return self.quiet_from, self.quiet_until

    def changed(self, **changes: object) -> TeamSettings:
        """These settings with ``changes`` (text or values) applied; :class:`InvalidSetting`
        for a name that is not a setting or a value that does not fit."""
        for name in changes:
            if name not in SETTING_NAMES:
                raise InvalidSetting(name, changes[name], "not a team setting")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def readable(cls, stored: Mapping[str, object], *, team_id: int) -> TeamSettings:
        """Settings as stored, each unreadable one (written before they were checked) replaced
        by its default and logged once: one broken setting must not break the whole team."""
        values: dict[str, Any] = {}
        for name, raw in stored.items():
            try:
                values[name] = _PARSERS[name](raw)
            except InvalidSetting as bad:
                values[name] = FALLBACK_ZONE if name == "timezone" else _DEFAULTS[name]
                _warn_once(team_id, bad, values[name])
        return cls(**values)


def parse_time(value: object) -> time:
    """'9', '9:30', '09:30', '09：30' (a Chinese keyboard's colon) → a time; else InvalidSetting."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    parts = str(value).strip().replace("：", ":").split(":")
    if 1 <= len(parts) <= 2 and all(p.isdigit() and len(p) <= 2 for p in parts):
        hours, minutes = int(parts[0]), int(parts[1]) if len(parts) == 2 else 0
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise InvalidSetting("time", value, "not a time of day (HH:MM)")


def format_time(value: time) -> str:
    """A setting's time as the settings show it and the database keeps it: '09:00'."""
    return value.strftime("%H:%M")


def format_hours(hours: float) -> str:
    """Lead hours as people write them: 24, 4, 1.5."""
    return f"{hours:g}"


# --- one parser per setting: text or a value in, the typed value out -------------------


def _timezone(value: object) -> str:
    if isinstance(value, ZoneInfo):
        value = value.key
    if not isinstance(value, str):
        raise InvalidSetting("timezone", value, "not a time zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # unknown, a path, too long
        raise InvalidSetting("timezone", value, "no such time zone") from err
    return value


def _lead_hours(value: object) -> tuple[float, ...]:
    parts: Iterable[object]
    if isinstance(value, str):
        parts = [p for p in re.split(r"[\s,，]+", value.strip()) if p]
    elif isinstance(value, Iterable):
        parts = value
    else:
        raise InvalidSetting("lead_hours", value, "not a list of hours")
    try:
        hours = {float(h) for h in parts if not isinstance(h, bool)}  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise InvalidSetting("lead_hours", value, "not a list of hours") from err
    # NaN and infinity fail the range check too.
    if not 1 <= len(hours) <= MOST_LEADS or not all(0 < h <= LONGEST_LEAD_HOURS for h in hours):
        raise InvalidSetting("lead_hours", value, f"1 to {MOST_LEADS} numbers of hours, each up to a week")
    return tuple(sorted(hours, reverse=True))


def _optional_time(name: str) -> Any:
    def parse(value: object) -> time | None:
        if value is None or value == "":
            return None
        try:
            return parse_time(value)
        except InvalidSetting as bad:
            raise InvalidSetting(name, value, bad.why) from None

    return parse


def _pending_days(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in PENDING_DAYS:
        raise InvalidSetting("pending_days", value, f"a number of days from {PENDING_DAYS[0]} to {PENDING_DAYS[-1]}")
    return value


def _stuck_days(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in STUCK_DAYS:
        raise InvalidSetting("stuck_days", value, f"a number of days from {STUCK_DAYS[0]} to {STUCK_DAYS[-1]}")
    return value


def _kinds_off(value: object) -> frozenset[str]:
    if isinstance(value, str):
        kinds = frozenset(k.strip() for k in value.split(",") if k.strip())
    elif isinstance(value, Iterable):
        kinds = frozenset(value)
    else:
        raise InvalidSetting("kinds_off", value, "not a list of alert kinds")
    unknown = kinds - set(KINDS)
    if unknown:
        raise InvalidSetting("kinds_off", value, f"not alert kinds: {', '.join(sorted(map(str, unknown)))}")
    return kinds


def _default_carrier(value: object) -> str:
    """A carrier as ``bot.carriers`` reads it, kept as its code or ``Other:NAME``; "" for none.
    A domestic courier is refused: its numbers never confirm an Amazon order."""
    if value is None or (
        isinstance(value, str) and value.strip().casefold() in ("", "off", "none", "关", "關", "无", "無")
    ):
        return ""
    if not isinstance(value, str):
        raise InvalidSetting("default_carrier", value, "not a carrier")
    try:
        carrier = resolve_carrier(value)
    except Refusal as refusal:
        raise InvalidSetting("default_carrier", value, "not a carrier") from refusal
    if carrier.domestic:
        raise InvalidSetting("default_carrier", value, "a courier inside China")
    return carrier.stored


_PARSERS: dict[str, Any] = {
    "timezone": _timezone,
    "lead_hours": _lead_hours,
    "digest_at": _optional_time("digest_at"),
    "quiet_from": _optional_time("quiet_from"),
    "quiet_until": _optional_time("quiet_until"),
    "pending_days": _pending_days,
    "kinds_off": _kinds_off,
    "default_carrier": _default_carrier,
    "stuck_days": _stuck_days,
}
#: The settings, by name (``TeamSettings``' fields).
SETTING_NAMES = tuple(f.name for f in dataclasses.fields(TeamSettings))
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TeamSettings) if f.default is not dataclasses.MISSING}
#: What was reported as unreadable: (team, setting, value), so the log says it once.
_WARNED: set[tuple[int, str, str]] = set()


def _warn_once(team_id: int, bad: InvalidSetting, used: object) -> None:
    key = (team_id, bad.name, repr(bad.value))
    if key in _WARNED:
        return
    if len(_WARNED) > 10_000:
        _WARNED.clear()
    _WARNED.add(key)
    log.warning("team %s: stored setting %s; using %r until an administrator sets it with /alerts", team_id, bad, used)

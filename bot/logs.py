"""The log: quiet by default, optionally JSON lines, and one line per handled update.

- :func:`configure` sets the level (``DINGDAN_LOG_LEVEL``) and the format
  (``DINGDAN_LOG_FORMAT``: ``text`` or ``json``, one object a line for a log collector). The
  libraries' routine chatter (``transitions``' "Finished processing state …", APScheduler's
  "Running job …") shows only at DEBUG.
- :func:`handled_update` wraps the processing of one update: the handlers add what they know
  (:func:`note`: the team, the command or button, the outcome) and one INFO line is written
  at the end with the duration. It carries ids and codes only: never what a person typed,
  never a buyer's name or address.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("dingdan.updates")

#: Loggers whose INFO is routine: shown only when the level is DEBUG.
CHATTY = ("transitions", "apscheduler")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Fields of a record that :class:`JsonFormatter` writes besides the message (see :func:`handled_update`).
FIELDS = ("update", "chat", "team", "command", "outcome", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the update's
    fields when the record has them, and the traceback as ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """The root logger at ``level``, written to stderr as text or JSON lines; the chatty
    libraries at WARNING unless ``level`` is DEBUG."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet(level)


def quiet(level: str) -> None:
    """Routine library chatter at WARNING, unless ``level`` is DEBUG."""
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


@dataclass
class UpdateNote:
    """What one update's log line says; the handlers fill it in as they learn it."""

    update: int
    chat: int | None
    team: int | None = None
    command: str = "-"
    outcome: str = "ok"


_NOTE: ContextVar[UpdateNote | None] = ContextVar("dingdan_update_note", default=None)


def note(**fields: Any) -> None:
    """Add to the current update's log line (``team=``, ``command=``, ``outcome=``); the first
    ``command`` and the first outcome other than "ok" stay. Outside an update: nothing."""
    current = _NOTE.get()
    if current is None:
        return
    for name, value in fields.items():
        if name == "command" and current.command != "-":
            continue
        if name == "outcome" and current.outcome != "ok":
            continue
        setattr(current, name, value)


@contextmanager
def handled_update(update_id: int, chat_id: int | None, command: str = "-") -> Iterator[UpdateNote]:
    """Time one update and write its one INFO line when it is done."""
    current = UpdateNote(update_id, chat_id, command=command)
    token = _NOTE.set(current)
    start = time.perf_counter()
    try:
        yield current
    except BaseException:
        current.outcome = "error" if current.outcome == "ok" else current.outcome
        raise
    finally:
        _NOTE.reset(token)
        duration = round((time.perf_counter() - start) * 1000)
        log.info(
            "update %s chat %s team %s %s %s %d ms", current.update, current.chat, current.team if current.team else "-",
            current.command, current.outcome, duration,
            extra={"update": current.update, "chat": current.chat, "team": current.team, "command": current.command,
                   "outcome": current.outcome, "duration_ms": duration},
        )  # fmt: skip

"""Secrets kept out of the logs: the Selling Partner API credentials, tokens and keys.

Every log record is redacted as it is made (:func:`install_log_redaction`), whoever logs it:
python-telegram-bot logs whole updates at DEBUG, so a ``/amazon set`` message would
otherwise reach a debug log. What the process knows to be secret (:func:`remember_secrets`)
and what looks like one (LWA tokens, client secrets) becomes ``<redacted>``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["install_log_redaction", "redact", "remember_secrets"]

#: Secrets the process knows (credentials from the environment or the database). Replaced,
#: never changed in place: aiosqlite's thread logs too, and reads it while the loop adds one.
_SECRETS: frozenset[str] = frozenset()
#: What a secret looks like even before we know it: the arguments of `/amazon set` as
#: python-telegram-bot logs an update at DEBUG, LWA refresh/access tokens, client secrets.
_SECRET_SHAPES = re.compile(
    r"(?i)(/amazon(?:@\w+)?\s+set)\b[^\n'\"\\]*"
    r"|Atz[ar]\|[^\s'\"\\,&)]+"
    r"|amzn1\.oa2-cs\.v1\.[^\s'\"\\,&)]+"
)
_MIN_SECRET = 8


def remember_secrets(values: Iterable[str]) -> None:
    """From now on these never appear in a log record."""
    global _SECRETS
    _SECRETS = _SECRETS | {v for v in values if v and len(v) >= _MIN_SECRET}


def redact(text: str) -> str:
    text = _SECRET_SHAPES.sub(lambda m: f"{m.group(1)} <redacted>" if m.group(1) else "<redacted>", text)
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "<redacted>")
    return text


def _needs_redaction(text: str) -> bool:
    return bool(_SECRET_SHAPES.search(text)) or any(s in text for s in _SECRETS)


def install_log_redaction() -> None:
    """Redact secrets in every log record as it is made, whoever logs it and whichever
    handler writes it (python-telegram-bot logs whole updates and API answers at DEBUG,
    so a `/amazon set` message would otherwise reach a debug log)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_secrets", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the logger's problem, not ours
            return record
        if _needs_redaction(message):
            record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if _needs_redaction(text):
                record.exc_text = redact(text)
        return record

    factory.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)

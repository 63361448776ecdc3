"""One ``dingdan run`` per database: an OS lock on ``<database>.lock`` beside the file.

Two pollers on one database both receive every update Telegram sends while their long polls
overlap, so one ``/refund`` was refunded twice. The lock is the kernel's (``flock`` on POSIX,
``msvcrt.locking`` on Windows): it is released when the process ends, however it ends,
``kill -9`` included, so a stale lock never has to be cleared by hand. The lock file is left
in place on exit: deleting it would let a third process lock a new file while a second
still holds the old one.

Only ``dingdan run`` takes it. ``dingdan import`` and ``dingdan export`` are short and write
in transactions, so they work beside a running bot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.settings import StartupError
from bot.storage.errors import DatabaseUnusable

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class AlreadyRunning(StartupError):
    """Another ``dingdan run`` holds the database's lock; the message names it."""


def lock_path(db_path: Path | str) -> Path:
    """``<database>.lock``, beside the real file (a symlink or a relative name is the same database)."""
    db = Path(db_path).resolve()
    return db.with_name(db.name + ".lock")


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # Windows: a lock on the first byte, released by the system when the process ends

    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(fd: int) -> str:
    """The pid the holder wrote, when it is readable (it may be writing it right now)."""
    try:
        text = os.pread(fd, 32, 0) if hasattr(os, "pread") else b""
    except OSError:
        return ""
    pid = text.decode("ascii", "replace").strip()
    return pid if pid.isdigit() else ""


@contextmanager
def database_lock(db_path: Path | str) -> Iterator[Path]:
    """Hold the database's lock for the block, or raise :class:`AlreadyRunning` at once."""
    path = lock_path(db_path)
    try:
        # 0600 like the database: the file says which process runs the desk, nothing more.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise DatabaseUnusable(f"cannot create the lock file {path}: {err.strerror}; check that the database's folder "
                               "exists and is writable by this user, or set DINGDAN_DB.") from None  # fmt: skip
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a lock file left by an older version
        if not _try_lock(fd):
            pid = _holder(fd)
            who = f" (pid {pid})" if pid else ""
            raise AlreadyRunning(
                f"another dingdan is already running on {Path(db_path)}{who}; stop it first, or set DINGDAN_DB "
                "to another database."
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock

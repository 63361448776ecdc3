"""What the storage raises on purpose, as a small tree grouped by cause.

- ``StorageError``: the base; anything the storage package raises on purpose.
    - ``NotOpen``: used before ``open()`` or after ``close()`` (a bug in the caller).
    - ``DatabaseUnusable``: the database cannot be opened for writing (read-only, locked by
      another program, its directory not writable, not a database): start-up stops there.
    - ``Conflict``: another writer got there first; this transaction wrote nothing.
        - ``OrderChangedMeanwhile``: an import's changed order moved on since it was read.
        - ``AlertDecidedMeanwhile``: another alert check decided the same alert.

Invalid team settings are refused before any SQL, by ``bot.team_settings.InvalidSetting``.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of what the storage package raises on purpose (never a driver's own error)."""


class NotOpen(StorageError, RuntimeError):
    """The store was used before ``open()`` or after ``close()``."""


class DatabaseUnusable(StorageError):
    """The database cannot be opened and written; the message names the file and SQLite's reason."""


class Conflict(StorageError):
    """Another writer changed what this transaction relied on: it was undone, nothing was
    written. Read again and decide again; catch the subclass of the race you expect."""


class OrderChangedMeanwhile(Conflict):
    """An order changed between an import reading it and writing it (someone shipped it, a
    sync moved it on): the whole file is undone; the importer reads again and retries."""


class AlertDecidedMeanwhile(Conflict):
    """Another alert check decided some of the same (order, kind, deadline) alerts at the same
    moment: this check's decisions and messages are undone, so each alert is queued once."""

"""The cyclic garbage collector, paused while a big file's objects are built.

A 100,000-order report becomes about a million live objects (rows, orders, items, events)
in a few seconds. Every time a quarter more objects have survived, CPython 3.11's collector
walks all of them again looking for cycles, and finds none: measured, those full
collections were a fifth of an import's CPU. ``gc.freeze()`` at the import's start or after
the file is read does not help (the collections then run as often, over the objects still
being built).

So the collector is paused only around synchronous work: the file read into values, and
the loop that turns them into orders and events. Nothing else runs meanwhile (there is no
await inside), and nothing built there forms a cycle (the lifecycle binds nothing onto an
order: tests/test_lifecycle.py checks a thousand actions leave nothing behind without the
collector), so the pause hides no garbage and affects no other task. It is never held
across an await.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for a stretch of synchronous code (never await inside)."""
    if not gc.isenabled():
        yield  # already paused by an enclosing stretch, or by whoever runs us
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

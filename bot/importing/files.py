"""A Seller Central report file into the desk: idempotent, atomic per file, through the lifecycle.

The file is read (``bot.amazon.read_report``), then applied by the order import or the
returns import in one transaction. When a person changes one of its orders while it is
applied, the transaction is undone and the file applied again on what is there now.
Re-importing a file changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.amazon import ORDER_KINDS, RETURNS_KINDS, ImportedOrder, read_report
from bot.domain import Actor, Refusal
from bot.importing.collector import collector_paused
from bot.importing.orders import OrdersImport
from bot.importing.result import ImportResult
from bot.importing.returns import ReturnsImport
from bot.lifecycle import Lifecycle
from bot.refusal_codes import FileCode
from bot.storage import OrderChangedMeanwhile, Store

__all__ = ["Importer"]

#: A file applied this many times while people keep changing its orders is refused as busy.
_ATTEMPTS = 3


class Importer:
    """Report files and the Selling Partner API's orders, applied to the desk."""

    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.orders = OrdersImport(store, lifecycle, clock)
        self.returns = ReturnsImport(store, lifecycle, clock)

    async def import_file(self, team_id: int, data: bytes, *, filename: str, actor: Actor,
                          timezone: str = "UTC") -> ImportResult:  # fmt: skip
        """Read and apply one file; raises ``Refusal`` for a file that is not a report."""
        with collector_paused():
            report = read_report(data)
        if report.kind not in ORDER_KINDS | RETURNS_KINDS:
            raise Refusal(FileCode.file_not_report, missing=[], kind=None)
        sha = hashlib.sha256(data).hexdigest()
        for _attempt in range(_ATTEMPTS):
            try:
                if report.kind in RETURNS_KINDS:
                    return await self.returns.apply(team_id, report, sha=sha, filename=filename, actor=actor)
                result = ImportResult(kind=report.kind, encoding=report.encoding, rows=report.rows,
                                      refused=list(report.errors))  # fmt: skip
                result.first_imported_at = await self.store.imported_before(team_id, sha)
                record = {"sha256": sha, "kind": report.kind, "filename": filename, "rows": report.rows}
                return await self.orders.apply(team_id, report.orders, actor=actor, result=result, record=record,
                                               source={"file": filename, "report": report.kind})  # fmt: skip
            except OrderChangedMeanwhile:
                continue  # someone acted on one of these orders meanwhile: read again
        raise Refusal(FileCode.import_busy)

    async def apply_orders(self, team_id: int, orders: Sequence[ImportedOrder], *, actor: Actor,
                           source: dict[str, Any], record: dict[str, Any]) -> ImportResult:  # fmt: skip
        """Orders Amazon told us about (the Selling Partner API), applied in one transaction: new
        ones stored, known ones updated through the lifecycle.

        Raises ``OrderChangedMeanwhile`` when a person changed one of them meanwhile: call again.
        """
        return await self.orders.apply(team_id, orders, actor=actor, source=source, record=record)

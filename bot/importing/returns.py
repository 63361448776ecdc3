"""Amazon's returns reports applied to the desk: FBA customer returns and MFN returns.

A return request moves a shipped order to return_requested; an arrival (an FBA row, or an
MFN row with a return delivery date) moves it to return_received with Amazon's
disposition and reason, which the return-arrived alert and the order card show. Refunded
amounts in the MFN report move the refund state. Same guarantees as the order import:
idempotent, atomic per file, and rows that cannot apply are listed with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.amazon import BadRow, ImportedReturn, ParsedReport, RowError, RowErrorCode
from bot.domain import Actor, Event, Goods, Order, Refusal
from bot.importing.collector import collector_paused
from bot.importing.result import ImportResult, import_event
from bot.lifecycle import Lifecycle
from bot.refusal_codes import RefundCode, RefusalCode
from bot.storage import Store

__all__ = ["ROW_ERROR_FOR", "ReturnsImport"]

#: Where a return request or an arrival may come from (the goods left the seller).
_REQUESTABLE = frozenset({Goods.partially_shipped, Goods.shipped, Goods.delivered, Goods.lost})
_RECEIVABLE = _REQUESTABLE | {Goods.return_requested}
#: The lifecycle's refusals of a row's refund, as the row errors that say so in the summary.
#: The states are checked before a return is fired, so only the refund guards can refuse;
#: anything else is ``change_refused``.
ROW_ERROR_FOR: dict[RefusalCode, RowErrorCode] = {
    RefundCode.already_refunded: RowErrorCode.already_refunded,
    RefundCode.refund_too_much: RowErrorCode.refund_too_much,
    RefundCode.refund_currency: RowErrorCode.refund_currency,
    RefundCode.refund_currency_decimals: RowErrorCode.refund_currency_decimals,
}


class ReturnsImport:
    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock

    async def apply(self, team_id: int, report: ParsedReport, *, sha: str, filename: str, actor: Actor) -> ImportResult:
        """Every row of a returns report, in one transaction; raises ``OrderChangedMeanwhile`` when a person
        changed one of the orders meanwhile: call again."""
        now = self.clock()
        result = ImportResult(kind=report.kind, encoding=report.encoding, rows=report.rows, refused=list(report.errors))
        result.first_imported_at = await self.store.imported_before(team_id, sha)
        known = await self.store.orders_by_ids(team_id, sorted({r.order_id for r in report.returns}))
        source = {"file": filename, "report": report.kind}
        events: dict[str, list[Event]] = {}
        # The MFN report gives each returned item's refund: what the buyer got back in all is their sum.
        refunded: dict[str, Decimal] = {}
        for row in report.returns:
            if row.refunded is not None:
                refunded[row.order_id] = refunded.get(row.order_id, Decimal(0)) + row.refunded
        with collector_paused():
            for row in report.returns:
                order = known.get(row.order_id)
                if order is None:
                    result.refused.append(RowError(row.line, RowErrorCode.unknown_order_row, {"value": row.order_id}))
                    continue
                # A row applies whole or not at all: work on a copy, keep it only if every step held.
                trial = order.copy()
                try:
                    row_events = self.apply_row(trial, row, actor, now, source, refunded.get(row.order_id))
                except BadRow as bad:
                    result.refused.append(RowError(row.line, bad.code, dict(bad.params)))
                    continue
                except Refusal as refusal:
                    code = ROW_ERROR_FOR.get(refusal.code, RowErrorCode.change_refused)
                    result.refused.append(RowError(row.line, code, dict(refusal.params)))
                    continue
                if row_events:
                    known[row.order_id] = trial
                    events.setdefault(row.order_id, []).extend(row_events)
        changed = [(known[oid], evs) for oid, evs in events.items()]
        result.updated = len(changed)
        result.unchanged = len({r.order_id for r in report.returns} & set(known)) - result.updated
        result.refused.sort(key=lambda e: e.line)
        if changed:
            record = {
                "sha256": sha, "kind": report.kind, "filename": filename, "rows": report.rows, "actor_id": actor.id,
                "chat_id": actor.chat_id, "new": 0, "updated": result.updated, "unchanged": result.unchanged,
                "refused": len(result.refused),
            }  # fmt: skip
            await self.store.write_import(team_id=team_id, new=[], changed=changed, record=record, now=now)
        return result

    def apply_row(self, order: Order, row: ImportedReturn, actor: Actor, now: datetime,
                  source: dict[str, Any], refunded_in_all: Decimal | None) -> list[Event]:  # fmt: skip
        """One row's changes on ``order`` and their events; ``BadRow`` or the lifecycle's ``Refusal``
        when it cannot apply."""
        events = []
        details = {**source, "line": row.line}
        if row.arrived:
            if order.goods in _RECEIVABLE:
                events.append(self.fire(order, "receive_return", actor, now, details,
                                        reason=row.reason, disposition=row.disposition))  # fmt: skip
            elif order.goods in (Goods.return_received, Goods.return_closed):
                pass  # already known: a re-import changes nothing
            else:
                raise BadRow(RowErrorCode.return_not_shipped, order=order.order_id, state=order.goods.value)
        elif order.goods in _REQUESTABLE:
            events.append(self.fire(order, "request_return", actor, now, details, reason=row.reason))
        elif order.goods not in (Goods.return_requested, Goods.return_received, Goods.return_closed):
            raise BadRow(RowErrorCode.return_not_shipped, order=order.order_id, state=order.goods.value)
        if refunded_in_all is not None and refunded_in_all > order.refunded:
            # The report says how much the buyer got back: record the difference.
            amount = refunded_in_all - order.refunded
            events.append(self.fire(order, "refund", actor, now, details, amount=amount,
                                    currency=row.currency or None))  # fmt: skip
        return events

    def fire(self, order: Order, action: str, actor: Actor, now: datetime, details: dict[str, Any],
             **asked: Any) -> Event:  # fmt: skip
        before_goods, before_refunded = order.goods, order.refunded
        change = self.lifecycle.fire(order, action, **asked)
        extra = {k: v for k, v in asked.items() if v not in (None, "")}
        if action == "refund":
            extra["amount"] = order.refunded - before_refunded
            extra["currency"] = order.currency
        return import_event(order, actor, now, action, before_goods, {**details, **extra},
                            money_before=change.from_money)  # fmt: skip

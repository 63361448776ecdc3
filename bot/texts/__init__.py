"""How the desk's answers read, in the reader's language (in the chat and on the command line).

By area: display names (``names``), refusals and row errors (``refusals``), orders, their
history and import summaries (``orders``), alerts and the digest (``alerts``). This face
only re-exports.
"""

from bot.texts.alerts import alert_messages, digest_message
from bot.texts.names import (
    ACTION_NAMES,
    ALERT_KIND_NAMES,
    DISPOSITION_NAMES,
    MONEY_NAMES,
    REASON_NAMES,
    REFUND_REASON_NAMES,
    REPORT_NAMES,
    STATE_NAMES,
    action_name,
    disposition_name,
    reason_name,
    refund_reason_name,
    state_name,
)
from bot.texts.orders import SHOWN_ROW_ERRORS, event_details, event_line, import_summary, order_line
from bot.texts.refusals import REFUSALS, ROW_ERRORS, refusal, row_error

__all__ = [
    "ACTION_NAMES", "ALERT_KIND_NAMES", "DISPOSITION_NAMES", "MONEY_NAMES", "REASON_NAMES", "REFUND_REASON_NAMES",
    "REPORT_NAMES", "REFUSALS", "ROW_ERRORS", "SHOWN_ROW_ERRORS", "STATE_NAMES", "action_name", "alert_messages",
    "digest_message", "disposition_name", "event_details", "event_line", "import_summary", "order_line",
    "reason_name", "refund_reason_name", "refusal", "row_error", "state_name",
]  # fmt: skip

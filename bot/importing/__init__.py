"""What Amazon says, applied to the desk: report files and the Selling Partner API's orders.

This face only re-exports. Inside: ``files`` (``Importer``: a file read and applied, retried
when people act meanwhile), ``orders`` (new and known orders through the lifecycle),
``returns`` (return requests, arrivals and refunds through the lifecycle) and ``result``
(``ImportResult`` and the events both write). What Amazon's files and API say is read by
``bot.amazon``; nothing there imports this package.
"""

from bot.importing.files import Importer
from bot.importing.result import ImportResult

__all__ = ["ImportResult", "Importer"]

"""The repeating jobs: the alert check (which also wakes the sender) and the Amazon sync.

One repeating job finds what is due in the database: PTB's jobs are not persisted, and
APScheduler would silently skip a run that starts late (``misfire_grace_time``), so nothing
is scheduled per order.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.replicas import EVERYTHING, Partition
from bot.settings import Settings
from handlers.alerts import tick
from handlers.amazon import sync_tick

#: Never skip a late run, never pile runs up, never run two at once.
_JOB_KWARGS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


def schedule(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    settings: Settings = application.bot_data["settings"]
    if application.job_queue is None:
        raise RuntimeError("python-telegram-bot[job-queue] is required (pip install -e .)")
    application.job_queue.run_repeating(
        tick, interval=settings.alert_interval, first=min(1.0, settings.alert_interval), name="alerts",
        job_kwargs=_JOB_KWARGS,
    )  # fmt: skip
    # The Selling Partner API sync is its own job, so that a slow or throttled Amazon never
    # delays the alerts; it does nothing for teams without credentials.
    application.job_queue.run_repeating(
        sync_tick, interval=settings.sync_interval, first=settings.sync_interval, name="amazon-sync",
        job_kwargs=_JOB_KWARGS,
    )  # fmt: skip
    # Carrier tracking (register, stop, poll) is its own job too; it does nothing without a key.
    application.job_queue.run_repeating(
        tracking_tick, interval=settings.tracking_interval, first=min(5.0, settings.tracking_interval),
        name="tracking", job_kwargs=_JOB_KWARGS,
    )  # fmt: skip


async def tracking_tick(context: Any) -> None:
    """The repeating job: one tracking run, if the operator configured a tracking provider."""
    tracker = context.application.bot_data.get("tracking")
    if tracker is None:
        return
    # One run serves every team (one provider account, one monthly quota): with several
    # replicas, the one holding shard 0 runs it (bot/replicas.py).
    partition: Partition = context.application.bot_data.get("replicas", EVERYTHING)
    with partition.working_on(0) as mine:
        if mine:
            await tracker.run()

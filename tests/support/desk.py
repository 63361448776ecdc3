"""The real desk, run against the fakes."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from tests.support.clock import FakeClock
from tests.support.fakebotapi import FakeBotAPI


def desk_settings(api: FakeBotAPI, clock: FakeClock, db_path: Path, *, alert_interval: float = 3600.0) -> Settings:
    """The desk's settings for a team in Shanghai, talking to ``api`` and living on ``clock``."""
    return Settings(
        token=api.token,
        db_path=db_path,
        timezone="Asia/Shanghai",
        api_url=api.base_url,
        file_url=api.base_file_url,
        clock=clock,
        alert_interval=alert_interval,
    )

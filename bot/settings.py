"""Configuration: read once from the environment into one frozen object."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TELEGRAM_API_URL = "https://api.telegram.org/bot"


class ConfigError(Exception):
    """The environment does not describe a runnable bot; the message says what to set."""


class StartupError(Exception):
    """The bot could not start talking to Telegram; the message says what to check."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    token: str = field(repr=False)
    db_path: Path = Path("dingdan.sqlite3")
    timezone: str = "Asia/Shanghai"
    api_url: str = TELEGRAM_API_URL
    file_url: str | None = None
    # Injected in tests so deadlines can be checked without sleeping.
    clock: Callable[[], datetime] = field(default=utc_now, repr=False, compare=False)
    # Telegram's flood limits; tests may not change these (they drive the real limiter).
    poll_timeout: float = 10.0
    #: How often the alert check and the outbox sender run (seconds of real time).
    alert_interval: float = 30.0
    #: Amazon's Selling Partner API for one team from the environment (others use /amazon).
    spapi_refresh_token: str = field(default="", repr=False)
    spapi_client_id: str = field(default="", repr=False)
    spapi_client_secret: str = field(default="", repr=False)
    spapi_marketplace: str = ""
    spapi_endpoint: str = ""  # "": the marketplace's region (https://sellingpartnerapi-na.amazon.com for the US)
    spapi_auth_url: str = "https://api.amazon.com/auth/o2/token"
    spapi_team: int | None = None  # the team they serve; None: the only team
    #: How often the Selling Partner API sync runs (seconds of real time).
    sync_interval: float = 60.0
    #: Hosts besides Amazon's that the Selling Partner API client may call (DINGDAN_SPAPI_ALLOW_HOSTS):
    #: ``host`` (any port) or ``host:port``, over http or https. Amazon's own need no entry.
    spapi_allow_hosts: tuple[str, ...] = ()
    #: Fernet keys that encrypt Amazon's secrets in the database (DINGDAN_SECRET_KEY, comma-separated):
    #: the first encrypts, every one decrypts, so a new key goes first and the old stays until
    #: ``dingdan rotate-secrets`` has run.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)

    @property
    def base_file_url(self) -> str:
        if self.file_url:
            return self.file_url
        # PTB's default file URL mirrors the API URL: .../bot -> .../file/bot
        if self.api_url.endswith("/bot"):
            return self.api_url[: -len("/bot")] + "/file/bot"
        return self.api_url.rstrip("/") + "/file/bot"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = env.get("DINGDAN_TOKEN", "").strip()
        if not token:
            raise ConfigError(
                "DINGDAN_TOKEN is not set. Create a bot with @BotFather and run: "
                "export DINGDAN_TOKEN='<the token BotFather gave you>'"
            )
        timezone = env.get("DINGDAN_TIMEZONE", "Asia/Shanghai").strip() or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"DINGDAN_TIMEZONE={timezone!r} is not a time zone name; use one like Asia/Shanghai or America/New_York."
            ) from None
        api_url = env.get("DINGDAN_API_URL", "").strip() or TELEGRAM_API_URL
        settings = cls(
            token=token,
            db_path=Path(env.get("DINGDAN_DB", "").strip() or "dingdan.sqlite3"),
            timezone=timezone,
            api_url=api_url,
            file_url=env.get("DINGDAN_FILE_URL", "").strip() or None,
            spapi_allow_hosts=allowed_hosts_from_env(env),
            secret_keys=secret_keys_from_env(env),
            **_spapi_from_env(env),
        )
        _check_spapi_addresses(settings)
        return settings


def _spapi_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """DINGDAN_SPAPI_*: all three credentials and the marketplace, or none of them."""
    values = {name: env.get(f"DINGDAN_SPAPI_{name.upper()}", "").strip()
              for name in ("refresh_token", "client_id", "client_secret", "marketplace")}  # fmt: skip
    given = [name for name, value in values.items() if value]
    if not given:
        return {}
    missing = [f"DINGDAN_SPAPI_{name.upper()}" for name, value in values.items() if not value]
    if missing:
        raise ConfigError(f"Selling Partner API settings are incomplete; also set {', '.join(missing)} "
                          "(the marketplace like ATVPDKIKX0DER), or unset the DINGDAN_SPAPI_* variables.")  # fmt: skip
    team = env.get("DINGDAN_SPAPI_TEAM", "").strip()
    if team and not team.lstrip("-").isdigit():
        raise ConfigError(f"DINGDAN_SPAPI_TEAM={team!r} is not a chat id; use the team group's id, like -1001234567890.")
    out: dict[str, Any] = {f"spapi_{name}": value for name, value in values.items()}
    out["spapi_team"] = int(team) if team else None
    for name in ("endpoint", "auth_url"):
        value = env.get(f"DINGDAN_SPAPI_{name.upper()}", "").strip()
        if value:
            out[f"spapi_{name}"] = value
    return out


#: How an operator makes a key for DINGDAN_SECRET_KEY (the README and /amazon set say it too).
KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def secret_keys_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """DINGDAN_SECRET_KEY: Fernet keys, comma-separated, the one that encrypts first. A key is
    never repeated in an error: it is named by its place in the list."""
    env = os.environ if env is None else env
    keys = tuple(k.strip() for k in env.get("DINGDAN_SECRET_KEY", "").split(",") if k.strip())
    for n, key in enumerate(keys, 1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ConfigError(f"DINGDAN_SECRET_KEY: key {n} of {len(keys)} is not a Fernet key (32 url-safe "
                              f"base64-encoded bytes); generate one with: {KEY_COMMAND}")  # fmt: skip
    return keys


def allowed_hosts_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """DINGDAN_SPAPI_ALLOW_HOSTS: ``host`` or ``host:port``, comma-separated ([::1]:8443 for IPv6)."""
    from bot.amazon import parse_allowed_host

    out = []
    for entry in env.get("DINGDAN_SPAPI_ALLOW_HOSTS", "").split(","):
        if not entry.strip():
            continue
        try:
            out.append(parse_allowed_host(entry))
        except ValueError:
            raise ConfigError(f"DINGDAN_SPAPI_ALLOW_HOSTS: {entry.strip()!r} is not a host or host:port, like "
                              "127.0.0.1:8443 or localhost.") from None  # fmt: skip
    return tuple(out)


def _check_spapi_addresses(settings: Settings) -> None:
    """The Selling Partner API and its token URL are Amazon's, over https, unless the operator
    allowed another host: the bot sends the secrets there."""
    from bot.amazon import LOGIN_HOSTS, SPAPI_HOSTS, endpoint_ok

    for name, value, hosts in (("DINGDAN_SPAPI_ENDPOINT", settings.spapi_endpoint, SPAPI_HOSTS),
                               ("DINGDAN_SPAPI_AUTH_URL", settings.spapi_auth_url, LOGIN_HOSTS)):  # fmt: skip
        if value and not endpoint_ok(value, hosts, settings.spapi_allow_hosts):
            # The address is not repeated: it may carry a password (https://user:pw@…).
            raise ConfigError(f"{name} must be an https address on one of Amazon's hosts ({', '.join(sorted(hosts))}); "
                              "to use another (a proxy, a test server), list its host or host:port in "
                              "DINGDAN_SPAPI_ALLOW_HOSTS.")  # fmt: skip

"""Configuration: read once from the environment into one frozen object."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.amazon.secret_box import KEY_COMMAND

TELEGRAM_API_URL = "https://api.telegram.org/bot"
#: Where most teams sell from; a team changes its own zone with /alerts.
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_DB = "dingdan.sqlite3"
#: Where the webhook server listens unless DINGDAN_LISTEN (or ``--listen``) says otherwise.
DEFAULT_LISTEN = "0.0.0.0:8443"
#: What Telegram accepts as a webhook's secret token.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ConfigError(Exception):
    """The environment does not describe a runnable bot; the message says what to set."""


class StartupError(Exception):
    """The bot could not start talking to Telegram; the message says what to check."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def database_target(value: str) -> Path | str:
    """DINGDAN_DB as the store takes it: a PostgreSQL URL as it is, anything else a file path."""
    value = value.strip()
    if value.startswith(("postgresql://", "postgres://")):
        return value
    return Path(value or DEFAULT_DB)


@dataclass(frozen=True)
class Settings:
    token: str = field(repr=False)
    #: The SQLite file, or a PostgreSQL database's ``postgresql://`` URL (a hosted desk).
    db_path: Path | str = Path(DEFAULT_DB)
    timezone: str = DEFAULT_TIMEZONE
    api_url: str = TELEGRAM_API_URL
    file_url: str | None = None
    # Injected in tests so deadlines can be checked without sleeping.
    clock: Callable[[], datetime] = field(default=utc_now, repr=False, compare=False)
    #: How long one getUpdates long poll waits for news (seconds).
    poll_timeout: float = 10.0
    #: How often the alert check runs and wakes the outbox sender (seconds of real time).
    alert_interval: float = 30.0
    #: Updates handled at the same time (the desk serialises per order, not per bot).
    concurrent_updates: int = 64
    #: How often a 429 from Telegram is waited out inside a request before the sender retries.
    max_retries: int = 2
    #: How long Telegram's answer about a person's membership is trusted (seconds).
    membership_ttl: float = 60.0
    #: How far back a team's first Selling Partner API sync looks for orders (days).
    sync_lookback_days: int = 7
    #: The log level (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    #: How log lines are written: ``text``, or ``json`` (one object a line, for a log collector).
    log_format: str = "text"
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
    #: The tracking provider's key (17TRACK's ``17token``, DINGDAN_TRACKING_KEY); "": no carrier tracking.
    tracking_key: str = field(default="", repr=False)
    #: The tracking provider's address (DINGDAN_TRACKING_URL): 17TRACK's v2.2 API unless another is given.
    tracking_url: str = "https://api.17track.net/track/v2.2"
    #: How often the tracking run registers, stops and polls numbers (seconds of real time).
    tracking_interval: float = 300.0
    #: Webhook mode (DINGDAN_WEBHOOK_URL, ``--webhook``): the public https address Telegram posts
    #: updates to; "": long polling (the default). See bot/webhook.py.
    webhook_url: str = ""
    #: Where the webhook server listens (DINGDAN_LISTEN, ``--listen``): ``host:port``.
    listen: str = DEFAULT_LISTEN
    #: The secret Telegram sends with every update (DINGDAN_WEBHOOK_SECRET); "": derived from the token.
    webhook_secret: str = field(default="", repr=False)
    #: Whether this process calls setWebhook at start (``--no-set-webhook``: another replica does).
    set_webhook: bool = True

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

    @property
    def webhook_secret_token(self) -> str:
        """The webhook's secret: DINGDAN_WEBHOOK_SECRET, else derived from the token, so that every
        replica of one bot agrees without being told (64 hex digits, within Telegram's 1-256)."""
        if self.webhook_secret:
            return self.webhook_secret
        return hmac.new(self.token.encode("utf-8"), b"webhook", hashlib.sha256).hexdigest()

    @property
    def webhook_path(self) -> str:
        """The path of :attr:`webhook_url` the server answers on."""
        from urllib.parse import urlsplit

        return urlsplit(self.webhook_url).path or "/"

    @property
    def listen_address(self) -> tuple[str, int]:
        return parse_listen(self.listen)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, need_token: bool = True) -> Settings:
        """The settings in ``env`` (the process environment); ``need_token=False`` for the
        commands that never talk to Telegram (import, export, rotate-secrets)."""
        env = os.environ if env is None else env
        token = env.get("DINGDAN_TOKEN", "").strip()
        if not token and need_token:
            raise ConfigError(
                "DINGDAN_TOKEN is not set. Create a bot with @BotFather and run: "
                "export DINGDAN_TOKEN='<the token BotFather gave you>'"
            )
        timezone = env.get("DINGDAN_TIMEZONE", "").strip() or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"DINGDAN_TIMEZONE={timezone!r} is not a time zone name; use one like Asia/Shanghai or America/New_York."
            ) from None
        api_url = env.get("DINGDAN_API_URL", "").strip() or TELEGRAM_API_URL
        settings = cls(
            **_tuning_from_env(env),
            token=token,
            db_path=database_target(env.get("DINGDAN_DB", "")),
            timezone=timezone,
            api_url=api_url,
            file_url=env.get("DINGDAN_FILE_URL", "").strip() or None,
            spapi_allow_hosts=allowed_hosts_from_env(env),
            secret_keys=secret_keys_from_env(env),
            **_tracking_from_env(env),
            **_spapi_from_env(env),
            **_webhook_from_env(env),
        )
        _check_spapi_addresses(settings)
        return settings


@dataclass(frozen=True)
class Variable:
    """One environment variable: what it sets and how it is read (``dingdan --help`` and
    the README's table list these)."""

    name: str
    default: str
    meaning: str
    field: str = ""
    read: Callable[[str], Any] | None = None


def _number(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def read(text: str) -> Any:
        value = kind(text)
        if not low <= value <= high:
            raise ValueError(f"not between {low:g} and {high:g}")
        return value

    return read


def _level(text: str) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("not one of DEBUG, INFO, WARNING, ERROR")
    return level


def _log_format(text: str) -> str:
    fmt = text.lower()
    if fmt not in ("text", "json"):
        raise ValueError("not text or json")
    return fmt


#: Every variable dingdan reads, in the order the help shows them.
VARIABLES: tuple[Variable, ...] = (
    Variable("DINGDAN_TOKEN", "(required)", "The bot token from BotFather."),
    Variable("DINGDAN_DB", f"./{DEFAULT_DB}", "The SQLite database file (WAL mode), or a PostgreSQL URL "
             "(postgresql://user:password@host:5432/dingdan) for a hosted desk of several replicas."),
    Variable("DINGDAN_TIMEZONE", DEFAULT_TIMEZONE, "The time zone new teams get; dates are shown in it."),
    Variable("DINGDAN_API_URL", TELEGRAM_API_URL, "Bot API base URL, for a self-hosted Bot API server (and the tests)."),
    Variable("DINGDAN_FILE_URL", "derived from DINGDAN_API_URL", "Base URL for file downloads, if served elsewhere."),
    Variable("DINGDAN_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR. At INFO: one line per update (team, command, "
             "outcome, time taken) and what the desk does; library chatter only at DEBUG.", "log_level", _level),
    Variable("DINGDAN_LOG_FORMAT", "text", "text, or json for one JSON object a line (for a log collector).",
             "log_format", _log_format),
    Variable("DINGDAN_POLL_TIMEOUT", "10", "Seconds one getUpdates long poll waits for news.", "poll_timeout",
             _number(float, 1, 50)),
    Variable("DINGDAN_ALERT_INTERVAL", "30", "Seconds between two alert checks.", "alert_interval",
             _number(float, 1, 3600)),
    Variable("DINGDAN_SYNC_INTERVAL", "60", "Seconds between two Selling Partner API syncs.", "sync_interval",
             _number(float, 10, 86400)),
    Variable("DINGDAN_SYNC_LOOKBACK_DAYS", "7", "Days a team's first Amazon sync looks back for orders.",
             "sync_lookback_days", _number(int, 1, 30)),
    Variable("DINGDAN_CONCURRENT_UPDATES", "64", "Updates handled at the same time.", "concurrent_updates",
             _number(int, 1, 512)),
    Variable("DINGDAN_MAX_RETRIES", "2", "Times a 429 from Telegram is waited out within one request.",
             "max_retries", _number(int, 0, 10)),
    Variable("DINGDAN_MEMBERSHIP_TTL", "60", "Seconds a membership answer from Telegram is trusted.",
             "membership_ttl", _number(float, 0, 600)),
    Variable("DINGDAN_SPAPI_CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN, _MARKETPLACE", "(none: no live sync)",
             "Selling Partner API credentials and marketplace id (e.g. ATVPDKIKX0DER); all four or none."),
    Variable("DINGDAN_SPAPI_TEAM", "the only team", "Which team's group those credentials serve (its chat id)."),
    Variable("DINGDAN_SPAPI_ENDPOINT, DINGDAN_SPAPI_AUTH_URL", "the marketplace's region; Amazon's token URL",
             "Another of Amazon's Selling Partner API / login endpoints (https on Amazon's hosts), or one allowed "
             "below."),
    Variable("DINGDAN_SPAPI_ALLOW_HOSTS", "(none)", "Hosts besides Amazon's the SP-API client may call: host or "
             "host:port, comma-separated. For a proxy or a test server only."),
    Variable("DINGDAN_SECRET_KEY", "(none: /amazon set stores nothing)", "Fernet key(s) that encrypt Amazon's "
             "secrets in the database; comma-separated for rotation, the first encrypts."),
    Variable("DINGDAN_TRACKING_KEY", "(none: no carrier tracking)", "The 17TRACK API key (its 17token): "
             "shipments are registered and tracked, and delivered orders marked delivered."),
    Variable("DINGDAN_TRACKING_URL", "https://api.17track.net/track/v2.2", "Another tracking API address (https, "
             "or http on this machine: the tests)."),
    Variable("DINGDAN_WEBHOOK_URL", "(none: long polling)", "Webhook mode (also `dingdan run --webhook URL`): the "
             "https address Telegram posts updates to, like https://bot.example.com/telegram."),
    Variable("DINGDAN_LISTEN", DEFAULT_LISTEN, "Where the webhook server listens, host:port (also --listen); "
             "it answers the URL's path, /healthz and /readyz."),
    Variable("DINGDAN_WEBHOOK_SECRET", "derived from the token", "The secret Telegram sends with each update "
             "(1-256 of A-Z a-z 0-9 _ -); every replica must have the same."),
    Variable("DINGDAN_SET_WEBHOOK", "1", "0: do not call setWebhook at start (also --no-set-webhook), when one "
             "replica or the operator sets it."),
)  # fmt: skip


def _tuning_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The variables with a reader: unset means the default; a bad value stops start-up."""
    out: dict[str, Any] = {}
    for variable in VARIABLES:
        if variable.read is None:
            continue
        text = env.get(variable.name, "").strip()
        if not text:
            continue
        try:
            out[variable.field] = variable.read(text)
        except ValueError as err:
            raise ConfigError(f"{variable.name}={text!r}: {err}. {variable.meaning}") from None
    return out


def environment_help() -> str:
    """The variables, for ``dingdan --help``."""
    lines = ["environment:"]
    for variable in VARIABLES:
        lines.append(f"  {variable.name}")
        lines.append(f"      {variable.meaning} Default: {variable.default}.")
    return "\n".join(lines)


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
        raise ConfigError(
            f"DINGDAN_SPAPI_TEAM={team!r} is not a chat id; use the team group's id, like -1001234567890."
        )
    out: dict[str, Any] = {f"spapi_{name}": value for name, value in values.items()}
    out["spapi_team"] = int(team) if team else None
    for name in ("endpoint", "auth_url"):
        value = env.get(f"DINGDAN_SPAPI_{name.upper()}", "").strip()
        if value:
            out[f"spapi_{name}"] = value
    return out


def _tracking_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """DINGDAN_TRACKING_KEY and DINGDAN_TRACKING_URL. The key goes to that address, so it is https,
    or http on this machine only. Neither is repeated in an error (an address may carry a password)."""
    key = env.get("DINGDAN_TRACKING_KEY", "").strip()
    url = env.get("DINGDAN_TRACKING_URL", "").strip()
    out: dict[str, Any] = {}
    if key:
        out["tracking_key"] = key
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.password
            or (parts.scheme == "http" and not local)
        ):
            raise ConfigError("DINGDAN_TRACKING_URL must be an https address (or http on 127.0.0.1 or localhost), "
                              "like https://api.17track.net/track/v2.2.")  # fmt: skip
        out["tracking_url"] = url
    return out


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[::]:8443`` for IPv6; ``:8443`` for every address) as (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def _webhook_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """DINGDAN_WEBHOOK_URL, DINGDAN_LISTEN, DINGDAN_WEBHOOK_SECRET, DINGDAN_SET_WEBHOOK. Telegram
    posts only to https; http is allowed on this machine (the tests). The secret is never repeated."""
    out: dict[str, Any] = {}
    url = env.get("DINGDAN_WEBHOOK_URL", "").strip()
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.password
            or parts.fragment
            or (parts.scheme == "http" and not local)
        ):
            raise ConfigError("The webhook address (DINGDAN_WEBHOOK_URL or --webhook) must be an https address "
                              "(or http on 127.0.0.1 or localhost), like https://bot.example.com/telegram.")  # fmt: skip
        out["webhook_url"] = url
    listen = env.get("DINGDAN_LISTEN", "").strip()
    if listen:
        try:
            parse_listen(listen)
        except ValueError:
            raise ConfigError(f"The listening address (DINGDAN_LISTEN or --listen) {listen!r} is not host:port, "
                              "like 0.0.0.0:8443 or 127.0.0.1:8080.") from None  # fmt: skip
        out["listen"] = listen
    secret = env.get("DINGDAN_WEBHOOK_SECRET", "").strip()
    if secret:
        if not WEBHOOK_SECRET.fullmatch(secret):
            raise ConfigError("DINGDAN_WEBHOOK_SECRET must be 1 to 256 of the characters A-Z a-z 0-9 _ - "
                              "(Telegram's rule for a webhook's secret token).")  # fmt: skip
        out["webhook_secret"] = secret
    flag = env.get("DINGDAN_SET_WEBHOOK", "").strip().lower()
    if flag:
        if flag not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(f"DINGDAN_SET_WEBHOOK={flag!r}: use 1 or 0.")
        out["set_webhook"] = flag in ("1", "true", "yes")
    return out


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

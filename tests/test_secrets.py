"""Secrets at rest, piece by piece: the Fernet box and its key rotation, DINGDAN_SECRET_KEY and
the allowed hosts in the settings, a team whose credentials no key opens beside one that syncs,
and ``dingdan rotate-secrets`` from the shell."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.amazon import AmazonStore, AmazonSync, NoSecretKey, SecretBox, SecretUnreadable, reseal
from bot.domain import Refusal
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.settings import ConfigError, Settings
from bot.storage import Store
from tests.support.clock import START, FakeClock
from tests.support.db import opened
from tests.support.fakespapi import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, REFRESH_TOKEN, AmazonTime, FakeSpApi

ROOT = Path(__file__).resolve().parent.parent
OLD_KEY = "lyRUdXumtR1Qn8cIX2Ty6Nwl4EbJFy9WQrGldIbpavE="
NEW_KEY = "zpYe-ykaiFtZQsHqKrimN8VvtpM1DglCQh7-3UrKMVk="
THIRD_KEY = "ybBvWwmMStnvqH-hifMqHMh9I6PxxvQUAIKYVfWoT2g="
STORE_A, STORE_B = -1001234567890, -1009876543210


# --- the box ------------------------------------------------------------------------------------


def test_a_sealed_secret_is_not_the_secret_and_opens_with_the_key() -> None:
    box = SecretBox([OLD_KEY])
    sealed = box.seal(CLIENT_SECRET)
    assert sealed.startswith("fernet:") and CLIENT_SECRET not in sealed
    assert box.seal(CLIENT_SECRET) != sealed  # a fresh IV each time
    assert box.open(sealed) == CLIENT_SECRET
    assert box.open(REFRESH_TOKEN) == REFRESH_TOKEN  # stored in clear by an older version: as it is
    assert box.is_sealed(sealed) and not box.is_sealed(REFRESH_TOKEN)


def test_without_a_key_nothing_is_sealed_and_a_sealed_secret_cannot_be_opened() -> None:
    sealed = SecretBox([OLD_KEY]).seal(CLIENT_SECRET)
    box = SecretBox([])
    assert not box.can_seal
    with pytest.raises(NoSecretKey):
        box.seal(CLIENT_SECRET)
    with pytest.raises(SecretUnreadable):
        box.open(sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox([NEW_KEY]).open(sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox([OLD_KEY]).open("fernet:not-a-token")


def test_rotation_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old = SecretBox([OLD_KEY]).seal(REFRESH_TOKEN)
    both = SecretBox([NEW_KEY, OLD_KEY])
    assert both.open(old) == REFRESH_TOKEN
    rotated = both.reseal(old)
    assert SecretBox([NEW_KEY]).open(rotated) == REFRESH_TOKEN
    with pytest.raises(SecretUnreadable):
        SecretBox([OLD_KEY]).open(rotated)
    assert SecretBox([NEW_KEY]).open(both.reseal(REFRESH_TOKEN)) == REFRESH_TOKEN  # a clear one is sealed
    with pytest.raises(SecretUnreadable):
        SecretBox([THIRD_KEY]).reseal(old)


def test_the_key_never_reaches_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    from bot.amazon import install_log_redaction

    install_log_redaction()
    box = SecretBox([THIRD_KEY])
    with caplog.at_level(logging.INFO):
        logging.getLogger("somewhere").info("the key is %s", THIRD_KEY)
    assert THIRD_KEY not in caplog.text and "<redacted>" in caplog.text
    assert THIRD_KEY not in repr(box)


# --- the settings ---------------------------------------------------------------------------------

BASE = {"DINGDAN_TOKEN": "123:abc"}
SPAPI = {**BASE, "DINGDAN_SPAPI_REFRESH_TOKEN": REFRESH_TOKEN, "DINGDAN_SPAPI_CLIENT_ID": CLIENT_ID,
         "DINGDAN_SPAPI_CLIENT_SECRET": CLIENT_SECRET, "DINGDAN_SPAPI_MARKETPLACE": MARKETPLACE}  # fmt: skip


def test_the_secret_key_may_hold_several_keys_and_is_never_repeated() -> None:
    settings = Settings.from_env({**BASE, "DINGDAN_SECRET_KEY": f" {NEW_KEY} , {OLD_KEY},"})
    assert settings.secret_keys == (NEW_KEY, OLD_KEY)
    assert NEW_KEY not in repr(settings) and OLD_KEY not in repr(settings)
    assert Settings.from_env(BASE).secret_keys == ()
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**BASE, "DINGDAN_SECRET_KEY": f"{NEW_KEY},my-secret-passphrase"})
    assert str(refused.value) == (
        "DINGDAN_SECRET_KEY: key 2 of 2 is not a Fernet key (32 url-safe base64-encoded bytes); generate one with: "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )


def test_endpoints_from_the_environment_are_amazons_unless_allowed() -> None:
    assert Settings.from_env({**SPAPI, "DINGDAN_SPAPI_ENDPOINT": "https://sandbox.sellingpartnerapi-eu.amazon.com",
                              "DINGDAN_SPAPI_AUTH_URL": "https://api.amazon.co.uk/auth/o2/token"}).spapi_endpoint  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**SPAPI, "DINGDAN_SPAPI_ENDPOINT": "http://user:pw@127.0.0.1:9/x"})
    assert str(refused.value) == (
        "DINGDAN_SPAPI_ENDPOINT must be an https address on one of Amazon's hosts (sandbox.sellingpartnerapi-eu.amazon.com, "
        "sandbox.sellingpartnerapi-fe.amazon.com, sandbox.sellingpartnerapi-na.amazon.com, "
        "sellingpartnerapi-eu.amazon.com, sellingpartnerapi-fe.amazon.com, sellingpartnerapi-na.amazon.com); to use "
        "another (a proxy, a test server), list its host or host:port in DINGDAN_SPAPI_ALLOW_HOSTS."
    )
    assert "pw" not in str(refused.value)
    with pytest.raises(ConfigError, match="^DINGDAN_SPAPI_AUTH_URL must be an https address on one of Amazon's hosts "
                       r"\(api.amazon.co.jp, api.amazon.co.uk, api.amazon.com\)"):  # fmt: skip
        Settings.from_env({**SPAPI, "DINGDAN_SPAPI_AUTH_URL": "https://login.example.com/auth/o2/token"})
    allowed = Settings.from_env({**SPAPI, "DINGDAN_SPAPI_ALLOW_HOSTS": "127.0.0.1:8443, LocalHost",
                                 "DINGDAN_SPAPI_ENDPOINT": "http://127.0.0.1:8443",
                                 "DINGDAN_SPAPI_AUTH_URL": "http://localhost:9000/auth/o2/token"})  # fmt: skip
    assert allowed.spapi_allow_hosts == ("127.0.0.1:8443", "localhost")
    with pytest.raises(ConfigError, match="DINGDAN_SPAPI_ENDPOINT must be an https address"):
        Settings.from_env({**SPAPI, "DINGDAN_SPAPI_ALLOW_HOSTS": "127.0.0.1:8443", "DINGDAN_SPAPI_ENDPOINT":
                           "http://127.0.0.1:8444"})  # fmt: skip
    with pytest.raises(ConfigError) as bad:
        Settings.from_env({**BASE, "DINGDAN_SPAPI_ALLOW_HOSTS": "http://127.0.0.1:8443"})
    assert str(bad.value) == ("DINGDAN_SPAPI_ALLOW_HOSTS: 'http://127.0.0.1:8443' is not a host or host:port, like "
                              "127.0.0.1:8443 or localhost.")  # fmt: skip


# --- one team's unreadable credentials, another team's sync ------------------------------------


@pytest.fixture
def amazon(amazon: FakeSpApi) -> FakeSpApi:
    """The fake Amazon (conftest's), holding one order."""
    amazon.add_order("113-7000001-0000001", updated=START - timedelta(hours=1), ship_by=START + timedelta(days=2))
    return amazon


@pytest.fixture
async def store(db_target: Path | str, clock: FakeClock) -> AsyncIterator[Store]:
    s = Store(db_target)
    await s.open()
    for team_id, title in ((STORE_A, "Store A"), (STORE_B, "Store B")):
        await s.create_team(team_id, title, "Asia/Shanghai", by=1001, at=clock())
    try:
        yield s
    finally:
        await s.close()


def service(store: Store, amazon: FakeSpApi, clock: FakeClock, *keys: str) -> AmazonSync:
    settings = Settings(token="x", clock=clock, spapi_auth_url=amazon.auth_url, spapi_allow_hosts=(amazon.host,),
                        secret_keys=keys)  # fmt: skip
    t = AmazonTime()
    return AmazonSync(store, Importer(store, Lifecycle(), clock), settings, monotonic=t.monotonic, sleep=t.sleep)


async def rows(store: Store, sql: str, *params: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await store.fetchall(sql, params)]


async def test_a_team_whose_credentials_no_key_opens_does_not_stop_the_others(store, amazon, clock, caplog) -> None:
    for team_id, key in ((STORE_A, OLD_KEY), (STORE_B, NEW_KEY)):
        await service(store, amazon, clock, key).configure(
            team_id, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN, endpoint=amazon.base_url, by=1001)  # fmt: skip
    sync = service(store, amazon, clock, NEW_KEY)  # Store A's key is lost
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            await sync.run_all()
    assert await rows(store, "SELECT team_id, sync_status, sync_error FROM amazon_accounts ORDER BY team_id") == [
        (STORE_B, "ok", None),
        (STORE_A, "error", "the stored credentials cannot be decrypted with DINGDAN_SECRET_KEY"),
    ]  # fmt: skip
    assert await rows(store, "SELECT team_id, count(*) FROM orders GROUP BY team_id") == [(STORE_B, 1)]
    # Store A's group is told once, the log says it once, and no run ended in a traceback.
    assert await rows(store, "SELECT team_id, kind FROM alerts WHERE kind = 'amazon_secrets'") == [
        (STORE_A, "amazon_secrets")
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"Amazon sync of team {STORE_A} stopped: the stored credentials cannot be decrypted with DINGDAN_SECRET_KEY"
    ]
    assert not [r for r in caplog.records if r.exc_info]
    with pytest.raises(Refusal) as refused:
        await sync.run_team(STORE_A)
    assert refused.value.code == "amazon_secrets_unreadable"


async def test_an_address_an_older_version_stored_is_checked_before_any_secret_is_sent(store, amazon, clock) -> None:
    sync = service(store, amazon, clock, OLD_KEY)
    await sync.configure(STORE_A, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         refresh_token=REFRESH_TOKEN, endpoint=amazon.base_url, by=1001)  # fmt: skip
    async with store.transaction() as tx:  # as dingdan 0.1 took it from /amazon set
        await tx.execute("UPDATE amazon_accounts SET endpoint = 'http://127.0.0.1:9/x'")
    with pytest.raises(Refusal) as refused:
        await sync.run_team(STORE_A)
    assert (refused.value.code, refused.value.params) == (
        "amazon_address_refused",
        {"endpoint": "http://127.0.0.1:9/x"},
    )
    assert amazon.requests == []
    assert await rows(store, "SELECT sync_status, sync_error FROM amazon_accounts") == [
        ("error", "http://127.0.0.1:9/x is not an allowed address")
    ]


async def test_configure_refuses_without_a_key_or_for_another_host_and_stores_nothing(store, amazon, clock) -> None:
    for sync, endpoint, code in ((service(store, amazon, clock), amazon.base_url, "amazon_no_secret_key"),
                                 (service(store, amazon, clock, OLD_KEY), "http://127.0.0.1:9/x", "amazon_bad_endpoint_allowed"),
                                 (service(store, amazon, clock, OLD_KEY), "https://sellingpartnerapi-na.amazon.com.evil.example",
                                  "amazon_bad_endpoint_allowed")):  # fmt: skip
        with pytest.raises(Refusal) as refused:
            await sync.configure(STORE_A, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                 refresh_token=REFRESH_TOKEN, endpoint=endpoint, by=1001)  # fmt: skip
        assert refused.value.code == code
    assert await rows(store, "SELECT count(*) FROM amazon_accounts") == [(0,)]


async def test_reseal_skips_a_team_whose_secrets_changed_meanwhile(store, amazon, clock) -> None:
    sync = service(store, amazon, clock, OLD_KEY)
    await sync.configure(STORE_A, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         refresh_token=REFRESH_TOKEN, endpoint=amazon.base_url, by=1001)  # fmt: skip
    accounts = AmazonStore(store)
    ((team_id, old),) = await accounts.stored_secrets()
    assert await accounts.replace_secrets([(team_id, ("x", "y"), ("a", "b"))]) == []  # not what is stored now
    assert await accounts.stored_secrets() == [(team_id, old)]
    done = await reseal(accounts, SecretBox([NEW_KEY, OLD_KEY]), rotate=True)
    assert (done.resealed, done.clear, done.unreadable) == ([STORE_A], [], [])
    ((_team, new),) = await accounts.stored_secrets()
    assert [SecretBox([NEW_KEY]).open(v) for v in new] == [CLIENT_SECRET, REFRESH_TOKEN]


# --- dingdan rotate-secrets -------------------------------------------------------------------------


def dingdan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_rotate_secrets_from_the_shell(db_target: Path | str) -> None:
    db = db_target

    async def connect_two_teams() -> None:
        store = Store(db)
        await store.open()
        clock = FakeClock()
        for team_id, title in ((STORE_A, "Store A"), (STORE_B, "Store B")):
            await store.create_team(team_id, title, "Asia/Shanghai", by=1001, at=clock())
        settings = Settings(token="x", clock=clock, secret_keys=(OLD_KEY,))
        sync = AmazonSync(store, Importer(store, Lifecycle(), clock), settings)
        await sync.configure(STORE_A, marketplace_id=MARKETPLACE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             refresh_token=REFRESH_TOKEN, endpoint="https://sellingpartnerapi-na.amazon.com", by=1001)  # fmt: skip
        await store.close()

    asyncio.run(connect_two_teams())
    with opened(db) as conn, conn:  # Store B: set by dingdan 0.1, in clear
        conn.execute("INSERT INTO amazon_accounts (team_id, source, marketplace_id, endpoint, client_id, client_secret, "
                     "refresh_token, configured_at, secrets_at) VALUES (?, 'chat', ?, ?, ?, 'b-secret-0001', "
                     "'b-token-00001', '2026-11-20T08:00:00+00:00', '2026-11-20T08:00:00+00:00')",
                     (STORE_B, MARKETPLACE, "https://sellingpartnerapi-na.amazon.com", CLIENT_ID))  # fmt: skip

    def secrets() -> list[tuple[str, str]]:
        with opened(db) as conn:
            return [tuple(r) for r in conn.execute("SELECT client_secret, refresh_token FROM amazon_accounts "
                                                   "ORDER BY team_id DESC")]  # fmt: skip

    before = secrets()
    missing = dingdan("rotate-secrets", env={"DINGDAN_DB": str(db)})
    assert (missing.returncode, missing.stderr) == (2, (
        "dingdan: DINGDAN_SECRET_KEY is not set. Generate a key with: python -c \"from cryptography.fernet import "
        "Fernet; print(Fernet.generate_key().decode())\"; set DINGDAN_SECRET_KEY to the new key, a comma, and the "
        "old key(s).\n"))  # fmt: skip
    wrong = dingdan("rotate-secrets", env={"DINGDAN_DB": str(db), "DINGDAN_SECRET_KEY": THIRD_KEY})
    assert (wrong.returncode, wrong.stdout, wrong.stderr) == (1, (
        "Re-encrypted the Amazon credentials of 1 team(s) with the first key of DINGDAN_SECRET_KEY.\n"), (
        f"dingdan: the Amazon credentials of team(s) {STORE_A} cannot be decrypted with any key in DINGDAN_SECRET_KEY "
        "and were left as they are: add the key they were saved with, or set them again with /amazon set.\n"))  # fmt: skip
    after_wrong = secrets()
    assert after_wrong[0] == before[0]  # Store A: left as it was
    assert SecretBox([THIRD_KEY]).open(after_wrong[1][0]) == "b-secret-0001"  # Store B: sealed (it was in clear)

    rotated = dingdan(
        "rotate-secrets", env={"DINGDAN_DB": str(db), "DINGDAN_SECRET_KEY": f"{NEW_KEY},{OLD_KEY},{THIRD_KEY}"}
    )
    assert (rotated.returncode, rotated.stdout, rotated.stderr) == (
        0,
        "Re-encrypted the Amazon credentials of 2 team(s) with the first key of DINGDAN_SECRET_KEY.\n",
        "",
    )
    new = SecretBox([NEW_KEY])
    assert [tuple(new.open(v) for v in row) for row in secrets()] == [
        (CLIENT_SECRET, REFRESH_TOKEN),
        ("b-secret-0001", "b-token-00001"),
    ]
    for key in (OLD_KEY, NEW_KEY, THIRD_KEY):
        assert key not in missing.stderr + wrong.stdout + wrong.stderr + rotated.stdout + rotated.stderr

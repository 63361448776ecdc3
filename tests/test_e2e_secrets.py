"""Amazon's secrets at rest, end to end: the real Application polls the fake Bot API, and the
SQLite file is read directly afterwards.

Alice connects Store A in her private chat. The client secret and the refresh token go into the
database encrypted with the operator's DINGDAN_SECRET_KEY; without a key nothing is stored and
she is told what the operator must set; an endpoint that is not Amazon's (nor allowed by the
operator) is refused. A desk started with another key cannot read them: it says so once in the
group and goes on; with the old key kept after a new one (rotation) it reads them again.
Secrets an older version stored in clear are encrypted when the desk starts.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.settings import KEY_COMMAND
from tests.support.amazon_sync import (
    SECRET_KEY,
    assert_no_secret_in,
    connect,
    count,
    on_amazon_time,
    running_desk,
    seed,
    sync,
    synced,
)
from tests.support.db import opened
from tests.support.desk import settled
from tests.support.fakespapi import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, REFRESH_TOKEN
from tests.support.scenario import GROUP_ID, make_team, plain, says

OTHER_KEY = "zpYe-ykaiFtZQsHqKrimN8VvtpM1DglCQh7-3UrKMVk="
DELETED = says("en", "I deleted your message with the credentials.")
#: Amazon's Selling Partner API hosts as the refusal lists them (regions, then their sandboxes).
AMAZON_HOSTS = ("sellingpartnerapi-eu.amazon.com, sellingpartnerapi-fe.amazon.com, sellingpartnerapi-na.amazon.com, "
                "sandbox.sellingpartnerapi-eu.amazon.com, sandbox.sellingpartnerapi-fe.amazon.com, and "
                "sandbox.sellingpartnerapi-na.amazon.com")  # fmt: skip


def stored(db_path: Any) -> list[tuple[Any, ...]]:
    with opened(db_path) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT team_id, source, client_id, client_secret, refresh_token FROM amazon_accounts")]  # fmt: skip


def decrypt(value: str, key: str = SECRET_KEY) -> str:
    assert value.startswith("fernet:")
    return Fernet(key).decrypt(value.removeprefix("fernet:").encode()).decode()


async def test_the_secrets_are_stored_encrypted_and_the_sync_reads_them(sync_team, amazon, db_target) -> None:
    t = sync_team
    seed(amazon)
    reply = await connect(t, amazon)
    assert reply.startswith("Saved the Amazon credentials of Store A for marketplace ATVPDKIKX0DER (US), and Amazon "
                            "accepted them.")  # fmt: skip
    await t.api.wait_for(lambda: stored(t.db_path) != [], what="the credentials stored")
    ((team_id, source, client_id, client_secret, refresh_token),) = stored(t.db_path)
    assert (team_id, source, client_id) == (GROUP_ID, "chat", CLIENT_ID)
    # Neither secret is in its column in clear; the operator's key opens both.
    assert CLIENT_SECRET not in client_secret and REFRESH_TOKEN not in refresh_token
    assert (decrypt(client_secret), decrypt(refresh_token)) == (CLIENT_SECRET, REFRESH_TOKEN)
    assert await sync(t) == synced(new=9)
    assert amazon.tokens_issued >= 1


async def test_without_a_secret_key_amazon_set_says_what_to_set_and_stores_nothing(fake_api, clock, db_target,
                                                                                    amazon) -> None:  # fmt: skip
    async with await running_desk(fake_api, clock, db_target, amazon, secret_keys=()) as app:
        t = await make_team(fake_api, app, db_target)
        reply = await connect(t, amazon)
        assert reply == says("en", "I stored nothing: this server has no key to encrypt Amazon credentials with. "
                             "Whoever runs the bot must generate one with <code>{command}</code>, set it as "
                             "DINGDAN_SECRET_KEY in the bot's environment and restart the bot. Then send /amazon set "
                             "again.", command=KEY_COMMAND) + "\n\n" + DELETED  # fmt: skip
        assert plain(reply).startswith('I stored nothing: this server has no key to encrypt Amazon credentials with. '
                                       'Whoever runs the bot must generate one with python -c "from '
                                       'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())", '
                                       'set it as DINGDAN_SECRET_KEY')  # fmt: skip
        status = await t.say(t.alice, "/amazon", chat=fake_api.private(t.alice))
        assert status.startswith("Store A is not connected to Amazon's Selling Partner API.")
    assert stored(db_target) == []
    assert amazon.requests == []  # nothing was sent to Amazon either
    assert_no_secret_in("\n".join(m.get("text", "") for m in fake_api.sent(fake_api.private(t.alice))))


async def test_an_endpoint_the_operator_allowed_is_the_only_other_one(sync_team, amazon) -> None:
    t = sync_team
    dm = t.api.private(t.alice)
    # The fake Amazon's host is allowed (as DINGDAN_SPAPI_ALLOW_HOSTS would); another port on it is not.
    reply = await t.say(t.alice, f"/amazon set {MARKETPLACE} {CLIENT_ID} {CLIENT_SECRET} {REFRESH_TOKEN} "
                        "http://127.0.0.1:9/x", chat=dm)  # fmt: skip
    assert reply == says("en", "The last value is not an endpoint I may use, so I stored nothing. Leave it out to use "
                         "your marketplace's region, or give na, eu or fe; an address must be https on one of "
                         "Amazon's Selling Partner API hosts ({hosts}) or on a host this server allows: {allowed}.",
                         hosts=AMAZON_HOSTS, allowed=amazon.host) + "\n\n" + DELETED  # fmt: skip
    assert stored(t.db_path) == []
    assert amazon.requests == []
    # The allowed one is taken.
    assert (await connect(t, amazon)).startswith("Saved the Amazon credentials of Store A")
    await t.api.wait_for(lambda: len(stored(t.db_path)) == 1, what="the credentials stored")


async def test_an_endpoint_not_amazons_is_refused_naming_amazons_hosts(fake_api, clock, db_target, amazon) -> None:
    async with await running_desk(fake_api, clock, db_target, amazon, spapi_allow_hosts=()) as app:
        t = await make_team(fake_api, app, db_target)
        dm = fake_api.private(t.alice)
        expected = says("en", "The last value is not an endpoint I may use, so I stored nothing. Leave it out to use "
                        "your marketplace's region, or give na, eu or fe; an address must be https on one of Amazon's "
                        "Selling Partner API hosts: {hosts}.", hosts=AMAZON_HOSTS) + "\n\n" + DELETED  # fmt: skip
        for endpoint in ("http://127.0.0.1:9/x", amazon.base_url, "http://sellingpartnerapi-na.amazon.com",
                         "https://sellingpartnerapi-na.amazon.com.example.net"):  # fmt: skip
            command = f"/amazon set {MARKETPLACE} {CLIENT_ID} {CLIENT_SECRET} {REFRESH_TOKEN} {endpoint}"
            assert await t.say(t.alice, command, chat=dm) == expected
        # In Simplified Chinese for Bob once he is an administrator.
        fake_api.set_member(t.group, t.bob, "administrator")
        bobs = fake_api.private(t.bob)
        reply = await t.say(t.bob, f"/amazon set {MARKETPLACE} {CLIENT_ID} {CLIENT_SECRET} {REFRESH_TOKEN} "
                            "http://10.0.0.1/", chat=bobs)  # fmt: skip
        assert reply.startswith("最后一个值不是我可以使用的端点，所以我什么都没有保存。")
    assert stored(db_target) == []
    assert amazon.requests == []


@pytest.mark.alerts
async def test_a_desk_with_another_key_says_once_it_cannot_read_them_and_the_old_key_after_a_new_one_can(
    fake_api, clock, db_target, amazon, amazon_time, caplog
) -> None:
    caplog.set_level(logging.INFO)
    seed(amazon)
    async with await running_desk(fake_api, clock, db_target, amazon) as app:
        on_amazon_time(app, amazon_time)
        t = await make_team(fake_api, app, db_target)
        await connect(t, amazon)
        await fake_api.wait_for(lambda: stored(db_target) != [], what="the credentials stored")
    before = stored(db_target)

    # The operator restarts with another key (the old one lost).
    async with await running_desk(
        fake_api, clock, db_target, amazon, secret_keys=(OTHER_KEY,), alert_interval=0.1
    ) as app:
        on_amazon_time(app, amazon_time)
        dm = fake_api.private(t.alice)
        start = len(fake_api.sent(t.group))
        unreadable = says("en", "I cannot read the Amazon credentials stored for {team}: the server's secret key "
                          "(DINGDAN_SECRET_KEY) is missing or is not the one they were saved with. Whoever runs the "
                          "bot can restore the key, or send /amazon set again with the credentials.", team="Store A")  # fmt: skip
        for _ in range(2):
            assert await sync(t) == unreadable
        await settled(fake_api, app)
        (warning,) = fake_api.sent(t.group)[start:]
        assert plain(warning["text"]) == says(
            "en", "⚠️ I cannot read this team's Amazon credentials: the server's secret key (DINGDAN_SECRET_KEY) is "
            "missing or is not the one they were saved with. Orders are not synced and shipments are not confirmed "
            "until whoever runs the bot restores the key, or an administrator sends /amazon set … to me in a private "
            "chat again.")  # fmt: skip
        status = plain(await t.say(t.alice, "/amazon", chat=dm))
        assert "it failed: the stored credentials cannot be decrypted with DINGDAN_SECRET_KEY" in status
    assert stored(db_target) == before  # kept as they were: the right key may come back
    assert count(t, "SELECT count(*) FROM orders") == 0
    assert [r.getMessage() for r in caplog.records if "cannot be decrypted" in r.getMessage()] == [
        f"Amazon sync of team {GROUP_ID} stopped: the stored credentials cannot be decrypted with DINGDAN_SECRET_KEY"
    ]

    # Rotation: a new key first, the old one after it; the old one still decrypts.
    async with await running_desk(fake_api, clock, db_target, amazon, secret_keys=(OTHER_KEY, SECRET_KEY)) as app:
        on_amazon_time(app, amazon_time)
        assert await sync(t) == synced(new=9)
    for key in (SECRET_KEY, OTHER_KEY):
        assert key not in caplog.text


async def test_secrets_an_older_version_stored_in_clear_are_encrypted_at_start(fake_api, clock, db_target, amazon,
                                                                              caplog) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)
    async with await running_desk(fake_api, clock, db_target, amazon) as app:
        t = await make_team(fake_api, app, db_target)
    with opened(db_target) as conn, conn:  # what dingdan 0.1 wrote
        conn.execute("INSERT INTO amazon_accounts (team_id, source, marketplace_id, endpoint, client_id, client_secret, "
                     "refresh_token, configured_at, secrets_at) VALUES (?, 'chat', ?, ?, ?, ?, ?, ?, ?)",
                     (GROUP_ID, MARKETPLACE, amazon.base_url, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
                      "2026-11-20T08:00:00+00:00", "2026-11-20T08:00:00+00:00"))  # fmt: skip

    # Without a key: a warning, and they stay as they are (the sync still works with them).
    async with await running_desk(fake_api, clock, db_target, amazon, secret_keys=()):
        pass
    assert stored(db_target) == [(GROUP_ID, "chat", CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "in clear" in r.getMessage()]
    assert warnings == ["the Amazon credentials of 1 team(s) are stored in clear: set DINGDAN_SECRET_KEY (see the "
                        "README) and restart to encrypt them"]  # fmt: skip

    # With one: encrypted, one line says how many.
    async with await running_desk(fake_api, clock, db_target, amazon) as app:
        seed(amazon)
        assert await sync(t) == synced(new=9)
    ((_team, _source, _client, client_secret, refresh_token),) = stored(db_target)
    assert (decrypt(client_secret), decrypt(refresh_token)) == (CLIENT_SECRET, REFRESH_TOKEN)
    done = [r.getMessage() for r in caplog.records if "stored in clear" in r.getMessage() and r.levelno == logging.INFO]
    assert done == ["encrypted the Amazon credentials of 1 team(s) that were stored in clear"]
    assert_no_secret_in(caplog.text)

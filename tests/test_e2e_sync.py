"""Live sync with Amazon end to end: the real Application polls the fake Bot API, and its Selling
Partner API client talks to the fake Amazon (tests/support/fakespapi.py) over HTTP on 127.0.0.1.

Alice, the group's owner, connects the team in her private chat; orders come in page by page
through throttling and server errors, each exactly once; what the team ships in the chat is
confirmed with Amazon, and what Amazon refuses is reported into the group once. The
credentials never show in a reply, a log line or any message the bot sends.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tests.support.amazon_sync import (
    ORDERS,
    SECRETS,
    TWO_ITEMS,
    assert_no_secret_in,
    connect,
    count,
    running_desk,
    seed,
    set_command,
    sync,
    synced,
)
from tests.support.clock import START
from tests.support.desk import settled
from tests.support.fakebotapi import BOT_ID
from tests.support.fakespapi import CLIENT_ID, CLIENT_SECRET, MARKETPLACE, REFRESH_TOKEN
from tests.support.scenario import GROUP_ID, Team, make_team, plain, says, says_n


def everything_the_bot_sent(t: Team) -> str:
    """Every parameter of every Bot API call the bot made, as text."""
    return "\n".join(repr(params) for _method, params in t.api.calls)


# --- connecting -------------------------------------------------------------------------------


async def test_alice_connects_in_private_and_orders_come_in_once_through_throttling_and_errors(
    sync_team, amazon, amazon_time, clock, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    t = sync_team
    seed(amazon)
    reply = await connect(t, amazon)
    assert reply == says("en", "Saved the Amazon credentials of {team} for marketplace {marketplace}, and Amazon "
                         "accepted them. I sync orders and confirm shipments every {interval}; /amazon shows how it "
                         "went, and /amazon sync syncs now.", team="Store A", marketplace="ATVPDKIKX0DER (US)",
                         interval="1 hour") + "\n\n" + says("en", "I deleted your message with the credentials.")  # fmt: skip
    dm = t.api.private(t.alice)
    (mine,) = [m for m in t.api.messages(dm) if m["from"]["id"] == t.alice.id]
    assert mine["deleted"] is True
    # Page 2 is throttled (Amazon says when to come back), then fails on Amazon's side.
    amazon.fail_next("getOrders", 429, retry_after="1", after=1)
    amazon.fail_next("getOrders", 500)
    assert await sync(t) == synced(new=9)
    assert amazon.answered("getOrders") == [200, 429, 500, 200, 200]  # three pages
    assert amazon_time.slept == [1.0, 1.0]  # Amazon's Retry-After, then the first back-off
    assert amazon.calls("getOrders")[1] == amazon.calls("getOrders")[2] == amazon.calls("getOrders")[3]
    assert count(t, "SELECT count(*) FROM orders") == 9
    assert count(t, "SELECT count(*) FROM events") == 9
    with t.db() as conn:
        imported = conn.execute("SELECT order_id, count(*), actor_kind, actor_name FROM events WHERE action = 'imported' "
                                "GROUP BY order_id, actor_kind, actor_name ORDER BY order_id").fetchall()  # fmt: skip
        kinds = conn.execute("SELECT kind, rows, new FROM imports ORDER BY import_id").fetchall()
    assert [tuple(r) for r in imported] == [(o, 1, "import", "Amazon (SP-API)") for o in sorted(ORDERS + [TWO_ITEMS])]
    assert [tuple(r) for r in kinds] == [("sp_api", 3, 3)] * 3
    # Amazon's data as the desk keeps it.
    assert t.goods(ORDERS[7]) == "pending" and t.goods(ORDERS[0]) == "unshipped"
    row = t.order_row(TWO_ITEMS)
    assert (row["channel"], row["currency"], row["total"], row["ship_city"], row["buyer_name"]) == (
        "MFN", "USD", "24.00", "Seattle", "")  # fmt: skip
    assert count(t, "SELECT count(*) FROM order_items WHERE order_id = ?", TWO_ITEMS) == 2
    assert len(amazon.calls("getOrderItems")) == 9
    # The watermark: the newest change seen, minus five minutes.
    newest = START - timedelta(minutes=15)
    assert count(t, "SELECT last_sync FROM amazon_accounts") == (newest - timedelta(minutes=5)).isoformat()

    # Again: only the orders changed in the overlap come, and nothing changes.
    before = t.snapshot()
    clock.advance(minutes=10)
    assert await sync(t) == synced(unchanged=1)  # the two-item order, changed within the overlap
    assert amazon.calls("getOrders")[-1] == {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": "2026-11-21T07:40:00Z",
                                             "MaxResultsPerPage": "100"}  # fmt: skip
    assert t.snapshot() == before
    assert len(amazon.calls("getOrderItems")) == 9  # known orders: their items are not asked again

    # /amazon shows the connection, and never a secret.
    status = await t.say(t.alice, "/amazon", chat=dm)
    assert plain(status).splitlines() == [
        "Amazon Selling Partner API for Store A",
        says("en", "Connected with credentials set by an administrator, marketplace {marketplace}.",
             marketplace="ATVPDKIKX0DER (US)"),
        f"Endpoint: {amazon.base_url}",
        "Last sync: 11/21/26, 4:10 PM; it went well.",
        "The next sync asks Amazon for orders updated since 11/21/26, 3:40 PM.",
        "",
        says("en", "/amazon sync syncs now · /amazon off disconnects · /amazon set … replaces the credentials."),
    ]  # fmt: skip
    assert_no_secret_in(caplog.text)
    assert_no_secret_in("\n".join(r.getMessage() for r in caplog.records))
    assert_no_secret_in("\n".join(m.get("text", "") for chat in (t.group, dm) for m in t.api.sent(chat)))
    assert_no_secret_in(everything_the_bot_sent(t))
    assert "/amazon set <redacted>" in caplog.text  # the update was logged, without them


async def test_amazon_changes_move_orders_through_the_lifecycle(sync_team, amazon, clock) -> None:
    t = sync_team
    seed(amazon)
    await connect(t, amazon)
    await sync(t)
    shipped, cancelled, partly = ORDERS[0], ORDERS[1], TWO_ITEMS
    clock.advance(minutes=30)
    amazon.update_order(shipped, status="Shipped", updated=clock() - timedelta(minutes=3))
    amazon.update_order(cancelled, status="Canceled", updated=clock() - timedelta(minutes=2))
    amazon.update_order(partly, status="PartiallyShipped", updated=clock() - timedelta(minutes=1),
                        shipped={"22222222222222": 1})  # fmt: skip
    amazon.update_order(ORDERS[7], status="Unshipped", updated=clock() - timedelta(minutes=1))
    assert await sync(t) == synced(updated=4)
    assert [t.goods(o) for o in (shipped, cancelled, partly, ORDERS[7])] == [
        "shipped", "cancelled", "partially_shipped", "unshipped"]  # fmt: skip
    actions = {o: [(e["action"], e["from_goods"], e["to_goods"], e["actor_name"]) for e in t.events(o)][1:]
               for o in (shipped, cancelled, partly, ORDERS[7])}  # fmt: skip
    assert actions == {
        shipped: [("amazon_shipped", "unshipped", "shipped", "Amazon (SP-API)")],
        cancelled: [("amazon_cancelled", "unshipped", "cancelled", "Amazon (SP-API)")],
        partly: [("amazon_partially_shipped", "unshipped", "partially_shipped", "Amazon (SP-API)")],
        ORDERS[7]: [("verify_payment", "pending", "unshipped", "Amazon (SP-API)")],
    }
    with t.db() as conn:
        quantities = conn.execute("SELECT item_id, quantity, quantity_shipped FROM order_items WHERE order_id = ? "
                                  "ORDER BY item_id", (partly,)).fetchall()  # fmt: skip
    assert [tuple(r) for r in quantities] == [("11111111111111", 1, 0), ("22222222222222", 2, 1)]
    # Items are asked again only for the partly shipped order.
    assert [c["order_id"] for c in amazon.calls("getOrderItems")][9:] == [partly]


# --- confirming shipments ------------------------------------------------------------------------


@pytest.mark.alerts
async def test_shipments_made_in_the_chat_are_confirmed_and_a_refusal_is_reported_once(
    sync_team, amazon, clock
) -> None:
    t = sync_team
    seed(amazon)
    await connect(t, amazon)
    await sync(t)
    dm = t.api.private(t.alice)
    clock.advance(minutes=20)
    shipped_at = clock()
    await t.say(t.alice, f"/ship {ORDERS[0]} UPS 1Z999AA10123456784", chat=dm)
    await t.say(t.alice, f"/ship {TWO_ITEMS} Other:Cainiao LP00123456789012", chat=dm)
    await t.say(t.alice, f"/ship {ORDERS[2]} FedEx 123456789012", chat=dm)
    amazon.refuse_confirmation(ORDERS[2], message="The tracking number is not valid for the carrier.")
    start = len(t.api.sent(t.group))
    clock.advance(minutes=1)
    assert await sync(t) == synced(unchanged=1, confirmed=2, refused=1)
    with t.db() as conn:
        ids = {r["order_id"]: r["shipment_id"] for r in conn.execute(
            "SELECT order_id, min(shipment_id) AS shipment_id FROM shipments GROUP BY order_id")}  # fmt: skip
    z = shipped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(c["order_id"], c["body"], c["status"]) for c in amazon.confirmations] == [
        (ORDERS[0], {"marketplaceId": MARKETPLACE, "packageDetail": {
            "packageReferenceId": str(ids[ORDERS[0]]), "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
            "shipDate": z, "orderItems": [{"orderItemId": "70000010000001", "quantity": 1}]}}, 204),
        (TWO_ITEMS, {"marketplaceId": MARKETPLACE, "packageDetail": {
            "packageReferenceId": str(ids[TWO_ITEMS]), "carrierCode": "Other", "carrierName": "Cainiao",
            "trackingNumber": "LP00123456789012", "shipDate": z,
            "orderItems": [{"orderItemId": "11111111111111", "quantity": 1},
                           {"orderItemId": "22222222222222", "quantity": 2}]}}, 204),
        (ORDERS[2], {"marketplaceId": MARKETPLACE, "packageDetail": {
            "packageReferenceId": str(ids[ORDERS[2]]), "carrierCode": "FedEx", "trackingNumber": "123456789012",
            "shipDate": z, "orderItems": [{"orderItemId": "70000030000003", "quantity": 1}]}}, 400),
    ]  # fmt: skip
    with t.db() as conn:
        states = conn.execute("SELECT order_id, confirmed_at IS NOT NULL, confirm_error, confirm_final FROM shipments "
                              "ORDER BY shipment_id").fetchall()  # fmt: skip
    error = "400 InvalidInput: The tracking number is not valid for the carrier."
    assert [tuple(r) for r in states] == [(ORDERS[0], 1, None, 0), (TWO_ITEMS, 1, None, 0), (TWO_ITEMS, 1, None, 0),
                                          (ORDERS[2], 0, error, 1)]  # fmt: skip
    # The group hears of the refusal once, with Amazon's reason and what to do.
    await t.api.wait_for(lambda: len(t.api.sent(t.group)) > start, what="the refusal in the group")
    (report,) = t.api.sent(t.group)[start:]
    assert plain(report["text"]).splitlines() == [
        says_n("en", "⚠️ Amazon did not accept the shipment confirmation of {count} order:",
               "⚠️ Amazon did not accept the shipment confirmations of {count} orders:", 1),
        says("en", "• <code>{order}</code> · {carrier} {tracking}: {error}", order=ORDERS[2], carrier="FedEx",
             tracking="123456789012", error=error),
        says("en", "Check the carrier and the tracking number. Correct them with /correct ORDER CARRIER TRACKING and I "
             "will confirm again, or confirm the shipment in Seller Central."),
    ]  # fmt: skip
    # Not sent again, not reported again…
    clock.advance(minutes=1)
    assert await sync(t) == synced(unchanged=1)
    assert len(amazon.confirmations) == 3
    await settled(t.api, t.app)
    assert t.api.sent(t.group)[start:] == [report]
    # …until the shipment changes: the corrected tracking number is confirmed.
    question = (await t.api.ask(dm, t.alice, f"/correct {ORDERS[2]} FedEx 999999999999"))[0]
    await t.api.click(dm, t.alice, question, t.api.buttons(question)[0][1])
    await t.api.wait_for(lambda: "corrected" in t.api.sent(dm)[-1].get("text", ""), what="the correction")
    amazon.accept_confirmation(ORDERS[2])
    clock.advance(minutes=1)
    assert await sync(t) == synced(unchanged=1, confirmed=1)
    assert (amazon.confirmations[-1]["order_id"], amazon.confirmations[-1]["status"]) == (ORDERS[2], 204)
    assert amazon.confirmations[-1]["body"]["packageDetail"]["trackingNumber"] == "999999999999"


async def test_a_throttled_or_failing_confirmation_is_tried_again_at_the_next_sync(
    sync_team, amazon, amazon_time
) -> None:
    t = sync_team
    seed(amazon)
    await connect(t, amazon)
    await sync(t)
    await t.say(t.alice, f"/ship {ORDERS[0]} UPS 1Z999AA10123456784", chat=t.api.private(t.alice))
    amazon.fail_next("confirmShipment", 429)  # throttled, without a Retry-After
    amazon.fail_next("confirmShipment", 503, count=5)  # then every attempt of this run fails
    assert await sync(t) == synced(unchanged=1)
    assert (
        count(t, "SELECT confirm_error FROM shipments") == "503 ServiceUnavailable: Temporary overloading or "
        "maintenance of the server."
    )
    assert count(t, "SELECT confirm_final FROM shipments") == 0
    assert await sync(t) == synced(unchanged=1, confirmed=1)
    assert amazon.answered("confirmShipment") == [429] + [503] * 5 + [204]
    # A second after the 429 (more than the half second Amazon's bucket needs), then backing off,
    # then leaving it for the next run.
    assert amazon_time.slept == [1.0, 1.0, 2.0, 4.0, 8.0]


# --- who may, where ------------------------------------------------------------------------------


async def test_credentials_in_the_group_are_refused_deleted_when_possible_and_never_stored(sync_team, amazon) -> None:
    t = sync_team
    # The bot is not an administrator of the group: it cannot delete Alice's message.
    reply = await t.say(t.alice, set_command(amazon))
    assert plain(reply) == plain(says("en", "Never post Amazon credentials in a group: everyone in it can read them. "
                                      "Send /amazon set to me in a private chat instead, and since the group has seen "
                                      "them, generate a new client secret and authorise the app again in Seller "
                                      "Central.") + "\n\n" + says("en", "I could not delete your message with the "
                                      "credentials: delete it yourself now."))  # fmt: skip
    # As an administrator it can.
    t.api.set_member(t.group, BOT_ID, "administrator")
    reply = await t.say(t.bob, set_command(amazon))
    assert reply.endswith(says("zh_Hans", "I deleted your message with the credentials."))
    bobs = [m for m in t.api.messages(t.group) if m["from"]["id"] == t.bob.id]
    assert bobs[-1]["deleted"] is True
    assert await t.say(t.alice, "/amazon") == says("en", "Amazon credentials are set up in a private chat with me, by "
                                                   "an administrator of the team: open a private chat with me and send "
                                                   "/amazon there.")  # fmt: skip
    assert count(t, "SELECT count(*) FROM amazon_accounts") == 0
    assert amazon.requests == []
    assert_no_secret_in("\n".join(m.get("text", "") for m in t.api.sent(t.group)))


async def test_only_an_administrator_connects_and_a_member_s_secrets_are_deleted_anyway(sync_team, amazon) -> None:
    t = sync_team
    dm = t.api.private(t.bob)
    reply = await t.say(t.bob, set_command(amazon), chat=dm)
    assert reply == says("zh_Hans", "Only an administrator of {team} can connect it to Amazon or change the "
                         "connection.", team="Store A") + "\n\n" + says("zh_Hans", "I deleted your message with the "
                         "credentials.")  # fmt: skip
    assert count(t, "SELECT count(*) FROM amazon_accounts") == 0
    assert await t.say(t.bob, "/amazon sync", chat=dm) == says(
        "zh_Hans", "Only an administrator of {team} can connect it to Amazon or change the connection.", team="Store A"
    )


async def test_a_wrong_set_is_explained_without_repeating_a_word_of_it(sync_team, amazon) -> None:
    t = sync_team
    dm = t.api.private(t.alice)
    # The marketplace left out: the client id sits where the marketplace goes.
    reply = await t.say(t.alice, f"/amazon set {CLIENT_ID} {CLIENT_SECRET} {REFRESH_TOKEN} na", chat=dm)
    assert reply.startswith(says("en", "The first value after /amazon set must be the marketplace id, for example "
                                 "ATVPDKIKX0DER (US), A1PA6795UKMFR9 (Germany) or A1VC38T7YXB528 (Japan)."))  # fmt: skip
    reply = await t.say(t.alice, f"/amazon set {MARKETPLACE} {CLIENT_SECRET} {REFRESH_TOKEN}", chat=dm)
    assert reply.startswith("Send all four, separated by spaces")
    reply = await t.say(t.alice, f"/amazon {REFRESH_TOKEN}", chat=dm)
    assert reply.startswith(says("en", "Send /amazon for the connection's state, /amazon set … to connect, /amazon "
                                 "sync to sync now or /amazon off to disconnect."))  # fmt: skip
    assert all(m["deleted"] for m in t.api.messages(dm) if m["from"]["id"] == t.alice.id and "set" in m["text"])
    assert_no_secret_in("\n".join(m.get("text", "") for m in t.api.sent(dm)))
    assert count(t, "SELECT count(*) FROM amazon_accounts") == 0


@pytest.mark.alerts
async def test_refused_credentials_are_said_in_private_and_reported_in_the_group_once(sync_team, amazon) -> None:
    t = sync_team
    dm = t.api.private(t.alice)
    wrong = "Atzr|IwEBI-a-revoked-refresh-token-000000000000"
    reply = await t.say(
        t.alice, f"/amazon set {MARKETPLACE} {CLIENT_ID} {CLIENT_SECRET} {wrong} {amazon.base_url}", chat=dm
    )
    error = "400 invalid_grant: The request has an invalid grant parameter : refresh_token"
    assert reply.startswith(says("en", "Saved the Amazon credentials of {team}, but Amazon refused them: {error}. "
                                 "Check them in Seller Central and send /amazon set again.", team="Store A",
                                 error=error))  # fmt: skip
    start = len(t.api.sent(t.group))
    for _ in range(2):
        assert await sync(t) == says("en", "The sync with Amazon stopped: {error}. What was already synced stays; the "
                                     "next sync starts again from where this one began.", error=error)  # fmt: skip
    await settled(t.api, t.app)
    (report,) = t.api.sent(t.group)[start:]
    assert plain(report["text"]) == says("en", "⚠️ Amazon refused this team's Selling Partner API credentials "
                                         "({error}): orders are not synced and shipments are not confirmed. An "
                                         "administrator can send /amazon set … to me in a private chat.", error=error)  # fmt: skip
    assert wrong not in report["text"]


async def test_off_deletes_the_credentials(sync_team, amazon) -> None:
    t = sync_team
    dm = t.api.private(t.alice)
    await connect(t, amazon)
    assert count(t, "SELECT count(*) FROM amazon_accounts WHERE refresh_token IS NOT NULL") == 1
    assert await t.say(t.alice, "/amazon off", chat=dm) == says(
        "en",
        "{team} is disconnected from Amazon and its credentials are deleted. Orders already synced stay.",
        team="Store A",
    )
    assert count(t, "SELECT count(*) FROM amazon_accounts") == 0
    not_connected = says("en", "{team} is not connected to Amazon. Connect it with /amazon set MARKETPLACE CLIENT_ID "
                         "CLIENT_SECRET REFRESH_TOKEN in a private chat with me.", team="Store A")  # fmt: skip
    assert await t.say(t.alice, "/amazon off", chat=dm) == not_connected
    assert await t.say(t.alice, "/amazon sync", chat=dm) == not_connected
    assert (await t.say(t.alice, "/amazon", chat=dm)).startswith(
        "Store A is not connected to Amazon's Selling Partner API."
    )


# --- the repeating job, with the environment's credentials ---------------------------------------


async def test_the_job_syncs_the_only_team_with_the_environment_s_credentials(
    fake_api, clock, db_target, amazon
) -> None:
    seed(amazon)
    env = {"spapi_client_id": CLIENT_ID, "spapi_client_secret": CLIENT_SECRET, "spapi_refresh_token": REFRESH_TOKEN,
           "spapi_marketplace": MARKETPLACE, "spapi_endpoint": amazon.base_url}  # fmt: skip
    db = db_target
    async with await running_desk(fake_api, clock, db, amazon, sync_interval=0.2, **env) as app:
        t = await make_team(fake_api, app, db)
        await fake_api.wait_for(lambda: count(t, "SELECT count(*) FROM orders") == 9, what="the job's first sync")
        with t.db() as conn:
            account = tuple(conn.execute("SELECT source, marketplace_id, client_id, client_secret, refresh_token, "
                                         "sync_status FROM amazon_accounts"))  # fmt: skip
        assert [tuple(a) for a in account] == [("env", MARKETPLACE, None, None, None, "ok")]
        # Runs keep coming, within Amazon's limits: one getOrders each once the burst of pages is spent.
        calls = len(amazon.calls("getOrders"))
        await fake_api.wait_for(lambda: len(amazon.calls("getOrders")) >= calls + 2, what="two more runs")
        assert count(t, "SELECT count(*) FROM events") == 9
        status = await t.say(t.alice, "/amazon", chat=fake_api.private(t.alice))
        assert says("en", "Connected with the credentials in the server's environment, marketplace {marketplace}.",
                    marketplace="ATVPDKIKX0DER (US)") in plain(status)  # fmt: skip
        assert await t.say(t.alice, "/amazon off", chat=fake_api.private(t.alice)) == says(
            "en",
            "{team} syncs with the credentials in the server's environment (DINGDAN_SPAPI_*), not ones set here; "
            "whoever runs the bot can remove them.",
            team="Store A",
        )
    assert CLIENT_SECRET not in repr(app.bot_data.get("settings"))


def test_the_environment_configures_one_team() -> None:
    from bot.settings import ConfigError, Settings

    base = {"DINGDAN_TOKEN": "123:abc"}
    assert Settings.from_env(base).spapi_refresh_token == ""
    full = {**base, "DINGDAN_SPAPI_REFRESH_TOKEN": REFRESH_TOKEN, "DINGDAN_SPAPI_CLIENT_ID": CLIENT_ID,
            "DINGDAN_SPAPI_CLIENT_SECRET": CLIENT_SECRET, "DINGDAN_SPAPI_MARKETPLACE": "A1PA6795UKMFR9",
            "DINGDAN_SPAPI_TEAM": "-1001234567890"}  # fmt: skip
    settings = Settings.from_env(full)
    assert (settings.spapi_marketplace, settings.spapi_team, settings.spapi_endpoint) == (
        "A1PA6795UKMFR9",
        GROUP_ID,
        "",
    )
    assert settings.spapi_auth_url == "https://api.amazon.com/auth/o2/token"
    for secret in SECRETS:
        assert secret not in repr(settings)
    with pytest.raises(ConfigError, match="DINGDAN_SPAPI_CLIENT_SECRET"):
        Settings.from_env({k: v for k, v in full.items() if k != "DINGDAN_SPAPI_CLIENT_SECRET"})
    with pytest.raises(ConfigError, match="DINGDAN_SPAPI_TEAM"):
        Settings.from_env({**full, "DINGDAN_SPAPI_TEAM": "store-a"})

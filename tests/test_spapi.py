"""The Selling Partner API client against the fake Amazon, on Amazon's time: rate limits,
throttling, server errors and tokens are waited for on a virtual clock. The client calls
Amazon's own addresses through the fake's httpx transport: no server, no allowed hosts. And
the pure parts: Amazon's order JSON as imported orders, shipments as packages, secrets kept
out of logs and reprs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.amazon import GOODS_OF_STATUS, imported_order, install_log_redaction, packages, remember_secrets, spapi
from bot.amazon.spapi import AuthError, Credentials, SpApiClient, SpApiError, TokenBucket
from bot.storage import Shipment
from tests.support.fakespapi import AUTH_URL, CLIENT_ID, CLIENT_SECRET, ENDPOINT, REFRESH_TOKEN, AmazonTime, FakeSpApi

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.fixture
def amazon() -> FakeSpApi:
    return FakeSpApi(page_size=2)


@pytest.fixture
def amazon_time() -> AmazonTime:
    return AmazonTime()


def client_for(fake: FakeSpApi, t: AmazonTime, *, refresh_token: str = REFRESH_TOKEN, **options) -> SpApiClient:
    creds = Credentials(ENDPOINT, AUTH_URL, CLIENT_ID, CLIENT_SECRET, refresh_token)
    return SpApiClient(creds, monotonic=t.monotonic, sleep=t.sleep, transport=fake.transport(), **options)


def order_ids(n: int) -> list[str]:
    return [f"113-00000{i:02d}-00000{i:02d}" for i in range(n)]


# --- the limiter ----------------------------------------------------------------------------


async def test_a_bucket_lets_a_burst_through_then_one_request_per_refill(amazon_time) -> None:
    t = amazon_time
    bucket = TokenBucket(0.0167, 20, monotonic=t.monotonic, sleep=t.sleep)
    for _ in range(20):
        await bucket.take()
    assert t.slept == []
    await bucket.take()
    await bucket.take()
    # getOrders: a token every 1 / 0.0167 s, about a minute.
    assert t.slept == [pytest.approx(59.88, abs=0.01)] * 2


async def test_a_bucket_refills_while_idle_but_never_beyond_its_burst(amazon_time) -> None:
    t = amazon_time
    bucket = TokenBucket(2.0, 10, monotonic=t.monotonic, sleep=t.sleep)
    for _ in range(10):
        await bucket.take()
    t.now += 3600  # an hour idle
    for _ in range(10):
        await bucket.take()
    assert t.slept == []
    await bucket.take()
    assert t.slept == [0.5]  # confirmShipment: 2 a second


async def test_a_drained_bucket_waits_a_whole_refill(amazon_time) -> None:
    t = amazon_time
    bucket = TokenBucket(0.5, 30, monotonic=t.monotonic, sleep=t.sleep)
    bucket.drain()
    await bucket.take()
    assert t.slept == [2.0]


# --- the client on the fake ------------------------------------------------------------------


async def test_orders_come_page_by_page_with_next_token(amazon, amazon_time) -> None:
    for n, order_id in enumerate(order_ids(5)):
        amazon.add_order(order_id, updated=T0 + timedelta(minutes=n))
    client = client_for(amazon, amazon_time)
    seen, token = [], None
    async with client:
        while True:
            page = await client.get_orders(amazon.marketplace, last_updated_after=T0 - timedelta(days=1),
                                           next_token=token)  # fmt: skip
            seen += [o["AmazonOrderId"] for o in page.orders]
            token = page.next_token
            if token is None:
                break
    assert seen == order_ids(5)
    first, *rest = amazon.calls("getOrders")
    assert first == {"MarketplaceIds": amazon.marketplace, "LastUpdatedAfter": "2026-11-20T08:00:00Z",
                     "MaxResultsPerPage": "100"}  # fmt: skip
    assert [set(p) for p in rest] == [{"MarketplaceIds", "NextToken"}] * 2
    assert amazon.tokens_issued == 1  # one access token for all of it


async def test_items_are_followed_across_their_pages(amazon, amazon_time) -> None:
    amazon.items_page_size = 2
    items = [(f"{n:014d}", f"SKU-{n}", 1, "5.00") for n in range(5)]
    amazon.add_order("113-1111111-1111111", updated=T0, items=items)
    async with client_for(amazon, amazon_time) as client:
        got = await client.get_order_items("113-1111111-1111111")
    assert [i["SellerSKU"] for i in got] == [f"SKU-{n}" for n in range(5)]
    assert len(amazon.calls("getOrderItems")) == 3


async def test_a_429_with_retry_after_waits_that_long_and_asks_for_the_same_page(amazon, amazon_time) -> None:
    for n, order_id in enumerate(order_ids(3)):
        amazon.add_order(order_id, updated=T0 + timedelta(minutes=n))
    async with client_for(amazon, amazon_time) as client:
        first = await client.get_orders(amazon.marketplace, last_updated_after=T0)
        amazon.fail_next("getOrders", 429, retry_after="7")
        second = await client.get_orders(amazon.marketplace, next_token=first.next_token)
    assert [o["AmazonOrderId"] for o in first.orders + second.orders] == order_ids(3)
    assert amazon_time.slept == [7.0]
    assert amazon.answered("getOrders") == [200, 429, 200]
    assert amazon.calls("getOrders")[1] == amazon.calls("getOrders")[2]


async def test_a_429_without_retry_after_waits_for_amazons_bucket_to_refill(amazon, amazon_time) -> None:
    amazon.add_order(order_ids(1)[0], updated=T0)
    amazon.fail_next("getOrders", 429, count=2)
    async with client_for(amazon, amazon_time) as client:
        page = await client.get_orders(amazon.marketplace, last_updated_after=T0)
    assert len(page.orders) == 1
    # getOrders refills one request a minute: at least that, growing while it lasts.
    assert amazon_time.slept == [pytest.approx(59.88, abs=0.01)] * 2
    assert amazon.answered("getOrders") == [429, 429, 200]


async def test_server_errors_back_off_and_retry_a_bounded_number_of_times(amazon, amazon_time) -> None:
    amazon.add_order(order_ids(1)[0], updated=T0)
    amazon.fail_next("getOrderItems", 500, count=2)
    async with client_for(amazon, amazon_time, attempts=3) as client:
        items = await client.get_order_items(order_ids(1)[0])
        assert len(items) == 1
        assert amazon_time.slept == [1.0, 2.0]
        amazon.fail_next("getOrderItems", 503, count=3)
        with pytest.raises(SpApiError) as failed:
            await client.get_order_items(order_ids(1)[0])
    assert failed.value.status == 503 and failed.value.transient
    assert str(failed.value) == "503 ServiceUnavailable: Temporary overloading or maintenance of the server."
    assert amazon.answered("getOrderItems") == [500, 500, 200, 503, 503, 503]


async def test_a_network_error_is_transient(amazon, amazon_time) -> None:
    amazon.unreachable = True
    async with client_for(amazon, amazon_time, attempts=2) as client:
        with pytest.raises(SpApiError) as failed:
            await client.get_orders(amazon.marketplace, last_updated_after=T0)
    assert failed.value.status == 0 and failed.value.transient
    assert amazon_time.slept == [1.0]  # one back-off, then the second attempt failed too


async def test_the_access_token_is_refreshed_before_it_expires(amazon, amazon_time) -> None:
    amazon.token_lifetime = 3600
    amazon.add_order(order_ids(1)[0], updated=T0)
    async with client_for(amazon, amazon_time) as client:
        await client.get_orders(amazon.marketplace, last_updated_after=T0)
        amazon_time.now += 3550  # less than a minute before Amazon's hour is up
        await client.get_orders(amazon.marketplace, last_updated_after=T0)
    assert amazon.tokens_issued == 2
    assert amazon.answered("getOrders") == [200, 200]


async def test_a_token_amazon_calls_expired_is_replaced_once_and_the_request_sent_again(amazon, amazon_time) -> None:
    amazon.add_order(order_ids(1)[0], updated=T0)
    async with client_for(amazon, amazon_time) as client:
        await client.get_orders(amazon.marketplace, last_updated_after=T0)
        amazon.expire_tokens()
        page = await client.get_orders(amazon.marketplace, last_updated_after=T0)
    assert len(page.orders) == 1
    assert amazon.answered("getOrders") == [200, 403, 200]
    assert amazon.tokens_issued == 2


async def test_refused_credentials_are_an_auth_error_without_the_secrets(amazon, amazon_time) -> None:
    async with client_for(amazon, amazon_time, refresh_token="Atzr|revoked-refresh-token-000000") as client:
        with pytest.raises(AuthError) as failed:
            await client.get_orders(amazon.marketplace, last_updated_after=T0)
    err = failed.value
    assert (err.status, err.code, err.transient) == (400, "invalid_grant", False)
    assert "Atzr|revoked" not in str(err) and "Atzr|revoked" not in repr(err)
    assert amazon.calls("getOrders") == []


async def test_confirm_shipment_sends_the_package_and_a_refusal_carries_amazons_reason(amazon, amazon_time) -> None:
    amazon.add_order("113-1111111-1111111", updated=T0, items=[("11111111111111", "FAN", 2, "20.00")])
    package = {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
               "shipDate": "2026-11-21T08:00:00Z", "orderItems": [{"orderItemId": "11111111111111", "quantity": 2}]}  # fmt: skip
    async with client_for(amazon, amazon_time) as client:
        await client.confirm_shipment("113-1111111-1111111", amazon.marketplace, package)
        amazon.refuse_confirmation("113-1111111-1111111", message="The tracking number is not valid for UPS.")
        with pytest.raises(SpApiError) as failed:
            await client.confirm_shipment("113-1111111-1111111", amazon.marketplace, package)
    assert amazon.confirmations[0] == {"order_id": "113-1111111-1111111", "status": 204,
                                       "body": {"packageDetail": package, "marketplaceId": amazon.marketplace}}  # fmt: skip
    assert failed.value.text == "400 InvalidInput: The tracking number is not valid for UPS."
    assert not failed.value.transient


def test_credentials_never_show_in_a_repr() -> None:
    creds = Credentials("https://sellingpartnerapi-na.amazon.com", spapi.DEFAULT_AUTH_URL, CLIENT_ID, CLIENT_SECRET,
                        REFRESH_TOKEN)  # fmt: skip
    shown = repr(creds) + repr(SpApiClient(creds))
    assert CLIENT_SECRET not in shown and REFRESH_TOKEN not in shown and CLIENT_ID not in shown


def test_log_records_are_redacted_whoever_logs_them(caplog) -> None:
    install_log_redaction()
    remember_secrets(["a-secret-seen-before-1234"])
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("telegram.ext.Application").debug(
            "Processing update %s", {"text": f"/amazon set ATVPDKIKX0DER {CLIENT_ID} {CLIENT_SECRET} {REFRESH_TOKEN}"}
        )
        logging.getLogger("somewhere").info("token %s and %s", "Atza|an-access-token-xyz", "a-secret-seen-before-1234")
        try:
            raise ValueError(f"bad {CLIENT_SECRET}")
        except ValueError:
            logging.getLogger("somewhere").exception("failed")
    text = caplog.text
    for secret in (CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, "Atza|an-access-token-xyz", "a-secret-seen-before-1234"):
        assert secret not in text
    assert "/amazon set <redacted>" in text


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [("https://sellingpartnerapi-na.amazon.com", True), ("https://sellingpartnerapi-eu.amazon.com/", True),
     ("https://sellingpartnerapi-fe.amazon.com", True), ("https://sandbox.sellingpartnerapi-na.amazon.com", True),
     ("https://sandbox.sellingpartnerapi-eu.amazon.com", True), ("https://sandbox.sellingpartnerapi-fe.amazon.com", True),
     ("HTTPS://SellingPartnerAPI-EU.Amazon.com", True), ("https://sellingpartnerapi-eu.amazon.com:443", True),
     # what anyone who starts a team could otherwise make the server call, with the seller's secrets
     ("http://127.0.0.1:9/x", False), ("http://localhost:8080", False), ("https://169.254.169.254", False),
     ("http://sellingpartnerapi-na.amazon.com", False), ("https://sellingpartnerapi-na.amazon.com:8443", False),
     ("https://sellingpartnerapi-na.amazon.com.evil.example", False), ("https://evil.example/sellingpartnerapi-na.amazon.com", False),
     ("https://api.amazon.com", False), ("https://user:pw@sellingpartnerapi-na.amazon.com", False),
     ("https://sellingpartnerapi-na.amazon.com/?x=1", False), ("eu", False), ("ftp://sellingpartnerapi-na.amazon.com", False)],
)  # fmt: skip
def test_endpoints_are_https_on_amazons_own_hosts(endpoint: str, ok: bool) -> None:
    assert spapi.endpoint_ok(endpoint) is ok


@pytest.mark.parametrize(
    ("url", "ok"),
    [("https://api.amazon.com/auth/o2/token", True), ("https://api.amazon.co.uk/auth/o2/token", True),
     ("https://api.amazon.co.jp/auth/o2/token", True), ("http://api.amazon.com/auth/o2/token", False),
     ("https://sellingpartnerapi-na.amazon.com/auth/o2/token", False), ("https://api.amazon.de/auth/o2/token", False)],
)  # fmt: skip
def test_the_token_url_is_login_with_amazons(url: str, ok: bool) -> None:
    assert spapi.endpoint_ok(url, spapi.LOGIN_HOSTS) is ok


@pytest.mark.parametrize(
    ("endpoint", "allowed", "ok"),
    [("http://127.0.0.1:8443/x", ("127.0.0.1:8443",), True), ("https://127.0.0.1:8443", ("127.0.0.1:8443",), True),
     ("http://127.0.0.1:9/x", ("127.0.0.1:8443",), False), ("http://localhost:5000", ("localhost",), True),
     ("http://localhost", ("localhost:80",), True), ("http://[::1]:8080", ("[::1]:8080",), True),
     ("http://LOCALHOST:1", ("localhost",), True), ("http://127.0.0.2:8443", ("127.0.0.1:8443",), False),
     ("ftp://localhost:21", ("localhost",), False), ("http://u:p@localhost:1", ("localhost",), False),
     # Amazon's hosts stay allowed beside the operator's
     ("https://sellingpartnerapi-fe.amazon.com", ("localhost",), True)],
)  # fmt: skip
def test_the_operator_may_allow_other_hosts(endpoint: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert spapi.endpoint_ok(endpoint, spapi.SPAPI_HOSTS, allowed) is ok


def test_allowed_hosts_are_host_or_host_and_port() -> None:
    assert [spapi.parse_allowed_host(e) for e in ("127.0.0.1:8443", " LocalHost ", "[::1]:80", "proxy.internal")] == [
        "127.0.0.1:8443", "localhost", "[::1]:80", "proxy.internal"]  # fmt: skip
    for bad in ("", "http://localhost", "localhost:port", "localhost:99999", "a b", "u@localhost", ":80"):
        with pytest.raises(ValueError):
            spapi.parse_allowed_host(bad)


def test_the_marketplace_picks_its_region() -> None:
    assert spapi.endpoint_of("ATVPDKIKX0DER") == "https://sellingpartnerapi-na.amazon.com"
    assert spapi.endpoint_of("A1PA6795UKMFR9") == "https://sellingpartnerapi-eu.amazon.com"
    assert spapi.endpoint_of("A1VC38T7YXB528") == "https://sellingpartnerapi-fe.amazon.com"
    assert spapi.marketplace_ok("ATVPDKIKX0DER") and not spapi.marketplace_ok("US")


# --- Amazon's JSON as the desk's orders ---------------------------------------------------------


def test_an_orders_api_order_maps_onto_an_imported_order() -> None:
    raw = {
        "AmazonOrderId": "113-4417305-6689831", "PurchaseDate": "2026-11-18T07:59:59Z",
        "LastUpdateDate": "2026-11-19T10:00:00Z", "OrderStatus": "Unshipped", "FulfillmentChannel": "MFN",
        "LatestShipDate": "2026-11-20T07:59:59Z", "LatestDeliveryDate": "2026-11-28T07:59:59Z",
        "OrderTotal": {"CurrencyCode": "USD", "Amount": "42.50"}, "ShipServiceLevel": "Std US D2D Dom",
        "IsPrime": True, "IsBusinessOrder": False,
        "ShippingAddress": {"City": "SEATTLE", "StateOrRegion": "WA", "PostalCode": "98101", "CountryCode": "US"},
    }  # fmt: skip
    items = [{"OrderItemId": "12345678901234", "SellerSKU": "USB-FAN-03", "Title": "USB fan", "QuantityOrdered": 2,
              "QuantityShipped": 0, "ItemPrice": {"CurrencyCode": "USD", "Amount": "39.98"}}]  # fmt: skip
    order = imported_order(raw, items)
    assert (order.order_id, order.status, order.channel) == ("113-4417305-6689831", "unshipped", "MFN")
    assert order.purchased_at == datetime(2026, 11, 18, 7, 59, 59, tzinfo=UTC)
    assert order.ship_by == datetime(2026, 11, 20, 7, 59, 59, tzinfo=UTC)
    assert order.deliver_by == datetime(2026, 11, 28, 7, 59, 59, tzinfo=UTC)
    assert (order.currency, order.total, order.service_level) == ("USD", Decimal("42.50"), "Std US D2D Dom")
    assert (order.ship_city, order.ship_state, order.ship_postal_code, order.ship_country) == (
        "SEATTLE",
        "WA",
        "98101",
        "US",
    )
    assert (order.buyer_name, order.ship_address, order.is_prime) == ("", "", True)  # no PII without an RDT
    (item,) = order.items
    assert (item.item_id, item.sku, item.title, item.quantity, item.quantity_shipped, item.price) == (
        "12345678901234", "USB-FAN-03", "USB fan", 2, 0, Decimal("39.98"))  # fmt: skip


@pytest.mark.parametrize(
    ("amazon_status", "goods"),
    [("Pending", "pending"), ("PendingAvailability", "pending"), ("Unshipped", "unshipped"),
     ("PartiallyShipped", "partially_shipped"), ("Shipped", "shipped"), ("InvoiceUnconfirmed", "shipped"),
     ("Canceled", "cancelled"), ("Unfulfillable", "unshipped"), ("SomethingNew", None)],
)  # fmt: skip
def test_every_amazon_status_has_its_goods_state(amazon_status: str, goods: str | None) -> None:
    order = imported_order({"AmazonOrderId": "113-4417305-6689831", "OrderStatus": amazon_status})
    assert order.status == goods
    assert GOODS_OF_STATUS.get(amazon_status) == goods


def test_a_pending_order_without_total_or_address_maps_to_blanks_not_errors() -> None:
    order = imported_order({"AmazonOrderId": "113-4417305-6689831", "OrderStatus": "Pending",
                            "FulfillmentChannel": "AFN", "PurchaseDate": "not a date"})  # fmt: skip
    assert (order.status, order.channel, order.total, order.currency, order.purchased_at) == (
        "pending", "AFN", None, None, None)  # fmt: skip
    assert order.items == []


def test_shipments_become_one_package_per_order_and_tracking_number() -> None:
    at = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    rows = [
        Shipment("11111111111111", 1, at, "UPS", "UPS", "1Z999AA10123456784", order_id="113-1", shipment_id=7),
        Shipment("22222222222222", 2, at + timedelta(minutes=5), "UPS", "UPS", "1Z999AA10123456784",
                 order_id="113-1", shipment_id=8),
        Shipment("11111111111111", 1, at, "Other", "Cainiao", "LP00123456789", "Standard", order_id="113-2",
                 shipment_id=9),
    ]  # fmt: skip
    first, second = packages(rows)
    assert first.detail() == {
        "packageReferenceId": "7", "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
        "shipDate": "2026-11-21T09:30:00Z",
        "orderItems": [{"orderItemId": "11111111111111", "quantity": 1}, {"orderItemId": "22222222222222", "quantity": 2}],
    }  # fmt: skip
    assert first.shipment_ids == [7, 8]
    assert second.detail() == {
        "packageReferenceId": "9", "carrierCode": "Other", "carrierName": "Cainiao", "trackingNumber": "LP00123456789",
        "shippingMethod": "Standard", "shipDate": "2026-11-21T09:30:00Z",
        "orderItems": [{"orderItemId": "11111111111111", "quantity": 1}],
    }  # fmt: skip

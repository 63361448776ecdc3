"""A fake Amazon Selling Partner API (Orders API v0) and Login with Amazon.

Two ways in, the same Amazon behind both. Started (``await fake.start()``), it serves real
HTTP on 127.0.0.1: point the endpoint at :attr:`FakeSpApi.base_url` and the LWA token URL
at :attr:`FakeSpApi.auth_url` (the desk must allow :attr:`FakeSpApi.host`). Or, with no
server, give a client :meth:`FakeSpApi.transport` and Amazon's own addresses. It holds a seller's orders and items
(:meth:`FakeSpApi.add_order`, :meth:`FakeSpApi.update_order`) and answers the way Amazon
does where a client can get it wrong:

- ``POST /auth/o2/token`` (refresh-token grant): an access token with ``expires_in``; a
  wrong client id or secret is 401 ``invalid_client``, a wrong refresh token 400
  ``invalid_grant``;
- ``GET /orders/v0/orders``: orders with ``LastUpdateDate`` at or after ``LastUpdatedAfter``,
  oldest change first, ``MaxResultsPerPage`` at a time (or :attr:`page_size`), the rest
  behind a ``NextToken`` that stays valid (a retried page is the same page);
- ``GET /orders/v0/orders/{id}/orderItems``: items, paged with ``NextToken`` too;
- ``POST /orders/v0/orders/{id}/shipmentConfirmation``: 204, or 400 for a body Amazon
  would refuse, or what :meth:`refuse_confirmation` scripted; every call is recorded;
- a missing, unknown or expired access token (:meth:`expire_tokens`) is 403 Unauthorized;
- :meth:`fail_next` injects 429 (with or without ``Retry-After``) and 5xx answers.

Every request is recorded in :attr:`requests` (operation, parameters, status). No pytest
import here, like ``fakebotapi``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
from aiohttp import web

from tests.support.clock import VirtualSeconds
from tests.support.server import LocalServer

MARKETPLACE = "ATVPDKIKX0DER"
#: Amazon's own addresses: what a client given :meth:`FakeSpApi.transport` may call.
ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
AUTH_URL = "https://api.amazon.com/auth/o2/token"
CLIENT_ID = "amzn1.application-oa2-client.0f3c5e8d7a6b4c3d2e1f0a9b8c7d6e5f"
CLIENT_SECRET = "amzn1.oa2-cs.v1.9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
REFRESH_TOKEN = "Atzr|IwEBIfake-refresh-token-k3Jx9QmW2pLz8VtR5nYb7HcD4sGf6AeU1oPiKjMn0"

_ERROR_TEXT = {
    400: ("InvalidInput", "Request has missing or invalid parameters and cannot be parsed."),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The resource specified does not exist."),
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    502: ("BadGateway", "Bad Gateway"),
    503: ("ServiceUnavailable", "Temporary overloading or maintenance of the server."),
}


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


_ROUTES = (
    ("POST", re.compile(r"/auth/o2/token"), "login"),
    ("GET", re.compile(r"/orders/v0/orders"), "getOrders"),
    ("GET", re.compile(r"/orders/v0/orders/(?P<order_id>[^/]+)/orderItems"), "getOrderItems"),
    ("POST", re.compile(r"/orders/v0/orders/(?P<order_id>[^/]+)/shipmentConfirmation"), "confirmShipment"),
)


def _route(method: str, path: str) -> tuple[str, str | None] | None:
    """(operation, order id) of a request, or None for an address Amazon does not have."""
    for route_method, pattern, operation in _ROUTES:
        found = pattern.fullmatch(path)
        if found and method == route_method:
            return operation, found.groupdict().get("order_id")
    return None


@dataclass
class _Call:
    """One request, however it came (over HTTP to the server, or through the transport)."""

    operation: str
    order_id: str | None
    query: dict[str, str]
    headers: Mapping[str, str]  # case-insensitive
    form: dict[str, str]
    body: Any  # the JSON body, if any


@dataclass
class _Answer:
    status: int
    body: Any = None  # JSON; None: no content
    headers: dict[str, str] | None = None


class AmazonTime(VirtualSeconds):
    """Virtual seconds for the SP-API client's rate limits and back-offs."""

    def __init__(self) -> None:
        super().__init__(1000.0)


@dataclass
class Fault:
    status: int
    count: int
    retry_after: str | None
    after: int = 0  # answered normally before the fault begins


class FakeSpApi(LocalServer):
    """One seller's Amazon: served on 127.0.0.1 once started, or through :meth:`transport`."""

    def __init__(self, *, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
                 refresh_token: str = REFRESH_TOKEN, marketplace: str = MARKETPLACE, page_size: int = 100,
                 items_page_size: int = 100, token_lifetime: int = 3600) -> None:  # fmt: skip
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.marketplace = marketplace
        self.page_size = page_size
        self.items_page_size = items_page_size
        self.token_lifetime = token_lifetime

        self.orders: dict[str, dict[str, Any]] = {}
        self.items: dict[str, list[dict[str, Any]]] = {}
        #: (operation, parameters or body, HTTP status answered), in order.
        self.requests: list[tuple[str, dict[str, Any], int]] = []
        #: confirmShipment calls: {"order_id", "body", "status"}.
        self.confirmations: list[dict[str, Any]] = []
        self.tokens_issued = 0
        self._tokens: dict[str, bool] = {}  # access token -> still valid
        self._token_seq = itertools.count(1)
        self._pages: dict[str, list[dict[str, Any]]] = {}  # NextToken -> the rest of the list
        self._page_seq = itertools.count(1)
        self._faults: dict[str, list[Fault]] = {}
        self._refusals: dict[str, tuple[int, str, str]] = {}
        #: Orders getOrders lists a second time at the end (Amazon does when one changes
        #: while a client pages through).
        self.relisted: list[str] = []
        #: The transport fails every request as a refused connection does.
        self.unreachable = False

    # ---------------------------------------------------------------- life cycle

    @property
    def base_url(self) -> str:
        """The endpoint; :attr:`host` is what the desk's DINGDAN_SPAPI_ALLOW_HOSTS must list to call it."""
        return self.origin

    @property
    def auth_url(self) -> str:
        return f"{self.origin}/auth/o2/token"

    # ---------------------------------------------------------------- the seller's world

    def add_order(
        self,
        order_id: str,
        *,
        updated: datetime,
        status: str = "Unshipped",
        purchased: datetime | None = None,
        channel: str = "MFN",
        ship_by: datetime | None = None,
        deliver_by: datetime | None = None,
        currency: str = "USD",
        items: list[tuple[str, str, int, str]] | None = None,  # (item id, SKU, quantity, price of all units)
        city: str = "Seattle",
    ) -> dict[str, Any]:
        """An order as getOrders returns it; items as (OrderItemId, SellerSKU, QuantityOrdered, ItemPrice)."""
        purchased = purchased or updated - timedelta(hours=1)
        lines = items or [(order_id.replace("-", "")[-14:].rjust(14, "0"), "SKU-1", 1, "19.99")]
        total = sum((Decimal(price) for _i, _s, _q, price in lines), Decimal(0))
        order: dict[str, Any] = {
            "AmazonOrderId": order_id,
            "PurchaseDate": z(purchased),
            "LastUpdateDate": z(updated),
            "OrderStatus": status,
            "FulfillmentChannel": channel,
            "SalesChannel": "Amazon.com",
            "ShipServiceLevel": "Std US D2D Dom",
            "OrderTotal": {"CurrencyCode": currency, "Amount": str(total)},
            "NumberOfItemsShipped": 0,
            "NumberOfItemsUnshipped": sum(q for _i, _s, q, _p in lines),
            "PaymentMethod": "Other",
            "MarketplaceId": self.marketplace,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": z(purchased),
            "LatestShipDate": z(ship_by or purchased + timedelta(days=3)),
            "LatestDeliveryDate": z(deliver_by or purchased + timedelta(days=10)),
            "IsBusinessOrder": False,
            "IsPrime": False,
            "IsPremiumOrder": False,
            "IsGlobalExpressEnabled": False,
            "IsReplacementOrder": False,
            "IsSoldByAB": False,
            "ShippingAddress": {"City": city, "StateOrRegion": "WA", "PostalCode": "98101-1234", "CountryCode": "US"},
        }
        if status in ("Pending", "PendingAvailability"):
            del order["OrderTotal"]  # Amazon has no total before the payment is verified
        self.orders[order_id] = order
        self.items[order_id] = [
            {"ASIN": f"B0{n:08d}", "OrderItemId": item_id, "SellerSKU": sku, "Title": f"Item {sku}",
             "QuantityOrdered": quantity, "QuantityShipped": 0,
             "ItemPrice": {"CurrencyCode": currency, "Amount": price},
             "ItemTax": {"CurrencyCode": currency, "Amount": "0.00"}}
            for n, (item_id, sku, quantity, price) in enumerate(lines)
        ]  # fmt: skip
        return order

    def update_order(self, order_id: str, *, updated: datetime, status: str | None = None,
                     shipped: dict[str, int] | None = None) -> dict[str, Any]:  # fmt: skip
        """Amazon changed the order (a status, items shipped): its LastUpdateDate moves."""
        order = self.orders[order_id]
        order["LastUpdateDate"] = z(updated)
        if status is not None:
            order["OrderStatus"] = status
            if status == "Shipped":
                shipped = {i["OrderItemId"]: i["QuantityOrdered"] for i in self.items[order_id]}
        for item in self.items[order_id]:
            if shipped and item["OrderItemId"] in shipped:
                item["QuantityShipped"] = shipped[item["OrderItemId"]]
        order["NumberOfItemsShipped"] = sum(i["QuantityShipped"] for i in self.items[order_id])
        order["NumberOfItemsUnshipped"] = sum(i["QuantityOrdered"] - i["QuantityShipped"] for i in self.items[order_id])
        return order

    def fail_next(self, operation: str, status: int = 429, count: int = 1, *, retry_after: str | None = None,
                  after: int = 0) -> None:  # fmt: skip
        """``count`` calls of ``operation`` (getOrders, getOrderItems, confirmShipment, login)
        answer ``status``, after ``after`` calls answered normally; a 429 carries
        ``Retry-After`` only when given. Faults queue up one after the other."""
        self._faults.setdefault(operation, []).append(Fault(status, count, retry_after, after))

    def refuse_confirmation(self, order_id: str, status: int = 400, code: str = "InvalidInput",
                            message: str = "Invalid carrier code or tracking number.") -> None:  # fmt: skip
        self._refusals[order_id] = (status, code, message)

    def accept_confirmation(self, order_id: str) -> None:
        """Amazon takes the order's confirmations again (what :meth:`refuse_confirmation` scripted ends)."""
        self._refusals.pop(order_id, None)

    def expire_tokens(self) -> None:
        """Every access token issued so far has expired."""
        for token in self._tokens:
            self._tokens[token] = False

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params, _status in self.requests if op == operation]

    def answered(self, operation: str) -> list[int]:
        return [status for op, _params, status in self.requests if op == operation]

    # ---------------------------------------------------------------- HTTP

    def transport(self) -> httpx.MockTransport:
        """The same Amazon without a server: an httpx transport for ``SpApiClient(transport=…)``.

        The host in the URL does not matter, so the client may use Amazon's own addresses
        (:data:`ENDPOINT`, :data:`AUTH_URL`). ``unreachable`` answers nothing: every request
        fails as a refused connection does.
        """

        async def handle(request: httpx.Request) -> httpx.Response:
            if self.unreachable:
                raise httpx.ConnectError("Connection refused", request=request)
            body = await request.aread()
            found = _route(request.method, request.url.path)
            if found is None:
                return httpx.Response(404)
            operation, order_id = found
            call = _Call(operation, order_id, dict(request.url.params), request.headers,
                         dict(parse_qsl(body.decode())) if operation == "login" else {}, _json(body))  # fmt: skip
            answer = self.answer(call)
            content = b"" if answer.body is None else json.dumps(answer.body).encode()
            headers = {"content-type": "application/json"} if answer.body is not None else {}
            return httpx.Response(answer.status, content=content, headers={**headers, **(answer.headers or {})})

        return httpx.MockTransport(handle)

    async def handle(self, request: web.Request) -> web.Response:
        found = _route(request.method, request.path)
        if found is None:
            return web.Response(status=404)
        operation, order_id = found
        body = await request.read()
        form = {k: str(v) for k, v in (await request.post()).items()} if operation == "login" else {}
        answer = self.answer(_Call(operation, order_id, dict(request.query), request.headers, form, _json(body)))
        if answer.body is None:
            return web.Response(status=answer.status, headers=answer.headers)
        return web.Response(status=answer.status, text=json.dumps(answer.body), content_type="application/json",
                            headers=answer.headers)  # fmt: skip

    def answer(self, call: _Call) -> _Answer:
        """What Amazon answers to one request, recorded in :attr:`requests`."""
        handler = {"login": self._token, "getOrders": self._get_orders, "getOrderItems": self._get_order_items,
                   "confirmShipment": self._confirm_shipment}[call.operation]  # fmt: skip
        params, answer = handler(call)
        self.requests.append((call.operation, params, answer.status))
        self._notify()
        return answer

    @staticmethod
    def _errors(status: int, code: str | None = None, message: str | None = None, details: str = "",
                headers: dict[str, str] | None = None) -> _Answer:  # fmt: skip
        default_code, default_message = _ERROR_TEXT.get(status, ("Error", f"HTTP {status}"))
        body = {"errors": [{"code": code or default_code, "message": message or default_message, "details": details}]}
        return _Answer(status, body, headers)

    def _fault(self, operation: str) -> _Answer | None:
        faults = self._faults.get(operation)
        if not faults:
            return None
        fault = faults[0]
        if fault.after > 0:
            fault.after -= 1
            return None
        fault.count -= 1
        if fault.count <= 0:
            faults.pop(0)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        if operation == "login":
            return _Answer(fault.status, {"error": "server_error", "error_description": "Try again later"}, headers)
        return self._errors(fault.status, headers=headers)

    def _unauthorised(self, call: _Call) -> _Answer | None:
        token = call.headers.get("x-amz-access-token")
        if token is None or token not in self._tokens:
            return self._errors(403, details="The access token you provided is invalid.")
        if not self._tokens[token]:
            return self._errors(403, details="The access token you provided has expired.")
        return None

    def _token(self, call: _Call) -> tuple[dict[str, Any], _Answer]:
        form = call.form
        # Recorded without the secrets, as a log would be.
        params = {"grant_type": form.get("grant_type")}
        fault = self._fault("login")
        if fault is not None:
            return params, fault
        if form.get("grant_type") != "refresh_token":
            body = {"error": "unsupported_grant_type", "error_description": "The grant type is not supported"}
            return params, _Answer(400, body)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            body = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return params, _Answer(401, body)
        if form.get("refresh_token") != self.refresh_token:
            body = {"error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : refresh_token"}  # fmt: skip
            return params, _Answer(400, body)
        token = f"Atza|fake-access-{next(self._token_seq)}"
        self._tokens[token] = True
        self.tokens_issued += 1
        body = {"access_token": token, "refresh_token": self.refresh_token, "token_type": "bearer",
                "expires_in": self.token_lifetime}  # fmt: skip
        return params, _Answer(200, body)

    def _get_orders(self, call: _Call) -> tuple[dict[str, Any], _Answer]:
        params = dict(call.query)
        refused = self._unauthorised(call) or self._fault("getOrders")
        if refused is not None:
            return params, refused
        if params.get("MarketplaceIds") != self.marketplace:
            return params, self._errors(400, details="Invalid MarketplaceIds")
        token = params.get("NextToken")
        if token:
            rest = self._pages.get(token)
            if rest is None:
                return params, self._errors(400, details="Invalid NextToken")
            size = self.page_size
        else:
            after = _parse(params.get("LastUpdatedAfter", ""))
            if after is None:
                return params, self._errors(400, details="LastUpdatedAfter or CreatedAfter is required")
            size = min(int(params.get("MaxResultsPerPage", "100")), self.page_size)
            rest = sorted((o for o in self.orders.values() if _parse(o["LastUpdateDate"]) >= after),  # type: ignore[operator]
                          key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]))  # fmt: skip
            rest += [self.orders[o] for o in self.relisted if o in self.orders]
            rest = [json.loads(json.dumps(o)) for o in rest]  # a snapshot: later changes are not in these pages
        page, remaining = rest[:size], rest[size:]
        payload: dict[str, Any] = {"Orders": page, "LastUpdatedBefore": z(datetime.now(UTC))}
        if remaining:
            next_token = f"NT{next(self._page_seq):06d}"
            self._pages[next_token] = remaining
            payload["NextToken"] = next_token
        return params, _Answer(200, {"payload": payload})

    def _get_order_items(self, call: _Call) -> tuple[dict[str, Any], _Answer]:
        order_id = call.order_id or ""
        params = {"order_id": order_id, **call.query}
        refused = self._unauthorised(call) or self._fault("getOrderItems")
        if refused is not None:
            return params, refused
        if order_id not in self.items:
            return params, self._errors(404)
        items = self.items[order_id]
        start = int(call.query.get("NextToken", "0") or 0)
        page = items[start : start + self.items_page_size]
        payload: dict[str, Any] = {"AmazonOrderId": order_id, "OrderItems": json.loads(json.dumps(page))}
        if start + self.items_page_size < len(items):
            payload["NextToken"] = str(start + self.items_page_size)
        return params, _Answer(200, {"payload": payload})

    def _confirm_shipment(self, call: _Call) -> tuple[dict[str, Any], _Answer]:
        order_id = call.order_id or ""
        body = call.body
        params = {"order_id": order_id, "body": body}
        refused = self._unauthorised(call) or self._fault("confirmShipment")
        if refused is not None:
            return params, refused
        problem = self._check_confirmation(order_id, body)
        if problem is not None:
            answer = self._errors(*problem) if isinstance(problem, tuple) else self._errors(400, details=problem)
        elif order_id in self._refusals:
            status, code, message = self._refusals[order_id]
            answer = self._errors(status, code, message)
        else:
            answer = _Answer(204)
        self.confirmations.append({"order_id": order_id, "body": body, "status": answer.status})
        return params, answer

    def _check_confirmation(self, order_id: str, body: Any) -> str | tuple[int, str, str] | None:
        if order_id not in self.orders:
            return (404, "NotFound", f"Order {order_id} does not exist.")
        if not isinstance(body, dict) or body.get("marketplaceId") != self.marketplace:
            return "marketplaceId is missing or wrong"
        package = body.get("packageDetail")
        if not isinstance(package, dict):
            return "packageDetail is required"
        for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems"):
            if not package.get(name):
                return f"packageDetail.{name} is required"
        if not str(package["packageReferenceId"]).isdigit():
            return "packageReferenceId must be a positive number"
        if package["carrierCode"] == "Other" and not package.get("carrierName"):
            return "carrierName is required when carrierCode is Other"
        if _parse(str(package["shipDate"])) is None:
            return "shipDate is not an ISO 8601 date"
        known = {i["OrderItemId"]: i["QuantityOrdered"] for i in self.items.get(order_id, [])}
        for item in package["orderItems"]:
            if item.get("orderItemId") not in known:
                return f"orderItemId {item.get('orderItemId')} is not in the order"
            if not isinstance(item.get("quantity"), int) or not 0 < item["quantity"] <= known[item["orderItemId"]]:
                return f"quantity of {item.get('orderItemId')} is wrong"
        return None

"""Looking things up: one order's card, lists of orders, an order's history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts as render
from bot.buttons import OrderPage, Page
from bot.carriers import label as carrier_label
from bot.domain import Event, Goods, Order
from bot.i18n import Raw, _, current, duration, money, ngettext, when
from bot.parsing import OrderRef, parse_order_ref
from bot.storage import Team
from bot.texts import tracking as render_tracking
from bot.texts.pages import paginate
from handlers.common import answer, edit_in_place, handles_refusals, is_private, team_of
from handlers.context import DeskContext
from handlers.outcomes import usage

PER_PAGE = 10
#: The most events /history shows (newest first); an order rarely has more than a few dozen.
HISTORY_LIMIT = 1000
#: What "/orders" shows without a state: what still needs shipping.
OPEN = (Goods.pending, Goods.unshipped, Goods.partially_shipped)
#: Open orders that have a ship-by (a pending order's payment is not verified: none yet).
SHIPPABLE = (Goods.unshipped, Goods.partially_shipped)
#: The lists, by the name their page buttons carry: the states each shows.
LISTS: dict[str, tuple[Goods, ...]] = {
    "open": OPEN, "all": tuple(Goods), "returns": (Goods.return_requested, Goods.return_received),
    # Seller Central's "Unshipped" (待发货): what is paid for and not fully shipped yet.
    "to_ship": (Goods.unshipped, Goods.partially_shipped),
    # Open orders by their ship-by, as Chinese seller tools list them (see ``ship_by_range``).
    "due_soon": SHIPPABLE, "overdue": SHIPPABLE, "today": SHIPPABLE,
    **{state.value: (state,) for state in Goods},
}  # fmt: skip
#: Words a person may use for a list, in English and Chinese: the list's name.
LIST_NAMES: dict[str, str] = {
    "todo": "open", "待处理": "open", "待處理": "open", "全部": "all", "退货": "returns", "退貨": "returns",
    "待发货": "to_ship", "待發貨": "to_ship", "待出貨": "to_ship", "to-ship": "to_ship",
    "due-soon": "due_soon", "duesoon": "due_soon", "soon": "due_soon", "即将超时": "due_soon", "即將超時": "due_soon",
    "即將逾時": "due_soon", "overdue": "overdue", "late": "overdue", "已超时": "overdue", "已超時": "overdue",
    "已逾時": "overdue", "逾期": "overdue", "today": "today", "今日必发": "today", "今日必發": "today",
    "今日必出": "today", "今日出貨": "today",
    **{name: name for name in LISTS},
    **{state.value.replace("_", ""): state.value for state in Goods},
}  # fmt: skip
for _words, _state in (
    (("等待中",), Goods.pending), (("未发货", "未發貨"), Goods.unshipped),
    (("部分发货", "部分發貨"), Goods.partially_shipped), (("已发货", "已發貨"), Goods.shipped),
    (("已送达", "已送達"), Goods.delivered), (("丢件", "丟件", "遗失", "遺失"), Goods.lost), (("已取消",), Goods.cancelled),
    (("退货中", "退貨中"), Goods.return_requested), (("退货已到", "退貨已到"), Goods.return_received),
    (("退货已处理", "退貨已處理"), Goods.return_closed),
):  # fmt: skip
    for _word in _words:
        LIST_NAMES[_word] = _state.value
#: Words a person may use for a list: the states it shows.
LIST_WORDS: dict[str, tuple[Goods, ...]] = {word: LISTS[name] for word, name in LIST_NAMES.items()}
#: "/orders due-soon": open orders whose ship-by comes within this.
DUE_SOON = timedelta(hours=24)


def ship_by_range(name: str, now: datetime, zone: str) -> tuple[datetime | None, datetime | None]:
    """The ship-by range (from, until) of a list by ship-by: ``due_soon`` from now to 24 hours
    ahead (即将超时), ``overdue`` before now (已超时), ``today`` before the end of today in the
    team's time zone, the late ones included (今日必发: all that must leave today); open for
    the other lists."""
    if name == "due_soon":
        return now, now + DUE_SOON
    if name == "overdue":
        return None, now
    if name == "today":
        local = now.astimezone(ZoneInfo(zone))
        midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=local.tzinfo)
        return None, midnight.astimezone(UTC)
    return None, None


def card_pages(order: Order, last: Event | None, zone: str, *, private: bool, now: datetime,
               tracking: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The order's card, page by page: its state first, then every item (a card with 200 items
    shows them all); the last change on its own line."""
    lines = [_("State: {state}; money: {money}", state=render.state_name(order.goods),
               money=_(render.MONEY_NAMES[order.money]))]  # fmt: skip
    if order.ship_by and order.goods in OPEN:
        left = order.ship_by - now
        if left.total_seconds() >= 0:
            lines.append(_("Ship by {when} (in {left}).", when=when(order.ship_by, zone),
                           left=render_duration(left)))  # fmt: skip
        else:
            lines.append(_("Ship by {when}: late by {late}!", when=when(order.ship_by, zone),
                           late=render_duration(-left)))  # fmt: skip
    if order.purchased_at:
        lines.append(_("Ordered {when}", when=when(order.purchased_at, zone)))
    if order.total is not None:
        lines.append(_("Total {total}; refunded {refunded}", total=money(order.total, order.currency),
                       refunded=money(order.refunded, order.currency)))  # fmt: skip
    elif order.refunded:
        lines.append(_("Refunded {refunded}", refunded=money(order.refunded, order.currency)))
    if order.tracking:
        lines.append(_("Shipped with {carrier} {tracking}", carrier=carrier_label(order.carrier, order.carrier_name, current()),
                       tracking=order.tracking))  # fmt: skip
    lines += tracking  # carrier tracking: each number's status and the carrier's last event
    if order.return_reason or order.disposition:
        lines.append(_("Return: {reason} ({disposition})", reason=order.return_reason or "—",
                       disposition=render.disposition_name(order.disposition) if order.disposition else "—"))  # fmt: skip
    # Buyer data stays out of the group: only the person asking in private sees it.
    if private and order.buyer_name:
        lines.append(_("Buyer: {name}, {address}", name=order.buyer_name,
                       address=", ".join(p for p in (order.ship_address, order.ship_city, order.ship_state,
                                                     order.ship_postal_code, order.ship_country) if p)))  # fmt: skip
    elif order.ship_city or order.ship_country:
        lines.append(_("Ships to {place}", place=", ".join(p for p in (order.ship_city, order.ship_country) if p)))
    if last is not None:
        lines.append(_("Last change: {event}", event=Raw(render.event_line(last, zone))))
    lines.append(ngettext("{count} item:", "{count} items:", len(order.items)))
    items = [_("• {quantity} × {sku} {title} ({shipped} shipped)", quantity=item.quantity, sku=item.sku,
               title=item.title, shipped=item.quantity_shipped) for item in order.items]  # fmt: skip

    def heading(page: int, pages: int) -> str:
        if pages == 1:
            return _("<b>Order {order}</b>", order=order.order_id)
        return _("<b>Order {order}</b> · page {page} of {pages}", order=order.order_id, page=page, pages=pages)

    return paginate(items, heading, first=lines)


def history_pages(order: Order, events: list[Event], zone: str) -> list[str]:
    """Every event of the order, newest first, page by page."""

    def heading(page: int, pages: int) -> str:
        if pages == 1:
            return _("History of order {order}:", order=order.order_id)
        return _("History of order {order}, page {page} of {pages}:", order=order.order_id, page=page, pages=pages)

    return paginate([render.event_line(e, zone) for e in events], heading)


def order_page_markup(view: str, order_id: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
    """◀ ▶ under a card or a history of several pages (``page`` 0-based)."""
    buttons = []
    if page > 0:
        buttons.append(
            InlineKeyboardButton(_("◀ Previous"), callback_data=OrderPage(view, order_id, page - 1).encode())
        )
    if page + 1 < pages:
        buttons.append(InlineKeyboardButton(_("Next ▶"), callback_data=OrderPage(view, order_id, page + 1).encode()))
    return InlineKeyboardMarkup([buttons]) if buttons else None


def render_duration(delta: timedelta) -> str:
    return duration(delta, direction=False)


@handles_refusals
async def show_order(update: Update, context: DeskContext) -> None:
    """/order ORDER (查询 ORDER): the order's card (its first page, when it has several)."""
    args = context.args or []
    if len(args) != 1:
        await usage(update, context)
        return
    team = await team_of(update, context)
    await _show_pages(update, context, OrderPage("card", "", 0), team, parse_order_ref(args[0]))


@handles_refusals
async def history(update: Update, context: DeskContext) -> None:
    """/history ORDER (历史 ORDER): every event of the order, newest first, page by page."""
    args = context.args or []
    if len(args) != 1:
        await usage(update, context)
        return
    team = await team_of(update, context)
    await _show_pages(update, context, OrderPage("history", "", 0), team, parse_order_ref(args[0]))


@handles_refusals
async def order_page_button(update: Update, context: DeskContext) -> None:
    """◀ / ▶ under a long card or history: that page, in the pressed message."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, OrderPage)
    team = await team_of(update, context)
    await query.answer()
    await _show_pages(update, context, button, team, parse_order_ref(button.order_id), edit=True)


async def _show_pages(update: Update, context: DeskContext, want: OrderPage, team: Team, ref: OrderRef, *,
                      edit: bool = False) -> None:  # fmt: skip
    if want.view == "card":
        order, last = await context.services.desk.card(team.team_id, ref, events=1)
        tracked = await context.services.store.tracking_of(team.team_id, order.order_id)
        lines = [render_tracking.tracking_line(row, team.timezone) for row in tracked
                 if row.stop_reason not in ("corrected", "switched_off")]  # fmt: skip
        pages = card_pages(order, last[0] if last else None, team.timezone, private=is_private(update),
                           now=context.settings.clock(), tracking=lines)  # fmt: skip
    else:
        order, events = await context.services.desk.card(team.team_id, ref, events=HISTORY_LIMIT)
        pages = history_pages(order, events, team.timezone)
    page = min(want.page, len(pages) - 1)  # the order changed since: its last page
    markup = order_page_markup(want.view, order.order_id, page, len(pages))
    if edit:
        await edit_in_place(update, pages[page], markup)
    else:
        await answer(update, pages[page], markup)


@handles_refusals
async def list_orders(update: Update, context: DeskContext) -> None:
    """/orders [LIST] (订单 [列表]): orders page by page, the earliest ship-by first."""
    args = context.args or []
    if args and args[0].lower() in TRACKING_LISTS:
        await _tracking_list(update, context, TRACKING_LISTS[args[0].lower()])
        return
    name = LIST_NAMES.get(args[0], LIST_NAMES.get(args[0].lower())) if args else "open"
    if name is None:
        # "订单 6689831": a person asking for one order by its number.
        try:
            parse_order_ref(args[0])
        except Exception:  # noqa: BLE001 - not an order either: say which lists exist
            await answer(
                update,
                _(
                    "I don't know the list “{word}”. Try /orders, /orders overdue, /orders due-soon, "
                    "/orders today, /orders stuck, /orders no-scan, /orders all, /orders shipped or /orders returns.",
                    word=args[0],
                ),
            )
            return
        await show_order(update, context)
        return
    await _send_page(update, context, Page(name, 0))


@handles_refusals
async def page_button(update: Update, context: DeskContext) -> None:
    """◀ / ▶ under an order list: the page after (or before) the order the button names."""
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, Page)
    await query.answer()
    await _send_page(update, context, button, edit=True)


#: Lists by what carrier tracking found: parcels not moving, parcels never scanned.
TRACKING_LISTS: dict[str, str] = {"stuck": "stuck", "未妥投": "stuck", "no-scan": "no_scan",
                                  "noscan": "no_scan", "查询不到": "no_scan", "查詢不到": "no_scan"}  # fmt: skip
#: Parcels such a list shows at most.
TRACKING_SHOWN = 50


async def _tracking_list(update: Update, context: DeskContext, concern: str) -> None:
    """The orders whose parcels carrier tracking found stuck, or never scanned (oldest first)."""
    team = await team_of(update, context)
    rows = await context.services.store.tracking_concerns(team.team_id, (concern,), limit=TRACKING_SHOWN)
    if not rows:
        await answer(update, _("No orders in this list."))
        return
    kind = "stuck" if concern == "stuck" else "no_scan"
    lines = [render_tracking.concern_head(kind, len(rows))]
    lines += [_("<code>{order}</code> · {tracking}", order=row.order_id,
                tracking=render_tracking.tracking_line(row, team.timezone)) for row in rows]  # fmt: skip
    await answer(update, "\n".join(lines))


async def _send_page(update: Update, context: DeskContext, want: Page, *, edit: bool = False) -> None:
    team = await team_of(update, context)
    states = LISTS.get(want.list_name, OPEN)
    ship_by = ship_by_range(want.list_name, context.settings.clock(), team.timezone)
    after, before = (want.order_id, None) if want.direction == "after" else (None, want.order_id or None)
    orders, total = await context.services.desk.orders(team.team_id, states, per_page=PER_PAGE, after=after,
                                                       before=before, ship_by=ship_by)  # fmt: skip
    page = want.page
    if (before is not None and len(orders) < PER_PAGE) or (not orders and page > 0):
        # Orders left the list meanwhile: fewer than a page before this one, or none after
        # the last shown. The list's first page, then.
        orders, total = await context.services.desk.orders(team.team_id, states, per_page=PER_PAGE, ship_by=ship_by)
        page = 0
    if total == 0 or not orders:
        text = _("No orders in this list.")
    else:
        pages = max((total + PER_PAGE - 1) // PER_PAGE, page + 1)
        head = ngettext("{count} order, page {page} of {pages}:", "{count} orders, page {page} of {pages}:", total,
                        page=page + 1, pages=pages)  # fmt: skip
        text = "\n".join([head, *(render.order_line(o, team.timezone) for o in orders)])
    buttons = []
    if orders and page > 0:
        previous = Page(want.list_name, page - 1, "before", orders[0].order_id)
        buttons.append(InlineKeyboardButton(_("◀ Previous"), callback_data=previous.encode()))
    if orders and (page + 1) * PER_PAGE < total:
        following = Page(want.list_name, page + 1, "after", orders[-1].order_id)
        buttons.append(InlineKeyboardButton(_("Next ▶"), callback_data=following.encode()))
    markup = InlineKeyboardMarkup([buttons]) if buttons else None
    if edit and update.callback_query is not None:
        await edit_in_place(update, text, markup)
    else:
        await answer(update, text, markup)

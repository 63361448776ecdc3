"""The commands: one table of name, callback, menu text, usage and Chinese keywords.

Everything that lists the commands reads it: the handler registration
(``handlers.register``), the Chinese keyword messages (``handlers.keywords``), the command
menus Telegram shows, and the usage sentence a command answers when its arguments are
missing. Telegram command names are Latin; Chinese speakers may start a plain message with
one of a command's keywords instead (DESIGN.md §3), in Simplified or Traditional script.
"""

from __future__ import annotations

import logging

from telegram import BotCommand, Update
from telegram.ext import Application

from bot import i18n
from bot.i18n import N_, _
from bot.parsing import KeywordMatcher, read_args
from handlers import aftersale, alerts, amazon, files, fulfilment, lookup, settings
from handlers.context import Callback, Command, DeskContext

log = logging.getLogger(__name__)

COMMANDS: tuple[Command, ...] = (
    Command(
        "ship",
        fulfilment.ship,
        menu=N_("Ship an order: order, carrier, tracking number"),
        usage=N_(
            "Send: /ship ORDER [CARRIER] TRACKING, for example /ship 113-4417305-6689831 UPS 1Z999AA10123456784 or 发货 6689831 SF1234567890123. The carrier may be left out when the tracking number shows it or the team has a default carrier (/carrier). To ship some items only, add their SKUs: /ship 7654321 UPS 1Z999AA10123456784 USB-FAN-03"
        ),
        keywords=(
            "发货",
            "發貨",
            "已发货",
            "已發貨",
            "确认发货",
            "確認發貨",
            "出货",
            "出貨",
            "已出货",
            "已出貨",
            "确认出货",
            "確認出貨",
        ),
    ),
    Command(
        "cancel",
        aftersale.cancel,
        menu=N_("Cancel an unshipped order with Amazon's reason"),
        usage=N_(
            "Send: /cancel ORDER REASON, for example /cancel 113-4417305-6689831 NoInventory or 取消 6689831 缺货"
        ),
        keywords=("取消", "取消订单", "取消訂單"),
    ),
    Command(
        "refund",
        aftersale.refund,
        menu=N_("Refund a shipped order, in full or in part"),
        usage=N_(
            "Send: /refund ORDER [AMOUNT] [REASON], for example /refund 6689831 (in full) or /refund 6689831 12.50"
        ),
        keywords=("退款",),
    ),
    Command(
        "return",
        aftersale.request_return,
        menu=N_("Record a buyer's return request"),
        usage=N_("Send: /return ORDER [REASON], for example /return 6689831 defective"),
        keywords=("退货", "退貨", "退货申请", "退貨申請"),
    ),
    Command(
        "received",
        aftersale.received,
        menu=N_("Record that a returned item arrived"),
        usage=N_("Send: /received ORDER, for example /received 6689831 or 收到退货 6689831"),
        keywords=("收到退货", "收到退貨", "已收到退货", "已收到退貨", "退货已到", "退貨已到"),
    ),
    Command(
        "decide",
        fulfilment.decide,
        menu=N_("Decide what happens to a returned item: restock, dispose or send back"),
        usage=N_("Send: /decide ORDER restock|dispose|send_back, for example /decide 6689831 restock or 入库 6689831"),
        keywords=("入库", "入庫", "重新入库", "重新入庫", "销毁", "銷毀", "退回", "寄回"),
    ),
    Command(
        "delivered",
        fulfilment.delivered,
        menu=N_("Mark an order delivered"),
        usage=N_("Send: /delivered ORDER, for example /delivered 6689831"),
        keywords=("送达", "送達", "已送达", "已送達", "签收", "簽收", "已签收", "已簽收", "妥投", "已妥投"),
    ),
    Command(
        "lost",
        fulfilment.lost,
        menu=N_("Mark an order lost by the carrier"),
        usage=N_("Send: /lost ORDER, for example /lost 6689831"),
        keywords=("丢件", "丟件", "丢失", "丟失", "丢包", "丟包", "遗失", "遺失"),
    ),
    Command(
        "address",
        fulfilment.address,
        menu=N_("What to do when the buyer changes the address"),
        usage=N_("Send: /address ORDER, for example /address 6689831"),
        keywords=("改地址", "修改地址", "地址变更", "地址變更"),
    ),
    Command(
        "correct",
        fulfilment.correct,
        menu=N_("Correct the tracking number of a shipped order"),
        usage=N_("Send: /correct ORDER CARRIER NEW-TRACKING, for example /correct 6689831 UPS 1Z999AA10123456784"),
        keywords=("改单号", "改單號", "更正单号", "更正單號", "修改单号", "修改單號"),
    ),
    Command(
        "export",
        files.export,
        menu=N_("Shipping confirmation file for Seller Central"),
        keywords=("导出", "導出", "导出发货", "導出發貨", "匯出"),
    ),
    Command(
        "order",
        lookup.show_order,
        menu=N_("Show an order"),
        usage=N_("Send: /order ORDER, for example /order 6689831 or 查询 6689831"),
        keywords=("查询", "查詢", "查单", "查單", "查询订单", "查詢訂單", "查", "查看"),
    ),
    Command(
        "orders",
        lookup.list_orders,
        menu=N_("List orders, the most urgent first"),
        keywords=("订单", "訂單", "订单列表", "訂單列表"),
    ),
    Command(
        "history",
        lookup.history,
        menu=N_("Everything that happened to an order"),
        usage=N_("Send: /history ORDER, for example /history 6689831"),
        keywords=("历史", "歷史", "记录", "記錄", "纪录", "紀錄"),
    ),
    Command(
        "alerts",
        alerts.alerts_command,
        menu=N_("Alert settings of this team (administrators)"),
        keywords=("提醒", "提醒设置", "提醒設定"),
    ),
    Command(
        "carrier",
        settings.default_carrier,
        menu=N_("The team's default carrier, used when only a tracking number is sent (administrators)"),
        keywords=("默认承运人", "默認承運商", "預設承運商", "默认物流", "默認物流", "預設物流"),
    ),
    Command(
        "amazon",
        amazon.amazon_command,
        menu=N_("Connect the team's Amazon account (administrators, in private)"),
    ),
    Command(
        "lang",
        settings.lang,
        menu=N_("Choose your language"),
        keywords=("语言", "語言"),
    ),
    Command(
        "help",
        settings.show_help,
        menu=N_("How to use dingdan"),
        keywords=("帮助", "幫助", "说明", "說明", "菜单", "菜單", "?"),
    ),
    Command(
        "start",
        settings.start,
        menu=N_("Start dingdan in this group"),
    ),
)

BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
#: Chinese keyword → command name.
KEYWORDS: dict[str, str] = {word: c.name for c in COMMANDS for word in c.keywords}
KEYWORD = KeywordMatcher(KEYWORDS)


def keyword_table() -> str:
    """The README's table of Chinese keywords, one row per command (tests keep the README equal to it)."""
    rows = ["| Command | 中文关键词 / 中文關鍵詞 |", "|---|---|"]
    for c in COMMANDS:
        if c.keywords:
            rows.append(f"| `/{c.name}` | " + "、".join(f"`{k}`" for k in c.keywords) + " |")
    return "\n".join(rows)


def runner(command: Command) -> Callback:
    """The handler callback for ``command``: it knows which command it runs (for its usage)."""

    async def run(update: Update, context: DeskContext) -> None:
        context.command = command
        message = update.effective_message
        if command.keywords and message is not None and message.text and "\n" in message.text.strip():
            # Several lines: one command per line (a pasted list of shipments), or one going on.
            from handlers.keywords import read_lines, run_lines

            lines = read_lines(message.text)
            if lines is not None and len(lines) > 1:
                await run_lines(update, context, lines)
                return
            if lines:
                context.args = lines[0].args
        elif command.keywords:
            # Commas, enumeration commas and full stops as Chinese keyboards type them.
            context.args = read_args(" ".join(context.args or []))
        await command.callback(update, context)

    run.__name__ = run.__qualname__ = f"run_{command.name}"
    run.__doc__ = command.callback.__doc__
    return run


def command_menu() -> list[BotCommand]:
    """The command menu in the current language."""
    return [BotCommand(c.name, _(c.menu)) for c in COMMANDS]


async def set_command_menus(application: Application) -> None:
    """One menu per language Telegram can tell apart."""
    # Telegram's "zh" menu cannot tell Simplified from Traditional: it gets Simplified,
    # and each person can still switch the bot's replies with /lang.
    for language_code, locale in (("", "en"), ("en", "en"), ("zh", "zh_Hans")):
        with i18n.using(locale):
            commands = command_menu()
        try:
            await application.bot.set_my_commands(commands, language_code=language_code or None)
        except Exception:  # noqa: BLE001 - menus are a convenience; the bot works without them
            log.warning("could not set the %s command menu", locale or "default", exc_info=True)

"""Starting the desk in a group, help, and each person's language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import i18n
from bot.buttons import DEFAULT_CARRIER_CHOICES, DefaultCarrier, Language
from bot.carriers import OTHER, label, resolve_carrier
from bot.domain import Refusal
from bot.i18n import _
from bot.parsing import resolve_language
from bot.refusal_codes import AccessCode, ShippingCode
from bot.storage import Team
from bot.team_settings import InvalidSetting
from handlers.common import (
    admin_team,
    answer,
    edit_in_place,
    handles_refusals,
    is_private,
    require_person,
    team_of,
)
from handlers.context import DeskContext


def help_text() -> str:
    return "\n".join([
        _("<b>dingdan</b> works your Amazon orders from this chat. Name an order by its full number or its last 4+ digits."),
        "",
        _("/ship ORDER [CARRIER] TRACKING: confirm a shipment; the carrier may be left out when the number shows it or the team has a default carrier (发货 6689831 SF1234567890123)"),
        _("/correct ORDER CARRIER TRACKING: correct the tracking number of a shipped order (改单号 …)"),
        _("/cancel ORDER REASON: cancel before shipping, with Amazon's reason (取消 6689831 缺货)"),
        _("/refund ORDER [AMOUNT]: refund after shipping, in full or in part (退款 6689831 12.50)"),
        _("/return ORDER [REASON]: the buyer asked to return it (退货 6689831)"),
        _("/received ORDER: the returned item arrived; then choose restock, dispose or send back (收到退货 6689831)"),
        _("/delivered ORDER and /lost ORDER: what the carrier did (送达 / 丢件)"),
        _("/address ORDER: the buyer wants another address (改地址 6689831)"),
        _("/order ORDER: the order's card (查询 6689831); /history ORDER: everything that happened (历史)"),
        _("/orders [LIST]: orders to ship, the most urgent first; /orders overdue, /orders due-soon, /orders today, /orders stuck, /orders no-scan, /orders all, /orders shipped, /orders returns (订单 已超时、订单 即将超时、订单 今日必发、订单 未妥投、订单 查询不到)"),
        _("Send an Unshipped Orders report or an Order report from Seller Central as a file to import the orders; a returns report records returns."),
        _("Send a spreadsheet (.xlsx or .csv) with order, carrier and tracking number columns to ship many orders at once; sending the same file again ships nothing twice."),
        _("/export: the shipping confirmation file for Seller Central (导出)"),
        _("/alerts: alert settings for administrators (提醒)"),
        _("/amazon: connect the team's Amazon account for live sync (administrators, in a private chat)"),
        _("/lang: choose your language (语言)."),
    ])  # fmt: skip


@handles_refusals
async def start(update: Update, context: DeskContext) -> None:
    """/start: in a group, an administrator makes it a team; in private, say which team I serve."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    services = context.services
    if is_private(update):
        try:
            team = await team_of(update, context)
        except Refusal:
            await answer(
                update,
                _(
                    "Hello! I am dingdan, an order desk for Amazon seller teams. Add me to your team's group and have an administrator send /start there; then you can also use me here."
                ),
            )
            return
        await answer(update, _("Hello! Here you work the orders of {team}.", team=team.title) + "\n\n" + help_text())
        return
    require_person(update)  # the team remembers who started it
    if not await services.access.is_admin(chat.id, user.id):
        raise Refusal(AccessCode.not_admin)
    created = await services.store.create_team(chat.id, chat.title or "", context.settings.timezone, user.id,
                                               context.settings.clock())  # fmt: skip
    await services.access.record(chat.id, user.id, "administrator")
    if created:
        text = _(
            "dingdan is now this team's order desk. Send me the Unshipped Orders report from Seller Central to begin."
        )
    else:
        text = _("dingdan is already this team's order desk.")
    await answer(update, text + "\n\n" + help_text())


async def show_help(update: Update, context: DeskContext) -> None:
    """/help (帮助): every command with an example."""
    await answer(update, help_text())


def _language_buttons(scope: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(name, callback_data=Language(scope, loc).encode())
                for loc, name in i18n.LANGUAGE_NAMES.items()
            ]
        ]
    )


@handles_refusals
async def lang(update: Update, context: DeskContext) -> None:
    """/lang [en|zh_Hans|zh_Hant] for yourself; /lang group LANGUAGE sets a group's default (administrators)."""
    args = context.args or []
    if not args:
        await answer(update, _("Choose your language:"), _language_buttons("me"))
        return
    if args[0].lower() in ("group", "chat", "群", "群组", "群組") and not is_private(update):
        if len(args) < 2:
            await answer(update, _("Choose the group's default language:"), _language_buttons("chat"))
            return
        await _set(update, context, "chat", args[1])
        return
    await _set(update, context, "me", args[0])


async def _set(update: Update, context: DeskContext, scope: str, typed: str) -> None:
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    locale = typed if typed in i18n.LOCALES else resolve_language(typed) or i18n.normalise(typed)
    if locale is None:
        await answer(
            update,
            _("I speak English (en), 简体中文 (zh_Hans) and 繁體中文 (zh_Hant). Send for example /lang zh_Hant."),
        )
        return
    require_person(update)  # a language is a person's, or set by a named administrator
    store = context.services.store
    if scope == "chat":
        if not await context.services.access.is_admin(chat.id, user.id):
            raise Refusal(AccessCode.not_admin)
        await store.set_chat_language(chat.id, locale)
        known = await store.user(user.id)
        if known is None or known.language is None:
            i18n.set_current(locale)
        await answer(
            update, _("This group's default language is now {language}.", language=i18n.LANGUAGE_NAMES[locale])
        )
        return
    await store.set_user_language(user.id, locale)
    i18n.set_current(locale)
    await answer(update, _("I will answer you in {language}.", language=i18n.LANGUAGE_NAMES[locale]))


@handles_refusals
async def lang_button(update: Update, context: DeskContext) -> None:
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, Language)
    scope, locale = button.scope, button.locale
    await query.answer()
    await _set(update, context, scope, locale)


# --- the team's default carrier ---------------------------------------------------------


def _carrier_text(team: Team) -> str:
    stored = team.settings.default_carrier
    if not stored:
        return _("{team} has no default carrier: a tracking number sent alone ships only when its shape names the "
                 "carrier. Set one with /carrier YunExpress or the buttons.", team=team.title)  # fmt: skip
    carrier = resolve_carrier(stored)
    return _("The default carrier of {team} is {carrier}: a tracking number sent alone whose shape names no "
             "carrier ships with it. Change it with /carrier NAME, or /carrier off.", team=team.title,
             carrier=label(carrier.code, carrier.name, i18n.current()))  # fmt: skip


def _carrier_buttons() -> InlineKeyboardMarkup:
    def name(choice: str) -> str:
        return _("None") if choice == "off" else label(choice, "", i18n.current())

    choices = [InlineKeyboardButton(name(c), callback_data=DefaultCarrier(c).encode()) for c in DEFAULT_CARRIER_CHOICES]
    return InlineKeyboardMarkup([choices[i : i + 3] for i in range(0, len(choices), 3)])


async def _set_carrier(context: DeskContext, team: Team, typed: str) -> Team:
    store = context.services.store
    try:
        await store.update_team(team.team_id, default_carrier=typed)
    except InvalidSetting as bad:
        carrier = None
        try:
            carrier = resolve_carrier(typed)
        except Refusal as refusal:
            raise refusal from bad
        raise Refusal(ShippingCode.domestic_carrier, carrier=carrier.name if carrier.code == OTHER else carrier.code,
                      tracking=typed) from bad  # fmt: skip
    return await store.team(team.team_id) or team


@handles_refusals
async def default_carrier(update: Update, context: DeskContext) -> None:
    """/carrier [NAME|off] (默认承运人): the team's default carrier (administrators change it)."""
    args = context.args or []
    if not args:
        team = await team_of(update, context)
        await answer(update, _carrier_text(team), _carrier_buttons())
        return
    team = await admin_team(update, context)
    team = await _set_carrier(context, team, " ".join(args))
    await answer(update, _carrier_text(team))


@handles_refusals
async def carrier_button(update: Update, context: DeskContext) -> None:
    query = update.callback_query
    button = context.button
    assert query is not None and isinstance(button, DefaultCarrier)
    team = await admin_team(update, context)
    team = await _set_carrier(context, team, button.carrier)
    await query.answer()
    await edit_in_place(update, _carrier_text(team), _carrier_buttons())

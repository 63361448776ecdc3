"""The composition root: builds the python-telegram-bot ``Application`` and its services.

Long-lived resources (the database, the sender) open in ``_post_init`` and close in
``_post_shutdown``; nothing happens at import time. ``running()`` is the one way the
application starts (as ``run_polling`` would), so the tests drive exactly what production
runs. Handlers and jobs are registered by ``handlers.register``; the handlers never import
this module (they get the services through ``handlers.context.DeskContext``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    Defaults,
)
from telegram.request import HTTPXRequest

from bot import i18n, logs, texts
from bot.access import Access
from bot.alerts import Alerts
from bot.amazon import AmazonSync, Exporter
from bot.durable import (
    MAX_ATTEMPTS,
    DeskApplication,
    DeskBot,
    DeskRateLimiter,
    FairUpdates,
    FollowMigration,
    Sender,
    _inbox_json,
    recover,
)
from bot.importing import Importer
from bot.lifecycle import Lifecycle
from bot.replicas import Feed, InboxSweep, Replicas
from bot.services import Desk
from bot.settings import Settings, StartupError
from bot.storage import Store
from bot.storage.pg import redact
from bot.webhook import Malformed, WebhookServer, webhook_app
from handlers import register
from handlers.commands import set_command_menus
from handlers.context import DeskContext, Services
from handlers.migration import follow_migration

log = logging.getLogger("dingdan")


class _SkippedRun(logging.Filter):
    """A check still sending when the next is due is normal (the rate limiter waits): not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


def protect_token(token: str) -> None:
    """Keep the bot token (and, later, Amazon's secrets) out of every log record.

    The redaction sits in the log-record factory, so it covers every logger, children of
    ``telegram`` included (``telegram.Bot`` logs API URLs, which carry the token, at DEBUG).
    """
    from bot.amazon import install_log_redaction, remember_secrets

    install_log_redaction()
    remember_secrets([token])
    # httpx logs every request URL at INFO; those URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRun())


def build_application(settings: Settings) -> Application:
    """The bot, wired: handlers and jobs (see ``handlers.register``), rate limiter.

    The services open in :func:`running`, which starts the application the one way it is
    started (``run_polling`` is not used: it would run a second start-up path).
    """
    i18n.load_all()  # a missing catalog stops start-up here, not mid-conversation
    # The bot is built here rather than by the builder: it is the one that keeps every update
    # in the inbox before its offset is confirmed (bot/durable.py).
    bot = DeskBot(
        token=settings.token,
        base_url=settings.api_url,
        base_file_url=settings.base_file_url,
        defaults=Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)),
        # Telegram allows ~30 messages/s overall and 20/minute into one group: the limiter
        # keeps the 30/s; the sender keeps each group's 20/minute itself, so nothing (a handler,
        # another chat's reply) waits on a busy group (bot/durable.py).
        rate_limiter=DeskRateLimiter(max_retries=settings.max_retries),
        request=HTTPXRequest(connection_pool_size=256),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
    )
    application = (
        ApplicationBuilder()
        .bot(bot)
        .application_class(DeskApplication)
        .context_types(ContextTypes(context=DeskContext))
        # Updates run concurrently: the desk serialises per order, not per bot; one busy chat
        # takes a few of the slots, never all of them.
        .concurrent_updates(FairUpdates(settings.concurrent_updates))
        .build()
    )
    application.bot_data["settings"] = settings
    register(application)
    return application


async def _post_init(application: Application) -> None:
    settings: Settings = application.bot_data["settings"]
    store = Store(settings.db_path)
    await store.open()
    lifecycle = Lifecycle()

    # Membership look-ups go through a Bot without the rate limiter: PTB's limiter counts
    # any request naming a group against that group's 20 messages a minute, and fifty
    # members opening a private chat at once must not wait three seconds each.
    lookups = Bot(settings.token, base_url=settings.api_url, base_file_url=settings.base_file_url)
    await lookups.initialize()
    application.bot_data["lookups"] = lookups

    async def status_of(chat_id: int, user_id: int) -> str:
        member = await lookups.get_chat_member(chat_id, user_id)
        return str(member.status)

    alerts = Alerts(store, settings.clock, texts.alert_messages, texts.digest_message)
    sender = Sender(application.bot, alerts.alert_store, settings.clock, _follower(application))
    store.on_queued = sender.kick
    application.bot_data["services"] = Services(
        settings=settings,
        store=store,
        desk=Desk(store, lifecycle, settings.clock),
        importer=Importer(store, lifecycle, settings.clock),
        access=Access(store, status_of, settings.clock, timedelta(seconds=settings.membership_ttl)),
        alerts=alerts,
        exporter=Exporter(store, settings.clock),
        amazon=AmazonSync(store, Importer(store, lifecycle, settings.clock), settings),
        sender=sender,
    )
    if settings.tracking_key:
        # Carrier tracking through the same desk (its per-order locks), run by the tracking job.
        from bot.tracking import SeventeenTrack, Tracker

        provider = SeventeenTrack(settings.tracking_key, settings.tracking_url)

        async def stuck_days(team_id: int) -> int:
            team = await store.team(team_id)
            return team.settings.stuck_days if team is not None else 7

        application.bot_data["tracking"] = Tracker(store, application.bot_data["services"].desk, provider,
                                                   settings.clock, stuck_days=stuck_days)  # fmt: skip
        alerts.tracking = True
    bot = application.bot
    if isinstance(bot, DeskBot):
        bot.attach_inbox(store, settings.clock)
    # Which teams' jobs and which chats' messages are this process's: all of them for one
    # process on its own SQLite file, or polling PostgreSQL (`dingdan run` holds it alone then:
    # bot.storage.pg.poller_lock); a share of the shards for a webhook replica on PostgreSQL.
    shared = str(settings.db_path).startswith(("postgresql://", "postgres://")) and bool(settings.webhook_url)
    replicas = Replicas(store, exclusive=not shared)
    replicas.sweeper = InboxSweep(store, _feeder(application), MAX_ATTEMPTS)
    limiter = application.bot.rate_limiter
    if isinstance(limiter, DeskRateLimiter):
        replicas.on_count = limiter.share  # Telegram's 30 messages a second, split between the replicas
    alerts.partition = replicas
    sender.partition = replicas
    application.bot_data["services"].amazon.partition = replicas
    application.bot_data["replicas"] = replicas
    # What another replica queues for this one's chats wakes the sender at once (PostgreSQL's
    # LISTEN/NOTIFY, bot/storage/notify.py; nothing on SQLite, whose one process kicks itself).
    replicas.listener = store.outbox_listener(replicas.queued_elsewhere)
    replicas.wake = sender.kick
    await replicas.start()
    sender.start()
    await set_command_menus(application)
    # Secrets an older version stored in clear are encrypted before the first sync reads them.
    await application.bot_data["services"].amazon.seal_stored_secrets()


def _feeder(application: Application) -> Feed:
    """How updates another replica left unfinished are processed here: as ``recover`` does."""

    async def feed(pending: list[tuple[int, str]]) -> None:
        for update_id, payload in pending:
            try:
                update = Update.de_json(json.loads(payload), application.bot)
            except Exception:  # noqa: BLE001 - an update we cannot read again is logged, not retried forever
                log.error("update %s could not be read back from the inbox", update_id, exc_info=True)
                continue
            await application.update_queue.put(update)

    return feed


def _follower(application: Application) -> FollowMigration:
    """What the sender does when a basic group turned into a supergroup (the team moves along)."""

    async def follow(old_chat_id: int, new_chat_id: int) -> bool:
        return bool(await follow_migration(application, old_chat_id, new_chat_id))

    return follow


async def _post_shutdown(application: Application) -> None:
    services: Services | None = application.bot_data.pop("services", None)
    if services is not None:
        await services.sender.stop()
        replicas: Replicas | None = application.bot_data.pop("replicas", None)
        if replicas is not None:
            await replicas.stop()
        bot = application.bot
        if isinstance(bot, DeskBot):
            bot.attach_inbox(None)
        await services.store.close()
    lookups: Bot | None = application.bot_data.pop("lookups", None)
    if lookups is not None:
        await lookups.shutdown()


def _webhook(application: Application, settings: Settings) -> WebhookServer:
    """The webhook server (bot/webhook.py): an update posted by Telegram is stored in the inbox
    before the 200, then handed to the application as polling hands it; one already in the
    inbox (delivered twice, or to another replica first) is answered 200 and not handed on."""
    store: Store = application.bot_data["services"].store

    async def deliver(data: dict[str, object]) -> None:
        try:
            update = Update.de_json(data, application.bot)
        except Exception as err:  # noqa: BLE001 - whatever PTB cannot read is not an update
            raise Malformed from err
        if update is None or type(update.update_id) is not int:
            raise Malformed
        new = await store.store_updates([(update.update_id, _inbox_json(data))], settings.clock())
        if update.update_id in new:
            await application.update_queue.put(update)

    async def ready() -> bool:
        if not application.running or "services" not in application.bot_data:
            return False
        await store.inbox_status(0)  # a trivial read: the database answers
        return True

    host, port = settings.listen_address
    return WebhookServer(webhook_app(settings.webhook_path, settings.webhook_secret_token, deliver, ready), host, port)


@asynccontextmanager
async def running(settings: Settings, *, poll_timeout: float | None = None) -> AsyncIterator[Application]:
    """Run the bot until the block ends: with long polling, as ``run_polling`` would, or, when
    ``settings.webhook_url`` is set, serving the webhook (``application.bot_data["webhook"]``)."""
    protect_token(settings.token)
    if settings.webhook_url:  # PTB logs setWebhook's parameters at DEBUG
        from bot.amazon import remember_secrets

        remember_secrets([settings.webhook_secret_token])
    logs.quiet(settings.log_level)  # transitions' and APScheduler's routine lines only at DEBUG
    application = build_application(settings)
    await application.initialize()
    try:
        await _post_init(application)
        assert application.updater is not None
        if settings.webhook_url:
            async with _serving_webhook(application, settings):
                yield application
            return
        # PTB's start_polling calls deleteWebhook itself (a webhook left set would refuse getUpdates).
        await application.updater.start_polling(
            poll_interval=0.0,
            timeout=int(poll_timeout if poll_timeout is not None else settings.poll_timeout),
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )
        await application.start()
        try:
            await recover(application)
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
    finally:
        await application.shutdown()
        await _post_shutdown(application)


@asynccontextmanager
async def _serving_webhook(application: Application, settings: Settings) -> AsyncIterator[None]:
    """Webhook mode: the application starts and recovers what the last stop left unfinished
    before the server takes new updates; the server stops taking them before the application
    stops."""
    await application.start()
    try:
        await recover(application)
        server = _webhook(application, settings)
        try:
            await server.start()
        except OSError as err:
            raise StartupError(f"cannot listen on {settings.listen} ({err.strerror}); check DINGDAN_LISTEN "
                               "or --listen.") from None  # fmt: skip
        application.bot_data["webhook"] = server
        try:
            if settings.set_webhook:
                try:
                    await application.bot.set_webhook(
                        url=settings.webhook_url,
                        secret_token=settings.webhook_secret_token,
                        allowed_updates=Update.ALL_TYPES,
                        drop_pending_updates=False,
                    )
                except BadRequest as err:  # e.g. "bad webhook: Failed to resolve host"
                    raise StartupError(f"Telegram refused the webhook address {settings.webhook_url} ({err.message}); "
                                       "check DINGDAN_WEBHOOK_URL or --webhook.") from None  # fmt: skip
                log.info("webhook set: Telegram posts updates to %s", settings.webhook_url)
            yield
        finally:
            await server.stop()
    finally:
        if application.running:
            await application.stop()


def settle() -> None:
    """Once the bot runs: what start-up built (modules, message catalogs, the application, about
    100,000 objects) lives as long as the process, so the garbage collector stops walking it. A
    full collection of it took ~100 ms on the event loop, and each younger one grew with it."""
    gc.freeze()


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # asyncio has no signal handlers on Windows; Ctrl+C still ends it
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with running(settings) as application:
            settle()
            me = application.bot
            log.info("dingdan is running as @%s (database %s)", me.username, redact(str(settings.db_path)))
            await stop.wait()
    except InvalidToken:
        raise StartupError("Telegram refused the token in DINGDAN_TOKEN; copy it again from @BotFather.") from None
    except NetworkError as err:
        url = settings.api_url.split("/bot")[0]
        raise StartupError(
            f"cannot reach the Bot API at {url} ({type(err).__name__}); check the network or DINGDAN_API_URL."
        ) from None
    log.info("dingdan stopped")

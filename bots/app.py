"""The composition root: settings → database → adapters → workers → one asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import Engine

from adapters.charts import render_chart
from adapters.discord_adapter import CATCH_UP_CHANNELS as DISCORD_CATCH_UP_CHANNELS
from adapters.discord_adapter import CATCH_UP_WINDOW as DISCORD_CATCH_UP_WINDOW
from adapters.discord_adapter import COMMANDS as DISCORD_COMMANDS
from adapters.discord_adapter import DiscordChannel
from adapters.language import detect_language
from adapters.playground_adapter import PlaygroundChannel
from adapters.playground_adapter import routes as playground_routes
from adapters.slack_adapter import SlackChannel
from adapters.slack_adapter import events_routes as slack_events_routes
from adapters.telegram_adapter import TelegramChannel
from adapters.telegram_adapter import webhook_routes as telegram_webhook_routes
from bots.catalogs import load_catalog, load_fields, load_keywords, load_kit
from bots.delivery import DeliveryWorker, utc_now
from bots.intake import Intake
from bots.leadership import Leadership, leadership_for
from bots.metrics import metrics_registry, metrics_routes
from bots.scheduler import Sweeper
from bots.settings import (
    ROOT,
    GroupSettings,
    MatchingSettings,
    NudgeSettings,
    SafetySettings,
    Settings,
    SettingsError,
)
from core.bus import Bus
from core.commands import MENU
from core.context import Services
from core.model import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    GroupRules,
    Inbound,
    NudgeRules,
    SafetyRules,
)
from core.ports import Channel
from core.scoring import Rules, Weights
from storage.engine import is_sqlite, make_engine, ping
from storage.migrate import current_revision, head_revision
from storage.outbox import OutboxQueue
from storage.resume import resume_points
from storage.store import unit_of_work_factory

log = logging.getLogger("passerelle.app")


def build_services(settings: Settings | None = None) -> Services:
    captions = settings.relay.media_captions if settings is not None else False
    matching = settings.matching if settings is not None else MatchingSettings()
    grouping = settings.groups if settings is not None else GroupSettings()
    nudging = settings.nudges if settings is not None else NudgeSettings()
    safety = settings.safety if settings is not None else SafetySettings()
    return Services(
        catalog=load_catalog(), fields=load_fields(), detect=detect_language,
        relay_captions=captions, threaded=threaded_platforms(settings),
        weights=Weights(**matching.weights.model_dump()),
        rules=Rules(peer_min_age=matching.peer_min_age,
                    max_open_requests=matching.max_open_requests,
                    request_timeout_hours=matching.request_timeout_hours,
                    suggestions=matching.suggestions),
        group_rules=GroupRules(
            age_bands=tuple(map(tuple, grouping.age_bands)),  # type: ignore[arg-type]
            program_age_bands={name: tuple(map(tuple, bands))  # type: ignore[misc]
                               for name, bands in grouping.program_age_bands.items()}),
        nudge_rules=NudgeRules(**nudging.model_dump()),
        safety_rules=SafetyRules(
            minor_age=safety.minor_age, hold_for_minors=safety.hold_for_minors,
            program_hold=dict(safety.program_hold), report_messages=safety.report_messages,
            keywords=load_keywords()),
        kit=load_kit(),
        retention_days=settings.privacy.retention_days if settings is not None else 365,
        chart=render_chart,
        telegram_username=_telegram_username(settings),
    )


def threaded_platforms(settings: Settings | None) -> frozenset[str]:
    """Where each conversation is its own thread: Slack always, Discord in the mentors'
    channel mode. The core routes by it; the channels (`threads`) deliver by the same rule."""
    discord = settings is not None and settings.discord.mentor_channel_id is not None
    return THREADED_PLATFORMS | ({DiscordChannel.platform} if discord else frozenset())


def _telegram_username(settings: Settings | None) -> str | None:
    """The bot's username for t.me invite links, without its @ (None: no links)."""
    name = settings.telegram.username if settings is not None else None
    return name.lstrip("@") if name else None


# Platforms where each match is its own thread (SlackChannel.threads).
THREADED_PLATFORMS = frozenset({SlackChannel.platform})


@dataclass
class Passerelle:
    """One running service: the bus, its channels, their workers and the web server."""

    settings: Settings
    engine: Engine
    services: Services | None = None
    channels: dict[str, Channel] = field(default_factory=dict)
    workers: list[DeliveryWorker] = field(default_factory=list)
    playground: PlaygroundChannel | None = None
    leadership: Leadership | None = None  # who runs the sweeps and takes Telegram/Discord events

    def __post_init__(self) -> None:
        if self.services is None:
            self.services = build_services(self.settings)
        self.uow = unit_of_work_factory(self.engine)
        self.bus = Bus(self.uow, self.services)
        self.clock = service_clock(self.settings)
        self.intake = Intake(self.bus, self.clock, on_commit=self.poke_all)
        self.sweeper = Sweeper(self.bus, self.clock, self.settings.matching.sweep_seconds,
                               on_commit=self.poke_all)
        self.queue = OutboxQueue(self.engine)
        if self.settings.playground_on():
            self.playground = PlaygroundChannel()
            self.add_channel(self.playground)
        self.telegram = self._telegram()
        if self.telegram is not None:
            self.add_channel(self.telegram)
        self.slack = self._slack()
        if self.slack is not None:
            self.add_channel(self.slack)
        self.discord = self._discord()
        if self.discord is not None:
            self.add_channel(self.discord)

    def _discord(self) -> DiscordChannel | None:
        config = self.settings.discord
        if config.token is None:
            return None
        assert self.services is not None
        return DiscordChannel(
            config.token.get_secret_value(), api_base_url=config.api_base_url,
            gateway_url=config.gateway_url, mentor_channel_id=config.mentor_channel_id,
            menu=command_descriptions(self.services, DISCORD_COMMANDS),
            default_language=DEFAULT_LANGUAGE, consume=False,  # the leader's (_lead)
            resume_points=self._discord_resume_points,
        )

    async def _discord_resume_points(self) -> tuple[dict[str, str | None],
                                                    dict[str, str | None]]:
        """Where the Discord adapter reads back at each new session: the DMs and threads with
        something going on, each after its newest message committed (storage/resume.py)."""
        since = self.clock() - DISCORD_CATCH_UP_WINDOW
        points = await asyncio.to_thread(resume_points, self.engine, "discord", since,
                                         DISCORD_CATCH_UP_CHANNELS)
        return points.dms, points.threads

    def _slack(self) -> SlackChannel | None:
        config = self.settings.slack
        if config.bot_token is None:
            return None
        if config.app_token is None and config.signing_secret is None:
            raise SettingsError(
                "Slack needs PASSERELLE_SLACK__APP_TOKEN (Socket Mode) or "
                "PASSERELLE_SLACK__SIGNING_SECRET (HTTP Events API) with its bot token")
        return SlackChannel(
            config.bot_token.get_secret_value(),
            app_token=config.app_token.get_secret_value() if config.app_token else None,
            signing_secret=(config.signing_secret.get_secret_value()
                            if config.signing_secret else None),
            base_url=config.base_url,
        )

    def _telegram(self) -> TelegramChannel | None:
        config = self.settings.telegram
        if config.token is None:
            return None
        secret = None
        if config.webhook_url:
            if config.webhook_secret is None and not self.engine.dialect.name == "sqlite":
                # Several instances would each make their own and overwrite each other's.
                raise SettingsError("setting PASSERELLE_TELEGRAM__WEBHOOK_SECRET is required "
                                    "with PostgreSQL (every instance must share one secret)")
            secret = (
                config.webhook_secret.get_secret_value() if config.webhook_secret
                else stored_secret(data_dir(self.settings) / "telegram_webhook_secret")
            )
        return TelegramChannel(
            config.token.get_secret_value(), base_url=config.base_url,
            webhook_url=config.webhook_url, webhook_secret=secret,
            menu=command_menu(self.services), poll_timeout=config.poll_timeout,
            consume=False,  # long polling is the leader's (_lead)
        )

    def add_channel(self, channel: Channel) -> DeliveryWorker:
        d = self.settings.delivery
        worker = DeliveryWorker(
            channel, self.queue, self.uow, self.services, clock=self.clock,
            poll_seconds=d.poll_seconds, batch_size=d.batch_size, lease_seconds=d.lease_seconds,
            send_timeout=d.send_timeout,
        )
        worker.notify = self.poke_all
        self.channels[channel.platform] = channel
        self.workers.append(worker)
        return worker

    def poke_all(self) -> None:
        for worker in self.workers:
            worker.poke()

    async def feed(self, inbound: Inbound) -> bool:
        """Hand one event to the bus; it is acknowledged only once its transaction committed."""
        return await self.intake.submit(inbound)

    def healthy(self) -> dict[str, object]:
        database = ping(self.engine)
        workers = {w.platform: w.alive() for w in self.workers}
        platforms = {
            name: bool(channel.healthy()) for name, channel in self.channels.items()
            if callable(getattr(channel, "healthy", None))
        }
        status: dict[str, object] = {
            "ok": database and all(workers.values()) and all(platforms.values()),
            "database": database, "workers": workers,
        }
        if platforms:
            status["platforms"] = platforms
        return status

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024)

        async def healthz(_: web.Request) -> web.Response:
            status = await asyncio.to_thread(self.healthy)
            return web.json_response(status, status=200 if status["ok"] else 503)

        app.router.add_get("/healthz", healthz)
        app.add_routes(metrics_routes(metrics_registry(
            self.engine, self.clock, lambda: self.leadership is not None
            and self.leadership.leading)))
        if self.playground is not None:
            app.add_routes(playground_routes(self.playground, self.feed))
        if self.telegram is not None and self.telegram.webhook_url:
            app.add_routes(telegram_webhook_routes(self.telegram))
        if self.slack is not None and not self.slack.socket_mode:
            app.add_routes(slack_events_routes(self.slack))
        return app

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set: web server, channels and one worker per channel."""
        if self.leadership is None:
            self.leadership = leadership_for(self.engine)
        self.leadership.claim()  # a second instance on one SQLite file stops here
        if is_sqlite(self.engine):  # one process per SQLite file: its leases are ours to drop
            released = await asyncio.to_thread(self.queue.release_claims)
            if released:
                log.info("event=claims_released rows=%d", released)
        runner = web.AppRunner(self.web_app(), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.web.host, self.settings.web.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else self.settings.web.port
        self.port = port
        for channel in self.channels.values():
            await channel.start(self.feed)
        tasks = [asyncio.create_task(w.run(), name=f"worker-{w.platform}") for w in self.workers]
        self.leadership.start(self._lead, self._follow)
        if self.playground is not None:
            log.info("event=playground url=http://%s:%s/", self.settings.web.host, port)
        log.info("event=started port=%s platforms=%s", port, ",".join(self.channels))
        try:
            await stop.wait()
        finally:
            self.sweeper.stop()
            await self.leadership.stop()  # another instance may lead from now on
            for worker in self.workers:
                worker.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for channel in self.channels.values():
                await channel.stop()
            await runner.cleanup()
            log.info("event=stopped")

    def _consumers(self) -> list[Channel]:
        """Channels that only one instance may take events from (Telegram's long polling, the
        Discord gateway); every instance sends through all of them."""
        return [c for c in self.channels.values() if hasattr(c, "start_consuming")]

    async def _lead(self) -> None:
        """This instance became the leader: the sweeps, and the events only one may take."""
        self.sweeper.start()
        for channel in self._consumers():
            await channel.start_consuming()  # type: ignore[attr-defined]

    async def _follow(self) -> None:
        """This instance lost the lead (its lock connection): hand the sweeps and the events
        over to the next leader."""
        self.sweeper.stop()
        for channel in self._consumers():
            await channel.stop_consuming()  # type: ignore[attr-defined]


def service_clock(settings: Settings) -> Callable[[], datetime]:
    """The real clock, or one running `clock_offset_hours` ahead (tests and demos: a restart
    with a larger offset is time passing, so nudges and surveys come due without waiting)."""
    offset = timedelta(hours=settings.clock_offset_hours)
    if not offset:
        return utc_now
    return lambda: utc_now() + offset


def command_menu(services: Services) -> dict[str, list[tuple[str, str]]]:
    """The platform command menu in each language (and French as the default)."""
    menu = {
        lang: [(name, services.catalog.t(lang, f"menu.{name}")) for name in MENU]
        for lang in LANGUAGES
    }
    return {"default": menu[DEFAULT_LANGUAGE], **menu}


def command_descriptions(services: Services, names: tuple[str, ...]
                         ) -> dict[str, dict[str, str]]:
    """A short description of each command in each language (the catalog's `menu.<command>`),
    for a platform's command list."""
    return {lang: {name: services.catalog.t(lang, f"menu.{name}") for name in names}
            for lang in LANGUAGES}


def data_dir(settings: Settings) -> Path:
    """Where the service keeps what it generates itself (next to a SQLite file by default)."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///"):]).parent
    return ROOT / "data"


def stored_secret(path: Path) -> str:
    """A random secret kept in a file readable by us only, made on first use (atomically: a
    crash while writing leaves no empty secret behind)."""
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    draft = path.with_suffix(".tmp")
    draft.touch(mode=0o600)
    draft.write_text(secret, encoding="utf-8")
    draft.replace(path)
    log.info("event=secret_generated name=%s", path.name)
    return secret


def open_database(settings: Settings) -> Engine:
    return make_engine(settings.resolved_database_url())


def schema_is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()

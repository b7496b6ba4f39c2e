"""Settings: embedded defaults in config/passerelle.toml, overridden by PASSERELLE_* variables.

Secrets come only from the environment (or a .env file) and are held as SecretStr, so a log line
or a traceback never shows them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import (
    SettingsError as SourceError,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
DEFAULTS_FILE = CONFIG_DIR / "passerelle.toml"


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


class PlaygroundSettings(BaseModel):
    enabled: Literal["auto", "on", "off"] = "auto"


class DeliverySettings(BaseModel):
    poll_seconds: float = Field(0.5, gt=0, le=60)
    batch_size: int = Field(50, ge=1, le=1000)
    # How soon another instance takes over the rows a dead one had claimed. A live worker
    # renews its leases every third of this while it sends, so a send may take longer.
    lease_seconds: float = Field(20, ge=3, le=3600)
    # How long one platform call may take before it is abandoned and retried (tests shorten it
    # to inject timeouts quickly).
    send_timeout: float = Field(30, gt=0, le=120)


class RelaySettings(BaseModel):
    # Files, photos and stickers are never relayed (they can carry faces, names, metadata).
    # True: the words typed with one (a caption) are passed on, with a note that the file was not.
    media_captions: bool = False


class WeightSettings(BaseModel):
    same_field: int = Field(40, ge=0, le=1000)
    neighbour_field: int = Field(15, ge=0, le=1000)
    shared_interest: int = Field(8, ge=0, le=1000)
    region: int = Field(10, ge=0, le=1000)
    availability: int = Field(10, ge=0, le=1000)
    load: int = Field(10, ge=0, le=1000)


class MatchingSettings(BaseModel):
    suggestions: int = Field(5, ge=3, le=5)
    max_open_requests: int = Field(3, ge=1, le=20)
    request_timeout_hours: float = Field(72, gt=0, le=24 * 60)
    peer_min_age: int = Field(16, ge=14, le=30)
    sweep_seconds: float = Field(60, ge=1, le=3600)
    weights: WeightSettings = WeightSettings()


AgeBand = tuple[Annotated[int, Field(ge=14, le=30)], Annotated[int, Field(ge=14, le=30)]]


class GroupSettings(BaseModel):
    # Minors and adults apart: student age bands, each group in one of them. [] = all together.
    age_bands: list[AgeBand] = []
    # The same, for one program by name (a program not listed follows age_bands).
    program_age_bands: dict[str, list[AgeBand]] = {}

    @field_validator("age_bands")
    @classmethod
    def _ordered(cls, bands: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for low, high in bands:
            if low > high:
                raise ValueError(f"age band {low}-{high}: the first age is the youngest")
        return bands


class NudgeSettings(BaseModel):
    unanswered_hours: float = Field(48, gt=0, le=24 * 30)
    student_after_hours: float = Field(24, gt=0, le=24 * 30)
    checkin_days: float = Field(14, gt=0, le=365)
    warning_days: float = Field(60, gt=0, le=365)
    end_days: float = Field(67, gt=0, le=730)
    first_survey_days: float = Field(30, gt=0, le=365)
    survey_every_days: float = Field(60, gt=0, le=365)
    reminder_days: float = Field(3, gt=0, le=60)
    timezone: str = "America/Toronto"
    quiet_from: int = Field(21, ge=0, le=23)
    quiet_until: int = Field(8, ge=0, le=23)
    batch: int = Field(5000, ge=1, le=100_000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (KeyError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name


class SafetySettings(BaseModel):
    minor_age: int = Field(18, ge=14, le=30)
    # Contact details in a conversation with a minor wait for a coordinator; between adults
    # they are hidden and the message delivered.
    hold_for_minors: bool = True
    program_hold: dict[str, bool] = {}
    report_messages: int = Field(10, ge=1, le=50)


class PrivacySettings(BaseModel):
    # Message bodies (relayed messages, group posts, the outbox's copies) older than this many
    # days are blanked by the daily purge; what the statistics count stays.
    retention_days: int = Field(365, ge=1, le=3650)


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    base_url: str | None = None  # a self-hosted Bot API server (tests: the fake one)
    webhook_url: str | None = None  # set: Telegram posts updates to us; unset: we long-poll
    webhook_secret: SecretStr | None = None  # generated and kept under data/ when absent
    poll_timeout: int = Field(25, ge=0, le=50)
    # The bot's username (without @): invite codes made in chat come with their t.me link.
    username: str | None = Field(None, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    base_url: str | None = None


class DiscordSettings(BaseModel):
    token: SecretStr | None = None
    # Another REST root (…/api/v10) and gateway (wss://…) than Discord's: a proxy, or in tests
    # the fake server. Unset: discord.com and gateway.discord.gg.
    api_base_url: str | None = None
    gateway_url: str | None = None
    # A channel of the mentors' server: each match becomes a private thread in it, instead of
    # a reply chain in the mentor's DMs with the bot.
    mentor_channel_id: int | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_",
        env_nested_delimiter="__",
        env_file=(str(ROOT / ".env"), ".env"),  # the project's, then the current folder's
        extra="ignore",
        toml_file=DEFAULTS_FILE,
    )

    database_url: str = "sqlite:///data/passerelle.db"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # For tests and demos only: the service's clock runs this many hours ahead of the real one,
    # so what time alone brings (nudges, lapsed requests, surveys) shows without waiting.
    clock_offset_hours: float = Field(0, ge=0, le=24 * 365)
    web: WebSettings = WebSettings()
    playground: PlaygroundSettings = PlaygroundSettings()
    delivery: DeliverySettings = DeliverySettings()
    relay: RelaySettings = RelaySettings()
    matching: MatchingSettings = MatchingSettings()
    groups: GroupSettings = GroupSettings()
    nudges: NudgeSettings = NudgeSettings()
    safety: SafetySettings = SafetySettings()
    privacy: PrivacySettings = PrivacySettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls)
        return (init_settings, env_settings, dotenv_settings, toml)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("expected sqlite:///path/to/file.db or postgresql://user@host/db")
        return url

    def platforms_configured(self) -> list[str]:
        configured = []
        if self.telegram.token:
            configured.append("telegram")
        if self.slack.bot_token:
            configured.append("slack")
        if self.discord.token:
            configured.append("discord")
        return configured

    def playground_on(self) -> bool:
        if self.playground.enabled == "auto":
            return not self.platforms_configured()
        return self.playground.enabled == "on"

    def resolved_database_url(self) -> str:
        """A relative SQLite path is relative to the project, not to wherever we were started."""
        prefix = "sqlite:///"
        url = self.database_url
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(ROOT / url[len(prefix) :])
        return url


class SettingsError(Exception):
    """One line naming the setting that is wrong and what is expected."""


_SECRET_NAMES = {"token", "bot_token", "app_token", "signing_secret", "webhook_secret"}


def _secrets_in_defaults(path: Path = DEFAULTS_FILE) -> list[str]:
    """Secret settings written in the TOML file: they belong in the environment only."""
    if not path.exists():
        return []
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return [f"{section}.{name}" for section, values in data.items() if isinstance(values, dict)
            for name in values if name in _SECRET_NAMES]


def load_settings(**overrides: object) -> Settings:
    leaked = _secrets_in_defaults()
    if leaked:
        raise SettingsError(
            f"{leaked[0]} is a secret: set it in the environment (PASSERELLE_"
            f"{leaked[0].replace('.', '__').upper()}) or .env, not in {DEFAULTS_FILE.name}"
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SourceError as error:
        # A nested setting given as one variable that is not JSON: name it, never echo it.
        found = re.search(r'field "(\w+)"', str(error))
        name = found.group(1).upper() if found else "?"
        raise SettingsError(
            f"setting PASSERELLE_{name} is invalid: expected JSON, or set its parts with "
            f"PASSERELLE_{name}__<PART> variables"
        ) from None
    except ValidationError as error:
        first = error.errors()[0]
        name = "__".join(str(part) for part in first["loc"]).upper()
        raise SettingsError(
            f"setting PASSERELLE_{name} is invalid: {first['msg']}"
            + (f" (got {first['input']!r})" if _safe_to_show(name, first.get("input")) else "")
        ) from None


def _safe_to_show(name: str, value: object) -> bool:
    secretish = any(word in name for word in ("TOKEN", "SECRET", "PASSWORD", "KEY", "URL"))
    return not secretish and isinstance(value, str | int | float) and len(str(value)) < 80

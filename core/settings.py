"""Settings from the environment and `.env`; a bad value stops the program with one line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
# Telegram's limits on broadcasts: about 30 messages a second, up to 1,000 when paid for.
FREE_SEND_RATE = 30.0
PAID_SEND_RATE = 1000.0
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # An empty value means unset, so a .env copied from .env.example works as it is.
        env_ignore_empty=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    # The server at TELEGRAM_API_URL runs with --local: files are read from the paths its
    # getFile gives, which this process must be able to read.
    telegram_api_local: bool = False
    database_url: str = "sqlite+aiosqlite:///data/digest.db"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_timezone: str = "Asia/Omsk"
    default_digest_time: str = "09:00"
    poll_interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    feeds_file: Path | None = None
    feeds_allow_private: bool = False
    log_level: str = "INFO"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    redis_url: str | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    store_check_seconds: float = Field(default=10.0, gt=0.0, le=30.0)
    tag_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    digest_catchup_hours: float = Field(default=6.0, ge=0.0, le=24.0)
    digest_check_seconds: float = Field(default=30.0, gt=0.0, le=3600.0)
    send_rate: float = Field(default=28.0, gt=0.0, le=PAID_SEND_RATE)
    paid_broadcast: bool = False
    # How long a sender's claim on an outbox row lasts: the rows of a sender that died go
    # to another one after this long.
    outbox_lease_seconds: float = Field(default=60.0, ge=2.0, le=3600.0)
    update_concurrency: int = Field(default=10, ge=1, le=500)
    # Worker processes for parsing and tagging new articles, and in `digestbot run` for
    # planning digests (default: one per core in `digestbot run --role ingest`, one in
    # `digestbot run`).
    ingest_processes: int | None = Field(default=None, ge=1, le=64)
    # Worker processes in which `digestbot run --role clock` plans digests, that many
    # batches of chats at once (0: in a thread of the clock's own process).
    plan_processes: int = Field(default=0, ge=0, le=64)
    feed_concurrency: int = Field(default=16, ge=1, le=256)
    feed_per_host_concurrency: int = Field(default=2, ge=1, le=32)
    feed_timeout_seconds: float = Field(default=20.0, gt=0.0, le=300.0)
    feed_failing_after: int = Field(default=3, ge=1, le=1000)
    feed_silent_hours: float = Field(default=48.0, gt=0.0, le=24.0 * 90)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part for part in re.split(r"[,\s]+", value.strip()) if part]
            if not all(re.fullmatch(r"-?\d+", part) for part in parts):
                raise ValueError("expected Telegram user ids separated by commas")
            return frozenset(int(part) for part in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, expected e.g. Asia/Omsk") from None
        return value

    @field_validator("default_digest_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if not TIME_PATTERN.match(value):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return level

    @field_validator("telegram_api_url", "webhook_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/") if value else value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError(
                "expected 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite\+aiosqlite|postgresql\+asyncpg)://", value):
            raise ValueError(
                "expected sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
            )
        return value

    @field_validator("feeds_file")
    @classmethod
    def _check_feeds_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _check_send_rate(self) -> Settings:
        if self.send_rate > FREE_SEND_RATE and not self.paid_broadcast:
            raise ValueError(
                f"SEND_RATE: at most {FREE_SEND_RATE:.0f} messages a second, up to "
                f"{PAID_SEND_RATE:.0f} with PAID_BROADCAST=1 (paid broadcasts)"
            )
        return self

    @model_validator(mode="after")
    def _check_local_api(self) -> Settings:
        if self.telegram_api_local and self.telegram_api_url == DEFAULT_TELEGRAM_API_URL:
            raise ValueError(
                "TELEGRAM_API_LOCAL: local mode is a self-hosted telegram-bot-api server "
                "started with --local; set TELEGRAM_API_URL to its address"
            )
        return self

    def require_token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise SettingsError("BOT_TOKEN: missing; get one from @BotFather and set BOT_TOKEN")
        token = self.bot_token.get_secret_value().strip()
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", token):
            raise SettingsError("BOT_TOKEN: malformed, expected <digits>:<secret> from @BotFather")
        return token


def load_settings(**overrides: object) -> Settings:
    """Reads the environment; raises SettingsError with one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:
            # A rule across settings names them in its message.
            raise SettingsError(message) from None
        name = str(first["loc"][0]).upper()
        raise SettingsError(f"{name}: {message}") from None

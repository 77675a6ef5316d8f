from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer

from core.logs import TokenRedactingFilter
from core.settings import SettingsError, load_settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper() in {
            "BOT_TOKEN",
            "DATABASE_URL",
            "ADMIN_IDS",
            "DEFAULT_TIMEZONE",
            "DEFAULT_DIGEST_TIME",
            "POLL_INTERVAL_MINUTES",
            "FEEDS_FILE",
            "LOG_LEVEL",
            "WEBHOOK_URL",
            "TELEGRAM_API_URL",
            "TELEGRAM_API_LOCAL",
        }:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_the_contract() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///data/digest.db"
    assert settings.default_timezone == "Asia/Omsk"
    assert settings.default_digest_time == "09:00"
    assert settings.poll_interval_minutes == 15
    default_server = TelegramAPIServer.from_base(settings.telegram_api_url)
    assert default_server.api_url(token=TOKEN, method="getMe") == PRODUCTION.api_url(
        token=TOKEN, method="getMe"
    )


def test_admin_ids_and_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ADMIN_IDS=11, 22 33\nDEFAULT_DIGEST_TIME=08:30\n")
    settings = load_settings()
    assert settings.admin_ids == frozenset({11, 22, 33})
    assert settings.default_digest_time == "08:30"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEFAULT_TIMEZONE", "Asia/Nowhere", "DEFAULT_TIMEZONE: unknown time zone"),
        ("DEFAULT_DIGEST_TIME", "25:00", "DEFAULT_DIGEST_TIME: expected HH:MM"),
        ("POLL_INTERVAL_MINUTES", "often", "POLL_INTERVAL_MINUTES:"),
        ("ADMIN_IDS", "alice", "ADMIN_IDS: expected Telegram user ids"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: expected sqlite+aiosqlite"),
        ("FEEDS_FILE", "/no/such/feeds.txt", "FEEDS_FILE: no such file"),
        ("WEBHOOK_SECRET", "секрет с пробелами", "WEBHOOK_SECRET: expected 1-256 characters"),
        ("TELEGRAM_API_LOCAL", "1", "TELEGRAM_API_LOCAL: local mode is a self-hosted"),
    ],
)
def test_malformed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


def test_token_is_required_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match=r"^BOT_TOKEN: missing"):
        load_settings().require_token()
    monkeypatch.setenv("BOT_TOKEN", "not-a-token")
    with pytest.raises(SettingsError, match=r"^BOT_TOKEN: malformed"):
        load_settings().require_token()
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    assert load_settings().require_token() == TOKEN


def test_cli_reports_bad_setting_in_one_line_without_traceback(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "DEFAULT_TIMEZONE": "Mars/Olympus"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "digestbot: DEFAULT_TIMEZONE: unknown time zone 'Mars/Olympus', expected e.g. Asia/Omsk"
    ]


def test_cli_run_without_token_names_it(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("digestbot: BOT_TOKEN: missing")


def test_token_never_reaches_log_output() -> None:
    record = logging.LogRecord(
        "aiogram",
        logging.ERROR,
        __file__,
        1,
        "POST http://127.0.0.1:8081/bot%s/getUpdates failed",
        (TOKEN,),
        None,
    )
    assert TokenRedactingFilter((TOKEN,)).filter(record)
    assert TOKEN not in record.getMessage()
    assert "/bot<token>/getUpdates" in record.getMessage()
    try:
        raise RuntimeError(f"session error for {TOKEN}")
    except RuntimeError:
        failure = logging.LogRecord(
            "bot", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    TokenRedactingFilter((TOKEN,)).filter(failure)
    assert failure.exc_text is not None and TOKEN not in failure.exc_text


def test_a_dotenv_copied_from_the_example_works_as_it_is(tmp_path: Path) -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text("utf-8")
    (tmp_path / ".env").write_text(example, "utf-8")
    settings = load_settings()
    assert settings.feeds_file is None
    assert settings.webhook_url is None
    assert settings.feeds_allow_private is False
    assert settings.admin_ids == frozenset()

"""Logging set-up; the bot token is scrubbed from every record."""

from __future__ import annotations

import logging
import re
import sys

TOKEN_PATTERN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}\b")
REDACTED = "<token>"


class TokenRedactingFilter(logging.Filter):
    """Replaces anything shaped like a bot token, including inside request URLs."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_PATTERN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if scrubbed != message or record.args:
            record.msg = scrubbed
            record.args = None
        return True


def configure_logging(level: str, *, secrets: tuple[str, ...] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(TokenRedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_level = max(logging.WARNING, logging.getLevelName(level))
    # aiogram logs "Update id=… is handled. Duration … ms" for every update: at DEBUG only,
    # with a summary a minute instead (bot.health.log_update_summaries).
    every_update = logging.getLevelName(level)
    logging.getLogger("aiogram.event").setLevel(
        every_update if every_update <= logging.DEBUG else quiet_level
    )
    for noisy in (
        "aiosqlite",
        "alembic",
        "apscheduler.executors.default",
        "pymorphy3",
        "sqlalchemy.engine",
        "trafilatura",
    ):
        logging.getLogger(noisy).setLevel(quiet_level)

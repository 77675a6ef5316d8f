"""Tunables of the ingestion pipeline; built from settings by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

DEFAULT_USER_AGENT = "digestbot/0.1 (+regional cooperation digest)"


@dataclass(frozen=True)
class IngestConfig:
    concurrency: int = 16
    per_host: int = 2
    timeout: float = 20.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    poll_interval: timedelta = timedelta(minutes=15)
    full_text_concurrency: int = 4
    max_failures_before_deactivation: int = 30
    user_agent: str = DEFAULT_USER_AGENT
    # Every fetch (feed, redirect hop, article page) may reach only public addresses unless
    # the operator allows private ones (FEEDS_ALLOW_PRIVATE) for an intranet feed.
    allow_private_addresses: bool = False
    # `host:port` origins exempt from that rule: the demo's own server on 127.0.0.1.
    private_origins: frozenset[str] = frozenset()
    # A feed is deactivated only when its failures also span this long: a burst of manual
    # `ingest --once` runs during an outage must not switch a feed off.
    min_failure_span_before_deactivation: timedelta = timedelta(days=2)
    max_backoff: timedelta = timedelta(hours=24)
    # Dates more than this far in the future are clamped to the fetch time.
    future_date_tolerance: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.per_host < 1 or self.full_text_concurrency < 1:
            raise ValueError("concurrency limits must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1 KiB")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")

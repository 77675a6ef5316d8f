"""What a process counts for /metrics and its log: plain counters, with no dependency on
Telegram's library, so that a process that never talks to Telegram (the ingest role) does
not load it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SendReport:
    """Counts of what a Sender did; `str()` is a one-line summary."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    blocked_chats: int = 0
    skipped: int = 0
    migrated: int = 0
    charts_drawn: int = 0
    chart_seconds: float = 0.0
    seconds: float = 0.0
    first_send_at: float | None = None
    last_send_at: float | None = None

    @property
    def messages_per_second(self) -> float:
        if self.first_send_at is None or self.last_send_at is None or self.sent < 2:
            return 0.0
        span = self.last_send_at - self.first_send_at
        return (self.sent - 1) / span if span > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, failed {self.failed}, retried {self.retried}, "
            f"rate limited {self.rate_limited}, blocked chats {self.blocked_chats} "
            f"({self.skipped} messages skipped), migrated {self.migrated}, "
            f"{self.seconds:.1f} s, {self.messages_per_second:.1f} messages/s"
            + (
                f", pictures drawn {self.charts_drawn} ({self.chart_seconds:.1f} s CPU)"
                if self.charts_drawn
                else ""
            )
        )


@dataclass(slots=True)
class UpdateStats:
    """Counts for /metrics: updates handled and failed, in progress, time spent, and how
    old a message was when its handling began (the wait in Telegram's queue and ours)."""

    handled: int = 0
    failed: int = 0
    in_progress: int = 0
    handling_seconds: float = 0.0
    delayed_messages: int = 0
    delay_seconds: float = 0.0

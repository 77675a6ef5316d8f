"""What a poll did to each feed, and the per-feed summary the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

OutcomeStatus = Literal["new", "unchanged", "failed"]
_MAX_URL = 60
_MAX_NOTE = 120


@dataclass(frozen=True)
class FeedOutcome:
    feed_id: int
    url: str
    status: OutcomeStatus
    new_items: int
    seen_items: int
    skipped_items: int
    error: str | None
    seconds: float
    skip_reasons: Mapping[str, int] = field(default_factory=dict)
    warning: str | None = None
    deactivated: bool = False


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _note(outcome: FeedOutcome) -> str:
    notes: list[str] = []
    if outcome.error:
        notes.append(outcome.error)
    if outcome.warning:
        notes.append(outcome.warning)
    if outcome.skip_reasons:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in outcome.skip_reasons.items())
        notes.append(f"skipped ({reasons})")
    return _shorten("; ".join(notes), _MAX_NOTE)


def format_outcomes_table(outcomes: Sequence[FeedOutcome]) -> str:
    """One line per feed (status, new, seen, skipped, seconds, URL, why) and the totals."""
    if not outcomes:
        return "No feeds were due."
    header = f"{'status':<9} {'new':>5} {'seen':>5} {'skip':>5} {'secs':>6}  feed"
    lines = [header, "-" * len(header)]
    for outcome in outcomes:
        note = _note(outcome)
        line = (
            f"{outcome.status:<9} {outcome.new_items:>5} {outcome.seen_items:>5} "
            f"{outcome.skipped_items:>5} {outcome.seconds:>6.1f}  "
            f"{_shorten(outcome.url, _MAX_URL)}"
        )
        lines.append(f"{line}  — {note}" if note else line)
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    with_new = [outcome for outcome in outcomes if outcome.status == "new"]
    unchanged = len(outcomes) - len(failed) - len(with_new)
    lines.append("-" * len(header))
    lines.append(
        f"{len(outcomes)} feeds: {len(with_new)} with new items, {unchanged} unchanged, "
        f"{len(failed)} failed; {sum(o.new_items for o in outcomes)} new articles, "
        f"{sum(o.skipped_items for o in outcomes)} items skipped"
    )
    deactivated = [outcome.url for outcome in outcomes if outcome.deactivated]
    if deactivated:
        lines.append("deactivated: " + ", ".join(deactivated))
    return "\n".join(lines)

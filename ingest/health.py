"""Feed health as the admins see it, decided from a feed's record and the clock alone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.feeds import FeedRecord


class FeedCondition(StrEnum):
    FINE = "fine"
    SILENT = "silent"
    FAILING = "failing"
    SWITCHED_OFF = "switched_off"


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    # One failed check is usually a blip (a timeout, a deploy on the outlet's side); a few in
    # a row, about an hour at the default poll interval, are worth an admin's attention.
    failing_after: int = 3
    silent_after: timedelta = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A feed whose condition differs from the one the admins were last told about."""

    feed: FeedRecord
    previous: FeedCondition
    current: FeedCondition

    @property
    def worth_telling(self) -> bool:
        """Every turn for the worse, and a recovery from what the admins were warned of.
        A switched-off feed turned back on by an admin needs no news."""
        if self.current is not FeedCondition.FINE:
            return True
        return self.previous in (FeedCondition.SILENT, FeedCondition.FAILING)


def silent_since(feed: FeedRecord) -> datetime:
    return feed.last_new_item_at or feed.created_at


def feed_condition(feed: FeedRecord, now: datetime, policy: HealthPolicy) -> FeedCondition:
    if not feed.active:
        return FeedCondition.SWITCHED_OFF
    if feed.consecutive_failures >= policy.failing_after:
        return FeedCondition.FAILING
    if now - silent_since(feed) >= policy.silent_after:
        return FeedCondition.SILENT
    return FeedCondition.FINE


def told_condition(feed: FeedRecord) -> FeedCondition:
    """What the admins last heard of the feed; nothing heard means it was fine."""
    try:
        return FeedCondition(feed.alert_state) if feed.alert_state else FeedCondition.FINE
    except ValueError:
        return FeedCondition.FINE


def health_changes(
    feeds: Iterable[FeedRecord], now: datetime, policy: HealthPolicy
) -> list[HealthChange]:
    changes = []
    for feed in feeds:
        previous = told_condition(feed)
        current = feed_condition(feed, now, policy)
        if current is not previous:
            changes.append(HealthChange(feed=feed, previous=previous, current=current))
    return changes
